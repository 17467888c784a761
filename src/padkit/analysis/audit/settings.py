"""The validated settings of one audit: every argument of :func:`~padkit.analysis.audit.audit` is checked here, once.

:func:`audit_settings` turns the user's Python values into an :class:`AuditSettings` with canonical fields; the rest of
the audit trusts them. Mode names are checked with :func:`padkit.modes.layer_mode`, and each mode's key in the
report is that name: the user's own spelling, case folded, with the aliases ``zero``/``edge``/``wrap`` read as
``zeros``/``replicate``/``circular``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn

from ..._errors import PadkitTypeError
from ..._validate import bad_type, bad_value, check_int, check_number, is_int, ntuple
from ...layers import padded_layers
from ...modes import layer_modes, mode_name
from .inputs import ModelInput, model_input

__all__ = ["AS_IS", "AuditSettings", "Normalize", "audit_settings", "check_model", "default_layers"]

#: The report's key for a model audited as it is (``modes=None``).
AS_IS = "as-is"

#: Per-channel ``(means, stds)`` applied as ``(x - mean) / std``.
Normalize = tuple[tuple[float, ...], tuple[float, ...]]

#: The named normalisations the Python API accepts (other strings, such as the CLI's ``MEAN,STD``, are the CLI's).
_NORMALIZE_NAMES = ("none", "imagenet")


@dataclass(frozen=True)
class AuditSettings:
    """Canonical audit arguments (see :func:`~padkit.analysis.audit.audit` for their meaning)."""

    modes: tuple[str | tuple[str, ...], ...] | None  # layer modes (a tuple: one per axis); None: the model as it is
    layers: tuple[str, ...]
    input_size: tuple[int, ...] | None  # one side per spatial axis of the model's input
    channels: int  # channels fed to the model: the caller's, else its first convolution's
    model_input: ModelInput
    images: int | None
    batch_size: int
    border: str | int  # "auto" or a width in input pixels
    normalize: Normalize | None
    normalize_label: str
    probe_images: int
    equivariance_images: int
    pa_threshold: float
    hist_bins: int
    probe_dim: int
    device: torch.device
    seed: int
    progress: bool
    bootstrap: int = 0  # replicates; 0: no intervals
    bootstrap_groups: int = 32  # image i is in group i mod bootstrap_groups (even)

    @property
    def rank(self) -> int:
        """The spatial rank of the model's input (1, 2 or 3)."""
        return self.model_input.rank

    @property
    def labels(self) -> tuple[str, ...]:
        """The result keys, in order: the modes, or ``("as-is",)``."""
        return (AS_IS,) if self.modes is None else tuple(mode_name(m) for m in self.modes)

    def recorded(self) -> dict[str, Any]:
        """The settings the report records."""
        return {
            "batch_size": self.batch_size,
            "probe_images": self.probe_images,
            "equivariance_images": self.equivariance_images,
            "pa_threshold": self.pa_threshold,
            "hist_bins": self.hist_bins,
            "probe_dim": self.probe_dim,
            "border": self.border,
            "seed": self.seed,
            "bootstrap": self.bootstrap,
        }


def check_model(model: object, argname: str = "model") -> nn.Module:
    """``model`` if it is an ``nn.Module``."""
    if not isinstance(model, nn.Module):
        raise bad_type(argname, model, "a torch.nn.Module")
    return model


def default_layers(model: nn.Module) -> list[str]:
    """Names of the modules audited by default: every convolution and (max/avg) pooling layer."""
    return [name for name, _ in padded_layers(model) if name]


def _names(value: object, argname: str) -> list[str]:
    """A str or an iterable of str as a list (a single str is one name)."""
    if isinstance(value, str):
        return [value]
    names = list(value) if isinstance(value, Iterable) and not isinstance(value, Mapping) else None
    if names is None or not all(isinstance(v, str) for v in names):
        raise bad_type(argname, value, "a sequence of str")
    return names


def _modes(modes: object) -> tuple[str | tuple[str, ...], ...] | None:
    """Layer modes, each a name or a per-axis tuple (:func:`padkit.modes.layer_modes`); a single str is one mode."""
    if modes is None:
        return None
    if isinstance(modes, str):
        modes = [modes]
    given = list(modes) if isinstance(modes, Iterable) and not isinstance(modes, Mapping) else None
    if given is None or not all(isinstance(m, (str, tuple, list)) for m in given):
        raise bad_type("modes", modes, "a sequence of padding modes (names, or per-axis tuples of names)")
    out: list[str | tuple[str, ...]] = []
    for m in given:
        mode = layer_modes(m, argname="modes")
        if mode_name(mode) in map(mode_name, out):
            raise bad_value("modes", given, f"each padding mode once ({mode_name(mode)!r} is listed twice)")
        out.append(mode)
    if not out:
        raise bad_value("modes", given, "at least one padding mode, or None to audit the model as it is")
    return tuple(out)


