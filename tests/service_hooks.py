"""The hooks a service repository installs from this one, and a throwaway repository to try them.

Shared by the docs' snippet check (tests/integration/test_docs.py), the
hooks' test (tests/integration/test_service_hooks.py) and
benchmarks/service_hooks.py:

- ``config_problems``: what is wrong with a service-side
  ``.pre-commit-config.yaml`` of docs/snippets/service/ (the address, a
  pinned ``rev:`` at this release, hooks this repository defines);
- ``hook_source``: this working tree as a hook repository pre-commit can
  clone, one commit holding exactly the files git would commit now
  (uncommitted changes included), so the hooks under test are the ones in
  the tree, not the last commit's;
- ``service_repository``: a ``git init`` repository with a copy of the
  reference service, its manifests, and the documented
  ``.pre-commit-config.yaml`` with only ``repo:`` and ``rev:`` pointed at
  that commit;
- ``hook_environment``: offline: pip installs the hook package from the
  wheelhouse ``make install`` downloads (build/wheelhouse), never from an
  index.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.ci_wrappers import MODULE_ADDRESS
from tests.module_release import project_version

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOOKS_MANIFEST = ROOT / ".pre-commit-hooks.yaml"
SERVICE_CONFIG = ROOT / "docs" / "snippets" / "service" / ".pre-commit-config.yaml"
DAGGER_VARIANT = ROOT / "docs" / "snippets" / "service" / ".pre-commit-config.dagger.yaml"
SERVICE_CONFIGS = (SERVICE_CONFIG, DAGGER_VARIANT)
REPOSITORY_URL = f"https://{MODULE_ADDRESS}"
# Downloaded by `make install` (the Makefile's wheelhouse target): the hook
# package's build backend and dependencies, so the tests install the hooks
# as pre-commit does, without an index.
WHEELHOUSE = ROOT / "build" / "wheelhouse"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def hook_ids() -> set[str]:
    manifest = yaml.safe_load(HOOKS_MANIFEST.read_text(encoding="utf-8"))
    return {hook["id"] for hook in manifest}


def config_problems(path: Path) -> list[str]:
    """A service-side config names this repository at this release, and only its hooks."""
    config: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    ours = [repo for repo in config["repos"] if repo["repo"] == REPOSITORY_URL]
    if len(ours) != 1:
        return [f"{path.name}: expected one `repo: {REPOSITORY_URL}` entry, found {len(ours)}"]
    problems = []
    release = f"v{project_version()}"
    if ours[0].get("rev") != release:
        problems.append(f"{path.name}: rev is {ours[0].get('rev')!r}, not the release {release}")
    unknown = {hook["id"] for hook in ours[0]["hooks"]} - hook_ids()
    if unknown:
        problems.append(f"{path.name}: hooks this repository does not define: {sorted(unknown)}")
    if "commit-msg" not in config.get("default_install_hook_types", []):
        problems.append(f"{path.name}: `pre-commit install` would not install the commit-msg hook")
    return problems


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def hook_source(folder: Path) -> tuple[Path, str]:
    """This working tree as one commit of a repository in ``folder``: (path, sha).

    The clone shares the checkout's objects; the tree is what ``git add -A``
    would stage (ignored files left out), written with an index of its own,
    so the checkout's index, HEAD and refs are untouched. pre-commit clones
    it by path and checks out the commit (a branch points at it, since git
    serves only what a ref reaches).
    """
    env = {**os.environ, **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    clone = folder / "portable-pipelines"
    git(folder, "clone", "--quiet", "--shared", "--no-checkout", str(ROOT), str(clone), env=env)
    index = {**env, "GIT_INDEX_FILE": str(folder / "snapshot.index")}
    git(clone, f"--work-tree={ROOT}", "add", "--all", env=index)
    tree = git(clone, "write-tree", env=index)
    sha = git(clone, "commit-tree", tree, "-m", "#16 the working tree under test", env=env)
    git(clone, "update-ref", "refs/heads/under-test", sha, env=env)
    return clone, sha


def service_repository(folder: Path, *, source: Path, sha: str, service: Path) -> Path:
    """A fresh service repository: ``service``'s files at its root, this
    repository's deploy/ (its overlay), and the documented config pointed at
    ``source`` at ``sha``."""
    repo = folder / "service"
    shutil.copytree(
        service,
        repo,
        ignore=shutil.ignore_patterns(
            ".venv", "__pycache__", "reports", ".pytest_cache", ".ruff_cache", "site"
        ),
    )
    shutil.copytree(ROOT / "deploy", repo / "deploy")
    text = SERVICE_CONFIG.read_text(encoding="utf-8")
    pointed = re.sub(r"(?m)^(\s*- repo: )\S+$", rf"\g<1>{source}", text, count=1)
    pointed = re.sub(r"(?m)^(\s*rev: )\S+$", rf"\g<1>{sha}", pointed, count=1)
    assert pointed.count(str(source)) == 1, "no `- repo:` line to point at the hook source"
    assert sha in pointed, "no `rev:` line to point at the commit under test"
    (repo / ".pre-commit-config.yaml").write_text(pointed, encoding="utf-8")
    # On `main`, a branch without a ticket id: a commit subject must carry one.
    git(repo, "init", "--quiet", "--initial-branch=main")
    return repo


def hook_environment(folder: Path) -> dict[str, str]:
    """Offline, with a pre-commit cache of its own; this venv's tools (ruff,
    mkdocs) on PATH as a developer's would be."""
    home = folder / "home"
    home.mkdir(exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR")}
    return {
        **keep,
        **GIT_IDENTITY,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "PRE_COMMIT_HOME": str(folder / "pre-commit-cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "NO_COLOR": "1",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # This machine's global pip.conf may name other indexes: read none.
        "PIP_CONFIG_FILE": os.devnull,
    }
