"""Worker process for CPU peak memory: ``python -m padkit.lab.benchmarks._memworker`` reads jobs as JSON on stdin.

Input: ``{"threads": int, "jobs": [{"builder": str, "params": {...}, "variants": [str, ...]}, ...]}``.
Output (stdout, one JSON object): ``{"results": [{variant: bytes_or_null, ...}, ...], "errors": [str_or_null, ...]}``.
Each variant is called once untimed (warm-up: lazy allocations, grads), then once under :func:`peak_rss_call`.
"""

from __future__ import annotations

import gc
import json
import sys

from ._harness import peak_rss_call, pin_malloc

__all__ = ["main"]


def main() -> int:
    """Run the jobs read from stdin and print the results."""
    pinned = pin_malloc()  # before torch allocates anything large
    import torch

    from ._suites import BUILDERS

    spec = json.load(sys.stdin)
    torch.set_num_threads(int(spec["threads"]))
    device = torch.device("cpu")
    results: list[dict[str, object]] = []
    errors: list[object] = []
    for job in spec["jobs"]:
        out: dict[str, object] = {}
        try:
            variants = BUILDERS[job["builder"]](job["params"], device)
            for name in job["variants"]:
                variants[name]()
                out[name] = peak_rss_call(variants[name]) if pinned else None
            errors.append(None)
        except Exception as exc:  # reported to the parent, which shows it
            errors.append(f"{type(exc).__name__}: {exc}")
        results.append(out)
        variants = {}
        gc.collect()
    json.dump({"results": results, "errors": errors, "pinned": pinned}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
