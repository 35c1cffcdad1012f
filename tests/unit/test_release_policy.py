"""deploy/policies: the cluster admits only what the release pipeline signed.

The Kyverno ClusterPolicy is validated like the other custom resources (its
schema is package data of the deploy checks) and held here to the pipeline:
the same KMS key, the release repository, the attestation type cosign writes,
the offline-trust settings that match how the pipeline signs, and the
namespace the staging and prod overlays deploy to.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

import pytest
import yaml

from pipelines.config import parse_config
from pipelines.plans import plan_pipeline
from pipelines_cli.deploy_checks import validate_custom
from tests.conftest import ROOT

POLICY = ROOT / "deploy" / "policies" / "verify-release-images.yaml"
SERVICE = ROOT / "examples" / "hello-service" / "pipelines.toml"


def policy() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    return loaded


def verify_images(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for rule in document["spec"]["rules"] for v in rule.get("verifyImages", [])]


def test_the_policy_is_valid_against_the_kyverno_schema() -> None:
    assert validate_custom([policy()], where="deploy/policies") == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "rules", 0, "verifyImages", 0, "attestor"), []),  # a misspelt field
        (("spec", "rules", 0, "verifyImages", 0, "required"), "yes"),
        (("spec", "rules", 0, "verifyImages", 0, "attestors", 0, "count"), "one"),
    ],
)
def test_the_schema_check_reports_a_broken_copy(path: tuple[Any, ...], value: object) -> None:
    broken = copy.deepcopy(policy())
    node: Any = broken
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    assert validate_custom([broken], where="deploy/policies") != []


def test_the_policy_verifies_what_the_release_pipeline_signs() -> None:
    config = parse_config(SERVICE.read_text(encoding="utf-8"), file=str(SERVICE))
    settings = config.require_publish()
    key = settings.signing_key
    assert key is not None
    release = plan_pipeline(config, "release")
    (sign,) = release.step("sign").commands
    (attest,) = release.step("attest").commands
    (verify,) = verify_images(policy())
    assert verify["failureAction"] == "Enforce"
    assert verify["required"] is True
    assert verify["verifyDigest"] is True
    assert any(
        fnmatch.fnmatch(f"{settings.release_uri}@sha256:{'a' * 64}", pattern)
        for pattern in verify["imageReferences"]
    )
    entries = [e for a in verify["attestors"] for e in a["entries"]]
    for attestation in verify["attestations"]:
        entries += [e for a in attestation["attestors"] for e in a["entries"]]
    for entry in entries:
        assert entry["keys"]["kms"] == key
        # The pipeline signs without the transparency log, so the policy must not need it.
        assert "--tlog-upload=false" in sign
        assert entry["keys"]["rekor"]["ignoreTlog"] is True
    assert attest[attest.index("--type") + 1] == "cyclonedx"
    assert [a["type"] for a in verify["attestations"]] == ["https://cyclonedx.org/bom"]


def test_the_policy_covers_the_namespace_staging_and_prod_deploy_to() -> None:
    (rule,) = policy()["spec"]["rules"]
    namespaces = {ns for m in rule["match"]["any"] for ns in m["resources"]["namespaces"]}
    for environment in ("staging", "prod"):
        overlay = ROOT / "deploy" / "overlays" / environment / "kustomization.yaml"
        assert yaml.safe_load(overlay.read_text(encoding="utf-8"))["namespace"] in namespaces
