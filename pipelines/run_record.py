"""A pipeline run written to ``run.json``, and the verdict read back from it.

A Dagger call either fails or returns files to export, never both. The
pipelines therefore return their reports (JUnit, SARIF, ...) with this record
beside them; CI exports the directory, uploads the reports, and then asks
``verdict`` to fail the job from the record. The decision stays in code, not
in CI YAML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipelines.errors import PipelinesError
from pipelines.stepgraph import PipelineResult, StepResult, StepStatus, render_summary

RECORD_FILE = "run.json"
FORMAT_VERSION = 1


def to_json(
    result: PipelineResult[Any],
    *,
    problems: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
) -> str:
    """The run as JSON: every step's status, duration, output and error.

    ``problems`` are failures outside the steps (a commit status that could
    not be posted); any of them makes the run fail.
    """
    document = {
        "format": FORMAT_VERSION,
        "pipeline": result.name,
        "ok": result.ok and not problems,
        "problems": list(problems),
        "cancelled": result.cancelled,
        "wall_seconds": round(result.wall, 3),
        "steps": [
            {
                "name": step.name,
                "kind": step.kind,
                "status": str(step.status),
                "duration_seconds": None if step.duration is None else round(step.duration, 3),
                "output": step.output,
                "error": step.error,
                "reason": step.reason,
            }
            for step in result.steps
        ],
        **(extra or {}),
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


@dataclass(frozen=True, kw_only=True)
class Verdict:
    ok: bool
    summary: str


def from_json(text: str, *, file: str) -> PipelineResult[Any]:
    """Read a record written by :func:`to_json`; errors name the file and the fix."""
    fix = "pass the run.json exported from the same pipeline call (`... reports export`)"
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PipelinesError(f"not JSON ({error})", where=file, fix=fix) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
        raise PipelinesError(f"not a run record of format {FORMAT_VERSION}", where=file, fix=fix)
    try:
        steps = tuple(
            StepResult(
                name=str(step["name"]),
                kind=step["kind"],
                status=StepStatus(step["status"]),
                duration=step["duration_seconds"],
                output=step["output"],
                error=step["error"],
                reason=step["reason"],
            )
            for step in document["steps"]
        )
        return PipelineResult(
            name=str(document["pipeline"]),
            steps=steps,
            wall=float(document["wall_seconds"]),
            cancelled=bool(document["cancelled"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PipelinesError(f"malformed run record ({error!r})", where=file, fix=fix) from None


def verdict(text: str, *, file: str) -> Verdict:
    """Whether the recorded run passed, with its summary table and other problems."""
    result = from_json(text, file=file)
    problems = [str(p) for p in json.loads(text).get("problems", [])]
    summary = "\n".join([render_summary(result), *problems])
    return Verdict(ok=result.ok and not problems, summary=summary)
