"""Read a service directory's pipelines.toml and check it before any container work."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import dagger

from pipelines.caches import DEFAULT_TRUST_LEVEL, parse_trust_level
from pipelines.config import CONFIG_FILE, PipelineConfig, parse_config
from pipelines.dockerfile import dockerfile_path, dockerignore_path
from pipelines.errors import ConfigError
from pipelines.preflight import overlay_kustomization, prepare

log = logging.getLogger("portable_pipelines")


async def load_config(
    source: dagger.Directory,
    *,
    runs: Sequence[str] = (),
    manifests: dagger.Directory | None = None,
    trust_level: str = DEFAULT_TRUST_LEVEL,
) -> PipelineConfig:
    """Parse and check the service's config for what the call ``runs``; raise with the fix.

    A few small reads (the listing, the config, the Dockerfile, its
    .dockerignore, an overlay's kustomization) and no container: a wrong
    config fails in a second, not after a build. ``runs`` names the pipeline
    or what the function needs ("app", "publish", "deploy"; see
    pipelines.preflight), and every problem of it is reported at once.
    ``trust_level`` (checked first, like any argument) namespaces the call's
    cache volumes (pipelines.caches).
    """
    trust_level = parse_trust_level(trust_level)
    entries = await source.entries()
    if CONFIG_FILE not in entries:
        raise ConfigError(
            file=CONFIG_FILE,
            key=None,
            problem="no pipelines.toml in the --source directory "
            f"(it holds: {', '.join(sorted(entries)[:12]) or 'nothing'})",
            fix="pass the service directory, e.g. `--source=examples/hello-service`, "
            "or create pipelines.toml there (see docs/configuration.md)",
        )
    config = parse_config(await source.file(CONFIG_FILE).contents())
    overlay = overlay_kustomization(config) if {"dev", "deploy"} & set(runs) else None
    where = manifests or source
    config = prepare(
        config,
        dockerfile_text=await _read(source, dockerfile_path(config)),
        dockerignore_text=await _read(source, dockerignore_path(config)),
        overlay_found=await where.exists(overlay) if overlay is not None else None,
        runs=runs,
    )
    config = dataclasses.replace(config, trust_level=trust_level)
    # Shown on the call's output (stderr); the old spelling keeps working meanwhile.
    for message in config.deprecations:
        log.warning("%s", message)
    return config


async def _read(source: dagger.Directory, path: str) -> str | None:
    return await source.file(path).contents() if await source.exists(path) else None
