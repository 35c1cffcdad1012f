"""The step graph: data between steps, concurrency, ordering, failure policies, cancellation."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import pytest

from pipelines.errors import InputError
from pipelines.step_kinds import StepKind
from pipelines.stepgraph import (
    Pipeline,
    PipelineDefinitionError,
    PipelineResult,
    Step,
    StepInputs,
    StepOutput,
    StepStatus,
    pipeline,
)

# Reports in these tests are plain strings standing for files.
Report = str


class Recorder:
    """Fake steps that log when they start and end, in event order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def step(
        self,
        name: str,
        seconds: float = 0.0,
        *,
        depends_on: tuple[str, ...] = (),
        kind: StepKind = "validation",
        fail: Exception | None = None,
        output: str | None = None,
        timeout: float | None = None,
    ) -> Step[Report]:
        async def run(_inputs: StepInputs) -> StepOutput[Report]:
            self.events.append(f"start {name}")
            await anyio.sleep(seconds)
            if fail is not None:
                self.events.append(f"fail {name}")
                raise fail
            self.events.append(f"end {name}")
            return StepOutput(summary=output)

        return Step(name=name, run=run, depends_on=depends_on, kind=kind, timeout=timeout)

    def started(self, name: str) -> bool:
        return f"start {name}" in self.events

    def index(self, event: str) -> int:
        return self.events.index(event)


async def test_independent_steps_run_concurrently() -> None:
    rec = Recorder()
    graph = pipeline("p", [rec.step("a", 0.3), rec.step("b", 0.3), rec.step("c", 0.3)])
    began = time.perf_counter()
    result = await graph.run()
    wall = time.perf_counter() - began
    assert result.ok
    # Sequential would take 0.9 s; concurrent takes ~0.3 s.
    assert wall < 0.6, wall
    assert result.wall < 0.6
    assert all(s.duration is not None and s.duration >= 0.29 for s in result.steps)


async def test_dependants_wait_for_their_dependencies_and_no_longer() -> None:
    rec = Recorder()
    graph = pipeline(
        "p",
        [
            rec.step("slow", 0.3),
            rec.step("build", 0.1),
            rec.step("smoke", 0.05, depends_on=("build",)),
            rec.step("publish", 0.0, depends_on=("smoke", "slow")),
        ],
    )
    result = await graph.run()
    assert result.ok
    assert rec.index("end build") < rec.index("start smoke")
    # smoke starts as soon as build ends, not after the unrelated slow step.
    assert rec.index("start smoke") < rec.index("end slow")
    assert rec.index("end slow") < rec.index("start publish")
    assert rec.index("end smoke") < rec.index("start publish")


async def test_results_are_in_dependency_order_with_outputs() -> None:
    rec = Recorder()
    graph = pipeline(
        "release",
        [
            rec.step("publish", depends_on=("scan",), kind="effect", output="repo@sha256:ab"),
            rec.step("scan", depends_on=("build",), output="reports/trivy.json"),
            rec.step("build"),
        ],
    )
    result = await graph.run()
    assert [s.name for s in result.steps] == ["build", "scan", "publish"]
    assert result.output("publish") == "repo@sha256:ab"
    assert result.step("scan").output == "reports/trivy.json"
    assert "repo@sha256:ab" in result.summary()


async def test_validation_failures_all_reported_and_dependants_skipped() -> None:
    rec = Recorder()
    graph = pipeline(
        "pre-merge",
        [
            rec.step("lint", 0.05, fail=RuntimeError("ruff found 3 problems")),
            rec.step("unit", 0.1, fail=InputError(argument="x", problem="bad", fix="good")),
            rec.step("build", 0.15),
            rec.step("smoke", depends_on=("build",)),
            rec.step("mark", depends_on=("lint", "unit", "smoke"), kind="effect"),
        ],
    )
    result = await graph.run()
    assert not result.ok
    assert result.with_status(StepStatus.FAILED) == ("lint", "unit")
    # The unrelated build and smoke still ran to the end.
    assert result.with_status(StepStatus.PASSED) == ("build", "smoke")
    mark = result.step("mark")
    assert mark.status is StepStatus.SKIPPED
    # Skipped as soon as the first dependency failed, without waiting for the rest.
    assert mark.reason == "lint failed"
    assert not rec.started("mark")
    assert result.step("lint").error == "RuntimeError: ruff found 3 problems"
    # Project errors are shown as their own message, without a class name.
    assert (result.step("unit").error or "").startswith("argument --x: bad")
    summary = result.summary()
    assert "ruff found 3 problems" in summary
    assert "did not run: mark" in summary


