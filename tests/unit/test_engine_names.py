"""The port of strcase that derives CLI names, against strcase's own cases."""

from __future__ import annotations

import pytest

from tests.registration.engine_names import cli_name, delimited, lower_camel


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("testCase", "test@case"),
        ("TestCase", "test@case"),
        ("Test Case", "test@case"),
        (" Test Case ", "test@case"),
        ("test", "test"),
        ("test_case", "test@case"),
        ("", ""),
        ("ManyManyWords", "many@many@words"),
        ("AnyKind of_string", "any@kind@of@string"),
        ("numbers2and55with000", "numbers@2@and@55@with@000"),
        ("JSONData", "json@data"),
        ("userID", "user@id"),
        ("AAAbbb", "aa@abbb"),
        ("test-case", "test@case"),
    ],
)
def test_delimited_matches_strcase(name: str, expected: str) -> None:
    assert delimited(name, "@") == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("test_report", "testReport"), ("e2e", "e2E"), ("pre_merge", "preMerge")],
)
def test_lower_camel_matches_the_engine(name: str, expected: str) -> None:
    assert lower_camel(name) == expected


@pytest.mark.parametrize(
    ("python", "cli"),
    [("e2e", "e-2-e"), ("end_to_end", "end-to-end"), ("scan_report", "scan-report"),
     ("run_url", "run-url"), ("aws_access_key_id", "aws-access-key-id")],
)  # fmt: skip
def test_cli_names(python: str, cli: str) -> None:
    assert cli_name(python) == cli
