"""What a model reads: the channel count and spatial rank of its input, and the input size it is audited at.

The input's layout is read from the first convolution the input reaches (``nn.Conv1d/2d/3d`` and their transposed
forms, including padkit's and timm's subclasses): its ``in_channels`` and the length of its ``kernel_size``. That
convolution is found by a probe: a forward pass on a zero input laid out as the first convolution in module order
expects (then with 3, then 1 channel, while the forward fails before any convolution), stopped by a forward pre-hook
when the first convolution is called (nothing after it runs; the model is in eval mode for the probe and gets its
flags back). Where the probe cannot run (the forward needs other arguments,
fails before any convolution, TorchScript), the first convolution in module order is used. Models without a
convolution read ``(N, 3, H, W)`` images. The size is the one the caller gives, else the size the model
declares (:func:`padkit.models.declared_input_size`, timm's ``pretrained_cfg``), else the rank's default
(:data:`DEFAULT_SIZES`: 224 for images, 64 for volumes, 1024 for signals).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

__all__ = ["DEFAULT_SIZES", "ModelInput", "model_input"]

#: The side along every axis when neither the caller nor the model gives a size, by spatial rank.
DEFAULT_SIZES: dict[int, int] = {1: 1024, 2: 224, 3: 64}


@dataclass(frozen=True)
class ModelInput:
    """The input a model reads: ``(N, channels, *spatial)`` with ``rank`` spatial axes."""

    channels: int
    rank: int
    layer: str | None  # the module the layout is read from ("" for the model itself); None: no convolution
    declared: tuple[int, ...] | None  # the spatial size the model declares, if any

    def describe(self) -> str:
        """``"its first convolution 'conv1' reads 3 channels, 2-D"`` (for messages)."""
        if self.layer is None:
            return f"it has no convolution: {self.channels}-channel {self.rank}-D input assumed"
        name = self.layer or "<root>"
        return f"its first convolution {name!r} reads {self.channels} channels, {self.rank}-D"

    def default_size(self) -> tuple[int, ...]:
        """The declared size when it has this rank, else :data:`DEFAULT_SIZES`."""
        if self.declared is not None and len(self.declared) == self.rank:
            return self.declared
        return (DEFAULT_SIZES[self.rank],) * self.rank


class _Reached(Exception):
    """Raised by the probe's pre-hook: the first convolution was called, the forward stops there."""


def _is_conv(module: nn.Module) -> bool:
    return isinstance(module, _ConvNd) and 1 <= len(module.kernel_size) <= 3


def model_input(model: nn.Module, *, probe: bool = True) -> ModelInput:
    """The channels and spatial rank of ``model``'s input (its first convolution), and its declared size.

    Args:
        model: the model (not modified: hooks are removed and training flags restored).
        probe: find the first convolution the input reaches by a stopped forward pass (see the module docstring);
            False: the first convolution in module order.

    Example:
        >>> model_input(nn.Sequential(nn.Conv3d(1, 4, 3), nn.ReLU()))
        ModelInput(channels=1, rank=3, layer='0', declared=None)
    """
    from ...models import declared_input_size

    declared = declared_input_size(model)
    guess = ModelInput(3, 2, None, declared)
    for name, module in model.named_modules():
        if _is_conv(module):
            guess = ModelInput(int(module.in_channels), len(module.kernel_size), name, declared)
            break
    if not probe or guess.layer is None or isinstance(model, torch.jit.ScriptModule):
        return guess
    reached = None
    for channels in dict.fromkeys((guess.channels, 3, 1)):
        reached = _probe(model, replace(guess, channels=channels))
        if reached is not None:
            break
    if reached is None:
        return guess
    name, module = reached
    return replace(guess, channels=int(module.in_channels), rank=len(module.kernel_size), layer=name)


def _probe(model: nn.Module, guess: ModelInput) -> tuple[str, _ConvNd] | None:
    """The first convolution a forward pass on a zero input of ``guess``'s layout calls, or None."""
    names = {id(m): n for n, m in model.named_modules() if _is_conv(m)}
    first: list[tuple[str, _ConvNd]] = []

    def stop(module: nn.Module, args: object) -> None:
        if not first:
            first.append((names[id(module)], module))  # type: ignore[arg-type]
        raise _Reached

    param = next(iter(model.parameters()), None)
    device = param.device if param is not None and param.device.type != "meta" else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    x = torch.zeros((1, guess.channels, *guess.default_size()), device=device, dtype=dtype)
    flags = {m: m.training for m in model.modules()}
    handles = [m.register_forward_pre_hook(stop) for m in model.modules() if id(m) in names]
    try:
        model.eval()
        with torch.inference_mode():
            model(x)
    except Exception:  # _Reached, or a forward that needs something else: then the first conv in module order
        pass
    finally:
        for h in handles:
            h.remove()
        for m, flag in flags.items():
            m.train(flag)
    return first[0] if first else None
