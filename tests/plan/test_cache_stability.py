"""Two runs of every function and pipeline build the same graphs, but where a rule says why.

See tests/plan/stability.py for how runs are compared, and docs/architecture.md
for the deliberate differences; benchmarks/cache_stability.py prints the figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagger
import pytest

from ci import toolchain
from tests.plan.stability import DELIBERATE, PURE, SCENARIOS, measure, module_source_problems


@pytest.mark.parametrize("name", SCENARIOS)
async def test_no_run_to_run_difference_goes_unexplained(name: str) -> None:
    comparison = await measure(name, SCENARIOS[name])
    assert comparison.graphs > 0, "the scenario awaited nothing: it proves nothing"
    assert comparison.undocumented == [], [d.detail for d in comparison.undocumented]
    assert {d.rule for d in comparison.differences} <= set(DELIBERATE)


async def test_the_pure_functions_differ_in_nothing() -> None:
    """lint, test and build are cached by the engine: not even a deliberate difference."""
    for name in PURE:
        comparison = await measure(name, SCENARIOS[name])
        assert comparison.differences == [], (name, comparison.differences)


async def test_a_planted_timestamp_is_caught() -> None:
    real = toolchain.toolchain

    def stamped(source: dagger.Directory, config: object) -> dagger.Container:
        built = real(source, config)  # type: ignore[arg-type]
        return built.with_env_variable("BUILT_AT", str(time.perf_counter_ns()))

    comparison = await measure(
        "lint", SCENARIOS["lint"], patches=[(toolchain, "toolchain", stamped)]
    )
    # One lint container per [lint] command: each carries the planted stamp.
    details = {d.detail for d in comparison.undocumented}
    assert len(comparison.undocumented) >= 1
    assert details == {"withEnvVariable(value)"}


def test_the_module_source_leaves_out_what_changes_with_every_commit() -> None:
    assert module_source_problems() == []


def test_a_module_source_with_git_in_it_is_caught(tmp_path: Path) -> None:
    (tmp_path / "dagger.json").write_text(json.dumps({"include": ["!tests", "!docs"]}))
    assert "dagger.json does not exclude .git" in module_source_problems(tmp_path)
