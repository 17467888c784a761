"""The dilated cases of ``padkit bench conv`` alone (PyTorch issue 68512), interleaved, one thread.

    PYTHONPATH=src python bench/dilated.py [REPEATS]   # default 7

Variants per case (``padkit.lab.benchmarks``' ``build_dilated``: 3x3, padding = dilation, N=16, 64x28²): the
zero-padded ``nn.Conv2d``, ``PadConv2d <mode>`` and, where PyTorch takes the padding,
``nn.Conv2d(padding_mode=<mode>)``, forward only (``fwd``) and forward+backward; medians of interleaved repeats and
their ratio to the zero-padded conv.
The 1-minute load average is printed before and after (the machine may be shared).
"""

from __future__ import annotations

import os
import sys

import torch

from padkit.lab.benchmarks._harness import time_interleaved
from padkit.lab.benchmarks._suites import DILATED, build_dilated


def main(argv: list[str]) -> int:
    repeats = int(argv[0]) if argv else 7
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    print(f"load before {os.getloadavg()[0]:.1f}")
    for mode, d in DILATED:
        variants = build_dilated({"n": 16, "c": 64, "hw": 28, "dilation": d, "mode": mode}, cpu)
        res = time_interleaved(variants, repeats=repeats, warmup=1, min_sample_s=0.05, device=cpu)
        zeros, zeros_fwd = res["nn.Conv2d zeros"].median_s, res["nn.Conv2d zeros fwd"].median_s
        for name, r in res.items():
            base = zeros_fwd if name.endswith("fwd") else zeros
            print(
                f"{mode} d={d} {name:28s} {r.median_s * 1e3:9.2f} ms  q1-q3 {r.q1_s * 1e3:.2f}-{r.q3_s * 1e3:.2f}"
                f"  {r.median_s / base:7.2f}x zeros"
            )
    print(f"load after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
