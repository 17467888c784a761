"""padkit.numpy_pad against np.pad (the oracle): values, dtype, memory layout and exception types."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from padkit import PadkitError, PadkitTypeError, PadkitValueError, numpy_pad

NP_MODES = [
    "constant",
    "edge",
    "wrap",
    "reflect",
    "symmetric",
    "linear_ramp",
    "maximum",
    "minimum",
    "mean",
    "median",
    "empty",
]

# every NumPy scalar type np.pad takes, by its own name, plus byte-swapped ones
DTYPES = [
    np.bool_,
    np.byte, np.ubyte, np.short, np.ushort, np.intc, np.uintc, np.int_, np.uint, np.longlong, np.ulonglong,
    np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
    np.half, np.single, np.double, np.longdouble,
    np.csingle, np.cdouble, np.clongdouble,
    np.object_, "U3", "S3", "M8[D]", "m8[s]", ">i4", ">f8", "<u2",
]  # fmt: skip
TORCH_DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.intc, np.uintc, np.int64, np.uint64,
                np.longlong, np.ulonglong, np.half, np.float32, np.float64, np.complex64, np.complex128]  # fmt: skip


def _builtin(exc: BaseException) -> type:
    """The built-in class of an exception (NumPy's private subclasses, e.g. ``_UFuncNoLoopError``, are not API)."""
    return next(c for c in type(exc).__mro__ if c.__module__ == "builtins")


def _data(draw: st.DrawFn, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kind = dtype.kind
    if kind == "b":
        return rng.integers(0, 2, shape).astype(dtype)
    if kind in "iu":
        info = np.iinfo(dtype)
        if draw(st.booleans()):  # the whole range, extremes included
            v = rng.integers(info.min, info.max, shape, dtype=np.dtype(dtype).newbyteorder("="), endpoint=True)
            return v.astype(dtype)
        return rng.integers(max(info.min, -50), 100, shape).astype(dtype)
    if kind in "fc":
        v = rng.integers(-50, 100, shape).astype(np.float64) / draw(st.sampled_from([1, 4, 7]))
        if kind == "c":
            v = v + 1j * rng.integers(-9, 9, shape)
        if size and draw(st.integers(0, 4)) == 0:
            v.flat[rng.integers(0, size)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return v.astype(dtype)
    if kind == "O":
        return np.array([int(i) * 3**41 for i in rng.integers(-9, 9, size)] + [None], dtype=object)[:size].reshape(
            shape
        )
    if kind in "US":
        return rng.integers(0, 1000, shape).astype(dtype)
    return rng.integers(0, 20000, shape).astype(dtype)  # datetime64, timedelta64


def _layout(draw: st.DrawFn, a: np.ndarray) -> np.ndarray:
    form = draw(st.sampled_from(["C", "F", "strided", "reversed"]))
    if form == "F":
        return np.asfortranarray(a)
    if form == "strided" and a.ndim:
        big = np.repeat(a, 2, axis=-1)
        return big[..., ::2]
    if form == "reversed" and a.ndim:
        return a[::-1]
    return a


def _option(draw: st.DrawFn, ndim: int, scalars: st.SearchStrategy[Any]) -> Any:
    """An option in each form np.pad takes: scalar, (before, after) pair, per-axis pairs, a (n, 1) column."""
    form = draw(st.sampled_from(["scalar", "pair", "per_axis", "column"]))
    if form == "scalar":
        return draw(scalars)
    if form == "pair":
        return (draw(scalars), draw(scalars))
    if form == "column":
        return [[draw(scalars)] for _ in range(ndim)]
    return tuple((draw(scalars), draw(scalars)) for _ in range(ndim))


BAD_VALUES = st.sampled_from(["a", None, 300, -1, 1.5, np.nan, np.inf, 1 + 2j, 2**70, True, np.int64(300)])


def _padder(vector: np.ndarray, iaxis_pad_width: Any, iaxis: int, kwargs: dict) -> None:
    """A callable mode: constant ``kwargs['fill']`` before, the axis number after."""
    before, after = iaxis_pad_width
    if before:
        vector[:before] = kwargs.get("fill", 7)
    if after:
        vector[-after:] = iaxis


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, Any, Any, dict]:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    rank = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=rank, max_size=rank)))
    a = _layout(draw, _data(draw, dtype, shape))
    mode: Any = draw(st.sampled_from([*NP_MODES, "callable"]))
    if mode == "callable":
        mode = _padder
    ints = st.integers(0, 9)
    pw_form = draw(st.sampled_from(["int", "pair", "per_axis", "column", "dict", "bad"]))
    if pw_form == "int":
        pad_width: Any = draw(ints)
    elif pw_form == "pair":
        pad_width = (draw(ints), draw(ints))
    elif pw_form == "column":
        pad_width = [[draw(ints)] for _ in range(rank)]
    elif pw_form == "dict" and rank:
        pad_width = {draw(st.integers(-rank, rank - 1)): draw(st.one_of(ints, st.tuples(ints, ints)))}
    elif pw_form == "bad":
        pad_width = draw(st.sampled_from([-1, (1, -2), 1.5, "a", None, [], (1, 2, 3), [[[1, 2]]], [[1, 2]] * 5]))
    else:
        pad_width = tuple((draw(ints), draw(ints)) for _ in range(rank))
    kwargs: dict = {}
    bad = draw(st.integers(0, 7)) == 0
    if mode == "constant" and draw(st.booleans()):
        values = BAD_VALUES if bad else st.one_of(st.integers(-3, 99), st.floats(-9, 9, width=32))
        kwargs["constant_values"] = _option(draw, rank, values)
    elif mode == "linear_ramp" and draw(st.booleans()):
        values = BAD_VALUES if bad else st.one_of(st.integers(-9, 99), st.floats(-9, 9, width=32))
        kwargs["end_values"] = _option(draw, rank, values)
    elif mode in ("maximum", "minimum", "mean", "median") and draw(st.booleans()):
        lengths = BAD_VALUES if bad else st.one_of(st.integers(0, 5), st.none())
        kwargs["stat_length"] = _option(draw, rank, lengths) if draw(st.booleans()) else draw(lengths)
    elif mode in ("reflect", "symmetric") and draw(st.booleans()):
        kwargs["reflect_type"] = draw(st.sampled_from(["even", "odd", "weird"] if bad else ["even", "odd"]))
    elif callable(mode) and draw(st.booleans()):
        kwargs["fill"] = draw(ints)
    if draw(st.integers(0, 15)) == 0:
        kwargs[draw(st.sampled_from(["constant_values", "stat_length", "reflect_type", "bogus"]))] = 1
    if draw(st.integers(0, 15)) == 0:
        mode = draw(st.sampled_from(["EDGE", "zeros", "replicate", "mirror", None, 3, ["edge"]]))
    return a, pad_width, mode, kwargs


