"""Argo CD: who deploys what, when, and who hears about it.

DEV syncs automatically (prune, self-heal) and follows release candidates
through Image Updater; STAGING and PROD only sync on a release engineer's
word; every Application alerts on Degraded and failed syncs, every Rollout
on abort. The real trees must pass and each rule is shown failing when broken.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pipelines.tags import dev_image_tag
from pipelines.values import Branch, CommitId
from pipelines_cli.deploy_checks import (
    ENVIRONMENTS,
    FEATURE_TAG_SAMPLES,
    RELEASE_CANDIDATE_SAMPLES,
    Document,
    applications,
    check_environment,
    find,
    kustomize_build,
)
from tests.conftest import ROOT
from tests.deploy_trees import DEPLOY, reference_service

pytestmark = pytest.mark.tools

SERVICE = reference_service()


@dataclass(frozen=True)
class Environment:
    name: str
    overlay: list[Document]
    argocd: list[Document]

    def problems(self) -> list[str]:
        return check_environment(
            self.name,
            overlay_documents=self.overlay,
            argocd_documents=self.argocd,
            service=SERVICE,
            repo_root=ROOT,
        )


@pytest.fixture(scope="module")
def environments() -> dict[str, Environment]:
    return {
        env: Environment(
            name=env,
            overlay=kustomize_build(DEPLOY / "overlays" / env),
            argocd=kustomize_build(DEPLOY / "argocd" / env),
        )
        for env in ENVIRONMENTS
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_environment_passes_every_argo_cd_rule(
    environments: dict[str, Environment], environment: str
) -> None:
    assert environments[environment].problems() == []


def test_dev_syncs_by_itself_with_prune_and_self_heal(
    environments: dict[str, Environment],
) -> None:
    apps, _ = applications(environments["dev"].argocd)

    assert [a["metadata"]["name"] for a in apps] == ["hello-service-dev"]
    assert apps[0]["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_never_sync_by_themselves(
    environments: dict[str, Environment], environment: str
) -> None:
    apps, _ = applications(environments[environment].argocd)

    assert [a["metadata"]["name"] for a in apps] == [f"hello-service-{environment}"]
    assert "automated" not in apps[0]["spec"]["syncPolicy"]
    assert find(environments[environment].argocd, "ImageUpdater") == []


def test_image_updater_follows_release_candidates_and_never_feature_images(
    environments: dict[str, Environment],
) -> None:
    (updater,) = find(environments["dev"].argocd, "ImageUpdater")
    (image,) = updater["spec"]["applicationRefs"][0]["images"]
    settings = image["commonUpdateSettings"]

    assert settings["updateStrategy"] == "newest-build"
    assert settings["allowTags"].startswith("regexp:")
    allowed = re.compile(settings["allowTags"].removeprefix("regexp:"))
    assert all(allowed.search(tag) for tag in RELEASE_CANDIDATE_SAMPLES)
    assert not any(allowed.search(tag) for tag in FEATURE_TAG_SAMPLES)
    assert updater["spec"]["writeBackConfig"]["method"] == "git"
    assert updater["spec"]["writeBackConfig"]["gitConfig"]["writeBackTarget"] == (
        "kustomization:/deploy/overlays/dev"
    )


def test_a_branch_named_like_a_release_stays_out_of_dev_by_its_repository(
    environments: dict[str, Environment],
) -> None:
    (updater,) = find(environments["dev"].argocd, "ImageUpdater")
    (image,) = updater["spec"]["applicationRefs"][0]["images"]
    allowed = re.compile(image["commonUpdateSettings"]["allowTags"].removeprefix("regexp:"))
    lookalike = dev_image_tag(
        Branch.parse("rc-1.4.0"), CommitId.parse("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567")
    )

    # The tag pattern alone would follow this test image ...
    assert allowed.search(lookalike)
    # ... but test images are pushed to <repository>-test, which is not followed.
    assert image["imageName"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service"


# --- each rule, broken ------------------------------------------------------------------


def appset(env: Environment) -> dict[str, Any]:
    found: dict[str, Any] = find(env.argocd, "ApplicationSet")[0]
    return found


def app_template(env: Environment) -> dict[str, Any]:
    template: dict[str, Any] = appset(env)["spec"]["template"]
    return template


def updater(env: Environment) -> dict[str, Any]:
    found: dict[str, Any] = find(env.argocd, "ImageUpdater")[0]
    return found


def followed_image(env: Environment) -> dict[str, Any]:
    image: dict[str, Any] = updater(env)["spec"]["applicationRefs"][0]["images"][0]
    return image


def update_settings(env: Environment) -> dict[str, Any]:
    settings: dict[str, Any] = followed_image(env)["commonUpdateSettings"]
    return settings


def config_data(env: Environment, name: str) -> dict[str, str]:
    data: dict[str, str] = find(env.argocd, "ConfigMap", name)[0]["data"]
    return data


def drop(documents: list[Document], kind: str, name: str | None = None) -> None:
    documents[:] = [
        d
        for d in documents
        if not (d["kind"] == kind and (name is None or d["metadata"]["name"] == name))
    ]


def whitelist_without(env: Environment, kind: str) -> None:
    project = find(env.argocd, "AppProject")[0]["spec"]
    project["namespaceResourceWhitelist"] = [
        r for r in project["namespaceResourceWhitelist"] if r["kind"] != kind
    ]


@dataclass(frozen=True)
class Rule:
    name: str
    environment: str
    mutate: Callable[[Environment], object]
    says: str


SUBSCRIBE = "notifications.argoproj.io/subscribe"
RULES = [
    Rule(
        "automated staging",
        "staging",
        lambda e: app_template(e)["spec"]["syncPolicy"].update(automated={"prune": True}),
        "automated sync in staging",
    ),
    Rule(
        "automated prod",
        "prod",
        lambda e: app_template(e)["spec"]["syncPolicy"].update(automated={}),
        "automated sync in prod",
    ),
    Rule(
        "manual dev",
        "dev",
        lambda e: app_template(e)["spec"]["syncPolicy"].pop("automated"),
        "dev does not sync automatically",
    ),
    Rule(
        "disabled dev",
        "dev",
        lambda e: app_template(e)["spec"]["syncPolicy"]["automated"].update(enabled=False),
        "dev does not sync automatically",
    ),
    Rule(
        "no self-heal",
        "dev",
        lambda e: app_template(e)["spec"]["syncPolicy"]["automated"].update(selfHeal=False),
        "syncPolicy.automated.selfHeal is not true",
    ),
    Rule(
        "no prune",
        "dev",
        lambda e: app_template(e)["spec"]["syncPolicy"]["automated"].pop("prune"),
        "syncPolicy.automated.prune is not true",
    ),
    Rule(
        "no application",
        "prod",
        lambda e: drop(e.argocd, "ApplicationSet"),
        "no Application for prod",
    ),
    Rule(
        "wrong overlay",
        "staging",
        lambda e: appset(e)["spec"]["generators"][0]["list"]["elements"][0].update(
            path="deploy/overlays/prod"
        ),
        "is not a staging overlay",
    ),
    Rule(
        "missing overlay",
        "dev",
        lambda e: appset(e)["spec"]["generators"][0]["list"]["elements"][0].update(
            path="deploy/overlays/nope/dev"
        ),
        "is not a dev overlay",
    ),
    Rule(
        "foreign repository",
        "prod",
        lambda e: app_template(e)["spec"]["source"].update(repoURL="https://example.com/x.git"),
        "is not allowed by AppProject/portable-pipelines",
    ),
    Rule(
        "foreign namespace",
        "staging",
        lambda e: app_template(e)["spec"]["destination"].update(namespace="kube-system"),
        "namespace kube-system is not a destination",
    ),
    Rule(
        "unknown project",
        "dev",
        lambda e: app_template(e)["spec"].update(project="default"),
        "project 'default' is not in this build",
    ),
    Rule(
        "kind not whitelisted",
        "prod",
        lambda e: whitelist_without(e, "Rollout"),
        "does not allow Rollout (argoproj.io)",
    ),
    Rule(
        "template beyond the checks",
        "dev",
        lambda e: app_template(e)["metadata"].update(name="{{ .component | upper }}"),
        "beyond what these checks render",
    ),
    Rule(
        "undefined template field",
        "dev",
        lambda e: app_template(e)["metadata"].update(name="{{.service}}-dev"),
        "template uses .service, which no element defines",
    ),
    Rule(
        "other generator",
        "staging",
        lambda e: appset(e)["spec"]["generators"].append({"git": {}}),
        "is not a list generator",
    ),
    Rule(
        "image updater in prod",
        "prod",
        lambda e: e.argocd.append({"kind": "ImageUpdater", "metadata": {"name": "x"}}),
        "prod is promoted by digest only",
    ),
    Rule(
        "no image updater",
        "dev",
        lambda e: drop(e.argocd, "ImageUpdater"),
        "no ImageUpdater in dev",
    ),
    Rule(
        "semver",
        "dev",
        lambda e: update_settings(e).update(updateStrategy="semver"),
        "updateStrategy is 'semver'",
    ),
    Rule(
        "strategy misspelled",
        "dev",
        lambda e: update_settings(e).update(updateStrategy="newest_build"),
        "updateStrategy is 'newest_build'",
    ),
    Rule(
        "no tag filter",
        "dev",
        lambda e: update_settings(e).pop("allowTags"),
        "no allowTags: every tag of the repository",
    ),
    Rule(
        "any tag",
        "dev",
        lambda e: update_settings(e).update(allowTags="any"),
        "allowTags 'any' is not a regexp: match function",
    ),
    Rule(
        "broken regexp",
        "dev",
        lambda e: update_settings(e).update(allowTags="regexp:^rc-("),
        "does not compile",
    ),
    Rule(
        "feature tags allowed",
        "dev",
        lambda e: update_settings(e).update(allowTags="regexp:-[0-9a-f]{7}$"),
        "allowTags accepts 'feature-login-df7c7aeb35-0a1b2c3'",
    ),
    Rule(
        "unanchored",
        "dev",
        lambda e: update_settings(e).update(allowTags="regexp:^rc-.+-[0-9a-f]{7}"),
        "allowTags accepts 'rc-1.4.0-0a1b2c3d'",
    ),
    Rule(
        "release candidates refused",
        "dev",
        lambda e: update_settings(e).update(allowTags="regexp:^rc-[0-9.]+-[0-9a-f]{7}$"),
        "allowTags refuses the release candidate 'rc-2.0.0-beta.1-0a1b2c3'",
    ),
    Rule(
        "argocd write-back",
        "dev",
        lambda e: updater(e)["spec"]["writeBackConfig"].update(method="argocd"),
        "git must record what runs",
    ),
    Rule(
        "writes to staging",
        "dev",
        lambda e: updater(e)["spec"]["writeBackConfig"]["gitConfig"].update(
            writeBackTarget="kustomization:/deploy/overlays/staging"
        ),
        "is not the dev overlay",
    ),
    Rule(
        "follows another app",
        "dev",
        lambda e: updater(e)["spec"]["applicationRefs"][0].update(namePattern="hello-*-prod"),
        "matches no Application of dev",
    ),
    Rule(
        "kustomize name",
        "dev",
        lambda e: followed_image(e)["manifestTargets"]["kustomize"].update(name="hello"),
        "is not an images: entry of the overlay",
    ),
    Rule(
        "two targets",
        "dev",
        lambda e: followed_image(e)["manifestTargets"].update(helm={"name": "image"}),
        "exactly one of helm, kustomize or plugin",
    ),
    Rule(
        "other repository",
        "dev",
        lambda e: followed_image(e).update(imageName="docker.io/library/hello-service:1.0"),
        "follows docker.io/library/hello-service but the overlay deploys",
    ),
    Rule(
        "no degraded alert",
        "staging",
        lambda e: app_template(e)["metadata"]["annotations"].pop(
            f"{SUBSCRIBE}.on-health-degraded.slack"
        ),
        "nobody is told on-health-degraded",
    ),
    Rule(
        "empty sync-failed channel",
        "dev",
        lambda e: app_template(e)["metadata"]["annotations"].update(
            {f"{SUBSCRIBE}.on-sync-failed.slack": ""}
        ),
        "nobody is told on-sync-failed",
    ),
    Rule(
        "trigger undefined",
        "prod",
        lambda e: config_data(e, "argocd-notifications-cm").pop("trigger.on-sync-failed"),
        "does not define trigger.on-sync-failed",
    ),
    Rule(
        "template undefined",
        "dev",
        lambda e: config_data(e, "argocd-notifications-cm").pop("template.app-health-degraded"),
        "sends app-health-degraded, which is not defined",
    ),
    Rule(
        "no notification service",
        "dev",
        lambda e: config_data(e, "argocd-notifications-cm").pop("service.slack"),
        "defines no notification service",
    ),
    Rule(
        "no notifications config",
        "staging",
        lambda e: drop(e.argocd, "ConfigMap", "argocd-notifications-cm"),
        "ConfigMap argocd-notifications-cm is not in the build",
    ),
    Rule(
        "no rollouts config",
        "prod",
        lambda e: drop(e.argocd, "ConfigMap", "argo-rollouts-notification-configmap"),
        "ConfigMap argo-rollouts-notification-configmap is not in the build",
    ),
    Rule(
        "abort trigger undefined",
        "staging",
        lambda e: config_data(e, "argo-rollouts-notification-configmap").pop(
            "trigger.on-rollout-aborted"
        ),
        "does not define trigger.on-rollout-aborted",
    ),
    Rule(
        "abort unheard",
        "prod",
        lambda e: find(e.overlay, "Rollout")[0]["metadata"]["annotations"].pop(
            f"{SUBSCRIBE}.on-rollout-aborted.slack"
        ),
        "nobody is told when it aborts",
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.name}-{r.environment}")
def test_each_argo_cd_rule_fails_when_broken(
    environments: dict[str, Environment], rule: Rule
) -> None:
    broken = copy.deepcopy(environments[rule.environment])
    rule.mutate(broken)

    problems = broken.problems()

    assert any(rule.says in problem for problem in problems), problems


def test_settings_inherited_from_the_application_ref_still_count(
    environments: dict[str, Environment],
) -> None:
    moved = copy.deepcopy(environments["dev"])
    ref = updater(moved)["spec"]["applicationRefs"][0]
    ref["commonUpdateSettings"] = followed_image(moved).pop("commonUpdateSettings")

    assert moved.problems() == []
