"""Everything a function or a pipeline will need, checked before any container work.

The config parser checks each key; this checks the service as a whole, the
config against its Dockerfile and manifests, for what a pipeline is about to
do: ``dev`` needs somewhere to push and to deploy and a suite that tests the
deployment, the shipped image must expose ``[service] port``, an EKS
overlay must exist. Every problem is collected, not just the first, so
``portable-pipelines validate`` lists them all and a pipeline refuses to
start with the complete list. The caller reads the files (the Dagger module
from its directories, the command-line tool from disk) and hands the facts in.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pipelines.config import CONFIG_FILE, PipelineConfig
from pipelines.dockerfile import (
    Dockerfile,
    build_target_problems,
    dockerignore_patterns,
    parse_dockerfile,
)
from pipelines.errors import ConfigError, PipelinesError, raise_all
from pipelines.signing import require_signing_key

# What each pipeline or function does that needs checking beyond the config.
PIPELINES = ("dev", "pre-merge", "release")
KUSTOMIZATION = "kustomization.yaml"


@dataclass(frozen=True, kw_only=True)
class ServiceFacts:
    """What the checks need to know of the service directory and its manifests."""

    dockerfile: Dockerfile
    # Whether the [deploy.eks] overlay has a kustomization.yaml where overlay
    # paths start (--manifests, else the service); None: not looked at.
    overlay_found: bool | None = None


def resolve(
    config: PipelineConfig, dockerfile: Dockerfile, dockerignore_text: str | None
) -> PipelineConfig:
    """The config with what it leaves to the files filled in: the toolchain's
    working directory (its stage's WORKDIR) and what it must not see (.dockerignore)."""
    toolchain = config.toolchain
    if toolchain.workdir_from_stage and toolchain.target is not None:
        workdir = dockerfile.workdir(toolchain.target)
        if workdir is not None:
            toolchain = replace(toolchain, workdir=workdir)
    if toolchain.exclude is None:
        patterns = dockerignore_patterns(dockerignore_text) if dockerignore_text else ()
        toolchain = replace(toolchain, exclude=patterns)
    return replace(config, toolchain=toolchain)


def problems(
    config: PipelineConfig,
    facts: ServiceFacts,
    *,
    runs: Sequence[str] = (),
    file: str = CONFIG_FILE,
) -> list[PipelinesError]:
    """Every problem for what ``runs`` names: pipelines, and "app" (the app as a
    service), "publish", "deploy" and "promote" for the functions that need only those."""
    found: list[PipelinesError] = []
    wanted = set(runs)
    if wanted & {"app", "dev", "pre-merge"}:
        found += _exposed_port(config, facts.dockerfile, file)
    found += _report_paths(config, file)
    checks: dict[str, Callable[[], list[PipelinesError]]] = {
        "publish": lambda: _required(config.require_publish, file),
        "deploy": lambda: [*_required(config.require_deploy, file), *_overlay(config, facts, file)],
        "dev": lambda: [
            *_required(config.require_publish, file),
            *_required(config.require_deploy, file),
            *_overlay(config, facts, file),
            *_dev_suites(config, file),
        ],
        "release": lambda: _required(config.require_publish, file),
        # promote verifies the release's signature before it proposes anything.
        "promote": lambda: [
            *_required(lambda file: config.require_forge("promotion", file=file), file),
            *_required(
                lambda file: require_signing_key(config.require_publish(file=file), file=file),
                file,
            ),
        ],
    }
    for name in runs:
        if name in checks:
            found += checks[name]()
    return _unique(found)


def prepare(
    config: PipelineConfig,
    *,
    dockerfile_text: str | None,
    dockerignore_text: str | None,
    overlay_found: bool | None = None,
    runs: Sequence[str] = (),
    file: str = CONFIG_FILE,
) -> PipelineConfig:
    """Everything a call checks before its first container, from the files it read:
    the stages the config names, what it leaves to the files (:func:`resolve`)
    and the needs of ``runs``. Every problem at once; the resolved config."""
    found: list[PipelinesError] = [*build_target_problems(config, dockerfile_text, file=file)]
    dockerfile = parse_dockerfile(dockerfile_text or "")
    resolved = resolve(config, dockerfile, dockerignore_text)
    facts = ServiceFacts(dockerfile=dockerfile, overlay_found=overlay_found)
    found += problems(resolved, facts, runs=runs, file=file)
    raise_all(found)
    return resolved


def pipelines_set_up(config: PipelineConfig) -> tuple[tuple[str, ...], dict[str, str]]:
    """The pipelines the config is set up for, and why each other one is not.

    pre-merge needs only [service]; release pushes (it needs [publish]); dev
    pushes and deploys (it needs [publish] and [deploy]).
    """
    missing = {
        "dev": [
            t for t, s in (("[publish]", config.publish), ("[deploy]", config.deploy)) if not s
        ],
        "pre-merge": [],
        "release": [] if config.publish is not None else ["[publish]"],
    }
    ready = tuple(name for name, tables in missing.items() if not tables)
    why = {name: f"no {' and no '.join(tables)}" for name, tables in missing.items() if tables}
    return ready, why


def overlay_kustomization(config: PipelineConfig) -> str | None:
    """Where the EKS target's overlay keeps its kustomization (None: no EKS target)."""
    deploy = config.deploy
    if deploy is None or deploy.target != "eks" or deploy.eks is None:
        return None
    return posixpath.join(deploy.eks.overlay, KUSTOMIZATION)


def _required(require: Callable[..., object], file: str) -> list[PipelinesError]:
    try:
        require(file=file)
    except ConfigError as missing:
        return [missing]
    return []


def _exposed_port(
    config: PipelineConfig, dockerfile: Dockerfile, file: str
) -> list[PipelinesError]:
    service = config.service
    if dockerfile.stage(config.build.target) is None:
        return []  # a missing stage is its own problem (build_target_problems)
    ports = dockerfile.exposed_ports(config.build.target)
    if service.port_not_exposed_because is not None or ports is None or service.port in ports:
        return []
    stage = config.build.target or "the last stage"
    exposed = ", ".join(map(str, ports)) if ports else "no port"
    return [
        ConfigError(
            file=file,
            key="service.port",
            problem=f"the app listens on {service.port}, but the shipped image ({stage} of "
            f"{config.build.dockerfile}) exposes {exposed}: the app would never turn healthy",
            fix=f"add `EXPOSE {service.port}` to that stage, correct `port`, or say why with "
            '`port_not_exposed_because = "..."` under [service]',
        )
    ]


def _report_paths(config: PipelineConfig, file: str) -> list[PipelinesError]:
    found: list[PipelinesError] = []
    for name, suite in config.tests.items():
        if suite.report is not None and ".." in suite.report.split("/"):
            found.append(
                ConfigError(
                    file=file,
                    key=f"test.{name}.report",
                    problem=f"{suite.report!r} leaves the toolchain's working directory",
                    fix=f'write it inside it, e.g. `report = "reports/{name}.xml"`',
                )
            )
    return found


def _overlay(config: PipelineConfig, facts: ServiceFacts, file: str) -> list[PipelinesError]:
    path = overlay_kustomization(config)
    if path is None or facts.overlay_found is not False:
        return []
    return [
        ConfigError(
            file=file,
            key="deploy.eks.overlay",
            problem=f"there is no {path} where overlay paths start (--manifests, else the "
            "service directory)",
            fix="point `overlay` at the service's dev overlay, or pass --manifests with the "
            "directory that holds it (the repository root for examples/)",
        )
    ]


def _dev_suites(config: PipelineConfig, file: str) -> list[PipelinesError]:
    after_deploy = [s for s in config.suites_for("dev") if s.name != "unit"]
    if after_deploy:
        return []
    return [
        ConfigError(
            file=file,
            key="test.smoke",
            problem="dev deploys the test image and smoke-tests the deployment, but no suite "
            "runs against it: it would push and deploy, then have nothing to check",
            fix='add [test.smoke] (its pipelines include "dev" by default), or list "dev" in '
            "another suite's `pipelines`",
        )
    ]


def _unique(found: list[PipelinesError]) -> list[PipelinesError]:
    seen: set[str] = set()
    unique = []
    for problem in found:
        if str(problem) not in seen:
            seen.add(str(problem))
            unique.append(problem)
    return unique
