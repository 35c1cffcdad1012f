"""The Lambda entry point: ``lambda_handler(event, context)``.

EventBridge Scheduler sends ``{"action": "stop"|"start", "dry_run": false}``.
The handler reads its settings from ``COST_SAVER_*`` variables, creates the
AWS clients once per region, runs every resource kind, returns the report and
raises at the end if any resource failed, so the errors alarm fires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from cost_saver.kinds import REGISTRY, ResourceKind
from cost_saver.model import RegionClients
from cost_saver.park_and_restore import park_or_restore
from cost_saver.report import LogSink, Report, ResourcesFailedError, stdout_sink
from cost_saver.settings import Event, Settings, load_settings, parse_event
from cost_saver.store import DynamoDbStore, SavedCapacityStore
from pipelines.aws import session as aws_session

# Standard mode retries throttling and transient errors with jittered backoff
# and a retry quota; a stop of hundreds of resources meets throttling, so the
# Lambda allows one attempt more than the pipelines' default.
RETRY_ATTEMPTS = 6
# In the user agent of every call, so CloudTrail tells the Lambda's calls apart.
USER_AGENT = "portable-pipelines-cost-saver"


def lambda_handler(event: object, context: object) -> dict[str, object]:
    """Stop or start every opted-in resource; see docs/cost-saver.md."""
    del context  # The report carries everything; the request id is in the Lambda log anyway.
    parsed = parse_event(event)
    settings = load_settings()
    # Imported here: only a real invocation pays for importing boto3.
    import boto3

    session = boto3.session.Session()
    store = DynamoDbStore(
        client=session.client("dynamodb", region_name=settings.home_region, config=client_config()),
        table=settings.table,
    )
    return handle(
        parsed,
        settings=settings,
        clients=build_clients(settings.regions, session),
        store=store,
        today=datetime.now(settings.timezone).date(),
    )


def handle(
    event: Event,
    *,
    settings: Settings,
    clients: Mapping[str, RegionClients],
    store: SavedCapacityStore,
    today: date,
    kinds: Mapping[str, ResourceKind] = REGISTRY,
    sink: LogSink = stdout_sink,
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
        park_or_restore(
            report=report, opt_in=settings.opt_in, clients=clients, store=store, kinds=kinds
        )
    report.log_summary()
    if report.failed:
        raise ResourcesFailedError(report)
    return report.to_json()


def client_config() -> Any:
    """The config of every client the Lambda makes: the pipelines' standard-mode retries."""
    return aws_session.client_config(max_attempts=RETRY_ATTEMPTS, user_agent_extra=USER_AGENT)


def build_clients(regions: Iterable[str], session: Any) -> dict[str, RegionClients]:
    """Every client of every region, created once and passed to every kind."""
    config = client_config()

    def client(service: str, region: str) -> Any:
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
