"""The ticket-id rule of the commit-msg hook and the lint step."""

from __future__ import annotations

import pytest

from pipelines.commit_msg import (
    DEFAULT_TICKET_PATTERN,
    check_commit_message,
    compile_pattern,
    subject_of,
    ticket_pattern,
)
from pipelines.errors import ConfigError

DEFAULT = compile_pattern(DEFAULT_TICKET_PATTERN, source="default", key=None)


@pytest.mark.parametrize(
    "subject",
    [
        "ABC-123 Add the readiness probe",
        "Add the readiness probe (ABC-123)",
        "[OPS-7] Rotate the registry token",
        "fix: handle SIGTERM, closes PLAT2-1024",
        "ABC-1: one digit is enough",
    ],
)
def test_a_subject_with_a_ticket_id_is_accepted_on_any_branch(subject: str) -> None:
    verdict = check_commit_message(subject, branch="main", pattern=DEFAULT)
    assert verdict.accepted, verdict.reason


@pytest.mark.parametrize(
    "subject",
    [
        "Add the readiness probe",
        "abc-123 lowercase is not a ticket id",
        "A-123 a project key has two characters at least",
        "ABC-x no number",
        "ABC123 no dash",
        "xABC-123 glued to a word",
        "ABC-123x glued to a word",
    ],
)
def test_a_subject_without_a_ticket_id_is_refused_on_a_branch_without_one(subject: str) -> None:
    verdict = check_commit_message(subject, branch="feature/readiness", pattern=DEFAULT)
    assert not verdict.accepted
    assert "no ticket id" in verdict.reason


@pytest.mark.parametrize(
    "branch",
    ["feature/ABC-123-short-name", "ABC-123", "bugfix/OPS-7", "users/ana/PLAT-1024_probe"],
)
def test_a_branch_with_a_ticket_id_carries_any_subject(branch: str) -> None:
    verdict = check_commit_message("Add the readiness probe", branch=branch, pattern=DEFAULT)
    assert verdict.accepted, verdict.reason
    assert branch in verdict.reason


@pytest.mark.parametrize("branch", ["feature/abc-123-lowercase", "main", "HEAD", None])
def test_a_branch_without_a_ticket_id_does_not_carry_the_subject(branch: str | None) -> None:
    verdict = check_commit_message("Add the readiness probe", branch=branch, pattern=DEFAULT)
    assert not verdict.accepted


@pytest.mark.parametrize(
    "subject",
    [
        "Merge branch 'feature/x' into main",
        "Merge pull request #42 from acme/feature-x",
        "Merge remote-tracking branch 'origin/main'",
        'Revert "Add the readiness probe"',
        "fixup! Add the readiness probe",
        "squash! Add the readiness probe",
        "amend! Add the readiness probe",
    ],
)
def test_merge_revert_fixup_and_squash_commits_pass(subject: str) -> None:
    verdict = check_commit_message(subject, branch="main", pattern=DEFAULT)
    assert verdict.accepted, verdict.reason


@pytest.mark.parametrize(
    "subject", ["Merged the probe", "Reverting the probe", "Revert the probe", "fixup: probe"]
)
def test_words_that_only_look_like_generated_subjects_do_not_pass(subject: str) -> None:
    assert not check_commit_message(subject, branch="main", pattern=DEFAULT).accepted


def test_only_the_subject_counts_not_the_body() -> None:
    message = "Add the readiness probe\n\nPart of ABC-123.\n"
    assert not check_commit_message(message, branch="main", pattern=DEFAULT).accepted


def test_git_comments_and_the_verbose_diff_are_not_the_subject() -> None:
    message = (
        "# Please enter the commit message for your changes.\n"
        "\n"
        "Add the readiness probe\n"
        "# ------------------------ >8 ------------------------\n"
        "diff --git a/x b/x\n"
        "+ABC-123\n"
    )
    assert subject_of(message) == "Add the readiness probe"
    assert not check_commit_message(message, branch="main", pattern=DEFAULT).accepted


