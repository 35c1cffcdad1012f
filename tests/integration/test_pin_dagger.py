"""tools/pin_dagger.py against a loopback dl.dagger.io and a loopback registry.

The registry answers as a Docker distribution registry does for an anonymous
pull: 401 with a Bearer challenge, a token from the realm, then the manifest
with its Docker-Content-Digest. The tool runs on a copy of the files it
writes, and what it writes must pass the repository's own checks (the engine
image pinned by digest, every install copy verbatim).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.ci_policies import install_problems
from tests.conftest import ROOT
from tests.unit.test_image_pins import engine_problems
from tools import pin_dagger

VERSION = "0.21.11"
TOKEN = "anonymous-pull-token"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [],
    }
).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
AMD64, ARM64 = "a" * 64, "b" * 64


@dataclass
class Served:
    """What the loopback servers answer; tests change it between runs."""

    checksums: dict[str, str] = field(
        default_factory=lambda: {
            f"dagger_v{VERSION}_linux_amd64.tar.gz": AMD64,
            f"dagger_v{VERSION}_linux_arm64.tar.gz": ARM64,
            f"dagger_v{VERSION}_darwin_arm64.tar.gz": "c" * 64,
        }
    )
    digest_header: str | None = DIGEST
    token_answer: bytes = json.dumps({"token": TOKEN}).encode()
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def served() -> Iterator[tuple[Served, str]]:
    state = Served()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``state.requests`` instead."""

        def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            state.requests.append(url.path)
            if url.path == f"/dagger/releases/{VERSION}/checksums.txt":
                lines = "".join(f"{sha}  {name}\n" for name, sha in state.checksums.items())
                self.answer(200, lines.encode())
            elif url.path == "/token":
                query = parse_qs(url.query)
                if query.get("scope") != ["repository:engine:pull"]:
                    self.answer(400, b"{}")
                else:
                    self.answer(200, state.token_answer)
            elif url.path == f"/v2/engine/manifests/v{VERSION}":
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    realm = f"http://127.0.0.1:{port}/token"
                    challenge = (
                        f'Bearer realm="{realm}",service="registry.dagger.io",'
                        'scope="repository:engine:pull"'
                    )
                    self.answer(401, b"{}", {"WWW-Authenticate": challenge})
                    return
                headers = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
                if state.digest_header is not None:
                    headers["Docker-Content-Digest"] = state.digest_header
                self.answer(200, MANIFEST, headers)
            else:
                self.answer(404, b"not found")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """The files the tool reads and writes, copied from this checkout."""
    for path in (*pin_dagger.INSTALL_COPIES, pin_dagger.ENGINE_VALUES):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    return tmp_path


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(path): (root / path).read_text(encoding="utf-8")
        for path in (*pin_dagger.INSTALL_COPIES, pin_dagger.ENGINE_VALUES)
    }


def pin(root: Path, base: str, *extra: str) -> int:
    return pin_dagger.main(
        ["--downloads", f"{base}/dagger/releases", "--registry", base, *extra], root=root
    )


