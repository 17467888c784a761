"""The audit's cost against plain inference, in steady state and with the bootstrap's share.

Usage::

    python bench/audit_overhead.py [--batch 16] [--size 224] [--short 4] [--long 12] [--repeats 3] [--json PATH]

ResNet-18 (random init), fixed random images, 1 torch thread, process CPU time (less sensitive to other load on a
shared machine than wall time). Per repeat, in one interleaved round: plain inference (``no_grad``) over ``short`` and
``long`` batches, and ``audit()`` with its defaults with and without the bootstrap (``bootstrap=0``) over the same
batches. Reported (medians over repeats):

- ``audit / inference`` over ``short`` batches (every fixed cost included: plan, calibration, probe, equivariance
  crops, replicates);
- steady state: the extra time of ``long - short`` batches, audit over inference (the fixed costs cancel);
- the bootstrap's share: ``audit / audit (bootstrap=0) - 1`` over ``short`` and ``long`` batches.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--short", type=int, default=4)
    ap.add_argument("--long", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    import torchvision

    import padkit
    from padkit.analysis.audit import audit

    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    n = args.batch
    images = torch.randn(args.long * n, 3, args.size, args.size).clamp_(-3, 3)

    def inference(k: int) -> None:
        with torch.no_grad():
            for start in range(0, k * n, n):
                model(images[start : start + n])

    def run_audit(k: int, bootstrap: int | None) -> None:
        kw = {} if bootstrap is None else {"bootstrap": bootstrap}
        audit(model, images[: k * n], batch_size=n, progress=False, **kw)

    variants = {
        "inference": inference,
        "audit": lambda k: run_audit(k, None),
        "audit (no bootstrap)": lambda k: run_audit(k, 0),
    }
    inference(1)
    run_audit(1, None)  # warm-up
    times: dict[tuple[str, int], list[float]] = {(v, k): [] for v in variants for k in (args.short, args.long)}
    for _ in range(args.repeats):
        for k in (args.short, args.long):
            for name, fn in variants.items():
                t0 = time.process_time()
                fn(k)
                times[(name, k)].append(time.process_time() - t0)
    med = {key: statistics.median(v) for key, v in times.items()}
    s, lg = args.short, args.long

    def steady(v: str) -> float:
        return (med[(v, lg)] - med[(v, s)]) / (med[("inference", lg)] - med[("inference", s)])

    out = {
        "padkit": padkit.__file__,
        "seconds": {f"{v} x{k}": round(t, 3) for (v, k), t in med.items()},
        f"audit / inference ({s} batches)": med[("audit", s)] / med[("inference", s)],
        f"audit (no bootstrap) / inference ({s} batches)": med[("audit (no bootstrap)", s)] / med[("inference", s)],
        "steady state: audit / inference": steady("audit"),
        "steady state: audit (no bootstrap) / inference": steady("audit (no bootstrap)"),
        f"bootstrap share ({s} batches)": med[("audit", s)] / med[("audit (no bootstrap)", s)] - 1,
        f"bootstrap share ({lg} batches)": med[("audit", lg)] / med[("audit (no bootstrap)", lg)] - 1,
    }
    for key, value in out.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
