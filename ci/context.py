"""Read a service directory's pipelines.toml and check it before any container work."""

from __future__ import annotations

import logging

import dagger

from pipelines.config import CONFIG_FILE, PipelineConfig, parse_config
from pipelines.dockerfile import check_build_targets, dockerfile_path
from pipelines.errors import ConfigError

log = logging.getLogger("portable_pipelines")


async def load_config(source: dagger.Directory) -> PipelineConfig:
    """Parse and validate the service's config; raise ConfigError with the fix.

    Three small reads (entries, the config, the Dockerfile) and no container:
    a wrong config fails in a second, not after a build.
    """
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
    path = dockerfile_path(config)
    dockerfile_text = await source.file(path).contents() if await source.exists(path) else None
    check_build_targets(config, dockerfile_text)
    # Shown on the call's output (stderr); the old spelling keeps working meanwhile.
    for message in config.deprecations:
        log.warning("%s", message)
    return config
