"""Command-line tools on top of the pipelines library, run as ``python -m pipelines_cli.<tool>``.

Each tool is the edge where side effects live (files, processes, the
environment, the network): the library under ``pipelines`` stays pure, and
these modules import it, never the Dagger module.
"""
