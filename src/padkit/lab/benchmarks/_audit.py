"""Audit benchmark variants: ``padkit.analysis.audit.audit`` vs plain inference, same model, same batches."""

from __future__ import annotations

from typing import Any

import torch

from ._inputs import Step, randn, torchvision_model

__all__ = ["build_audit_variants"]


def build_audit_variants(params: dict[str, Any], device: torch.device) -> dict[str, Step]:
    """Variants ``audit`` (defaults: probe, equivariance and the bootstrap on), ``audit (no bootstrap)``
    (``bootstrap=0``), ``audit (stats only)`` (probe, equivariance and bootstrap off), ``inference``.

    ``params``: ``arch`` (torchvision name), ``n`` (batch size), ``size`` (image side), ``batches``. The images are a
    fixed random ``(batches * n, 3, size, size)`` CPU tensor; every variant moves each batch to ``device``.
    """
    from ...analysis.audit import audit

    torch.manual_seed(0)
    model = torchvision_model(params["arch"]).to(device).eval()
    n, size, batches = params["n"], params["size"], params["batches"]
    images = randn((batches * n, 3, size, size), torch.device("cpu")).clamp_(-3, 3)

    def inference() -> None:
        with torch.no_grad():
            for start in range(0, images.shape[0], n):
                model(images[start : start + n].to(device))

    def run_audit(**kwargs: Any) -> Step:
        def step() -> None:
            audit(model, images, batch_size=n, progress=False, device=device, **kwargs)

        return step

    return {
        "audit": run_audit(),
        "audit (no bootstrap)": run_audit(bootstrap=0),
        "audit (stats only)": run_audit(probe_images=0, equivariance_images=0, bootstrap=0),
        "inference": inference,
    }
