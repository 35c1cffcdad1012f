"""Promotion as a reviewed change, against stateful fake forges on loopback (pytest-httpserver).

Each fake keeps branches, files and pull/merge requests the way the forge
does, answers with the status codes and messages the real APIs send, and
records every request, so a test checks both what was sent (method, path,
headers, JSON) and what the repository looks like afterwards.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.config.forge import ForgeConfig
from pipelines.forge import ChangeRequests, ForgeError, make_forge
from pipelines.promotion import OVERLAYS, Promotion, Proposal, propose_promotion, set_overlay_image
from pipelines.values import Digest
from tests.integration.forge_clients import TOKEN, Sleeps, github, gitlab

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER_DIGEST = "sha256:" + "fe" * 32
PINNED = Digest.parse(DIGEST)
BRANCH = "promote/staging-0123456789ab"
STAGING = "deploy/overlays/staging/kustomization.yaml"
RELEASE = "v1.4.2"


def real_overlays() -> dict[str, str]:
    return {path: (ROOT / path).read_text(encoding="utf-8") for path in OVERLAYS.values()}


def pinned(text: str, digest: str = DIGEST) -> str:
    return set_overlay_image(text, image="hello-service", digest=Digest.parse(digest), file="test")


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    return [(line[0], line[2:]) for line in diff if line[:1] in "+-"]


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


@dataclass
class Seen:
    method: str
    # The path as sent, percent-encoding kept, without the query.
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeForge:
    """Commits as snapshots of files; branches point at commits."""

    commits: dict[str, dict[str, str]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    # (method, path prefix) -> answers to give before the real one; an answer of
    # ("after", response) is given after the request was applied (an answer lost on the way).
    faults: list[tuple[str, str, str, Response]] = field(default_factory=list)

    def commit(self, files: dict[str, str], message: str) -> str:
        sha = hashlib.sha1(
            (message + json.dumps(files, sort_keys=True) + str(len(self.commits))).encode(),
            usedforsecurity=False,
        ).hexdigest()
        self.commits[sha] = dict(files)
        return sha

    def file_on(self, branch: str, path: str) -> str:
        return self.commits[self.branches[branch]][path]

    def writes(self) -> list[Seen]:
        return [s for s in self.seen if s.method != "GET"]

    def fault(self, method: str, path: str, response: Response, *, when: str = "before") -> None:
        self.faults.append((method, path, when, response))

    def handle(self, request: Request) -> Response:
        raw_uri = request.environ.get("RAW_URI") or request.environ["REQUEST_URI"]
        raw_path = raw_uri.split("?", 1)[0]
        body = request.get_json(silent=True) if request.data else None
        self.seen.append(
            Seen(
                method=request.method,
                raw_path=raw_path,
                query=dict(request.args),
                headers=dict(request.headers),
                body=body,
            )
        )
        lost: Response | None = None
        for index, (method, path, when, response) in enumerate(self.faults):
            if method == request.method and raw_path.endswith(path):
                del self.faults[index]
                if when == "before":
                    return response
                lost = response
                break
        answer = self.route(request.method, raw_path, dict(request.args), body)
        return lost if lost is not None else answer

    def route(self, method: str, raw_path: str, query: dict[str, str], body: Any) -> Response:
        raise NotImplementedError


class FakeGitHub(FakeForge):
    prefix = "/api/v3/repos/acme/hello-service/"

    def blob(self, text: str) -> str:
        git_blob = f"blob {len(text.encode())}\0{text}".encode()
        return hashlib.sha1(git_blob, usedforsecurity=False).hexdigest()

    def route(  # noqa: PLR0911 - one return per endpoint, as in the forge's router
        self, method: str, raw_path: str, query: dict[str, str], body: Any
    ) -> Response:
        assert raw_path.startswith(self.prefix), raw_path
        rest = unquote(raw_path.removeprefix(self.prefix))
        not_found = _json({"message": "Not Found"}, 404)
        if rest.startswith("contents/"):
            path = rest.removeprefix("contents/")
            if method == "GET":
                ref = query["ref"]
                if ref not in self.branches or path not in self.commits[self.branches[ref]]:
                    return not_found
                text = self.file_on(ref, path)
                encoded = base64.b64encode(text.encode()).decode()
                # GitHub wraps the base64 content every 60 characters.
                wrapped = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
                return _json(
                    {
                        "type": "file",
                        "encoding": "base64",
                        "path": path,
                        "sha": self.blob(text),
                        "content": wrapped + "\n",
                    }
                )
            branch = body["branch"]
            files = dict(self.commits[self.branches[branch]])
            if self.blob(files[path]) != body["sha"]:
                return _json({"message": f"{path} does not match {body['sha']}"}, 409)
            files[path] = base64.b64decode(body["content"]).decode()
            self.branches[branch] = self.commit(files, body["message"])
            return _json({"commit": {"sha": self.branches[branch]}})
        if rest.startswith("git/ref/heads/"):
            branch = rest.removeprefix("git/ref/heads/")
            if branch not in self.branches:
                return not_found
            return _json({"ref": f"refs/heads/{branch}", "object": {"sha": self.branches[branch]}})
        if rest == "git/refs":
            branch = body["ref"].removeprefix("refs/heads/")
            if branch in self.branches:
                return _json({"message": "Reference already exists"}, 422)
            self.branches[branch] = body["sha"]
            return _json({"ref": body["ref"]}, 201)
        if rest == "pulls":
            if method == "GET":
                return _json(
                    [
                        pull
                        for pull in self.requests
                        if f"acme:{pull['head']}" == query["head"]
                        and pull["base"] == query["base"]
                        and pull["state"] == query["state"]
                    ]
                )
            for pull in self.requests:
                if (pull["head"], pull["base"], pull["state"]) == (
                    body["head"],
                    body["base"],
                    "open",
                ):
                    message = f"A pull request already exists for acme:{body['head']}."
                    return _json(
                        {"message": "Validation Failed", "errors": [{"message": message}]}, 422
                    )
            number = len(self.requests) + 1
            pull = {**body, "state": "open", "number": number}
            pull["html_url"] = f"https://github.example.com/acme/hello-service/pull/{number}"
            self.requests.append(pull)
            return _json(pull, 201)
        return not_found


class FakeGitLab(FakeForge):
    prefix = "/api/v4/projects/acme%2Fplatform%2Fhello-service/"

    def route(  # noqa: PLR0911 - one return per endpoint, as in the forge's router
        self, method: str, raw_path: str, query: dict[str, str], body: Any
    ) -> Response:
        assert raw_path.startswith(self.prefix), raw_path
        # Each variable part arrives as one encoded segment.
        parts = [unquote(part) for part in raw_path.removeprefix(self.prefix).split("/")]
        if parts[:2] == ["repository", "files"] and parts[3:] == ["raw"]:
            ref = query["ref"]
            if ref not in self.branches or parts[2] not in self.commits[self.branches[ref]]:
                return _json({"message": "404 File Not Found"}, 404)
            return Response(self.file_on(ref, parts[2]), content_type="text/plain")
        if parts[:2] == ["repository", "branches"] and len(parts) == 3:
            if parts[2] not in self.branches:
                return _json({"message": "404 Branch Not Found"}, 404)
            return _json({"name": parts[2]})
        if parts == ["repository", "commits"]:
            branch, start = body["branch"], body.get("start_branch")
            if start is not None and branch in self.branches:
                message = f"A branch called '{branch}' already exists. Switch to that branch"
                return _json({"message": message}, 400)
            if start is None and branch not in self.branches:
                return _json({"message": "You can only create or edit files on a branch"}, 400)
            files = dict(self.commits[self.branches[start or branch]])
            for action in body["actions"]:
                assert action["action"] == "update"
                files[action["file_path"]] = action["content"]
            self.branches[branch] = self.commit(files, body["commit_message"])
            return _json({"id": self.branches[branch]}, 201)
        if parts == ["merge_requests"]:
            if method == "GET":
                return _json(
                    [
                        mr
                        for mr in self.requests
                        if (mr["source_branch"], mr["target_branch"], mr["state"])
                        == (query["source_branch"], query["target_branch"], query["state"])
                    ]
                )
            for mr in self.requests:
                if mr["source_branch"] == body["source_branch"] and mr["state"] == "opened":
                    message = "Another open merge request already exists for this source branch"
                    return _json({"message": [f"{message}: !{mr['iid']}"]}, 409)
            iid = len(self.requests) + 1
            mr = {**body, "state": "opened", "iid": iid}
            mr["web_url"] = (
                f"https://gitlab.example.com/acme/platform/hello-service/-/merge_requests/{iid}"
            )
            self.requests.append(mr)
            return _json(mr, 201)
        return _json({"message": "404 Not Found"}, 404)


def serve(server: HTTPServer, forge: FakeForge, files: dict[str, str] | None = None) -> None:
    forge.branches["main"] = forge.commit(real_overlays() if files is None else files, "initial")
    server.expect_request(re.compile(".*")).respond_with_handler(forge.handle)


@pytest.fixture
def github_forge(server: HTTPServer) -> FakeGitHub:
    forge = FakeGitHub()
    serve(server, forge)
    return forge


@pytest.fixture
def gitlab_forge(server: HTTPServer) -> FakeGitLab:
    forge = FakeGitLab()
    serve(server, forge)
    return forge


async def promote_staging(forge: ChangeRequests, digest: str = DIGEST) -> Promotion:
    return await propose_promotion(
        forge,
        environment="staging",
        image="hello-service",
        digest=Digest.parse(digest),
        release_ref=RELEASE,
    )


async def proposed(forge: ChangeRequests) -> Proposal:
    """Promote to staging; the change it proposed (there must be one)."""
    promotion = await promote_staging(forge)
    assert promotion.proposal is not None, promotion.summary
    return promotion.proposal


# --- GitHub ----------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", sorted(OVERLAYS))
async def test_github_opens_one_commit_on_a_new_branch_and_a_pull_request(
    server: HTTPServer, github_forge: FakeGitHub, sleeps: Sleeps, environment: str
) -> None:
    path = OVERLAYS[environment]
    original = real_overlays()[path]
    main_head = github_forge.branches["main"]
    branch = f"promote/{environment}-0123456789ab"

    promotion = await propose_promotion(
        github(server, sleeps),
        environment=environment,
        image="hello-service",
        digest=PINNED,
        release_ref=RELEASE,
    )
    change = promotion.proposal
    assert change is not None

    repo = "/api/v3/repos/acme/hello-service"
    encoded_branch = branch  # GitHub routes slashes in ref names as they are
    assert [(s.method, s.raw_path) for s in github_forge.seen] == [
        ("GET", f"{repo}/contents/{path}"),
        ("GET", f"{repo}/git/ref/heads/{encoded_branch}"),
        ("GET", f"{repo}/git/ref/heads/main"),
        ("POST", f"{repo}/git/refs"),
        ("PUT", f"{repo}/contents/{path}"),
        ("POST", f"{repo}/pulls"),
    ]
    for seen in github_forge.seen:
        assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
        assert seen.headers["Accept"] == "application/vnd.github+json"
        assert seen.headers["X-Github-Api-Version"] == "2022-11-28"
    read, _, _, create_ref, put, pull = github_forge.seen
    assert read.query == {"ref": "main"}
    assert create_ref.body == {"ref": f"refs/heads/{branch}", "sha": main_head}

    assert put.body["branch"] == branch
    assert put.body["sha"] == github_forge.blob(original)
    assert put.body["message"] == f"Promote hello-service to {environment}: {DIGEST}"
    committed = base64.b64decode(put.body["content"]).decode()
    assert committed == pinned(original)
    assert f"digest: {DIGEST}" in committed
    # One line changes (the old digest for the new); comments and the rest stay.
    assert changed_lines(original, committed) == [
        ("-", "    digest: sha256:" + "0" * 64),
        ("+", f"    digest: {DIGEST}"),
    ]

    assert pull.body["head"] == branch
    assert pull.body["base"] == "main"
    assert pull.body["title"] == put.body["message"]
    assert DIGEST in pull.body["body"]
    assert RELEASE in pull.body["body"]
    assert "git revert" in pull.body["body"]

    # The branch holds the pinned file; main is untouched until someone merges.
    assert github_forge.file_on(branch, path) == committed
    assert github_forge.branches["main"] == main_head
    assert change.url == "https://github.example.com/acme/hello-service/pull/1"
    assert (change.branch, promotion.path, change.created, change.committed) == (
        branch,
        path,
        True,
        True,
    )
    assert promotion.summary == (
        f"{environment}: {DIGEST} proposed on {branch} ({path}); review opened: {change.url}"
    )
    assert sleeps.delays == []


async def test_github_refuses_a_no_op_and_creates_nothing(
    server: HTTPServer, sleeps: Sleeps
) -> None:
    forge = FakeGitHub()
    files = real_overlays()
    files[STAGING] = pinned(files[STAGING])
    serve(server, forge, files)

    promotion = await promote_staging(github(server, sleeps))

    # Success, not an exception: nothing was due, and the summary says so.
    assert promotion.already_pinned
    assert promotion.proposal is None
    assert f"{STAGING} on main already pins hello-service to {DIGEST}" in promotion.summary
    assert "nothing to promote" in promotion.summary
    assert "sync the environment's Application in Argo CD" in promotion.summary
    assert "\n" not in promotion.summary
    assert forge.writes() == []
    assert list(forge.branches) == ["main"]
    assert forge.requests == []


async def test_github_rerun_reuses_the_branch_and_reports_the_open_pull_request(
    server: HTTPServer, github_forge: FakeGitHub, sleeps: Sleeps
) -> None:
    first = await proposed(github(server, sleeps))
    head_after_first = github_forge.branches[BRANCH]
    writes_after_first = len(github_forge.writes())

    second = await proposed(github(server, sleeps))

    assert second.url == first.url
    assert (second.created, second.committed) == (False, False)
    assert len(github_forge.writes()) == writes_after_first  # nothing new written
    assert github_forge.branches[BRANCH] == head_after_first
    assert len(github_forge.requests) == 1
    lookup = next(
        s for s in github_forge.seen if s.method == "GET" and s.raw_path.endswith("/pulls")
    )
    assert lookup.query == {
        "head": f"acme:{BRANCH}",
        "base": "main",
        "state": "open",
        "per_page": "100",
    }


async def test_github_branch_left_from_a_closed_pull_request_gets_a_new_one(
    server: HTTPServer, github_forge: FakeGitHub, sleeps: Sleeps
) -> None:
    first = await proposed(github(server, sleeps))
    github_forge.requests[0]["state"] = "closed"

    again = await proposed(github(server, sleeps))

    assert again.url != first.url
    assert again.created
    assert github_forge.file_on(BRANCH, STAGING) == pinned(real_overlays()[STAGING])


async def test_github_retries_5xx_and_429_then_succeeds(
    server: HTTPServer, github_forge: FakeGitHub, sleeps: Sleeps
) -> None:
    github_forge.fault("GET", f"contents/{STAGING}", Response("bad gateway", status=502))
    github_forge.fault("POST", "/pulls", _json({"message": "slow down"}, 429))
    github_forge.fault("POST", "/pulls", Response("unavailable", status=503))

    change = await proposed(github(server, sleeps, base_delay=0.5))

    assert change.created
    assert sleeps.delays == [0.5, 0.5, 1.0]
    assert len(github_forge.requests) == 1


async def test_github_commit_whose_answer_was_lost_is_not_done_twice(
    server: HTTPServer, github_forge: FakeGitHub, sleeps: Sleeps
) -> None:
    # The first PUT lands but its answer is a 502: the retry then meets a 409
    # (the blob sha moved), and the branch already holds the pinned file.
    github_forge.fault("PUT", f"contents/{STAGING}", Response("lost", status=502), when="after")
    github_forge.fault("POST", "/pulls", Response("lost", status=502), when="after")

    change = await proposed(github(server, sleeps))

    puts = [s for s in github_forge.seen if s.method == "PUT"]
    assert len(puts) == 2
    assert github_forge.file_on(BRANCH, STAGING) == pinned(real_overlays()[STAGING])
    # The retried create met "already exists" and reported the pull request that landed.
    assert len(github_forge.requests) == 1
    assert change.url == github_forge.requests[0]["html_url"]
    assert not change.created


async def test_github_missing_file_is_a_clear_error(
    server: HTTPServer, github_forge: FakeGitHub, sleeps: Sleeps
) -> None:
    with pytest.raises(ForgeError) as caught:
        await propose_promotion(
            github(server, sleeps),
            environment="staging",
            image="hello-service",
            digest=PINNED,
            base_branch="release",
        )
    message = str(caught.value)
    assert message.startswith("GitHub repository acme/hello-service: ")
    assert f"{STAGING} was not found on branch release (HTTP 404" in message
    assert "fix: check --base-branch=release" in message
    assert github_forge.writes() == []
    assert sleeps.delays == []  # a 404 is an answer, not a reason to retry


async def test_github_token_never_reaches_errors_logs_or_repr(
    server: HTTPServer, github_forge: FakeGitHub, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A server that echoes the token, first while failing, then when refusing.
    echo = f"upstream failed for Bearer {TOKEN}"
    github_forge.fault("GET", f"contents/{STAGING}", Response(echo, status=500))
    github_forge.fault("GET", f"contents/{STAGING}", _json({"message": f"bad {TOKEN}"}, 401))
    client = github(server, sleeps)

    with pytest.raises(ForgeError) as caught:
        await promote_staging(client)

    message = str(caught.value)
    assert "refused with HTTP 401" in message
    assert "token was rejected" in message
    assert "***" in message
    assert TOKEN not in message
    assert TOKEN not in caplog.text
    assert "retrying in 1.0s (attempt 1 of 5)" in caplog.text
    assert TOKEN not in repr(client)


async def test_github_persistent_5xx_gives_up_with_a_clear_error(
    server: HTTPServer, github_forge: FakeGitHub, sleeps: Sleeps
) -> None:
    for _ in range(3):
        github_forge.fault("POST", "/pulls", Response(f"down {TOKEN}", status=500))

    with pytest.raises(ForgeError) as caught:
        await promote_staging(github(server, sleeps, attempts=3))

    message = str(caught.value)
    assert "open a pull request from promote/staging-0123456789ab into main" in message
    assert "no answer after 3 attempts; last: HTTP 500" in message
    assert "re-run promote" in message
    assert TOKEN not in message
    assert sleeps.delays == [1.0, 2.0]


# --- GitLab ----------------------------------------------------------------------------------


async def test_gitlab_commits_on_a_new_branch_and_opens_a_merge_request(
    server: HTTPServer, gitlab_forge: FakeGitLab, sleeps: Sleeps
) -> None:
    original = real_overlays()[STAGING]
    main_head = gitlab_forge.branches["main"]

    change = await proposed(gitlab(server, sleeps))

    project = "/api/v4/projects/acme%2Fplatform%2Fhello-service"
    assert [(s.method, s.raw_path) for s in gitlab_forge.seen] == [
        ("GET", f"{project}/repository/files/deploy%2Foverlays%2Fstaging%2Fkustomization.yaml/raw"),
        ("GET", f"{project}/repository/branches/promote%2Fstaging-0123456789ab"),
        ("POST", f"{project}/repository/commits"),
        ("POST", f"{project}/merge_requests"),
    ]
    for seen in gitlab_forge.seen:
        assert seen.headers["Private-Token"] == TOKEN
        assert "Authorization" not in seen.headers
    read, _, commit, merge_request = gitlab_forge.seen
    assert read.query == {"ref": "main"}

    (action,) = commit.body.pop("actions")
    assert commit.body == {
        "branch": BRANCH,
        "start_branch": "main",
        "commit_message": f"Promote hello-service to staging: {DIGEST}",
    }
    assert action["action"] == "update"
    assert action["file_path"] == STAGING
    assert action["content"] == pinned(original)
    assert changed_lines(original, action["content"]) == [
        ("-", "    digest: sha256:" + "0" * 64),
        ("+", f"    digest: {DIGEST}"),
    ]

    description = merge_request.body.pop("description")
    assert merge_request.body == {
        "source_branch": BRANCH,
        "target_branch": "main",
        "title": f"Promote hello-service to staging: {DIGEST}",
        "remove_source_branch": True,
    }
    assert DIGEST in description
    assert RELEASE in description
    assert "git revert" in description

    assert gitlab_forge.branches["main"] == main_head
    assert change.url.endswith("/-/merge_requests/1")
    assert (change.branch, change.created, change.committed) == (BRANCH, True, True)


async def test_gitlab_refuses_a_no_op_and_creates_nothing(
    server: HTTPServer, sleeps: Sleeps
) -> None:
    forge = FakeGitLab()
    files = real_overlays()
    files[STAGING] = pinned(files[STAGING])
    serve(server, forge, files)

    promotion = await promote_staging(gitlab(server, sleeps))

    assert promotion.already_pinned
    assert "already pins hello-service" in promotion.summary

    assert forge.writes() == []
    assert list(forge.branches) == ["main"]


async def test_gitlab_rerun_reports_the_open_merge_request(
    server: HTTPServer, gitlab_forge: FakeGitLab, sleeps: Sleeps
) -> None:
    first = await proposed(gitlab(server, sleeps))
    writes_after_first = len(gitlab_forge.writes())

    second = await proposed(gitlab(server, sleeps))

    assert second.url == first.url
    assert (second.created, second.committed) == (False, False)
    assert len(gitlab_forge.writes()) == writes_after_first
    (lookup,) = [
        s for s in gitlab_forge.seen if s.method == "GET" and s.raw_path.endswith("/merge_requests")
    ]
    assert lookup.query == {
        "source_branch": BRANCH,
        "target_branch": "main",
        "state": "opened",
        "per_page": "100",
    }


async def test_gitlab_rerun_on_a_branch_pinned_to_another_digest_adds_a_commit(
    server: HTTPServer, gitlab_forge: FakeGitLab, sleeps: Sleeps
) -> None:
    # Someone pushed another digest to the promotion branch while it was under review.
    await proposed(gitlab(server, sleeps))
    tampered = pinned(real_overlays()[STAGING], OTHER_DIGEST)
    gitlab_forge.branches[BRANCH] = gitlab_forge.commit({STAGING: tampered}, "tamper")

    again = await proposed(gitlab(server, sleeps))

    assert again.committed
    assert not again.created
    last_commit = [s for s in gitlab_forge.seen if s.raw_path.endswith("/commits")][-1]
    assert "start_branch" not in last_commit.body
    assert gitlab_forge.file_on(BRANCH, STAGING) == pinned(tampered)


async def test_gitlab_commit_whose_answer_was_lost_is_not_done_twice(
    server: HTTPServer, gitlab_forge: FakeGitLab, sleeps: Sleeps
) -> None:
    gitlab_forge.fault("POST", "/repository/commits", Response("lost", status=500), when="after")
    gitlab_forge.fault("POST", "/merge_requests", Response("lost", status=504), when="after")

    change = await proposed(gitlab(server, sleeps))

    commits = [s for s in gitlab_forge.seen if s.raw_path.endswith("/repository/commits")]
    assert len(commits) == 2  # the retry met "A branch called ... already exists"
    assert gitlab_forge.file_on(BRANCH, STAGING) == pinned(real_overlays()[STAGING])
    assert len(gitlab_forge.requests) == 1
    assert change.url == gitlab_forge.requests[0]["web_url"]
    assert sleeps.delays == [1.0, 1.0]


async def test_gitlab_missing_file_is_a_clear_error(server: HTTPServer, sleeps: Sleeps) -> None:
    forge = FakeGitLab()
    serve(server, forge, {"README.md": "no overlays here\n"})

    with pytest.raises(ForgeError) as caught:
        await promote_staging(gitlab(server, sleeps))

    message = str(caught.value)
    assert message.startswith("GitLab project acme/platform/hello-service: ")
    assert f"{STAGING} was not found on branch main (HTTP 404" in message
    assert "404 File Not Found" in message
    assert forge.writes() == []


async def test_gitlab_refusal_names_the_step_and_hides_the_token(
    server: HTTPServer, gitlab_forge: FakeGitLab, sleeps: Sleeps
) -> None:
    gitlab_forge.fault(
        "POST", "/repository/commits", _json({"message": f"403 Forbidden for {TOKEN}"}, 403)
    )

    with pytest.raises(ForgeError) as caught:
        await promote_staging(gitlab(server, sleeps))

    message = str(caught.value)
    assert message.startswith(
        f"GitLab project acme/platform/hello-service: commit {STAGING} on {BRANCH}: "
        "refused with HTTP 403 "
    )
    assert "api scope" in message
    assert "Pull requests" not in message  # the fix speaks GitLab
    assert TOKEN not in message
    assert gitlab_forge.requests == []


# --- from [forge] ----------------------------------------------------------------------------


async def test_the_forge_from_config_proposes_the_change(
    server: HTTPServer, gitlab_forge: FakeGitLab, sleeps: Sleeps
) -> None:
    config = ForgeConfig(
        provider="gitlab", api_url=server.url_for("/api/v4"), project="acme/platform/hello-service"
    )
    forge = make_forge(
        config, f"  {TOKEN}\n", argument="git-token", purpose="promotion", sleep=sleeps
    )
    assert forge.provider == "gitlab"
    assert TOKEN not in repr(forge)

    change = await proposed(forge)

    assert change.created
    assert all(s.headers["Private-Token"] == TOKEN for s in gitlab_forge.seen)
