"""Trivy's JSON report (``trivy image --format json``) read into plain data.

Only what the gate and the summary need is kept: one :class:`Finding` per
entry of ``Results[].Vulnerabilities[]``. The shape is checked as it is
read, so a truncated or foreign file fails with its name and the place that
is wrong instead of passing the gate with zero findings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config.scan import SEVERITIES
from pipelines.errors import PipelinesError

# The report layout this parser knows; Trivy has written 2 since v0.20.
SCHEMA_VERSION = 2

_FIX = "re-run the scan: the file must be the output of `trivy image --format json`"


class ReportError(PipelinesError):
    """A scanner report that cannot be read or does not have the expected shape."""

    def __init__(self, *, file: str, problem: str, fix: str = _FIX) -> None:
        self.file = file
        super().__init__(problem, where=file, fix=fix)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One vulnerable package in one target (OS packages, a lockfile, a binary)."""

    vulnerability_id: str
    pkg_name: str
    installed_version: str
    severity: str
    # Empty when no release fixes it yet.
    fixed_version: str = ""
    title: str = ""
    primary_url: str = ""
    # Where Trivy found the package, e.g. "app (debian 12.5)" or "usr/app/poetry.lock".
    target: str = ""

    @property
    def has_fix(self) -> bool:
        return bool(self.fixed_version)

    @property
    def severity_rank(self) -> int:
        """Higher is worse: CRITICAL ranks first when sorting by -rank."""
        return SEVERITIES.index(self.severity)


@dataclass(frozen=True, kw_only=True)
class ScanReport:
    file: str
    artifact_name: str
    findings: tuple[Finding, ...]
    # Every target Trivy looked at, with or without findings.
    targets: tuple[str, ...] = ()


def load_report(path: Path | str) -> ScanReport:
    """Read and parse a report file; errors name the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(
            file=str(path),
            problem="file not found",
            fix="check the path the scan wrote its JSON report to",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(file=str(path), problem=f"cannot be read: {error}") from None
    return parse_report(text, file=str(path))


def parse_report(text: str, *, file: str) -> ScanReport:
    """Parse the text of a Trivy JSON report; ``file`` names it in errors."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(
            file=file,
            problem=f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
        ) from None
    if not isinstance(document, dict):
        raise ReportError(
            file=file,
            problem=f"expected a JSON object at the top level, got {_json_type(document)}",
        )
    version = document.get("SchemaVersion", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ReportError(
            file=file,
            problem=f"SchemaVersion {version!r} is not the supported {SCHEMA_VERSION}",
            fix="pin a Trivy release that writes SchemaVersion 2, or teach "
            "pipelines.scan.report the new layout",
        )
    artifact = _optional_str(document, "ArtifactName", file=file, where="")
    # Trivy omits Results (or writes null) when it found nothing to scan.
    results = _list_or_empty(document.get("Results"))
    if not isinstance(results, list):
        raise ReportError(
            file=file, problem=f"Results: expected an array, got {_json_type(results)}"
        )
    findings: list[Finding] = []
    targets: list[str] = []
    for index, result in enumerate(results):
        where = f"Results[{index}]"
        if not isinstance(result, dict):
            raise ReportError(
                file=file, problem=f"{where}: expected an object, got {_json_type(result)}"
            )
        target = _optional_str(result, "Target", file=file, where=where)
        targets.append(target)
        vulnerabilities = _list_or_empty(result.get("Vulnerabilities"))
        if not isinstance(vulnerabilities, list):
            raise ReportError(
                file=file,
                problem=f"{where}.Vulnerabilities: expected an array, "
                f"got {_json_type(vulnerabilities)}",
            )
        for number, entry in enumerate(vulnerabilities):
            findings.append(
                _finding(
                    entry, target=target, file=file, where=f"{where}.Vulnerabilities[{number}]"
                )
            )
    return ScanReport(
        file=file, artifact_name=artifact, findings=tuple(findings), targets=tuple(targets)
    )


def _finding(entry: Any, *, target: str, file: str, where: str) -> Finding:
    if not isinstance(entry, dict):
        raise ReportError(
            file=file, problem=f"{where}: expected an object, got {_json_type(entry)}"
        )
    severity = _required_str(entry, "Severity", file=file, where=where)
    if severity not in SEVERITIES:
        raise ReportError(
            file=file,
            problem=f"{where}.Severity: unknown severity {severity!r}; "
            "expected one of " + ", ".join(SEVERITIES),
        )
    return Finding(
        vulnerability_id=_required_str(entry, "VulnerabilityID", file=file, where=where),
        pkg_name=_required_str(entry, "PkgName", file=file, where=where),
        installed_version=_optional_str(entry, "InstalledVersion", file=file, where=where),
        severity=severity,
        fixed_version=_optional_str(entry, "FixedVersion", file=file, where=where),
        title=_optional_str(entry, "Title", file=file, where=where),
        primary_url=_optional_str(entry, "PrimaryURL", file=file, where=where),
        target=target,
    )


def _required_str(entry: Mapping[str, Any], key: str, *, file: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        got = "nothing" if key not in entry else f"{_json_type(value)} {value!r}"
        raise ReportError(
            file=file, problem=f"{where}.{key}: expected a non-empty string, got {got}"
        )
    return value


def _optional_str(entry: Mapping[str, Any], key: str, *, file: str, where: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        prefix = f"{where}." if where else ""
        raise ReportError(
            file=file,
            problem=f"{prefix}{key}: expected a string, got {_json_type(value)} {value!r}",
        )
    return value


def _list_or_empty(value: Any) -> Any:
    """Trivy writes an absent list as null or leaves the key out; both mean none."""
    return [] if value is None else value


def _json_type(value: object) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
