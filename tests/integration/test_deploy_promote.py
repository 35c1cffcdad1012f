"""A promotion edit, applied to the real overlays, deploys exactly that digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.promotion import OVERLAYS, overlay_path, set_overlay_image
from pipelines.values import Digest
from pipelines_cli.deploy_checks import check_images, check_tree, find, kustomize_build
from tests.conftest import ROOT
from tests.deploy_trees import REPOSITORY, copy_tree, reference_service

pytestmark = pytest.mark.tools

DIGEST = "sha256:" + "5e" * 32


def promote(repo_root: Path, environment: str, digest: str) -> None:
    """What `dagger call promote` does to the checkout before committing it."""
    file = repo_root / overlay_path(environment)
    text = file.read_text(encoding="utf-8")
    file.write_text(
        set_overlay_image(text, image="hello-service", digest=Digest.parse(digest), file=str(file)),
        encoding="utf-8",
    )


@pytest.mark.parametrize("environment", sorted(OVERLAYS))
def test_a_promoted_digest_is_what_the_environment_runs(tmp_path: Path, environment: str) -> None:
    tree = copy_tree(ROOT / "deploy", tmp_path)

    promote(tmp_path, environment, DIGEST)

    documents = kustomize_build(tree / "overlays" / environment)
    (deployment,) = find(documents, "Deployment", "hello-service")
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == [f"{REPOSITORY}@{DIGEST}"]
    assert check_images(documents, environment=environment) == []
    assert check_tree(tree, service=reference_service()) == []


def test_promoting_staging_leaves_prod_as_it_was(tmp_path: Path) -> None:
    tree = copy_tree(ROOT / "deploy", tmp_path)
    prod_before = (tree / "overlays/prod/kustomization.yaml").read_text(encoding="utf-8")

    promote(tmp_path, "staging", DIGEST)

    assert (tree / "overlays/prod/kustomization.yaml").read_text(encoding="utf-8") == prod_before
    assert DIGEST not in str(kustomize_build(tree / "overlays/prod"))