async def test_skips_propagate_through_the_graph() -> None:
    rec = Recorder()
    graph = pipeline(
        "p",
        [
            rec.step("build", fail=RuntimeError("no Dockerfile")),
            rec.step("push", depends_on=("build",), kind="effect"),
            rec.step("deploy", depends_on=("push",), kind="effect"),
        ],
    )
    result = await graph.run()
    assert result.step("push").status is StepStatus.SKIPPED
    assert result.step("deploy").status is StepStatus.SKIPPED
    assert result.step("deploy").reason == "push skipped"
    assert rec.events == ["start build", "fail build"]


async def test_an_effect_failure_stops_the_pipeline_but_lets_running_steps_finish() -> None:
    rec = Recorder()
    graph = pipeline(
        "dev",
        [
            rec.step("push", 0.05, kind="effect", fail=RuntimeError("denied")),
            rec.step("lint", 0.2),
            rec.step("deploy", depends_on=("push",), kind="effect"),
            rec.step("unit", 0.0, depends_on=("lint",)),
            rec.step("status", depends_on=("unit",), kind="effect"),
        ],
    )
    result = await graph.run()
    assert result.step("push").status is StepStatus.FAILED
    # lint was already running: it finishes rather than being cut off.
    assert result.step("lint").status is StepStatus.PASSED
    assert result.step("deploy").status is StepStatus.SKIPPED
    # unit would have been ready after lint, but the pipeline had stopped.
    assert result.step("unit").status is StepStatus.NOT_RUN
    assert result.step("unit").reason == "pipeline stopped: push failed"
    assert result.step("status").status is StepStatus.NOT_RUN
    assert not rec.started("unit")
    assert result.ran == ("push", "lint")
    assert result.did_not_run == ("deploy", "unit", "status")


async def test_a_validation_failure_does_not_stop_independent_steps() -> None:
    rec = Recorder()
    graph = pipeline(
        "p",
        [rec.step("lint", fail=RuntimeError("x")), rec.step("unit", 0.05, depends_on=())],
    )
    result = await graph.run()
    assert result.step("unit").status is StepStatus.PASSED


async def test_step_timeout_fails_the_step() -> None:
    rec = Recorder()
    graph = pipeline("p", [rec.step("hang", 5.0, timeout=0.05), rec.step("after", 0.0)])
    began = time.perf_counter()
    result = await graph.run()
    assert time.perf_counter() - began < 2.0
    hang = result.step("hang")
    assert hang.status is StepStatus.FAILED
    assert hang.error == "timed out after 0.05s"
    assert result.step("after").status is StepStatus.PASSED


async def test_a_timeout_error_raised_by_a_step_is_not_mistaken_for_its_timeout() -> None:
    rec = Recorder()
    graph = pipeline("p", [rec.step("http", fail=TimeoutError("read timed out"))])
    result = await graph.run()
    assert result.step("http").error == "TimeoutError: read timed out"


