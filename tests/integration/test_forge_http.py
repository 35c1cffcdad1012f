"""The forge HTTP layer against real servers on loopback: deadlines, redaction, shapes, pages.

A small threading server trickles bytes (every read arrives well inside
httpx's timeout, so only an overall deadline stops it); pytest-httpserver
echoes tokens in escaped forms, answers bodies of the wrong shape, and pages.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from pytest_httpserver import HTTPServer

from pipelines.forge import ForgeError, RetryPolicy
from pipelines.forge.github import GitHubForge
from pipelines.forge.http import MAX_BODY
from pipelines.statuses import CommitStatus
from pipelines.values import CommitId
from tests.integration.forge_clients import TOKEN, Sleeps, github, gitlab

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
STATUS = CommitStatus(sha=CommitId.parse(SHA), state="success", context="pipelines/pre-merge")
STATUSES = f"/api/v3/repos/acme/hello-service/statuses/{SHA}"


@contextmanager
def trickling_server(*, interval: float, total: float) -> Iterator[str]:
    """A server that sends its headers at once, then one byte every ``interval`` seconds."""

    class Trickle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(int(total / interval) + 2))
            self.end_headers()
            self.wfile.write(b"{")
            self.wfile.flush()
            stop = time.monotonic() + total
            try:
                while time.monotonic() < stop:
                    time.sleep(interval)
                    self.wfile.write(b" ")
                    self.wfile.flush()
            except OSError:  # the client hung up: what the deadline is for
                return

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v3"
    finally:
        server.shutdown()
        server.server_close()


def client_at(api_url: str, sleeps: Sleeps, **retry: float) -> GitHubForge:
    return GitHubForge(
        repository="acme/hello-service",
        token=TOKEN,
        api_url=api_url,
        retry=RetryPolicy(**retry),  # type: ignore[arg-type]
        sleep=sleeps,
    )


# --- deadlines -----------------------------------------------------------------------------


async def test_a_trickling_server_is_cut_off_at_the_request_deadline(sleeps: Sleeps) -> None:
    # Each byte comes within the 2 s timeout, so the timeout alone waits out all 20 s.
    with trickling_server(interval=0.2, total=20) as api_url:
        forge = client_at(api_url, sleeps, attempts=1, timeout=2.0, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(ForgeError) as caught:
            await forge.post_status(STATUS)
        elapsed = time.monotonic() - started
    assert elapsed < 4.0
    assert "no complete answer within 1.0s" in caught.value.problem
    assert "trickling" in caught.value.problem


async def test_retries_stop_at_the_operation_deadline(sleeps: Sleeps) -> None:
    with trickling_server(interval=0.1, total=20) as api_url:
        forge = client_at(
            api_url,
            sleeps,
            attempts=20,
            base_delay=0.05,
            timeout=2.0,
            deadline=0.5,
            operation_deadline=1.2,
        )
        started = time.monotonic()
        with pytest.raises(ForgeError) as caught:
            await forge.post_status(STATUS)
        elapsed = time.monotonic() - started
    # Three attempts fit in 1.2 s (the last one cut to what is left), not twenty.
    assert elapsed < 3.0
    assert 2 <= len(sleeps.delays) + 1 <= 4
    assert "no answer after" in caught.value.problem


async def test_a_retry_is_not_waited_for_past_the_operation_deadline(
    server: HTTPServer, sleeps: Sleeps
) -> None:
    server.expect_request(STATUSES).respond_with_data(
        "busy", status=503, headers={"Retry-After": "100"}
    )
    forge = github(server, sleeps, attempts=5, max_delay=200, operation_deadline=30)
    with pytest.raises(ForgeError) as caught:
        await forge.post_status(STATUS)
    assert sleeps.delays == []
    assert len(server.log) == 1
    assert "would pass the deadline of 30s for the whole call" in caught.value.problem


async def test_an_endless_body_is_refused_at_its_size_cap(sleeps: Sleeps) -> None:
    class Huge(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(201)
            self.send_header("Content-Length", str(MAX_BODY * 4))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(MAX_BODY * 4 // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                return

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Huge)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        forge = client_at(f"http://127.0.0.1:{server.server_address[1]}/api/v3", sleeps)
        with pytest.raises(ForgeError, match="larger than 8 MiB"):
            await forge.post_status(STATUS)
    finally:
        server.shutdown()
        server.server_close()


# --- redaction of echoed tokens --------------------------------------------------------------

SPECIAL = "ghp_Ab/+x\"Q7'z&9"


@pytest.mark.parametrize(
    "echo",
    [
        SPECIAL,
        json.dumps(SPECIAL)[1:-1],
        json.dumps(SPECIAL).replace("/", "\\/")[1:-1],
        "".join(f"\\u{ord(c):04x}" for c in SPECIAL),
        quote(SPECIAL, safe=""),
        quote(SPECIAL, safe="").lower(),
        html.escape(SPECIAL),
        "Basic " + base64.b64encode(f"x-access-token:{SPECIAL}".encode()).decode(),
        "Basic " + base64.b64encode(f"oauth2:{SPECIAL}".encode()).decode(),
    ],
    ids=["raw", "json", "json-slash", "unicode", "percent", "percent-lower", "html", "basic", "b2"],
)
async def test_an_echoed_token_is_redacted_in_escaped_forms(
    server: HTTPServer, sleeps: Sleeps, echo: str
) -> None:
    server.expect_request(STATUSES).respond_with_data(f"bad credentials: {echo} (end)", status=401)
    forge = GitHubForge(
        repository="acme/hello-service",
        token=SPECIAL,
        api_url=server.url_for("/api/v3"),
        retry=RetryPolicy(attempts=1),
        sleep=sleeps,
    )
    with pytest.raises(ForgeError) as caught:
        await forge.post_status(STATUS)
    message = str(caught.value)
    assert "***" in message
    assert echo not in message
    assert "(end)" in message  # the rest of the answer is still quoted
    if not echo.startswith("Basic "):
        # Nothing of the echo of 6 characters or more survives.
        assert not any(echo[i : i + 6] in message for i in range(len(echo) - 5))


async def test_the_token_near_the_cut_of_an_excerpt_leaves_no_fragment(
    server: HTTPServer, sleeps: Sleeps
) -> None:
    for offset in (270, 285, 295, 299, 300):
        server.clear()
        body = "x" * offset + TOKEN + "y" * 400
        server.expect_request(STATUSES).respond_with_data(body, status=401)
        with pytest.raises(ForgeError) as caught:
            await github(server, sleeps, attempts=1).post_status(STATUS)
        message = str(caught.value)
        assert not any(TOKEN[i : i + 6] in message for i in range(len(TOKEN) - 5)), offset


# --- answers of an unexpected shape ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["<html>Sign in to the proxy</html>", "[]", '{"type": "file"}', '{"type": 7}', ""],
    ids=["html", "list", "missing-keys", "wrong-type", "empty"],
)
async def test_a_2xx_answer_of_another_shape_is_a_forge_error(
    server: HTTPServer, sleeps: Sleeps, body: str
) -> None:
    server.expect_request(
        "/api/v3/repos/acme/hello-service/contents/deploy/kustomization.yaml"
    ).respond_with_data(body, status=200, content_type="application/json")
    with pytest.raises(ForgeError) as caught:
        await github(server, sleeps).read_file("deploy/kustomization.yaml", ref="main")
    assert "unexpected answer (HTTP 200)" in caught.value.problem
    assert caught.value.fix is not None
    assert "REST API" in caught.value.fix


async def test_gitlab_merge_request_without_a_web_url_is_a_forge_error(
    server: HTTPServer, sleeps: Sleeps
) -> None:
    server.expect_request(
        "/api/v4/projects/acme/platform/hello-service/merge_requests", method="POST"
    ).respond_with_json({"id": 3}, status=201)
    with pytest.raises(ForgeError, match=r"expected web_url as a string"):
        await gitlab(server, sleeps).open_change_request(
            branch="promote/x", base="main", title="t", body="b"
        )


# --- pages -------------------------------------------------------------------------------------


async def test_github_reads_every_page_of_pull_requests(server: HTTPServer, sleeps: Sleeps) -> None:
    path = "/api/v3/repos/acme/hello-service/pulls"
    second = server.url_for(path) + "?per_page=100&page=2&head=acme%3Ax&base=main&state=open"
    server.expect_ordered_request(
        path, query_string={"per_page": "100", "head": "acme:x", "base": "main", "state": "open"}
    ).respond_with_json([], headers={"Link": f'<{second}>; rel="next"'})
    server.expect_ordered_request(
        path,
        query_string={
            "per_page": "100",
            "page": "2",
            "head": "acme:x",
            "base": "main",
            "state": "open",
        },
    ).respond_with_json([{"html_url": "https://github.example.com/acme/hello-service/pull/9"}])
    found = await github(server, sleeps).find_change_request(branch="x", base="main")
    assert found == "https://github.example.com/acme/hello-service/pull/9"
    assert len(server.log) == 2


def test_the_trickling_server_really_trickles() -> None:
    # The deadline tests prove something only if bytes keep coming inside the timeout.
    with trickling_server(interval=0.1, total=0.6) as api_url:
        port = int(api_url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            arrivals = []
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                arrivals.append(time.monotonic())
    assert len(arrivals) >= 4
    assert max(b - a for a, b in itertools.pairwise(arrivals)) < 0.5


async def test_a_url_httpx_refuses_is_a_forge_error_not_a_traceback(
    server: HTTPServer, sleeps: Sleeps
) -> None:
    # CommitId.parse refuses "sha\n" at the edge; were one to slip past it, the
    # request's URL would hold a newline, which httpx refuses with InvalidURL.
    unchecked = CommitStatus(sha=CommitId(SHA + "\n"), state="success", context="c")
    with pytest.raises(ForgeError, match="the request URL is invalid"):
        await github(server, sleeps).post_status(unchecked)
    assert server.log == []
