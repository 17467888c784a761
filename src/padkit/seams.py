"""A seam measure for images meant to tile: how much the wrap edge differs, relative to the image's own texture.

Example:
    >>> import numpy as np
    >>> from padkit import seam_ratio
    >>> ramp = np.tile(np.arange(8.0), (4, 1))  # (H, W) = (4, 8), 0..7 along x
    >>> seam_ratio(ramp, "x"), seam_ratio(ramp, "y")
    (7.0, 1.0)
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np
import torch

from ._validate import bad_type, bad_value, is_int

__all__ = ["seam_ratio"]

#: axis names: -1 / "x" is the width (last dim), -2 / "y" the height.
AXES: dict[Union[int, str], int] = {-1: -1, "x": -1, -2: -2, "y": -2}


def seam_ratio(image: Any, axis: Union[int, str] = "x") -> float:
    """Mean absolute difference across the wrap edge over the mean between interior neighbours along ``axis``.

    For an image ``I`` of size ``n`` along ``axis`` (index ``i`` on that axis, every other index averaged over)::

        seam_ratio = mean |I[n-1] - I[0]|  /  mean_{i=0..n-2} |I[i+1] - I[i]|

    The numerator is what a viewer sees where two copies of the image meet when it is tiled along ``axis``; the
    denominator is the same step anywhere inside the image. About 1 for an image that tiles seamlessly, well above
    1 where the tile edge shows (a ramp ``0..n-1`` gives ``n - 1``). An image that is constant along ``axis``
    gives 1.0 (no seam and no texture). The numerator compares only the last and the first column (for ``"x"``;
    rows for ``"y"``), so even for a seamless image the ratio scatters around 1 (0.75 to 1.25 in the example below).

    Args:
        image: a ``(C, H, W)`` or ``(H, W)`` tensor or array (channels first; any real dtype, any device).
        axis: ``"x"`` or ``-1`` (across the left/right edge, tiling horizontally) or ``"y"`` or ``-2``
            (across the top/bottom edge, tiling vertically).

    Returns:
        the ratio as a Python float (computed in float64).

    Example: the two diffusers networks of ``docs/nn.md`` (tiny random-init ``AutoencoderKL`` decoding a smooth
    periodic latent, ``UNet2DModel`` on a smooth periodic image), seam ratios along x and y of their outputs::

        as built (zero padding):                  VAE 1.96, 2.50   UNet 4.12, 3.38
        inside padkit.padding(model, "circular"): VAE 0.75, 1.15   UNet 1.23, 1.18
    """
    dim = _axis(axis)
    if isinstance(image, torch.Tensor):
        array = image.detach().to("cpu", torch.float64).numpy()
    elif isinstance(image, (np.ndarray, list, tuple)):
        array = np.asarray(image, dtype=np.float64)
    else:
        raise bad_type("image", image, "a (C, H, W) or (H, W) tensor or array")
    if array.ndim not in (2, 3):
        raise bad_value("image.shape", tuple(array.shape), "(C, H, W) or (H, W)")
    n = array.shape[dim]
    if n < 3:
        raise bad_value("image.shape", tuple(array.shape), f"at least 3 samples along axis={axis!r}")
    first = np.take(array, 0, axis=dim)
    last = np.take(array, n - 1, axis=dim)
    wrap = float(np.mean(np.abs(last - first)))
    interior = float(np.mean(np.abs(np.diff(array, axis=dim))))
    if interior == 0.0:  # constant along axis, so the wrap step is zero too
        return 1.0
    return wrap / interior


def _axis(axis: object) -> int:
    key = int(axis) if is_int(axis) else axis  # type: ignore[call-overload]
    if not (isinstance(key, str) or is_int(key)) or key not in AXES:
        raise bad_value("axis", axis, "one of 'x', 'y', -1, -2")
    return AXES[key]
