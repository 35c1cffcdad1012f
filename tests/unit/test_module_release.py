"""The module's own release: one version, in pyproject, the changelog and every doc line.

At any commit the version in pyproject.toml is the newest release in the
CHANGELOG, and every address a service copies from the docs names it; the
release workflow checks the same before it tags. Broken copies show each
check can fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.ci_wrappers import GITHUB_WORKFLOWS, load_yaml
from tests.module_release import (
    ROOT,
    changelog_sections,
    main,
    project_version,
    release_notes,
    release_problems,
)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """The files the release check reads, copied so a test may break them."""
    copy = tmp_path / "repo"
    for name in ("pyproject.toml", "CHANGELOG.md", "README.md"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "docs", copy / "docs")
    for name in (
        ".github/workflows/pipelines.yml",
        "templates/pipelines/template.yml",
        "vars/portablePipelines.groovy",
    ):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}: the test is stale"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_this_commit_is_consistent_with_its_version() -> None:
    assert release_problems() == []
    assert release_problems(project_version()) == []
    sections = changelog_sections()
    assert sections[0][0] == "Unreleased"
    assert sections[1][0] == project_version()


def test_the_release_notes_are_the_changelog_entry() -> None:
    notes = release_notes(project_version())
    assert "### Added" in notes
    assert "## [" not in notes


BREAKAGES = {
    "a doc names another version": (
        "docs/snippets/module.sh",
        f"portable-pipelines@v{project_version()}",
        "portable-pipelines@v0.0.9",
        "docs/snippets/module.sh:4: names v0.0.9, not the release",
    ),
    "a service file forgets the bump": (
        "docs/snippets/service/Jenkinsfile",
        f"moduleVersion: 'v{project_version()}'",
        "moduleVersion: 'v0.0.9'",
        "docs/snippets/service/Jenkinsfile:5: names v0.0.9",
    ),
    "the hooks' rev forgets the bump": (
        "docs/snippets/service/.pre-commit-config.yaml",
        f"rev: v{project_version()}",
        "rev: v0.0.9",
        "docs/snippets/service/.pre-commit-config.yaml:7: names v0.0.9",
    ),
    "no changelog entry": (
        "CHANGELOG.md",
        f"## [{project_version()}] - ",
        "## [0.0.9] - ",
        f"the newest release is 0.0.9, not {project_version()}",
    ),
    "an undated entry": (
        "CHANGELOG.md",
        f"## [{project_version()}] - 2026-12-01",
        f"## [{project_version()}] - soon",
        "needs its date",
    ),
    "no Unreleased section": ("CHANGELOG.md", "## [Unreleased]", "## [Next]", "## [Unreleased]"),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_the_release_check_fails_on_a_broken_copy(name: str, repository: Path) -> None:
    file_name, old, new, says = BREAKAGES[name]
    edit(repository / file_name, old, new)
    problems = release_problems(project_version(), repository)
    assert any(says in problem for problem in problems), problems


def test_releasing_another_version_needs_the_bump_first() -> None:
    problems = release_problems("9.9.9")
    assert any("pyproject.toml: version is" in p and "not 9.9.9" in p for p in problems)
    assert any("not 9.9.9: move the Unreleased notes" in p for p in problems)
    assert release_problems("v1.0.0") == [
        "release version 'v1.0.0': give X.Y.Z (the tag will be vX.Y.Z)"
    ]


def test_the_command_line_exits_non_zero_on_a_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert "is ready to tag" in capsys.readouterr().out
    assert main(["check", "9.9.9"]) == 1
    assert "not 9.9.9" in capsys.readouterr().err
    assert main([]) == 2


def test_the_release_workflow_checks_then_tags() -> None:
    workflow = load_yaml(GITHUB_WORKFLOWS / "release-module.yml")
    (job,) = workflow["jobs"].values()
    runs = [str(step.get("run", "")) for step in job["steps"]]
    check = next(i for i, run in enumerate(runs) if "tests.module_release check" in run)
    tests = next(i for i, run in enumerate(runs) if "bash .ci/run" in run)
    tag = next(i for i, run in enumerate(runs) if "gh release create" in run)
    assert tests < check < tag
    assert job["permissions"] == {"contents": "write"}
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert (
        yaml.safe_dump(workflow["concurrency"])
        == "cancel-in-progress: false\ngroup: release-module\n"
    )
