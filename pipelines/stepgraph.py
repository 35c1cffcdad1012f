"""The step graph: a pipeline is a small graph of named async steps that pass data on.

A step receives the values of the steps it depends on (:class:`StepInputs`)
and returns a :class:`StepOutput`: a one-line summary for the table, a value
for the steps after it (an image reference, a URL), and report files to keep
(JUnit, SARIF, ``release.json``), which are kept whether the step passed or
failed. Nothing passes sideways: no shared dict, no closure that another step
fills in.

Steps whose dependencies have passed start at once, concurrently, in an
anyio task group. Two failure policies, chosen per step by its ``kind``:

- ``"validation"`` (lint, tests, scan): a failure marks the step failed and
  skips the steps that depend on it; every other step runs to the end, so a
  single run reports every failure.
- ``"effect"`` (publish, deploy, status): the pipeline stops at the first
  failure. Nothing new starts; steps already running finish, because
  interrupting another push or deploy halfway leaves worse debris than
  letting it end.

The run always ends with a :class:`PipelineResult` that says, for every step,
whether it passed, failed, was skipped, was cancelled or never ran, with its
duration, key output and error. If the run itself is cancelled, ``on_result``
still receives the partial result before the cancellation propagates, so a
half-finished pipeline says exactly which steps ran and which did not.

This module is pure: no dagger, no I/O beyond the steps it is given.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
from anyio.abc import TaskGroup

from pipelines.errors import PipelinesError, did_you_mean
from pipelines.step_kinds import KINDS, StepKind

# What a step keeps as reports: ``dagger.File`` in the Dagger module, anything in tests.
R = TypeVar("R")
T = TypeVar("T")


class StepStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    # Never started because a step it depends on did not pass.
    SKIPPED = "skipped"
    # Started, then cancelled before it finished (the run was cancelled).
    CANCELLED = "cancelled"
    # Never started because the pipeline stopped (an effect failed, or the
    # run was cancelled) before its turn came.
    NOT_RUN = "not-run"


class PipelineDefinitionError(ValueError):
    """The step graph itself is wrong (a bug in its definition): raised when it is built."""


@dataclass(frozen=True, kw_only=True)
class StepOutput(Generic[R]):
    """What a step produced: shown, handed on, kept."""

    # One line for the summary table (a digest, a URL, test counts).
    summary: str | None = None
    # Handed to the steps that depend on this one (read with StepInputs.get).
    value: object = None
    # Files to keep, by their path in the run's report directory.
    reports: Mapping[str, R] = field(default_factory=dict)
    # A validation that ran and did not pass says why here; its reports are kept.
    failure: str | None = None


class StepInputs(Mapping[str, object]):
    """The values of the steps a step depends on, by step name."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = dict(values)

    def __getitem__(self, name: str) -> object:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get_as(self, name: str, kind: type[T]) -> T:
        """The value of dependency ``name``, which must be a ``kind``."""
        value = self._values[name]
        if not isinstance(value, kind):
            raise TypeError(
                f"step input {name!r} is {type(value).__name__}, expected {kind.__name__}"
            )
        return value


# A step: the values of its dependencies in, its output out.
StepRun = Callable[[StepInputs], Awaitable[StepOutput[R]]]


@dataclass(frozen=True, kw_only=True)
class Step(Generic[R]):
    name: str
    run: StepRun[R]
    depends_on: tuple[str, ...] = ()
    kind: StepKind = "validation"
    # Seconds; a step that runs longer fails with a timeout error.
    timeout: float | None = None


@dataclass(frozen=True, kw_only=True)
class StepResult:
    name: str
    kind: StepKind
    status: StepStatus
    # Seconds from start to end; None when the step never started.
    duration: float | None = None
    output: str | None = None
    error: str | None = None
    # Why a step was skipped or not run, e.g. "unit failed".
    reason: str | None = None

    @property
    def started(self) -> bool:
        return self.duration is not None


@dataclass(frozen=True, kw_only=True)
class PipelineResult(Generic[R]):
    name: str
    # In a stable topological order (definition order among independent steps).
    steps: tuple[StepResult, ...]
    wall: float
    cancelled: bool = False
    # Every report the steps kept, passed or failed, by path.
    reports: Mapping[str, R] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(s.status is StepStatus.PASSED for s in self.steps)

    def step(self, name: str) -> StepResult:
        for result in self.steps:
            if result.name == name:
                return result
        raise KeyError(name)

    def output(self, name: str) -> str | None:
        return self.step(name).output

    def with_status(self, *statuses: StepStatus) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps if s.status in statuses)

    @property
    def ran(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps if s.started)

    @property
    def did_not_run(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps if not s.started)

    def summary(self) -> str:
        """A plain-text table (step, result, duration, output) and the errors."""
        return render_summary(self)


