"""Cache stability: do two runs of a function on the same source build the same graph?

The engine replays an operation from its cache only when the operation and
everything before it are the same. A value that changes from run to run (a
stamp, a timestamp, a generated password, a listing in another order) in a
step that should be cached turns every re-run into a cold one, silently.

:func:`measure` runs each scenario twice through the plan tier's await seam
(each run with its own moto account, its own stamps and clock), renders every
graph the function awaited and the one it returned, and compares the two runs
node by node. A node that differs is *deliberate* when a rule of
:data:`DELIBERATE` explains it (those are listed in docs/architecture.md,
with their reasons), and *undocumented* otherwise: the goal is none.
Used by tests/plan/test_cache_stability.py and benchmarks/cache_stability.py.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import dagger
from dagger import dag
from dagger.client.base import Type
from moto import mock_aws

from ci.main import PortablePipelines
from pipelines.scan.command import JSON_REPORT
from tests.conftest import REFERENCE_SERVICE, ROOT
from tests.graph import Call, Graph, render
from tests.plan.seam import Seam, install, manifests

SHA = "0123456789abcdef0123456789abcdef01234567"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service-test@sha256:" + "a" * 64
DIGEST = "sha256:" + "b" * 64
SECRETS = {
    "aws_access_key_id": "AKIASENTINEL000KEYID",
    "aws_secret_access_key": "sentinel-secret-access-key-0000",
    "kubeconfig": "apiVersion: v1\nkind: Config\n",
    "status_token": "sentinel-status-token",
    "git_token": "sentinel-git-token",
}
RUN_RECORD = json.dumps(
    {"format": 1, "pipeline": "dev", "ok": True, "problems": [], "cancelled": False,
     "wall_seconds": 1.0, "steps": []}
)  # fmt: skip

# Environment variables set to a fresh value on each run, on purpose.
PER_RUN_VARIABLES = {
    "PIPELINE_RUN": "the step must really run every time: a suite against running services "
    "or a deployment, the vulnerability-DB refresh, a kubectl apply (a replay from cache "
    "would test, scan or deploy nothing)",
    "READINESS_ATTEMPT": "each readiness probe of a dependency is a new attempt",
}
# Why a node may differ between two runs, by rule; docs/architecture.md lists them.
DELIBERATE = {
    **{f"env {name}": reason for name, reason in PER_RUN_VARIABLES.items()},
    "secret of a per-run graph": "a password generated for this run's dependencies, or a "
    "registry login or AWS keys fetched for this run, in a graph that runs every time anyway: "
    "stamped, an effect such as a push, or a service (a service is started afresh, never "
    "replayed from the cache)",
    "run record": "run.json and summary.txt record this run: its durations and outcome",
}
# Awaits that are effects: they run every time, whatever their inputs.
EFFECTS = ("Container.publish",)
# Cached by the engine as functions: two runs must not differ at all.
PURE = ("lint", "test", "build", "build --platform=linux/arm64")
# Changes with every commit or is read only by CI: never part of the module's
# source, whose identity keys every cached function result (DESIGN.md section 4).
# Every path that changes with commits the module does not see: the history, CI
# files and entry points (templates/ is the GitLab component, vars/ the Jenkins
# step), tests, docs and the changelog.
MUST_NOT_UPLOAD = (
    ".git",
    ".github",
    ".gitlab-ci.yml",
    "Jenkinsfile",
    "templates",
    "vars",
    "tests",
    "docs",
    "CHANGELOG.md",
)


@dataclass
class Difference:
    where: str  # "Container.exit_code #3" or "result"
    call: str
    rule: str | None  # a key of DELIBERATE, or None: undocumented
    detail: str


@dataclass
class Comparison:
    scenario: str
    graphs: int = 0
    nodes: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def undocumented(self) -> list[Difference]:
        return [d for d in self.differences if d.rule is None]


Scenario = Callable[[PortablePipelines, Seam], Awaitable[object]]


def _file(text: str, name: str = "run.json") -> dagger.File:
    return dag.directory().with_new_file(name, text).file(name)


async def _promote(ci: PortablePipelines, _seam: Seam) -> object:
    return await ci.promote(environment="staging", digest=DIGEST)


async def _verdict(ci: PortablePipelines, seam: Seam) -> object:
    seam.files["run.json"] = RUN_RECORD
    return await ci.verdict(_file(RUN_RECORD))


SCENARIOS: dict[str, Scenario] = {
    "lint": lambda ci, _: ci.lint(),
    "test": lambda ci, _: ci.test(),
    "test-report --suite=integration": lambda ci, _: ci.test_report("integration"),
    "build": lambda ci, _: ci.build(),
    "build --platform=linux/arm64": lambda ci, _: ci.build(dagger.Platform("linux/arm64")),
    "smoke": lambda ci, _: ci.smoke(),
    "smoke --url": lambda ci, _: ci.smoke(url="https://dev.example.com"),
    "integration": lambda ci, _: ci.integration(),
    "end-to-end": lambda ci, _: ci.end_to_end(),
    "serve": lambda ci, _: ci.serve(),
    "scan": lambda ci, _: ci.scan(),
    "scan-report --image": lambda ci, _: ci.scan_report(
        image=IMAGE, registry_password=dag.set_secret("ecr", "sentinel-ecr-password")
    ),
    "publish --branch": lambda ci, _: ci.publish(sha=SHA, branch="feature/ABC-1"),
    "publish --version": lambda ci, _: ci.publish(sha=SHA, version="1.4.0"),
    "deploy-dev": lambda ci, _: ci.deploy_dev(
        image=IMAGE, branch="feature/ABC-1", manifests=manifests()
    ),
    "cleanup-dev": lambda ci, _: ci.cleanup_dev(branch="feature/ABC-1", manifests=manifests()),
    "verdict": _verdict,
    "promote": _promote,
    "dev": lambda ci, _: ci.dev(sha=SHA, branch="feature/ABC-1", manifests=manifests()),
    "pre-merge": lambda ci, _: ci.pre_merge(sha=SHA),
    "release": lambda ci, _: ci.release(sha=SHA, version="1.4.0"),
}


class _Statuses:
    provider = "github"

    async def post_status(self, status: object) -> None:
        del status


@dataclass
class _Promotion:
    summary: str = "staging: already pinned"


def _script(seam: Seam) -> None:
    """Every suite passes and writes its report; the scan finds nothing."""
    for suite in ("unit", "smoke", "integration", "e2e"):
        seam.files[f"/src/reports/{suite}.xml"] = (
            f"<testsuite><testcase classname='{suite}' name='t'/></testsuite>"
        )
    trivy = ROOT / "tests" / "fixtures" / "trivy" / "no-vulnerabilities.json"
    seam.files[JSON_REPORT] = trivy.read_text()


async def record(
    scenario: Scenario, *, patches: Sequence[tuple[Any, str, Any]] = ()
) -> list[Graph]:
    """One run: every graph awaited, in order, then the graph of what was returned."""
    with ExitStack() as stack:

        def patch(target: Any, name: str, value: Any) -> None:
            stack.enter_context(mock.patch.object(target, name, value))

        stack.enter_context(mock_aws())
        seam = install(patch, REFERENCE_SERVICE)
        _script(seam)
        import pipelines.forge
        import pipelines.promotion

        patch(pipelines.forge, "make_forge", lambda *_a, **_k: _Statuses())

        async def propose(*_a: Any, **_k: Any) -> _Promotion:
            return _Promotion()

        patch(pipelines.promotion, "propose_promotion", propose)
        for target, name, value in patches:
            patch(target, name, value)
        secrets = {name: dag.set_secret(name, value) for name, value in SECRETS.items()}
        ci = PortablePipelines(source=dag.directory(), **secrets)  # type: ignore[arg-type]
        result = await scenario(ci, seam)
        graphs = [Graph(key, graph.calls) for key, graph in seam.calls]
        if isinstance(result, Type):
            graphs.append(Graph("result", render(result).calls))
        elif hasattr(result, "reports"):  # a result object: its reports are its graph
            graphs.append(Graph("result", render(result.reports).calls))
        return graphs


def _flat(graph: Graph) -> Iterator[tuple[Call, dict[str, Any]]]:
    """Every call of ``graph`` and of the graphs nested in its arguments, in order;
    each with its own arguments, nested graphs left out (they are walked themselves)."""
    for _, call in graph.walk():
        own = {k: v for k, v in call.args.items() if not _has_graph(v)}
        yield call, own


def _has_graph(value: Any) -> bool:
    if isinstance(value, Graph):
        return True
    if isinstance(value, list | tuple):
        return any(_has_graph(v) for v in value)
    if isinstance(value, dict):
        return any(_has_graph(v) for v in value.values())
    return False


def _per_run(graph: Graph) -> bool:
    """A graph the engine runs every time: an effect, a service, or stamped per run."""
    if graph.type_name in EFFECTS:
        return True
    return any(
        call.name == "asService"
        or (call.name == "withEnvVariable" and call.args.get("name") in PER_RUN_VARIABLES)
        for _, call in graph.walk()
    )


def _rule(graph: Graph, call: Call, first: dict[str, Any], second: dict[str, Any]) -> str | None:
    if call.name == "withEnvVariable" and first.get("name") == second.get("name"):
        name = str(first.get("name"))
        return f"env {name}" if name in PER_RUN_VARIABLES else None
    if call.name == "setSecret":
        return "secret of a per-run graph" if _per_run(graph) else None
    records = ("run.json", "summary.txt")
    if graph.type_name == "result" and call.name == "withNewFile" and first.get("path") in records:
        return "run record"
    return None


def compare(name: str, first: list[Graph], second: list[Graph]) -> Comparison:
    comparison = Comparison(scenario=name, graphs=len(first))
    if [g.type_name for g in first] != [g.type_name for g in second]:
        comparison.differences.append(
            Difference(where="awaits", call="-", rule=None, detail="the runs awaited other calls")
        )
    counts: dict[str, int] = {}
    for one, two in zip(first, second, strict=False):
        counts[one.type_name] = counts.get(one.type_name, 0) + 1
        where = f"{one.type_name} #{counts[one.type_name]}"
        nodes_one, nodes_two = list(_flat(one)), list(_flat(two))
        comparison.nodes += len(nodes_one)
        if [c.name for c, _ in nodes_one] != [c.name for c, _ in nodes_two]:
            comparison.differences.append(
                Difference(where=where, call="-", rule=None, detail="the graphs differ in shape")
            )
            continue
        for (call, args_one), (_, args_two) in zip(nodes_one, nodes_two, strict=True):
            if args_one != args_two:
                keys = sorted(k for k in args_one if args_one.get(k) != args_two.get(k))
                comparison.differences.append(
                    Difference(
                        where=where,
                        call=call.name,
                        rule=_rule(one, call, args_one, args_two),
                        detail=f"{call.name}({', '.join(keys)})",
                    )
                )
    return comparison


async def measure(
    name: str, scenario: Scenario, *, patches: Sequence[tuple[Any, str, Any]] = ()
) -> Comparison:
    """Two runs of ``scenario``, compared."""
    first = await record(scenario, patches=patches)
    second = await record(scenario, patches=patches)
    return compare(name, first, second)


def module_source_problems(root: Path = ROOT) -> list[str]:
    """What the module would upload although it changes with every commit or only CI reads it."""
    include = json.loads((root / "dagger.json").read_text())["include"]
    return [
        f"dagger.json does not exclude {path}"
        for path in MUST_NOT_UPLOAD
        if f"!{path}" not in include
    ]
