"""[lint] and [test.*]: the commands that validate a service."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config._reader import Table

SUITES = ("unit", "smoke", "integration", "e2e")


@dataclass(frozen=True, kw_only=True)
class LintConfig:
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


def parse_lint(table: Table | None) -> LintConfig | None:
    if table is None:
        return None
    commands = table.argv_list("commands")
    table.finish()
    return LintConfig(commands=commands)


def parse_suites(table: Table | None) -> dict[str, SuiteConfig]:
    if table is None:
        return {}
    suites: dict[str, SuiteConfig] = {}
    for name in SUITES:
        suite = table.table(name)
        if suite is None:
            continue
        commands = suite.argv_list("commands")
        report = suite.string("report", None, example='"reports/junit.xml"')
        env = suite.str_map("env", ())
        suite.finish()
        suites[name] = SuiteConfig(name=name, commands=commands, report=report, env=env)
    table.finish()
    return suites
