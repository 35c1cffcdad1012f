"""The HTTP listener, JSON logs and the graceful SIGTERM drain.

Drain sequence on SIGTERM (or SIGINT):
1. /readyz answers 503 at once, so load balancers stop routing new traffic here;
2. after SHUTDOWN_DELAY_SECONDS (default 0) the listener closes: new connections
   are refused;
3. requests already accepted run to completion;
4. the process exits 0 once they are done, or 1 when DRAIN_SECONDS ran out first
   and some were abandoned.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hello_service.app import HelloApp, Response
from hello_service.config import ConfigError, Settings, describe_database
from hello_service.postgres import PostgresGreetingRepository

logger = logging.getLogger("hello_service")

MAX_BODY_BYTES = 8 * 1024
# A client that stalls longer than this mid-request is dropped, so one slow
# client cannot hold a worker thread (or the drain) forever.
CLIENT_TIMEOUT_SECONDS = 15.0

# What socketserver hands to process_request (a datagram pair only for UDP servers).
_Request = socket.socket | tuple[bytes, socket.socket]


class RequestHandler(BaseHTTPRequestHandler):
    # One request per connection: every open connection is an in-flight request,
    # so the drain never waits on idle keep-alive sockets.
    protocol_version = "HTTP/1.0"
    server_version = "hello-service"
    sys_version = ""
    timeout = CLIENT_TIMEOUT_SECONDS
    server: HelloServer

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._send(Response(status=411, body={"error": "Content-Length is required"}))
            return
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            self._send(Response(status=413, body={"error": f"body is over {MAX_BODY_BYTES} bytes"}))
            return
        self._dispatch(self.rfile.read(length))

    def _dispatch(self, body: bytes) -> None:
        started = time.monotonic()
        response = self.server.app.handle(self.command, self.path, body)
        self._send(response)
        logger.info(
            "request",
            extra={
                "method": self.command,
                "path": self.path.split("?", 1)[0],
                "status": response.status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )

    def _send(self, response: Response) -> None:
        payload = response.encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Access lines are logged as JSON, with timings, by _dispatch."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name.
        # Only protocol errors reach here now (malformed request line, timeouts).
        logger.warning(format % args)


class HelloServer(ThreadingHTTPServer):
    """A threading HTTP server that counts the requests it has accepted and not finished."""

    daemon_threads = True
    # The drain waits on our own counter, with a deadline; the stdlib's join has none.
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: HelloApp) -> None:
        super().__init__(address, RequestHandler)
        self.app = app
        self._in_flight = 0
        self._idle = threading.Condition()

    @property
    def in_flight(self) -> int:
        with self._idle:
            return self._in_flight

    def process_request(self, request: _Request, client_address: Any) -> None:
        # Counted here, on the accepting thread, so a request accepted just
        # before shutdown can never be missed by wait_until_idle.
        with self._idle:
            self._in_flight += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._request_done()
            raise

    def process_request_thread(self, request: _Request, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._request_done()

    def _request_done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def handle_error(self, request: _Request, client_address: Any) -> None:  # noqa: ARG002 - socketserver's signature.
        # Called by socketserver with the exception being handled; logs it as JSON
        # instead of printing a bare traceback to stderr.
        logger.exception("connection error", extra={"client": str(client_address)})

    def wait_until_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=max(timeout, 0))


def drain(server: HelloServer, listener: threading.Thread, settings: Settings) -> int:
    deadline = time.monotonic() + settings.drain_seconds
    server.app.start_draining()
    logger.info("draining", extra={"in_flight": server.in_flight})
    if settings.shutdown_delay_seconds:
        time.sleep(settings.shutdown_delay_seconds)
    server.shutdown()
    listener.join()
    server.server_close()
    logger.info("listener closed", extra={"in_flight": server.in_flight})
    if server.wait_until_idle(deadline - time.monotonic()):
        logger.info("drained")
        return 0
    logger.error(
        "drain deadline passed with requests still running",
        extra={"abandoned": server.in_flight, "drain_seconds": settings.drain_seconds},
    )
    return 1


class JsonFormatter(logging.Formatter):
    _STANDARD = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), handlers=[handler])


def main() -> int:
    configure_logging()
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        logger.error("invalid configuration: %s", error)
        return 2

    # SIGTERM and SIGINT are blocked here, before any thread starts (threads
    # inherit the mask), and taken by the main thread with sigwait below. A
    # Python handler only runs once the main thread runs bytecode: with the
    # listener and pool threads about, a handler was seen not to run for tens
    # of seconds while the main thread sat in Event.wait(), so readiness kept
    # answering 200 after SIGTERM. A blocked signal stays pending for the
    # process until sigwait takes it: none is lost, even during start-up.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    repository = PostgresGreetingRepository.open(settings)
    try:
        server = HelloServer((settings.host, settings.port), HelloApp(repository))
    except OSError as error:
        repository.close()
        logger.error("cannot listen on %s:%s: %s", settings.host, settings.port, error.strerror)
        return 1
    listener = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="listener"
    )
    listener.start()
    logger.info(
        "listening",
        extra={
            "address": f"{settings.host}:{server.server_address[1]}",
            "database": describe_database(settings.database_url),
            "drain_seconds": settings.drain_seconds,
        },
    )
    received = signal.sigwait(stop_signals)
    logger.info("signal received", extra={"signal": signal.Signals(received).name})
    try:
        return drain(server, listener, settings)
    finally:
        repository.close()
