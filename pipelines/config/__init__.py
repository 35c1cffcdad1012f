"""``pipelines.toml``: one service's pipeline configuration.

Parsed once into frozen, keyword-only dataclasses; every later step reads
these and never the raw TOML. Each section lives in a module of its own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from pipelines.config._reader import Table, is_digest_pinned
from pipelines.config.build import (
    BuildConfig,
    CacheMount,
    ToolchainConfig,
    parse_build,
    parse_toolchain,
)
from pipelines.config.checks import SUITES, LintConfig, SuiteConfig, parse_lint, parse_suites
from pipelines.config.deploy import DeployConfig, parse_deploy
from pipelines.config.publish import PublishConfig, parse_publish
from pipelines.config.scan import ScanConfig, parse_scan
from pipelines.config.service import ServiceConfig, parse_service
from pipelines.errors import ConfigError

CONFIG_FILE = "pipelines.toml"

__all__ = [
    "CONFIG_FILE",
    "SUITES",
    "BuildConfig",
    "CacheMount",
    "ConfigError",
    "DeployConfig",
    "LintConfig",
    "PipelineConfig",
    "PublishConfig",
    "ScanConfig",
    "ServiceConfig",
    "SuiteConfig",
    "ToolchainConfig",
    "is_digest_pinned",
    "parse_config",
]


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    service: ServiceConfig
    build: BuildConfig = field(default_factory=BuildConfig)
    toolchain: ToolchainConfig = field(default_factory=lambda: ToolchainConfig(target="test"))
    lint: LintConfig | None = None
    tests: dict[str, SuiteConfig] = field(default_factory=dict)
    scan: ScanConfig = field(default_factory=ScanConfig)
    publish: PublishConfig | None = None
    deploy: DeployConfig | None = None

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
                fix=f'add [test.{name}] with `commands = [["pytest", "tests/{name}"]]`',
            )
        return self.tests[name]


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
    root = Table(data, file=file, path="")
    config = PipelineConfig(
        service=parse_service(root.required_table("service")),
        build=parse_build(root.table("build")),
        toolchain=parse_toolchain(root.table("toolchain")),
        lint=parse_lint(root.table("lint")),
        tests=parse_suites(root.table("test")),
        scan=parse_scan(root.table("scan")),
        publish=parse_publish(root.table("publish")),
        deploy=parse_deploy(root.table("deploy")),
    )
    root.finish()
    return config
