"""What every padkit JSON report shares: the format number and the conversion to strict JSON.

Every report (plan, audit, convert, bench, experiment, demo) is a JSON object whose ``"format"`` is
:data:`REPORT_FORMAT`; a report that can be confused with another also has a ``"kind"``. Non-finite numbers become
``null`` (strict JSON has no NaN or Infinity), tuples become lists, NumPy scalars and arrays become Python values.

Example:
    >>> to_json({"format": REPORT_FORMAT, "ratio": float("nan"), "sizes": (1, 2)})
    '{"format": 1, "ratio": null, "sizes": [1, 2]}'
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

import numpy as np

__all__ = ["REPORT_FORMAT", "jsonable", "to_json"]

#: The ``"format"`` number of every padkit JSON report.
REPORT_FORMAT = 1


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: mappings with str keys, lists, finite numbers (else ``None``), str, bool."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of :func:`jsonable` ``(value)``; keyword arguments go to :func:`json.dumps`."""
    return json.dumps(jsonable(value), allow_nan=False, **kwargs)