def _layers(model: nn.Module, layers: object) -> tuple[str, ...]:
    modules = dict(model.named_modules())
    if layers is None:
        names = default_layers(model)
        if not names:
            raise bad_value(
                "layers", None, "module names to audit: the model has no convolution or pooling layer to audit"
            )
        return tuple(names)
    names = _names(layers, "layers")
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        sample = ", ".join(default_layers(model)[:8]) or ", ".join(list(modules)[1:9])
        raise bad_value("layers", unknown, f"names of submodules of the model, e.g. {sample}")
    if not names:
        raise bad_value("layers", names, "at least one module name, or None for every conv and pooling layer")
    return tuple(names)


def _border(border: object) -> str | int:
    expected = "'auto' or a width in input pixels (an int >= 1)"
    if isinstance(border, str):
        if border != "auto":
            raise bad_value("border", border, expected)
        return border
    if not is_int(border):
        raise bad_type("border", border, expected)
    if int(border) < 1:  # type: ignore[call-overload]
        raise bad_value("border", border, expected)
    return int(border)  # type: ignore[call-overload]


def _normalize(normalize: object) -> tuple[Normalize | None, str]:
    """``(means, stds)`` or None, and the report's label for it."""
    from ...data import parse_normalize

    expected = "None, 'none', 'imagenet' or a (means, stds) pair"
    if normalize is None:
        return None, "none"
    if isinstance(normalize, str):
        if normalize.strip().lower() not in _NORMALIZE_NAMES:
            raise bad_value("normalize", normalize, expected)
        return parse_normalize(normalize), normalize
    if not isinstance(normalize, (tuple, list)) or len(normalize) != 2:
        raise bad_type("normalize", normalize, expected)
    norm = parse_normalize(normalize)
    assert norm is not None  # a pair never parses to None
    return norm, ",".join(repr(v) for v in (*norm[0], *norm[1]))


def _device(model: nn.Module, device: object) -> torch.device:
    if device is None:
        p0 = next(iter(model.parameters()), None)
        return p0.device if p0 is not None else torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise bad_type("device", device, "a torch.device, a device name ('cpu', 'cuda:0', ...) or None")
    try:
        return torch.device(device)
    except RuntimeError:
        raise bad_value("device", device, "a device name such as 'cpu', 'cuda' or 'cuda:1'") from None


def audit_settings(
    model: object,
    *,
    modes: Sequence[str | tuple[str, ...]] | str | None = None,
    layers: Sequence[str] | str | None = None,
    input_size: int | Sequence[int] | None = None,
    channels: int | None = None,
    images: int | None = None,
    batch_size: int = 16,
    border: str | int = "auto",
    normalize: Any = None,
    probe_images: int = 64,
    equivariance_images: int = 8,
    pa_threshold: float = 1.0,
    hist_bins: int = 64,
    probe_dim: int = 64,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
    bootstrap: int = 0,
    bootstrap_groups: int = 32,
) -> AuditSettings:
    """Check every audit argument (the message names the argument) and return the canonical settings."""
    model = check_model(model)
    if isinstance(model, torch.jit.ScriptModule):
        raise PadkitTypeError(
            f"model ({type(model).__name__}): expected an nn.Module whose layers accept hooks, not TorchScript"
        )
    reads = model_input(model)
    return AuditSettings(
        modes=_modes(modes),
        layers=_layers(model, layers),
        input_size=None if input_size is None else ntuple(input_size, reads.rank, "input_size", minimum=1),
        channels=reads.channels if channels is None else check_int(channels, "channels", minimum=1),
        model_input=reads,
        images=check_int(images, "images", minimum=1, allow_none=True),
        batch_size=check_int(batch_size, "batch_size", minimum=1),
        border=_border(border),
        normalize=(norm := _normalize(normalize))[0],
        normalize_label=norm[1],
        probe_images=check_int(probe_images, "probe_images", minimum=0),
        equivariance_images=check_int(equivariance_images, "equivariance_images", minimum=0),
        pa_threshold=check_number(pa_threshold, "pa_threshold", positive=True),
        hist_bins=check_int(hist_bins, "hist_bins", minimum=2),
        probe_dim=check_int(probe_dim, "probe_dim", minimum=1),
        device=_device(model, device),
        seed=check_int(seed, "seed"),
        progress=bool(progress),
        bootstrap=check_int(bootstrap, "bootstrap", minimum=0),
        bootstrap_groups=_groups(bootstrap_groups),
    )


def _groups(groups: object) -> int:
    g = check_int(groups, "bootstrap_groups", minimum=2)
    if g % 2:
        raise bad_value("bootstrap_groups", groups, "an even int >= 2 (the probe's fit and held-out images alternate)")
    return g
