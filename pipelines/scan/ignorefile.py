"""``.trivyignore``: findings a team has accepted, each optionally until a date.

The format is Trivy's own, read the way Trivy reads it::

    # Comment lines and blank lines are skipped.
    CVE-2024-1234
    CVE-2024-5678 exp:2027-01-31   # anything after the id but exp: is free text

The first field is the id. An ``exp:YYYY-MM-DD`` field ends the rule: Trivy
compares the date (midnight UTC) with the current time, so the rule no longer
applies on the expiry date itself. Where Trivy only logs a warning for an
unreadable date and drops the line, this parser refuses the file, so a typo
cannot silently bring back (or keep hiding) a finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipelines.errors import ConfigError

_EXPIRY_PREFIX = "exp:"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, kw_only=True)
class IgnoreRule:
    vulnerability_id: str
    # 1-based line in the file, for messages.
    line: int
    expires: date | None = None

    def active_on(self, today: date) -> bool:
        return self.expires is None or today < self.expires


def load_ignorefile(path: Path | str) -> tuple[IgnoreRule, ...]:
    """Read an ignore file; a missing file means nothing is ignored."""
    file = Path(path)
    if not file.exists():
        return ()
    return parse_ignorefile(file.read_text(encoding="utf-8"), file=str(path))


def parse_ignorefile(text: str, *, file: str = ".trivyignore") -> tuple[IgnoreRule, ...]:
    rules: list[IgnoreRule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        rules.append(
            IgnoreRule(
                vulnerability_id=fields[0],
                line=number,
                expires=_expiry(fields[1:], file=file, line=number),
            )
        )
    return tuple(rules)


def _expiry(fields: list[str], *, file: str, line: int) -> date | None:
    for field in fields:
        if field.startswith(_EXPIRY_PREFIX):
            value = field.removeprefix(_EXPIRY_PREFIX)
            try:
                # The pattern first: date.fromisoformat would also take "20270131",
                # which Trivy rejects.
                if not _ISO_DATE.fullmatch(value):
                    raise ValueError(value)
                return date.fromisoformat(value)
            except ValueError:
                raise ConfigError(
                    file=file,
                    key=f"line {line}",
                    problem=f"expiry {field!r} is not a date written as exp:YYYY-MM-DD",
                    fix="write the date in full, e.g. `CVE-2024-1234 exp:2027-01-31`",
                ) from None
    return None
