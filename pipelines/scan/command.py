"""Trivy command lines as argument lists, for the Dagger ``scan`` function.

One DB download per pipeline run fills a cache volume mounted at
``cache_dir``; every scan then reads it with ``--skip-db-update``. The scan
writes one complete JSON report (every severity, nothing ignored), which the
core gates (:mod:`pipelines.scan.gate`); SARIF and GitLab reports are
converted from that JSON with ``trivy convert``, so the image is scanned
once. Flags were checked against Trivy's CLI reference (0.5x-0.6x).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config.scan import ScanConfig

# The aquasec/trivy image runs as root; mount the DB cache volume here.
CACHE_DIR = "/root/.cache/trivy"
# Registry credentials go in as secret variables, never as --password: the
# argument list is visible in the graph and in process listings.
REGISTRY_USERNAME_ENV = "TRIVY_USERNAME"
REGISTRY_PASSWORD_ENV = "TRIVY_PASSWORD"  # noqa: S105  (a variable name, not a password)
# Trivy would otherwise read ./.trivyignore from its working directory. The
# gate applies the service's ignore file itself, so it can say which rule let
# a finding through and which rules have expired.
_NO_IGNOREFILE = "/dev/null"


@dataclass(frozen=True, kw_only=True)
class ReportFormat:
    name: str
    filename: str
    flags: tuple[str, ...]


# The template ships in the image at /contrib (the image has no WORKDIR):
# the absolute path keeps working whatever workdir the container is given.
GITLAB_TEMPLATE = "@/contrib/gitlab.tpl"

REPORT_FORMATS: dict[str, ReportFormat] = {
    "json": ReportFormat(name="json", filename="trivy.json", flags=("--format", "json")),
    "sarif": ReportFormat(name="sarif", filename="trivy.sarif", flags=("--format", "sarif")),
    # GitLab reads container-scanning reports by this file name.
    "gitlab": ReportFormat(
        name="gitlab",
        filename="gl-container-scanning-report.json",
        flags=("--format", "template", "--template", GITLAB_TEMPLATE),
    ),
}


def download_db_command(config: ScanConfig, *, cache_dir: str = CACHE_DIR) -> tuple[str, ...]:
    """Fetch the vulnerability DB from the first repository that answers."""
    return (
        "trivy",
        "image",
        "--download-db-only",
        "--no-progress",
        "--cache-dir",
        cache_dir,
        "--db-repository",
        ",".join(config.db_repositories),
        "--timeout",
        config.timeout,
    )


def download_java_db_command(config: ScanConfig, *, cache_dir: str = CACHE_DIR) -> tuple[str, ...]:
    """Fetch the Java index DB (large; only worth it for images with JARs)."""
    return (
        "trivy",
        "image",
        "--download-java-db-only",
        "--no-progress",
        "--cache-dir",
        cache_dir,
        "--java-db-repository",
        ",".join(config.java_db_repositories),
        "--timeout",
        config.timeout,
    )


def scan_command(
    config: ScanConfig,
    *,
    output: str,
    input_tarball: str | None = None,
    image_ref: str | None = None,
    cache_dir: str = CACHE_DIR,
) -> tuple[str, ...]:
    """Scan an image tarball (``--input``) or a registry reference into a JSON report."""
    if (input_tarball is None) == (image_ref is None):
        raise ValueError("scan_command needs exactly one of input_tarball and image_ref")
    target = ("--input", input_tarball) if input_tarball is not None else (str(image_ref),)
    return (
        "trivy",
        "image",
        "--skip-db-update",
        "--no-progress",
        "--cache-dir",
        cache_dir,
        # Fetched on first need (an image with JARs), then kept in the cache volume.
        "--java-db-repository",
        ",".join(config.java_db_repositories),
        "--scanners",
        "vuln",
        "--timeout",
        config.timeout,
        "--ignorefile",
        _NO_IGNOREFILE,
        *REPORT_FORMATS["json"].flags,
        "--output",
        output,
        # The core decides pass or fail from the JSON; Trivy must not stop first.
        "--exit-code",
        "0",
        *target,
    )


def convert_command(
    report_format: str,
    *,
    json_report: str,
    output: str,
    ignorefile: str | None = None,
    cache_dir: str = CACHE_DIR,
) -> tuple[str, ...]:
    """Turn the JSON report into another format, dropping findings ``ignorefile`` accepts."""
    if report_format not in REPORT_FORMATS:
        raise ValueError(
            f"unknown report format {report_format!r}; known: {', '.join(REPORT_FORMATS)}"
        )
    return (
        "trivy",
        "convert",
        "--cache-dir",
        cache_dir,
        *REPORT_FORMATS[report_format].flags,
        "--output",
        output,
        "--ignorefile",
        ignorefile or _NO_IGNOREFILE,
        json_report,
    )


# Where the scan works inside the Trivy container.
WORK = "/work"
OUT = f"{WORK}/out"
TARBALL = f"{WORK}/image.tar"
IGNOREFILE = f"{WORK}/.trivyignore"
JSON_REPORT = f"{OUT}/{REPORT_FORMATS['json'].filename}"
# Converted from the JSON report, in this order.
CONVERTED = ("sarif", "gitlab")


def scan_commands(
    config: ScanConfig, *, image_ref: str | None = None, ignorefile: bool
) -> tuple[tuple[str, ...], ...]:
    """What a scan runs after the DB download, in order: the scan of the image
    tarball at ``TARBALL`` (or of ``image_ref`` in a registry) into JSON, then
    each conversion; the reports end up in ``OUT``."""
    target = {"image_ref": image_ref} if image_ref is not None else {"input_tarball": TARBALL}
    return (
        ("mkdir", "-p", OUT),
        scan_command(config, output=JSON_REPORT, **target),
        *(
            convert_command(
                name,
                json_report=JSON_REPORT,
                output=f"{OUT}/{REPORT_FORMATS[name].filename}",
                ignorefile=IGNOREFILE if ignorefile else None,
            )
            for name in CONVERTED
        ),
    )


# The SBOM: CycloneDX, from the same tarball the scan reads. With a CycloneDX
# format and no --scanners, Trivy turns the vulnerability scanner off and
# enables only its SBOM scanner (pkg/flag/options.go, Align: "--format cyclonedx
# disables security scanning"), so no vulnerability DB is read: --skip-db-update
# says so, and --offline-scan keeps Maven Central out of the JAR analysis, so the
# SBOM depends on the image alone. Its own cache dir: it never touches the DB volume.
SBOM_CACHE_DIR = "/tmp/trivy-sbom"  # noqa: S108  (a path inside Trivy's container)
SBOM_FORMAT = "cyclonedx"


def sbom_command(
    config: ScanConfig, *, output: str, input_tarball: str = TARBALL
) -> tuple[str, ...]:
    """A CycloneDX SBOM of the image tarball, without the vulnerability DB."""
    return (
        "trivy",
        "image",
        "--skip-db-update",
        "--offline-scan",
        "--no-progress",
        "--cache-dir",
        SBOM_CACHE_DIR,
        "--format",
        SBOM_FORMAT,
        "--timeout",
        config.timeout,
        "--output",
        output,
        "--input",
        input_tarball,
    )