def _assert_same(got: Any, want: np.ndarray, a: np.ndarray, mode: Any, pad_width: Any) -> None:
    assert isinstance(got, np.ndarray) and type(got) is type(want)
    assert got.dtype == want.dtype and got.dtype.type is want.dtype.type and got.dtype.str == want.dtype.str
    assert got.shape == want.shape
    assert got.flags.c_contiguous == want.flags.c_contiguous and got.flags.f_contiguous == want.flags.f_contiguous
    assert not np.may_share_memory(got, a)
    if mode == "empty":  # the border is unspecified: compare the core only
        pairs = np.broadcast_to(np.asarray(_dict_pairs(pad_width, a.ndim)), (a.ndim, 2))
        core = tuple(slice(b, b + n) for (b, _), n in zip(pairs, a.shape))
        got, want = got[core], want[core]
    if mode in ("mean", "median") and want.dtype.kind in "fc":  # summation order: the last bits may differ
        rtol = 16 * float(np.finfo(want.dtype).eps)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 100)
    elif want.dtype.kind in "fcmM":  # NaN, NaT
        assert np.array_equal(got, want, equal_nan=True)
    elif want.dtype.kind == "O":  # NaN among the objects: compare their text
        assert got.astype(str).tolist() == want.astype(str).tolist()
    else:
        assert np.array_equal(got, want)


def _dict_pairs(pad_width: Any, ndim: int) -> Any:
    if not isinstance(pad_width, dict):
        return pad_width
    seq = [(0, 0)] * ndim
    for axis, w in pad_width.items():
        seq[axis] = (w, w) if isinstance(w, int) else w
    return seq


