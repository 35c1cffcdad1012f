"""The commit-msg hook's edge: ``python -m pipelines_cli.commit_msg <msg-file>``.

The rule is tested in test_commit_msg.py; here, what the tool reads and how
it ends: 0 accepted, 1 refused, 2 undecided, each with at most one message
on stderr and never a traceback. tests/integration/test_hooks.py runs it as
the installed git hook.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipelines_cli import commit_msg
from pipelines_cli.commit_msg import main


@pytest.fixture
def message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TICKET_PATTERN", raising=False)
    file = tmp_path / "COMMIT_EDITMSG"
    file.write_text("Add the readiness probe\n", encoding="utf-8")
    return file


def test_the_cli_takes_the_branch_as_an_argument(
    tmp_path: Path, message: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --branch spares asking git: a CI checkout is detached, and this tier runs no process.
    assert main([str(message), "--branch", "feature/ABC-123-probe"]) == 0
    assert main([str(message), "--branch", "feature/probe"]) == 1
    assert "commit refused" in capsys.readouterr().err

    (tmp_path / "pyproject.toml").write_text(
        "[tool.portable-pipelines]\nticket_pattern = '['\n", encoding="utf-8"
    )
    assert main([str(message), "--branch", "feature/ABC-123-probe"]) == 2
    assert "pyproject.toml: tool.portable-pipelines.ticket_pattern" in capsys.readouterr().err


def test_the_pattern_comes_from_the_environment_first(
    tmp_path: Path, message: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.portable-pipelines]\nticket_pattern = 'OPS-[0-9]+'\n", encoding="utf-8"
    )
    assert main([str(message), "--branch", "feature/OPS-7-probe"]) == 0

    monkeypatch.setenv("TICKET_PATTERN", "PLAT-[0-9]+")
    assert main([str(message), "--branch", "feature/OPS-7-probe"]) == 1
    assert main([str(message), "--branch", "feature/PLAT-7-probe"]) == 0


@pytest.mark.parametrize("content", [None, b"Add the probe \xff\n"], ids=["missing", "not-utf-8"])
def test_a_message_file_it_cannot_read_is_one_message_and_exit_2(
    tmp_path: Path, message: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    unreadable = tmp_path / "MESSAGE"
    if content is not None:
        unreadable.write_bytes(content)

    assert main([str(unreadable), "--branch", "feature/ABC-1-probe"]) == 2

    error = capsys.readouterr().err
    assert error.startswith(f"commit-msg: {unreadable}: cannot be read: ")
    assert "\n  fix: pass the message file git hands the hook" in error
    assert "Traceback" not in error


def test_without_git_the_branch_is_unknown_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_git(*_args: object, **_kwargs: object) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)

    assert commit_msg.current_branch() is None
