"""run.json round trip, and the verdict CI asks for after exporting the reports."""

from __future__ import annotations

import json

import pytest

from pipelines.errors import PipelinesError
from pipelines.run_record import from_json, to_json, verdict
from pipelines.stepgraph import PipelineResult, StepResult, StepStatus


def result(*statuses: StepStatus) -> PipelineResult[object]:
    return PipelineResult(
        name="pre-merge",
        steps=tuple(
            StepResult(name=f"step{i}", kind="validation", status=s, duration=1.0, error=None)
            for i, s in enumerate(statuses)
        ),
        wall=2.5,
    )


def test_round_trip_keeps_every_step() -> None:
    original = result(StepStatus.PASSED, StepStatus.FAILED, StepStatus.SKIPPED)
    text = to_json(original, extra={"commit": "a" * 40})
    assert from_json(text, file="run.json") == original
    assert json.loads(text)["commit"] == "a" * 40


def test_a_passed_run_passes() -> None:
    outcome = verdict(to_json(result(StepStatus.PASSED)), file="run.json")
    assert outcome.ok is True
    assert "PASSED" in outcome.summary


def test_a_failed_step_fails_the_verdict() -> None:
    outcome = verdict(to_json(result(StepStatus.PASSED, StepStatus.FAILED)), file="run.json")
    assert outcome.ok is False


def test_a_problem_outside_the_steps_fails_the_verdict() -> None:
    text = to_json(result(StepStatus.PASSED), problems=("status was not posted",))
    outcome = verdict(text, file="run.json")
    assert outcome.ok is False
    assert "status was not posted" in outcome.summary


@pytest.mark.parametrize("text", ["not json", "{}", '{"format": 1, "steps": [{}]}'])
def test_a_malformed_record_names_the_file(text: str) -> None:
    with pytest.raises(PipelinesError, match=r"reports/run\.json"):
        verdict(text, file="reports/run.json")
