"""The engine pools' Helm values: keys the official chart knows, and the pools' settings.

deploy/dagger-engine/values.yaml holds what both engines share;
values-untrusted.yaml and values-release.yaml what makes each its pool's.
Helm merges them (maps key by key, a later file's list replacing an earlier
one's), so each pool is checked as Helm will render it: merged, then held to
the chart's keys (read from dagger/dagger, helm/dagger/values.yaml and
templates/ at v0.21.8, the chart of the v0.21 line) and to the pool rules of
docs/ci/shared-engine.md. Each check is also fed a broken copy.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.ci_wrappers import deep_merge
from tests.conftest import ROOT

ENGINE_DIR = ROOT / "deploy" / "dagger-engine"
VALUES = ENGINE_DIR / "values.yaml"
POOLS = ("untrusted", "release")
PORT = 1234

# The keys of the official chart (helm/dagger/values.yaml and its templates at
# v0.21.x) that this repository sets, with their types. The chart ships no
# values.schema.json, so this is ours: a misspelt key (which Helm silently
# ignores) fails here.
CHART_VALUES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "nameOverride": {"type": "string"},
        "fullnameOverride": {"type": "string"},
        "engine": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "image": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["ref"],
                    "properties": {
                        "ref": {
                            "type": "string",
                            "pattern": r"^registry\.dagger\.io/engine:v\d+\.\d+\.\d+"
                            r"(@sha256:[0-9a-f]{64})?$",
                        },
                        "pullPolicy": {"enum": ["IfNotPresent", "Always", "Never"]},
                    },
                },
                "kind": {"enum": ["DaemonSet", "StatefulSet"]},
                "statefulSet": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "persistentVolumeClaim": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "enabled": {"type": "boolean"},
                                "storageClassName": {"type": "string"},
                                "accessModes": {"type": "array", "items": {"type": "string"}},
                                "resources": {"type": "object"},
                            },
                        },
                        "persistentVolumeClaimRetentionPolicy": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "whenDeleted": {"enum": ["Delete", "Retain"]},
                                "whenScaled": {"enum": ["Delete", "Retain"]},
                            },
                        },
                        "podManagementPolicy": {"enum": ["OrderedReady", "Parallel"]},
                    },
                },
                "hostPath": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "dataVolume": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"enabled": {"type": "boolean"}},
                        },
                        "runVolume": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"enabled": {"type": "boolean"}},
                        },
                    },
                },
                "resources": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"requests": {"type": "object"}, "limits": {"type": "object"}},
                },
                "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
                "tolerations": {"type": "array", "items": {"type": "object"}},
                "affinity": {"type": "object"},
                "priorityClassName": {"type": "string"},
                "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
                "readinessProbeSettings": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        name: {"type": "integer", "minimum": 0}
                        for name in (
                            "initialDelaySeconds",
                            "timeoutSeconds",
                            "periodSeconds",
                            "successThreshold",
                            "failureThreshold",
                        )
                    },
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "existingServiceAccount": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"name": {"type": "string", "minLength": 1}},
                },
                "newServiceAccount": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "create": {"type": "boolean"},
                        "name": {"type": "string"},
                        "annotations": {},
                    },
                },
                "args": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "array", "items": {"type": "object"}},
                "config": {"type": "string"},
                "port": {"type": "integer"},
            },
        },
    },
}


def merged(*layers: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values files, the same as GitLab's ``extends``: maps merge key by
    key, anything else (lists included) is replaced."""
    result: dict[str, Any] = {}
    for layer in layers:
        result = deep_merge(result, layer)
    return result


def load(path: Path) -> dict[str, Any]:
    values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert isinstance(values, dict), f"{path.name}: not a mapping"
    return values


