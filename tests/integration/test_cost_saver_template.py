"""The cost saver's CloudFormation template: cfn-lint clean, and it says what the code needs."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from moto import mock_aws

from cost_saver.guard import DEFAULT_ENVIRONMENTS, DEFAULT_TAG_KEY, EnvironmentGuard
from cost_saver.model import Resource
from cost_saver.settings import DEFAULT_MAX_CAPACITY, load_settings
from cost_saver.store import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA, create_table
from tests.unit.cost_saver.conftest import HOME, OPTED_IN, TABLE, CostSaver, Fleet

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "cost-saver" / "template.yaml"
CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))

# Every mutating call the resource kinds make, as IAM actions.
MUTATING_ACTIONS = {
    "ec2:StopInstances",
    "ec2:StartInstances",
    "autoscaling:UpdateAutoScalingGroup",
    "eks:UpdateNodegroupConfig",
    "ecs:UpdateService",
    "rds:StopDBInstance",
    "rds:StartDBInstance",
    "rds:StopDBCluster",
    "rds:StartDBCluster",
}

pytestmark = pytest.mark.tools


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CFN_LINT, "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    return loaded


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def test_the_template_passes_cfn_lint() -> None:
    result = cfn_lint(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_fails_on_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    shutil.copy(TEMPLATE, broken)
    text = broken.read_text()
    assert "- arm64" in text
    broken.write_text(text.replace("- arm64", "- arm65"))

    result = cfn_lint(broken)

    assert result.returncode != 0
    assert "arm65" in result.stdout


def test_the_function_runs_the_handler_on_python_312_or_later_arm64(
    template: dict[str, Any],
) -> None:
    (function,) = resources_of(template, "AWS::Lambda::Function").values()
    module_name, _, attribute = function["Handler"].rpartition(".")

    assert callable(getattr(importlib.import_module(module_name), attribute))
    major, minor = function["Runtime"].removeprefix("python").split(".")
    assert (int(major), int(minor)) >= (3, 12)
    assert function["Architectures"] == ["arm64"]
    variables = function["Environment"]["Variables"]
    assert set(variables) == {
        "COST_SAVER_TABLE",
        "COST_SAVER_REGIONS",
        "COST_SAVER_SKIP_DATES",
        "COST_SAVER_TIMEZONE",
        "COST_SAVER_TAG_KEY",
        "COST_SAVER_TAG_VALUE",
        "COST_SAVER_ENVIRONMENT_TAG",
        "COST_SAVER_ENVIRONMENTS",
        "COST_SAVER_MAX_CAPACITY",
    }


def test_two_schedules_stop_and_start_on_workdays_in_one_time_zone(
    template: dict[str, Any],
) -> None:
    schedules = resources_of(template, "AWS::Scheduler::Schedule").values()
    inputs = {}
    for schedule in schedules:
        assert schedule["ScheduleExpressionTimezone"] == {"Ref": "TimeZone"}
        # The DryRun parameter fills the boolean: either value must give valid JSON.
        text = schedule["Target"]["Input"]["Fn::Sub"]
        for dry_run in ("true", "false"):
            event = json.loads(text.replace("${DryRun}", dry_run))
            assert event["dry_run"] is (dry_run == "true")
        inputs[event["action"]] = schedule["ScheduleExpression"]["Ref"]
    assert inputs == {"stop": "StopSchedule", "start": "StartSchedule"}
    defaults = {name: template["Parameters"][name]["Default"] for name in inputs.values()}
    assert all("MON-FRI" in expression for expression in defaults.values())


def test_the_role_allows_each_mutating_call_only_on_opted_in_resources(
    template: dict[str, Any],
) -> None:
    statements = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    by_sid = {statement["Sid"]: statement for statement in statements}
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    granted = {action for s in allowed for action in s["Action"]}

    assert granted >= MUTATING_ACTIONS
    park = by_sid["ParkAndRestoreOptedIn"]
    assert set(park["Action"]) == MUTATING_ACTIONS
    assert park["Condition"] == {
        "StringEquals": {"aws:ResourceTag/cost-saver": {"Ref": "OptInTagValue"}}
    }
    assert "*" not in park["Resource"]
    # No other statement may grant a mutating call without that condition.
    assert all(not (set(s["Action"]) & MUTATING_ACTIONS) for s in allowed if s is not park)
    guard = by_sid["OnlyNonProduction"]
    assert guard["Effect"] == "Deny"
    assert set(guard["Action"]) == MUTATING_ACTIONS
    assert guard["Resource"] == "*"


def statement(template: dict[str, Any], sid: str) -> dict[str, Any]:
    statements = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    found: list[dict[str, Any]] = [s for s in statements if s["Sid"] == sid]
    assert len(found) == 1, found
    return found[0]


def iam_denies(condition: dict[str, Any], values: list[str], tags: dict[str, str]) -> bool:
    """IAM's reading of the deny: condition key names ignore case; the operator ignores the
    value's case but nothing else; a missing key makes a negated operator hold."""
    ((operator, keys),) = condition.items()
    assert operator == "StringNotEqualsIgnoreCase"
    ((key, _),) = keys.items()
    tag_key = key.removeprefix("aws:ResourceTag/").lower()
    present = [value for name, value in tags.items() if name.lower() == tag_key]
    return not present or all(value.lower() not in [v.lower() for v in values] for value in present)


