"""Copy-mode convolutions at a dilation larger than the output: gather only the padded rows the kernel reads.

With kernel ``k``, stride ``s``, dilation ``d`` and ``out`` outputs along a dim, tap ``t`` of output ``i`` reads padded
row ``t * d + i * s``. Each tap reads a block of ``span = (out - 1) * s + 1`` consecutive padded rows; when
``d > span`` the blocks do not overlap and the rows between them are never read. The conv over the padded input then
equals a conv with stride ``k`` and no dilation over the ``k * out`` rows that are read, window after window: a few
rows instead of ``n + 2 * d`` (PyTorch issue 68512: a replicate-padded 28x28 input at dilation 256 pads to 540x540),
and a dense conv instead of a dilated one. The read rows are gathered straight from the input through the mode's index
table (:func:`padkit.modes.index_map`); the adjoint adds each gradient row back onto its source row.

Example:
    >>> compact_rows(n=4, before=8, after=8, k=3, s=1, d=8, mode="replicate")
    ((0, 0, 3, 0, 1, 3, 0, 2, 3, 0, 3, 3), 3, 1)
"""

from __future__ import annotations

import functools
from typing import Sequence

import torch
from torch import Tensor

from .._pad._copy import _mode_at
from ..geometry import Pairs, conv_out_size
from ..modes import index_map
from ._cache import TensorCache
from ._repad import PadSpec

__all__ = ["compact_rows", "compacts", "gather_spec"]

_INDEX: TensorCache[Tensor] = TensorCache(256)


@functools.lru_cache(maxsize=1024)
def compact_rows(
    n: int, before: int, after: int, k: int, s: int, d: int, mode: str
) -> tuple[tuple[int, ...], int, int]:
    """Source rows of the padded rows one dim's conv reads, and the stride and dilation of the conv over them.

    Compacted (``d > span``): the ``k`` rows of output ``i``'s window at ``i * k .. i * k + k - 1`` (stride ``k``,
    dilation 1); else every padded row (the layer's stride and dilation).
    """
    table = index_map(n, before, after, mode)
    out = conv_out_size(n, k, s, d, before, after)
    if not _compacted(k, s, d, out):
        return table, s, d
    return tuple(table[t * d + i * s] for i in range(out) for t in range(k)), k, 1


def _compacted(k: int, s: int, d: int, out: int) -> bool:
    return k > 1 and d > (out - 1) * s + 1


def compacts(spatial: Sequence[int], pairs: Pairs, k: Sequence[int], s: Sequence[int], d: Sequence[int]) -> bool:
    """Whether some dim's dilation leaves rows between the blocks its taps read (so gathering saves rows)."""
    return any(
        _compacted(kk, ss, dd, conv_out_size(n, kk, ss, dd, b, a))
        for n, (b, a), kk, ss, dd in zip(spatial, pairs, k, s, d)
    )


def _index(rows: tuple[int, ...], device: torch.device) -> Tensor:
    return _INDEX.get((rows, str(device)), lambda: torch.tensor(rows, dtype=torch.long, device=device))


def gather_spec(
    spatial: Sequence[int],
    pairs: Pairs,
    k: Sequence[int],
    s: Sequence[int],
    d: Sequence[int],
    mode: str | tuple[str, ...],
) -> tuple[PadSpec, tuple[int, ...], tuple[int, ...]]:
    """The gather of the read rows as a :class:`PadSpec` (copy modes), and the conv's stride and dilation per dim
    over them."""
    nd = len(spatial)
    plans = [compact_rows(spatial[i], pairs[i][0], pairs[i][1], k[i], s[i], d[i], _mode_at(mode, i)) for i in range(nd)]
    stride = tuple(p[1] for p in plans)
    dilation = tuple(p[2] for p in plans)

    def gather(x: Tensor) -> Tensor:
        offset = x.dim() - nd
        for i, (rows, _, _) in enumerate(plans):
            x = x.index_select(offset + i, _index(rows, x.device))
        return x

    def adjoint(g: Tensor, x: Tensor) -> Tensor:
        offset = x.dim() - nd
        for i in range(nd - 1, -1, -1):
            shape = list(g.shape)
            shape[offset + i] = x.shape[offset + i]
            g = g.new_zeros(shape).index_add_(offset + i, _index(plans[i][0], g.device), g)
        return g

    return PadSpec(pairs, mode, {}, gather, adjoint_fn=adjoint), stride, dilation
