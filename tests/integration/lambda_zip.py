"""The cost saver as Lambda runs it: its zip alone, against moto's HTTP server.

:func:`build_zip` builds (infra/cost-saver/package.py) and unpacks the zip;
:func:`run_alone` runs Python code in a fresh interpreter whose import path
holds only the unpacked zip and the standard library: the zip bundles boto3
and botocore itself. ``-I -S`` keep out the current directory, ``PYTHON*``
variables, site-packages and every ``.pth`` file, the project's editable
install among them, so nothing of this repository or of the virtualenv can
leak in: a module the zip lacks fails to import.

:func:`moto_server` starts moto's ``ThreadedMotoServer`` on loopback with an
empty account, for the handler to reach through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_SCRIPT = ROOT / "infra" / "cost-saver" / "package.py"


def build_zip(tmp_path: Path) -> tuple[list[str], Path]:
    """The names the zip holds, and the directory it was unpacked to."""
    archive = tmp_path / "cost-saver.zip"
    subprocess.run(
        [sys.executable, str(PACKAGE_SCRIPT), str(archive)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    unpacked = tmp_path / "function"
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        opened.extractall(unpacked)
    return names, unpacked


def run_alone(
    unpacked: Path, code: str, *, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` where only the zip and the standard library can be imported."""
    path_setup = f"import sys\nsys.path.insert(0, {str(unpacked)!r})\n"
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", path_setup + code],
        capture_output=True,
        text=True,
        check=False,
        cwd=unpacked.parent,
        env=dict(os.environ if env is None else env),
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's HTTP server on loopback, its account emptied; yields its URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        # moto keeps its state per process, across servers: start from an empty account.
        httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
        yield url
    finally:
        server.stop()
