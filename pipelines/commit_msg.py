"""The ticket-id rule for commits, shared by the git hook and the Dagger lint step.

A commit is accepted when its subject (first line) carries a ticket id, or
when the branch it is made on does (``feature/ABC-123-short-name``). Commits
that git or a forge writes for us pass as they are: merges (``Merge ...``),
reverts (``Revert "..."``) and the ``fixup!``/``squash!``/``amend!`` commits
that ``git rebase --autosquash`` folds away.

The pattern is a Python regular expression, searched as a whole word (no
letter or digit may touch it on either side). Where it comes from, first
match wins:

1. the ``TICKET_PATTERN`` environment variable;
2. ``ticket_pattern`` under ``[tool.portable-pipelines]`` in the
   repository's ``pyproject.toml``;
3. :data:`DEFAULT_TICKET_PATTERN` (``ABC-123``).

The rule is pure: callers hand in the message, the branch and the settings.
The ``commit-msg`` git hook (``python -m pipelines_cli.commit_msg <msg-file>``)
reads the files and asks git for the branch; the Dagger ``lint`` step applies
the same rule to the commit it checks.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.errors import ConfigError

DEFAULT_TICKET_PATTERN = r"[A-Z][A-Z0-9]+-[0-9]+"
PATTERN_ENV = "TICKET_PATTERN"
PYPROJECT_TABLE = "tool.portable-pipelines"
PYPROJECT_KEY = "ticket_pattern"

# Subjects git and the forges write themselves; a ticket id cannot be
# expected of them, and the commits they refer to were checked already.
_GENERATED_SUBJECTS = re.compile(r'^(Merge |Revert "|fixup! |squash! |amend! )')
# `git commit --verbose` appends the diff below this line; git drops it.
_SCISSORS = re.compile(r"# -+ >8 -+")
# Git's branch name when nothing is checked out (CI checkouts, rebases).
_DETACHED = "HEAD"


@dataclass(frozen=True, kw_only=True)
class TicketPattern:
    """The pattern as configured (for messages) and as searched (whole words)."""

    text: str
    regex: re.Pattern[str]

    def search(self, value: str) -> str | None:
        found = self.regex.search(value)
        return found.group(0) if found else None


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """Whether a commit message is accepted, and why (a message for a human)."""

    accepted: bool
    reason: str


def subject_of(message: str) -> str:
    """The first line git keeps: comments and the verbose diff are dropped."""
    for line in message.splitlines():
        if _SCISSORS.fullmatch(line):
            break
        if line.startswith("#") or not line.strip():
            continue
        return line.strip()
    return ""


def compile_pattern(pattern: str, *, source: str, key: str | None) -> TicketPattern:
    """The ticket pattern as a whole-word regex; a ConfigError names ``source``."""
    fix = (
        f"write a Python regular expression such as {DEFAULT_TICKET_PATTERN!r}, "
        "or remove the setting to use that default"
    )
    try:
        re.compile(pattern)  # alone first, so an error's position is the user's
        compiled = re.compile(rf"(?<![A-Za-z0-9])(?:{pattern})(?![A-Za-z0-9])")
    except re.error as error:
        raise ConfigError(
            file=source, key=key, problem=f"invalid ticket pattern {pattern!r}: {error}", fix=fix
        ) from None
    if re.fullmatch(pattern, ""):
        raise ConfigError(
            file=source,
            key=key,
            problem=f"ticket pattern {pattern!r} matches an empty string, so every commit "
            "would pass",
            fix=fix,
        )
    return TicketPattern(text=pattern, regex=compiled)


def ticket_pattern(
    *,
    environ: Mapping[str, str],
    pyproject_text: str | None,
    pyproject_file: str = "pyproject.toml",
) -> TicketPattern:
    """The configured pattern: environment first, then pyproject.toml, then the default."""
    from_env = environ.get(PATTERN_ENV, "").strip()
    if from_env:
        return compile_pattern(from_env, source="environment", key=PATTERN_ENV)
    if pyproject_text is not None:
        key = f"{PYPROJECT_TABLE}.{PYPROJECT_KEY}"
        try:
            data = tomllib.loads(pyproject_text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(
                file=pyproject_file,
                key=None,
                problem=f"invalid TOML: {error}",
                fix="correct the syntax at the line and column shown",
            ) from None
        except RecursionError:  # tomllib recurses once per level of nesting
            raise ConfigError(
                file=pyproject_file,
                key=None,
                problem="invalid TOML: arrays or inline tables are nested too deeply to read",
                fix="nest arrays and inline tables a few levels at most",
            ) from None
        value = data.get("tool", {}).get("portable-pipelines", {}).get(PYPROJECT_KEY)
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    file=pyproject_file,
                    key=key,
                    problem=f"expected a non-empty string, got {value!r}",
                    fix=f"write it as `{PYPROJECT_KEY} = '{DEFAULT_TICKET_PATTERN}'`",
                )
            return compile_pattern(value, source=pyproject_file, key=key)
    return compile_pattern(DEFAULT_TICKET_PATTERN, source="default", key=None)


def check_commit_message(message: str, *, branch: str | None, pattern: TicketPattern) -> Verdict:
    """Accept or refuse one commit message made on ``branch`` (None: unknown)."""
    subject = subject_of(message)
    if not subject:
        return Verdict(accepted=False, reason="the commit message is empty")
    if _GENERATED_SUBJECTS.match(subject):
        return Verdict(accepted=True, reason="a merge, revert, fixup or squash commit")
    ticket = pattern.search(subject)
    if ticket:
        return Verdict(accepted=True, reason=f"the subject carries {ticket}")
    if branch and branch != _DETACHED:
        ticket = pattern.search(branch)
        if ticket:
            return Verdict(accepted=True, reason=f"the branch {branch!r} carries {ticket}")
    return Verdict(accepted=False, reason=refusal(subject, branch=branch, pattern=pattern))


def refusal(subject: str, *, branch: str | None, pattern: TicketPattern) -> str:
    """What to tell someone whose commit was refused, with the ways out."""
    on_branch = (
        f"the branch {branch!r} does not either"
        if branch and branch != _DETACHED
        else "no branch is checked out to take one from"
    )
    return "\n".join(
        [
            f"commit refused: the subject {subject!r} carries no ticket id, and {on_branch}.",
            f"A ticket id matches the pattern {pattern.text} (a whole word, case-sensitive).",
            "",
            "Fix it in one of these ways:",
            "  - put the ticket id in the subject, e.g.",
            '      git commit -m "ABC-123 Add the readiness probe"',
            '      git commit -m "Add the readiness probe (ABC-123)"',
            "  - or name the branch after the ticket, then commit again:",
            "      git branch -m feature/ABC-123-readiness-probe",
            "  - or, if your tracker's ids look different, set the pattern:",
            f"      {PATTERN_ENV}='OPS-[0-9]+' git commit ...          (one commit)",
            f"      [{PYPROJECT_TABLE}] {PYPROJECT_KEY} = 'OPS-[0-9]+'  (pyproject.toml)",
            "",
            "Merge, revert, fixup! and squash! commits always pass.",
            "Your message is kept in .git/COMMIT_EDITMSG: `git commit -e -F .git/COMMIT_EDITMSG`.",
        ]
    )
