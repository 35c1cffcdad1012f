"""The engine pools' manifests: built and validated for real, then held to the trust model.

``kubectl kustomize deploy/dagger-engine`` builds them and ``kubernetes-validate
--strict`` checks every document (the deploy-checks hook does the same). Then
the rules of docs/ci/shared-engine.md, read from the built documents:

- one engine namespace and one job namespace per trust level, each with its
  own ServiceAccount, none of them with an API token mounted;
- no Role, ClusterRole or binding at all: no job identity may exec into an
  engine (``kube-pod://`` needs ``pods/exec``; the pools use ``tcp://``);
- the network: from which job namespace each engine can be reached, computed
  from the NetworkPolicies as the API server would apply them (ingress of the
  engine's namespace), is exactly its own pool's, and no pod of either pool
  reaches the instance metadata service.

Each rule is also fed a broken copy and must refuse it.
"""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines_cli.deploy_checks import kustomize_build, validate_builtin
from tests.conftest import ROOT

pytestmark = pytest.mark.tools

ENGINE_DIR = ROOT / "deploy" / "dagger-engine"
POOLS = ("untrusted", "release")
PORT = 1234
METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}

Document = Mapping[str, Any]


def of_kind(documents: Sequence[Document], kind: str, namespace: str | None = None) -> list[Any]:
    return [
        doc
        for doc in documents
        if doc["kind"] == kind
        and (namespace is None or doc["metadata"].get("namespace") == namespace)
    ]


def policies(documents: Sequence[Document], namespace: str, kind: str) -> list[Any]:
    return [
        doc
        for doc in of_kind(documents, "NetworkPolicy", namespace)
        if kind in doc["spec"].get("policyTypes", ["Ingress"])
    ]


def namespace_labels(documents: Sequence[Document]) -> dict[str, dict[str, str]]:
    """Each namespace's labels, with the one the API server adds to every namespace."""
    return {
        doc["metadata"]["name"]: {
            **doc["metadata"].get("labels", {}),
            "kubernetes.io/metadata.name": doc["metadata"]["name"],
        }
        for doc in of_kind(documents, "Namespace")
    }


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    if selector.get("matchExpressions"):
        raise AssertionError("matchExpressions: extend this model before using them")
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def peer_admits(peer: Mapping[str, Any], namespace: str, labels: dict[str, dict[str, str]]) -> bool:
    """Whether a ``from`` peer admits any pod of ``namespace`` (pods: any labels)."""
    if "ipBlock" in peer:
        return False  # the pools never admit by address: pod addresses change
    if "namespaceSelector" not in peer:
        return False  # a bare podSelector admits pods of the policy's own namespace only
    pod_selector = peer.get("podSelector")
    return selects(peer["namespaceSelector"], labels.get(namespace, {})) and (
        pod_selector is None or pod_selector == {}
    )


