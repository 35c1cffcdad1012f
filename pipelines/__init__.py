"""Portable Pipelines: the pure core.

Everything here is plain Python: config parsing, tag schemes, report parsing,
gating, the step runner and API clients. Nothing in this package imports
``dagger`` or ``subprocess``; the Dagger module in ``ci/`` turns this logic
into containers, the command-line tools in ``pipelines_cli/`` run processes
and read files, and the cost-saver Lambda (``cost_saver/``) ships on its own
with the few modules of this package it imports.
"""

__version__ = "0.1.0"
