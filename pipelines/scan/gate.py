"""The scan gate: which findings block, and why each of the others does not.

Pure: the report, the [scan] config, the ignore rules and today's date go
in; a decision per finding comes out. Checks run in this order, the first
that lets a finding through gives its reason:

1. severity not in ``[scan] severities``  -> below threshold
2. an unexpired ``.trivyignore`` rule for its id -> ignored
3. no fixed version and ``ignore_unfixed`` -> unfixed
4. otherwise it blocks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from pipelines.config.scan import ScanConfig
from pipelines.scan.ignorefile import IgnoreRule
from pipelines.scan.report import Finding, ScanReport


class Outcome(enum.Enum):
    BLOCKING = "blocking"
    BELOW_THRESHOLD = "below threshold"
    IGNORED = "ignored"
    UNFIXED = "unfixed"


@dataclass(frozen=True, kw_only=True)
class Decision:
    finding: Finding
    outcome: Outcome
    reason: str

    @property
    def blocking(self) -> bool:
        return self.outcome is Outcome.BLOCKING


@dataclass(frozen=True, kw_only=True)
class GateResult:
    report: ScanReport
    severities: tuple[str, ...]
    ignorefile: str
    decisions: tuple[Decision, ...]
    # Rules whose date has passed while a finding still matches them.
    expired_rules: tuple[IgnoreRule, ...] = ()
    # Rules that matched no finding: candidates for removal.
    unmatched_rules: tuple[IgnoreRule, ...] = ()

    @property
    def blocking(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.blocking)

    @property
    def passed(self) -> bool:
        return not self.blocking


def evaluate(
    report: ScanReport, config: ScanConfig, rules: tuple[IgnoreRule, ...] = (), *, today: date
) -> GateResult:
    """Decide every finding of ``report`` under ``config`` and the ignore ``rules``."""
    active: dict[str, IgnoreRule] = {}
    lapsed: dict[str, IgnoreRule] = {}
    for rule in rules:
        bucket = active if rule.active_on(today) else lapsed
        kept = bucket.get(rule.vulnerability_id)
        # With several rules for one id, the one that lasts longest speaks.
        if kept is None or _later(rule, kept):
            bucket[rule.vulnerability_id] = rule
    decisions = tuple(
        _decide(
            finding,
            config,
            active.get(finding.vulnerability_id),
            lapsed.get(finding.vulnerability_id),
        )
        for finding in report.findings
    )
    expired: dict[int, IgnoreRule] = {}
    for decision in decisions:
        lapsed_rule = lapsed.get(decision.finding.vulnerability_id)
        if decision.blocking and lapsed_rule is not None:
            expired[lapsed_rule.line] = lapsed_rule
    seen_ids = {finding.vulnerability_id for finding in report.findings}
    return GateResult(
        report=report,
        severities=config.severities,
        ignorefile=config.ignorefile,
        decisions=decisions,
        expired_rules=tuple(expired[line] for line in sorted(expired)),
        unmatched_rules=tuple(r for r in rules if r.vulnerability_id not in seen_ids),
    )


def _decide(
    finding: Finding, config: ScanConfig, rule: IgnoreRule | None, lapsed: IgnoreRule | None
) -> Decision:
    if finding.severity not in config.severities:
        return Decision(
            finding=finding,
            outcome=Outcome.BELOW_THRESHOLD,
            reason=f"{finding.severity} is below the gate ({', '.join(config.severities)})",
        )
    if rule is not None:
        until = f" until {rule.expires.isoformat()}" if rule.expires else ""
        return Decision(
            finding=finding,
            outcome=Outcome.IGNORED,
            reason=f"accepted by {config.ignorefile} line {rule.line}{until}",
        )
    if config.ignore_unfixed and not finding.has_fix:
        return Decision(
            finding=finding,
            outcome=Outcome.UNFIXED,
            reason="no fixed version yet and ignore_unfixed = true",
        )
    fix = f"fixed in {finding.fixed_version}" if finding.has_fix else "no fix released yet"
    reason = f"{finding.severity}, {fix}"
    if lapsed is not None and lapsed.expires is not None:
        reason += (
            f"; its {config.ignorefile} rule (line {lapsed.line}) expired on "
            f"{lapsed.expires.isoformat()}"
        )
    return Decision(finding=finding, outcome=Outcome.BLOCKING, reason=reason)


def _later(rule: IgnoreRule, other: IgnoreRule) -> bool:
    if other.expires is None:
        return False
    return rule.expires is None or rule.expires > other.expires
