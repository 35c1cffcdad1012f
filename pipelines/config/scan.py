"""[scan]: the vulnerability gate."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config._reader import Table

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True, kw_only=True)
class ScanConfig:
    # Findings at these severities fail the gate.
    severities: tuple[str, ...] = ("HIGH", "CRITICAL")
    # Skip findings that have no fixed version yet: nothing to upgrade to.
    ignore_unfixed: bool = False
    # Relative to the service directory; ignored when the file does not exist.
    ignorefile: str = ".trivyignore"


def parse_scan(table: Table | None) -> ScanConfig:
    if table is None:
        return ScanConfig()
    severities = table.str_list("severities", ("HIGH", "CRITICAL"),
                                example='["HIGH", "CRITICAL"]')
    for severity in severities:
        if severity not in SEVERITIES:
            table.fail("severities", f"unknown severity {severity!r}",
                       "use any of " + ", ".join(SEVERITIES) + " (upper case)")
    ignore_unfixed = table.boolean("ignore_unfixed", False)
    ignorefile = table.string("ignorefile", ".trivyignore", example='".trivyignore"')
    table.finish()
    return ScanConfig(severities=severities, ignore_unfixed=ignore_unfixed,
                      ignorefile=ignorefile)