def port_admitted(rule: Mapping[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(
        p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports
    )


def reaches(documents: Sequence[Document], client: str, engine: str) -> bool:
    """Whether pods of ``client`` may open the engine port of pods in ``engine``."""
    ingress = policies(documents, engine, "Ingress")
    if not ingress:
        return True  # no policy selects the engine: everyone may connect
    labels = namespace_labels(documents)
    for policy in ingress:
        if policy["spec"]["podSelector"] != {}:
            raise AssertionError(
                f"{policy['metadata']['name']}: the model expects podSelector {{}}"
            )
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            admitted = peers is None or any(peer_admits(p, client, labels) for p in peers)
            if admitted and port_admitted(rule, PORT):
                return True
    return False


def egress_reaches_metadata(documents: Sequence[Document], namespace: str) -> bool:
    egress = policies(documents, namespace, "Egress")
    if not egress:
        return True
    for policy in egress:
        for rule in policy["spec"].get("egress", []):
            peers = rule.get("to")
            if peers is None:
                return True
            for peer in peers:
                block = peer.get("ipBlock")
                if block is None:
                    continue
                network = ipaddress.ip_network(block["cidr"])
                excluded = [ipaddress.ip_network(cidr) for cidr in block.get("except", [])]
                for address in METADATA:
                    if address in network and not any(address in net for net in excluded):
                        return True
    return False


def identity_problems(documents: Sequence[Document]) -> list[str]:
    """The namespaces and ServiceAccounts of each pool, and no API rights for anyone."""
    problems = []
    names = {doc["metadata"]["name"] for doc in of_kind(documents, "Namespace")}
    problems += [
        f"no Namespace {namespace}"
        for level in POOLS
        for namespace in (f"dagger-{level}", f"ci-{level}")
        if namespace not in names
    ]
    problems += [
        f"{doc['kind']} {doc['metadata']['name']}: the pools grant no API rights"
        for doc in documents
        if doc["kind"] in RBAC_KINDS
    ]
    for level in POOLS:
        for namespace, account in (
            (f"dagger-{level}", "dagger-engine"),
            (f"ci-{level}", "dagger-client"),
        ):
            found = [
                doc
                for doc in of_kind(documents, "ServiceAccount", namespace)
                if doc["metadata"]["name"] == account
            ]
            if len(found) != 1:
                problems.append(f"{namespace}: no ServiceAccount {account}")
            elif found[0].get("automountServiceAccountToken") is not False:
                problems.append(
                    f"{namespace}/{account}: automountServiceAccountToken must be false"
                )
    return problems


def network_problems(documents: Sequence[Document]) -> list[str]:
    """Who reaches which engine, and whether anything reaches the metadata service."""
    problems = []
    for client in POOLS:
        for engine in POOLS:
            allowed = reaches(documents, f"ci-{client}", f"dagger-{engine}")
            if allowed != (client == engine):
                verb = "reach" if allowed else "cannot reach"
                problems.append(f"ci-{client} jobs {verb} the {engine} engine on port {PORT}")
        # The other pool's engine is a client too: its builds run jobs' code.
        other = next(level for level in POOLS if level != client)
        if reaches(documents, f"dagger-{other}", f"dagger-{client}"):
            problems.append(f"the {other} engine reaches the {client} engine")
        problems += [
            f"{namespace}: egress reaches the instance metadata service"
            for namespace in (f"dagger-{client}", f"ci-{client}")
            if egress_reaches_metadata(documents, namespace)
        ]
    return problems


def pool_problems(documents: Sequence[Document]) -> list[str]:
    return identity_problems(documents) + network_problems(documents)


@pytest.fixture(scope="module")
def built() -> list[Any]:
    return kustomize_build(ENGINE_DIR)


def test_the_pools_build_and_validate_for_kubernetes(built: list[Any]) -> None:
    assert {doc["kind"] for doc in built} == {"Namespace", "ServiceAccount", "NetworkPolicy"}
    assert validate_builtin({"deploy/dagger-engine": built}) == []


def test_the_pools_keep_to_the_trust_model(built: list[Any]) -> None:
    assert pool_problems(built) == []


def test_the_pools_are_mirror_images_of_each_other() -> None:
    # One file per pool, the same but for the level's name: a rule added to one
    # and forgotten in the other shows here.
    untrusted = (ENGINE_DIR / "untrusted.yaml").read_text(encoding="utf-8")
    release = (ENGINE_DIR / "release.yaml").read_text(encoding="utf-8")
    body = untrusted[untrusted.index("apiVersion:") :]
    assert body.replace("untrusted", "release") == release[release.index("apiVersion:") :]


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> list[Any]:
    copy = tmp_path / "dagger-engine"
    shutil.copytree(ENGINE_DIR, copy)
    # What the old ci-client-rbac.yaml granted every CI job, for a copy to list.
    (copy / "exec-role.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "dagger-client", "namespace": "dagger-release"},
                "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}],
            }
        ),
        encoding="utf-8",
    )
    text = (copy / file).read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}: the test is stale"
    (copy / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return kustomize_build(copy)


IMDS_V4 = '            except: ["169.254.169.254/32"]\n'


@pytest.mark.parametrize(
    ("file", "old", "new", "says"),
    [
        (
            "release.yaml",
            "              kubernetes.io/metadata.name: ci-release\n      ports:",
            "              kubernetes.io/metadata.name: ci-untrusted\n      ports:",
            "ci-untrusted jobs reach the release engine",
        ),
        (
            "release.yaml",
            "          port: 1234\n---\n# The engine pulls",
            "          port: 1234\n    - {}\n---\n# The engine pulls",
            "ci-untrusted jobs reach the release engine",
        ),
        (
            "untrusted.yaml",
            '  policyTypes: ["Ingress"]\n  ingress:',
            '  policyTypes: ["Egress"]\n  egress:',
            "ci-release jobs reach the untrusted engine",
        ),
        (
            "release.yaml",
            "              kubernetes.io/metadata.name: ci-release\n      ports:",
            "              kubernetes.io/metadata.name: ci-releases\n      ports:",
            "ci-release jobs cannot reach the release engine",
        ),
        ("untrusted.yaml", IMDS_V4, "", "dagger-untrusted: egress reaches the instance metadata"),
        (
            "untrusted.yaml",
            "  namespace: ci-untrusted\nautomountServiceAccountToken: false",
            "  namespace: ci-untrusted\nautomountServiceAccountToken: true",
            "ci-untrusted/dagger-client: automountServiceAccountToken must be false",
        ),
        (
            "kustomization.yaml",
            "  - release.yaml\n",
            "  - release.yaml\n  - exec-role.yaml\n",
            "Role dagger-client: the pools grant no API rights",
        ),
    ],
)
def test_the_trust_model_check_refuses_a_broken_copy(
    tmp_path: Path, file: str, old: str, new: str, says: str
) -> None:
    problems = pool_problems(broken_copy(tmp_path, file, old, new))
    assert any(says in problem for problem in problems), problems


def test_kubernetes_validate_refuses_a_broken_copy(tmp_path: Path) -> None:
    documents = broken_copy(
        tmp_path, "untrusted.yaml", '  policyTypes: ["Ingress"]\n', '  policyType: ["Ingress"]\n'
    )
    problems = validate_builtin({"broken-pools": documents})
    assert any("broken-pools" in problem for problem in problems), problems
