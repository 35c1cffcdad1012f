"""``portable-pipelines``: check a service, see what a pipeline would run, start a config.

Offline and without Dagger: it reads the service directory and runs the
library's own checks and plan, the ones the Dagger functions run before their
first container (``pipelines.preflight.prepare``, ``pipelines.plans``)::

    portable-pipelines validate examples/node-service
    portable-pipelines plan examples/node-service --pipeline pre-merge --format json
    portable-pipelines init path/to/service

Exit codes: 0 done, no problems; 1 problems found (each on stderr with its
file, key and fix) or a refusal (``init`` over an existing file); 2 a usage
error (argparse's).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.config import CONFIG_FILE, PipelineConfig, load_config
from pipelines.dockerfile import dockerfile_path, dockerignore_path
from pipelines.errors import InputError, PipelinesError
from pipelines.plan_formats import FORMATS, render
from pipelines.plans import PIPELINES, PipelinePlan, plan_pipeline
from pipelines.preflight import overlay_kustomization, pipelines_set_up, prepare
from pipelines.starter import LANGUAGES, MARKERS, detect
from pipelines.starter import render as render_starter
from pipelines.values import Branch, CommitId
from pipelines.versions import FILES as VERSION_FILES
from pipelines.versions import release_version

PROG = "portable-pipelines"
OK, PROBLEMS, USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return int(args.run(args))
    except PipelinesError as error:
        sys.stderr.write(f"{error}\n")
        return PROBLEMS


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check a service's pipelines.toml and Dockerfile, show what a pipeline "
        "would run, or write a starting pipelines.toml. Offline: needs neither Dagger nor "
        "an engine.",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the version")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="report every problem of DIR's pipelines.toml and Dockerfile at once",
        description="Report every problem at once, each with its file, key and fix; "
        "exit 1 when there is any.",
    )
    _service_arguments(validate)
    validate.add_argument(
        "--pipeline",
        action="append",
        choices=PIPELINES,
        help="check what this pipeline needs (repeatable; default: every pipeline the "
        "config sets up)",
    )
    validate.set_defaults(run=run_validate)

    plan = commands.add_parser(
        "plan",
        help="show what a pipeline would run, in order",
        description="Each step in order: what it waits for, where it runs, its commands, "
        "the services it binds, what it pushes, and the statuses the run posts. The JSON "
        "form is stable (docs/cli.md).",
    )
    _service_arguments(plan)
    plan.add_argument("--pipeline", required=True, choices=PIPELINES)
    plan.add_argument("--format", dest="output_format", choices=FORMATS, default="text")
    plan.add_argument("--sha", help="the commit (default: <sha7> in tags)")
    plan.add_argument("--branch", help="dev: the feature branch (default: <branch-slug>)")
    plan.add_argument(
        "--release-version",
        help="release: the version (default: what the service declares, as release reads it)",
    )
    plan.set_defaults(run=run_plan)

    init = commands.add_parser(
        "init",
        help="write a starting pipelines.toml for DIR (never over an existing one)",
        description="Detect a Python, Node, Go or Maven service from its files and write "
        "a pipelines.toml that validate accepts once the Dockerfile has a test stage.",
    )
    init.add_argument("directory", metavar="DIR", type=Path)
    init.add_argument("--language", choices=LANGUAGES, help="when the files do not say")
    init.set_defaults(run=run_init)
    return parser.parse_args(argv)


def _service_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", type=Path, help="the service directory")
    parser.add_argument(
        "--manifests",
        type=Path,
        help="where [deploy.eks] overlay paths start, as the Dagger functions' --manifests "
        "(default: DIR)",
    )


def run_validate(args: argparse.Namespace) -> int:
    config = load_config(args.directory / CONFIG_FILE)
    ready, why = pipelines_set_up(config)
    runs = tuple(args.pipeline or ready)
    service_config(args.directory, runs=runs, manifests=args.manifests)
    _say(f"{args.directory / CONFIG_FILE}: no problems for {', '.join(runs)}")
    for pipeline, reason in why.items():
        if pipeline not in runs:
            _say(f"  not set up: {pipeline} ({reason}); --pipeline {pipeline} checks it")
    if "release" in runs:
        _say(f"  release version: {_version_line(args.directory)}")
    return OK


def run_plan(args: argparse.Namespace) -> int:
    plan = plan_of(
        args.directory,
        args.pipeline,
        manifests=args.manifests,
        sha=args.sha,
        branch=args.branch,
        version=args.release_version,
    )
    sys.stdout.write(render(plan, args.output_format))
    return OK


def run_init(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    if not directory.is_dir():
        raise InputError(
            argument="DIR",
            problem=f"{directory} is not a directory",
            fix="pass the service's directory",
        )
    target = directory / CONFIG_FILE
    if target.exists():
        raise InputError(
            argument="DIR",
            problem=f"{target} exists: init never overwrites a config",
            fix=f"edit it, or check it with `{PROG} validate {directory}`",
        )
    names = [m for group in MARKERS.values() for m in group] + ["Dockerfile"]
    files = {name: (directory / name).read_text() for name in names if (directory / name).is_file()}
    starter = detect(directory.resolve().name, files, language=args.language)
    target.write_text(render_starter(starter))
    _say(f"wrote {target}: a {starter.language} service (from {starter.detected_from})")
    _say(f"  name {starter.name}, port {starter.port} ({starter.port_from})")
    for note in starter.notes:
        _say(f"  next: {note}")
    _say(f"  check it: {PROG} validate {directory}")
    return OK


def service_config(
    directory: Path, *, runs: Sequence[str], manifests: Path | None = None
) -> PipelineConfig:
    """DIR's config, checked as the Dagger functions check it before their first
    container for ``runs``, from the files on disk; every problem at once."""
    config = load_config(directory / CONFIG_FILE)
    overlay = overlay_kustomization(config) if "dev" in runs else None
    where = manifests or directory
    return prepare(
        config,
        dockerfile_text=_read(directory / dockerfile_path(config)),
        dockerignore_text=_read(directory / dockerignore_path(config)),
        overlay_found=(where / overlay).is_file() if overlay is not None else None,
        runs=runs,
        file=str(directory / CONFIG_FILE),
    )


def plan_of(
    directory: Path,
    pipeline: str,
    *,
    manifests: Path | None = None,
    sha: str | None = None,
    branch: str | None = None,
    version: str | None = None,
) -> PipelinePlan:
    """What ``pipeline`` would run for the service in ``directory``."""
    config = service_config(directory, runs=(pipeline,), manifests=manifests)
    if version is None and pipeline == "release":
        version = _declared_version(directory)
    return plan_pipeline(
        config,
        pipeline,
        sha=CommitId.parse(sha) if sha is not None else None,
        branch=Branch.parse(branch) if branch is not None else None,
        version=version,
        ignorefile_found=(directory / config.scan.ignorefile).is_file(),
    )


def _declared(directory: Path) -> dict[str, str]:
    return {name: text for name in VERSION_FILES if (text := _read(directory / name)) is not None}


def _declared_version(directory: Path) -> str | None:
    try:
        return release_version(None, _declared(directory)).version
    except InputError:
        return None  # the plan shows <version>; release itself would need --version


def _version_line(directory: Path) -> str:
    try:
        declared = release_version(None, _declared(directory))
    except InputError as error:
        return f"none declared, so release needs --version ({error.problem})"
    return f"{declared.version} (from {declared.file})"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


class _VersionAction(argparse.Action):
    """argparse's "version" action, reading the version only when asked:
    importlib.metadata costs more to import than a validate run (the git hook)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib import metadata

        try:
            version = metadata.version("portable-pipelines")
        except metadata.PackageNotFoundError:  # run from a checkout that was never installed
            version = "unknown"
        sys.stdout.write(f"{parser.prog} {version}\n")  # on stdout, as argparse's own
        parser.exit()


if __name__ == "__main__":
    sys.exit(main())
