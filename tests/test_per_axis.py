"""A padding mode per axis and ``spherical``: padkit.pad, layers, convert, the CLI spelling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import padkit
from padkit import PadkitError, pad
from padkit.nn import (
    PadAvgPool2d,
    PadConv1d,
    PadConv2d,
    PadConv3d,
    PadConvTranspose2d,
    PadMaxPool2d,
)

NP = {"constant": "constant", "reflect": "reflect", "symmetric": "symmetric", "replicate": "edge", "circular": "wrap"}
NP.update({m: m for m in ("linear_ramp", "maximum", "minimum", "mean", "median")})


def np_per_axis(a: np.ndarray, flat: tuple[int, ...], modes: tuple[str, ...], **kw: object) -> np.ndarray:
    """np.pad applied dimension by dimension, last dimension first (the per-axis reference)."""
    for k, m in enumerate(modes):
        d = a.ndim - 1 - k
        widths = [(0, 0)] * a.ndim
        widths[d] = (flat[2 * k], flat[2 * k + 1])
        opts = {key: v for key, v in kw.items() if key == "constant_values" and m == "constant"}
        a = np.pad(a, widths, mode=NP[m], **opts)  # type: ignore[call-overload]
    return a


def np_spherical(a: np.ndarray, left: int, right: int, top: int, bottom: int) -> np.ndarray:
    """Brute-force loop over the spherical formula (rows cell-centred, half a turn beyond each pole)."""
    h, w = a.shape[-2:]
    out = np.empty((*a.shape[:-2], h + top + bottom, w + left + right), a.dtype)
    for r in range(h + top + bottom):
        for c in range(w + left + right):
            i, j = r - top, (c - left) % w
            if i < 0:
                i, j = -i - 1, (j + w // 2) % w
            elif i >= h:
                i, j = 2 * h - 1 - i, (j + w // 2) % w
            out[..., r, c] = a[..., i, j]
    return out


# ---------------------------------------------------------------------------------------------------------------------
# padkit.pad with a mode per dimension
# ---------------------------------------------------------------------------------------------------------------------
def test_issue_example_width_circular_height_reflect() -> None:
    x = torch.arange(12.0).reshape(1, 3, 4)
    got = pad(x, (1, 1, 1, 1), mode=("circular", "reflect"))
    want = np.pad(np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1)), "wrap"), ((0, 0), (1, 1), (0, 0)), "reflect")
    np.testing.assert_array_equal(got.numpy(), want)


def test_corners_pad_last_dimension_first() -> None:
    # an order-dependent pair: the maximum over the height sees the width's means in the corners
    x = torch.tensor([[1.0, 9.0, 2.0], [8.0, 0.0, 3.0]])
    got = pad(x, (2, 1, 1, 2), mode=("mean", "maximum"))
    want = np.pad(np.pad(x.numpy(), ((0, 0), (2, 1)), "mean"), ((1, 2), (0, 0)), "maximum")
    np.testing.assert_allclose(got.numpy(), want)
    first_dim_first = np.pad(np.pad(x.numpy(), ((1, 2), (0, 0)), "maximum"), ((0, 0), (2, 1)), "mean")
    assert not np.allclose(got.numpy(), first_dim_first)


MODES = ["constant", "reflect", "symmetric", "replicate", "circular", "linear_ramp", "maximum", "mean", "median"]


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    data=st.data(),
)
def test_per_axis_matches_numpy_dim_by_dim(shape: list[int], data: st.DataObject) -> None:
    n = data.draw(st.integers(1, len(shape)))
    modes = tuple(data.draw(st.sampled_from(MODES)) for _ in range(n))
    flat = tuple(data.draw(st.integers(0, 6)) for _ in range(2 * n))
    x = torch.randn(shape, dtype=torch.float64)
    kw = {"value": 1.5} if "constant" in modes else {}
    got = pad(x, flat, mode=modes, **kw)
    want = np_per_axis(x.numpy(), flat, modes, constant_values=1.5)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_per_axis_options_go_to_the_dims_whose_mode_takes_them() -> None:
    x = torch.arange(1.0, 7.0).reshape(2, 3)
    got = pad(x, (2, 2, 1, 1), mode=("reflect", "constant"), reflect_type="odd", constant_values=7)
    a = np.pad(x.numpy(), ((0, 0), (2, 2)), "reflect", reflect_type="odd")
    want = np.pad(a, ((1, 1), (0, 0)), "constant", constant_values=7)
    np.testing.assert_array_equal(got.numpy(), want)


def test_per_axis_errors() -> None:
    x = torch.zeros(2, 4, 4)
    with pytest.raises(PadkitError, match=r"mode=.*one mode per pair of pad.*2 mode"):
        pad(x, (1, 1, 1, 1), mode=("reflect",))
    with pytest.raises(PadkitError, match=r"stat_length=3: expected an option of one of mode"):
        pad(x, (1, 1, 1, 1), mode=("reflect", "circular"), stat_length=3)
    with pytest.raises(PadkitError, match=r"value=1: expected None"):
        pad(x, (1, 1), mode=("reflect",), value=1)
    with pytest.raises(PadkitError, match=r"mode\[1\]='spherical'"):
        pad(x, (1, 1, 1, 1), mode=("reflect", "spherical"))
    with pytest.raises(PadkitError, match=r"mode\[0\]='mirror'"):
        pad(x, (1, 1), mode=("mirror",))


def test_per_axis_crops_first() -> None:
    x = torch.arange(30.0).reshape(5, 6)
    got = pad(x, (-1, 2, 3, -2), mode=("circular", "symmetric"))
    want = np_per_axis(x.numpy()[:3, 1:], (0, 2, 3, 0), ("circular", "symmetric"))
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("modes", [("circular", "reflect"), ("replicate", "symmetric"), ("constant", "circular")])
def test_per_axis_gradcheck(modes: tuple[str, str]) -> None:
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    fn = lambda t: pad(t, (2, 1, 3, 2), mode=modes)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


# ---------------------------------------------------------------------------------------------------------------------
# spherical
# ---------------------------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 5),
    half=st.integers(1, 4),
    data=st.data(),
)
def test_spherical_matches_brute_force(h: int, half: int, data: st.DataObject) -> None:
    w = 2 * half
    top, bottom = data.draw(st.integers(0, h)), data.draw(st.integers(0, h))
    left, right = data.draw(st.integers(0, 2 * w + 1)), data.draw(st.integers(0, 2 * w + 1))
    x = torch.randn(2, h, w, dtype=torch.float64)
    got = pad(x, (left, right, top, bottom), mode="spherical")
    np.testing.assert_array_equal(got.numpy(), np_spherical(x.numpy(), left, right, top, bottom))


def test_spherical_formula_by_hand() -> None:
    x = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    # the row beyond the north pole is row 0 shifted by half a turn; the corner wraps around
    assert pad(x, (1, 0, 1, 0), mode="spherical").tolist() == [[2, 3, 4, 1, 2], [4, 1, 2, 3, 4], [8, 5, 6, 7, 8]]


def test_spherical_errors() -> None:
    with pytest.raises(PadkitError, match="an even width"):
        pad(torch.zeros(1, 4, 5), (1, 1, 1, 1), mode="spherical")
    with pytest.raises(PadkitError, match="at most the height 4 rows"):
        pad(torch.zeros(1, 4, 6), (1, 1, 5, 1), mode="spherical")
    with pytest.raises(PadkitError, match="4 entries"):
        pad(torch.zeros(1, 4, 6), (1, 1), mode="spherical")
    with pytest.raises(PadkitError, match="non-negative widths"):
        pad(torch.zeros(1, 4, 6), (1, -1, 1, 1), mode="spherical")
    with pytest.raises(PadkitError, match="reflect_type"):
        pad(torch.zeros(1, 4, 6), (1, 1, 1, 1), mode="spherical", reflect_type="odd")


def test_spherical_gradcheck() -> None:
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    fn = lambda t: pad(t, (3, 2, 3, 1), mode="spherical")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_spherical_under_compile_fullgraph() -> None:
    x = torch.randn(1, 2, 4, 6)
    fn = torch.compile(lambda t: pad(t, (2, 2, 1, 1), mode="spherical"), fullgraph=True, backend="eager")
    torch.testing.assert_close(fn(x), pad(x, (2, 2, 1, 1), mode="spherical"))
