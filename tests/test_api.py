"""Freeze the public API surface: a change here is a deliberate, reviewed API change (update the lists with it)."""

from __future__ import annotations

import inspect

import padkit
import padkit.nn
import padkit.nn.functional
from padkit import cli

PADKIT_ALL = {
    "AuditReport",
    "ConversionReport",
    "LayerChange",
    "LayerPlan",
    "LayerResult",
    "ModeResult",
    "PaddingScope",
    "PadkitError",
    "PadkitOverflowError",
    "PadkitTypeError",
    "PadkitValueError",
    "Plan",
    "RunningMoments",
    "SkippedLayer",
    "Summary",
    "__version__",
    "audit",
    "canonical_mode",
    "convert",
    "convert_report",
    "load_model",
    "numpy_pad",
    "pad",
    "padding",
    "plan",
    "seam_ratio",
    "tiled",
}

NN_ALL = {
    *(f"Pad{kind}{n}d" for kind in ("Conv", "ConvTranspose", "MaxPool", "AvgPool") for n in (1, 2, 3)),
    "functional",
}

FUNCTIONAL_ALL = {
    "ALGORITHMS",
    "pad_spatial",
    "partial_ratio",
    *(f"{op}{n}d" for op in ("conv", "conv_transpose", "max_pool", "avg_pool") for n in (1, 2, 3)),
}

SUBCOMMANDS = {"plan", "convert", "audit", "experiment", "demo", "bench", "tile"}

#: The signatures users write code against (F.pad / np.pad call forms and the one-line conversion).
SIGNATURES = {
    "pad": "(input, pad, mode='constant', value=None, **options)",
    "numpy_pad": "(array, pad_width, mode='constant', **kwargs)",
    "convert": "(model, mode, *, inplace=False, include=None, exclude=None)",
    "plan": "(model, input_size=None, *, in_channels=None, name=None, suggest=True, search=64)",
    "padding": "(model, mode, *, include=None, exclude=None, kernel_size=None)",
    "seam_ratio": "(image, axis='x')",
    "tiled": "(model, x, tile, *, exact=True, mode=None, batch=1, device=None, progress=True, halo=None)",
}


def _plain(sig: inspect.Signature) -> str:
    return str(
        sig.replace(parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()]).replace(
            return_annotation=inspect.Signature.empty
        )
    )


def test_padkit_all_is_frozen_and_importable() -> None:
    assert set(padkit.__all__) == PADKIT_ALL
    assert len(padkit.__all__) == len(set(padkit.__all__))
    for name in padkit.__all__:
        assert hasattr(padkit, name), name


def test_nn_and_functional_all_are_frozen() -> None:
    assert set(padkit.nn.__all__) == NN_ALL
    assert set(padkit.nn.functional.__all__) == FUNCTIONAL_ALL
    for name in padkit.nn.functional.__all__:
        assert hasattr(padkit.nn.functional, name), name


def test_signatures_are_frozen() -> None:
    for name, expected in SIGNATURES.items():
        assert _plain(inspect.signature(getattr(padkit, name))) == expected, name
    params = list(inspect.signature(padkit.audit).parameters)
    assert params[:3] == ["model", "data", "modes"]
    conv = inspect.signature(padkit.nn.functional.conv2d).parameters
    assert list(conv)[:8] == ["input", "weight", "bias", "stride", "padding", "dilation", "groups", "padding_mode"]


def test_layers_subclass_torch_layers() -> None:
    import torch.nn as tnn

    for kind, base in (
        ("Conv", "Conv"),
        ("ConvTranspose", "ConvTranspose"),
        ("MaxPool", "MaxPool"),
        ("AvgPool", "AvgPool"),
    ):
        for n in (1, 2, 3):
            assert issubclass(getattr(padkit.nn, f"Pad{kind}{n}d"), getattr(tnn, f"{base}{n}d"))


def test_cli_subcommands_are_frozen() -> None:
    assert set(cli.SUBCOMMANDS) == SUBCOMMANDS
    assert (cli.EXIT_OK, cli.EXIT_FAIL, cli.EXIT_USAGE, cli.EXIT_ERROR) == (0, 1, 2, 3)
