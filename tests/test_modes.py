import pytest

from padkit import PadkitError, PadkitTypeError
from padkit.modes import ALIASES, LAYER_MODES, MODE_OPTIONS, PAD_MODES, canonical_mode


@pytest.mark.parametrize("mode", PAD_MODES)
def test_canonical_names_map_to_themselves(mode):
    assert canonical_mode(mode) == mode


@pytest.mark.parametrize(("alias", "canonical"), sorted(ALIASES.items()))
def test_aliases(alias, canonical):
    assert canonical_mode(alias) == canonical
    assert canonical_mode(alias.upper()) == canonical


def test_aliases_never_shadow_canonical_names():
    assert not set(ALIASES) & set(PAD_MODES)


def test_every_mode_has_an_option_set():
    assert set(PAD_MODES) | set(LAYER_MODES) <= set(MODE_OPTIONS)


def test_unknown_mode_names_value_and_allowed():
    with pytest.raises(PadkitError, match=r"mode='mirror': expected a padding mode.*reflect"):
        canonical_mode("mirror")
    with pytest.raises(ValueError, match="padding_mode='partial'"):
        canonical_mode("partial", argname="padding_mode")
    assert canonical_mode("partial", allowed=LAYER_MODES) == "partial"


def test_non_string_mode_is_type_error():
    with pytest.raises(PadkitTypeError, match=r"mode=3 \(int\): expected a padding mode name"):
        canonical_mode(3)


def test_layer_modes_per_axis() -> None:
    from padkit.modes import is_zero_fill, layer_modes, mode_name, pad_mode_of

    assert layer_modes("Wrap") == "circular"
    assert layer_modes(["zero", "edge"]) == ("zeros", "replicate")
    assert pad_mode_of(("zeros", "circular")) == ("constant", "circular")
    assert is_zero_fill(("zeros", "constant"))
    assert not is_zero_fill(("zeros", "constant"), {"value": 1})
    assert mode_name(("zeros", "circular")) == "zeros+circular"
    with pytest.raises(PadkitError, match=r"padding_mode=\(\): expected at least one mode"):
        layer_modes(())
    with pytest.raises(PadkitError, match=r"padding_mode\[0\]='partial'"):
        layer_modes(("partial", "zeros"))
    with pytest.raises(PadkitTypeError):
        layer_modes(3)


def test_check_options_per_axis() -> None:
    from padkit.modes import check_options

    assert check_options(("constant", "reflect"), {"value": 1, "reflect_type": "odd"}) == {
        "value": 1,
        "reflect_type": "odd",
    }
    with pytest.raises(PadkitError, match="does not accept"):
        check_options(("zeros", "circular"), {"value": 1})