@pytest.mark.parametrize(
    "tags",
    [
        {"environment": "dev"},
        {"Environment": "DEV"},
        {"ENVIRONMENT": "Sandbox"},
        {},
        {"env": "dev"},
        {"Stage": "production"},
        {"environment": "prod"},
        {"Environment": "prd"},
        {"environment": "dev "},
        {"environment": ""},
        {"environment": "staging"},
    ],
)
def test_the_roles_deny_is_the_code_s_production_guard(
    template: dict[str, Any], tags: dict[str, str]
) -> None:
    deny = statement(template, "OnlyNonProduction")
    parameter = template["Parameters"]["NonProductionEnvironments"]
    variables = resources_of(template, "AWS::Lambda::Function")["CostSaverFunction"]["Environment"][
        "Variables"
    ]
    # The same list feeds both: the deny, and the code through its variable.
    assert deny["Condition"]["StringNotEqualsIgnoreCase"] == {
        f"aws:ResourceTag/{DEFAULT_TAG_KEY}": {"Ref": "NonProductionEnvironments"}
    }
    assert variables["COST_SAVER_ENVIRONMENTS"] == {
        "Fn::Join": [",", {"Ref": "NonProductionEnvironments"}]
    }
    assert variables["COST_SAVER_ENVIRONMENT_TAG"] == DEFAULT_TAG_KEY
    assert parameter["Type"] == "CommaDelimitedList"
    values = parameter["Default"].split(",")
    assert tuple(values) == DEFAULT_ENVIRONMENTS
    settings = load_settings(
        {
            "AWS_REGION": "eu-west-1",
            "COST_SAVER_TABLE": "t",
            "COST_SAVER_ENVIRONMENT_TAG": variables["COST_SAVER_ENVIRONMENT_TAG"],
            "COST_SAVER_ENVIRONMENTS": ",".join(values),
            "COST_SAVER_MAX_CAPACITY": str(template["Parameters"]["MaxCapacity"]["Default"]),
        }
    )
    assert settings.guard == EnvironmentGuard()
    assert settings.ceiling == DEFAULT_MAX_CAPACITY
    resource = Resource(kind="k", id="i", region="r", tags=tags, capacity={}, parked=False)

    code_allows = settings.guard.refusal(resource) is None

    assert code_allows is not iam_denies(deny["Condition"], values, tags)


def test_the_table_has_the_keys_the_store_uses_and_survives_the_stack(
    template: dict[str, Any],
) -> None:
    table = template["Resources"]["SavedCapacityTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["KeySchema"] == list(KEY_SCHEMA)
    assert table["Properties"]["AttributeDefinitions"] == list(ATTRIBUTE_DEFINITIONS)


def test_logs_are_kept_for_a_while_and_errors_raise_an_alarm(template: dict[str, Any]) -> None:
    (log_group,) = resources_of(template, "AWS::Logs::LogGroup").values()
    (alarm,) = resources_of(template, "AWS::CloudWatch::Alarm").values()
    (function,) = resources_of(template, "AWS::Lambda::Function").values()

    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "CostSaverFunction"}}]


# IAM checks TransactWriteItems as the actions inside it.
_IAM_ACTIONS_OF = {
    "dynamodb:TransactWriteItems": {
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    }
}


def test_the_role_grants_every_call_a_stop_and_a_start_make(template: dict[str, Any]) -> None:
    with mock_aws():
        fleet = Fleet()
        create_table(fleet.client("dynamodb", HOME), TABLE)
        fleet.instances(HOME, 2, OPTED_IN)
        fleet.group(HOME, "web", (1, 2, 1), OPTED_IN)
        fleet.node_group(HOME, "dev", "general", (1, 3, 2), OPTED_IN)
        fleet.service(HOME, "apps", "api", 2, OPTED_IN)
        fleet.database(HOME, "orders", OPTED_IN)
        fleet.aurora(HOME, "reports", OPTED_IN)
        saver = CostSaver(regions=[HOME])
        saver.run("stop")
        saver.run("start")
    prefixes = {"autoscaling": "autoscaling"}
    called = {
        action
        for service, operation, _ in saver.calls
        for action in _IAM_ACTIONS_OF.get(
            f"{prefixes.get(service, service)}:{operation}",
            {f"{prefixes.get(service, service)}:{operation}"},
        )
    }
    statements = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    granted = {a for s in statements if s["Effect"] == "Allow" for a in s["Action"]}

    assert called <= granted, sorted(called - granted)
    # And nothing more of DynamoDB than the store uses.
    assert {a for a in granted if a.startswith("dynamodb:")} == {
        a for a in called if a.startswith("dynamodb:")
    }
