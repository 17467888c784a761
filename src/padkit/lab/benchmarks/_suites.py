"""The benchmark cases: what is compared with what, on which shapes, against which target.

Each case is a :class:`CaseSpec` naming a builder and JSON-able parameters, so the CPU memory worker process can
rebuild exactly the same variants. A builder returns ``name -> step`` where a step is one call of the measured work
(forward and backward unless the name says ``fwd``) and returns ``None`` so nothing outlives the call.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._audit import build_audit_variants
from ._inputs import Step, randn, seeded, torchvision_model

__all__ = ["BUILDERS", "SUITES", "CaseSpec", "RatioSpec", "cases_for", "torch_native_padding"]

#: Suites in run order.
SUITES: tuple[str, ...] = ("pad", "conv", "model", "audit", "plan")


@dataclass(frozen=True)
class RatioSpec:
    """``numerator / denominator`` to report, with optional targets (ratio must be at most the target)."""

    label: str
    numerator: str
    denominator: str
    time_target: float | None = None
    memory_target: float | None = None
    kept_target: float | None = None


@dataclass(frozen=True)
class CaseSpec:
    """One case: a builder, its parameters, the ratios to report, the variants whose memory to read.

    ``budgets``: ``(variant, limit_s)``; a variant named ``"a + b"`` is held to the sum of the medians of ``a`` and
    ``b``. ``repeats`` and ``warmup`` are the case's defaults (``None``: the run's warm-up).
    """

    suite: str
    case: str
    builder: str
    params: dict[str, Any]
    ratios: tuple[RatioSpec, ...] = ()
    memory: tuple[str, ...] = ()
    budgets: tuple[tuple[str, float], ...] = ()
    repeats: int = 11
    warmup: int | None = None


# ----------------------------------------------------------------------------------------------------------- pad
def _padded_shape(shape: tuple[int, ...], pad: tuple[int, ...]) -> tuple[int, ...]:
    out = list(shape)
    for i in range(len(pad) // 2):
        out[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    return tuple(out)


def build_pad(params: dict[str, Any], device: torch.device) -> dict[str, Step]:
    """Variants: ``padkit``/``F.pad`` forward+backward, ``padkit fwd``/``F.pad fwd``/``copy fwd`` forward only."""
    from padkit import pad as padkit_pad

    shape, pads, mode = tuple(params["shape"]), tuple(params["pad"]), params["mode"]
    x = randn(shape, device).requires_grad_(True)
    g = randn(_padded_shape(shape, pads), device, seed=1)
    y_ref = g.clone()  # the "plain copy of the output" reads and writes as many bytes as the padded output

    def bwd(fn: Callable[[], torch.Tensor]) -> Step:
        def step() -> None:
            torch.autograd.grad(fn(), x, g)

        return step

    def fwd(fn: Callable[[], torch.Tensor]) -> Step:
        def step() -> None:
            with torch.no_grad():
                fn()

        return step

    def pk() -> torch.Tensor:
        return padkit_pad(x, pads, mode)

    variants: dict[str, Step] = {"padkit": bwd(pk)}
    native = mode in ("constant", "reflect", "replicate", "circular")
    if native:

        def tp() -> torch.Tensor:
            return F.pad(x, pads, mode)

        variants["F.pad"] = bwd(tp)
    variants["padkit fwd"] = fwd(pk)
    if native:
        variants["F.pad fwd"] = fwd(tp)
    variants["copy fwd"] = fwd(y_ref.clone)
    return variants


def pad_cases(quick: bool) -> list[CaseSpec]:
    """``padkit.pad`` vs ``F.pad`` per mode, and forward vs a plain copy of the output."""
    shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = (
        [((2, 16, 64, 64), (1, 1, 1, 1))]
        if quick
        else [((8, 64, 56, 56), (1, 1, 1, 1)), ((8, 32, 112, 112), (3, 3, 3, 3))]
    )
    targets = {"constant": 1.0, "reflect": 1.0, "replicate": 1.0, "circular": 0.33, "symmetric": None}
    cases = []
    for shape, pads in shapes:
        for mode, target in targets.items():
            ratios = []
            if target is not None:
                ratios.append(RatioSpec("padkit / F.pad (fwd+bwd)", "padkit", "F.pad", time_target=target))
            ratios.append(RatioSpec("padkit / copy (fwd)", "padkit fwd", "copy fwd", time_target=1.3))
            if target is not None:
                ratios.append(RatioSpec("F.pad / copy (fwd)", "F.pad fwd", "copy fwd"))
            cases.append(
                CaseSpec(
                    suite="pad",
                    case=f"{mode} {'x'.join(map(str, shape))} pad {pads[0]}",
                    builder="pad",
                    params={"shape": list(shape), "pad": list(pads), "mode": mode},
                    ratios=tuple(ratios),
                    memory=("padkit", "F.pad") if target is not None else ("padkit",),
                    repeats=15,
                )
            )
    return cases


# ---------------------------------------------------------------------------------------------------------- conv
CONV_MODES: tuple[str, ...] = ("reflect", "symmetric", "replicate", "circular", "partial")
TORCH_CONV_MODES: tuple[str, ...] = ("reflect", "replicate", "circular")
#: Per-axis modes ((height, width), dim order) and spherical, each timed against one copy mode (``circular``).
AXIS_CONV_MODES: tuple[str | tuple[str, ...], ...] = (("zeros", "circular"), ("reflect", "circular"), "spherical")
#: The one-copy-mode baseline of :data:`AXIS_CONV_MODES`, and their target (at most this ratio, fwd+bwd).
AXIS_BASELINE, AXIS_TARGET = "circular", 1.1
#: Modes also timed through ``PadConv2d(algorithm="pad")`` (information, no target).
PAD_ALGORITHM_MODES: tuple[str, ...] = ("reflect",)


def build_conv(params: dict[str, Any], device: torch.device) -> dict[str, Step]:
    """Variants: ``nn.Conv2d zeros``, ``PadConv2d <mode>``, ``nn.Conv2d <mode>``: 3x3, padding 1, forward+backward.

    ``params["pad_algorithm_modes"]`` (optional) adds ``PadConv2d <mode> (algorithm=pad)``: the layer's other route,
    a padded copy then a valid conv, for comparison with the default border-corrected route.
    """
    from ...modes import mode_name
    from ...nn import PadConv2d

    n, c, hw, groups = params["n"], params["c"], params["hw"], params["groups"]
    x = randn((n, c, hw, hw), device).requires_grad_(True)
    g = randn((n, c, hw, hw), device, seed=1)
    base = nn.Conv2d(c, c, 3, padding=1, groups=groups, bias=False).to(device)

    def step_of(conv: nn.Module) -> Step:
        params_ = [x, *conv.parameters()]

        def step() -> None:
            torch.autograd.grad(conv(x), params_, g)

        return step

    variants = {"nn.Conv2d zeros": step_of(base)}
    for mode in [*params["modes"], *params.get("axis_modes", ())]:
        mode = mode if isinstance(mode, str) else tuple(mode)  # a per-axis mode is a JSON list
        layer = PadConv2d(c, c, 3, padding=1, groups=groups, bias=False, padding_mode=mode).to(device)
        with torch.no_grad():
            layer.weight.copy_(base.weight)
        variants[f"PadConv2d {mode_name(mode)}"] = step_of(layer)
    for mode in params.get("pad_algorithm_modes", ()):
        layer = PadConv2d(c, c, 3, padding=1, groups=groups, bias=False, padding_mode=mode, algorithm="pad").to(device)
        with torch.no_grad():
            layer.weight.copy_(base.weight)
        variants[f"PadConv2d {mode} (algorithm=pad)"] = step_of(layer)
    for mode in params["torch_modes"]:
        tconv = copy.deepcopy(base)
        tconv.padding_mode = mode
        variants[f"nn.Conv2d {mode}"] = step_of(tconv)
    return variants


def conv_cases(quick: bool) -> list[CaseSpec]:
    """``PadConv2d`` per mode vs zero-padded and PyTorch-padded ``nn.Conv2d`` on ResNet/MobileNet-like shapes; the
    per-axis modes and spherical vs ``PadConv2d circular``."""
    from ...modes import mode_name

    axis_names = [mode_name(m) for m in AXIS_CONV_MODES]
    shapes = (
        [(2, 16, 32, 1), (2, 16, 32, 16)]
        if quick
        else [(8, 64, 56, 1), (8, 128, 28, 1), (8, 256, 14, 1), (8, 32, 112, 32)]
    )
    cases = []
    for n, c, hw, groups in shapes:
        ratios = []
        for mode in CONV_MODES:
            ratios.append(
                RatioSpec(
                    f"PadConv2d {mode} / nn.Conv2d zeros",
                    f"PadConv2d {mode}",
                    "nn.Conv2d zeros",
                    time_target=1.05,
                    memory_target=1.05,
                    kept_target=1.05,
                )
            )
        for name in axis_names:
            ratios.append(
                RatioSpec(
                    f"PadConv2d {name} / nn.Conv2d zeros",
                    f"PadConv2d {name}",
                    "nn.Conv2d zeros",
                    memory_target=1.05,
                    kept_target=1.05,
                )
            )
        for mode in TORCH_CONV_MODES:
            ratios.append(RatioSpec(f"nn.Conv2d {mode} / nn.Conv2d zeros", f"nn.Conv2d {mode}", "nn.Conv2d zeros"))
        for mode in TORCH_CONV_MODES:
            ratios.append(
                RatioSpec(f"PadConv2d {mode} / nn.Conv2d {mode}", f"PadConv2d {mode}", f"nn.Conv2d {mode}", 1.0)
            )
        for name in axis_names:
            ratios.append(
                RatioSpec(
                    f"PadConv2d {name} / PadConv2d {AXIS_BASELINE}",
                    f"PadConv2d {name}",
                    f"PadConv2d {AXIS_BASELINE}",
                    time_target=AXIS_TARGET,
                )
            )
        for mode in PAD_ALGORITHM_MODES:
            name = f"PadConv2d {mode} (algorithm=pad)"
            ratios.append(RatioSpec(f"{name} / nn.Conv2d zeros", name, "nn.Conv2d zeros"))
        variants = (
            "nn.Conv2d zeros",
            *(f"PadConv2d {m}" for m in CONV_MODES),
            *(f"PadConv2d {m}" for m in axis_names),
            *(f"PadConv2d {m} (algorithm=pad)" for m in PAD_ALGORITHM_MODES),
            *(f"nn.Conv2d {m}" for m in TORCH_CONV_MODES),
        )
        kind = "depthwise " if groups > 1 else ""
        cases.append(
            CaseSpec(
                suite="conv",
                case=f"{kind}3x3 N={n} {c}x{hw}²",
                builder="conv",
                params={
                    "n": n,
                    "c": c,
                    "hw": hw,
                    "groups": groups,
                    "modes": list(CONV_MODES),
                    "axis_modes": [m if isinstance(m, str) else list(m) for m in AXIS_CONV_MODES],
                    "torch_modes": list(TORCH_CONV_MODES),
                    "pad_algorithm_modes": list(PAD_ALGORITHM_MODES),
                },
                ratios=tuple(ratios),
                memory=variants,
                repeats=21,
                warmup=1,
            )
        )
    return cases + dilated_cases(quick)


#: PyTorch issue 68512 (replicate, 3x3, dilation 256 on 16x64x28², CPU) and circular at growing dilation; padding
#: ``dilation`` keeps the size. ``(mode, dilation)``.
DILATED: tuple[tuple[str, int], ...] = (("replicate", 256), ("circular", 8), ("circular", 32), ("circular", 256))
#: Target of ``PadConv2d`` against the zero-padded conv in :data:`DILATED` cases, forward and forward+backward.
DILATED_TARGET = 1.2


def build_dilated(params: dict[str, Any], device: torch.device) -> dict[str, Step]:
    """Variants of a dilated 3x3 conv, padding = dilation: ``<layer> fwd`` (inference, as in PyTorch issue 68512) for
    ``nn.Conv2d zeros``, ``PadConv2d <mode>`` and (where PyTorch takes the padding) ``nn.Conv2d <mode>``; and forward
    + backward (no suffix) for the first two."""
    from ...nn import PadConv2d

    n, c, hw, d, mode = params["n"], params["c"], params["hw"], params["dilation"], params["mode"]
    x = randn((n, c, hw, hw), device).requires_grad_(True)
    g = randn((n, c, hw, hw), device, seed=1)
    base = nn.Conv2d(c, c, 3, padding=d, dilation=d).to(device)
    layer = PadConv2d(c, c, 3, padding=d, dilation=d, padding_mode=mode).to(device)
    layer.load_state_dict(base.state_dict())
    layers: dict[str, nn.Module] = {"nn.Conv2d zeros": base, f"PadConv2d {mode}": layer}
    if mode != "circular" or d <= hw:  # PyTorch's circular refuses to wrap around more than once
        tconv = copy.deepcopy(base)
        tconv.padding_mode = mode
        layers[f"nn.Conv2d {mode}"] = tconv

    def fwd(conv: nn.Module) -> Step:
        def step() -> None:
            with torch.no_grad():
                conv(x)

        return step

    def both(conv: nn.Module) -> Step:
        params_ = [x, *conv.parameters()]

        def step() -> None:
            torch.autograd.grad(conv(x), params_, g)

        return step

    variants = {f"{name} fwd": fwd(conv) for name, conv in layers.items()}
    variants["nn.Conv2d zeros"] = both(base)
    variants[f"PadConv2d {mode}"] = both(layer)
    return variants


def dilated_cases(quick: bool) -> list[CaseSpec]:
    """:data:`DILATED`: ``PadConv2d`` within :data:`DILATED_TARGET` of zero padding; PyTorch's ``padding_mode`` next
    to it."""
    n, c, hw = (2, 8, 12) if quick else (16, 64, 28)
    cases = []
    for mode, d in DILATED:
        pk, zeros, torch_mode = f"PadConv2d {mode}", "nn.Conv2d zeros", f"nn.Conv2d {mode}"
        ratios = [
            RatioSpec(f"{pk} / {zeros} (fwd)", f"{pk} fwd", f"{zeros} fwd", time_target=DILATED_TARGET),
            RatioSpec(f"{torch_mode} / {zeros} (fwd)", f"{torch_mode} fwd", f"{zeros} fwd"),
            RatioSpec(f"{pk} / {zeros} (fwd+bwd)", pk, zeros, time_target=DILATED_TARGET),
        ]
        cases.append(
            CaseSpec(
                suite="conv",
                case=f"{mode} 3x3 dilation {d} N={n} {c}x{hw}²",
                builder="dilated",
                params={"n": n, "c": c, "hw": hw, "dilation": d, "mode": mode},
                ratios=tuple(ratios),
                memory=(zeros, pk),
                repeats=7,
                warmup=1,
            )
        )
    return cases


# --------------------------------------------------------------------------------------------------------- model
def torch_native_padding(model: nn.Module, mode: str) -> nn.Module:
    """A copy of ``model`` whose padded ``nn.Conv*d`` layers use PyTorch's own ``padding_mode=mode``."""
    out = copy.deepcopy(model)
    for m in out.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and not isinstance(m.padding, str) and any(m.padding):
            m.padding_mode = mode  # type: ignore[assignment]
    return out


