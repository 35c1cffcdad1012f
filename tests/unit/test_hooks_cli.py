"""pipelines_cli.hooks: which services a commit's files belong to, and what each hook runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines_cli import hooks


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    """A root service, a service below it, and a folder that belongs to the root."""
    for service in (tmp_path, tmp_path / "services" / "api"):
        service.mkdir(parents=True, exist_ok=True)
        (service / "pipelines.toml").write_text('[service]\nname = "s"\nport = 80\n')
    (tmp_path / "tools").mkdir()
    return tmp_path


def test_each_file_belongs_to_the_nearest_service_above_it(monorepo: Path) -> None:
    files = [
        "services/api/src/app.py",
        "services/api/pipelines.toml",
        "tools/x.sh",
        "Dockerfile",
        "services/api/Dockerfile",
    ]
    assert hooks.services_of(files, root=monorepo) == [Path("services/api"), Path()]


def test_files_outside_every_service_belong_to_none(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "pipelines.toml").write_text("")
    assert hooks.services_of(["docs/index.md", "README.md"], root=tmp_path) == []


def test_a_hook_with_no_service_to_check_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert hooks.main(["validate", "README.md"]) == 0
    assert hooks.main(["lint", "src/app.py"]) == 0


def test_validate_reports_every_service_and_fails_if_one_fails(
    monorepo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (monorepo / "services" / "api" / "pipelines.toml").write_text('[service]\nname = "s"\n')
    monkeypatch.chdir(monorepo)
    code = hooks.main(["validate", "services/api/pipelines.toml", "pipelines.toml"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"services{os.sep}api{os.sep}pipelines.toml: service.port" in err
    # The root service was checked too: its missing Dockerfile is named.
    assert "Dockerfile" in err


def test_service_names_the_services_instead_of_the_files(
    monorepo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (monorepo / "pipelines.toml").write_text('[service]\nname = "s"\nport = "x"\n')
    monkeypatch.chdir(monorepo)
    assert hooks.main(["validate", "--service", "services/api", "pipelines.toml"]) == 1
    err = capsys.readouterr().err
    assert f"services{os.sep}api" in err  # the named service was checked (no Dockerfile)
    assert "service.port" not in err  # the root's broken port was not: no file decides
