"""Load a model from one spec string (shared by ``padkit plan`` and ``padkit audit``).

Specs:
    ``torchvision:NAME``      a torchvision model, random init: every ``weights*`` argument of the builder is None
                              (``weights``, ``weights_backbone``), so nothing is downloaded
    ``timm:NAME``             a timm model, ``pretrained=False`` (needs timm)
    ``package.module:factory`` any importable callable returning an ``nn.Module``; the working directory is
                              searched first (as uvicorn does), so ``my_models:build_unet`` finds ``./my_models.py``
    ``path/to/file.py:factory`` a callable in a Python file (its folder is searched first for its own imports)
    ``PATH.pt`` / ``PATH.pth`` a TorchScript archive (``torch.jit.load``)
    ``PATH.pt2``              a ``torch.export`` program (``torch.export.load``; its ``.module()`` is returned)

``weights`` is a checkpoint file as other tools write it (see :mod:`padkit.checkpoints`: nested state dicts,
``module.``/``_orig_mod.``/``model.`` prefixes, ``.safetensors``), read with ``torch.load(weights_only=True)``: a pickle
that would run code is refused.

Example:
    >>> model = load_model("torchvision:resnet18")
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import sys
from typing import Any, Iterator

import torch
from torch import nn

from ._errors import PadkitError, PadkitTypeError, PadkitValueError
from .checkpoints import load_weights

__all__ = ["declared_input_size", "load_model", "load_model_meta"]

_log = logging.getLogger("padkit")


def _torchvision(name: str) -> nn.Module:
    try:
        import torchvision
    except ImportError as exc:  # pragma: no cover - torchvision is in the dev extras
        raise PadkitValueError(f"spec='torchvision:{name}' needs torchvision (pip install 'padkit[vision]')") from exc
    available = torchvision.models.list_models()
    if name not in available:
        raise PadkitValueError(
            f"spec='torchvision:{name}': no such torchvision model; e.g. {', '.join(sorted(available)[:8])}, ..."
        )
    builder = torchvision.models.get_model_builder(name)
    no_weights = {p: None for p in inspect.signature(builder).parameters if p == "weights" or p.startswith("weights_")}
    return builder(**no_weights)


def _timm(name: str) -> nn.Module:
    try:
        import timm
    except ImportError as exc:
        raise PadkitValueError(f"spec='timm:{name}' needs timm, which is not installed (pip install timm)") from exc
    if not timm.is_model(name):
        raise PadkitValueError(f"spec='timm:{name}': no such timm model (see timm.list_models())")
    return timm.create_model(name, pretrained=False)


@contextlib.contextmanager
def _searched_first(folder: str) -> Iterator[None]:
    """``folder`` at the front of ``sys.path`` while a user module is imported."""
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


def _import_user_module(spec: str, location: str) -> Any:
    if location.endswith(".py"):
        path = os.path.abspath(location)
        if not os.path.isfile(path):
            raise PadkitValueError(f"spec={spec!r}: no such file {location!r}")
        name = f"padkit_user_{abs(hash(path))}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise PadkitValueError(f"spec={spec!r}: cannot load {location!r} as a Python module")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            with _searched_first(os.path.dirname(path)):
                loader_spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise PadkitValueError(
                f"spec={spec!r}: importing {location!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return module
    try:
        with _searched_first(os.getcwd()):
            return importlib.import_module(location)
    except ImportError as exc:
        raise PadkitValueError(f"spec={spec!r}: cannot import module {location!r}: {exc}") from exc


def _factory(spec: str) -> nn.Module:
    location, _, attr = spec.rpartition(":")
    module = _import_user_module(spec, location)
    factory = getattr(module, attr, None)
    if factory is None:
        raise PadkitValueError(f"spec={spec!r}: module {location!r} has no attribute {attr!r}")
    obj = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(obj, nn.Module):
        raise PadkitTypeError(f"spec={spec!r} gave {type(obj).__name__}, expected a torch.nn.Module")
    return obj


def _check_export_archive(path: str) -> None:
    """Refuse a ``torch.export`` archive that would unpickle anything on load.

    ``torch.export.load`` reads pickled weights and constants (``use_pickle``), custom and opaque objects, legacy
    ``.pt`` payloads and sample inputs with ``weights_only=False`` or ``pickle.loads``; a crafted archive runs code
    there. Allowed: raw tensor payloads only, and ``.pt`` members that ``torch.load(weights_only=True)`` accepts.
    """
    import io
    import json
    import zipfile

    def refuse(why: str) -> PadkitError:
        return PadkitValueError(
            f"spec={path!r}: refused: {why}; torch.export.load would unpickle it, and padkit never unpickles "
            "code. Re-export with tensors only, or load the program yourself if you trust the file"
        )

    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise PadkitValueError(f"spec={path!r}: not a torch.export program (not a zip archive: {exc})") from exc
    with archive:
        for name in archive.namelist():
            if name.endswith(("_weights_config.json", "_constants_config.json")):
                try:
                    config = json.loads(archive.read(name)).get("config", {})
                except (ValueError, AttributeError) as exc:
                    raise refuse(f"{name} is not valid JSON ({exc})") from exc
                for fqn, meta in config.items():
                    if not isinstance(meta, dict) or meta.get("use_pickle", False):
                        raise refuse(f"{fqn!r} is stored as a pickle ({name})")
                    if not str(meta.get("path_name", "")).startswith(("weight_", "tensor_", "constant_")):
                        raise refuse(f"{fqn!r} is a custom or opaque object ({name})")
            elif name.endswith(".pt"):
                try:
                    torch.load(io.BytesIO(archive.read(name)), weights_only=True, map_location="cpu")
                except Exception as exc:
                    raise refuse(f"{name} is not plain tensor data ({type(exc).__name__})") from exc


def _from_file(path: str) -> nn.Module:
    if path.endswith(".pt2"):
        _check_export_archive(path)
        try:
            program = torch.export.load(path)
        except Exception as exc:
            raise PadkitValueError(f"spec={path!r}: not a torch.export program: {exc}") from exc
        return program.module()
    try:
        return torch.jit.load(path, map_location="cpu")
    except Exception as exc:
        raise PadkitValueError(
            f"spec={path!r}: not a TorchScript archive ({exc}); padkit never unpickles whole models. Save "
            "it with torch.jit.script(model).save(...) or torch.export, or a factory spec + --weights"
        ) from exc


def _is_factory_spec(spec: str) -> bool:
    location, sep, attr = spec.rpartition(":")
    if not sep or not attr.isidentifier():
        return False
    return location.endswith(".py") or all(part.isidentifier() for part in location.split("."))


def declared_input_size(model: nn.Module) -> tuple[int, ...] | None:
    """The spatial input size a model declares, if any: timm's ``pretrained_cfg["input_size"]`` (``(C, H, W)``).

    Example:
        >>> declared_input_size(torch.nn.Conv2d(3, 3, 3)) is None
        True
    """
    for attr in ("pretrained_cfg", "default_cfg"):
        cfg = getattr(model, attr, None)
        size = cfg.get("input_size") if isinstance(cfg, dict) else None
        if isinstance(size, (tuple, list)) and len(size) >= 2 and all(isinstance(v, int) and v > 0 for v in size):
            return tuple(int(v) for v in size[1:])
    return None


def load_model(spec: str, weights: str | None = None) -> nn.Module:
    """Build the model ``spec`` names (see the module docstring) and optionally load a state_dict.

    Args:
        spec: ``torchvision:NAME``, ``timm:NAME``, ``package.module:factory`` or a path (``.pt``/``.pth``/``.pt2``).
        weights: a checkpoint (:func:`padkit.checkpoints.load_weights`: the state dict is found in nested
            checkpoints and its key prefix stripped; ``PATH#KEY`` picks one of several); loaded strictly, with
            ``weights_only=True``. What was loaded is logged on the ``padkit`` logger (level INFO).

    Returns:
        The model in eval mode, on the CPU. Models built from a spec (``torchvision:``, ``timm:``, a factory) are
        initialised under ``torch.manual_seed(0)`` in a forked RNG: the same spec gives the same random weights in
        every process and every run (so ``torchrun`` ranks agree), and the caller's RNG state is untouched.

    Raises:
        PadkitTypeError: ``spec`` is not a string, or a factory returned something else than a module.
        PadkitError: unknown spec, missing package, unreadable file, or weights that are not a plain state_dict.
    """
    if not isinstance(spec, str):
        raise PadkitTypeError(f"spec={spec!r} ({type(spec).__name__}): expected a string")
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise PadkitTypeError(f"weights={weights!r} ({type(weights).__name__}): expected a path")
    if spec.startswith("torchvision:"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = _torchvision(spec.split(":", 1)[1])
    elif spec.startswith("timm:"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = _timm(spec.split(":", 1)[1])
    elif spec.endswith((".pt", ".pth", ".pt2")) or os.path.isfile(spec):
        if not os.path.isfile(spec):
            raise PadkitValueError(f"spec={spec!r}: no such file")
        model = _from_file(spec)
    elif _is_factory_spec(spec):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = _factory(spec)
    else:
        raise PadkitValueError(
            f"spec={spec!r}: expected 'torchvision:NAME', 'timm:NAME', 'package.module:factory', "
            "'path/to/file.py:factory' or a path to a TorchScript (.pt/.pth) or torch.export (.pt2) file"
        )
    if weights is not None:
        _log.info("weights: %s", load_weights(model, weights))
    with contextlib.suppress(
        NotImplementedError
    ):  # torch.export modules have no train/eval switch: they are frozen as exported
        model.eval()
    return model


def load_model_meta(spec: str) -> nn.Module:
    """:func:`load_model` for analyses that only need shapes (``padkit plan`` without ``--weights``).

    ``torchvision:`` and ``timm:`` models are built on the meta device, with no weight initialisation (VGG-16 costs
    over 1 s on the CPU), when their builder allows; otherwise (e.g. torchvision's RegNets compute on tensors while
    they are built) they are built as :func:`load_model` does. Factories and files are always loaded as
    :func:`load_model` does: importing user code under a meta-device context would turn its module-level tensors into
    meta tensors for the rest of the process. Errors of the spec itself are raised as by :func:`load_model`.
    """
    if not isinstance(spec, str) or not spec.startswith(("torchvision:", "timm:")):
        return load_model(spec)
    try:  # import the package outside the meta context (its module-level tensors must stay real)
        importlib.import_module("torchvision.models" if spec.startswith("torchvision:") else "timm")
    except ImportError:
        return load_model(spec)  # raises padkit's message about the missing package
    try:
        with torch.device("meta"):
            return load_model(spec)
    except (PadkitError, PadkitTypeError):
        raise
    except Exception:
        return load_model(spec)
