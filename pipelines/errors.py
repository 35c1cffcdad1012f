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

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


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

    def __init__(
        self,
        *,
        file: str,
        key: str | None,
        problem: str,
        fix: str,
        goes_on: bool = False,
        substitute: object = None,
        typo: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        # Whether checking may go on past this problem to report the next ones
        # of the same table: the check looked at this value alone. It goes on
        # with ``substitute`` in the value's place (the example of the fix), or,
        # when that is None, without the key.
        self.goes_on = goes_on
        self.substitute = substitute
        # A key of the same table that is a typo of ``key``: read as ``key``
        # when checking goes on, and not reported again as an unknown key.
        self.typo = typo
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


class Problems(PipelinesError):
    """Several things are wrong at once; each keeps its own where, problem and fix.

    Raised where checking on after the first mistake is safe (the tables of
    a ``pipelines.toml``, the needs of a pipeline), so one run lists them all.
    """

    def __init__(self, problems: Sequence[PipelinesError]) -> None:
        self.problems = tuple(problems)
        count = f"{len(self.problems)} problems" if len(self.problems) > 1 else "a problem"
        listing = "\n".join(f"- {str(p).replace(chr(10), chr(10) + '  ')}" for p in self.problems)
        super().__init__(f"{count} to fix before anything runs:\n{listing}")


def raise_all(found: Sequence[PipelinesError]) -> None:
    """Raise nothing, the one problem as itself, or several as :class:`Problems`."""
    if len(found) == 1:
        raise found[0]
    if found:
        raise Problems(found)


class Collector:
    """Runs independent checks, keeping every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[PipelinesError] = []

    def attempt(self, check: Callable[[], T]) -> T | None:
        """``check()``, or None with its problems kept."""
        try:
            return check()
        except Problems as several:
            self.found.extend(several.problems)
        except ConfigError as one:
            self.found.append(one)
        return None

    def raise_all(self) -> None:
        raise_all(self.found)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean "x"?)' suffix, or '' when nothing is close."""
    # Imported here: every Dagger call imports this module, few need a suggestion.
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""
