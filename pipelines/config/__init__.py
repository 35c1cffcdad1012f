"""``pipelines.toml``: one service's pipeline configuration.

Parsed once into frozen, keyword-only dataclasses; every later step reads
these and never the raw TOML. Each section lives in a module of its own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pipelines.caches import DEFAULT_TRUST_LEVEL, CacheScope
from pipelines.config._every_problem import every_problem
from pipelines.config._reader import Table
from pipelines.config.build import (
    BuildConfig,
    CacheMount,
    ToolchainConfig,
    parse_build,
    parse_toolchain,
)
from pipelines.config.checks import (
    SUITES,
    DocsConfig,
    LintConfig,
    SuiteConfig,
    parse_docs,
    parse_lint,
    parse_suites,
)
from pipelines.config.dependencies import DependencyConfig, parse_dependencies
from pipelines.config.deploy import DeployConfig, parse_deploy
from pipelines.config.forge import ForgeConfig, parse_forge
from pipelines.config.publish import PublishConfig, parse_publish
from pipelines.config.scan import ScanConfig, parse_scan
from pipelines.config.service import ServiceConfig, parse_service
from pipelines.config.status import StatusConfig, parse_status
from pipelines.errors import Collector, ConfigError
from pipelines.forge import FORGES, PURPOSES, Purpose
from pipelines.values import AwsRegion, is_digest_pinned

CONFIG_FILE = "pipelines.toml"
# The hostname the service under test has for its test runner.
APP_HOST = "app"

__all__ = [
    "CONFIG_FILE",
    "SUITES",
    "BuildConfig",
    "CacheMount",
    "ConfigError",
    "DependencyConfig",
    "DeployConfig",
    "DocsConfig",
    "ForgeConfig",
    "LintConfig",
    "PipelineConfig",
    "PublishConfig",
    "ScanConfig",
    "ServiceConfig",
    "StatusConfig",
    "SuiteConfig",
    "ToolchainConfig",
    "is_digest_pinned",
    "load_config",
    "parse_config",
]


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    service: ServiceConfig
    build: BuildConfig = field(default_factory=BuildConfig)
    toolchain: ToolchainConfig = field(default_factory=lambda: ToolchainConfig(target="test"))
    lint: LintConfig | None = None
    docs: DocsConfig | None = None
    tests: dict[str, SuiteConfig] = field(default_factory=dict)
    scan: ScanConfig = field(default_factory=ScanConfig)
    publish: PublishConfig | None = None
    deploy: DeployConfig | None = None
    # Where commit statuses and promotions go; None: no statuses, and promote cannot run.
    forge: ForgeConfig | None = None
    status: StatusConfig = field(default_factory=StatusConfig)
    dependencies: tuple[DependencyConfig, ...] = ()
    # What the file should say instead of a deprecated spelling: one message each,
    # "pipelines.toml: status.provider is deprecated: ...". Data, not warnings:
    # the caller decides where they are shown.
    deprecations: tuple[str, ...] = ()
    # Not read from the file: the trust level of the job running this call
    # (the CI entry point's --trust-level), which namespaces its cache volumes
    # (pipelines.caches). The least trusted by default.
    trust_level: str = DEFAULT_TRUST_LEVEL

    @property
    def cache_scope(self) -> CacheScope:
        """Where this call's cache volumes live: per trust level and service."""
        return CacheScope(trust_level=self.trust_level, service=self.service.name)

    def require_forge(self, purpose: Purpose, *, file: str = CONFIG_FILE) -> ForgeConfig:
        """The forge, or a ConfigError saying how to add it, for a use that cannot go without."""
        if self.forge is None:
            examples = " or ".join(
                f'`provider = "{name}"` and `{kind.locator.key} = "{kind.locator.example}"`'
                for name, kind in FORGES.items()
            )
            raise ConfigError(
                file=file,
                key="forge",
                problem=f"{PURPOSES[purpose].doing} needs a forge, but none is configured",
                fix=f"add a [forge] table with {examples}",
            )
        return self.forge

    def require_publish(self, *, file: str = CONFIG_FILE) -> PublishConfig:
        """[publish], or a ConfigError saying how to add it."""
        return _required(
            self.publish,
            file=file,
            key="publish",
            problem="no [publish] table: there is nowhere to push the image",
            fix='add [publish] with `registry = "<account>.dkr.ecr.<region>.amazonaws.com"` '
            'and `repository = "<name>"` (see docs/configuration.md)',
        )

    def require_deploy(self, *, file: str = CONFIG_FILE) -> DeployConfig:
        """[deploy], or a ConfigError saying how to add it."""
        return _required(
            self.deploy,
            file=file,
            key="deploy",
            problem="no [deploy] table: there is no dev infrastructure to deploy to",
            fix='add [deploy] with `target = "eks"` and a [deploy.eks] table '
            "(see docs/configuration.md)",
        )

    @property
    def static_checks(self) -> tuple[tuple[str, ...], ...]:
        """What the lint step and the service-lint hook run: [lint]'s commands,
        then [docs]' (a docs build is a check that the documents still build)."""
        lint = self.lint.commands if self.lint else ()
        return lint + (self.docs.commands if self.docs else ())

    def require_static_checks(self, *, file: str = CONFIG_FILE) -> tuple[tuple[str, ...], ...]:
        """[lint] and [docs]'s commands, or a ConfigError saying how to add them."""
        if not self.static_checks:
            raise ConfigError(
                file=file,
                key="lint",
                problem="no [lint] or [docs] table: there is nothing to run",
                fix='add [lint] with `commands = [["ruff", "check", "."]]` (or your linter), '
                'or [docs] with `commands = [["mkdocs", "build", "--strict"]]`',
            )
        return self.static_checks

    @property
    def aws_region(self) -> AwsRegion:
        """Where this service's AWS calls go first (its registry's region, else its
        dev target's): the region a CI's OIDC token is exchanged in."""
        if self.publish is not None:
            return self.publish.region
        if self.deploy is not None:
            return self.deploy.selected.region
        return AwsRegion("us-east-1")

    def dependencies_for(self, suite: str) -> tuple[DependencyConfig, ...]:
        """What ``suite`` starts beside the app: its own dependencies, and any whose
        secret the app's ``secret_env`` needs (the app cannot start without them)."""
        needed = {reference.split(".")[0] for _, reference in self.service.secret_env}
        return tuple(d for d in self.dependencies if suite in d.suites or d.name in needed)

    def suites_for(self, pipeline: str) -> tuple[SuiteConfig, ...]:
        """The suites ``pipeline`` runs, in the order of SUITES: those the service
        defines and lists for it (by default every suite it defines)."""
        return tuple(
            self.tests[name]
            for name in SUITES
            if name in self.tests and pipeline in self.tests[name].pipelines
        )

    def suite(self, name: str, *, file: str = CONFIG_FILE) -> SuiteConfig:
        """The named test suite, or a ConfigError saying how to add it."""
        if name not in SUITES:
            raise ConfigError(
                file=file,
                key=f"test.{name}",
                problem=f"unknown test suite {name!r}",
                fix="use one of " + ", ".join(SUITES),
            )
        if name not in self.tests:
            raise ConfigError(
                file=file,
                key=f"test.{name}",
                problem=f"no [test.{name}] table: the {name} suite has no commands",
                fix=f"add [test.{name}] with `commands = [[<your {name} test command>]]` "
                f'and its JUnit `report = "reports/{name}.xml"`',
            )
        return self.tests[name]


