"""[scan]: the vulnerability gate and where Trivy gets its database.

Example, with the defaults written out::

    [scan]
    severities = ["HIGH", "CRITICAL"]
    ignore_unfixed = false
    ignorefile = ".trivyignore"
    timeout = "10m"
    db_repositories = [
        "mirror.gcr.io/aquasec/trivy-db:2",
        "ghcr.io/aquasecurity/trivy-db:2",
    ]
    java_db_repositories = [
        "mirror.gcr.io/aquasec/trivy-java-db:1",
        "ghcr.io/aquasecurity/trivy-java-db:1",
    ]

Trivy (>= 0.57) tries the DB repositories in order and falls back to the next
one when a registry refuses (rate limits are the usual reason). A team that
still hits limits puts an ECR pull-through cache first; it is just another
entry, e.g. with a cache rule whose prefix is ``ghcr`` for upstream ghcr.io::

    db_repositories = [
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ghcr/aquasecurity/trivy-db:2",
        "mirror.gcr.io/aquasec/trivy-db:2",
    ]

Trivy authenticates to it with the same registry credentials it uses for
images (``TRIVY_USERNAME=AWS``, ``TRIVY_PASSWORD`` = an ECR token), passed as
secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.config._reader import Table
from pipelines.errors import did_you_mean

# Trivy's severity names, lowest first: the order ranks findings.
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")

DEFAULT_SEVERITIES = ("HIGH", "CRITICAL")
# Trivy's own defaults since 0.57, written out so a run does not depend on
# which Trivy release happens to be pinned.
DEFAULT_DB_REPOSITORIES = ("mirror.gcr.io/aquasec/trivy-db:2", "ghcr.io/aquasecurity/trivy-db:2")
DEFAULT_JAVA_DB_REPOSITORIES = (
    "mirror.gcr.io/aquasec/trivy-java-db:1",
    "ghcr.io/aquasecurity/trivy-java-db:1",
)
DEFAULT_TIMEOUT = "10m"

# host[:port]/path[:tag]; no scheme, no digest, no comma (Trivy takes the
# list comma-separated).
_REPOSITORY = re.compile(
    r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)+"
    r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?"
)
# A Go duration as Trivy's --timeout reads it, limited to h/m/s.
_DURATION = re.compile(r"(?=\d)(\d+h)?(\d+m)?(\d+s)?")


@dataclass(frozen=True, kw_only=True)
class ScanConfig:
    # Findings at these severities fail the gate (ordered lowest first).
    severities: tuple[str, ...] = DEFAULT_SEVERITIES
    # Let findings without a fixed version pass: there is nothing to upgrade to.
    ignore_unfixed: bool = False
    # Relative to the service directory; ignored when the file does not exist.
    ignorefile: str = ".trivyignore"
    # Trivy's --timeout for one scan (a Go duration such as "10m" or "1h30m").
    timeout: str = DEFAULT_TIMEOUT
    # Where the vulnerability DB comes from, in order of preference.
    db_repositories: tuple[str, ...] = DEFAULT_DB_REPOSITORIES
    # Where the Java index DB comes from (only fetched for images with JARs).
    java_db_repositories: tuple[str, ...] = DEFAULT_JAVA_DB_REPOSITORIES


def parse_scan(table: Table | None) -> ScanConfig:
    if table is None:
        return ScanConfig()
    severities = _severities(table)
    ignore_unfixed = table.boolean("ignore_unfixed", False)
    ignorefile = table.string("ignorefile", ".trivyignore", example='".trivyignore"')
    if ignorefile.startswith("/") or ".." in ignorefile.split("/"):
        table.fail(
            "ignorefile",
            f"expected a path inside the service directory, got {ignorefile!r}",
            'write it relative to the service directory, e.g. `ignorefile = ".trivyignore"`',
        )
    timeout = table.string("timeout", DEFAULT_TIMEOUT, example='"10m"')
    if not _DURATION.fullmatch(timeout) or not any(c in "123456789" for c in timeout):
        table.fail(
            "timeout",
            f'expected a positive duration such as "10m" or "1h30m", got {timeout!r}',
            'write it as `timeout = "10m"`',
            goes_on=True,
        )
    db_repositories = _repositories(table, "db_repositories", DEFAULT_DB_REPOSITORIES)
    java_db_repositories = _repositories(
        table, "java_db_repositories", DEFAULT_JAVA_DB_REPOSITORIES
    )
    table.finish()
    return ScanConfig(
        severities=severities,
        ignore_unfixed=ignore_unfixed,
        ignorefile=ignorefile,
        timeout=timeout,
        db_repositories=db_repositories,
        java_db_repositories=java_db_repositories,
    )


def _severities(table: Table) -> tuple[str, ...]:
    names: tuple[str, ...] = table.str_list(
        "severities", DEFAULT_SEVERITIES, example='["HIGH", "CRITICAL"]'
    )
    if not names:
        table.fail(
            "severities",
            "an empty list would let every finding pass the gate",
            'list the severities that must block, e.g. `severities = ["HIGH", "CRITICAL"]`',
            goes_on=True,
        )
    for name in names:
        if name not in SEVERITIES:
            if name.upper() in SEVERITIES:
                hint = f' (did you mean "{name.upper()}"?)'
            else:
                hint = did_you_mean(name.upper(), SEVERITIES)
            table.fail(
                "severities",
                f"unknown severity {name!r}{hint}",
                "use any of " + ", ".join(SEVERITIES) + " (upper case)",
                goes_on=True,
            )
    return tuple(s for s in SEVERITIES if s in names)


def _repositories(table: Table, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    example = f'["{default[0]}"]'
    repositories: tuple[str, ...] = table.str_list(name, default, example=example)
    if not repositories:
        table.fail(
            name,
            "at least one repository is needed to download the database",
            f"remove the key to use the defaults, or write `{name} = {example}`",
        )
    for repository in repositories:
        if not _REPOSITORY.fullmatch(repository):
            table.fail(
                name,
                f"{repository!r} is not an OCI repository reference",
                f"write registry/path:tag without a scheme, e.g. {default[0]!r}",
            )
    if len(set(repositories)) != len(repositories):
        table.fail(name, "lists a repository twice", "remove the duplicate entry")
    return repositories
