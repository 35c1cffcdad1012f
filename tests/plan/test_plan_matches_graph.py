"""Plan tier: `portable-pipelines plan` shows what the Dagger functions run.

For each reference service and pipeline, the pipeline function runs under the
await seam, and what it sent (step names and order, dependencies, the argv of
every exec, the services bound, the variable names, the addresses pushed) is
held against the plan the tool prints for the same service, from disk.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagger
import pytest
from dagger import dag

from pipelines.config import PipelineConfig
from pipelines.plans import PipelinePlan, PlannedStep
from pipelines.scan.command import JSON_REPORT
from pipelines.signing import SIGNATURE_FILE
from pipelines.stepgraph import Pipeline, Step
from pipelines_cli.portable_pipelines import plan_of, service_config
from tests.conftest import ROOT
from tests.graph import Graph
from tests.plan.doubles import SBOM_OUTPUT, SBOM_TEXT, SHA, SIGNATURE, TRIVY, with_secrets
from tests.plan.seam import Seam, install

BRANCH = "feature/ABC-1"
SERVICES = sorted(path.parent for path in (ROOT / "examples").glob("*/pipelines.toml"))


def cases() -> Iterator[Any]:
    for service in SERVICES:
        for pipeline in ("pre-merge", "release", "dev"):
            config = service_config(service, runs=(), manifests=ROOT)
            if pipeline == "dev" and (config.deploy is None or config.deploy.target != "eks"):
                # The EC2 target waits on the deployment's URL over the network;
                # its plan is held in tests/unit/test_plans.py instead.
                continue
            yield pytest.param(service, pipeline, id=f"{service.name}-{pipeline}")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Step[Any]]:
    """The steps of the step graph the pipeline function builds."""
    steps: list[Step[Any]] = []

    def record(name: str, made: Any) -> Pipeline[Any]:
        steps.extend(made)
        return Pipeline(name=name, steps=tuple(steps))

    monkeypatch.setattr("ci.flows.pipeline", record)
    return steps


def manifests_for(service: Path) -> tuple[Path, dagger.Directory | None]:
    """--manifests as CI passes it: the repository root when the overlay lives there."""
    if (service / "deploy").is_dir():
        return service, None
    overlay = "deploy/overlays/dev/kustomization.yaml"
    return ROOT, dag.directory().with_new_file(overlay, (ROOT / overlay).read_text())


def script_reports(seam: Seam, config: PipelineConfig) -> None:
    for suite in config.tests.values():
        if suite.report is not None:
            path = posixpath.join(config.toolchain.workdir, suite.report)
            seam.files[path] = f"<testsuite><testcase name='{suite.name}'/></testsuite>"
    seam.files[JSON_REPORT] = TRIVY("no-vulnerabilities.json").read_text()
    seam.files[SBOM_OUTPUT] = SBOM_TEXT
    seam.files[SIGNATURE_FILE] = SIGNATURE


def read_files(seam: Seam, path: str) -> list[Graph]:
    """The awaited graphs that read the file at ``path`` from a container."""
    return [g for g in seam.graphs("File.contents") if g.find("file")[-1].args["path"] == path]


def uses(graph: Graph, image: str) -> bool:
    return any(c.args["address"] == image for c in graph.find("from"))


def by_placeholder(command: list[str]) -> list[str]:
    """The command as the plan prints it: the pushed digest is not known before the push."""
    return [re.sub(r"@sha256:[0-9a-f]{64}$", "@sha256:<digest>", arg) for arg in command]


def execs(graph: Graph) -> list[list[str]]:
    return [list(call.args["args"]) for call in graph.find("withExec")]


def env_names(graph: Graph) -> set[str]:
    return {
        c.args["name"] for c in graph.find("withEnvVariable") + graph.find("withSecretVariable")
    }


@pytest.mark.parametrize(("service", "pipeline"), list(cases()))
async def test_the_plan_is_what_the_function_runs(
    monkeypatch: pytest.MonkeyPatch,
    lazy_source: dagger.Directory,
    recorded: list[Step[Any]],
    ecr: Any,
    statuses: Any,
    service: Path,
    pipeline: str,
) -> None:
    seam = install(monkeypatch.setattr, service)
    root, manifests = manifests_for(service)
    config = service_config(service, runs=(pipeline,), manifests=root)
    script_reports(seam, config)
    functions = with_secrets(lazy_source)
    if pipeline == "pre-merge":
        run = await functions.pre_merge(sha=SHA)
    elif pipeline == "release":
        run = await functions.release(sha=SHA)
    else:
        run = await functions.dev(sha=SHA, branch=BRANCH, manifests=manifests)
    assert run.passed, run.summary
    plan = plan_of(service, pipeline, manifests=root, sha=SHA, branch=BRANCH)

    assert [(s.name, s.depends_on, s.kind) for s in recorded] == [
        (s.name, s.depends_on, s.kind) for s in plan.steps
    ]
    for step in plan.steps:
        check_step(seam, plan, step)


def check_step(seam: Seam, plan: PipelinePlan, step: PlannedStep) -> None:
    if step.role == "lint":
        ran = [execs(g)[-1] for g in seam.commands()]
        for command in step.commands:
            assert list(command) in ran, f"lint: {command} was not run"
    elif step.role == "suite":
        (graph,) = suite_graphs(seam, step)
        assert execs(graph) == [list(c) for c in step.commands]
        assert sorted(c.args["alias"] for c in graph.find("withServiceBinding")) == sorted(
            step.services
        )
        assert env_names(graph) == set(step.env), step.name
    elif step.role == "scan":
        scans = [
            g
            for g in seam.graphs("File.contents")
            if g.find("file")[-1].args["path"] == JSON_REPORT
        ]
        assert scans, "the scan ran"
        for graph in scans:
            assert execs(graph) == [list(c) for c in step.commands]
    elif step.role in ("sbom", "sign", "attest", "record"):
        check_supply_chain(seam, step)
    elif step.role == "publish":
        pushed = [str(g.calls[-1].args["path"]) for g in seam.graphs("Container.publish")]
        assert sorted(set(pushed)) == sorted(step.pushes)
    elif step.role == "deploy":
        ran = [execs(g)[-1] for g in seam.graphs("Container.stdout")]
        assert ran == [list(c) for c in step.commands]
    else:
        assert step.role == "build"
        assert not step.commands
    assert plan.status_context is not None


def check_supply_chain(seam: Seam, step: PlannedStep) -> None:
    """The SBOM, signature, attestation and record steps ran what the plan prints."""
    if step.role == "sbom":
        made = read_files(seam, SBOM_OUTPUT)
        assert len(made) == max(len(step.platforms), 1), "one SBOM per platform"
        for graph in made:
            assert execs(graph) == [list(c) for c in step.commands]
            assert graph.find("from")[0].args["address"] == step.runs_in
            assert not graph.find("withMountedCache"), "the SBOM reads no vulnerability DB"
    elif step.role == "sign":
        (graph,) = read_files(seam, SIGNATURE_FILE)
        assert [by_placeholder(c) for c in execs(graph)] == [list(c) for c in step.commands]
        assert env_names(graph) >= {"DOCKER_CONFIG", "AWS_REGION"}
    elif step.role == "attest":
        (graph,) = [g for g in seam.graphs("Container.sync") if uses(g, step.runs_in)]
        planned = [list(c) for c in step.commands] * max(len(step.platforms), 1)
        assert [by_placeholder(c) for c in execs(graph)] == planned
    elif step.role == "record":
        assert not step.commands


def suite_graphs(seam: Seam, step: PlannedStep) -> list[Graph]:
    """The last awaited graph of the suite: the one that ran all of its commands."""
    first = list(step.commands[0])
    mine = [g for g in seam.commands() if g.find("withExec") and execs(g)[0] == first]
    longest = max((len(execs(g)) for g in mine), default=0)
    return [g for g in mine if len(execs(g)) == longest]
