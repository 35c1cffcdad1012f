"""The Go reference service, for real: its unit and smoke suites through its own
JUnit converter, the binary on loopback with its SIGTERM drain, its lint, and
its Dockerfile and compose file through their validators.

The suites run exactly as ``pipelines.toml`` declares them, in a copy of the
service directory as the pipeline uploads it (no ``reports/``: the converter
must create it), with the Go settings of the Dockerfile's toolchain stage.
Go here is Debian's ``golang-go`` (1.19, the oldest ``go.mod`` allows); the
image pins a newer one.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from pipelines.config import load_config
from tests.integration.postgres import free_loopback_port
from tests.integration.reference_services import (
    DIGEST_PINNED,
    ROOT,
    RunningService,
    check_compose,
    clean_environment,
    copy_service,
    exec_form,
    hadolint,
    healthcheck_command,
    http_request_bytes,
    open_connection,
    read_http_response,
    run_command,
    run_suite,
    running_process,
    stages,
    toolchain,
    wait_for,
)

pytestmark = pytest.mark.tools

SERVICE = ROOT / "examples" / "go-service"
CONFIG = load_config(SERVICE / "pipelines.toml")
DOCKERFILE = SERVICE / "Dockerfile"
COMPOSE = SERVICE / "compose.yaml"
STAGES = stages(DOCKERFILE.read_text(encoding="utf-8"))

# Settings of the developer's shell that must not leak into the service, its
# suites or the go command.
_SERVICE_VARIABLES = (
    "BASE_URL",
    "DRAIN_SECONDS",
    "HOST",
    "PORT",
    "SHUTDOWN_DELAY_SECONDS",
    "GOFLAGS",
    "GOOS",
    "GOARCH",
    "GOWORK",
)


def _toolchain_env() -> dict[str, str]:
    """The ENV of the Dockerfile's toolchain stage (CGO_ENABLED, GOFLAGS, GOTOOLCHAIN)."""
    env: dict[str, str] = {}
    for line in STAGES["toolchain"].values("ENV"):
        env.update(dict(pair.split("=", 1) for pair in line.split()))
    # No module proxy: a test that tried to download anything fails instead.
    return {**env, "GOPROXY": "off"}


def _environment(extra: dict[str, str]) -> dict[str, str]:
    return clean_environment({**_toolchain_env(), **extra}, drop=_SERVICE_VARIABLES)


@pytest.fixture(scope="module")
def go() -> str:
    return toolchain("go", install="install Go 1.19 or later (Debian: `apt-get install golang-go`)")


@pytest.fixture(scope="module")
def binary(go: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service binary, built as the Dockerfile's build stage builds it."""
    output = tmp_path_factory.mktemp("go-service-bin") / "go-service"
    (build,) = [line for line in STAGES["build"].values("RUN") if "go build" in line]
    flags = re.search(r"go build (.*) -o \S+ (\S+)$", build)
    assert flags is not None, build
    command = ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(output), flags.group(2)]
    assert flags.group(1) == '-trimpath -ldflags="-s -w"', "keep this test's build like the image's"

    result = run_command(command, cwd=SERVICE, env=_environment({}), timeout=300)

    assert result.returncode == 0, result.stderr
    return output


def _workdir(tmp_path: Path) -> Path:
    workdir = copy_service(SERVICE, tmp_path / "src")
    assert not (workdir / "reports").exists()
    return workdir


# -- the unit suite and the converter ------------------------------------------------------


def test_unit_suite_passes_and_its_converter_writes_the_report_in_a_new_directory(
    go: str, tmp_path: Path
) -> None:
    run = run_suite(CONFIG, "unit", workdir=_workdir(tmp_path), env=_environment({}))

    assert run.exit_code == 0, run.describe()
    assert run.report.tests >= 50, run.describe()
    assert (run.report.failures, run.report.errors, run.report.skipped) == (0, 0, 0)
    assert "--- PASS: TestMake" in run.output, "the converter prints the tests' output"


def _plant(workdir: Path, name: str, text: str) -> None:
    (workdir / "internal" / "slug" / name).write_text(text, encoding="utf-8")


def test_a_failing_test_fails_the_suite_and_is_named_in_the_report(go: str, tmp_path: Path) -> None:
    workdir = _workdir(tmp_path)
    _plant(
        workdir,
        "planted_test.go",
        'package slug\n\nimport "testing"\n\n'
        "func TestPlanted(t *testing.T) {\n"
        '\tt.Run("sub", func(t *testing.T) { t.Fatal("no") })\n}\n',
    )

    run = run_suite(CONFIG, "unit", workdir=workdir, env=_environment({}))

    assert run.exit_code == 1, run.describe()
    assert run.report.failures == 2, run.describe()  # The subtest and its parent.
    assert {"example.com/go-service/internal/slug::TestPlanted/sub"} <= set(run.report.failed_cases)


