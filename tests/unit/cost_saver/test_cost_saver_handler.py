"""The Lambda contract: the event, the environment, the report and the log lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cost_saver.guard import EnvironmentGuard
from cost_saver.handler import RETRY_ATTEMPTS, client_config, lambda_handler, lease_seconds
from cost_saver.model import Action
from cost_saver.settings import load_settings, parse_event
from pipelines.errors import ConfigError
from tests.unit.cost_saver.conftest import HOME, OPTED_IN, OTHER, TABLE, Fleet

BASE_ENV = {"AWS_REGION": HOME, "COST_SAVER_TABLE": TABLE}


def test_the_scheduler_event_is_parsed() -> None:
    assert parse_event({"action": "start", "dry_run": True}).dry_run is True
    assert parse_event({"action": "stop"}).action is Action.STOP


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (["stop"], "Lambda event: expected a JSON object, got list"),
        ({"action": "halt"}, 'Lambda event: action: expected "stop" or "start", got \'halt\''),
        ({"action": "Stop"}, '(did you mean "stop"?)'),
        ({}, "got None"),
        (
            {"action": "stop", "dryrun": True},
            'Lambda event: dryrun: unknown key (did you mean "dry_run"?)',
        ),
        ({"action": "stop", "dry_run": "false"}, "dry_run: expected true or false"),
    ],
)
def test_anything_but_the_documented_event_is_rejected_clearly(event: object, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_event(event)
    assert message in str(raised.value)
    assert "fix:" in str(raised.value)


def test_settings_default_to_the_lambdas_own_region_and_the_documented_tag() -> None:
    settings = load_settings(BASE_ENV)

    assert settings.regions == (HOME,)
    assert (settings.opt_in.key, settings.opt_in.value) == ("cost-saver", "enabled")
    assert settings.timezone.key == "UTC"
    assert settings.skip_dates == frozenset()
    assert settings.guard == EnvironmentGuard(
        key="environment", allowed=("dev", "development", "test", "qa", "sandbox")
    )
    assert settings.ceiling == 100


def test_settings_read_every_variable() -> None:
    settings = load_settings(
        {
            **BASE_ENV,
            "COST_SAVER_REGIONS": f" {OTHER}, {HOME},{OTHER}",
            "COST_SAVER_TAG_KEY": "park",
            "COST_SAVER_TAG_VALUE": "yes",
            "COST_SAVER_SKIP_DATES": "2026-12-24, 2026-12-25",
            "COST_SAVER_TIMEZONE": "Europe/Paris",
            "COST_SAVER_ENVIRONMENT_TAG": "stage",
            "COST_SAVER_ENVIRONMENTS": " Dev, TEST ,dev",
            "COST_SAVER_MAX_CAPACITY": "40",
        }
    )

    assert settings.guard == EnvironmentGuard(key="stage", allowed=("dev", "test"))
    assert settings.ceiling == 40
    assert settings.regions == (OTHER, HOME)
    assert (settings.opt_in.key, settings.opt_in.value) == ("park", "yes")
    assert sorted(str(day) for day in settings.skip_dates) == ["2026-12-24", "2026-12-25"]
    assert settings.timezone.key == "Europe/Paris"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("COST_SAVER_SKIP_DATES", "2026-12-24,24/12/2026", "'24/12/2026' is not an ISO date"),
        ("COST_SAVER_TIMEZONE", "Europe/Pariss", "'Europe/Pariss' is not a known IANA time zone"),
        ("COST_SAVER_REGIONS", "eu-west-1,Ireland", "'Ireland' is not a region name"),
        ("COST_SAVER_TABLE", " ", "COST_SAVER_TABLE: not set"),
        (
            "COST_SAVER_ENVIRONMENTS",
            "dev, Prod",
            "lists prod, a production environment, as non-production",
        ),
        ("COST_SAVER_MAX_CAPACITY", "0", "'0' is not a whole number of at least 1"),
        ("COST_SAVER_MAX_CAPACITY", "lots", "'lots' is not a whole number of at least 1"),
    ],
)
def test_a_bad_variable_is_named_with_its_fix(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**BASE_ENV, variable: value})
    assert str(raised.value).startswith(f"Lambda environment: {variable}: ")
    assert message in str(raised.value)


def test_the_handler_parks_and_restores_and_logs_one_json_line_per_resource(
    aws: Fleet, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    aws.service(OTHER, "apps", "api", 3, OPTED_IN)
    for name, value in {**BASE_ENV, "COST_SAVER_REGIONS": f"{HOME},{OTHER}"}.items():
        monkeypatch.setenv(name, value)

    report = lambda_handler({"action": "stop", "dry_run": False}, None)

    assert json.loads(json.dumps(report)) == report
    assert aws.group_capacity(HOME, "web") == (0, 0, 0)
    assert aws.service_desired(OTHER, "apps", "api") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    resource_lines = [line for line in lines if line["event"] == "resource"]
    assert {
        (line["region"], line["kind"], line["id"])
        for line in resource_lines
        if line["result"] == "done"
    } == {(HOME, "autoscaling-group", "web"), (OTHER, "ecs-service", "apps/api")}
    # The group's own instances carry its tags: listed, and left to the group.
    others = [line for line in resource_lines if line["result"] != "done"]
    assert {line["result"] for line in others} <= {"skipped"}
    assert all(line["reason"].startswith("member of Auto Scaling group web") for line in others)
    assert lines[-1]["event"] == "summary"
    assert lines[-1]["counts"]["done"] == 2

    lambda_handler({"action": "start", "dry_run": False}, None)

    assert aws.group_capacity(HOME, "web") == (1, 4, 2)
    assert aws.service_desired(OTHER, "apps", "api") == 3


@pytest.mark.parametrize(
    ("timezone", "skipped"), [("Pacific/Kiritimati", True), ("Pacific/Pago_Pago", False)]
)
def test_skip_dates_are_read_in_the_schedules_time_zone(
    aws: Fleet, monkeypatch: pytest.MonkeyPatch, timezone: str, skipped: bool
) -> None:
    # UTC+14 and UTC-11 never share a date: only one of them is "today" in Kiritimati.
    kiritimati_today = datetime.now(UTC).astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    for name, value in {
        **BASE_ENV,
        "COST_SAVER_SKIP_DATES": kiritimati_today.isoformat(),
        "COST_SAVER_TIMEZONE": timezone,
    }.items():
        monkeypatch.setenv(name, value)

    report = lambda_handler({"action": "stop"}, None)

    assert (report["skipped_because"] is not None) is skipped
    assert aws.group_capacity(HOME, "web") == ((1, 4, 2) if skipped else (0, 0, 0))


def test_every_client_retries_in_standard_mode_with_the_lambdas_own_user_agent() -> None:
    # The shared pipelines.aws.session.client_config, with the Lambda's own settings.
    config = client_config()

    assert config.retries == {"mode": "standard", "total_max_attempts": RETRY_ATTEMPTS}
    assert RETRY_ATTEMPTS == 6
    assert config.user_agent_extra == "portable-pipelines-cost-saver"


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 42_000


def test_the_lease_lasts_as_long_as_lambda_may_still_run_plus_a_margin() -> None:
    assert lease_seconds(_Context()) == 42 + 60
    # Without a Lambda context (a local run): Lambda's longest run.
    assert lease_seconds(None) == 900 + 60
