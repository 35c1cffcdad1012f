"""The hooks a service repository installs from this one, installed and run as a developer would.

A throwaway service repository (``git init``, a copy of the reference
service, the documented ``.pre-commit-config.yaml`` pointed at this working
tree) installs the hooks with ``pre-commit install`` (pre-commit clones this
repository at the commit, builds the package and installs it with its
dependencies into a virtualenv, offline from build/wheelhouse), then commits
for real with ``git commit``:

- a good change passes every hook and is committed;
- a message without a ticket id, an invalid ``pipelines.toml``, a failing
  lint command and a failing docs build are each refused with the message a
  developer needs, and nothing is committed.

Each hook also starts small: it imports nothing outside the standard
library and this package.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REFERENCE_SERVICE
from tests.service_hooks import (
    WHEELHOUSE,
    git,
    hook_environment,
    hook_source,
    service_repository,
)

pytestmark = pytest.mark.tools

HOOK_NAMES = {
    "ticket-id": "ticket id in the commit subject or branch",
    "validate": "portable-pipelines validate",
    "service-lint": "the service's [lint] and [docs] commands",
}


@dataclass(frozen=True)
class Repository:
    path: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )

    def commit(self, message: str) -> subprocess.CompletedProcess[str]:
        """Stage everything and commit: the hooks decide."""
        self.run("git", "add", "--all").check_returncode()
        return self.run("git", "commit", "--quiet", "-m", message)

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD", env=self.env)

    def discard(self) -> None:
        """Back to the last commit, as a developer would after a refusal."""
        self.run("git", "reset", "--quiet", "--hard").check_returncode()
        self.run("git", "clean", "--quiet", "-d", "--force").check_returncode()

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.path / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}: the test is stale"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Repository:
    if not (WHEELHOUSE / ".downloaded").is_file():
        pytest.fail(f"{WHEELHOUSE} is missing: run `make install`, which downloads it")
    folder = tmp_path_factory.mktemp("service-hooks")
    source, sha = hook_source(folder)
    path = service_repository(folder, source=source, sha=sha, service=REFERENCE_SERVICE)
    repo = Repository(path=path, env=hook_environment(folder))
    installed = repo.run("pre-commit", "install", "--install-hooks")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    for hook in ("pre-commit", "commit-msg"):
        assert (path / ".git" / "hooks" / hook).is_file(), f"{hook} hook not installed"
    first = repo.commit("ABC-1 Start hello-service from the reference service")
    assert first.returncode == 0, first.stdout + first.stderr
    assert_passed(first)
    return repo


def assert_passed(result: subprocess.CompletedProcess[str]) -> None:
    """Every hook ran and passed (git gives hooks stderr for their output)."""
    lines = result.stderr.splitlines()
    for name in HOOK_NAMES.values():
        assert any(name in line and line.endswith("Passed") for line in lines), (
            f"{name!r} did not pass:\n{result.stderr}"
        )


def refused(repo: Repository, message: str) -> str:
    """Commit, expect a refusal that leaves HEAD where it was; its output."""
    before = repo.head()
    result = repo.commit(message)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"the commit was accepted:\n{output}"
    assert repo.head() == before, "a refused commit moved HEAD"
    repo.discard()
    return output


def test_a_good_change_passes_every_hook(repository: Repository) -> None:
    before = repository.head()
    repository.edit("pipelines.toml", "drain_seconds = 10", "drain_seconds = 15")
    repository.edit("docs/operations.md", "process exits 0.", "process exits 0 (logged).")
    result = repository.commit("ABC-2 Drain for longer")
    assert result.returncode == 0, result.stdout + result.stderr
    assert repository.head() != before
    assert_passed(result)


def test_a_message_without_a_ticket_id_is_refused(repository: Repository) -> None:
    (repository.path / "docs" / "operations.md").write_text("# Operations\n\nShorter.\n")
    output = refused(repository, "Shorten the operations page")
    assert "commit refused: the subject 'Shorten the operations page' carries no ticket id" in (
        output
    )
    assert "the branch 'main' does not either" in output
    assert 'git commit -m "ABC-123 Add the readiness probe"' in output  # the way out


def test_an_invalid_pipelines_toml_is_refused(repository: Repository) -> None:
    repository.edit("pipelines.toml", "port = 8080", 'port = "eighty"')
    output = refused(repository, "ABC-3 Name the port")
    assert "pipelines.toml: service.port:" in output
    assert "'eighty'" in output
    assert "fix:" in output


def test_a_failing_lint_command_is_refused(repository: Repository) -> None:
    (repository.path / "hello_service" / "unused.py").write_text("import os\n")
    output = refused(repository, "ABC-4 Add a module")
    assert "F401" in output  # ruff's own report, with the file
    assert "hello_service/unused.py" in output
    assert "lint failed: .: ruff check . (exited 1)" in output


def test_a_failing_docs_build_is_refused(repository: Repository) -> None:
    repository.edit("docs/index.md", "[Operations](operations.md)", "[Operations](runbook.md)")
    output = refused(repository, "ABC-5 Link the runbook")
    assert "runbook.md" in output  # mkdocs' own warning, naming the link
    assert "lint failed: .: mkdocs build --strict (exited 1)" in output


HOOK_RUNS = {
    "commit-msg": ["commit-msg", "{message}"],
    "validate": ["validate", "{service}/pipelines.toml", "--manifests", "{root}"],
    "lint": ["lint", "--service", "{empty}"],
}


@pytest.mark.parametrize("hook", sorted(HOOK_RUNS))
def test_each_hook_imports_only_the_standard_library_and_this_package(
    hook: str, tmp_path: Path
) -> None:
    message = tmp_path / "COMMIT_EDITMSG"
    message.write_text("ABC-1 Check the imports\n")
    empty = tmp_path / "empty-service"
    empty.mkdir()
    (empty / "pipelines.toml").write_text('[service]\nname = "empty"\nport = 8080\n')
    args = [
        arg.format(
            message=message,
            service=REFERENCE_SERVICE,
            root=REFERENCE_SERVICE.parents[1],
            empty=empty,
        )
        for arg in HOOK_RUNS[hook]
    ]
    probe = (
        "import sys\n"
        "from pipelines_cli import hooks\n"
        f"code = hooks.main({args!r})\n"
        "own = ('pipelines', 'pipelines_cli')\n"
        "foreign = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)"
        " - set(own) - {'__main__', '_distutils_hack'})\n"
        "print('FOREIGN', ','.join(foreign))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    foreign = result.stdout.rsplit("FOREIGN ", 1)[1].strip()
    assert foreign == "", f"the {hook} hook imports {foreign}"
