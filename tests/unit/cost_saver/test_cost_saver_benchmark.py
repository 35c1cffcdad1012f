"""The benchmark checks the fleet itself: a handler that reports success without acting fails it."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

import pytest

from cost_saver.handler import handle
from cost_saver.settings import Event
from tests.conftest import ROOT

# A smoke-sized fleet: the call targets are only checked at --scale 1.
SMALL = ["--scale", "0.01", "--latency-ms", "0"]


def benchmark() -> ModuleType:
    # Not "cost_saver": that name is the Lambda's package.
    spec = importlib.util.spec_from_file_location(
        "cost_saver_benchmark", ROOT / "benchmarks" / "cost_saver.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def lying_handle(event: Event, **kwargs: Any) -> dict[str, object]:
    """Looks at the fleet as the real handler does, touches nothing, reports every resource done."""
    report = handle(Event(action=event.action, dry_run=True), **kwargs)
    resources = report["resources"]
    assert isinstance(resources, list)
    for resource in resources:
        if resource["result"] == "planned":
            resource["result"] = "done"
    report["counts"] = {"done": len(resources), "planned": 0, "skipped": 0, "failed": 0}
    return report


def test_the_benchmark_passes_on_the_real_handler(capsys: pytest.CaptureFixture[str]) -> None:
    status = benchmark().main(SMALL)

    out = capsys.readouterr().out
    assert status == 0, out
    assert "fleet read back from AWS: all 28 resources parked" in out
    assert "fleet read back from AWS: all 28 resources back to its capacity" in out
    assert out.rstrip().endswith("targets hold")


def test_a_handler_that_reports_success_without_acting_fails_the_benchmark(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = benchmark().main(SMALL, handle=lying_handle)

    out = capsys.readouterr().out
    assert status == 1
    # Its own report says every resource was done...
    assert "stop: 28 of 28 resources done, 0 failed" in out
    # ...and reading the fleet back says otherwise.
    assert "FLEET CHECK FAILED: 28 resources not where they should be" in out
    assert "ec2-instance" in out
    assert "expected stopped" in out
    assert out.rstrip().endswith("TARGETS MISSED")