def schema_problems(name: str, values: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(CHART_VALUES_SCHEMA)
    return [
        f"{name}: {'.'.join(map(str, error.absolute_path)) or '<top>'}: {error.message}"
        for error in validator.iter_errors(values)
    ]


def pool_problems(common: Path, pool: Path, level: str) -> list[str]:
    """The pool ``level`` as Helm renders it from ``common`` then ``pool``."""
    layers = load(common), load(pool)
    problems = schema_problems(common.name, layers[0]) + schema_problems(pool.name, layers[1])
    values = merged(*layers)
    engine = values.get("engine") or {}
    where = f"{common.name} + {pool.name}"

    def need(ok: bool, text: str) -> None:
        if not ok:
            problems.append(f"{where}: {text}")

    need(engine.get("kind") == "StatefulSet", "engine.kind: one engine per pool (StatefulSet)")
    claim = engine.get("statefulSet", {}).get("persistentVolumeClaim", {})
    need(
        bool(claim.get("enabled")), "a shared StatefulSet engine keeps its cache on a volume claim"
    )
    host = engine.get("hostPath", {})
    need(
        not host.get("dataVolume", {}).get("enabled", True),
        "the cache is on the claim; disable hostPath.dataVolume",
    )
    # The chart's defaults are true: both must be switched off explicitly.
    need(
        host.get("runVolume", {}).get("enabled", True) is False,
        "hostPath.runVolume: no engine socket on the node (it bypasses the network policies)",
    )
    need(engine.get("port") == PORT, f"engine.port {PORT}: clients connect over tcp://")
    need(
        values.get("fullnameOverride") == f"dagger-{level}",
        f"fullnameOverride dagger-{level}: the Service the pool's jobs connect to",
    )
    need(
        engine.get("existingServiceAccount", {}).get("name") == "dagger-engine"
        and not engine.get("newServiceAccount", {}).get("create", False),
        f"engine.existingServiceAccount dagger-engine (dagger-{level}/dagger-engine, no token)",
    )
    need(
        engine.get("nodeSelector") == {"dagger-engine": level},
        f"engine.nodeSelector dagger-engine: {level} (the pool's own nodes)",
    )
    need(
        engine.get("tolerations")
        == [{"effect": "NoSchedule", "key": "dagger-engine", "operator": "Equal", "value": level}],
        f"engine.tolerations: the dagger-engine={level}:NoSchedule taint, exactly",
    )
    need(
        engine.get("labels", {}).get("portable-pipelines/trust-level") == level,
        f"engine.labels portable-pipelines/trust-level: {level}",
    )
    return problems


@pytest.mark.parametrize("level", POOLS)
def test_each_pool_renders_from_the_chart_keys_and_the_pool_rules(level: str) -> None:
    assert pool_problems(VALUES, ENGINE_DIR / f"values-{level}.yaml", level) == []


def test_the_common_values_say_nothing_a_pool_must_decide() -> None:
    common = load(VALUES)
    assert "fullnameOverride" not in common
    assert not {"nodeSelector", "tolerations", "existingServiceAccount"} & set(common["engine"])


def test_there_are_exactly_the_two_pools() -> None:
    assert sorted(path.name for path in ENGINE_DIR.glob("values-*.yaml")) == [
        "values-release.yaml",
        "values-untrusted.yaml",
    ]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}: the test is stale"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "says"),
    [
        ("values.yaml", "    pullPolicy: IfNotPresent", "    pulPolicy: IfNotPresent", "pulPolicy"),
        ("values.yaml", "  kind: StatefulSet", "  kind: Deployment", "engine.kind"),
        (
            "values.yaml",
            "ref: registry.dagger.io/engine:v0.21.11",
            "ref: registry.dagger.io/engine:latest",
            "ref",
        ),
        (
            "values.yaml",
            "      enabled: true\n      # The cluster",
            "      enabled: false\n      # The cluster",
            "cache",
        ),
        (
            "values.yaml",
            "    runVolume:\n      enabled: false",
            "    runVolume:\n      enabled: true",
            "runVolume",
        ),
        ("values.yaml", "  port: 1234\n", "", "engine.port"),
        (
            "values-release.yaml",
            "fullnameOverride: dagger-release",
            "fullnameOverride: dagger",
            "fullnameOverride",
        ),
        (
            "values-release.yaml",
            "    dagger-engine: release",
            "    dagger-engine: untrusted",
            "nodeSelector",
        ),
        ("values-release.yaml", "      value: release", "      value: untrusted", "tolerations"),
        (
            "values-release.yaml",
            "    name: dagger-engine",
            "    name: default",
            "existingServiceAccount",
        ),
        (
            "values-release.yaml",
            "  existingServiceAccount:",
            "  existingServiceAcount:",
            "existingServiceAcount",
        ),
    ],
)
def test_the_values_check_fails_on_a_broken_copy(
    tmp_path: Path, file: str, old: str, new: str, says: str
) -> None:
    for name in ("values.yaml", "values-release.yaml"):
        shutil.copy(ENGINE_DIR / name, tmp_path / name)
    edit(tmp_path / file, old, new)
    problems = pool_problems(tmp_path / "values.yaml", tmp_path / "values-release.yaml", "release")
    assert any(says in problem for problem in problems), problems


def test_helm_merge_replaces_lists_and_merges_maps() -> None:
    assert merged({"a": {"b": 1, "l": [1]}}, {"a": {"c": 2, "l": [2]}}) == {
        "a": {"b": 1, "c": 2, "l": [2]}
    }


SHARED_ENGINE_DOC = ROOT / "docs" / "ci" / "shared-engine.md"


def pool_address(level: str) -> str:
    """The runner host of a pool, from what its values make the chart name the Service."""
    name = merged(load(VALUES), load(ENGINE_DIR / f"values-{level}.yaml"))["fullnameOverride"]
    port = load(VALUES)["engine"]["port"]
    return f"tcp://{name}.dagger-{level}.svc.cluster.local:{port}"


def test_the_docs_name_the_runner_hosts_the_values_create() -> None:
    text = SHARED_ENGINE_DOC.read_text(encoding="utf-8")
    hosts = set(re.findall(r"(?:tcp|kube-pod|unix|tls)://[^\s`\"'|)]+", text))
    # The tls:// example is a pattern for a setup the repository does not ship,
    # tcp://0.0.0.0 the engine's own listening address.
    hosts = {host for host in hosts if not host.startswith(("tls://", "tcp://0.0.0.0:"))}
    assert hosts == {pool_address(level) for level in POOLS}
    assert "kube-pod://" not in text.replace("`kube-pod://` connection", "")