def test_an_empty_message_is_refused() -> None:
    verdict = check_commit_message("# only a comment\n\n", branch="feature/ABC-1", pattern=DEFAULT)
    assert not verdict.accepted
    assert "empty" in verdict.reason


def test_the_refusal_says_how_to_fix_it() -> None:
    reason = check_commit_message("Add probe", branch="feature/probe", pattern=DEFAULT).reason
    assert "'Add probe'" in reason
    assert "'feature/probe'" in reason
    assert DEFAULT_TICKET_PATTERN in reason
    # An accepted example subject, the branch rename and both ways to change the pattern.
    assert 'git commit -m "ABC-123 Add the readiness probe"' in reason
    assert "git branch -m feature/ABC-123-" in reason
    assert "TICKET_PATTERN=" in reason
    assert "[tool.portable-pipelines] ticket_pattern" in reason


def test_the_refusal_on_a_detached_head_does_not_blame_a_branch() -> None:
    reason = check_commit_message("Add probe", branch="HEAD", pattern=DEFAULT).reason
    assert "no branch is checked out" in reason


def test_the_default_pattern_is_used_without_settings() -> None:
    pattern = ticket_pattern(environ={}, pyproject_text=None)
    assert pattern.text == DEFAULT_TICKET_PATTERN


def test_the_pattern_comes_from_pyproject() -> None:
    text = "[tool.portable-pipelines]\nticket_pattern = 'OPS-[0-9]+'\n"
    pattern = ticket_pattern(environ={}, pyproject_text=text)
    assert check_commit_message("OPS-9 probe", branch=None, pattern=pattern).accepted
    assert not check_commit_message("ABC-9 probe", branch=None, pattern=pattern).accepted


def test_a_pyproject_without_the_setting_keeps_the_default() -> None:
    text = "[project]\nname = 'svc'\n[tool.ruff]\nline-length = 100\n"
    assert ticket_pattern(environ={}, pyproject_text=text).text == DEFAULT_TICKET_PATTERN


def test_the_environment_wins_over_pyproject() -> None:
    text = "[tool.portable-pipelines]\nticket_pattern = 'OPS-[0-9]+'\n"
    pattern = ticket_pattern(environ={"TICKET_PATTERN": "#[0-9]+"}, pyproject_text=text)
    assert check_commit_message("Fix the probe (#42)", branch=None, pattern=pattern).accepted
    assert not check_commit_message("OPS-9 probe", branch=None, pattern=pattern).accepted


def test_an_invalid_pattern_names_where_it_was_set() -> None:
    with pytest.raises(ConfigError) as raised:
        ticket_pattern(environ={"TICKET_PATTERN": "OPS-[0-9"}, pyproject_text=None)
    assert raised.value.file == "environment"
    assert raised.value.key == "TICKET_PATTERN"

    text = "[tool.portable-pipelines]\nticket_pattern = '('\n"
    with pytest.raises(ConfigError) as raised:
        ticket_pattern(environ={}, pyproject_text=text, pyproject_file="svc/pyproject.toml")
    assert raised.value.file == "svc/pyproject.toml"
    assert raised.value.key == "tool.portable-pipelines.ticket_pattern"
    assert "position 0" in raised.value.problem


@pytest.mark.parametrize("pattern", [".*", "(ABC-[0-9]+)?", ""])
def test_a_pattern_that_lets_everything_pass_is_refused(pattern: str) -> None:
    text = f"[tool.portable-pipelines]\nticket_pattern = '{pattern}'\n"
    with pytest.raises(ConfigError, match="ticket_pattern"):
        ticket_pattern(environ={}, pyproject_text=text)


def test_a_pattern_that_is_not_a_string_is_refused() -> None:
    text = "[tool.portable-pipelines]\nticket_pattern = 123\n"
    with pytest.raises(ConfigError, match="expected a non-empty string"):
        ticket_pattern(environ={}, pyproject_text=text)
