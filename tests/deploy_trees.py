"""Copies of the deploy/ tree to break, and the service its manifests run, for the deploy tests.

Every check of pipelines_cli.deploy_checks must be seen failing on a broken
tree; these make one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.config import ServiceConfig, load_config
from tests.conftest import REFERENCE_SERVICE, ROOT

DEPLOY = ROOT / "deploy"
# The release repository the reference service's overlays name.
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service"


def reference_service() -> ServiceConfig:
    """The ``[service]`` of the reference service, which deploy/ runs."""
    return load_config(REFERENCE_SERVICE / "pipelines.toml").service


def copy_tree(deploy_root: Path, parent: Path) -> Path:
    """A copy of ``deploy_root`` at ``parent/deploy``, so repo-relative paths still hold."""
    copy = parent / "deploy"
    shutil.copytree(deploy_root, copy)
    return copy


def replace_once(file: Path, old: str, new: str) -> None:
    """Replace ``old`` in ``file``; fail loudly if it is gone, so a test cannot go vacuous."""
    text = file.read_text(encoding="utf-8")
    if old not in text:
        raise AssertionError(f"{file} no longer contains {old!r}: update the test")
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
