"""The suites' environment contract: what a suite may read, the same wherever it runs.

A suite that tests the app (smoke, integration, e2e) gets the same variable
*names* beside the app run as a service (pre-merge, ``dagger call smoke``)
and against a deployment (dev); only their values differ. A suite that
passes locally on a variable the deployment never sets would fail only in
dev, after a push and a deploy: that is what this contract rules out.

A suite that only ever runs beside the app (not listed for ``dev``) gets
more: the app's own environment (``[service] env`` and ``secret_env``) and
each running dependency's connection variables, so it can check what the
app stored. A suite listed for ``dev`` never gets those, not even locally.

docs/configuration.md ("The suites' environment") lists the contract; a
test holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config refuses these names in its env tables: no import cycle
    from pipelines.config import PipelineConfig, SuiteConfig


@dataclass(frozen=True, kw_only=True)
class ContractVariable:
    name: str
    # Which suites get it: "all" or "app" (every suite but unit, which tests no app).
    suites: str
    meaning: str


CONTRACT: tuple[ContractVariable, ...] = (
    ContractVariable(
        name="BASE_URL",
        suites="app",
        meaning="where the app answers, without a trailing slash: `http://app:<port>` beside "
        "the app run as a service, the deployment's URL in dev (or `--url`)",
    ),
    ContractVariable(
        name="PIPELINE_RUN",
        suites="app",
        meaning="a fresh value for each run: the suite really runs every time, never from "
        "the cache; unique names for what a run creates",
    ),
    ContractVariable(
        name="PIPELINE_SUITE",
        suites="all",
        meaning="the suite's name: `unit`, `smoke`, `integration` or `e2e`",
    ),
)
RESERVED = tuple(variable.name for variable in CONTRACT)


def tests_the_app(suite: SuiteConfig) -> bool:
    """Unit tests run in the toolchain alone; every other suite tests the running app."""
    return suite.name != "unit"


def contract_env(
    suite: SuiteConfig, *, base_url: str | None = None, run_stamp: str | None = None
) -> tuple[tuple[str, str], ...]:
    """The contract's variables for ``suite``, in the order of CONTRACT.

    ``base_url`` and ``run_stamp`` are None for unit tests only (a stamp
    would keep them from ever being replayed from the cache).
    """
    if tests_the_app(suite) and (base_url is None or run_stamp is None):
        raise ValueError(f"suite {suite.name!r} tests the app: it needs a base URL and a run stamp")
    values = {"BASE_URL": base_url, "PIPELINE_RUN": run_stamp, "PIPELINE_SUITE": suite.name}
    return tuple(
        (variable.name, value)
        for variable in CONTRACT
        if (value := values[variable.name]) is not None
        and (variable.suites == "all" or tests_the_app(suite))
    )


def gets_app_environment(suite: SuiteConfig) -> bool:
    """Whether the suite also gets the app's environment and its dependencies'
    connection variables: only one that never runs against a deployment."""
    return tests_the_app(suite) and "dev" not in suite.pipelines


def base_url(config: PipelineConfig, host: str) -> str:
    """The app's URL beside it: ``http://<host>:<port>``."""
    return f"http://{host}:{config.service.port}"
