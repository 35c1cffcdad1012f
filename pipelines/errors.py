"""Errors a user can act on: where the problem is, what it is, and the fix.

Every error this project raises on purpose is a :class:`PipelinesError`
with three parts, formatted here and nowhere else (in the manner of
pre-commit's ``InvalidConfigError`` and cibuildwheel's
``ConfigurationError``)::

    pipelines.toml: publish.registry: 'x' is not an ECR registry host ...
      fix: write it as `registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"`

``where`` names the file and key, the argument, or the remote thing
(``GitHub repository acme/app``); ``fix`` says what to do next. Internal
invariants (a bug of ours, not the user's) stay ``ValueError`` or
``AssertionError``: they are not worded for users.
"""

from __future__ import annotations

from collections.abc import Iterable


def format_error(where: str | None, problem: str, fix: str | None) -> str:
    """The one text layout of every user-facing error."""
    head = f"{where}: {problem}" if where else problem
    return f"{head}\n  fix: {fix}" if fix else head


class PipelinesError(Exception):
    """Base class for every error this project raises on purpose."""

    def __init__(self, problem: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(format_error(where, problem, fix))


class ConfigError(PipelinesError):
    """A configuration file (``pipelines.toml``, a manifest) is missing, malformed or wrong."""

    # Always says how to fix it.
    fix: str

    def __init__(self, *, file: str, key: str | None, problem: str, fix: str) -> None:
        self.file = file
        self.key = key
        super().__init__(problem, where=f"{file}: {key}" if key else file, fix=fix)


class InputError(PipelinesError):
    """A function argument given on the command line is invalid."""

    # Always says how to fix it.
    fix: str

    def __init__(self, *, argument: str, problem: str, fix: str) -> None:
        self.argument = argument
        super().__init__(problem, where=f"argument --{argument}", fix=fix)


class ChecksFailed(PipelinesError):
    """Lint, tests, a scan gate or a pipeline ran and did not pass; the summary says what."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean "x"?)' suffix, or '' when nothing is close."""
    # Imported here: every Dagger call imports this module, few need a suggestion.
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""
