"""Portable Pipelines: the pure core.

Everything here is plain Python: config parsing, tag schemes, report parsing,
gating, the step runner, API clients and the cost saver. Nothing in this
package imports ``dagger``; the Dagger module in ``ci/`` turns this logic into
containers.
"""

__version__ = "0.1.0"
