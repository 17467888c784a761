"""Determinism checks and the CUDA benchmark run, in one script for a GPU machine.

    python bench/gpu_checks.py --device cuda --json OUT/bench-cuda.json  # checks, then the `bench all` run
    python bench/gpu_checks.py --device cpu --no-bench                   # the checks alone (any machine)

Checks, under ``torch.use_deterministic_algorithms(True)``:
(a) every ``padkit.pad`` mode's backward, ``PadConv2d``'s backward (reflect, symmetric, replicate, circular with
    ``algorithm="pad"`` (the default: the padded copy is made again in the backward and folded back in place) and
    ``"border"``; partial; replicate and circular at dilations beyond the input, where only the read rows are gathered
    and the adjoint is ``index_add_``) and ``PadMaxPool2d(reflect)``'s backward
    run without raising and give bitwise-identical gradients on two runs;
(b) a ResNet-18 training step after ``padkit.convert(model, "reflect")`` gives bitwise-identical parameter
    gradients on two runs (cuDNN/cuBLAS deterministic: ``CUBLAS_WORKSPACE_CONFIG`` is set before torch loads);
(c) ``F.pad(mode="reflect")`` backward raises on CUDA (PyTorch's reflection-pad backward uses atomics); with
    determinism off its gradient is computed twice and compared, to show whether the atomics change the bits.
Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import os

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before torch creates a CUDA context

import argparse
import functools
import json
import sys
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F


def _grads_twice(
    fn: Callable[[], torch.Tensor], inputs: Sequence[torch.Tensor], g: torch.Tensor | None
) -> tuple[bool, str]:
    """Backward of ``fn()`` twice (with output gradient ``g``; ``None`` for a scalar); bitwise-equal gradients?"""
    try:
        first = torch.autograd.grad(fn(), inputs, g)
        second = torch.autograd.grad(fn(), inputs, g)
    except RuntimeError as exc:
        return False, f"raised: {str(exc).splitlines()[0]}"
    same = all(torch.equal(a, b) for a, b in zip(first, second))
    return same, "bitwise identical" if same else "gradients differ between runs"


def _resnet_step_check(device: torch.device) -> dict[str, Any]:
    import torchvision

    from padkit.conversion import convert

    torch.manual_seed(0)
    model = convert(torchvision.models.resnet18(weights=None), "reflect").to(device).train()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 224, 224, generator=gen).to(device)
    y = torch.randint(0, 1000, (8,), generator=gen).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def loss() -> torch.Tensor:
        model.load_state_dict(state)  # BatchNorm running stats change each step; start both runs equal
        return F.cross_entropy(model(x), y)

    ok, note = _grads_twice(loss, params, None)
    return {"check": "ResNet-18 convert(reflect) training-step backward", "ok": ok, "note": note}


def determinism_checks(device: torch.device) -> list[dict[str, Any]]:
    """Run checks (a) and (b); return one row per check."""
    from padkit import pad
    from padkit.modes import PAD_MODES
    from padkit.nn import PadConv2d

    gen = torch.Generator().manual_seed(0)
    rows: list[dict[str, Any]] = []
    x = torch.randn(8, 16, 67, 71, generator=gen).to(device).requires_grad_(True)
    widths = (3, 2, 2, 3)
    out_shape = (8, 16, 67 + 5, 71 + 5)
    g = torch.randn(out_shape, generator=gen).to(device)
    torch.use_deterministic_algorithms(True)
    try:
        for mode in PAD_MODES:
            ok, note = _grads_twice(functools.partial(pad, x, widths, mode), [x], g)
            rows.append({"check": f"padkit.pad {mode} backward", "ok": ok, "note": note})
        xc = torch.randn(8, 32, 56, 56, generator=gen).to(device).requires_grad_(True)
        gc_ = torch.randn(8, 32, 56, 56, generator=gen).to(device)
        for mode in ("reflect", "symmetric", "replicate", "circular", "partial"):
            for algorithm in ("pad", "border") if mode != "partial" else ("auto",):
                conv = PadConv2d(32, 32, 3, padding=1, padding_mode=mode, algorithm=algorithm).to(device)
                inputs = [t for t in (xc, conv.weight, conv.bias) if t is not None]
                ok, note = _grads_twice(functools.partial(conv, xc), inputs, gc_)
                rows.append({"check": f"PadConv2d {mode} (algorithm={algorithm}) backward", "ok": ok, "note": note})
        xd = torch.randn(4, 16, 28, 28, generator=gen).to(device).requires_grad_(True)
        for mode, d in (("replicate", 256), ("circular", 32)):  # the gather of the rows a large dilation reads
            conv = PadConv2d(16, 16, 3, padding=d, dilation=d, padding_mode=mode).to(device)
            ok, note = _grads_twice(lambda conv=conv: conv(xd).square().sum(), [xd, conv.weight, conv.bias], None)
            rows.append({"check": f"PadConv2d {mode} dilation {d} backward", "ok": ok, "note": note})
        from padkit.nn import PadMaxPool2d

        pool = PadMaxPool2d(3, 2, 1, padding_mode="reflect")
        ok, note = _grads_twice(lambda: pool(xc).square().sum(), [xc], None)
        rows.append({"check": "PadMaxPool2d reflect backward", "ok": ok, "note": note})
        rows.append(_resnet_step_check(device))
        raised, msg = False, ""
        try:
            torch.autograd.grad(F.pad(x, widths, mode="reflect"), x, g)
        except RuntimeError as exc:
            raised, msg = True, str(exc).splitlines()[0]
        expect = device.type == "cuda"
        rows.append(
            {
                "check": "F.pad reflect backward raises under determinism (expected on CUDA only)",
                "ok": raised == expect,
                "note": f"raised: {msg}" if raised else "did not raise",
            }
        )
    finally:
        torch.use_deterministic_algorithms(False)
    _, note = _grads_twice(lambda: F.pad(x, widths, mode="reflect"), [x], g)
    rows.append({"check": "F.pad reflect backward, determinism off (information)", "ok": None, "note": note})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the checks (and the benchmark unless ``--no-bench``); print them; exit 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", help="write checks and benchmark report as JSON here")
    parser.add_argument("--no-bench", action="store_true", help="run the determinism checks only")
    parser.add_argument("--quick", action="store_true", help="quick benchmark (smoke run)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            f"gpu_checks: error: --device={args.device!r} but CUDA is not available here; allowed: cpu", file=sys.stderr
        )
        return 2
    rows = determinism_checks(device)
    for row in rows:
        verdict = {True: "PASS", False: "FAIL", None: "info"}[row["ok"]]
        print(f"{verdict:4}  {row['check']}: {row['note']}")
    out: dict[str, Any] = {"device": str(device), "checks": rows}
    if not args.no_bench:
        from padkit.lab.benchmarks import run_benchmarks
        from padkit.render.bench import render_table

        report = run_benchmarks(["all"], device=device, quick=args.quick, log=lambda s: print(s, file=sys.stderr))
        print(render_table(report))
        out["bench"] = report.to_dict()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2, default=str)
    return 0 if all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
