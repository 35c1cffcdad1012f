"""The Trivy scan as Dagger graphs: one DB download, one scan, converted reports.

The vulnerability DB lives in a cache volume. The download step runs once per
pipeline run (a per-run stamp keeps BuildKit from replaying an old download)
and every scan of that run chains after it with ``--skip-db-update``. The
image is scanned once, into JSON; SARIF and GitLab reports are converted
from that JSON, and the core gates on it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import dagger
from dagger import dag

from ci import toolchain
from ci.results import ScanResult
from pipelines.caches import TRIVY_DB, CacheScope
from pipelines.config import PipelineConfig, ScanConfig
from pipelines.images import IMAGES
from pipelines.requests import ScanRequest
from pipelines.scan import (
    IgnoreRule,
    evaluate,
    failure_message,
    parse_ignorefile,
    parse_report,
    summary_table,
)
from pipelines.scan.command import (
    CACHE_DIR,
    IGNOREFILE,
    JSON_REPORT,
    OUT,
    REGISTRY_PASSWORD_ENV,
    REGISTRY_USERNAME_ENV,
    TARBALL,
    WORK,
    download_db_command,
    scan_commands,
)


def trivy_with_db(config: ScanConfig, run_stamp: str, *, scope: CacheScope) -> dagger.Container:
    """Trivy with a fresh-for-this-run vulnerability DB in its cache volume.

    The volume is the call's own (``scope``: its trust level and service): a
    branch's job that wrote a doctored DB there would otherwise make the
    release gate pass on whatever it left out.
    """
    return (
        dag.container()
        .from_(IMAGES["trivy"])
        .with_mounted_cache(
            CACHE_DIR,
            dag.cache_volume(scope.key(TRIVY_DB)),
            sharing=dagger.CacheSharingMode.LOCKED,
        )
        .with_env_variable("PIPELINE_RUN", run_stamp)
        .with_exec(list(download_db_command(config)))
    )


def scanned(
    trivy: dagger.Container,
    config: ScanConfig,
    *,
    image: dagger.Container | None = None,
    image_ref: str | None = None,
    registry_username: str | None = None,
    registry_password: dagger.Secret | None = None,
    ignorefile: dagger.File | None = None,
) -> dagger.Container:
    """The scan and the report conversions; reports end up in ``OUT``."""
    ctr = trivy.with_workdir(WORK)
    if ignorefile is not None:
        ctr = ctr.with_mounted_file(IGNOREFILE, ignorefile)
    if image is not None:
        ctr = ctr.with_mounted_file(TARBALL, image.as_tarball())
    elif registry_password is not None:
        ctr = ctr.with_env_variable(REGISTRY_USERNAME_ENV, registry_username or "AWS")
        ctr = ctr.with_secret_variable(REGISTRY_PASSWORD_ENV, registry_password)
    for command in scan_commands(
        config, image_ref=image_ref if image is None else None, ignorefile=ignorefile is not None
    ):
        ctr = ctr.with_exec(list(command))
    return ctr


async def scan_and_gate(
    source: dagger.Directory,
    config: PipelineConfig,
    request: ScanRequest | None = None,
    *,
    registry_password: dagger.Secret | None = None,
    run_stamp: str | None = None,
    built: dagger.Container | None = None,
) -> ScanResult:
    """Scan an image, gate it in the core, keep every report.

    The image is ``built`` (a platform variant), else the published
    ``request.image``, else the service built for the engine's platform.
    """
    request = request or ScanRequest()
    settings = config.scan
    ignorefile = None
    rules: tuple[IgnoreRule, ...] = ()
    if await source.exists(settings.ignorefile):
        ignorefile = source.file(settings.ignorefile)
        rules = parse_ignorefile(await ignorefile.contents(), file=settings.ignorefile)
    trivy = trivy_with_db(settings, run_stamp or uuid.uuid4().hex, scope=config.cache_scope)
    if request.image is None:
        local = built if built is not None else toolchain.image(source, config)
        ctr = scanned(trivy, settings, image=local, ignorefile=ignorefile)
    else:
        ctr = scanned(
            trivy,
            settings,
            image_ref=str(request.image),
            registry_username=request.registry_username,
            registry_password=registry_password,
            ignorefile=ignorefile,
        )
    report = parse_report(await ctr.file(JSON_REPORT).contents(), file="trivy.json")
    result = evaluate(report, settings, rules, today=datetime.now(UTC).date())
    summary = summary_table(result)
    if not result.passed:
        summary = failure_message(result) + "\n" + summary
    reports = ctr.directory(OUT).with_new_file("summary.txt", summary)
    return ScanResult(passed=result.passed, summary=summary, reports=reports)
