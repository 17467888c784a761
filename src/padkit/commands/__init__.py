"""One module per CLI subcommand.

Each defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
"""
