"""The handler's inputs, parsed once: the scheduler's event and the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cost_saver.guard import (
    DEFAULT_ENVIRONMENTS,
    DEFAULT_TAG_KEY,
    PRODUCTION_NAMES,
    EnvironmentGuard,
)
from cost_saver.model import Action, OptIn
from pipelines.errors import ConfigError, did_you_mean

EVENT = "Lambda event"
ENVIRONMENT = "Lambda environment"
_EVENT_KEYS = ("action", "dry_run")
_EXAMPLE_EVENT = '{"action": "stop", "dry_run": false}'
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
# No dev group should ever come back bigger than this: a saved capacity above
# it is refused as corrupt, and a resource above it is not parked.
DEFAULT_MAX_CAPACITY = 100


@dataclass(frozen=True, kw_only=True)
class Event:
    action: Action
    dry_run: bool


@dataclass(frozen=True, kw_only=True)
class Settings:
    opt_in: OptIn
    guard: EnvironmentGuard
    # The largest min, max, desired or count a saved capacity may hold.
    ceiling: int
    regions: tuple[str, ...]
    skip_dates: frozenset[date]
    timezone: ZoneInfo
    table: str
    # The region of the saved-capacity table: the Lambda's own.
    home_region: str


def parse_event(event: object) -> Event:
    """The scheduler's input: exactly ``{"action": "stop"|"start", "dry_run": bool}``."""
    if not isinstance(event, Mapping):
        raise ConfigError(
            file=EVENT,
            key=None,
            problem=f"expected a JSON object, got {type(event).__name__} {event!r}",
            fix=f"send {_EXAMPLE_EVENT} (the schedule's Input in infra/cost-saver/template.yaml)",
        )
    for key in event:
        if not isinstance(key, str) or key not in _EVENT_KEYS:
            raise ConfigError(
                file=EVENT,
                key=str(key),
                problem=f"unknown key{did_you_mean(str(key), _EVENT_KEYS)}",
                fix=f"send only {', '.join(_EVENT_KEYS)}, as in {_EXAMPLE_EVENT}",
            )
    action = event.get("action")
    # A list or an object is no action either (and cannot even be looked up in a set).
    if not isinstance(action, str) or action not in {a.value for a in Action}:
        hint = did_you_mean(action, [a.value for a in Action]) if isinstance(action, str) else ""
        got = (
            f"{type(action).__name__} {action!r}"
            if isinstance(action, list | dict)
            else repr(action)
        )
        raise ConfigError(
            file=EVENT,
            key="action",
            problem=f'expected "stop" or "start", got {got}{hint}',
            fix=f"send {_EXAMPLE_EVENT}",
        )
    dry_run = event.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ConfigError(
            file=EVENT,
            key="dry_run",
            problem=f"expected true or false (a JSON boolean), got {dry_run!r}",
            fix='write "dry_run": true or "dry_run": false, without quotes around the value',
        )
    return Event(action=Action(action), dry_run=dry_run)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Every ``COST_SAVER_*`` variable, checked, with the error naming the variable."""
    env = os.environ if environ is None else environ
    home_region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    if not home_region:
        raise ConfigError(
            file=ENVIRONMENT,
            key="AWS_REGION",
            problem="not set (Lambda always sets it; a local run must)",
            fix="export AWS_REGION=eu-west-1 (the region of the saved-capacity table)",
        )
    tag_key = env.get("COST_SAVER_TAG_KEY", "").strip() or "cost-saver"
    tag_value = env.get("COST_SAVER_TAG_VALUE", "").strip() or "enabled"
    return Settings(
        opt_in=OptIn(key=tag_key, value=tag_value),
        guard=_guard(env),
        ceiling=_ceiling(env.get("COST_SAVER_MAX_CAPACITY", "")),
        regions=_regions(env.get("COST_SAVER_REGIONS", ""), home_region),
        skip_dates=_skip_dates(env.get("COST_SAVER_SKIP_DATES", "")),
        timezone=_timezone(env.get("COST_SAVER_TIMEZONE", "").strip() or "UTC"),
        table=_table(env.get("COST_SAVER_TABLE", "")),
        home_region=home_region,
    )


def _guard(env: Mapping[str, str]) -> EnvironmentGuard:
    key = env.get("COST_SAVER_ENVIRONMENT_TAG", "").strip() or DEFAULT_TAG_KEY
    raw = env.get("COST_SAVER_ENVIRONMENTS", "")
    # Trimmed and lower-cased once here: the guard compares tag values to them case aside.
    values = tuple(dict.fromkeys(v.strip().lower() for v in raw.split(",") if v.strip()))
    production = sorted(set(values) & PRODUCTION_NAMES)
    if production:
        raise ConfigError(
            file=ENVIRONMENT,
            key="COST_SAVER_ENVIRONMENTS",
            problem=f"lists {', '.join(production)}, a production environment, as non-production",
            fix="list only the environments that may be parked, e.g. dev,test",
        )
    return EnvironmentGuard(key=key, allowed=values or DEFAULT_ENVIRONMENTS)


def _ceiling(raw: str) -> int:
    if not raw.strip():
        return DEFAULT_MAX_CAPACITY
    try:
        ceiling = int(raw)
    except ValueError:
        ceiling = 0
    if ceiling < 1:
        raise ConfigError(
            file=ENVIRONMENT,
            key="COST_SAVER_MAX_CAPACITY",
            problem=f"{raw!r} is not a whole number of at least 1",
            fix=f"set it to the largest capacity a parked resource may come back to, e.g. "
            f"{DEFAULT_MAX_CAPACITY}",
        )
    return ceiling


def _regions(raw: str, default: str) -> tuple[str, ...]:
    names = [name.strip() for name in raw.split(",") if name.strip()] or [default]
    for name in names:
        if not _REGION.fullmatch(name):
            raise ConfigError(
                file=ENVIRONMENT,
                key="COST_SAVER_REGIONS",
                problem=f"{name!r} is not a region name",
                fix="list regions separated by commas, e.g. eu-west-1,us-east-1",
            )
    return tuple(dict.fromkeys(names))


def _skip_dates(raw: str) -> frozenset[date]:
    dates: set[date] = set()
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            dates.add(date.fromisoformat(entry))
        except ValueError:
            raise ConfigError(
                file=ENVIRONMENT,
                key="COST_SAVER_SKIP_DATES",
                problem=f"{entry!r} is not an ISO date",
                fix="list dates as YYYY-MM-DD separated by commas, e.g. 2026-12-24,2026-12-25",
            ) from None
    return frozenset(dates)


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            file=ENVIRONMENT,
            key="COST_SAVER_TIMEZONE",
            problem=f"{name!r} is not a known IANA time zone",
            fix="use the schedules' time zone, e.g. Europe/Paris or America/New_York",
        ) from None


def _table(name: str) -> str:
    if not name.strip():
        raise ConfigError(
            file=ENVIRONMENT,
            key="COST_SAVER_TABLE",
            problem="not set: the saved capacity has nowhere to go",
            fix="set it to the DynamoDB table of infra/cost-saver/template.yaml (its output "
            "SavedCapacityTableName)",
        )
    return name.strip()
