"""padkit: padding for CNNs that is not 'nothing'.

Every padding mode as a one-line change (:func:`pad`, :mod:`padkit.nn`, :func:`convert`), and tools that show what
zero padding does to a model (:func:`plan`, :func:`audit`).
"""

from ._errors import PadkitError, PadkitTypeError
from .modes import canonical_mode
from .padding import numpy_pad, pad

__version__ = "0.1.0"

__all__ = [
    "PadkitError",
    "PadkitTypeError",
    "__version__",
    "canonical_mode",
    "numpy_pad",
    "pad",
]