def test_a_package_that_does_not_build_is_an_error_case_with_the_compiler_output(
    go: str, tmp_path: Path
) -> None:
    workdir = _workdir(tmp_path)
    _plant(workdir, "broken.go", "package slug\n\nfunc broken() int { return nope }\n")

    run = run_suite(CONFIG, "unit", workdir=workdir, env=_environment({}))

    assert run.exit_code != 0
    assert run.report.errors >= 1, run.describe()
    report = (workdir / "reports" / "unit.xml").read_text(encoding="utf-8")
    assert "undefined: nope" in report


def test_lint_commands_pass(go: str) -> None:
    assert CONFIG.lint is not None
    for command in CONFIG.lint.commands:
        result = run_command(command, cwd=SERVICE, env=_environment({}), timeout=300)
        assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        ("package slug\nfunc  unformatted( ) {}\n", "planted.go"),
        ('package slug\n\nimport "fmt"\n\nvar _ = fmt.Sprintf("%d", "not a number")\n', "%d"),
    ],
    ids=["gofmt", "vet"],
)
def test_lint_fails_on_a_planted_mistake(
    go: str, tmp_path: Path, planted: str, expected: str
) -> None:
    workdir = _workdir(tmp_path)
    _plant(workdir, "planted.go", planted)
    assert CONFIG.lint is not None

    results = [
        run_command(command, cwd=workdir, env=_environment({}), timeout=300)
        for command in CONFIG.lint.commands
    ]

    failed = [result for result in results if result.returncode != 0]
    assert failed, "no lint command failed"
    assert any(expected in result.stdout + result.stderr for result in failed)


# -- the binary, live ---------------------------------------------------------------------


@contextmanager
def _start(binary: Path, log_path: Path, **settings: str) -> Iterator[RunningService]:
    port = free_loopback_port()
    with running_process(
        [str(binary)],
        cwd=log_path.parent,
        env=_environment({"HOST": "127.0.0.1", "PORT": str(port), **settings}),
        port=port,
        log_path=log_path,
        health_path=CONFIG.service.health_path,
    ) as app:
        yield app