def load_config(path: Path | str) -> PipelineConfig:
    """Read and parse a ``pipelines.toml`` file; errors name the file."""
    file = str(path)
    fix = f"check the path: a service keeps its {CONFIG_FILE} in its root directory"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ConfigError(file=file, key=None, problem="not found", fix=fix) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            file=file, key=None, problem=f"cannot be read: {error}", fix=fix
        ) from None
    return parse_config(text, file=file)


T = TypeVar("T")


def _required(section: T | None, *, file: str, key: str, problem: str, fix: str) -> T:
    """A section a function cannot do without, or the ConfigError that says how to add it."""
    if section is None:
        raise ConfigError(file=file, key=key, problem=problem, fix=fix)
    return section


def parse_config(text: str, *, file: str = CONFIG_FILE) -> PipelineConfig:
    """Parse and validate the text of a ``pipelines.toml``."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            file=file,
            key=None,
            problem=f"invalid TOML: {error}",
            fix="correct the syntax at the line and column shown",
        ) from None
    except RecursionError:
        # tomllib recurses once per level of nesting (about 500 levels exhaust it).
        raise ConfigError(
            file=file,
            key=None,
            problem="invalid TOML: arrays or inline tables are nested too deeply to read",
            fix="nest arrays and inline tables a few levels at most, as pipelines.toml needs",
        ) from None
    return every_problem(lambda document: _parse_document(document, file), data)


def _parse_document(data: dict[str, Any], file: str) -> PipelineConfig:
    """One pass over the document: every table checked on its own (see
    _every_problem.every_problem for how checking goes on past a problem)."""
    root = Table(data, file=file, path="")
    # Each table is checked on its own, so one run lists every mistake; the
    # checks across tables run once the tables they read are known good.
    collected = Collector()
    attempt = collected.attempt
    status_table = attempt(lambda: root.table("status"))
    # Before parse_status: the old forge keys of [status] are read as the forge.
    forge_and_deprecations = attempt(
        lambda: parse_forge(root.table("forge"), status_table, file=file)
    )
    service = attempt(lambda: parse_service(root.required_table("service")))
    build = attempt(lambda: parse_build(root.table("build")))
    toolchain = attempt(lambda: parse_toolchain(root.table("toolchain")))
    lint = attempt(lambda: parse_lint(root.table("lint")))
    docs = attempt(lambda: parse_docs(root.table("docs")))
    tests = attempt(lambda: parse_suites(root.table("test")))
    scan = attempt(lambda: parse_scan(root.table("scan")))
    publish = attempt(lambda: parse_publish(root.table("publish")))
    deploy = attempt(lambda: parse_deploy(root.table("deploy")))
    # [status] shares its table with the old forge keys: checked only once they are.
    status = attempt(lambda: parse_status(status_table)) if forge_and_deprecations else None
    dependencies = attempt(lambda: parse_dependencies(root.tables("dependencies")))
    attempt(root.finish)
    collected.raise_all()
    forge, deprecations = _parsed(forge_and_deprecations)
    config = PipelineConfig(
        service=_parsed(service),
        build=_parsed(build),
        toolchain=_parsed(toolchain),
        lint=lint,
        docs=docs,
        tests=_parsed(tests),
        scan=_parsed(scan),
        publish=publish,
        deploy=deploy,
        forge=forge,
        status=_parsed(status),
        dependencies=_parsed(dependencies),
        deprecations=deprecations,
    )
    across = Collector()
    across.attempt(lambda: _check_dependency_names(config, file))
    across.attempt(lambda: _check_secret_references(config, file))
    across.raise_all()
    return config


def _parsed(section: T | None) -> T:
    """A section once every problem has been raised: parsed, so never None."""
    if section is None:
        raise AssertionError("a section that failed to parse was not reported")
    return section


def _check_dependency_names(config: PipelineConfig, file: str) -> None:
    for index, dependency in enumerate(config.dependencies):
        if dependency.name == APP_HOST:
            raise ConfigError(
                file=file,
                key=f"dependencies[{index}].name",
                problem=f"{APP_HOST!r} is the hostname of the service under test itself",
                fix='rename the dependency, e.g. "db" or "cache"',
            )


def _check_secret_references(config: PipelineConfig, file: str) -> None:
    """Every ``service.secret_env`` entry must name a secret a dependency generates."""
    known = {f"{d.name}.{var}" for d in config.dependencies for var in d.secret_env}
    for key, reference in config.service.secret_env:
        if reference not in known:
            raise ConfigError(
                file=file,
                key=f"service.secret_env.{key}",
                problem=f"{reference!r} is not a secret of any [[dependencies]] entry",
                fix="list the variable in that dependency's `secret_env`; known: "
                + (", ".join(sorted(known)) or "none"),
            )
