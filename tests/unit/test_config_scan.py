"""[scan] in pipelines.toml: the gate's settings and the DB mirrors, and bad input."""

from __future__ import annotations

import pytest

from pipelines.config import parse_config
from pipelines.config.scan import (
    DEFAULT_DB_REPOSITORIES,
    DEFAULT_JAVA_DB_REPOSITORIES,
    ScanConfig,
)
from pipelines.errors import ConfigError

SERVICE = '[service]\nname = "svc"\nport = 8080\n'
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ghcr/aquasecurity/trivy-db:2"


def scan_of(body: str) -> ScanConfig:
    return parse_config(SERVICE + "[scan]\n" + body, file="svc/pipelines.toml").scan


def error_of(body: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        scan_of(body)
    return caught.value


def test_defaults_gate_high_and_critical_with_gcr_mirror_first() -> None:
    scan = parse_config(SERVICE, file="svc/pipelines.toml").scan

    assert scan == ScanConfig()
    assert scan.severities == ("HIGH", "CRITICAL")
    assert not scan.ignore_unfixed
    assert scan.ignorefile == ".trivyignore"
    assert scan.timeout == "10m"
    assert DEFAULT_DB_REPOSITORIES == (
        "mirror.gcr.io/aquasec/trivy-db:2",
        "ghcr.io/aquasecurity/trivy-db:2",
    )
    assert scan.db_repositories == DEFAULT_DB_REPOSITORIES
    assert scan.java_db_repositories == DEFAULT_JAVA_DB_REPOSITORIES
    assert DEFAULT_JAVA_DB_REPOSITORIES[0] == "mirror.gcr.io/aquasec/trivy-java-db:1"


def test_every_key_is_read() -> None:
    scan = scan_of(
        'severities = ["CRITICAL", "MEDIUM"]\n'
        "ignore_unfixed = true\n"
        'ignorefile = "security/trivyignore"\n'
        'timeout = "1h30m"\n'
        f'db_repositories = ["{ECR}", "mirror.gcr.io/aquasec/trivy-db:2"]\n'
        'java_db_repositories = ["ghcr.io/aquasecurity/trivy-java-db:1"]\n'
    )

    # Severities come back lowest first, whatever order they were written in.
    assert scan.severities == ("MEDIUM", "CRITICAL")
    assert scan.ignore_unfixed
    assert scan.ignorefile == "security/trivyignore"
    assert scan.timeout == "1h30m"
    assert scan.db_repositories == (ECR, "mirror.gcr.io/aquasec/trivy-db:2")
    assert scan.java_db_repositories == ("ghcr.io/aquasecurity/trivy-java-db:1",)


def test_an_unknown_severity_is_a_clear_error() -> None:
    error = error_of('severities = ["HIGH", "SEVERE"]\n')

    assert error.file == "svc/pipelines.toml"
    assert error.key == "scan.severities"
    assert "unknown severity 'SEVERE'" in error.problem
    assert "UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL" in error.fix


def test_a_lower_case_severity_suggests_the_upper_case_name() -> None:
    error = error_of('severities = ["critical"]\n')

    assert 'did you mean "CRITICAL"?' in error.problem


def test_an_empty_severity_list_is_refused() -> None:
    error = error_of("severities = []\n")

    assert error.key == "scan.severities"
    assert "every finding pass" in error.problem


@pytest.mark.parametrize(
    "repository",
    [
        "https://ghcr.io/aquasecurity/trivy-db:2",
        "ghcr.io/aquasecurity/trivy-db:2,mirror.gcr.io/aquasec/trivy-db:2",
        "trivy-db",
        "ghcr.io/aquasecurity/trivy-db@sha256:" + "a" * 64,
    ],
)
def test_a_db_repository_must_be_a_plain_oci_reference(repository: str) -> None:
    error = error_of(f'db_repositories = ["{repository}"]\n')

    assert error.key == "scan.db_repositories"
    assert "not an OCI repository reference" in error.problem


def test_an_empty_or_repeated_repository_list_is_refused() -> None:
    assert "at least one" in error_of("java_db_repositories = []\n").problem
    repeated = error_of(f'db_repositories = ["{ECR}", "{ECR}"]\n')
    assert "twice" in repeated.problem


@pytest.mark.parametrize("timeout", ["10", "0m", "5 minutes", "m", "-5m"])
def test_the_timeout_is_a_positive_duration(timeout: str) -> None:
    error = error_of(f'timeout = "{timeout}"\n')

    assert error.key == "scan.timeout"


@pytest.mark.parametrize("path", ["/etc/trivyignore", "../shared/.trivyignore"])
def test_the_ignorefile_stays_inside_the_service(path: str) -> None:
    assert error_of(f'ignorefile = "{path}"\n').key == "scan.ignorefile"


def test_a_misspelt_key_is_named_with_a_suggestion() -> None:
    error = error_of("ignore_unfixd = true\n")

    assert error.key == "scan.ignore_unfixd"
    assert 'did you mean "ignore_unfixed"?' in error.problem
