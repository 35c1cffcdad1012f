"""Run a service's ``[lint]`` and ``[docs]`` commands here: the git hook's half of ``lint``.

``dagger call --source=SERVICE lint`` runs the commands of the service's
``[lint]`` and ``[docs]`` tables in its toolchain container; the
``service-lint`` git hook runs the very same commands from the service
directory with the developer's own tools, so "passes locally" and "passes in
CI" are one statement::

    python -m pipelines_cli.service_lint examples/hello-service [...]

The commands come from the library (``PipelineConfig.static_checks``); this
tool only runs the processes, one after the other, each to the end. Exit
codes: 0 every command passed (a service without either table has none); 1 a
command failed or could not start, each named on stderr after the commands'
own output; 2 a ``pipelines.toml`` is missing or invalid, in one message.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.config import CONFIG_FILE, load_config
from pipelines.errors import PipelinesError

PROG = "python -m pipelines_cli.service_lint"
PASSED = 0
FAILED = 1
BAD_CONFIG = 2


def run_command(command: Sequence[str], *, service: Path) -> str | None:
    """Run one command in ``service``; None when it passed, else what went wrong."""
    try:
        # An argument list from pipelines.toml, never a shell string.
        completed = subprocess.run(list(command), cwd=service, check=False)  # noqa: S603
    except OSError as error:  # not installed, not executable: a failure to name, not a crash
        return f"cannot start: {error}"
    return None if completed.returncode == 0 else f"exited {completed.returncode}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run the [lint] and [docs] commands of each service's pipelines.toml.",
    )
    parser.add_argument(
        "services", nargs="+", type=Path, help="service directories, each with a pipelines.toml"
    )
    args = parser.parse_args(argv)

    failed: list[str] = []
    for service in args.services:
        try:
            config = load_config(service / CONFIG_FILE)
        except PipelinesError as error:
            sys.stderr.write(f"{error}\n")
            return BAD_CONFIG
        for command in config.static_checks:
            problem = run_command(command, service=service)
            if problem is not None:
                failed.append(f"{service}: {' '.join(command)} ({problem})")
    for line in failed:
        sys.stderr.write(f"lint failed: {line}\n")
    return FAILED if failed else PASSED


if __name__ == "__main__":
    sys.exit(main())
