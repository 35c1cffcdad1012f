"""The pipelines' plans: which steps, in what order, and what each shows; the formats."""

from __future__ import annotations

import json

import pytest

from pipelines.config import PipelineConfig, parse_config
from pipelines.plan_formats import render, to_mermaid, to_text
from pipelines.plans import JSON_FORMAT, plan_pipeline
from pipelines.values import Branch, CommitId

SHA = CommitId.parse("0123456789abcdef0123456789abcdef01234567")
BASE = """\
[service]
name = "svc"
port = 8080

[test.unit]
commands = [["make", "unit"]]
report = "reports/unit.xml"

[test.smoke]
commands = [["make", "smoke"]]
report = "reports/smoke.xml"

[publish]
registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
repository = "svc"
"""
EC2 = """
[deploy]
target = "ec2"

[deploy.ec2]
region = "eu-west-1"
url = "http://svc.dev.internal:8080"
"""
EKS = """
[deploy]
target = "eks"

[deploy.eks]
region = "eu-west-1"
cluster = "dev"
url = "https://{namespace}.dev.example.com"
"""


def config(extra: str = "") -> PipelineConfig:
    return parse_config(BASE + extra)


def test_pre_merge_of_a_service_without_lint_or_integration() -> None:
    plan = plan_pipeline(config(), "pre-merge")
    assert [(s.name, s.depends_on) for s in plan.steps] == [
        ("unit", ()),
        ("build", ()),
        ("smoke", ("build",)),
        ("scan", ("build",)),
    ]
    assert plan.step("smoke").services == ("app",)
    assert plan.step("smoke").env == ("BASE_URL", "PIPELINE_RUN", "PIPELINE_SUITE")
    assert plan.step("unit").commands == (("make", "unit"),)
    assert plan.status_context is None, "no [forge]: no commit status"


def test_dev_on_ec2_deploys_through_ssm_and_smoke_tests_its_url() -> None:
    plan = plan_pipeline(config(EC2), "dev", sha=SHA, branch=Branch.parse("feature/X-1"))
    assert [(s.name, s.depends_on, s.kind) for s in plan.steps] == [
        ("unit", (), "validation"),
        ("build", (), "validation"),
        ("publish", ("unit", "build"), "effect"),
        ("deploy", ("publish",), "effect"),
        ("smoke", ("deploy",), "validation"),
    ]
    publish, deploy, smoke = plan.step("publish"), plan.step("deploy"), plan.step("smoke")
    assert publish.pushes == (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc-test:feature-x-1-041e201ed4-0123456",
    )
    assert deploy.commands == ()
    assert "SSM" in deploy.runs_in
    assert smoke.against == "deploy"
    assert smoke.services == (), "against a deployment nothing is bound"
    assert smoke.note == "against the deployment at http://svc.dev.internal:8080"


def test_dev_on_eks_shows_the_branch_namespace_and_its_kubectl() -> None:
    plan = plan_pipeline(config(EKS), "dev", sha=SHA, branch=Branch.parse("feature/X-1"))
    apply, rollout = plan.step("deploy").commands
    assert apply == ("kubectl", "apply", "--kustomize=/work/dev-deploy")
    assert "--namespace=dev-feature-x-1-041e201ed4" in rollout
    assert plan.step("smoke").note == (
        "against the deployment at https://dev-feature-x-1-041e201ed4.dev.example.com"
    )


def test_without_a_commit_branch_or_version_the_plan_shows_placeholders() -> None:
    dev = plan_pipeline(config(EKS), "dev")
    assert dev.step("publish").pushes == (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc-test:<branch-slug>-<sha7>",
    )
    assert "--namespace=dev-<branch-slug>" in dev.step("deploy").commands[1]
    release = plan_pipeline(config(), "release")
    assert release.step("publish").pushes == (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc:rc-<version>-<sha7>",
    )
    known = plan_pipeline(config(), "release", sha=SHA, version="1.4.0")
    assert known.step("publish").pushes[0].endswith(":rc-1.4.0-0123456")


def test_release_builds_scans_and_publishes_every_platform() -> None:
    platforms = '\n[build]\nplatforms = ["linux/amd64", "linux/arm64"]\n'
    plan = plan_pipeline(config(platforms), "release", sha=SHA, version="1.0.0")
    # No [publish] signing_key: the SBOM is made and recorded, nothing is signed.
    assert [s.name for s in plan.steps] == ["build", "scan", "sbom", "publish", "record"]
    assert "promote refuses it" in (plan.step("record").note or "")
    assert plan.step("scan").platforms == ("linux/amd64", "linux/arm64")
    assert plan.step("build").every_platform
    assert plan.step("scan").commands[0][:3] == ("trivy", "image", "--download-db-only")


def test_the_scan_converts_with_the_ignorefile_only_when_the_service_has_one() -> None:
    with_file = plan_pipeline(config(), "pre-merge").step("scan").commands
    without = plan_pipeline(config(), "pre-merge", ignorefile_found=False).step("scan").commands
    assert "/work/.trivyignore" in with_file[-1]
    assert "/work/.trivyignore" not in without[-1]


def test_the_json_form_keeps_its_documented_keys() -> None:
    document = json.loads(render(plan_pipeline(config(), "pre-merge"), "json"))
    assert document["format"] == JSON_FORMAT
    assert document["pipeline"] == "pre-merge"
    for step in document["steps"]:
        assert {"name", "depends_on", "commands"} <= set(step)
        assert all(isinstance(command, list) for command in step["commands"])
    assert document["steps"][2]["depends_on"] == ["build"]


def test_text_and_mermaid_show_every_step_and_edge() -> None:
    forge = '\n[forge]\nprovider = "github"\nrepository = "acme/svc"\n'
    plan = plan_pipeline(config(forge), "pre-merge")
    text = to_text(plan)
    assert "status pipelines/pre-merge on github acme/svc" in text
    assert "   $ make unit" in text
    mermaid = to_mermaid(plan).splitlines()
    assert mermaid[0] == "flowchart LR"
    assert "    step_build --> step_smoke" in mermaid
    assert "    step_scan --> status" in mermaid
    assert "    step_unit --> status" in mermaid


def test_an_unknown_pipeline_or_format_is_a_bug_not_a_plan() -> None:
    with pytest.raises(ValueError, match="unknown pipeline"):
        plan_pipeline(config(), "nightly")
    with pytest.raises(ValueError, match="unknown format"):
        render(plan_pipeline(config(), "pre-merge"), "yaml")
