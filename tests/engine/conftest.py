"""Engine tier: real `dagger call` runs on the reference service.

They need the dagger CLI and a reachable engine (Docker, or
_EXPERIMENTAL_DAGGER_RUNNER_HOST). Where neither is available the tests are
skipped and the reason is printed in pytest's summary (``-ra``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache

import pytest

from tests.conftest import ROOT

DAGGER_VERSION = "v0.21.11"


@cache
def engine_unavailable() -> str | None:
    """Why the engine tier cannot run here, or None when it can."""
    cli = shutil.which("dagger")
    if cli is None:
        return "no `dagger` CLI on PATH (install dagger " + DAGGER_VERSION + " to run this tier)"
    if not os.environ.get("_EXPERIMENTAL_DAGGER_RUNNER_HOST") and shutil.which("docker") is None:
        return "no container runtime: neither docker nor _EXPERIMENTAL_DAGGER_RUNNER_HOST"
    probe = subprocess.run(
        [cli, "core", "version"], capture_output=True, text=True, timeout=300, check=False
    )
    if probe.returncode != 0:
        return f"the Dagger engine did not answer: {probe.stderr.strip()[-300:]}"
    return None


@pytest.fixture
def dagger_call() -> object:
    reason = engine_unavailable()
    if reason:
        pytest.skip(reason)

    def call(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command: Sequence[str] = ["dagger", "call", "--progress=plain", *args]
        return subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=3600, check=check
        )

    return call
