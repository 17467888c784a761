"""Timing and peak-memory measurement: interleaved, warmed up, medians over repeats.

Timing: every variant of a case runs once per repeat, in an order rotated by one each repeat (ABC, BCA, CAB, ...),
after ``warmup`` untimed calls of each. A sample times ``inner`` back-to-back calls (``inner`` chosen so a sample
lasts at least ``min_sample_s``); on CUDA the device is synchronised before and after each sample.

Peak memory:
- CUDA: ``torch.cuda.reset_peak_memory_stats`` then one call; ``max_memory_allocated`` minus ``memory_allocated``
  before the call.
- CPU: one call in a fresh worker process (:mod:`padkit.lab.benchmarks._memworker`) with glibc's mmap threshold
  pinned at 64 KiB (``mallopt``) so freed tensors go back to the OS; the kernel's resident-set high-water mark is
  reset through ``/proc/self/clear_refs`` before the call and read from ``VmHWM`` after it, minus ``VmRSS`` before
  it. Linux only; elsewhere peak memory is reported as not measured.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import sys
import time
from typing import Callable, Mapping

import torch

from ..machine import cpu_model
from ._results import Machine, VariantResult

__all__ = [
    "CPU_MEMORY_METHOD",
    "CUDA_MEMORY_METHOD",
    "current_load",
    "machine_info",
    "peak_memory_cuda",
    "peak_rss_call",
    "pin_malloc",
    "quartiles",
    "saved_bytes",
    "time_interleaved",
]

CPU_MEMORY_METHOD = (
    "peak RSS above the pre-call RSS, one call in a fresh worker process"
    " (VmHWM after clear_refs; mmap threshold 64 KiB)"
)
CUDA_MEMORY_METHOD = "torch.cuda.max_memory_allocated above memory_allocated before the call"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile of ``values`` (inclusive method; one value gives it thrice)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def time_interleaved(
    variants: Mapping[str, Callable[[], object]],
    *,
    repeats: int,
    warmup: int,
    min_sample_s: float,
    device: torch.device,
) -> dict[str, VariantResult]:
    """Time every variant interleaved with the others; return medians per call.

    Args:
        variants: name -> a callable doing one full step (e.g. forward and backward).
        repeats: timed samples per variant.
        warmup: untimed calls per variant before calibration.
        min_sample_s: a timed sample repeats the call (the same number of times for every variant) until the fastest
            variant's sample lasts about this long, unless the slowest variant's would then exceed 10x as long.
        device: the device the calls run on (CUDA is synchronised around samples).

    Returns:
        name -> :class:`VariantResult` (``peak_bytes`` left ``None``).
    """
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    _sync(device)
    # calibrate: one timed call per variant (three, median, when a call is shorter than a sample), then one call
    # count for every variant, so that variants are compared over equal loop lengths (different counts picked from
    # single noisy calls skewed sub-millisecond ratios by up to 1.7x)
    per_call: dict[str, float] = {}
    for name in names:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            variants[name]()
            _sync(device)
            times.append(max(time.perf_counter() - t0, 1e-7))
            if times[0] >= min_sample_s:
                break
        per_call[name] = statistics.median(times)
    count = math.ceil(min_sample_s / min(per_call.values()))
    # but keep the slowest variant's sample within ~10x min_sample_s (a plain copy next to a backward pass)
    count = max(1, min(10_000, count, math.floor(10 * min_sample_s / max(per_call.values()))))
    inner = {name: count for name in names}
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn, n = variants[name], inner[name]
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            _sync(device)
            samples[name].append((time.perf_counter() - t0) / n)
    out = {}
    for name in names:
        q1, med, q3 = quartiles(samples[name])
        out[name] = VariantResult(
            name=name, median_s=med, q1_s=q1, q3_s=q3, samples_s=tuple(samples[name]), inner=inner[name]
        )
    return out


def peak_memory_cuda(fn: Callable[[], object], device: torch.device) -> int:
    """Bytes one call of ``fn`` allocates on the CUDA ``device`` at its peak, above what was allocated before."""
    gc.collect()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return int(torch.cuda.max_memory_allocated(device) - before)


def saved_bytes(fn: Callable[[], object]) -> int:
    """Bytes autograd keeps for backward during one call of ``fn``: the distinct storages of every tensor saved for
    backward (``torch.autograd.graph.saved_tensors_hooks``, storages counted once by their data pointer).

    Deterministic, unlike a peak: it counts what the graph holds, not what the allocator did. Parameters and inputs
    that are saved count too (equally for every variant of a case); tensors saved while a backward runs do not.
    """
    seen: dict[int, int] = {}
    task = getattr(torch._C, "_current_graph_task_id", lambda: -1)

    def pack(t: torch.Tensor) -> torch.Tensor:
        if task() != -1:  # saved while a backward runs (recomputation there): freed by that backward
            return t
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"{key} not found in /proc/self/status")


def peak_rss_call(fn: Callable[[], object]) -> int | None:
    """Bytes of resident memory one call of ``fn`` adds at its peak (Linux; ``None`` where it cannot be read).

    Meant for a fresh worker process with the mmap threshold pinned (see module docstring); in a long-lived process
    memory the allocator kept from earlier calls hides part of the peak.
    """
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the VmHWM high-water mark to the current RSS
        before = _status_kib("VmRSS")
        fn()
        peak = _status_kib("VmHWM")
    except OSError:
        return None
    return max(0, peak - before) * 1024


def pin_malloc() -> bool:
    """Pin glibc's mmap threshold at 64 KiB so freed tensors are returned to the OS at once (True when it worked)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 64 * 1024) == 1
        ok = libc.mallopt(m_trim_threshold, 128 * 1024) == 1 and ok
        return ok
    except OSError:
        return False


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def machine_info(device: torch.device, *, load_before: float | None = None) -> Machine:
    """Describe the machine the benchmark ran on (call at the end of the run; pass the load read at its start)."""
    cpu = cpu_model()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 0,
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        python=platform.python_version(),
        platform=platform.platform(),
        device=device.type,
        device_name=name,
        load_before=load_before,
        load_after=_load(),
        memory_method=CUDA_MEMORY_METHOD if device.type == "cuda" else CPU_MEMORY_METHOD,
    )


def current_load() -> float | None:
    """The 1-minute load average, or ``None`` where the OS has none."""
    return _load()
