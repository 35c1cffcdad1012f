"""[lint], [docs] and [test.*]: the commands that validate a service."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from pipelines.config._reader import Table
from pipelines.errors import Collector
from pipelines.suite_env import RESERVED

SUITES = ("unit", "smoke", "integration", "e2e")
# Pipelines that run test suites (release gates on the scan, not on suites).
SUITE_PIPELINES = ("dev", "pre-merge")
# Where a suite runs when its table does not say: unit tests and smoke in both
# (dev smoke-tests the deployment), integration and e2e before a merge.
DEFAULT_PIPELINES = {
    "unit": ("dev", "pre-merge"),
    "smoke": ("dev", "pre-merge"),
    "integration": ("pre-merge",),
    "e2e": ("pre-merge",),
}


@dataclass(frozen=True, kw_only=True)
class LintConfig:
    commands: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, kw_only=True)
class DocsConfig:
    """The commands that build the service's documents (mkdocs, Sphinx, TypeDoc...).

    They run where [lint]'s do: in the ``lint`` step, in the toolchain, and in
    the ``service-lint`` git hook, with the developer's own tools.
    """

    commands: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, kw_only=True)
class SuiteConfig:
    """One test suite: commands run in order in the toolchain, and its report.

    ``report`` is the JUnit XML path the commands write, relative to the
    toolchain's workdir or absolute. It is exported whether the suite passes
    or fails.
    """

    name: str
    commands: tuple[tuple[str, ...], ...]
    report: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    # e2e only: a digest-pinned runner image (e.g. Playwright's, for a service
    # with a UI) instead of the toolchain; the source is mounted the same way.
    image: str | None = None
    # The pipelines that run it. In dev, unit runs before the push and every
    # other suite against the deployment; in pre-merge, against the app run as
    # a service.
    pipelines: tuple[str, ...] = SUITE_PIPELINES


def parse_lint(table: Table | None) -> LintConfig | None:
    commands = _commands_of(table)
    return None if commands is None else LintConfig(commands=commands)


def parse_docs(table: Table | None) -> DocsConfig | None:
    commands = _commands_of(table)
    return None if commands is None else DocsConfig(commands=commands)


def _commands_of(table: Table | None) -> tuple[tuple[str, ...], ...] | None:
    """A table whose only key is ``commands``, a list of argument lists."""
    if table is None:
        return None
    commands: tuple[tuple[str, ...], ...] = table.argv_list("commands")
    table.finish()
    return commands


def parse_suites(table: Table | None) -> dict[str, SuiteConfig]:
    """Every [test.<suite>] table; each is checked on its own, all problems reported."""
    if table is None:
        return {}
    collected = Collector()
    suites: dict[str, SuiteConfig] = {}
    for name in SUITES:
        suite = collected.attempt(partial(table.table, name))
        if suite is None:
            continue
        parsed = collected.attempt(partial(_parse_suite, suite, name))
        if parsed is not None:
            suites[name] = parsed
    collected.attempt(table.finish)
    collected.raise_all()
    return suites


def _parse_suite(suite: Table, name: str) -> SuiteConfig:
    commands = suite.argv_list("commands")
    report = suite.string("report", None, example='"reports/junit.xml"')
    env = suite.str_map("env", ())
    refuse_contract_names(suite, env)
    image = _runner_image(suite, name)
    pipelines = _pipelines(suite, name)
    suite.finish()
    return SuiteConfig(
        name=name, commands=commands, report=report, env=env, image=image, pipelines=pipelines
    )


def refuse_contract_names(table: Table, env: tuple[tuple[str, str], ...]) -> None:
    """The suites' environment contract sets these itself, the same in every pipeline:
    a value of the config's own would hold locally and be replaced in dev."""
    for name, _ in env:
        if name in RESERVED:
            table.fail(
                f"env.{name}",
                f"{name} is set by the pipeline for every suite (the suites' environment "
                "contract, docs/configuration.md)",
                f"remove it from `env`; read {name} as the pipeline sets it",
            )


def _pipelines(suite: Table, name: str) -> tuple[str, ...]:
    default = DEFAULT_PIPELINES[name]
    example = "[" + ", ".join(f'"{p}"' for p in default) + "]"
    chosen: tuple[str, ...] = suite.str_list("pipelines", default, example=example)
    for pipeline in chosen:
        if pipeline not in SUITE_PIPELINES:
            suite.fail(
                "pipelines",
                f"unknown pipeline {pipeline!r} (release runs no suites: its gate is the scan)",
                "use any of " + ", ".join(f'"{p}"' for p in SUITE_PIPELINES),
            )
    return tuple(p for p in SUITE_PIPELINES if p in chosen)


# Only e2e may leave the toolchain: its browsers are an image of their own,
# while the other suites must test with exactly the toolchain the image pins.
_OWN_IMAGE_SUITES = ("e2e",)


def _runner_image(suite: Table, name: str) -> str | None:
    if name not in _OWN_IMAGE_SUITES:
        if suite.has("image"):
            suite.fail(
                "image",
                f"only [test.e2e] may set its own runner image, not [test.{name}]",
                f"remove `image` from [test.{name}]: it runs in the [toolchain]",
            )
        return None
    image: str | None = suite.image("image", None)
    return image
