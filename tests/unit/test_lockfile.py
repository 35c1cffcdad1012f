"""uv.lock, which the engine's Python runtime installs from, agrees with pyproject.toml.

Regenerate it after changing a dependency: `uv lock --python 3.12` (uv reads
pyproject.toml; no other input).
"""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_pinned_dependency_is_locked_at_its_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {normal(p["name"]): p["version"] for p in lock["package"]}
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    assert requirements
    for requirement in requirements:
        name, _, version = re.sub(r"\[.*\]", "", requirement).partition("==")
        assert version, f"{requirement} is not pinned with =="
        assert locked.get(normal(name)) == version, f"uv.lock has {name} {locked.get(normal(name))}"


def test_the_lock_is_for_this_project() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (project,) = [p for p in lock["package"] if p["name"] == "portable-pipelines"]
    assert project["source"] == {"editable": "."}


def test_the_module_runtime_is_pinned_by_digest_at_the_python_version_of_the_repository() -> None:
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagger"]["base-image"]
    match = re.fullmatch(r"python:(?P<minor>3\.\d+)-slim@sha256:[0-9a-f]{64}", base)
    assert match, base
    assert (ROOT / ".python-version").read_text().strip() == match["minor"]