@pytest.fixture(scope="module")
def service(binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    log_path = tmp_path_factory.mktemp("go-service") / "service.log"
    with _start(binary, log_path) as app:
        wait_for(lambda: app.status(CONFIG.service.readiness_path) == 200, 60, "the app is ready")
        yield app


def test_smoke_suite_passes_against_the_live_service(
    service: RunningService, tmp_path: Path
) -> None:
    env = _environment({"BASE_URL": service.base_url})

    run = run_suite(CONFIG, "smoke", workdir=_workdir(tmp_path), env=env)

    assert run.exit_code == 0, run.describe()
    assert run.report.tests >= 3, run.describe()
    assert (run.report.failures, run.report.errors, run.report.skipped) == (0, 0, 0)


def test_smoke_suite_refuses_to_run_without_base_url(go: str, tmp_path: Path) -> None:
    run = run_suite(CONFIG, "smoke", workdir=_workdir(tmp_path), env=_environment({}))

    assert run.exit_code != 0
    assert "BASE_URL is not set" in run.output
    assert run.report.failures == run.report.tests >= 3, run.describe()


def test_the_binary_refuses_a_bad_setting_with_one_line_and_exit_2(binary: Path) -> None:
    result = run_command([str(binary)], cwd=binary.parent, env=_environment({"PORT": "eighty"}))

    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert json.loads(line)["message"] == (
        'invalid configuration: PORT="eighty" is not a TCP port: '
        "expected an integer from 1 to 65535"
    )


def test_docker_healthcheck_command_probes_the_app(binary: Path, service: RunningService) -> None:
    """The image's HEALTHCHECK, run as Docker runs it, against the live binary."""
    runtime = STAGES["runtime"]
    command = healthcheck_command(runtime)
    (entrypoint,) = runtime.values("ENTRYPOINT")
    assert command[0] == exec_form(entrypoint)[0], "the probe is the service's own binary"
    local = [str(binary), *command[1:]]

    healthy = run_command(local, cwd=binary.parent, env=_environment({"PORT": str(service.port)}))
    nothing_listening = run_command(
        local, cwd=binary.parent, env=_environment({"PORT": str(free_loopback_port())})
    )

    assert healthy.returncode == 0, healthy.stderr
    assert nothing_listening.returncode == 1
    assert "connection refused" in nothing_listening.stderr


# -- graceful SIGTERM drain ---------------------------------------------------------------


def test_sigterm_fails_readiness_stops_accepting_and_finishes_the_request_in_flight(
    binary: Path, tmp_path: Path
) -> None:
    # A drain budget far above what the drain needs: the exit code, not a stopwatch,
    # says it finished in time. The delay is the window in which readiness must
    # already fail while the listener still accepts.
    drain_seconds, shutdown_delay = 60.0, 3.0
    head, body = http_request_bytes("POST", "/slugs", b'{"text": "Drain me"}')

    with _start(
        binary,
        tmp_path / "service.log",
        DRAIN_SECONDS=str(drain_seconds),
        SHUTDOWN_DELAY_SECONDS=str(shutdown_delay),
    ) as app:
        # A slow client: the request is accepted, its body only half sent.
        with open_connection(app, head + body[:5]) as slow:
            signalled = time.monotonic()
            app.terminate()

            # A 503 on a new connection: readiness failed while the listener still accepted.
            def not_ready() -> bool:
                status = app.status("/readyz")
                if status is None:
                    pytest.fail(f"the listener closed before readiness failed:\n{app.log()}")
                return status == 503

            wait_for(not_ready, 30, "readiness turns 503")
            refused_at = wait_for(app.refuses_connections, 60, "the listener stops accepting")
            slow.sendall(body[5:])
            status, headers, document = read_http_response(slow)

        exit_code = app.process.wait(timeout=drain_seconds + 30)

    assert refused_at - signalled >= shutdown_delay - 0.05  # Not before the delay.
    assert (status, document) == (200, {"text": "Drain me", "slug": "drain-me"})
    assert headers["connection"] == "close"
    assert exit_code == 0, app.log()
    messages = app.log_messages()
    assert messages.index("signal received") < messages.index("draining")
    assert messages.index("draining") < messages.index("listener closed")
    assert messages[-1] == "drained"


def test_a_stuck_request_cannot_hold_the_process_past_drain_seconds(
    binary: Path, tmp_path: Path
) -> None:
    # The client never finishes its request; the server's own client timeout
    # (15 s) is far above the bound, so a drain that waited for it fails the test.
    drain_seconds = 1.0
    with (
        _start(binary, tmp_path / "service.log", DRAIN_SECONDS=str(drain_seconds)) as app,
        open_connection(app, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
    ):
        signalled = time.monotonic()
        app.terminate()

        exit_code = app.process.wait(timeout=30)
        elapsed = time.monotonic() - signalled

    assert exit_code == 1, app.log()
    assert elapsed >= drain_seconds - 0.1  # The stuck client got the whole budget...
    assert elapsed < drain_seconds + 10  # ...and not the 15 s it would take to time out.
    assert app.log_record("drain deadline passed with requests still running")["abandoned"] == 1


def test_an_idle_service_stops_at_once_on_sigterm(binary: Path, tmp_path: Path) -> None:
    drain_seconds = 60.0
    with _start(binary, tmp_path / "service.log", DRAIN_SECONDS=str(drain_seconds)) as app:
        signalled = time.monotonic()
        app.terminate()
        exit_code = app.process.wait(timeout=drain_seconds)

    assert exit_code == 0, app.log()
    assert time.monotonic() - signalled < drain_seconds / 2  # It did not wait out the budget.


# -- Dockerfile, compose, go.mod ------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    assert {"test", "runtime"} <= set(STAGES)
    assert CONFIG.build.target == "runtime"
    assert CONFIG.toolchain.target == "test"
    assert list(STAGES)[-1] == "runtime", "a plain `docker build` must give the shipped image"
    for stage in STAGES.values():
        assert stage.image.lower() in STAGES or DIGEST_PINNED.match(stage.image), stage
    assert STAGES["test"].values("WORKDIR") == [CONFIG.toolchain.workdir]
    runtime = STAGES["runtime"]
    assert runtime.image.startswith("gcr.io/distroless/static-debian12:nonroot@")
    assert runtime.values("USER") == ["65532:65532"]
    assert runtime.values("EXPOSE") == [str(CONFIG.service.port)]
    assert runtime.values("STOPSIGNAL") == ["SIGTERM"]
    (entrypoint,) = runtime.values("ENTRYPOINT")
    (copied,) = runtime.values("COPY")
    assert copied.endswith(" " + exec_form(entrypoint)[0]), "the entrypoint is the built binary"
    assert _toolchain_env()["CGO_ENABLED"] == "0", "a static binary: distroless static has no libc"
    assert _toolchain_env()["GOTOOLCHAIN"] == "local"


def test_compose_file_matches_the_compose_spec() -> None:
    result = check_compose(COMPOSE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_the_shipped_image_hardened() -> None:
    app = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["app"]

    assert app["build"]["target"] == "runtime"
    assert app["healthcheck"]["test"] == ["CMD", *healthcheck_command(STAGES["runtime"])]
    assert app["environment"]["PORT"] == str(CONFIG.service.port)
    assert float(app["environment"]["DRAIN_SECONDS"]) == CONFIG.service.drain_seconds
    assert int(app["stop_grace_period"].removesuffix("s")) > CONFIG.service.drain_seconds
    assert app["read_only"] is True
    assert app["cap_drop"] == ["ALL"]


def test_the_module_needs_nothing_but_the_standard_library() -> None:
    go_mod = (SERVICE / "go.mod").read_text(encoding="utf-8")

    assert re.search(r"^go 1\.19$", go_mod, re.MULTILINE), "keep the Go of Debian 12 building it"
    assert "require" not in go_mod
    assert not (SERVICE / "go.sum").exists()
