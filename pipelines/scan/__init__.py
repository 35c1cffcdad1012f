"""Vulnerability scanning in the core: Trivy reports, ignore rules, the gate, summaries.

Everything here is pure: files are read by the caller or by the small
``load_*`` helpers, and nothing runs a process. The gate works on
scanner-neutral :class:`Finding` values, so another scanner only needs a
parser that produces them.
"""

from pipelines.scan.gate import Decision, GateResult, Outcome, evaluate
from pipelines.scan.ignorefile import IgnoreRule, load_ignorefile, parse_ignorefile
from pipelines.scan.report import Finding, ReportError, ScanReport, load_report, parse_report
from pipelines.scan.summary import failure_message, sorted_decisions, summary_table

__all__ = [
    "Decision",
    "Finding",
    "GateResult",
    "IgnoreRule",
    "Outcome",
    "ReportError",
    "ScanReport",
    "evaluate",
    "failure_message",
    "load_ignorefile",
    "load_report",
    "parse_ignorefile",
    "parse_report",
    "sorted_decisions",
    "summary_table",
]
