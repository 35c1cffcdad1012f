"""The run's report (the handler's return value) and its JSON log lines."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cost_saver.model import Action, Outcome, Result
from pipelines.errors import PipelinesError

# One JSON object per line: CloudWatch Logs Insights and every log shipper
# parse it without a pattern. Injected so tests read the lines as data.
LogSink = Callable[[Mapping[str, object]], None]


def stdout_sink(line: Mapping[str, object]) -> None:
    """Write to stdout: the Lambda runtime sends each line to CloudWatch as is."""
    sys.stdout.write(json.dumps(line, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


@dataclass(kw_only=True)
class Report:
    action: Action
    dry_run: bool
    date: str
    regions: list[str]
    sink: LogSink = stdout_sink
    skipped_because: str | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    # Errors that are not one resource's: a region or a kind that could not be listed.
    general_errors: list[dict[str, str | None]] = field(default_factory=list)
    # What an operator should know that is no error (a lease taken over from a killed run).
    notes: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        level = "INFO"
        if outcome.result is Result.FAILED:
            level = "ERROR"
        elif outcome.changed_while_parked:
            level = "WARNING"
        self.sink(
            {
                "time": _now(),
                "level": level,
                "event": "resource",
                "dry_run": self.dry_run,
                **outcome.to_json(),
            }
        )

    def add_error(self, *, region: str, kind: str | None, error: str) -> None:
        entry: dict[str, str | None] = {"region": region, "kind": kind, "id": None, "error": error}
        self.general_errors.append(entry)
        self.sink({"time": _now(), "level": "ERROR", "event": "error", **entry})

    def log_refusal(self, error: str) -> None:
        """The one line of a run that refused to start (the lease is held, the table is gone)."""
        self.sink(
            {
                "time": _now(),
                "level": "ERROR",
                "event": "refused",
                "action": str(self.action),
                "error": error,
            }
        )

    def add_note(self, note: str) -> None:
        self.notes.append(note)
        self.sink({"time": _now(), "level": "WARNING", "event": "note", "note": note})

    @property
    def failed(self) -> bool:
        return bool(self.errors())

    def errors(self) -> list[dict[str, str | None]]:
        per_resource: list[dict[str, str | None]] = [
            {"region": o.region, "kind": o.kind, "id": o.id, "error": o.reason}
            for o in self.outcomes
            if o.result is Result.FAILED
        ]
        return self.general_errors + per_resource

    def counts(self) -> dict[str, int]:
        tally = Counter(str(outcome.result) for outcome in self.outcomes)
        return {str(result): tally.get(str(result), 0) for result in Result}

    def _run_fields(self) -> dict[str, object]:
        """What the result and the summary log line both say about the run."""
        return {
            "action": str(self.action),
            "dry_run": self.dry_run,
            "date": self.date,
            "regions": list(self.regions),
            "skipped_because": self.skipped_because,
            "counts": self.counts(),
            "notes": list(self.notes),
        }

    def to_json(self) -> dict[str, object]:
        return {
            **self._run_fields(),
            "resources": [outcome.to_json() for outcome in self.outcomes],
            "errors": self.errors(),
        }

    def log_summary(self) -> None:
        self.sink(
            {
                "time": _now(),
                "level": "ERROR" if self.failed else "INFO",
                "event": "summary",
                **self._run_fields(),
                "errors": len(self.errors()),
            }
        )


_SHOWN_ERRORS = 20


class ResourcesFailedError(PipelinesError):
    """Raised after every resource was tried, so the Lambda errors alarm fires."""

    def __init__(self, report: Report) -> None:
        self.report = report
        errors = report.errors()
        # An error's own lines (its fix) are indented under it, apart from the fix below.
        shown = "\n".join(
            f"  {e['region']} {e['kind'] or '-'} {e['id'] or '-'}: "
            + str(e["error"]).replace("\n", "\n  ")
            for e in errors[:_SHOWN_ERRORS]
        )
        hidden = len(errors) - _SHOWN_ERRORS
        more = f"\n  ... and {hidden} more" if hidden > 0 else ""
        super().__init__(
            f"{len(errors)} error(s); every other resource was handled:\n{shown}{more}",
            where=f"cost saver {report.action}",
            fix='read each error above (the JSON log lines with "level": "ERROR" have them '
            "too), fix the cause, and run the same action again: it is safe to repeat",
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
