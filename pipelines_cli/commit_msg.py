"""The commit-msg git hook: ``python -m pipelines_cli.commit_msg <msg-file> [--branch NAME]``.

Git hands the hook the file that holds the message. The branch is asked of
git unless ``--branch`` names it (a CI checkout is detached). The ticket
pattern comes from ``TICKET_PATTERN``, then the ``pyproject.toml`` of the
current directory (the repository's root, where git runs hooks), then the
default. The rule itself is :mod:`pipelines.commit_msg`, which the Dagger
``lint`` step applies too.

Exit codes: 0 accepted; 1 refused, with the reason and the ways out on
stderr; 2 the hook could not decide (a bad pattern setting, a message file
it cannot read), with one message on stderr.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.commit_msg import check_commit_message, ticket_pattern
from pipelines.errors import PipelinesError

PROG = "python -m pipelines_cli.commit_msg"
PYPROJECT = Path("pyproject.toml")
ACCEPTED = 0
REFUSED = 1
UNDECIDED = 2


def current_branch() -> str | None:
    """The checked-out branch, from git; None outside a repository or without git."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],  # noqa: S607 (git from PATH, like git itself)
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        # No git on PATH: the branch is unknown, exactly as outside a repository.
        return None
    name = result.stdout.strip()
    return name if result.returncode == 0 and name else None


def read_text(path: Path, *, fix: str) -> str:
    """The UTF-8 text of ``path``, or a PipelinesError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PipelinesError(f"cannot be read: {error}", where=str(path), fix=fix) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 to accept the commit, 1 to refuse it, 2 when the hook cannot decide."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Refuse a commit whose subject and branch carry no ticket id.",
    )
    parser.add_argument("message_file", help="the file git hands to the commit-msg hook")
    parser.add_argument(
        "--branch", help="the branch name (default: asked of git; CI checkouts are detached)"
    )
    args = parser.parse_args(argv)

    try:
        pattern = ticket_pattern(
            environ=os.environ,
            pyproject_text=read_text(PYPROJECT, fix="make it a readable UTF-8 file")
            if PYPROJECT.is_file()
            else None,
        )
        message = read_text(
            Path(args.message_file),
            fix="pass the message file git hands the hook (.git/COMMIT_EDITMSG), saved as UTF-8",
        )
    except PipelinesError as error:
        sys.stderr.write(f"commit-msg: {error}\n")
        return UNDECIDED
    branch = args.branch if args.branch is not None else current_branch()
    verdict = check_commit_message(message, branch=branch, pattern=pattern)
    if not verdict.accepted:
        sys.stderr.write(f"{verdict.reason}\n")
        return REFUSED
    return ACCEPTED


if __name__ == "__main__":
    sys.exit(main())