def test_pins_every_copy_and_the_engine_then_changes_nothing(
    served: tuple[Served, str], repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, base = served
    assert pin(repository, base) == 0
    out = capsys.readouterr().out
    assert f"dagger {VERSION}: pinned" in out
    tarballs, engine = pin_dagger.committed(repository, VERSION)
    assert len(tarballs) == 6  # tools/, GitLab, Jenkins, and the reusable workflow's 3 jobs
    assert all(found == {"amd64": AMD64, "arm64": ARM64} for found in tarballs.values())
    assert engine == {str(pin_dagger.ENGINE_VALUES): DIGEST}
    # What it wrote passes the repository's own checks.
    values = repository / pin_dagger.ENGINE_VALUES
    assert engine_problems(values.parent, repository) == []
    script = (repository / pin_dagger.INSTALL_SCRIPT).read_text(encoding="utf-8")
    assert f"  {VERSION}/amd64) pinned={AMD64} ;;" in script
    for copy in pin_dagger.INSTALL_COPIES[1:]:
        text = (repository / copy).read_text(encoding="utf-8")
        assert text.count(f"pinned={AMD64} ;;") >= 1
    # The registry was asked with the token from its own challenge.
    assert state.requests.count(f"/v2/engine/manifests/v{VERSION}") == 2
    assert "/token" in state.requests

    before = snapshot(repository)
    assert pin(repository, base) == 0
    assert "every pin is committed and matches the servers" in capsys.readouterr().out
    assert pin(repository, base, "--check") == 0
    assert snapshot(repository) == before


def test_check_reports_what_is_not_pinned_and_writes_nothing(
    served: tuple[Served, str], repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, base = served
    before = snapshot(repository)
    assert pin(repository, base, "--check") == 1
    out = capsys.readouterr().out
    assert f"dagger {VERSION}: not pinned yet:" in out
    assert f"deploy/dagger-engine/values.yaml: engine image -> {DIGEST}" in out
    assert f"tools/install-dagger.sh: linux/arm64 tarball -> {ARM64}" in out
    assert snapshot(repository) == before


def test_a_committed_pin_the_server_now_contradicts_is_never_overwritten(
    served: tuple[Served, str], repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, base = served
    assert pin(repository, base) == 0
    pinned = snapshot(repository)
    state.checksums[f"dagger_v{VERSION}_linux_amd64.tar.gz"] = "d" * 64
    assert pin(repository, base) == 1
    err = capsys.readouterr().err
    assert "a release's bytes never change" in err
    assert (
        f"tools/install-dagger.sh: linux/amd64 tarball is pinned {AMD64}, served {'d' * 64}" in err
    )
    assert snapshot(repository) == pinned


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("no arm64", f"lists no dagger_v{VERSION}_linux_arm64.tar.gz"),
        ("wrong header", "is not the served bytes'"),
        ("unknown version", "HTTP 404; is 0.21.11 a released version?"),
        ("a login page for a token", "/token: the answer carries no token"),
    ],
)
def test_nothing_is_written_unless_every_value_was_read(
    change: str,
    says: str,
    served: tuple[Served, str],
    repository: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, base = served
    downloads = f"{base}/dagger/releases"
    if change == "no arm64":
        del state.checksums[f"dagger_v{VERSION}_linux_arm64.tar.gz"]
    elif change == "wrong header":
        state.digest_header = "sha256:" + "0" * 64
    elif change == "a login page for a token":
        state.token_answer = b"<html>sign in</html>"
    else:
        downloads = f"{base}/elsewhere"
    before = snapshot(repository)
    code = pin_dagger.main(["--downloads", downloads, "--registry", base], root=repository)
    assert code == 1
    assert says in capsys.readouterr().err
    assert snapshot(repository) == before


def test_an_unreachable_server_is_an_error_not_a_traceback(
    served: tuple[Served, str], repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, base = served
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    before = snapshot(repository)
    code = pin_dagger.main(
        ["--downloads", f"{base}/dagger/releases", "--registry", closed], root=repository
    )
    assert code == 1
    assert "pin_dagger: ConnectError:" in capsys.readouterr().err
    assert snapshot(repository) == before


def test_plain_http_is_refused_beyond_loopback(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = pin_dagger.main(["--downloads", "http://dl.example.com/releases"], root=repository)
    assert code == 1
    assert "pins are read over https only" in capsys.readouterr().err


def test_the_checked_in_copies_are_all_in_place() -> None:
    # Every line the tool writes exists in this checkout, once per copy.
    tarballs, engine = pin_dagger.committed(ROOT, VERSION)
    assert len(tarballs) == 6
    assert list(engine) == [str(pin_dagger.ENGINE_VALUES)]
    script = (ROOT / pin_dagger.INSTALL_SCRIPT).read_text(encoding="utf-8")
    assert install_problems(script, "tools/install-dagger.sh") == []
