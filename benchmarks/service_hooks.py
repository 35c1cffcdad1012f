"""How long the git hooks take in a service repository, installed as a developer installs them.

Builds the throwaway service repository of tests/integration/test_service_hooks.py
(a ``git init`` copy of the reference service, the documented
``.pre-commit-config.yaml`` pointed at this working tree), installs the
hooks with ``pre-commit install --install-hooks`` (offline, from
build/wheelhouse: ``make install`` downloads it), then measures, alternating
so that machine noise hits all alike:

- a warm ``pre-commit run --all-files`` (every hook of the pre-commit stage);
- the service's own commands run directly ([lint] and [docs]: ruff, mkdocs),
  which the hooks cannot be faster than, so the difference is what the hooks
  add: pre-commit itself, the hook package's start and the config checks;
- the commit-msg hook alone (``pre-commit run ticket-id --hook-stage commit-msg``);
- what the hook package itself costs to start: each hook's entry point run
  directly in the virtualenv pre-commit made, against ``pre-commit
  --version``, the start a developer already pays on every commit (and bare
  ``python -c pass``, for scale).

    python benchmarks/service_hooks.py [--runs 7]

Target: each hook starts in at most 1.5 x the time pre-commit itself does
(medians of one run). The hooks import only the standard library and this
package (a test holds that); ``commit-msg`` reads one rule, while
``validate`` and ``lint`` parse the config, whose import is most of their
start (pipelines.config reaches the forge clients through the forge
registry it checks ``[forge]`` against). The warm run and the commands' own
time are printed, not held to a number: they are the service's tools and
pre-commit's, not ours.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.config import CONFIG_FILE, load_config  # noqa: E402
from tests.conftest import REFERENCE_SERVICE  # noqa: E402
from tests.service_hooks import (  # noqa: E402
    WHEELHOUSE,
    hook_environment,
    hook_source,
    service_repository,
)

TARGET_START_RATIO = 1.5


def timed(run: Callable[[], subprocess.CompletedProcess[str]]) -> float:
    started = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.args}):\n{result.stdout}{result.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="warm runs of each (default 7)")
    args = parser.parse_args(argv)
    if not (WHEELHOUSE / ".downloaded").is_file():
        raise SystemExit(f"{WHEELHOUSE} is missing: run `make install`, which downloads it")

    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        source, sha = hook_source(folder)
        repo = service_repository(folder, source=source, sha=sha, service=REFERENCE_SERVICE)
        env = hook_environment(folder)

        def run(*command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                list(command), cwd=repo, env=env, capture_output=True, text=True, check=False
            )

        install = timed(lambda: run("pre-commit", "install", "--install-hooks"))
        timed(lambda: run("git", "add", "--all"))
        message = folder / "COMMIT_EDITMSG"
        message.write_text("ABC-1 Measure the hooks\n", encoding="utf-8")
        commands = load_config(repo / CONFIG_FILE).static_checks

        def own_commands() -> subprocess.CompletedProcess[str]:
            for command in commands:
                done = run(*command)
                if done.returncode != 0:
                    return done
            return done

        def all_files() -> subprocess.CompletedProcess[str]:
            return run("pre-commit", "run", "--all-files")

        def commit_msg() -> subprocess.CompletedProcess[str]:
            return run(
                "pre-commit",
                "run",
                "ticket-id",
                "--hook-stage",
                "commit-msg",
                "--commit-msg-filename",
                str(message),
            )

        (hook_bin,) = (folder / "pre-commit-cache").glob("repo*/py_env-*/bin")
        entry = str(hook_bin / "portable-pipelines-hook")
        starts: dict[str, tuple[str, ...]] = {
            "python -c pass": (str(hook_bin / "python"), "-c", "pass"),
            "pre-commit --version": ("pre-commit", "--version"),
            "commit-msg": (entry, "commit-msg", str(message)),
            "validate": (entry, "validate", CONFIG_FILE),
            "lint (no service)": (entry, "lint", "--service", str(folder / "none")),
        }
        (folder / "none").mkdir()
        (folder / "none" / CONFIG_FILE).write_text('[service]\nname = "n"\nport = 1\n')

        all_files()  # the first run after install: warms the caches it would
        hooks, own, msg = [], [], []
        started: dict[str, list[float]] = {name: [] for name in starts}
        for _ in range(args.runs):
            hooks.append(timed(all_files))
            own.append(timed(own_commands))
            msg.append(timed(commit_msg))
            for name, command in starts.items():
                started[name].append(timed(partial(run, *command)))

    hooks_median, own_median = statistics.median(hooks), statistics.median(own)
    added = hooks_median - own_median
    print(f"runs per measure:                 {args.runs} (warm pre-commit cache)")
    print(f"install (cold, from the wheelhouse): {install:.1f} s")
    print(f"pre-commit run --all-files:       {hooks_median:.2f} s (median)")
    print(f"the service's own commands:       {own_median:.2f} s ({len(commands)} commands)")
    print(f"added by pre-commit and the hooks: {added:.2f} s")
    print(f"commit-msg hook alone:            {statistics.median(msg):.2f} s (median)")
    bare = statistics.median(started.pop("python -c pass"))
    runner = statistics.median(started.pop("pre-commit --version"))
    print(f"bare Python start (hook venv):    {bare * 1000:.0f} ms (median)")
    print(f"pre-commit --version:             {runner * 1000:.0f} ms (median)")
    ratios = {}
    for name, times in started.items():
        ratios[name] = statistics.median(times) / runner
        print(
            f"  {name + ' hook start:':<31} {statistics.median(times) * 1000:.0f} ms, "
            f"{ratios[name]:.2f} x pre-commit's (target <= {TARGET_START_RATIO})"
        )
    met = max(ratios.values()) <= TARGET_START_RATIO
    print(f"result:                           {'PASS' if met else 'FAIL'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
