"""Branch.parse agrees with git itself on which branch names are valid.

The names come from the unit tests' table of refused names plus names git
accepts; ``git check-ref-format --branch`` is asked about each one.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pipelines.errors import InputError
from pipelines.values import Branch
from tests.unit.test_values import BAD_REFS

GOOD = ["main", "feature/ABC-12_New.UI", "release/2026.1", "Ünïcode-Brånch", "a-b_c", "x@y"]


def git_accepts(name: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, check=False
    )
    return result.returncode == 0


# NUL cannot be an argument; "@" and "HEAD" name the current branch to
# `--branch` (git expands them), and are refused here as names of their own.
ASKED = [name for name, _ in BAD_REFS if name not in ("a\x00b", "@", "HEAD")]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("name", ASKED + GOOD)
def test_branch_parse_agrees_with_git_check_ref_format(name: str) -> None:
    # refs/heads/ is ours to drop; git sees the bare name.
    bare = name.removeprefix("refs/heads/")
    try:
        Branch.parse(name)
    except InputError:
        ours = False
    else:
        ours = True
    assert ours == git_accepts(bare), name
