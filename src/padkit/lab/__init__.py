"""The lab: padkit's experiments, demo and benchmarks.

They import the library (``padkit.pad``, ``padkit.nn``, ``padkit.audit``, ...) like any user's code would; the library
never imports them.
"""