async def test_cancellation_reports_which_steps_ran_and_which_did_not() -> None:
    rec = Recorder()
    graph = pipeline(
        "p",
        [
            rec.step("quick", 0.0),
            rec.step("long", 10.0),
            rec.step("after-quick", 10.0, depends_on=("quick",)),
            rec.step("after-long", depends_on=("long",)),
        ],
    )
    reported: list[PipelineResult[Report]] = []
    with anyio.move_on_after(0.2) as scope:
        await graph.run(on_result=reported.append)
    assert scope.cancelled_caught, "the cancellation must propagate, not be swallowed"
    (result,) = reported
    assert result.cancelled
    assert not result.ok
    assert result.step("quick").status is StepStatus.PASSED
    assert result.step("long").status is StepStatus.CANCELLED
    assert result.step("after-quick").status is StepStatus.CANCELLED
    assert result.step("after-long").status is StepStatus.NOT_RUN
    assert result.step("after-long").reason == "pipeline cancelled"
    assert result.ran == ("quick", "long", "after-quick")
    assert result.did_not_run == ("after-long",)
    summary = result.summary()
    assert summary.startswith("pipeline p: CANCELLED")
    assert "did not run: after-long" in summary


async def test_on_result_receives_the_returned_result() -> None:
    rec = Recorder()
    reported: list[PipelineResult[Report]] = []
    result = await pipeline("p", [rec.step("a")]).run(on_result=reported.append)
    assert reported == [result]


async def test_fake_clock_durations() -> None:
    ticks = iter(range(100))
    rec = Recorder()
    result = await pipeline("p", [rec.step("a")]).run(clock=lambda: float(next(ticks)))
    # Clock reads: run start 0, step start 1, step end 2, run end 3.
    assert result.step("a").duration == 1.0
    assert result.wall == 3.0


async def test_summary_table_lists_every_step_with_result_and_duration() -> None:
    rec = Recorder()
    graph = pipeline(
        "pre-merge",
        [
            rec.step("build", output="sha256:1234"),
            rec.step("scan", depends_on=("build",), fail=RuntimeError("2 CRITICAL\nmore")),
            rec.step("mark", depends_on=("scan",), kind="effect"),
        ],
    )
    summary = (await graph.run()).summary()
    lines = summary.splitlines()
    assert lines[0].startswith("pipeline pre-merge: FAILED in ")
    assert lines[1].split() == ["step", "result", "duration", "output"]
    assert lines[2].split()[:2] == ["build", "passed"]
    assert lines[2].endswith("sha256:1234")
    assert lines[3].split()[:2] == ["scan", "failed"]
    assert lines[3].endswith("RuntimeError: 2 CRITICAL")
    assert lines[4].split() == ["mark", "skipped", "-", "scan", "failed"]
    assert "  scan: RuntimeError: 2 CRITICAL\n    more" in summary


def _noop() -> Callable[[StepInputs], Awaitable[StepOutput[Report]]]:
    async def run(_inputs: StepInputs) -> StepOutput[Report]:
        return StepOutput()

    return run


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "pipeline 'p' has no steps"),
        (
            [Step(name="a", run=_noop()), Step(name="a", run=_noop())],
            "two steps are named 'a'",
        ),
        ([Step(name="a", run=_noop(), depends_on=("a",))], "step 'a' depends on itself"),
        (
            [Step(name="build", run=_noop()), Step(name="push", run=_noop(), depends_on=("buld",))],
            "step 'push' depends on unknown step 'buld' (did you mean \"build\"?)",
        ),
        (
            [
                Step(name="a", run=_noop(), depends_on=("c",)),
                Step(name="b", run=_noop(), depends_on=("a",)),
                Step(name="c", run=_noop(), depends_on=("b",)),
            ],
            "dependency cycle a -> c -> b -> a",
        ),
        ([Step(name=" ", run=_noop())], "a step has an empty name"),
        ([Step(name="a", run=_noop(), timeout=0)], "step 'a' has timeout 0"),
        ([Step(name="a", run=_noop(), kind="deploy")], "step 'a' has kind 'deploy'"),  # type: ignore[arg-type]
    ],
)
def test_graph_errors_are_raised_when_the_pipeline_is_built(
    steps: list[Step[Report]], message: str
) -> None:
    with pytest.raises(PipelineDefinitionError) as caught:
        Pipeline(name="p", steps=tuple(steps))
    assert message in str(caught.value)


