"""How a deploy check reports: a list of problems, each in the layout of every error.

A check returns one entry per problem (empty when all is well): where it is
and what is wrong on the first line, then the fix on its own line, formatted
by :func:`pipelines.errors.format_error` like every other message of the
project. Callers put where they looked in front (``dev: Deployment/app: ...``).
"""

from __future__ import annotations

from collections.abc import Iterable

from pipelines.errors import format_error


def problem(text: str, *, fix: str | None = None) -> str:
    """One problem: ``text`` (where, then what is wrong) and, when there is one, its fix."""
    return format_error(None, text, fix)


def within(where: str, problems: Iterable[str]) -> list[str]:
    """``problems`` found in ``where``, with it in front of each."""
    return [f"{where}: {found}" for found in problems]
