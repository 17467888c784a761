"""padkit: padding for CNNs that is not 'nothing'."""

__version__ = "0.1.0"