def build_model(params: dict[str, Any], device: torch.device) -> dict[str, Step]:
    """Variants: ``zeros``, ``padkit <mode>`` (``padkit.convert``: convolutions and pooling), ``padkit <mode> (convs
    only)`` (``padkit.convert(include=nn.Conv2d)``: the same layers as PyTorch's option), ``torch <mode>``
    (``padding_mode=`` on every padded conv): one SGD training step."""
    from ...conversion import convert

    torch.manual_seed(0)
    arch, n, size, mode = params["arch"], params["n"], params["size"], params["mode"]
    base = torchvision_model(arch).to(device).train()
    x = randn((n, 3, size, size), device)
    y = torch.randint(0, 1000, (n,), generator=seeded(1)).to(device)

    def step_of(model: nn.Module) -> Step:
        opt = torch.optim.SGD(model.parameters(), lr=1e-4)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

        return step

    return {
        "zeros": step_of(base),
        f"padkit {mode}": step_of(convert(base, mode).to(device).train()),
        f"padkit {mode} (convs only)": step_of(convert(base, mode, include=nn.Conv2d).to(device).train()),
        f"torch {mode}": step_of(torch_native_padding(base, mode)),
    }


def model_cases(quick: bool) -> list[CaseSpec]:
    """Training steps: ``padkit.convert(model, "reflect")`` vs zero padding vs PyTorch's reflect, on ResNet-18 (with
    targets) and MobileNetV3-Large (depthwise-heavy; reported)."""
    n, size = (2, 64) if quick else (4, 224)
    small = 128 if quick else size  # PyTorch's reflect needs more than 2 rows at MobileNetV3's last 5x5 convs
    return [
        CaseSpec(
            suite="model",
            case=f"resnet18 train step N={n} {size}²",
            builder="model",
            params={"arch": "resnet18", "n": n, "size": size, "mode": "reflect"},
            ratios=(
                RatioSpec(
                    "padkit reflect / zeros",
                    "padkit reflect",
                    "zeros",
                    time_target=1.10,
                    memory_target=1.05,
                    kept_target=1.05,
                ),
                RatioSpec("torch reflect / zeros", "torch reflect", "zeros"),
                RatioSpec("padkit reflect / torch reflect", "padkit reflect", "torch reflect"),
                RatioSpec(
                    "padkit reflect (convs only) / torch reflect",
                    "padkit reflect (convs only)",
                    "torch reflect",
                    time_target=1.0,
                ),
            ),
            memory=("zeros", "padkit reflect", "padkit reflect (convs only)", "torch reflect"),
            repeats=5,
            warmup=1,
        ),
        CaseSpec(
            suite="model",
            case=f"mobilenet_v3_large train step N={n} {small}²",
            builder="model",
            params={"arch": "mobilenet_v3_large", "n": n, "size": small, "mode": "reflect"},
            ratios=(
                RatioSpec("padkit reflect / zeros", "padkit reflect", "zeros"),
                RatioSpec("torch reflect / zeros", "torch reflect", "zeros"),
            ),
            memory=("zeros", "padkit reflect", "torch reflect"),
            repeats=5,
            warmup=1,
        ),
    ]


