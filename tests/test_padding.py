"""padkit.pad / padkit.numpy_pad against np.pad and F.pad (oracles), autograd, determinism and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from torch.autograd import gradcheck, gradgradcheck

from padkit import PadkitError, PadkitTypeError, PadkitValueError, numpy_pad, pad
from padkit._pad._copy import CopyPad, border_runs, native_ok
from padkit.modes import PAD_MODES

NP_NAME = {"replicate": "edge", "circular": "wrap"}
COPY = ["reflect", "symmetric", "replicate", "circular"]
INT_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.int64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]

# (mode, options) covering every mode and option of np.pad (np.pad spelling of the mode)
CASES: list[tuple[str, dict]] = [
    ("constant", {}),
    ("constant", {"constant_values": 7}),
    ("constant", {"constant_values": (1, 2)}),
    ("constant", {"constant_values": ((1, 2), (3, 4), (5, 6))}),
    ("edge", {}),
    ("reflect", {}),
    ("reflect", {"reflect_type": "odd"}),
    ("symmetric", {}),
    ("symmetric", {"reflect_type": "odd"}),
    ("wrap", {}),
    ("linear_ramp", {}),
    ("linear_ramp", {"end_values": 5}),
    ("linear_ramp", {"end_values": (1.5, -2)}),
    ("linear_ramp", {"end_values": ((1, 2), (3, 4), (5, 6))}),
    ("maximum", {}),
    ("maximum", {"stat_length": 2}),
    ("minimum", {"stat_length": (1, 3)}),
    ("mean", {}),
    ("mean", {"stat_length": ((1, 2), (3, 4), (2, 3))}),
    ("median", {}),
    ("median", {"stat_length": 2}),
    ("median", {"stat_length": ((1, 2), (3, 4), (2, 3))}),
]
WIDTHS = [((1, 2), (3, 0), (4, 9)), 3, ((7, 8), (0, 1), (2, 2)), ((0, 0), (13, 1), (0, 11))]


def _exact(mode: str, dtype: np.dtype) -> bool:
    """Float mean/median may differ from NumPy in the last bits (summation order); everything else is exact."""
    return not (mode in ("mean", "median") and np.dtype(dtype).kind in "fc")


def _assert_np_equal(got: np.ndarray, want: np.ndarray, exact: bool) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        rtol = 2e-3 if got.dtype == np.float16 else 1e-5
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("mode,kwargs", CASES, ids=[f"{m}-{k}" for m, k in CASES])
@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int16, np.int64, np.float16, np.float32, np.float64])
def test_numpy_pad_matches_np_pad(mode: str, kwargs: dict, dtype: type) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 200, (3, 4, 5)).astype(dtype)
    if dtype is np.float64:
        a = rng.standard_normal((3, 4, 5))
    for w in WIDTHS:
        want = np.pad(a, w, mode, **kwargs)
        got = numpy_pad(a, w, mode, **kwargs)
        assert isinstance(got, np.ndarray)
        _assert_np_equal(got, want, _exact(mode, dtype))


@pytest.mark.parametrize("mode,kwargs", [c for c in CASES if c[0] not in ("maximum", "minimum", "median")])
def test_numpy_pad_complex(mode: str, kwargs: dict) -> None:
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((3, 4, 5)) + 1j * rng.standard_normal((3, 4, 5))).astype(np.complex64)
    for w in WIDTHS:
        _assert_np_equal(numpy_pad(a, w, mode, **kwargs), np.pad(a, w, mode, **kwargs), _exact(mode, a.dtype))


@pytest.mark.parametrize("mode", ["maximum", "minimum", "median"])
def test_ordered_modes_refuse_complex(mode: str) -> None:
    with pytest.raises(PadkitTypeError, match="complex64"):
        pad(torch.zeros(3, dtype=torch.complex64), (1, 1), mode)


def test_integer_mean_and_median_round_like_numpy() -> None:
    # mean 2.5 and 3.5 round half to even; median of an even count averages the two middle values
    a = np.array([1, 2, 3, 4], dtype=np.int32)
    for mode in ("mean", "median"):
        for sl in (None, 2, 3, 4):
            want = np.pad(a, 2, mode, stat_length=sl)
            np.testing.assert_array_equal(numpy_pad(a, 2, mode, stat_length=sl), want)
    b = np.array([2, 3, 9, 10], dtype=np.uint8)
    np.testing.assert_array_equal(numpy_pad(b, 1, "mean", stat_length=2), np.pad(b, 1, "mean", stat_length=2))
    assert np.pad(np.array([1, 2], dtype=np.int64), 1, "mean")[0] == 2  # 1.5 -> 2 (to even), sanity of the oracle


CANONICAL_CASES: list[tuple[str, dict, dict]] = [
    # (canonical mode, pad_canonical options, the same as np.pad keyword arguments)
    ("constant", {}, {}),
    ("constant", {"constant_values": 2.5}, {"constant_values": 2.5}),
    ("constant", {"constant_values": ((1, 2), (3, 4))}, {"constant_values": ((1, 2), (3, 4))}),
    ("reflect", {}, {}),
    ("reflect", {"reflect_type": "odd"}, {"reflect_type": "odd"}),
    ("symmetric", {"reflect_type": "even"}, {}),
    ("replicate", {}, {}),
    ("circular", {}, {}),
    ("linear_ramp", {"end_values": ((1, -2), (3, 4))}, {"end_values": ((1, -2), (3, 4))}),
    ("mean", {"stat_length": ((1, 2), (None, 3))}, {"stat_length": ((1, 2), (4, 3))}),
    ("median", {}, {}),
    ("empty", {}, {}),
]


@pytest.mark.parametrize("mode,options,np_kwargs", CANONICAL_CASES)
def test_pad_canonical_takes_dim_order_widths_and_canonical_options(mode: str, options: dict, np_kwargs: dict) -> None:
    from padkit._pad import pad_canonical

    a = np.random.default_rng(2).standard_normal((3, 4))
    widths = ((2, 0), (1, 5))  # dim order, unlike F.pad
    got = pad_canonical(torch.from_numpy(a), widths, mode, options).numpy()
    want = np.pad(a, widths, NP_NAME.get(mode, mode), **np_kwargs)
    if mode == "empty":  # the border is unspecified
        got, want = got[2:5, 1:5], want[2:5, 1:5]
    _assert_np_equal(got, want, _exact(mode, a.dtype))
    # a negative width crops that side first
    cropped = pad_canonical(torch.from_numpy(a), ((0, 0), (-1, 2)), mode, options).numpy()
    if mode != "empty":
        _assert_np_equal(
            cropped, np.pad(a[:, 1:], ((0, 0), (0, 2)), NP_NAME.get(mode, mode), **np_kwargs), _exact(mode, a.dtype)
        )


# ---------------------------------------------------------------------------------------------------------------
# hypothesis sweeps: shapes incl. size 0/1, widths up to several times the size, ranks, dtypes
# ---------------------------------------------------------------------------------------------------------------

SWEEP_MODES = [
    "constant",
    "edge",
    "reflect",
    "symmetric",
    "wrap",
    "linear_ramp",
    "maximum",
    "minimum",
    "mean",
    "median",
]
SWEEP_DTYPES = [np.bool_, np.uint8, np.int32, np.int64, np.float32, np.float64]


@st.composite
def _padded_arrays(draw: st.DrawFn) -> tuple[np.ndarray, list[tuple[int, int]], str, dict]:
    rank = draw(st.integers(1, 4))
    shape = draw(st.lists(st.integers(0, 4), min_size=rank, max_size=rank))
    widths = [(draw(st.integers(0, 3 * s + 2)), draw(st.integers(0, 3 * s + 2))) for s in shape]
    dtype = draw(st.sampled_from(SWEEP_DTYPES))
    mode = draw(st.sampled_from(SWEEP_MODES))
    kwargs: dict = {}
    if mode in ("reflect", "symmetric") and dtype is not np.bool_ and draw(st.booleans()):
        kwargs["reflect_type"] = "odd"
    if mode in ("maximum", "minimum", "mean", "median") and draw(st.booleans()):
        kwargs["stat_length"] = draw(st.integers(1, 5))
    if mode == "constant":
        kwargs["constant_values"] = draw(st.integers(0, 9))
    if mode == "linear_ramp":
        kwargs["end_values"] = draw(st.integers(-5, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, shape).astype(dtype)
    return a, widths, mode, kwargs


@given(_padded_arrays())
def test_sweep_against_np_pad(case: tuple[np.ndarray, list[tuple[int, int]], str, dict]) -> None:
    a, widths, mode, kwargs = case
    try:
        want = np.pad(a, widths, mode, **kwargs)
    except ValueError:
        with pytest.raises(PadkitError):
            numpy_pad(a, widths, mode, **kwargs)
        return
    got = numpy_pad(a, widths, mode, **kwargs)
    _assert_np_equal(got, want, _exact(mode, a.dtype))
    # the same through the F.pad call form, on a tensor
    flat = [w for pair in reversed(widths) for w in pair]
    t = pad(torch.from_numpy(a), flat, mode, **{k: v for k, v in kwargs.items()})
    _assert_np_equal(t.numpy(), want, _exact(mode, a.dtype))


def test_sweep_covers_size_zero_and_wide_pads() -> None:
    # explicit cases the sweep is meant to reach: an empty dim (constant ok, data modes refuse) and pad >> size
    a = np.zeros((0, 3), dtype=np.float32)
    np.testing.assert_array_equal(numpy_pad(a, 2), np.pad(a, 2))
    with pytest.raises(PadkitError, match="empty"):
        numpy_pad(a, 2, "reflect")
    b = np.arange(3)
    for mode in ("reflect", "symmetric", "wrap", "edge"):
        np.testing.assert_array_equal(numpy_pad(b, (17, 23), mode), np.pad(b, (17, 23), mode))


@pytest.mark.parametrize("mode", COPY)
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_border_runs_reproduce_np_pad_index_table(mode: str, size: int) -> None:
    for before, after in [(0, 0), (1, 0), (0, 4), (size, size), (3 * size + 1, 2 * size + 3), (17, 5)]:
        table = np.pad(np.arange(size), (before, after), NP_NAME.get(mode, mode))
        rebuilt = np.empty(size + before + after, dtype=np.int64)
        rebuilt[before : before + size] = np.arange(size)
        for out_start, length, src, step in border_runs(size, before, after, mode):
            if step == 0:
                rebuilt[out_start : out_start + length] = src
            elif step == 1:
                rebuilt[out_start : out_start + length] = np.arange(src, src + length)
            else:
                rebuilt[out_start : out_start + length] = np.arange(src, src + length)[::-1]
        np.testing.assert_array_equal(rebuilt, table)


# ---------------------------------------------------------------------------------------------------------------
# F.pad as oracle where it works
# ---------------------------------------------------------------------------------------------------------------

TORCH_DTYPES = [torch.bool, torch.uint8, torch.int32, torch.int64, torch.float16, torch.bfloat16, torch.float32]


def _fpad_or_none(x: torch.Tensor, p: tuple[int, ...], mode: str) -> torch.Tensor | None:
    try:
        return F.pad(x, p, mode=mode)
    except (RuntimeError, NotImplementedError, ValueError):
        return None


@given(
    rank=st.integers(1, 5),
    sizes=st.lists(st.integers(0, 4), min_size=5, max_size=5),
    npad=st.integers(0, 3),
    raw=st.lists(st.integers(-2, 6), min_size=6, max_size=6),
    mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
    dtype=st.sampled_from(TORCH_DTYPES),
    channels_last=st.booleans(),
)
def test_identical_to_f_pad_where_it_succeeds(
    rank: int, sizes: list[int], npad: int, raw: list[int], mode: str, dtype: torch.dtype, channels_last: bool
) -> None:
    shape = sizes[:rank]
    npad = min(npad, rank)
    p = tuple(raw[: 2 * npad])
    x = (torch.arange(int(np.prod(shape))) % 97).reshape(shape).to(dtype)
    if channels_last and rank == 4:
        x = x.to(memory_format=torch.channels_last)
    if mode in ("reflect", "circular") and any(v < 0 for v in p):
        assume(False)  # F.pad's own mixed-sign rule differs; see test_negative_widths_*
    want = _fpad_or_none(x, p, mode)
    if want is None:
        return
    got = pad(x, p, mode)
    assert got.dtype == want.dtype and got.shape == want.shape
    if not (mode == "circular" and channels_last):  # the one documented memory-format difference
        assert got.stride() == want.stride()
    assert torch.equal(got, want)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_channels_last_stays_channels_last(mode: str) -> None:
    x = torch.randn(2, 3, 5, 6).to(memory_format=torch.channels_last)
    for p in [(1, 2, 3, 1), (4, 4, 1, 0)]:
        want = F.pad(x, p, mode=mode)
        got = pad(x, p, mode)
        assert got.is_contiguous(memory_format=torch.channels_last)
        if mode != "circular":  # F.pad circular drops channels_last; padkit keeps it (docs/pad.md)
            assert got.stride() == want.stride()
        assert torch.equal(got, want)
    # wider than F.pad allows: still channels_last, still np.pad's values
    got = pad(x, (9, 7, 6, 5), mode)
    assert got.is_contiguous(memory_format=torch.channels_last)
    want_np = np.pad(x.numpy(), ((0, 0), (0, 0), (6, 5), (9, 7)), NP_NAME.get(mode, mode))
    np.testing.assert_array_equal(got.numpy(), want_np)


@given(
    rank=st.integers(1, 6),
    sizes=st.lists(st.integers(0, 4), min_size=6, max_size=6),
    npad=st.integers(1, 4),
    raw=st.lists(st.integers(0, 5), min_size=8, max_size=8),
    mode=st.sampled_from(["reflect", "replicate"]),
    dtype=st.sampled_from([torch.bool, torch.uint16, torch.int32, torch.float32]),
)
def test_native_predicate_matches_f_pad(
    rank: int, sizes: list[int], npad: int, raw: list[int], mode: str, dtype: torch.dtype
) -> None:
    # padkit hands a case to F.pad only if F.pad can do it (and F.pad refuses nothing that padkit would hand over)
    shape = tuple(sizes[:rank])
    npad = min(npad, rank)
    p = tuple(raw[: 2 * npad])
    assume(any(p))
    x = torch.zeros(shape, dtype=dtype)
    widths = [(0, 0)] * rank
    for i in range(npad):
        widths[rank - 1 - i] = (p[2 * i], p[2 * i + 1])
    predicted = native_ok(shape, dtype, tuple(widths), mode)
    actual = _fpad_or_none(x, p, mode)
    if predicted:
        assert actual is not None
    if actual is not None and predicted is False and all(s > 0 for s in shape):
        # F.pad works but padkit uses its own kernel: only allowed where padded dims < the trailing ones
        assert any(w == (0, 0) for w in widths[rank - npad :])


# ---------------------------------------------------------------------------------------------------------------
# negative widths: crop first, then pad (one rule for every mode)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [m for m in PAD_MODES if m != "empty"])
@pytest.mark.parametrize("p", [(3, -2), (-2, 3), (-1, -1), (-3, 7), (5, -4), (-5, 0)])
def test_negative_widths_crop_first_then_pad(mode: str, p: tuple[int, int]) -> None:
    x = torch.arange(1, 6, dtype=torch.float64).reshape(1, 1, 5) ** 2
    got = pad(x, p, mode)
    cropped = x[..., max(-p[0], 0) : 5 - max(-p[1], 0)]
    want = pad(cropped, (max(p[0], 0), max(p[1], 0)), mode)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    np.testing.assert_allclose(
        got.numpy(), np.pad(cropped.numpy(), ((0, 0), (0, 0), (max(p[0], 0), max(p[1], 0))), NP_NAME.get(mode, mode))
    )


def test_negative_widths_documented_difference_from_f_pad() -> None:
    x = torch.arange(1.0, 6.0).reshape(1, 1, 5)
    # F.pad reflect reads the cropped-away elements on mixed signs; padkit crops first (docs/pad.md)
    assert F.pad(x, (3, -2), mode="reflect").flatten().tolist() == [4, 3, 2, 1, 2, 3]
    assert pad(x, (3, -2), "reflect").flatten().tolist() == [2, 3, 2, 1, 2, 3]
    # where F.pad already crops first (constant, replicate) padkit is identical
    for mode in ("constant", "replicate"):
        for p in [(3, -2), (-2, 3), (-1, -3)]:
            assert torch.equal(pad(x, p, mode), F.pad(x, p, mode=mode))


def test_crop_beyond_the_dimension_is_an_error() -> None:
    with pytest.raises(PadkitError, match="crops 6"):
        pad(torch.zeros(2, 5), (-3, -3), "reflect")
    with pytest.raises(PadkitError, match="crops 6"):
        pad(torch.zeros(2, 5), (-3, -3))


# ---------------------------------------------------------------------------------------------------------------
# dtypes without a NumPy twin, empty mode, any rank
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "circular", "maximum", "median", "linear_ramp"])
def test_bfloat16_matches_float64_path(mode: str) -> None:
    x = torch.randint(-20, 20, (2, 3, 4)).to(torch.bfloat16)  # exactly representable values
    got = pad(x, (5, 2, 1, 6), mode)
    want = pad(x.double(), (5, 2, 1, 6), mode).to(torch.bfloat16)
    assert got.dtype == torch.bfloat16
    if mode == "linear_ramp":  # the second dim's ramp starts from bf16-rounded values of the first (as np.pad would)
        torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2)
    else:
        assert torch.equal(got, want)


def test_empty_mode_keeps_the_centre_and_shape() -> None:
    x = torch.randn(2, 3, 4)
    got = pad(x, (1, 2, 3, 4), "empty")
    assert got.shape == (2, 10, 7)
    assert torch.equal(got[:, 3:6, 1:5], x)
    np.testing.assert_array_equal(numpy_pad(x.numpy(), 1, "empty")[1:-1, 1:-1, 1:-1], x.numpy())


def test_any_rank_and_any_dims() -> None:
    x = torch.randn(2, 3, 2, 3, 2, 3)  # 6-D: F.pad refuses non-constant modes here
    p = (1, 4, 0, 0, 2, 1, 0, 2, 3, 3, 1, 0)
    want = np.pad(x.numpy(), [(1, 0), (3, 3), (0, 2), (2, 1), (0, 0), (1, 4)], "symmetric")
    np.testing.assert_array_equal(pad(x, p, "symmetric").numpy(), want)
    y = torch.arange(4.0)  # 1-D reflect, refused by F.pad
    assert pad(y, (2, 2), "reflect").tolist() == [2, 1, 0, 1, 2, 3, 2, 1]


# ---------------------------------------------------------------------------------------------------------------
# autograd: gradcheck + gradgradcheck for every differentiable mode, incl. widths beyond the size
# ---------------------------------------------------------------------------------------------------------------

GRAD_CASES: list[tuple[str, dict]] = [
    ("constant", {}),
    ("constant", {"value": 1.5}),
    ("constant", {"constant_values": (1, 2)}),
    ("reflect", {}),
    ("reflect", {"reflect_type": "odd"}),
    ("symmetric", {}),
    ("symmetric", {"reflect_type": "odd"}),
    ("replicate", {}),
    ("circular", {}),
    ("linear_ramp", {"end_values": (1, -2)}),
    ("maximum", {"stat_length": 2}),
    ("minimum", {}),
    ("mean", {"stat_length": (1, 3)}),
    ("median", {}),
    ("median", {"stat_length": 2}),
    ("empty", {}),
]


@pytest.mark.parametrize("mode,kwargs", GRAD_CASES, ids=[f"{m}-{k}" for m, k in GRAD_CASES])
@pytest.mark.parametrize("p", [(1, 2, 0, 1), (7, 9, 5, 3), (0, 0, 2, -1)], ids=["small", "wide", "crop"])
def test_gradcheck_and_gradgradcheck(mode: str, kwargs: dict, p: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)

    def f(t: torch.Tensor) -> torch.Tensor:
        out = pad(t, p, mode, **kwargs)
        if mode == "empty":  # border values are unspecified: check the centre only
            out = out[:, p[2] : out.shape[1] - max(p[3], 0), p[0] : out.shape[2] - p[1]]
        return out

    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


@pytest.mark.parametrize("mode", COPY)
def test_copy_mode_gradient_equals_brute_force_count(mode: str) -> None:
    # d(sum(pad(x)))/dx = how many times each input element appears in the output (np.pad index table)
    x = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    pad(x, (7, 2, 5, 9), mode).sum().backward()
    rows = np.pad(np.arange(4), (5, 9), NP_NAME.get(mode, mode))
    cols = np.pad(np.arange(3), (7, 2), NP_NAME.get(mode, mode))
    want = np.zeros((4, 3))
    np.add.at(want, (rows[:, None], cols[None, :]), 1)
    np.testing.assert_array_equal(x.grad.numpy(), want)


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "circular", "median", "linear_ramp"])
def test_backward_is_deterministic(mode: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 7, requires_grad=True)
    g = torch.randn_like(pad(x.detach(), (3, 11, 2, 8), mode))
    grads = []
    with torch.autograd.set_detect_anomaly(False):
        prev = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        try:
            for _ in range(2):
                (gx,) = torch.autograd.grad(pad(x, (3, 11, 2, 8), mode), x, g)
                grads.append(gx)
        finally:
            torch.use_deterministic_algorithms(prev)
    assert torch.equal(grads[0], grads[1])
    assert grads[0].abs().sum() > 0


def test_f_pad_native_forward_with_padkit_backward_matches_f_pad_gradient() -> None:
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    for mode in ("reflect", "replicate", "circular"):
        g = torch.randn(2, 3, 9, 10, dtype=torch.float64)
        (want,) = torch.autograd.grad(F.pad(x, (2, 3, 1, 2), mode=mode), x, g)
        (got,) = torch.autograd.grad(pad(x, (2, 3, 1, 2), mode), x, g)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular", "symmetric"])
def test_torch_compile_fullgraph(mode: str) -> None:
    torch._dynamo.reset()
    x = torch.randn(1, 2, 4, 5, requires_grad=True)
    f = torch.compile(lambda t: pad(t, (1, 2, 2, 1), mode), fullgraph=True, backend="aot_eager")
    y = f(x)
    assert torch.equal(y, pad(x.detach(), (1, 2, 2, 1), mode))
    (g,) = torch.autograd.grad(y.sum(), x)
    (want,) = torch.autograd.grad(pad(x, (1, 2, 2, 1), mode).sum(), x)
    assert torch.equal(g, want)


@pytest.mark.slow
def test_torch_compile_inductor() -> None:
    torch._dynamo.reset()
    x = torch.randn(1, 2, 4, 5, requires_grad=True)
    f = torch.compile(
        lambda t: pad(t, (3, 4, 5, 6), "symmetric") + pad(t, (1, 1, 1, 1), "reflect").sum(), fullgraph=True
    )
    y = f(x)
    want = pad(x, (3, 4, 5, 6), "symmetric") + pad(x, (1, 1, 1, 1), "reflect").sum()
    torch.testing.assert_close(y, want)
    g = torch.randn_like(y)
    torch.testing.assert_close(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(want, x, g)[0])


# ---------------------------------------------------------------------------------------------------------------
# numpy_pad call forms
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pad_width", [2, (1, 3), ((1, 2), (0, 3)), [[2], [1]], {0: (3, 0)}, {1: 2}, {-1: (1, 2), 0: 1}, np.int64(1)]
)
def test_numpy_pad_width_forms(pad_width: object) -> None:
    a = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(numpy_pad(a, pad_width, "reflect"), np.pad(a, pad_width, "reflect"))
    np.testing.assert_array_equal(numpy_pad(a, pad_width), np.pad(a, pad_width))


def test_numpy_pad_returns_the_kind_it_was_given() -> None:
    t = torch.arange(6.0, requires_grad=True).reshape(2, 3)
    out = numpy_pad(t, ((1, 0), (2, 2)), "symmetric")
    assert isinstance(out, torch.Tensor) and out.requires_grad
    np.testing.assert_array_equal(out.detach().numpy(), np.pad(t.detach().numpy(), ((1, 0), (2, 2)), "symmetric"))
    out_np = numpy_pad([[1, 2], [3, 4]], 1, "wrap")
    assert isinstance(out_np, np.ndarray)
    np.testing.assert_array_equal(out_np, np.pad([[1, 2], [3, 4]], 1, "wrap"))
    # non-contiguous input (negative strides)
    a = np.arange(10)[::-2]
    np.testing.assert_array_equal(numpy_pad(a, 3, "reflect"), np.pad(a, 3, "reflect"))


# ---------------------------------------------------------------------------------------------------------------
# bad input: the message names the argument, its value and what is allowed
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,exc,pattern",
    [
        (
            lambda: pad(torch.zeros(3, 3), (1, 1), "mirror"),
            PadkitError,
            r"mode='mirror': expected a padding mode.*symmetric",
        ),
        (
            lambda: pad(torch.zeros(3, 3), (1, 1, 1)),
            PadkitError,
            r"pad=\(1, 1, 1\): expected an even length up to 4.*got length 3",
        ),
        (
            lambda: pad(torch.zeros(3, 3), (1,) * 6),
            PadkitError,
            r"pad=\(1, 1, 1, 1, 1, 1\): expected an even length up to 4.*2-dim.*got length 6",
        ),
        (lambda: pad(torch.zeros(3, 3), (1.5, 1)), PadkitTypeError, r"pad\[0\]=1\.5 \(float\): expected an int"),
        (lambda: pad(torch.zeros(3, 3), (True, 1)), PadkitTypeError, r"pad\[0\]=True \(bool\): expected an int"),
        (lambda: pad(torch.zeros(3, 3), 2), PadkitTypeError, r"pad=2 \(int\): expected a sequence of ints"),
        (lambda: pad(np.zeros(3), (1, 1)), PadkitTypeError, r"input=.*\(ndarray\): expected a torch.Tensor"),
        (
            lambda: pad(torch.zeros(3, 3), (1, 1), "reflect", stat_length=2),
            PadkitError,
            r"stat_length=2: expected an option of mode='reflect': reflect_type",
        ),
        (
            lambda: pad(torch.zeros(3, 3), (1, 1), "circular", end_values=1),
            PadkitError,
            r"end_values=1: expected no option with mode='circular'",
        ),
        (
            lambda: pad(torch.zeros(3, 3), (1, 1), "reflect", value=1.0),
            PadkitError,
            r"value=1.0.*only for mode='constant'",
        ),
        (
            lambda: pad(torch.zeros(3, 3), (1, 1), value=1.0, constant_values=2),
            PadkitError,
            r"value=1.0: expected None when constant_values=2 is given",
        ),
        (
            lambda: pad(torch.zeros(3, 0), (1, 1), "reflect"),
            PadkitError,
            r"mode='reflect'.*dimension 1.*empty.*'constant'",
        ),
        (
            lambda: pad(torch.zeros(3, 3), (1, 1), "symmetric", reflect_type="weird"),
            PadkitError,
            r"reflect_type='weird'",
        ),
        (lambda: pad(torch.zeros(3, 3), (1, 1), "mean", stat_length=0), PadkitError, r"stat_length=0.*>= 1"),
        (
            lambda: pad(torch.zeros(3, 3), (1, 1), "mean", stat_length=(1, 2, 3)),
            PadkitError,
            r"stat_length=\(1, 2, 3\)",
        ),
        (
            lambda: numpy_pad(np.zeros(3), 1.5),
            PadkitTypeError,
            r"pad_width=1.5 \(float\): expected non-negative integers",
        ),
        (lambda: numpy_pad(np.zeros(3), -1), PadkitError, r"pad_width=-1.*non-negative"),
        (lambda: numpy_pad(np.zeros(3), 1, "reflect", stat_length=1), PadkitError, r"stat_length=1.*mode='reflect'"),
        (lambda: numpy_pad(np.zeros(3), 1, "unknown"), PadkitError, r"mode='unknown'"),
        (
            lambda: numpy_pad(np.zeros((2, 2)), ((1, 2, 3),)),
            PadkitError,
            r"pad_width=\(\(1, 2, 3\),\): expected .*got shape \(1, 3\)",
        ),
    ],
)
def test_errors_name_argument_value_and_allowed(call, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        call()


def test_errors_are_one_family_of_value_and_type_errors() -> None:
    assert issubclass(PadkitValueError, PadkitError) and issubclass(PadkitValueError, ValueError)
    assert issubclass(PadkitTypeError, PadkitError) and issubclass(PadkitTypeError, TypeError)
    for bad in (lambda: pad(torch.zeros(3), (1, 1), "mirror"), lambda: pad(torch.zeros(3), 2)):
        with pytest.raises(PadkitError):
            bad()


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_fold_backward_equals_native_backward_on_native_shapes(mode: str) -> None:
    """On CPU padkit hands F.pad-able reflect/replicate to F.pad's own autograd; on other devices the fold runs.

    Exercise the fold (the non-CPU path) directly on the shapes F.pad handles, against F.pad's gradient, and check
    its double backward.
    """
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    widths = ((0, 0), (0, 0), (2, 3), (4, 1))
    flat = (4, 1, 2, 3)
    out = CopyPad.apply(x, widths, mode)
    ref = F.pad(x, flat, mode=mode)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    g = torch.randn_like(ref)
    (gx,) = torch.autograd.grad(out, x, g)
    (gref,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(gx, gref)
    assert gradcheck(lambda t: CopyPad.apply(t, widths, mode), (x,))
    assert gradgradcheck(lambda t: CopyPad.apply(t, widths, mode), (x,))
