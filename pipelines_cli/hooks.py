"""``portable-pipelines-hook``: the git hooks a service repository installs with pre-commit.

This repository is a pre-commit hook repository (``.pre-commit-hooks.yaml``):
a service's ``.pre-commit-config.yaml`` names it with ``repo:`` and a release
tag as ``rev:``, and pre-commit installs this package, at that tag, into a
virtualenv of its own. Each hook is one subcommand here::

    portable-pipelines-hook commit-msg .git/COMMIT_EDITMSG
    portable-pipelines-hook validate pipelines.toml Dockerfile ...
    portable-pipelines-hook lint src/app.py docs/index.md ...

pre-commit hands ``validate`` and ``lint`` the staged files; each file belongs
to the service whose ``pipelines.toml`` is nearest above it (a repository may
hold one service at its root or several below it), and each such service is
checked once. ``--service DIR`` names the services instead.

The rules are the library's, the same the Dagger functions apply in CI:
``commit-msg`` is the ``lint`` step's ticket-id rule, ``validate`` is
``portable-pipelines validate``, ``lint`` runs the ``[lint]`` and ``[docs]``
commands the ``lint`` step runs. Each subcommand imports only what it uses,
so a hook starts in the time Python does (nothing outside the standard
library and this package is imported).

Exit codes are those of the tool each subcommand runs: 0 passed; 1 refused or
failed, with the reason on stderr; 2 the hook could not decide (a bad
setting, an invalid ``pipelines.toml``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

PROG = "portable-pipelines-hook"
CONFIG_FILE = "pipelines.toml"  # pipelines.config.CONFIG_FILE, without importing the parser


def services_of(files: Iterable[str], *, root: Path = Path()) -> list[Path]:
    """The services the files belong to: for each file, the nearest directory
    at or above it (up to ``root``) that holds a pipelines.toml; files outside
    every service are nobody's. In the order first seen, each once."""
    found: dict[Path, None] = {}
    for name in files:
        path = Path(name)
        for directory in (path.parent, *path.parent.parents):
            if (root / directory / CONFIG_FILE).is_file():
                found.setdefault(directory, None)
                break
    return list(found)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.run(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The git hooks of Portable Pipelines, as pre-commit runs them from a "
        "service repository (.pre-commit-hooks.yaml).",
    )
    commands = parser.add_subparsers(required=True, metavar="HOOK")

    commit_msg = commands.add_parser(
        "commit-msg",
        help="refuse a commit whose subject and branch carry no ticket id",
        description="The ticket-id rule of the lint step. The pattern: TICKET_PATTERN, "
        "else [tool.portable-pipelines] ticket_pattern in pyproject.toml, else ABC-123.",
    )
    commit_msg.add_argument("message_file", help="the file git hands the commit-msg hook")
    commit_msg.add_argument("--branch", help="the branch name (default: asked of git)")
    commit_msg.set_defaults(run=_commit_msg)

    for name, run, what in (
        ("validate", _validate, "portable-pipelines validate"),
        ("lint", _lint, "the [lint] and [docs] commands"),
    ):
        hook = commands.add_parser(
            name,
            help=f"run {what} for the services the files belong to",
            description=f"Run {what} for each service that holds one of FILES (the nearest "
            f"{CONFIG_FILE} above a file), or for each --service.",
        )
        hook.add_argument("files", nargs="*", metavar="FILES", help="the staged files")
        hook.add_argument(
            "--service",
            action="append",
            type=Path,
            metavar="DIR",
            help="check this service directory instead of finding them from FILES (repeatable)",
        )
        hook.set_defaults(run=run)
        if name == "validate":
            hook.add_argument(
                "--manifests",
                metavar="DIR",
                help="where [deploy.eks] overlay paths start, as portable-pipelines validate's "
                "(default: each service's directory)",
            )
    return parser


def _services(args: argparse.Namespace) -> list[Path]:
    return list(args.service) if args.service else services_of(args.files)


def _commit_msg(args: argparse.Namespace) -> int:
    from pipelines_cli import commit_msg

    branch = ["--branch", args.branch] if args.branch is not None else []
    return commit_msg.main([args.message_file, *branch])


def _validate(args: argparse.Namespace) -> int:
    from pipelines_cli import portable_pipelines

    manifests = ["--manifests", args.manifests] if args.manifests else []
    # Every service is checked, so one commit shows every problem at once.
    codes = [portable_pipelines.main(["validate", str(d), *manifests]) for d in _services(args)]
    return max(codes, default=0)


def _lint(args: argparse.Namespace) -> int:
    from pipelines_cli import service_lint

    services = _services(args)
    return service_lint.main([str(d) for d in services]) if services else 0


if __name__ == "__main__":
    sys.exit(main())
