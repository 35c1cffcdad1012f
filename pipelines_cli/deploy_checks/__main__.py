"""``python -m pipelines_cli.deploy_checks DEPLOY_DIR [--service-config PIPELINES_TOML]``.

Prints each problem (where, what, and the fix) to stderr and exits 1 if
there is any; exits 0 with one line on stdout when every check passed; exits
2 with one message when it cannot check at all (no such directory, an
invalid ``pipelines.toml``, kubectl or kubernetes-validate missing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.config import load_config
from pipelines.errors import PipelinesError
from pipelines_cli.deploy_checks.tree import check_tree

PROG = "python -m pipelines_cli.deploy_checks"
# The service the manifests of this repository run, from the directory the
# git hook runs in (the repository's root).
DEFAULT_SERVICE_CONFIG = Path("examples/hello-service/pipelines.toml")
PASSED = 0
PROBLEMS = 1
CANNOT_CHECK = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Build, validate and check the policies of a deploy/ tree.",
    )
    parser.add_argument("deploy_root", type=Path, help="the deploy/ directory to check")
    parser.add_argument(
        "--service-config",
        type=Path,
        default=DEFAULT_SERVICE_CONFIG,
        help="pipelines.toml of the service the manifests run (default: %(default)s)",
    )
    arguments = parser.parse_args(argv)
    try:
        if not arguments.deploy_root.is_dir():
            raise PipelinesError(
                "not a directory",
                where=str(arguments.deploy_root),
                fix="pass the directory that holds overlays/ and argocd/, e.g. deploy/",
            )
        service = load_config(arguments.service_config).service
        problems = check_tree(arguments.deploy_root, service=service)
    except PipelinesError as error:
        sys.stderr.write(f"deploy-checks: {error}\n")
        return CANNOT_CHECK
    for found in problems:
        sys.stderr.write(f"{found}\n")
    if problems:
        sys.stderr.write(f"{len(problems)} problem(s) in {arguments.deploy_root}\n")
        return PROBLEMS
    sys.stdout.write(f"{arguments.deploy_root}: every build, schema and policy check passed\n")
    return PASSED


if __name__ == "__main__":
    sys.exit(main())
