"""Promotion's decisions without a network: names, the review text, arguments, re-runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.errors import ConfigError, InputError
from pipelines.forge import ChangeRequest, CommitConflict, FileChange, RemoteFile
from pipelines.promotion import (
    Promotion,
    Proposal,
    change_request_body,
    promotion_branch,
    propose_promotion,
    set_overlay_image,
)
from pipelines.values import Digest

ROOT = Path(__file__).resolve().parents[2]
STAGING = "deploy/overlays/staging/kustomization.yaml"
DIGEST = Digest.parse("sha256:" + "0123456789abcdef" * 4)
BRANCH = "promote/staging-0123456789ab"


def staging_text() -> str:
    return (ROOT / STAGING).read_text(encoding="utf-8")


def pinned(text: str) -> str:
    return set_overlay_image(text, image="hello-service", digest=DIGEST, file="test")


@dataclass
class MemoryForge:
    """The ChangeRequests slice in memory: branches of files, open requests, scripted conflicts."""

    branches: dict[str, dict[str, str]] = field(default_factory=dict)
    # (branch, base) -> URL of the open request.
    open_requests: dict[tuple[str, str], str] = field(default_factory=dict)
    titles: list[str] = field(default_factory=list)
    commits: list[FileChange] = field(default_factory=list)
    # Commit attempts that raise CommitConflict, after applying the change when "landed".
    conflicts: list[str] = field(default_factory=list)
    where: str = "memory repository acme/hello-service"

    async def read_file(self, path: str, *, ref: str) -> RemoteFile:
        return RemoteFile(path=path, ref=ref, text=self.branches[ref][path])

    async def branch_exists(self, branch: str) -> bool:
        return branch in self.branches

    async def commit_file(self, change: FileChange) -> None:
        conflict = self.conflicts.pop(0) if self.conflicts else None
        if conflict != "refused":
            start = change.start_branch or change.branch
            self.branches[change.branch] = {**self.branches[start], change.path: change.text}
            self.commits.append(change)
        if conflict is not None:
            raise CommitConflict(where=self.where, problem="moved", fix="re-run")

    async def find_change_request(self, *, branch: str, base: str) -> str | None:
        return self.open_requests.get((branch, base))

    async def open_change_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> ChangeRequest:
        assert body, "a review needs its text"
        self.titles.append(title)
        url = f"https://forge.example.com/requests/{len(self.open_requests)}"
        self.open_requests[branch, base] = url
        return ChangeRequest(url=url, created=True)


class Untouchable:
    """A forge any call to which is a failure: bad arguments must stop before the forge."""

    where = "nowhere"

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the forge was called ({name}) before the arguments were checked")


def test_branch_names_environment_and_twelve_digits_of_the_digest() -> None:
    assert promotion_branch("staging", DIGEST) == BRANCH
    prod = promotion_branch("prod", Digest.parse("sha256:" + "ab" * 32))
    assert prod == "promote/prod-abababababab"


@pytest.mark.parametrize("release_ref", ["v1.4.2", None])
def test_review_text_names_digest_release_and_how_to_roll_back(release_ref: str | None) -> None:
    body = change_request_body(
        image="hello-service",
        environment="prod",
        digest=DIGEST,
        path="deploy/overlays/prod/kustomization.yaml",
        base_branch="main",
        release_ref=release_ref,
    )
    assert f"`{DIGEST}`" in body
    assert ("`v1.4.2`" if release_ref else "Release: not given") in body
    assert "deploy/overlays/prod/kustomization.yaml" in body
    assert "git revert" in body
    assert "history rollback" in body


@pytest.mark.parametrize(
    ("arguments", "argument", "problem"),
    [
        ({"environment": "dev"}, "environment", "Image Updater"),
        ({"environment": "stagign"}, "environment", 'did you mean "staging"'),
        ({"base_branch": ""}, "base-branch", "empty"),
        ({"base_branch": "main branch"}, "base-branch", "contains ' '"),
        # Would walk out of the API path: /repos/o/r/git/ref/heads/../../x.
        ({"base_branch": "../../x"}, "base-branch", "contains '..'"),
        ({"base_branch": "main\n"}, "base-branch", "contains '\\n'"),
        ({"base_branch": "refs/heads/.hidden"}, "base-branch", "starts with '.'"),
        ({"release_ref": "v1\n`rm -rf`"}, "release-ref", "backticks"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    arguments: dict[str, str], argument: str, problem: str
) -> None:
    values = {"environment": "staging", "image": "hello-service"} | arguments
    with pytest.raises(InputError) as caught:
        await propose_promotion(Untouchable(), digest=DIGEST, **values)  # type: ignore[arg-type]
    assert caught.value.argument == argument
    assert problem in caught.value.problem


async def test_an_overlay_without_the_image_names_the_file_branch_and_repository() -> None:
    forge = MemoryForge(branches={"main": {STAGING: staging_text()}})
    with pytest.raises(ConfigError) as caught:
        await propose_promotion(forge, environment="staging", image="web", digest=DIGEST)
    assert caught.value.file == f"{STAGING} on main in memory repository acme/hello-service"
    assert "no entry named 'web'" in caught.value.problem
    assert forge.commits == []


def proposal_of(promotion: Promotion) -> Proposal:
    assert promotion.proposal is not None, promotion.summary
    return promotion.proposal


async def test_a_conflict_is_fine_only_when_the_branch_now_pins_the_digest() -> None:
    landed = MemoryForge(branches={"main": {STAGING: staging_text()}}, conflicts=["landed"])
    promotion = await propose_promotion(
        landed, environment="staging", image="hello-service", digest=DIGEST
    )
    assert landed.branches[BRANCH][STAGING] == pinned(staging_text())
    assert proposal_of(promotion).created
    assert landed.titles == [f"Promote hello-service to staging: {DIGEST}"]

    refused = MemoryForge(branches={"main": {STAGING: staging_text()}}, conflicts=["refused"])
    with pytest.raises(CommitConflict):
        await propose_promotion(
            refused, environment="staging", image="hello-service", digest=DIGEST
        )
    assert refused.open_requests == {}

    # The branch exists but still holds the old digest: the conflict is real.
    stale = MemoryForge(
        branches={"main": {STAGING: staging_text()}, BRANCH: {STAGING: staging_text()}},
        conflicts=["refused"],
    )
    with pytest.raises(CommitConflict):
        await propose_promotion(stale, environment="staging", image="hello-service", digest=DIGEST)
    assert stale.open_requests == {}


async def test_a_leftover_branch_is_brought_to_what_main_needs_now() -> None:
    # main moved on (another line changed) after an earlier promotion branch was merged.
    old = staging_text()
    main_now = old.replace("namespace: hello-service", "namespace: hello-service-v2")
    forge = MemoryForge(branches={"main": {STAGING: main_now}, BRANCH: {STAGING: pinned(old)}})

    promotion = await propose_promotion(
        forge, environment="staging", image="hello-service", digest=DIGEST
    )

    change = proposal_of(promotion)
    assert change.committed
    assert change.created
    assert forge.branches[BRANCH][STAGING] == pinned(main_now)
    assert promotion.summary == (
        f"staging: {DIGEST} proposed on {BRANCH} ({STAGING}); review opened: {change.url}"
    )
    (commit,) = forge.commits
    assert commit.start_branch is None
    assert commit.previous.ref == BRANCH


async def test_a_digest_already_pinned_is_an_outcome_not_an_error() -> None:
    forge = MemoryForge(branches={"main": {STAGING: pinned(staging_text())}})

    promotion = await propose_promotion(
        forge, environment="staging", image="hello-service", digest=DIGEST, base_branch="main"
    )

    assert promotion.already_pinned
    assert promotion.proposal is None
    assert (promotion.environment, promotion.path, promotion.digest) == ("staging", STAGING, DIGEST)
    assert forge.commits == []
    assert forge.titles == []
    assert list(forge.branches) == ["main"]
    assert promotion.summary == (
        f"staging: {STAGING} on main already pins hello-service to {DIGEST}: nothing to "
        "promote, so no branch, commit or pull request was created (to deploy that digest "
        "again, sync the environment's Application in Argo CD)"
    )
