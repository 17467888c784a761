"""padkit: padding for CNNs that is not 'nothing'.

Every padding mode as a one-line change (:func:`pad`, :mod:`padkit.nn`, :func:`convert`), and tools that show what
zero padding does to a model (:func:`plan`, :func:`audit`).
"""

from ._errors import PadkitError, PadkitOverflowError, PadkitTypeError, PadkitValueError
from ._pad import numpy_pad, pad
from .analysis.audit import AuditReport, LayerResult, ModeResult, RunningMoments, Summary, audit
from .analysis.plan import LayerPlan, Plan, plan
from .conversion import ConversionReport, LayerChange, SkippedLayer, convert, convert_report
from .models import load_model
from .modes import canonical_mode
from .scoped import PaddingScope, padding
from .seams import seam_ratio
from .tiling import tiled

__version__ = "0.1.0"

__all__ = [
    "AuditReport",
    "ConversionReport",
    "LayerChange",
    "LayerPlan",
    "LayerResult",
    "ModeResult",
    "PaddingScope",
    "PadkitError",
    "PadkitOverflowError",
    "PadkitTypeError",
    "PadkitValueError",
    "Plan",
    "RunningMoments",
    "SkippedLayer",
    "Summary",
    "__version__",
    "audit",
    "canonical_mode",
    "convert",
    "convert_report",
    "load_model",
    "numpy_pad",
    "pad",
    "padding",
    "plan",
    "seam_ratio",
    "tiled",
]