def test_order_is_topological_and_keeps_definition_order_among_independents() -> None:
    graph = pipeline(
        "p",
        [
            Step(name="e2e", run=_noop(), depends_on=("build",)),
            Step(name="lint", run=_noop()),
            Step(name="build", run=_noop()),
            Step(name="unit", run=_noop()),
        ],
    )
    assert graph.order == ("build", "e2e", "lint", "unit")


# --- data between steps -------------------------------------------------------------


async def test_a_step_receives_the_values_of_its_dependencies() -> None:
    seen: dict[str, object] = {}

    async def publish(_inputs: StepInputs) -> StepOutput[Report]:
        return StepOutput(summary="pushed", value="repo@sha256:ab")

    async def deploy(inputs: StepInputs) -> StepOutput[Report]:
        image = inputs.get_as("publish", str)
        seen.update(inputs)
        return StepOutput(summary=f"deployed {image}", value=f"https://dev/{image}")

    async def smoke(inputs: StepInputs) -> StepOutput[Report]:
        return StepOutput(summary=f"smoke against {inputs.get_as('deploy', str)}")

    graph = pipeline(
        "dev",
        [
            Step(name="publish", run=publish, kind="effect"),
            Step(name="deploy", run=deploy, depends_on=("publish",), kind="effect"),
            Step(name="smoke", run=smoke, depends_on=("deploy",)),
        ],
    )
    result = await graph.run()
    assert result.ok
    assert seen == {"publish": "repo@sha256:ab"}  # only what it depends on
    assert result.output("smoke") == "smoke against https://dev/repo@sha256:ab"


async def test_a_step_input_of_the_wrong_type_fails_that_step() -> None:
    async def produce(_inputs: StepInputs) -> StepOutput[Report]:
        return StepOutput(value=42)

    async def consume(inputs: StepInputs) -> StepOutput[Report]:
        return StepOutput(summary=inputs.get_as("produce", str))

    result = await pipeline(
        "p",
        [
            Step(name="produce", run=produce),
            Step(name="consume", run=consume, depends_on=("produce",)),
        ],
    ).run()
    assert result.step("consume").status is StepStatus.FAILED
    assert result.step("consume").error == "TypeError: step input 'produce' is int, expected str"


async def test_reports_are_kept_from_passed_and_failed_steps() -> None:
    async def unit(_inputs: StepInputs) -> StepOutput[Report]:
        return StepOutput(
            summary="unit: 3 passed, 1 failed",
            reports={"junit/unit.xml": "<unit/>"},
            failure="unit: 3 passed, 1 failed; failing: test_x",
        )

    async def lint(_inputs: StepInputs) -> StepOutput[Report]:
        return StepOutput(summary="lint passed", reports={"lint.txt": "ok"})

    async def publish(_inputs: StepInputs) -> StepOutput[Report]:
        raise AssertionError("publish must not start after a failed validation")

    result = await pipeline(
        "p",
        [
            Step(name="unit", run=unit),
            Step(name="lint", run=lint),
            Step(name="publish", run=publish, depends_on=("unit", "lint"), kind="effect"),
        ],
    ).run()
    assert not result.ok
    unit_result = result.step("unit")
    assert unit_result.status is StepStatus.FAILED
    assert unit_result.error == "unit: 3 passed, 1 failed; failing: test_x"
    assert unit_result.output == "unit: 3 passed, 1 failed"
    assert result.step("publish").status is StepStatus.SKIPPED
    assert dict(result.reports) == {"junit/unit.xml": "<unit/>", "lint.txt": "ok"}


async def test_two_steps_keeping_one_report_path_is_a_definition_bug() -> None:
    async def keep(_inputs: StepInputs) -> StepOutput[Report]:
        return StepOutput(reports={"same.xml": "x"})

    result = await pipeline("p", [Step(name="a", run=keep), Step(name="b", run=keep)]).run()
    assert result.step("b").status is StepStatus.FAILED
    assert "keeps report 'same.xml', which another step already kept" in (
        result.step("b").error or ""
    )
