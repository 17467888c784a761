"""The shared argument checks (one grammar), the JSON report helpers and the text-table helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from padkit import PadkitError, PadkitTypeError, PadkitValueError
from padkit._report import REPORT_FORMAT, jsonable, to_json
from padkit._validate import check_choice, check_int, check_number, ntuple
from padkit.modes import check_options, layer_mode, pad_mode_of
from padkit.render.text import format_number, text_table


def test_check_int_grammar_and_types() -> None:
    assert check_int(np.int64(3), "images", minimum=1) == 3
    assert check_int(None, "images", minimum=1, allow_none=True) is None
    with pytest.raises(PadkitValueError, match=r"^images=0: expected an int >= 1$"):
        check_int(0, "images", minimum=1)
    with pytest.raises(PadkitTypeError, match=r"^images=True \(bool\): expected an int >= 1 or None$"):
        check_int(True, "images", minimum=1, allow_none=True)
    with pytest.raises(PadkitValueError, match=r"^k=9: expected an int >= 1 and <= 8$"):
        check_int(9, "k", minimum=1, maximum=8)


def test_check_number_and_choice() -> None:
    assert check_number(2, "std", positive=True) == 2.0
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(PadkitValueError, match=r"^std=.*: expected a finite number > 0$"):
            check_number(bad, "std", positive=True)
    with pytest.raises(PadkitTypeError, match=r"std='1' \(str\)"):
        check_number("1", "std")
    assert check_choice("html", "format", ("json", "html")) == "html"
    with pytest.raises(PadkitValueError, match=r"^format='pdf': expected one of 'json', 'html'$"):
        check_choice("pdf", "format", ("json", "html"))


def test_ntuple() -> None:
    assert ntuple(2, 3, "stride") == (2, 2, 2)
    assert ntuple([1, np.int32(2)], 2, "stride") == (1, 2)
    with pytest.raises(PadkitTypeError, match=r"stride=\(1, 2, 3\) \(tuple\): expected an int or a sequence of 2"):
        ntuple((1, 2, 3), 2, "stride")
    with pytest.raises(PadkitValueError, match=r"stride=0: expected ints >= 1 in every dimension"):
        ntuple(0, 2, "stride", minimum=1)


def test_one_exception_family_catches_both() -> None:
    caught = []
    for call in (lambda: check_int("a", "n"), lambda: check_int(-1, "n", minimum=0)):
        try:
            call()
        except PadkitError as exc:
            caught.append(type(exc))
    assert caught == [PadkitTypeError, PadkitValueError]


def test_layer_vocabulary() -> None:
    assert [layer_mode(m) for m in ("zeros", "ZERO", "constant", "edge", "wrap", "partial")] == [
        "zeros",
        "zeros",
        "constant",
        "replicate",
        "circular",
        "partial",
    ]
    assert [pad_mode_of(m) for m in ("zeros", "partial", "constant", "reflect")] == [
        "constant",
        "constant",
        "constant",
        "reflect",
    ]
    with pytest.raises(PadkitValueError, match=r"padding_mode='mirror': expected a padding mode here, one of"):
        layer_mode("mirror")
    with pytest.raises(PadkitValueError, match=r"padding_mode='reflect' does not accept \['value'\]"):
        check_options("reflect", {"value": 1})


def test_jsonable_is_strict_json() -> None:
    doc = {"format": REPORT_FORMAT, "x": (1.5, math.nan, -math.inf), 3: np.float32(0.5), "a": np.arange(2)}
    assert jsonable(doc) == {"format": 1, "x": [1.5, None, None], "3": 0.5, "a": [0, 1]}
    assert json.loads(to_json(doc)) == jsonable(doc)


def test_text_helpers() -> None:
    assert [format_number(v) for v in (3, None, math.nan, math.inf, -math.inf, 1234.5, 0.123)] == [
        "3",
        "–",
        "–",
        "inf",
        "-inf",
        "1.23e+03",
        "0.12",
    ]
    assert text_table(["name", "v"], [["a", "1.00"], ["long", "10.00"]]) == [
        "name      v",
        "----  -----",
        "a      1.00",
        "long  10.00",
    ]
