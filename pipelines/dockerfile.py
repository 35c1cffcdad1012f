"""Just enough Dockerfile reading to refuse a missing build stage early.

A wrong ``target`` would otherwise fail deep inside BuildKit, after the
context upload, with a message that does not mention ``pipelines.toml``.
"""

from __future__ import annotations

import re

from pipelines.config import CONFIG_FILE, PipelineConfig
from pipelines.errors import ConfigError

_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+(?:\s+AS\s+(?P<name>\S+))?\s*$", re.IGNORECASE)


def stage_names(dockerfile_text: str) -> tuple[str, ...]:
    """Names of the ``FROM ... AS name`` stages, in order (lower-cased, as BuildKit does)."""
    joined = re.sub(r"\\\r?\n", " ", dockerfile_text)
    names = []
    for line in joined.splitlines():
        match = _FROM.match(line)
        if match and match.group("name"):
            names.append(match.group("name").lower())
    return tuple(names)


def dockerfile_path(config: PipelineConfig) -> str:
    """The Dockerfile's path inside the service directory."""
    context = config.build.context.strip("/")
    if context in ("", "."):
        return config.build.dockerfile
    return f"{context}/{config.build.dockerfile}"


def check_build_targets(
    config: PipelineConfig, dockerfile_text: str | None, *, file: str = CONFIG_FILE
) -> None:
    """Raise ConfigError when the Dockerfile or a stage named in the config is missing."""
    path = dockerfile_path(config)
    if dockerfile_text is None:
        raise ConfigError(
            file=file,
            key="build.dockerfile",
            problem=f"the Dockerfile {path!r} does not exist in the service directory",
            fix="create it, or point `dockerfile` (relative to `context`) at the right file",
        )
    stages = stage_names(dockerfile_text)
    wanted = [("build.target", config.build.target), ("toolchain.target", config.toolchain.target)]
    for key, target in wanted:
        if target is not None and target.lower() not in stages:
            known = ", ".join(stages) if stages else "none (add `AS <name>` to a FROM line)"
            raise ConfigError(
                file=file,
                key=key,
                problem=f"build stage {target!r} is not in {path}; its stages: {known}",
                fix=f"name a stage `FROM ... AS {target}` in {path}, or set `{key}` to one of them",
            )
