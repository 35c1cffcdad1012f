"""Just enough Dockerfile reading to check a service before any build.

A wrong ``target`` would otherwise fail deep inside BuildKit, after the
context upload, with a message that does not mention ``pipelines.toml``; a
``[service] port`` the image does not ``EXPOSE`` would fail only when the app
never turns healthy. This reads the stages (``FROM ... AS name``), following
a stage built on another stage of the same file for what it inherits: its
``WORKDIR`` (where the toolchain's installed dependencies live) and its
``EXPOSE``d ports. Values built from ``ARG``/``ENV`` (``$VAR``) are not
expanded: they are reported as unknown, never guessed.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace

from pipelines.config import CONFIG_FILE, PipelineConfig
from pipelines.errors import ConfigError

_CONTINUED_LINE = re.compile(r"\\\r?\n")
_FROM = re.compile(
    r"\s*FROM\s+(?:--\S+\s+)*(?P<base>\S+)(?:\s+AS\s+(?P<name>\S+))?\s*", re.IGNORECASE
)
_INSTRUCTION = re.compile(r"\s*(?P<keyword>[A-Za-z]+)\s+(?P<rest>.*?)\s*")
_PORT = re.compile(r"(?P<port>\d+)(?:/(?:tcp|udp|sctp))?")
DOCKERIGNORE = ".dockerignore"


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One ``FROM`` of a Dockerfile, with what it sets itself."""

    name: str | None
    base: str
    # WORKDIR instructions in order (a relative one continues the previous).
    workdirs: tuple[str, ...] = ()
    # EXPOSEd ports; None when one of them is not a plain number (``$PORT``).
    ports: tuple[int, ...] | None = ()


@dataclass(frozen=True, kw_only=True)
class Dockerfile:
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    def stage(self, name: str | None) -> Stage | None:
        """The named stage (``None``: the last one, which BuildKit builds by default)."""
        if name is None:
            return self.stages[-1] if self.stages else None
        return next((s for s in self.stages if s.name == name.lower()), None)

    def lineage(self, name: str | None) -> list[Stage]:
        """The stage and the stages of this file it is built on, the stage itself last."""
        chain: list[Stage] = []
        stage = self.stage(name)
        while stage is not None and stage not in chain:
            chain.insert(0, stage)
            stage = self.stage(stage.base)  # None when the base is an image
        return chain

    def workdir(self, name: str | None) -> str | None:
        """The stage's working directory as BuildKit sets it; None when unset or not literal."""
        current: str | None = None
        for stage in self.lineage(name):
            for directory in stage.workdirs:
                if "$" in directory:
                    return None
                current = posixpath.normpath(posixpath.join(current or "/", directory))
        return current

    def exposed_ports(self, name: str | None) -> tuple[int, ...] | None:
        """Every port the stage exposes (its own and inherited); None when not literal."""
        ports: list[int] = []
        for stage in self.lineage(name):
            if stage.ports is None:
                return None
            ports.extend(stage.ports)
        return tuple(sorted(set(ports)))


def parse_dockerfile(text: str) -> Dockerfile:
    joined = _CONTINUED_LINE.sub(" ", text)
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        start = _FROM.fullmatch(line)
        if start is not None:
            name = start["name"].lower() if start["name"] else None
            stages.append(Stage(name=name, base=start["base"].lower()))
            continue
        instruction = _INSTRUCTION.fullmatch(line)
        if instruction is None or not stages:
            continue
        keyword, rest = instruction["keyword"].upper(), instruction["rest"]
        stage = stages[-1]
        if keyword == "WORKDIR":
            stages[-1] = replace(stage, workdirs=(*stage.workdirs, rest.strip("\"'")))
        elif keyword == "EXPOSE":
            stages[-1] = replace(stage, ports=_ports(stage.ports, rest))
    return Dockerfile(stages=tuple(stages))


def _ports(known: tuple[int, ...] | None, rest: str) -> tuple[int, ...] | None:
    if known is None:
        return None
    found = []
    for word in rest.split():
        match = _PORT.fullmatch(word)
        if match is None:
            return None
        found.append(int(match["port"]))
    return (*known, *found)


def stage_names(dockerfile_text: str) -> tuple[str, ...]:
    """Names of the ``FROM ... AS name`` stages, in order (lower-cased, as BuildKit does)."""
    return tuple(s.name for s in parse_dockerfile(dockerfile_text).stages if s.name)


def dockerignore_patterns(text: str) -> tuple[str, ...]:
    """The patterns of a ``.dockerignore``: comments and blank lines dropped, in order."""
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def dockerfile_path(config: PipelineConfig) -> str:
    """The Dockerfile's path inside the service directory."""
    return _in_context(config, config.build.dockerfile)


def dockerignore_path(config: PipelineConfig) -> str:
    """The build context's ``.dockerignore`` inside the service directory."""
    return _in_context(config, DOCKERIGNORE)


def _in_context(config: PipelineConfig, name: str) -> str:
    context = config.build.context.strip("/")
    return name if context in ("", ".") else f"{context}/{name}"


def build_target_problems(
    config: PipelineConfig, dockerfile_text: str | None, *, file: str = CONFIG_FILE
) -> list[ConfigError]:
    """The Dockerfile missing, or every stage named in the config that it lacks."""
    path = dockerfile_path(config)
    if dockerfile_text is None:
        return [
            ConfigError(
                file=file,
                key="build.dockerfile",
                problem=f"the Dockerfile {path!r} does not exist in the service directory",
                fix="create it, or point `dockerfile` (relative to `context`) at the right file",
            )
        ]
    stages = stage_names(dockerfile_text)
    known = ", ".join(stages) if stages else "none (add `AS <name>` to a FROM line)"
    wanted = [("build.target", config.build.target), ("toolchain.target", config.toolchain.target)]
    return [
        ConfigError(
            file=file,
            key=key,
            problem=f"build stage {target!r} is not in {path}; its stages: {known}",
            fix=f"name a stage `FROM ... AS {target}` in {path}, or set `{key}` to one of them",
        )
        for key, target in wanted
        if target is not None and target.lower() not in stages
    ]
