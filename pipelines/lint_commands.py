"""Run a service's [lint] commands on this machine: the git hook's half of `lint`.

``dagger call --source=SERVICE lint`` runs the commands of the service's
``[lint]`` table in its toolchain container; the ``service-lint`` git hook
runs the very same commands from the service directory with the project's
pinned tools, so "passes locally" and "passes in CI" are one statement.

    python -m pipelines.lint_commands examples/hello-service
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.config import CONFIG_FILE, parse_config
from pipelines.errors import PipelinesError


def lint_commands(service: Path) -> tuple[tuple[str, ...], ...]:
    path = service / CONFIG_FILE
    if not path.is_file():
        raise PipelinesError(
            f"{path}: not found\n  fix: pass a service directory that holds {CONFIG_FILE}"
        )
    config = parse_config(path.read_text(encoding="utf-8"), file=str(path))
    return config.lint.commands if config.lint else ()


def main(argv: list[str]) -> int:
    # Side effects live here, at the edge: the hook runs real processes.
    import subprocess

    if not argv:
        print("usage: python -m pipelines.lint_commands SERVICE_DIR [...]", file=sys.stderr)  # noqa: T201
        return 2
    failed = []
    for directory in argv:
        service = Path(directory)
        try:
            commands = lint_commands(service)
        except PipelinesError as error:
            print(error, file=sys.stderr)  # noqa: T201
            return 2
        for command in commands:
            if subprocess.run(list(command), cwd=service, check=False).returncode != 0:  # noqa: S603
                failed.append(f"{directory}: {' '.join(command)}")
    for line in failed:
        print(f"lint failed: {line}", file=sys.stderr)  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
