"""The suites' environment contract: the code and docs/configuration.md say the same."""

from __future__ import annotations

import re

import pytest

from pipelines.config import parse_config
from pipelines.errors import ConfigError
from pipelines.suite_env import CONTRACT, contract_env, gets_app_environment
from tests.conftest import ROOT

SERVICE = '[service]\nname = "svc"\nport = 8080\n'
SUITE_NAMES = {"app": "smoke, integration, e2e", "all": "every suite"}


def documented_rows() -> list[tuple[str, str, str]]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split("### The suites' environment", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \| (.+) \|$", section, re.MULTILINE)
    return [(name, suites.strip(), meaning.strip()) for name, suites, meaning in rows]


def test_the_documented_contract_is_the_codes() -> None:
    expected = [(v.name, SUITE_NAMES[v.suites], v.meaning) for v in CONTRACT]
    assert documented_rows() == expected


def test_unit_gets_only_its_name_so_it_can_be_replayed_from_the_cache() -> None:
    config = parse_config(SERVICE + '[test.unit]\ncommands = [["run"]]\n')
    assert contract_env(config.tests["unit"]) == (("PIPELINE_SUITE", "unit"),)


@pytest.mark.parametrize("name", ["smoke", "integration", "e2e"])
def test_a_suite_of_the_app_gets_every_name_of_the_contract(name: str) -> None:
    config = parse_config(SERVICE + f'[test.{name}]\ncommands = [["run"]]\n')
    env = contract_env(config.tests[name], base_url="http://app:8080", run_stamp="r1")
    assert env == (
        ("BASE_URL", "http://app:8080"),
        ("PIPELINE_RUN", "r1"),
        ("PIPELINE_SUITE", name),
    )
    with pytest.raises(ValueError, match="needs a base URL"):
        contract_env(config.tests[name])


def test_only_a_suite_that_never_runs_in_dev_sees_the_apps_side() -> None:
    config = parse_config(
        SERVICE
        + '[test.unit]\ncommands = [["u"]]\n[test.smoke]\ncommands = [["s"]]\n'
        + '[test.integration]\ncommands = [["i"]]\n'
        + '[test.e2e]\ncommands = [["e"]]\npipelines = ["dev", "pre-merge"]\n'
    )
    seen = {name: gets_app_environment(suite) for name, suite in config.tests.items()}
    assert seen == {"unit": False, "smoke": False, "integration": True, "e2e": False}


@pytest.mark.parametrize("variable", [v.name for v in CONTRACT])
@pytest.mark.parametrize("table", ["test.smoke", "toolchain"])
def test_the_config_may_not_set_a_name_of_the_contract(variable: str, table: str) -> None:
    body = (
        'commands = [["s"]]\n'
        if table.startswith("test")
        else 'image = "x@sha256:' + "a" * 64 + '"\n'
    )
    text = SERVICE + f'[{table}]\n{body}env = {{ {variable} = "x" }}\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.key == f"{table}.env.{variable}"
    assert "environment contract" in str(caught.value)