def _compare(a: np.ndarray, pad_width: Any, mode: Any, kwargs: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = np.pad(a, pad_width, mode, **kwargs)
        except Exception as exc:  # np.pad's own error: numpy_pad raises a padkit error of the same built-in type
            builtin = _builtin(exc)
            translated = builtin in (ValueError, TypeError, OverflowError)  # others: the objects' own arithmetic
            with pytest.raises(PadkitError if translated else builtin) as info:
                numpy_pad(a, pad_width, mode, **kwargs)
            assert isinstance(info.value, builtin), (exc, info.value)
            return
        got = numpy_pad(a, pad_width, mode, **kwargs)
    _assert_same(got, want, a, mode, pad_width)


@given(cases())
def test_sweep_against_np_pad(case: tuple[np.ndarray, Any, Any, dict]) -> None:
    _compare(*case)


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=lambda d: np.dtype(d).name + "/" + np.dtype(d).char)
@pytest.mark.parametrize("mode", NP_MODES)
def test_every_mode_and_dtype_in_c_and_fortran_order(dtype: type, mode: str) -> None:
    a = np.arange(-3, 21).reshape(2, 3, 4)
    a = (a % 2 if dtype is np.bool_ else a % 120).astype(dtype)
    for arr in (a, np.asfortranarray(a), a[:, ::-1, ::2], a[..., 1]):
        for pad_width in (((1, 2), (3, 0), (0, 5)), 4, {1: (2, 9)}):
            widths = pad_width if arr.ndim == 3 or not isinstance(pad_width, tuple) else pad_width[:2]
            _compare(arr, widths, mode, {})


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=lambda d: np.dtype(d).name + "/" + np.dtype(d).char)
def test_torch_computes_the_dtypes_torch_holds(dtype: type, monkeypatch: pytest.MonkeyPatch) -> None:
    import padkit._pad._numpy as impl

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("np.pad was called")

    monkeypatch.setattr(impl, "_with_numpy", refuse)
    a = np.asfortranarray((np.arange(12).reshape(3, 4) % 5).astype(dtype))
    modes = [m for m in NP_MODES if not (np.dtype(dtype).kind == "c" and m in ("maximum", "minimum", "median"))]
    for mode in modes:
        _compare(a, ((1, 2), (3, 1)), mode, {})
    _compare(a, 2, "constant", {"constant_values": ((1, 2), (3, 4))})
    _compare(a, 2, "reflect", {"reflect_type": "odd"})


@pytest.mark.parametrize(
    "a,pad_width,mode,kwargs",
    [
        (np.array([1, 2**64 - 1, 5], dtype=np.ulonglong), 2, "mean", {}),
        (np.array([1, 2**64 - 1, 5], dtype=np.ulonglong), 2, "reflect", {"reflect_type": "odd"}),
        (np.array([1, 2**64 - 1, 5], dtype=np.uint64), 2, "edge", {}),
        (np.array([2**70, -(2**90), 3], dtype=object), 2, "linear_ramp", {"end_values": 5}),
        (np.array([1, 2, 4], dtype=np.longdouble) / 3, 2, "mean", {"stat_length": 2}),
        (np.array([1 + 1j, 2, 4], dtype=np.clongdouble), 2, "reflect", {}),
        (np.array(["ab", "c"]), 2, "symmetric", {}),
        (np.array([b"ab", b"c"]), 2, "constant", {"constant_values": b"z"}),
        (np.array(["2020-01-01", "2020-03-01"], dtype="M8[D]"), 2, "wrap", {}),
        (np.array([1, 5], dtype="m8[s]"), 2, "maximum", {}),
        (np.array([1 + 2j, 1 + 3j, 0 + 9j]), 1, "maximum", {}),
        (np.arange(6).reshape(2, 3), ((1, 2), (0, 3)), _padder, {"fill": -4}),
        (np.arange(6.0), 3, "mean", {"stat_length": 0}),
        (np.arange(6), 3, "median", {"stat_length": (0, 2)}),
        (np.arange(6), 3, "maximum", {"stat_length": 0}),
        (np.array([2**70, 3], dtype=object), 1, "mean", {"stat_length": 0}),
        (np.arange(6), 3, "mean", {"stat_length": 1.5}),
        (np.arange(6), 3, "reflect", {"reflect_type": "weird"}),
        (np.zeros(3, np.uint8), 1, "constant", {"constant_values": 300}),
        (np.zeros((2, 2), np.uint8), 1, "constant", {"constant_values": ((1, 300), (1, 1))}),
        (np.zeros(3, np.int64), 1, "constant", {"constant_values": 2**62 + 1}),
        (np.zeros(3, np.complex64), 1, "constant", {"constant_values": 1 + 2j}),
        (np.zeros(3), 1, "constant", {"constant_values": "2"}),
        (np.zeros(3), 1, "constant", {"constant_values": "a"}),
        (np.zeros(3, int), 1, "constant", {"constant_values": np.inf}),
        (np.arange(5, dtype=np.uint8), 2, "linear_ramp", {"end_values": -3}),
        (np.arange(5.0), 2, "linear_ramp", {"end_values": 1j}),
        (np.array([np.nan, 1.0, 2.0, 3.0]), 2, "median", {}),
        (np.array(5), 3, "edge", {}),
        (np.array(5, dtype=np.int8), 3, "mean", {}),
        (np.zeros((0, 3)), ((0, 0), (1, 1)), "mean", {"stat_length": -1}),
        (np.zeros((0, 3)), 1, "reflect", {}),
        (np.arange(5), 2, "EDGE", {}),
        (np.arange(5), 2, ["edge"], {}),
        (np.arange(5), np.array([1, 2], np.uint8), "constant", {}),
        (np.arange(5), True, "constant", {}),
    ],
)
def test_cases_np_pad_accepts_or_refuses(a: np.ndarray, pad_width: Any, mode: Any, kwargs: dict) -> None:
    _compare(a, pad_width, mode, kwargs)


