"""What a person reads after a scan: a summary table and a one-line verdict."""

from __future__ import annotations

from collections import Counter

from pipelines.config.scan import SEVERITIES
from pipelines.scan.gate import Decision, GateResult, Outcome

_TITLE_WIDTH = 48
_GATE_LABELS = {
    Outcome.BLOCKING: "BLOCKS",
    Outcome.IGNORED: "ignored",
    Outcome.UNFIXED: "unfixed",
    Outcome.BELOW_THRESHOLD: "below",
}


def sorted_decisions(result: GateResult) -> tuple[Decision, ...]:
    """Worst first, then by id, package and target, so runs compare line by line."""
    return tuple(
        sorted(
            result.decisions,
            key=lambda d: (
                -d.finding.severity_rank,
                d.finding.vulnerability_id,
                d.finding.pkg_name,
                d.finding.target,
            ),
        )
    )


def summary_table(result: GateResult, *, top: int = 10) -> str:
    """Counts by severity, the gate's verdict, and the ``top`` worst findings."""
    report = result.report
    counts = Counter(d.finding.severity for d in result.decisions)
    by_severity = ", ".join(f"{s} {counts[s]}" for s in reversed(SEVERITIES))
    name = report.artifact_name or report.file
    lines = [f"Trivy scan of {name}: {len(result.decisions)} findings ({by_severity})"]
    outcomes = Counter(d.outcome for d in result.decisions)
    verdict = "PASSED" if result.passed else "FAILED"
    details = ", ".join(f"{outcomes[o]} {o.value}" for o in Outcome)
    lines.append(f"Gate ({', '.join(result.severities)}): {verdict}: {details}")
    decisions = sorted_decisions(result)
    if decisions and top > 0:
        lines.append("")
        lines.extend(_table(decisions[:top]))
        if len(decisions) > top:
            lines.append(f"... and {len(decisions) - top} more in the JSON report")
    for rule in result.expired_rules:
        ended = f" ended on {rule.expires.isoformat()}" if rule.expires else ""
        lines.append(
            f"Expired: {result.ignorefile} line {rule.line} ({rule.vulnerability_id}){ended}"
        )
    return "\n".join(lines) + "\n"


def failure_message(result: GateResult, *, limit: int = 5) -> str:
    """One line naming the findings that block; only for a failed gate."""
    if result.passed:
        raise ValueError("failure_message() needs a failed gate; check result.passed first")
    named: dict[tuple[str, str, str], Decision] = {}
    for decision in sorted_decisions(result):
        finding = decision.finding
        if decision.blocking:
            named.setdefault(
                (finding.vulnerability_id, finding.pkg_name, finding.installed_version), decision
            )
    parts = []
    for decision in list(named.values())[:limit]:
        finding = decision.finding
        fix = f"fixed in {finding.fixed_version}" if finding.has_fix else "no fix yet"
        parts.append(
            f"{finding.vulnerability_id} ({finding.severity}) in {finding.pkg_name} "
            f"{finding.installed_version} ({fix})"
        )
    more = f" and {len(named) - limit} more" if len(named) > limit else ""
    count = len(named)
    noun = "finding blocks" if count == 1 else "findings block"
    return (
        f"scan gate failed: {count} {noun} at {'/'.join(result.severities)}: "
        f"{', '.join(parts)}{more}; upgrade the packages, or accept a finding in "
        f"{result.ignorefile} as `<ID> exp:YYYY-MM-DD`"
    )


def _table(decisions: tuple[Decision, ...]) -> list[str]:
    header = ("SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED", "GATE", "TITLE")
    rows = [header] + [
        (
            d.finding.severity,
            d.finding.vulnerability_id,
            d.finding.pkg_name,
            d.finding.installed_version or "-",
            d.finding.fixed_version or "-",
            _GATE_LABELS[d.outcome],
            _shorten(d.finding.title),
        )
        for d in decisions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TITLE_WIDTH else text[: _TITLE_WIDTH - 3] + "..."
