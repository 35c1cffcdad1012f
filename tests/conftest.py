"""Shared test setup.

Tiers live in folders (see docs/architecture.md): ``unit``, ``plan`` and
``registration`` run with the isolation guard below; ``integration`` runs
real validators and loopback servers; ``engine`` needs a Dagger engine.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_SERVICE = ROOT / "examples" / "hello-service"
# Every reference service, one per language: hello (Python), node, go.
REFERENCE_SERVICES = (
    REFERENCE_SERVICE,
    ROOT / "examples" / "node-service",
    ROOT / "examples" / "go-service",
)

# Tiers whose tests must touch neither the network nor another process.
_ISOLATED_TIERS = {"unit", "plan", "registration"}


class IsolationError(AssertionError):
    """A test of an isolated tier tried to use the network or a subprocess."""


@pytest.fixture(autouse=True)
def _isolation_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make an accidental socket connection or subprocess fail loudly.

    Only AF_INET/AF_INET6 connections are refused: the asyncio event loop's
    own socketpair must keep working.
    """
    tier = Path(str(request.node.path)).relative_to(ROOT / "tests").parts[0]
    if tier not in _ISOLATED_TIERS:
        return

    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise IsolationError(f"{tier} tests must not open network connections: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    def guarded_popen(*args: object, **_kwargs: object) -> None:
        raise IsolationError(f"{tier} tests must not start processes: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect)
    monkeypatch.setattr(subprocess.Popen, "_execute_child", guarded_popen)
    monkeypatch.setattr(os, "system", guarded_popen)


@pytest.fixture
def reference_service() -> Path:
    return REFERENCE_SERVICE


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test reach real AWS with a developer's credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
