"""The isolation guard of the unit tier really refuses the network and processes."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.conftest import IsolationError


def test_guard_refuses_a_tcp_connection() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(IsolationError, match="network"),
    ):
        sock.connect(("127.0.0.1", 9))


def test_guard_refuses_a_subprocess() -> None:
    with pytest.raises(IsolationError, match="processes"):
        subprocess.run(["true"], check=True)


def test_guard_keeps_local_socketpairs_working() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
