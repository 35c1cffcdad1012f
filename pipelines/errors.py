"""Errors a user can act on.

Every error names where the problem is (file, key or argument), what was
expected, and how to fix it, in the manner of pre-commit's
``InvalidConfigError`` and cibuildwheel's ``ConfigurationError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PipelinesError(Exception):
    """Base class for every error this project raises on purpose."""


class ConfigError(PipelinesError):
    """A ``pipelines.toml`` (or an argument) is missing, malformed or wrong."""

    def __init__(self, *, file: str, key: str | None, problem: str, fix: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        self.fix = fix
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}\n  fix: {fix}")


class InputError(PipelinesError):
    """A function argument given on the command line is invalid."""

    def __init__(self, *, argument: str, problem: str, fix: str) -> None:
        self.argument = argument
        self.problem = problem
        self.fix = fix
        super().__init__(f"argument --{argument}: {problem}\n  fix: {fix}")


class ValidationFailed(PipelinesError):
    """A lint, test or scan step ran and found problems; the message says which."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean "x"?)' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""
