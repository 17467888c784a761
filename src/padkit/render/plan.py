"""Renderers for :class:`padkit.analysis.plan.Plan`: terminal table, JSON file, PNG of the maps."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any

import numpy as np

from ..analysis.plan import LayerPlan, Plan
from .text import text_table

__all__ = ["plan_table", "write_plan_json", "write_plan_png"]


def _fmt(values: tuple[Any, ...]) -> str:
    vals = ["-" if v is None else str(v) for v in values]
    return vals[0] if len(set(vals)) == 1 else "x".join(vals)


def _pad(layer: LayerPlan) -> str:
    if not layer.pad_before:
        return "?"
    return f"{_fmt(layer.pad_before)}/{_fmt(layer.pad_after)}"


def _scale(scale: tuple[Fraction, ...]) -> str:
    return _fmt(tuple(str(x) for x in scale)) if scale else "?"


def _reach(reach: tuple[float, ...] | None, global_at: str | None) -> str:
    if global_at is not None:
        return "global"
    if reach is None:
        return "?"
    return _fmt(tuple(f"{r:g}" for r in reach))


def _output_line(plan: Plan) -> str:
    """The output's scale, receptive field and reach, or the layer that makes it global."""
    if not plan.scale and plan.receptive_field is None:
        return "output: scale and reach unknown (see notes)"
    if plan.ended_at is not None:
        parts = [f"output: not a map (spatial structure ends at {plan.ended_at}); last map scale {_scale(plan.scale)}"]
    else:
        parts = [f"output: scale {_scale(plan.scale)}"]
    if plan.receptive_field is not None:
        rf = "x".join(map(str, plan.receptive_field))
        parts.append(f"receptive field {rf} px (reach {_reach(plan.output_reach, None)} px each side)")
    else:
        parts.append("receptive field unknown")
    if plan.global_at is not None:
        parts.append(f"global from {plan.global_at}")
    return ", ".join(parts)


def plan_table(plan: Plan, *, all_layers: bool = False) -> str:
    """Readable table: layers that pad, leave samples unread or are unknown (every layer with ``all_layers``), and a
    summary with the verdict, the nearest clean sizes, and the output's scale and reach."""
    rows = [x for x in plan.layers if all_layers or x.interesting]
    head = ("layer", "kind", "in", "out", "k/s/d", "pad b/a", "unread", "border", "scale", "reach", "")
    table = []
    for x in rows:
        frac = plan.border_fraction(x.name)
        flags = []
        if x.uneven:
            flags.append("UNEVEN")
        if any(x.unread):
            flags.append("UNREAD")
        if x.note:
            flags.append(x.note)
        table.append(
            (
                x.name,
                x.kind,
                _fmt(x.in_size),
                _fmt(x.out_size),
                "-" if x.kernel and x.kernel[0] is None else f"{_fmt(x.kernel)}/{_fmt(x.stride)}/{_fmt(x.dilation)}",
                _pad(x),
                _fmt(x.unread) if x.unread else "?",
                "?" if frac is None else f"{100 * frac:.0f}%",
                _scale(x.scale),
                _reach(x.reach, x.global_at),
                " ".join(flags),
            )
        )
    lines = [f"padkit plan: {plan.model} at {'x'.join(map(str, plan.input_size))}", ""]
    lines += text_table(head, table, align_left=len(head))
    lines.append("")
    n_hidden = len(plan.layers) - len(rows)
    if n_hidden:
        lines.append(f"({n_hidden} more layers pad evenly or not at all; --all to list them)")
    lines.append(
        f"{len(plan.layers)} spatial layers: {len(plan.uneven_layers)} uneven, {len(plan.unread_layers)} leave input "
        f"unread, {len(plan.unknown_layers)} unknown. border = share of output positions whose receptive field reaches "
        "padding; scale = sampling rate relative to the input; reach = input pixels an output position sees on each "
        "side."
    )
    verdict = "CLEAN" if plan.clean else "NOT CLEAN"
    sugg = " or ".join("x".join(map(str, s)) for s in plan.suggested_sizes)
    lines.append(
        f"{verdict} at {'x'.join(map(str, plan.input_size))}" + (f"; nearest clean sizes: {sugg}" if sugg else "")
    )
    if plan.foveation is not None:
        f = plan.foveation
        lines.append(
            f"foveation: min/max window paths per input pixel = {f.min() / f.max():.3g} (corner {_corner(f):.3g})"
        )
    else:
        lines.append("foveation: unknown (see notes)")
    lines.append(_output_line(plan))
    for note in plan.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _corner(f: np.ndarray) -> float:
    return float(f[(0,) * f.ndim] / f.max())


def write_plan_json(plan: Plan, path: str) -> None:
    """Write :meth:`Plan.to_json` (``"format": 1``) to ``path`` (``-`` prints it)."""
    text = plan.to_json(indent=2)
    if path == "-":
        print(text)
        return
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")


def _reach_layers(plan: Plan, limit: int = 4) -> list[LayerPlan]:
    """The last layer of each output resolution whose reach is known (at most ``limit``, deepest first)."""
    by_size: dict[tuple[int, ...], LayerPlan] = {}
    for x in plan.layers:
        if x.reach_known and x.kind != "pad" and min(x.out_size or (0,)) > 1:
            by_size[x.out_size] = x
    return list(by_size.values())[-limit:]


def write_plan_png(plan: Plan, path: str, *, title: str | None = None) -> None:
    """PNG with the foveation map (log scale, the central output's receptive field outlined) and the padding-reach
    maps of a few layers (2-D inputs; 1-D shown as a strip, 3-D as the middle slice)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = _reach_layers(plan)
    n = 1 + len(layers)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 4.2), squeeze=False)
    ax = axes[0][0]
    if plan.foveation is not None:
        f = _as_2d(plan.foveation)
        im = ax.imshow(np.log10(np.maximum(f, 1)) - np.log10(max(f.max(), 1)), cmap="magma")
        fig.colorbar(im, ax=ax, fraction=0.046, label="log10(paths / max)")
        ax.set_title("foveation (window paths per pixel)")
        _draw_field(ax, plan)
    else:
        ax.text(0.5, 0.5, "foveation unknown", ha="center", va="center")
        ax.set_title("foveation")
    for ax, x in zip(axes[0][1:], layers):
        band = _as_2d(plan.border_band(x.name).numpy())
        ax.imshow(band, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(
            f"{x.name} {'x'.join(map(str, x.out_size))}\nborder: {100 * band.mean():.0f}% touch padding", fontsize=9
        )
    for row in axes:
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title or f"{plan.model} at {'x'.join(map(str, plan.input_size))}")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_field(ax: Any, plan: Plan) -> None:
    """Outline the receptive field of the central output position (2-D maps; 3-D: the middle slice's rows and
    columns)."""
    span = plan.output_field()
    if span is None or len(span) == 1:
        return
    (y0, y1), (x0, x1) = span[-2], span[-1]
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, ec="cyan", lw=1.5))
    reach = plan.output_reach
    label = "x".join(f"{r:g}" for r in reach) if reach else "?"
    ax.set_xlabel(f"cyan: central output's receptive field (reach {label} px)", fontsize=8)


def _as_2d(a: np.ndarray) -> np.ndarray:
    if a.ndim == 1:
        return np.repeat(a[None, :], max(1, len(a) // 8), axis=0)
    if a.ndim == 3:
        return a[a.shape[0] // 2]
    return a