@dataclass(frozen=True, kw_only=True)
class Pipeline(Generic[R]):
    """A validated step graph. Build it once; ``run`` it as often as needed."""

    name: str
    steps: tuple[Step[R], ...]
    _order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_order", _validate(self.name, self.steps))

    @property
    def order(self) -> tuple[str, ...]:
        return self._order

    async def run(
        self,
        *,
        on_result: Callable[[PipelineResult[R]], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> PipelineResult[R]:
        return await _Run(self, clock).execute(on_result)


def pipeline(name: str, steps: Iterable[Step[R]]) -> Pipeline[R]:
    return Pipeline(name=name, steps=tuple(steps))


def _validate(name: str, steps: Sequence[Step[R]]) -> tuple[str, ...]:
    if not steps:
        raise PipelineDefinitionError(f"pipeline {name!r} has no steps")
    by_name: dict[str, Step[R]] = {}
    for step in steps:
        if not step.name or not step.name.strip():
            raise PipelineDefinitionError(f"pipeline {name!r}: a step has an empty name")
        if step.name in by_name:
            raise PipelineDefinitionError(
                f"pipeline {name!r}: two steps are named {step.name!r}; step names must be unique"
            )
        if step.kind not in KINDS:
            raise PipelineDefinitionError(
                f"pipeline {name!r}: step {step.name!r} has kind {step.kind!r}; "
                f"use one of {', '.join(KINDS)}"
            )
        if step.timeout is not None and not (step.timeout > 0 and math.isfinite(step.timeout)):
            raise PipelineDefinitionError(
                f"pipeline {name!r}: step {step.name!r} has timeout {step.timeout!r}; "
                "use a positive number of seconds or None"
            )
        by_name[step.name] = step
    for step in steps:
        for dependency in step.depends_on:
            if dependency == step.name:
                raise PipelineDefinitionError(
                    f"pipeline {name!r}: step {step.name!r} depends on itself"
                )
            if dependency not in by_name:
                raise PipelineDefinitionError(
                    f"pipeline {name!r}: step {step.name!r} depends on unknown step "
                    f"{dependency!r}{did_you_mean(dependency, by_name)}; "
                    f"known steps: {', '.join(by_name)}"
                )
    return _topological_order(name, steps, by_name)


def _topological_order(
    name: str, steps: Sequence[Step[R]], by_name: Mapping[str, Step[R]]
) -> tuple[str, ...]:
    order: list[str] = []
    state: dict[str, str] = {}  # "visiting" or "done"

    def visit(step_name: str, path: list[str]) -> None:
        if state.get(step_name) == "done":
            return
        if state.get(step_name) == "visiting":
            cycle = [*path[path.index(step_name) :], step_name]
            raise PipelineDefinitionError(
                f"pipeline {name!r}: dependency cycle {' -> '.join(cycle)}; "
                "remove one of these depends_on entries"
            )
        state[step_name] = "visiting"
        for dependency in by_name[step_name].depends_on:
            visit(dependency, [*path, step_name])
        state[step_name] = "done"
        order.append(step_name)

    for step in steps:
        visit(step.name, [])
    return tuple(order)


class _Run(Generic[R]):
    """The mutable state of one run; lives only inside ``Pipeline.run``."""

    def __init__(self, definition: Pipeline[R], clock: Callable[[], float]) -> None:
        self._pipeline = definition
        self._clock = clock
        self._steps = {s.name: s for s in definition.steps}
        self._results: dict[str, StepResult] = {}
        self._started: dict[str, float] = {}
        self._stopped_by: str | None = None
        self._values: dict[str, object] = {}
        self._reports: dict[str, R] = {}

    async def execute(
        self, on_result: Callable[[PipelineResult[R]], None] | None
    ) -> PipelineResult[R]:
        began = self._clock()
        try:
            async with anyio.create_task_group() as group:
                self._start_ready(group)
        except anyio.get_cancelled_exc_class():
            result = self._finish(began, cancelled=True)
            if on_result is not None:
                on_result(result)
            raise
        result = self._finish(began, cancelled=False)
        if on_result is not None:
            on_result(result)
        return result

    def _start_ready(self, group: TaskGroup) -> None:
        for name in self._pipeline.order:
            if name in self._results or name in self._started:
                continue
            step = self._steps[name]
            blocked = [
                d
                for d in step.depends_on
                if d in self._results and self._results[d].status is not StepStatus.PASSED
            ]
            if blocked:
                self._results[name] = StepResult(
                    name=name,
                    kind=step.kind,
                    status=StepStatus.SKIPPED,
                    reason=", ".join(f"{d} {self._results[d].status}" for d in blocked),
                )
                continue
            if self._stopped_by is not None:
                continue
            if all(d in self._results for d in step.depends_on):
                self._started[name] = self._clock()
                group.start_soon(self._run_step, step, group, name=f"step {name}")

    async def _run_step(self, step: Step[R], group: TaskGroup) -> None:
        status, output, error = StepStatus.PASSED, None, None
        inputs = StepInputs({d: self._values.get(d) for d in step.depends_on})
        try:
            with anyio.CancelScope(deadline=self._deadline(step)) as scope:
                produced = await step.run(inputs)
            if scope.cancelled_caught:
                status, error = StepStatus.FAILED, f"timed out after {step.timeout:g}s"
            else:
                self._keep(step, produced)
                output = produced.summary
                if produced.failure is not None:
                    status, error = StepStatus.FAILED, produced.failure
        except anyio.get_cancelled_exc_class():
            self._record(step, StepStatus.CANCELLED, None, "cancelled while running")
            raise
        except Exception as failure:  # noqa: BLE001 - a step's failure is data for the summary.
            status, error = StepStatus.FAILED, _describe(failure)
        self._record(step, status, output, error)
        if status is StepStatus.FAILED and step.kind == "effect" and self._stopped_by is None:
            self._stopped_by = step.name
        self._start_ready(group)

    def _keep(self, step: Step[R], produced: StepOutput[R]) -> None:
        self._values[step.name] = produced.value
        for path, report in produced.reports.items():
            if path in self._reports:
                raise PipelineDefinitionError(
                    f"pipeline {self._pipeline.name!r}: step {step.name!r} keeps report "
                    f"{path!r}, which another step already kept"
                )
            self._reports[path] = report

    @staticmethod
    def _deadline(step: Step[R]) -> float:
        return math.inf if step.timeout is None else anyio.current_time() + step.timeout

    def _record(
        self, step: Step[R], status: StepStatus, output: str | None, error: str | None
    ) -> None:
        self._results[step.name] = StepResult(
            name=step.name,
            kind=step.kind,
            status=status,
            duration=self._clock() - self._started[step.name],
            output=output,
            error=error,
        )

    def _finish(self, began: float, *, cancelled: bool) -> PipelineResult[R]:
        results = []
        for name in self._pipeline.order:
            step = self._steps[name]
            if name in self._results:
                results.append(self._results[name])
            elif name in self._started:  # Only reachable when cancellation cut a step off.
                results.append(
                    StepResult(
                        name=name,
                        kind=step.kind,
                        status=StepStatus.CANCELLED,
                        duration=self._clock() - self._started[name],
                        error="cancelled while running",
                    )
                )
            else:
                results.append(
                    StepResult(
                        name=name,
                        kind=step.kind,
                        status=StepStatus.NOT_RUN,
                        reason=self._not_run_reason(cancelled=cancelled),
                    )
                )
        return PipelineResult(
            name=self._pipeline.name,
            steps=tuple(results),
            wall=self._clock() - began,
            cancelled=cancelled,
            reports=dict(sorted(self._reports.items())),
        )

    def _not_run_reason(self, *, cancelled: bool) -> str:
        if self._stopped_by is not None:
            return f"pipeline stopped: {self._stopped_by} failed"
        if cancelled:
            return "pipeline cancelled"
        # Defensive: a well-formed graph always starts or skips every step.
        return "never became ready"  # pragma: no cover


def _describe(failure: Exception) -> str:
    message = str(failure).strip()
    if isinstance(failure, PipelinesError) and message:
        return message
    return f"{type(failure).__name__}: {message}" if message else type(failure).__name__


def _format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:04.1f}s"


def render_summary(result: PipelineResult[Any]) -> str:
    if result.cancelled:
        verdict = "CANCELLED"
    elif result.ok:
        verdict = "PASSED"
    else:
        verdict = "FAILED"
    rows = [("step", "result", "duration", "output")]
    for step in result.steps:
        if step.status is StepStatus.PASSED:
            shown = step.output or ""
        elif step.error:
            shown = step.error.splitlines()[0]
        else:
            shown = step.reason or ""
        rows.append((step.name, str(step.status), _format_duration(step.duration), shown))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"pipeline {result.name}: {verdict} in {_format_duration(result.wall)}"]
    for row in rows:
        name, status, duration, output = row
        line = f"  {name:<{widths[0]}}  {status:<{widths[1]}}  {duration:>{widths[2]}}  {output}"
        lines.append(line.rstrip())
    lines.append("  ran: " + (", ".join(result.ran) or "none"))
    lines.append("  did not run: " + (", ".join(result.did_not_run) or "none"))
    failures = [s for s in result.steps if s.status is StepStatus.FAILED and s.error]
    if failures:
        lines.append("failures:")
        for step in failures:
            detail = step.error.replace("\n", "\n    ") if step.error else ""
            lines.append(f"  {step.name}: {detail}")
    return "\n".join(lines)
