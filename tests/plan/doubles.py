"""Doubles the pipeline plan tests share: the sentinel secrets, the commit a run is
for, a recording forge for commit statuses, and scripted suite reports.

The fixtures that install them (``ecr``, ``statuses``) are in conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagger
from dagger import dag

from ci.main import PortablePipelines
from pipelines.plans import SBOM_REPORT
from pipelines.scan.command import JSON_REPORT, OUT
from pipelines.signing import SIGNATURE_FILE
from pipelines.statuses import CommitStatus
from tests.conftest import ROOT
from tests.graph import Graph
from tests.plan.seam import Seam

SHA = "0123456789abcdef0123456789abcdef01234567"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
SENTINELS = {
    "aws_access_key_id": "AKIASENTINEL000KEYID",
    "aws_secret_access_key": "sentinel-secret-access-key-0000",
    "kubeconfig": "apiVersion: v1\nkind: Config\n# sentinel-kubeconfig-0000\n",
    "status_token": "ghp_sentinelstatustoken0000",
}
TRIVY = (ROOT / "tests" / "fixtures" / "trivy").joinpath
SBOM_OUTPUT = f"{OUT}/{SBOM_REPORT}"
SBOM_TEXT = '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}'
SIGNATURE = "MEUCIQDsentinelsignature0000"


@dataclass
class StatusRecorder:
    posted: list[CommitStatus] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)
    provider: str = "github"

    async def post_status(self, status: CommitStatus) -> None:
        self.posted.append(status)


def with_secrets(source: dagger.Directory, **overrides: Any) -> PortablePipelines:
    values: dict[str, Any] = {
        name: dag.set_secret(name, value) for name, value in SENTINELS.items()
    }
    values.update(overrides)
    return PortablePipelines(source=source, **values)


def scripted_suites(seam: Seam, *, failing: tuple[str, ...] = ()) -> None:
    for suite in ("unit", "smoke", "integration", "e2e"):
        failure = "<failure message='x'/>" if suite in failing else ""
        seam.files[f"/src/reports/{suite}.xml"] = (
            f"<testsuite><testcase classname='{suite}' name='t'>{failure}</testcase></testsuite>"
        )

    def exit_code(graph: Graph) -> int:
        argv = graph.find("withExec")[-1].args["args"]
        return 1 if argv[0] == "pytest" and any(f"tests/{s}" in argv for s in failing) else 0

    seam.answers["Container.exit_code"] = exit_code
    seam.files[JSON_REPORT] = TRIVY("no-vulnerabilities.json").read_text()
    # What Trivy's SBOM and cosign's --output-signature would leave behind.
    seam.files[SBOM_OUTPUT] = SBOM_TEXT
    seam.files[SIGNATURE_FILE] = SIGNATURE + "\n"