# ---------------------------------------------------------------------------------------------------------- plan
def build_plan(params: dict[str, Any], device: torch.device) -> dict[str, Step]:
    """Variants for ``padkit plan MODEL --input-size SIZE`` on a torchvision model (random init).

    ``plan``: :func:`padkit.analysis.plan.plan` with its defaults (clean-size search on), on a model built beforehand;
    ``plan (no suggest)``: the same with ``suggest=False``; ``load_model``: building the model as the command does
    without ``--weights`` (:func:`padkit.models.load_model_meta`: on the meta device where the builder allows).
    Not included: the interpreter's start and the imports of torch, torchvision and padkit (seconds, paid once).
    """
    from ...analysis.plan import plan
    from ...models import load_model_meta

    spec = f"torchvision:{params['arch']}"
    model = load_model_meta(spec).eval()
    size = params["size"]

    def run_plan() -> None:
        plan(model, size)

    def run_plan_no_suggest() -> None:
        plan(model, size, suggest=False)

    def run_load() -> None:
        load_model_meta(spec)

    return {"plan": run_plan, "plan (no suggest)": run_plan_no_suggest, "load_model": run_load}


def plan_archs() -> tuple[str, ...]:
    """Every torchvision classification model ("any torchvision model at 224 in under 2 s")."""
    import torchvision

    return tuple(sorted(torchvision.models.list_models(module=torchvision.models)))


