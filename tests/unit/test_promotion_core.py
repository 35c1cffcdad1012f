"""Promotion's decisions without a network: names, the review text, arguments, re-runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.config.status import PROVIDERS, StatusConfig
from pipelines.errors import ConfigError, InputError
from pipelines.promote import set_overlay_image
from pipelines.promotion import (
    CLIENTS,
    ChangeRequest,
    CommitConflict,
    FileChange,
    GitHubChangeRequests,
    GitLabChangeRequests,
    RemoteFile,
    change_request_body,
    make_change_request_client,
    promotion_branch,
    propose_promotion,
)

ROOT = Path(__file__).resolve().parents[2]
STAGING = "deploy/overlays/staging/kustomization.yaml"
DIGEST = "sha256:" + "0123456789abcdef" * 4
BRANCH = "promote/staging-0123456789ab"
TOKEN = "sentinel-token-unit-91"


def staging_text() -> str:
    return (ROOT / STAGING).read_text(encoding="utf-8")


def pinned(text: str) -> str:
    return set_overlay_image(text, image="hello-service", digest=DIGEST, file="test")


@dataclass
class MemoryForge:
    """A ChangeRequestClient in memory: branches of files, open requests, scripted conflicts."""

    branches: dict[str, dict[str, str]] = field(default_factory=dict)
    # (branch, base) -> URL of the open request.
    open_requests: dict[tuple[str, str], str] = field(default_factory=dict)
    titles: list[str] = field(default_factory=list)
    commits: list[FileChange] = field(default_factory=list)
    # Commit attempts that raise CommitConflict, after applying the change when "landed".
    conflicts: list[str] = field(default_factory=list)
    provider: str = "memory"
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
    """A client any call to which is a failure: bad arguments must stop before the forge."""

    provider = "none"
    where = "nowhere"

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the forge was called ({name}) before the arguments were checked")


def test_branch_names_environment_and_twelve_digits_of_the_digest() -> None:
    assert promotion_branch("staging", DIGEST) == BRANCH
    assert promotion_branch("prod", "sha256:" + "ab" * 32) == "promote/prod-abababababab"
    with pytest.raises(InputError, match="looks like a tag"):
        promotion_branch("staging", "v1.2.3")


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
        ({"digest": "latest"}, "digest", "looks like a tag"),
        ({"digest": DIGEST + "\n"}, "digest", "newline"),
        ({"base_branch": ""}, "base-branch", "empty"),
        ({"base_branch": "main branch"}, "base-branch", "spaces"),
        ({"release_ref": "v1\n`rm -rf`"}, "release-ref", "backticks"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    arguments: dict[str, str], argument: str, problem: str
) -> None:
    values = {"environment": "staging", "image": "hello-service", "digest": DIGEST} | arguments
    with pytest.raises(InputError) as caught:
        await propose_promotion(Untouchable(), **values)  # type: ignore[arg-type]
    assert caught.value.argument == argument
    assert problem in caught.value.problem


async def test_an_overlay_without_the_image_names_the_file_branch_and_repository() -> None:
    forge = MemoryForge(branches={"main": {STAGING: staging_text()}})
    with pytest.raises(ConfigError) as caught:
        await propose_promotion(forge, environment="staging", image="web", digest=DIGEST)
    assert caught.value.file == f"{STAGING} on main in memory repository acme/hello-service"
    assert "no entry named 'web'" in caught.value.problem
    assert forge.commits == []


async def test_a_conflict_is_fine_only_when_the_branch_now_pins_the_digest() -> None:
    landed = MemoryForge(branches={"main": {STAGING: staging_text()}}, conflicts=["landed"])
    change = await propose_promotion(
        landed, environment="staging", image="hello-service", digest=DIGEST
    )
    assert landed.branches[BRANCH][STAGING] == pinned(staging_text())
    assert change.created
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

    change = await propose_promotion(
        forge, environment="staging", image="hello-service", digest=DIGEST
    )

    assert change.committed
    assert change.created
    assert forge.branches[BRANCH][STAGING] == pinned(main_now)
    assert change.summary == (
        f"staging: {DIGEST} proposed on {BRANCH} ({STAGING}); review opened: {change.url}"
    )
    (commit,) = forge.commits
    assert commit.start_branch is None
    assert commit.previous.ref == BRANCH


def test_registry_covers_every_status_provider() -> None:
    assert sorted(CLIENTS) == sorted(PROVIDERS)


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        (
            StatusConfig(
                provider="github",
                api_url="https://github.example.com/api/v3",
                repository="acme/hello-service",
            ),
            GitHubChangeRequests,
        ),
        (
            StatusConfig(
                provider="gitlab", api_url="https://gitlab.example.com/api/v4", project="7"
            ),
            GitLabChangeRequests,
        ),
    ],
)
def test_client_from_status_config_keeps_the_api_url_and_hides_the_token(
    config: StatusConfig, kind: type
) -> None:
    client = make_change_request_client(config, f"{TOKEN}\n")
    assert isinstance(client, kind)
    assert isinstance(client, GitHubChangeRequests | GitLabChangeRequests)
    assert client.api_url == config.api_url
    assert client.token == TOKEN
    assert TOKEN not in repr(client)


def test_without_status_config_the_error_says_what_to_add() -> None:
    with pytest.raises(ConfigError) as caught:
        make_change_request_client(None, TOKEN)
    assert (caught.value.file, caught.value.key) == ("pipelines.toml", "status")
    assert 'provider = "github"' in caught.value.fix


@pytest.mark.parametrize("token", [None, "", " \n"])
def test_a_missing_token_fails_before_any_work(token: str | None) -> None:
    config = StatusConfig(provider="gitlab", api_url="https://gitlab.com/api/v4", project="7")
    with pytest.raises(InputError) as caught:
        make_change_request_client(config, token, argument="forge-token")
    assert caught.value.argument == "forge-token"
    assert "--forge-token=env://GITLAB_TOKEN" in caught.value.fix
    assert "api scope" in caught.value.fix