@pytest.mark.parametrize("mode", ["mean", "median"])
@pytest.mark.parametrize("shape", [(3, 5), (9, 3), (2, 130)])
def test_integer_statistics_of_large_values(mode: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    for high in (2**40, 2**62):
        a = rng.integers(-high, high, shape)
        _compare(a, ((2, 1), (3, 4)), mode, {})
        _compare(np.asfortranarray(a), 2, mode, {"stat_length": ((2, 3), (5, 2))})


def test_constants_keep_their_sign_bit() -> None:
    a = np.ones((2, 3), dtype=np.float32)
    for values in (-0.0, (0.0, -0.0), ((-0.0, 0.0), (0.0, -0.0))):
        got, want = numpy_pad(a, 1, constant_values=values), np.pad(a, 1, constant_values=values)
        assert np.array_equal(np.signbit(got), np.signbit(want)) and np.array_equal(got, want)


def test_a_callable_mode_raises_what_it_raises() -> None:
    class Refused(ValueError):
        pass

    def refuse(vector: np.ndarray, iaxis_pad_width: Any, iaxis: int, kwargs: dict) -> None:
        raise Refused(iaxis)

    with pytest.raises(Refused):
        numpy_pad(np.zeros(3), 1, refuse)


def test_tensors_stay_tensors() -> None:
    t = torch.arange(6.0, requires_grad=True).reshape(2, 3)
    out = numpy_pad(t, ((1, 0), (2, 2)), "symmetric")
    assert isinstance(out, torch.Tensor) and out.requires_grad
    np.testing.assert_array_equal(out.detach().numpy(), np.pad(t.detach().numpy(), ((1, 0), (2, 2)), "symmetric"))
    with pytest.raises(PadkitValueError, match="mode='replicate'"):
        numpy_pad(t, 1, "replicate")
    with pytest.raises(PadkitTypeError, match="callable modes take NumPy arrays"):
        numpy_pad(t, 1, _padder)


@pytest.mark.parametrize(
    "call,exc,pattern",
    [
        (lambda: numpy_pad(np.zeros(3), 1.5), PadkitTypeError, r"pad_width=1.5 \(float\): expected non-negative"),
        (lambda: numpy_pad(np.zeros(3), -1), PadkitValueError, r"pad_width=-1: expected non-negative"),
        (lambda: numpy_pad(np.zeros(3), 1, "reflect", stat_length=1), PadkitValueError, r"stat_length=1.*'reflect'"),
        (lambda: numpy_pad(np.zeros(3), 1, "unknown"), PadkitValueError, r"mode='unknown': expected one of np.pad"),
        (lambda: numpy_pad(np.zeros(3), 1, ["edge"]), PadkitTypeError, r"mode=\['edge'\] \(list\): expected"),
        (
            lambda: numpy_pad(np.zeros((2, 2)), ((1, 2, 3),)),
            PadkitValueError,
            r"pad_width=\(\(1, 2, 3\),\): expected .*got shape \(1, 3\)",
        ),
        (
            lambda: numpy_pad(np.zeros((2, 2), np.uint8), 1, constant_values=((1, 300), (1, 1))),
            OverflowError,
            r"constant_values=\(\(1, 300\), \(1, 1\)\): expected values that fit dtype uint8",
        ),
        (lambda: numpy_pad(np.arange(3), 1, "maximum", stat_length=0), PadkitValueError, r"stat_length=0"),
        (lambda: numpy_pad(np.array(["a"]), 1, "mean"), PadkitTypeError, r"mode='mean' \(str\): expected .*dtype <U1"),
    ],
)
def test_errors_name_argument_value_and_allowed(call: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern) as info:
        call()
    assert isinstance(info.value, PadkitError)