def plan_cases(quick: bool) -> list[CaseSpec]:
    """``padkit plan`` time on every torchvision classification model at 224: limit 2 s for ``plan()`` and for
    load + plan.

    One warm-up-free sample per variant (plus the calibration call): the times are seconds, far above timer noise.
    """
    archs, size = (("resnet18",), 64) if quick else (plan_archs(), 224)
    return [
        CaseSpec(
            suite="plan",
            case=f"plan {arch} {size}²",
            builder="plan",
            params={"arch": arch, "size": size},
            budgets=(("plan", 2.0), ("load_model + plan", 2.0)),
            repeats=1,
            warmup=0,
        )
        for arch in archs
    ]


# --------------------------------------------------------------------------------------------------------- audit
def audit_cases(quick: bool) -> list[CaseSpec]:
    """``padkit audit`` over a stream of batches vs plain inference of the same model on the same batches, with and
    without the bootstrap (``audit / audit (no bootstrap)``: 1 + the bootstrap's share of an audit's time)."""
    arch, n, size, batches = ("resnet18", 2, 64, 2) if quick else ("resnet18", 16, 224, 4)
    return [
        CaseSpec(
            suite="audit",
            case=f"audit {arch} {batches}x{n} images {size}²",
            builder="audit",
            params={"arch": arch, "n": n, "size": size, "batches": batches},
            ratios=(
                RatioSpec("audit / inference", "audit", "inference", time_target=1.25),
                RatioSpec("audit (no bootstrap) / inference", "audit (no bootstrap)", "inference", time_target=1.25),
                RatioSpec("audit (stats only) / inference", "audit (stats only)", "inference"),
                RatioSpec("audit / audit (no bootstrap)", "audit", "audit (no bootstrap)", time_target=1.10),
            ),
            memory=("audit", "inference"),
            repeats=2,
            warmup=0,
        )
    ]


BUILDERS: dict[str, Callable[[dict[str, Any], torch.device], dict[str, Step]]] = {
    "pad": build_pad,
    "conv": build_conv,
    "dilated": build_dilated,
    "model": build_model,
    "audit": build_audit_variants,
    "plan": build_plan,
}

_CASES: dict[str, Callable[[bool], list[CaseSpec]]] = {
    "pad": pad_cases,
    "conv": conv_cases,
    "model": model_cases,
    "audit": audit_cases,
    "plan": plan_cases,
}


def cases_for(suite: str, quick: bool) -> list[CaseSpec]:
    """The cases of one suite (``quick``: tiny shapes that run in seconds)."""
    return _CASES[suite](quick)
