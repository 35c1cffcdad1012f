"""docs/cost-saver.md is held to the code: its variables, parameters and fault table."""

from __future__ import annotations

import ast
import re

from cfnlint.decode import cfn_yaml

from tests.conftest import ROOT

DOC = (ROOT / "docs" / "cost-saver.md").read_text()
# Given on the deploy command line, not in the table.
_DEPLOY_ONLY = {"CodeBucket", "CodeKey"}


def table_rows(heading_text: str) -> list[str]:
    """The first column of every row of the first table after ``heading_text``."""
    after = DOC[DOC.index(heading_text) :]
    rows = re.findall(r"^\| (.+?) \|", after[after.index("\n| ") :].split("\n\n")[0], re.M)
    return rows[2:] if rows[1].startswith("---") else rows[1:]


def test_every_variable_the_settings_read_is_documented() -> None:
    source = (ROOT / "cost_saver" / "settings.py").read_text()
    read = set(re.findall(r'"(COST_SAVER_[A-Z_]+)"', source))
    documented = {
        name
        for row in table_rows("The function reads these environment variables")
        for name in re.findall(r"`(COST_SAVER_[A-Z_]+)`", row)
    }

    assert read == documented


def test_every_template_parameter_is_documented() -> None:
    template = cfn_yaml.load(str(ROOT / "infra" / "cost-saver" / "template.yaml"))
    documented = {
        name
        for row in table_rows("| parameter | default | meaning |")
        for name in re.findall(r"`([A-Za-z]+)`", row)
    }

    assert set(template["Parameters"]) - _DEPLOY_ONLY == documented


def test_the_fault_table_names_exactly_the_fault_suites_tests() -> None:
    suite = ast.parse((ROOT / "tests" / "integration" / "test_cost_saver_faults.py").read_text())
    tests = {
        node.name
        for node in suite.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    faults = DOC[DOC.index("## Faults") : DOC.index("## Performance")]
    named = set(re.findall(r"`(test_[a-z_]+)`", faults))

    assert named == tests
