"""The Lambda entry point: ``lambda_handler(event, context)``.

EventBridge Scheduler sends ``{"action": "stop"|"start", "dry_run": false}``.
The handler reads its settings from ``COST_SAVER_*`` variables, creates the
AWS clients once per region, takes the saved-state lease (unless it is a dry
run), runs every resource kind, gives the lease back, returns the report and
raises at the end if anything failed, so the errors alarm fires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from cost_saver.kinds import REGISTRY, ResourceKind
from cost_saver.model import AWS_SERVICES, RegionClients
from cost_saver.park_and_restore import park_or_restore
from cost_saver.report import LogSink, Report, ResourcesFailedError, stdout_sink
from cost_saver.settings import Event, Settings, load_settings, parse_event
from cost_saver.store import DynamoDbStore, Lease, LeaseHeldError, StateStore, StoreError
from pipelines.aws import session as aws_session

# Attempts in all per API call, the first one included: standard mode backs off
# (jittered, exponential, up to 20 s apart) between them, within its retry
# quota. A call throttled three times still succeeds; one refused six times
# ends that kind for this run (cost_saver/calls.py).
RETRY_ATTEMPTS = 6
# In the user agent of every call, so CloudTrail tells the Lambda's calls apart.
USER_AGENT = "portable-pipelines-cost-saver"
# The lease outlives the run: what the Lambda may still run, plus this margin.
LEASE_MARGIN_SECONDS = 60
# Lambda's longest run, for runs that have no Lambda context (local, tests).
LONGEST_RUN_SECONDS = 900


def lambda_handler(event: object, context: object) -> dict[str, object]:
    """Stop or start every opted-in resource; see docs/cost-saver.md."""
    return run(event, context)


def run(
    event: object,
    context: object,
    *,
    session: Any = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, object]:
    """The handler with its boto3 session and clock injectable: the fault tests hook them."""
    parsed = parse_event(event)
    settings = load_settings()
    if session is None:
        # Imported here: only a valid invocation pays for importing boto3.
        import boto3

        session = boto3.session.Session()
    store = DynamoDbStore(
        client=session.client("dynamodb", region_name=settings.home_region, config=client_config()),
        table=settings.table,
        clock=clock,
    )
    return handle(
        parsed,
        settings=settings,
        clients=build_clients(settings.regions, session),
        store=store,
        today=datetime.fromtimestamp(clock(), settings.timezone).date(),
        lease_seconds=lease_seconds(context),
    )


def handle(
    event: Event,
    *,
    settings: Settings,
    clients: Mapping[str, RegionClients],
    store: StateStore,
    today: date,
    kinds: Mapping[str, ResourceKind] = REGISTRY,
    sink: LogSink = stdout_sink,
    lease_seconds: float = LONGEST_RUN_SECONDS + LEASE_MARGIN_SECONDS,
) -> dict[str, object]:
    """The handler's work with every dependency passed in (tests and the benchmark call it)."""
    report = Report(
        action=event.action,
        dry_run=event.dry_run,
        date=today.isoformat(),
        regions=list(clients),
        sink=sink,
    )
    if today in settings.skip_dates:
        report.skipped_because = (
            f"{today.isoformat()} ({settings.timezone.key}) is listed in COST_SAVER_SKIP_DATES: "
            "nothing done"
        )
    else:
        lease = None if event.dry_run else _acquire(report, store, lease_seconds)
        try:
            park_or_restore(
                report=report,
                settings=settings,
                clients=clients,
                store=store,
                kinds=kinds,
                lease=lease,
            )
        finally:
            if lease is not None:
                _release(report, store, lease, settings.home_region)
    report.log_summary()
    if report.failed:
        raise ResourcesFailedError(report)
    return report.to_json()


def _acquire(report: Report, store: StateStore, seconds: float) -> Lease:
    try:
        lease = store.acquire(action=str(report.action), seconds=seconds)
    except (LeaseHeldError, StoreError) as error:
        # One line for Logs Insights; the raise makes the run an error, so the alarm fires.
        report.log_refusal(str(error))
        raise
    if lease.took_over:
        held = lease.took_over
        report.add_note(
            f"took over the expired lease of a {held.get('action', '?')} run started "
            f"{held.get('started_at', '?')} that never gave it back (killed or timed out); "
            "its saved state was read and merged as usual"
        )
    return lease


def _release(report: Report, store: StateStore, lease: Lease, region: str) -> None:
    try:
        store.release(lease)
    except Exception as error:  # noqa: BLE001 - everything else is done; the report says it, raised at the end.
        report.add_error(region=region, kind=None, error=str(error))


def lease_seconds(context: object) -> float:
    """How long this run's lease lasts: what Lambda gives it to run, plus a margin."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    run_seconds = remaining() / 1000 if callable(remaining) else LONGEST_RUN_SECONDS
    return float(run_seconds) + LEASE_MARGIN_SECONDS


def client_config() -> Any:
    """The config of every client the Lambda makes: the pipelines' standard-mode retries."""
    return aws_session.client_config(max_attempts=RETRY_ATTEMPTS, user_agent_extra=USER_AGENT)


def build_clients(regions: Iterable[str], session: Any) -> dict[str, RegionClients]:
    """Every client of every region, created once and passed to every kind."""
    config = client_config()

    def client(service: str, region: str) -> Any:
        if service not in AWS_SERVICES:
            raise AssertionError(f"{service} is missing from AWS_SERVICES (the zip bundles those)")
        return session.client(service, region_name=region, config=config)

    return {
        region: RegionClients(
            region=region,
            ec2=client("ec2", region),
            autoscaling=client("autoscaling", region),
            eks=client("eks", region),
            ecs=client("ecs", region),
            rds=client("rds", region),
        )
        for region in regions
    }
