"""Plain-text building blocks shared by every terminal renderer: numbers and aligned tables.

Example:
    >>> print("\\n".join(text_table(["mode", "shift"], [["zeros", format_number(0.2561)], ["reflect", "0.04"]])))
    mode     shift
    -------  -----
    zeros     0.26
    reflect   0.04
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["format_number", "text_table"]


def format_number(value: Any, digits: int = 2) -> str:
    """A number for a table: ints as they are, ``–`` for missing or NaN, ``inf``/``-inf``, 3 significant digits
    from 1000 up, else ``digits`` decimals."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if abs(value) >= 1000:
        return f"{value:.3g}"
    return f"{value:.{digits}f}"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, align_left: int = 1) -> list[str]:
    """Lines of an aligned table: a header, a rule, one line per row.

    The first ``align_left`` columns are left-aligned (names), the rest right-aligned (numbers); trailing blanks are
    stripped.
    """
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < align_left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return [line(headers).rstrip(), "  ".join("-" * w for w in widths), *(line(r).rstrip() for r in cells)]
