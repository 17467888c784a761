"""Load a model from one spec string (shared by ``padkit plan`` and ``padkit audit``).

Specs:
    ``torchvision:NAME``      a torchvision model, random init (``weights=None``; nothing is downloaded)
    ``timm:NAME``             a timm model, ``pretrained=False`` (needs timm)
    ``package.module:factory`` any importable callable returning an ``nn.Module``
    ``PATH.pt`` / ``PATH.pth`` a TorchScript archive (``torch.jit.load``)
    ``PATH.pt2``              a ``torch.export`` program (``torch.export.load``; its ``.module()`` is returned)

``weights`` is a state_dict file, read with ``torch.load(weights_only=True)``: a pickle that would run code is refused.

Example:
    >>> model = load_model("torchvision:resnet18")
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import re

import torch
from torch import nn

from ._errors import PadkitError, PadkitTypeError, PadkitValueError

__all__ = ["load_model", "load_model_meta"]


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
    return torchvision.models.get_model(name, weights=None)


def _timm(name: str) -> nn.Module:
    try:
        import timm
    except ImportError as exc:
        raise PadkitValueError(f"spec='timm:{name}' needs timm, which is not installed (pip install timm)") from exc
    if not timm.is_model(name):
        raise PadkitValueError(f"spec='timm:{name}': no such timm model (see timm.list_models())")
    return timm.create_model(name, pretrained=False)


def _factory(spec: str) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PadkitValueError(f"spec={spec!r}: cannot import module {module_name!r}: {exc}") from exc
    factory = getattr(module, attr, None)
    if factory is None:
        raise PadkitValueError(f"spec={spec!r}: module {module_name!r} has no attribute {attr!r}")
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


def _load_weights(model: nn.Module, weights: str) -> None:
    if not os.path.isfile(weights):
        raise PadkitValueError(f"weights={weights!r}: no such file")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "GLOBAL" in ln or "Unsupported operand" in ln), lines[0] if lines else "")
        raise PadkitValueError(
            f"weights={weights!r} was refused: it is not a plain state_dict (padkit loads only tensors and plain "
            f"containers, with weights_only=True: never objects, which could run code; nor non-torch files). "
            f"Details: {why}"
        ) from exc
    except Exception as exc:
        raise PadkitValueError(
            f"weights={weights!r} could not be read as a state_dict: {type(exc).__name__}: "
            f"{str(exc) or 'the file is empty or truncated'}"
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PadkitValueError(
            f"weights={weights!r}: expected a state_dict (a dict of tensors), got {type(state).__name__}"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        expected = model.state_dict()
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        shapes = [
            f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
            for k in expected
            if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
        ]

        def some(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

        parts = [f"{len(missing)} missing ({some(missing)})" if missing else ""]
        parts.append(f"{len(unexpected)} unexpected ({some(unexpected)})" if unexpected else "")
        parts.append(f"{len(shapes)} of another shape ({some(shapes)})" if shapes else "")
        detail = "; ".join(p for p in parts if p) or " ".join(str(exc).split())[:300]
        raise PadkitValueError(f"weights={weights!r} do not fit the model: {detail}") from exc


def load_model(spec: str, weights: str | None = None) -> nn.Module:
    """Build the model ``spec`` names (see the module docstring) and optionally load a state_dict.

    Args:
        spec: ``torchvision:NAME``, ``timm:NAME``, ``package.module:factory`` or a path (``.pt``/``.pth``/``.pt2``).
        weights: path of a state_dict saved with ``torch.save``; loaded with ``weights_only=True``.

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
    elif ":" in spec and all(part.isidentifier() for part in spec.split(":", 1)[0].split(".")):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = _factory(spec)
    else:
        raise PadkitValueError(
            f"spec={spec!r}: expected 'torchvision:NAME', 'timm:NAME', 'package.module:factory' or a path to a "
            "TorchScript (.pt/.pth) or torch.export (.pt2) file"
        )
    if weights is not None:
        _load_weights(model, os.fspath(weights))
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
