"""``padkit.pad``: a drop-in for ``torch.nn.functional.pad`` with every ``np.pad`` mode, and ``numpy_pad``.

``pad`` takes the call form of :func:`torch.nn.functional.pad` (a flat ``pad`` tuple, last dimension first) and
adds what ``F.pad`` refuses: NumPy's modes (``symmetric``, ``linear_ramp``, ``maximum``/``minimum``/``mean``/
``median``, ``empty``, ``reflect_type="odd"``), any rank and any number of padded dimensions, widths larger than
the dimension (periodic extension exactly as ``np.pad``), ``bool`` and every integer dtype.

Rules (see ``docs/pad.md``):

* Where ``F.pad`` succeeds with non-negative widths, ``pad`` returns the identical tensor (values, dtype, shape,
  memory format), with one deliberate exception: ``F.pad(mode="circular")`` turns a channels_last input into a
  contiguous output, while padkit keeps channels_last (same values).
* Negative widths crop. **Crop first, then pad**: every negative width removes that many elements from its side
  of the input, and the cropped tensor is padded with the non-negative widths. This holds for every mode. For
  ``constant`` and ``replicate`` it is what ``F.pad`` does too; ``F.pad``'s ``reflect`` and ``circular`` do
  something else on mixed signs (they read the cropped-away elements), and padkit deliberately differs there.
* The backward pass of the copy modes (``reflect``, ``symmetric``, ``replicate``, ``circular``) is a custom
  fold of the border gradient back onto the input with ``narrow``/``flip``/``add``: deterministic by
  construction on every device (no atomics, unlike PyTorch's CUDA reflection/replication-pad backward), twice
  differentiable, and much faster than ``F.pad``'s circular backward. Other modes are built from differentiable
  torch ops (``cat``/``narrow``/``flip``/reductions) whose backward is deterministic.
* Dimensions are padded in ascending order (dimension 0 first), as ``np.pad`` does, which fixes the corner
  values of the order-dependent modes (``linear_ramp``, the statistical modes, per-side constants).

Layout: ``_args`` checks arguments and builds the canonical form; ``_core`` holds :func:`pad` and
``pad_canonical`` (the implementation padkit's layers share); ``_copy`` the copy modes' index runs and fold;
``_numpy_modes`` the modes ``F.pad`` lacks; ``_numpy`` the :func:`numpy_pad` adapter and ``_numpy_args`` the
``np.pad`` argument rules it follows.

Example:
    >>> import torch
    >>> x = torch.arange(1.0, 4.0)
    >>> pad(x, (4, 2), mode="symmetric")
    tensor([3., 3., 2., 1., 1., 2., 3., 3., 2.])
    >>> numpy_pad(x, 2, mode="reflect")
    tensor([3., 2., 1., 2., 3., 2., 1.])
"""

from ._core import pad
from ._core import pad_canonical as pad_canonical  # the internal entry padkit's layers call
from ._numpy import numpy_pad

__all__ = ["numpy_pad", "pad"]
