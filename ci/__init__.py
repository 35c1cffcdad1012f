"""The Dagger module: thin functions that turn pipelines.toml into containers.

The logic lives in the pure core (``pipelines``); this package only builds
Dagger graphs from it and awaits their results.
"""
