"""Graph builders for the checks and the image: pure functions of config + source.

Nothing here awaits, so the plan tests can read the whole graph they build.
"""

from __future__ import annotations

import posixpath

import dagger
from dagger import dag

from pipelines.config import PipelineConfig, SuiteConfig

_SHARING = {
    "shared": dagger.CacheSharingMode.SHARED,
    "locked": dagger.CacheSharingMode.LOCKED,
    "private": dagger.CacheSharingMode.PRIVATE,
}


def build_context(source: dagger.Directory, config: PipelineConfig) -> dagger.Directory:
    context = config.build.context.strip("/")
    return source if context in ("", ".") else source.directory(context)


def _build_args(config: PipelineConfig) -> list[dagger.BuildArg]:
    return [dagger.BuildArg(name=name, value=value) for name, value in config.build.build_args]


def image(
    source: dagger.Directory, config: PipelineConfig, platform: dagger.Platform | None = None
) -> dagger.Container:
    """The service's shippable image, built from its Dockerfile."""
    return build_context(source, config).docker_build(
        dockerfile=config.build.dockerfile,
        platform=platform,
        build_args=_build_args(config),
        target=config.build.target or "",
    )


def toolchain(source: dagger.Directory, config: PipelineConfig) -> dagger.Container:
    """The container lint and tests run in, with the working tree at ``workdir``.

    Either the service's own Dockerfile stage (its pinned toolchain and
    dependencies) or a digest-pinned toolchain image; caches are mounted so
    package managers and tool caches survive between runs, each under the
    call's trust level and service (``config.cache_scope``).
    """
    settings = config.toolchain
    if settings.target is not None:
        base = build_context(source, config).docker_build(
            dockerfile=config.build.dockerfile,
            build_args=_build_args(config),
            target=settings.target,
        )
    elif settings.image is not None:
        base = dag.container().from_(settings.image)
    else:  # pragma: no cover - parse_toolchain refuses a toolchain with neither
        raise ValueError("toolchain has neither a target nor an image")
    ctr = base
    # Keys are namespaced per trust level and service (pipelines.caches): a
    # branch's job cannot name the release job's volume, nor another service's.
    scope = config.cache_scope
    for cache in settings.caches:
        ctr = ctr.with_mounted_cache(
            cache.path, dag.cache_volume(scope.key(cache.key)), sharing=_SHARING[cache.sharing]
        )
    for name, value in settings.env:
        ctr = ctr.with_env_variable(name, value)
    return ctr.with_directory(settings.workdir, checked_source(source, config)).with_workdir(
        settings.workdir
    )


def checked_source(source: dagger.Directory, config: PipelineConfig) -> dagger.Directory:
    """The source as the checks see it: without what `[toolchain] exclude` (by default
    the build context's .dockerignore) leaves out, such as `.env` files."""
    exclude = config.toolchain.exclude or ()
    return source.filter(exclude=list(exclude)) if exclude else source


def report_path(config: PipelineConfig, suite: SuiteConfig) -> str | None:
    """The absolute path of the suite's JUnit report inside the toolchain."""
    if suite.report is None:
        return None
    return posixpath.join(config.toolchain.workdir, suite.report)


def suite_env(toolchain_ctr: dagger.Container, suite: SuiteConfig) -> dagger.Container:
    """The toolchain with the suite's own environment variables set."""
    ctr = toolchain_ctr
    for name, value in suite.env:
        ctr = ctr.with_env_variable(name, value)
    return ctr
