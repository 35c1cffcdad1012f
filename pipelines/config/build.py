"""[build] and [toolchain]: how the image is built, and where checks run."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.config._reader import Table
from pipelines.config.checks import refuse_contract_names

_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?")


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    dockerfile: str = "Dockerfile"
    context: str = "."
    # The stage of the Dockerfile that is the shippable image; None = last stage.
    target: str | None = None
    # Empty means the engine's own platform.
    platforms: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()


CACHE_SHARING = ("shared", "locked", "private")
DEFAULT_WORKDIR = "/src"


@dataclass(frozen=True, kw_only=True)
class CacheMount:
    """A package-manager cache kept between runs in a Dagger cache volume."""

    path: str
    key: str
    # "shared" lets concurrent steps use it at once (tool caches that cope);
    # "locked" serialises them (package managers that do not); "private"
    # gives each step its own.
    sharing: str = "shared"


@dataclass(frozen=True, kw_only=True)
class ToolchainConfig:
    """Where lint and tests run: a stage of the service's Dockerfile, or an image.

    Exactly one of ``target`` and ``image`` is set. The source directory is
    mounted at ``workdir`` either way, so the checks see the working tree.
    """

    target: str | None = None
    image: str | None = None
    # Where the source is mounted and the commands run. Unless the config
    # names it, the toolchain stage's own WORKDIR (read from the Dockerfile
    # when the config is loaded), so the source meets the dependencies the
    # stage installed there; "/src" for an image or a stage without one.
    workdir: str = DEFAULT_WORKDIR
    workdir_from_stage: bool = True
    env: tuple[tuple[str, str], ...] = ()
    caches: tuple[CacheMount, ...] = ()
    # Patterns of the source the toolchain does not see; None: the build
    # context's .dockerignore (read when the config is loaded).
    exclude: tuple[str, ...] | None = None


def parse_build(table: Table | None) -> BuildConfig:
    if table is None:
        return BuildConfig()
    dockerfile = table.string("dockerfile", "Dockerfile", example='"Dockerfile"')
    context = table.string("context", ".", example='"."')
    target = table.string("target", None, example='"runtime"')
    platforms = table.str_list("platforms", (), example='["linux/amd64", "linux/arm64"]')
    for platform in platforms:
        if not _PLATFORM.fullmatch(platform):
            table.fail(
                "platforms",
                f"{platform!r} is not an OS/architecture platform",
                'use values like "linux/amd64" or "linux/arm64"',
                goes_on=True,
            )
    build_args = table.str_map("build_args", ())
    table.finish()
    return BuildConfig(
        dockerfile=dockerfile,
        context=context,
        target=target,
        platforms=platforms,
        build_args=build_args,
    )


def parse_toolchain(table: Table | None) -> ToolchainConfig:
    if table is None:
        return ToolchainConfig(target="test")
    target = table.string("target", None, example='"test"')
    image = table.image("image", None)
    if (target is None) == (image is None):
        table.fail(
            None,
            "set exactly one of `target` (a stage of the service's Dockerfile) "
            "or `image` (a digest-pinned toolchain image)",
            'e.g. `target = "test"` for a Dockerfile with a test stage',
        )
    workdir_from_stage = not table.has("workdir")
    workdir = table.string("workdir", DEFAULT_WORKDIR, example='"/src"')
    if not workdir.startswith("/"):
        table.fail(
            "workdir",
            f"expected an absolute path, got {workdir!r}",
            f'write it as `workdir = "/{workdir}"`',
            goes_on=True,
        )
    env = table.str_map("env", ())
    refuse_contract_names(table, env)
    caches = []
    for entry in table.tables("caches"):
        path = entry.string("path", example='"/root/.cache/pip"')
        key = entry.string("key", example='"pip"')
        if not key:
            # The module prefixes the key (pipelines.caches); an empty one would
            # be the service's whole namespace.
            entry.fail(
                "key", "an empty cache key", 'name the cache, e.g. `key = "pip"`', goes_on=True
            )
        sharing = entry.string("sharing", "shared", example='"shared"')
        if sharing not in CACHE_SHARING:
            entry.fail(
                "sharing",
                f"unknown sharing mode {sharing!r}",
                "use one of " + ", ".join(f'"{mode}"' for mode in CACHE_SHARING),
                goes_on=True,
            )
        entry.finish()
        caches.append(CacheMount(path=path, key=key, sharing=sharing))
    exclude = table.str_list("exclude", None, example='[".env", "docs/"]')
    table.finish()
    return ToolchainConfig(
        target=target,
        image=image,
        workdir=workdir,
        workdir_from_stage=workdir_from_stage,
        env=env,
        caches=tuple(caches),
        exclude=exclude,
    )
