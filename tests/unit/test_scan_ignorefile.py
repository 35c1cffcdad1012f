"""`.trivyignore`: ids, comments and expiry dates, read as Trivy reads them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.errors import ConfigError
from pipelines.scan import IgnoreRule, load_ignorefile, parse_ignorefile

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "trivy"


def test_ids_and_expiry_dates_are_read_and_comments_skipped() -> None:
    rules = load_ignorefile(FIXTURES / "trivyignore")

    assert rules == (
        IgnoreRule(vulnerability_id="CVE-2023-45853", line=5, expires=date(2027, 3, 31)),
        IgnoreRule(vulnerability_id="CVE-2024-1135", line=8, expires=date(2026, 11, 1)),
        IgnoreRule(vulnerability_id="CVE-2024-26458", line=10, expires=None),
    )


def test_a_rule_stops_applying_on_its_expiry_date() -> None:
    rule = IgnoreRule(vulnerability_id="CVE-1", line=1, expires=date(2026, 11, 26))

    assert rule.active_on(date(2026, 11, 25))
    assert not rule.active_on(date(2026, 11, 26))
    assert IgnoreRule(vulnerability_id="CVE-1", line=1).active_on(date(2999, 1, 1))


def test_a_missing_ignorefile_ignores_nothing(tmp_path: Path) -> None:
    assert load_ignorefile(tmp_path / ".trivyignore") == ()


def test_an_unreadable_expiry_names_the_file_and_line() -> None:
    path = FIXTURES / "bad-expiry.trivyignore"

    with pytest.raises(ConfigError) as caught:
        load_ignorefile(path)

    assert caught.value.file == str(path)
    assert caught.value.key == "line 1"
    assert "exp:2027-13-01" in caught.value.problem
    assert "exp:YYYY-MM-DD" in caught.value.problem


@pytest.mark.parametrize("expiry", ["exp:2027-1-31", "exp:20270131", "exp:", "exp:tomorrow"])
def test_only_full_iso_dates_are_expiry_dates(expiry: str) -> None:
    with pytest.raises(ConfigError, match="not a date"):
        parse_ignorefile(f"# header\nCVE-2024-1 {expiry}\n", file=".trivyignore")
