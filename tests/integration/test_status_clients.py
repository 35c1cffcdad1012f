"""Commit statuses through the forge clients, against a real HTTP server on loopback.

The clients are :mod:`pipelines.forge.github` and :mod:`pipelines.forge.gitlab`
(pytest-httpserver answers for them); the use case is :mod:`pipelines.statuses`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.config.forge import ForgeConfig
from pipelines.errors import InputError
from pipelines.forge import ForgeError, RetryPolicy, make_forge
from pipelines.forge.github import GitHubForge
from pipelines.forge.http import retry_after_seconds
from pipelines.statuses import CommitStatus, final_status, post_status, running_status
from pipelines.stepgraph import Step, StepInputs, StepOutput, pipeline
from pipelines.values import CommitId
from tests.integration.forge_clients import TOKEN, Sleeps, github, gitlab

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
COMMIT = CommitId.parse(SHA)
RUN_URL = "https://ci.example.com/runs/42"


def status(state: str = "success") -> CommitStatus:
    return CommitStatus(
        sha=COMMIT,
        state=state,  # type: ignore[arg-type]
        context="pipelines/pre-merge",
        description="safe to merge",
        target_url=RUN_URL,
    )


# --- the request each forge receives -------------------------------------------------------


async def test_github_posts_state_link_description_context(server: HTTPServer) -> None:
    server.expect_oneshot_request(
        f"/api/v3/repos/acme/hello-service/statuses/{SHA}",
        method="POST",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
        json={
            "state": "success",
            "target_url": RUN_URL,
            "description": "safe to merge",
            "context": "pipelines/pre-merge",
        },
    ).respond_with_json({"id": 1}, status=201)
    await github(server, Sleeps()).post_status(status())
    server.check_assertions()
    assert len(server.log) == 1


@pytest.mark.parametrize(("ours", "theirs"), [("pending", "pending"), ("failure", "failure")])
async def test_github_states(server: HTTPServer, ours: str, theirs: str) -> None:
    server.expect_oneshot_request(
        f"/api/v3/repos/acme/hello-service/statuses/{SHA}", method="POST"
    ).respond_with_json({}, status=201)
    await github(server, Sleeps()).post_status(status(ours))
    ((request, _),) = server.log
    assert request.get_json()["state"] == theirs


async def test_gitlab_posts_to_the_encoded_project_path(server: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(json.dumps({"id": 7}), status=201, content_type="application/json")

    server.expect_oneshot_request(
        f"/api/v4/projects/acme/platform/hello-service/statuses/{SHA}", method="POST"
    ).respond_with_handler(handler)
    await gitlab(server, Sleeps()).post_status(status())
    server.check_assertions()
    (request,) = seen
    # The full path travels as one URL-encoded path segment, as GitLab requires.
    raw = request.environ.get("RAW_URI") or request.environ["REQUEST_URI"]
    assert raw == f"/api/v4/projects/acme%2Fplatform%2Fhello-service/statuses/{SHA}"
    assert request.headers["PRIVATE-TOKEN"] == TOKEN
    assert "Authorization" not in request.headers
    assert request.get_json() == {
        "state": "success",
        "name": "pipelines/pre-merge",
        "description": "safe to merge",
        "target_url": RUN_URL,
    }


@pytest.mark.parametrize(
    ("ours", "theirs"), [("pending", "running"), ("failure", "failed"), ("success", "success")]
)
async def test_gitlab_states(server: HTTPServer, ours: str, theirs: str) -> None:
    server.expect_oneshot_request(
        f"/api/v4/projects/acme/platform/hello-service/statuses/{SHA}", method="POST"
    ).respond_with_json({}, status=201)
    await gitlab(server, Sleeps()).post_status(status(ours))
    ((request, _),) = server.log
    assert request.get_json()["state"] == theirs


async def test_gitlab_refusing_to_turn_a_success_into_a_failure_is_an_error(
    server: HTTPServer,
) -> None:
    server.expect_oneshot_request(
        f"/api/v4/projects/acme/platform/hello-service/statuses/{SHA}", method="POST"
    ).respond_with_json({"message": "Cannot transition status via :drop from :success"}, status=400)
    with pytest.raises(ForgeError, match="refused"):
        await gitlab(server, Sleeps()).post_status(status("failure"))


async def test_gitlab_repeated_state_is_not_an_error(server: HTTPServer) -> None:
    server.expect_oneshot_request(
        f"/api/v4/projects/acme/platform/hello-service/statuses/{SHA}", method="POST"
    ).respond_with_json({"message": "Cannot transition status via :run from :running"}, status=400)
    await gitlab(server, Sleeps()).post_status(status("pending"))
    server.check_assertions()


# --- retries -------------------------------------------------------------------------------


async def test_retries_5xx_and_429_with_backoff_then_succeeds(
    server: HTTPServer, sleeps: Sleeps
) -> None:
    path = f"/api/v3/repos/acme/hello-service/statuses/{SHA}"
    server.expect_ordered_request(path, method="POST").respond_with_data("down", status=502)
    server.expect_ordered_request(path, method="POST").respond_with_data("busy", status=503)
    server.expect_ordered_request(path, method="POST").respond_with_json({}, status=429)
    server.expect_ordered_request(path, method="POST").respond_with_json({}, status=201)
    await github(server, sleeps, base_delay=0.5).post_status(status())
    server.check_assertions()
    assert len(server.log) == 4
    assert sleeps.delays == [0.5, 1.0, 2.0]


async def test_retry_after_is_honoured(server: HTTPServer, sleeps: Sleeps) -> None:
    path = f"/api/v4/projects/acme/platform/hello-service/statuses/{SHA}"
    server.expect_ordered_request(path).respond_with_json(
        {}, status=429, headers={"Retry-After": "7"}
    )
    # GitHub-style secondary rate limit: 403 plus the rate-limit headers.
    server.expect_ordered_request(path).respond_with_json(
        {}, status=403, headers={"Retry-After": "120", "X-RateLimit-Remaining": "0"}
    )
    server.expect_ordered_request(path).respond_with_json({}, status=201)
    await gitlab(server, sleeps, max_delay=60).post_status(status())
    server.check_assertions()
    # 7 as asked; 120 capped at the policy's max_delay.
    assert sleeps.delays == [7.0, 60.0]


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, now=now.timestamp) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


async def test_persistent_5xx_is_a_clear_error_after_all_attempts(
    server: HTTPServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    # A server that echoes the token must not leak it through us.
    server.expect_request(f"/api/v3/repos/acme/hello-service/statuses/{SHA}").respond_with_data(
        f"upstream failed for {TOKEN}", status=500
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ForgeError) as caught:
        await github(server, sleeps, attempts=3).post_status(status())
    message = str(caught.value)
    assert len(server.log) == 3
    assert sleeps.delays == [1.0, 2.0]
    assert message.startswith(
        "GitHub repository acme/hello-service: status pipelines/pre-merge=success on 1a2b3c4: "
    )
    assert "no answer after 3 attempts; last: HTTP 500" in message
    assert "re-run the status step" in message
    assert "HTTP 500" in message
    assert "fix:" in message
    assert TOKEN not in message
    assert "***" in message
    assert TOKEN not in caplog.text
    assert "retrying in 1.0s (attempt 1 of 3)" in caplog.text


async def test_unreachable_server_is_retried_then_reported(sleeps: Sleeps) -> None:
    with HTTPServer(host="127.0.0.1", port=0) as closed:
        url = closed.url_for("/api/v3")
    client = GitHubForge(
        repository="acme/hello-service",
        token=TOKEN,
        api_url=url,
        retry=RetryPolicy(attempts=2),
        sleep=sleeps,
    )
    with pytest.raises(ForgeError, match="could not reach") as caught:
        await client.post_status(status())
    assert sleeps.delays == [1.0]
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (401, "token was rejected"),
        (403, "Commit statuses: write"),
        (404, "check [forge] repository and api_url"),
        (422, "commit id"),
        (400, "see the answer above"),
    ],
)
async def test_client_errors_fail_at_once_without_retrying(
    server: HTTPServer, sleeps: Sleeps, code: int, fix: str
) -> None:
    server.expect_request(f"/api/v3/repos/acme/hello-service/statuses/{SHA}").respond_with_json(
        {"message": "Bad credentials"}, status=code
    )
    with pytest.raises(ForgeError) as caught:
        await github(server, sleeps).post_status(status())
    assert len(server.log) == 1
    assert sleeps.delays == []
    assert f"refused with HTTP {code}" in caught.value.problem
    assert "Bad credentials" in caught.value.problem
    assert caught.value.fix is not None
    assert fix in caught.value.fix


async def test_gitlab_refusals_speak_gitlab(server: HTTPServer, sleeps: Sleeps) -> None:
    server.expect_request(
        f"/api/v4/projects/acme/platform/hello-service/statuses/{SHA}"
    ).respond_with_json({"message": "403 Forbidden"}, status=403)
    with pytest.raises(ForgeError) as caught:
        await gitlab(server, sleeps).post_status(status())
    assert caught.value.where == "GitLab project acme/platform/hello-service"
    assert caught.value.fix is not None
    assert "api scope" in caught.value.fix
    assert "Commit statuses: write" not in caught.value.fix


async def test_plain_403_is_not_retried(server: HTTPServer, sleeps: Sleeps) -> None:
    server.expect_request(f"/api/v3/repos/acme/hello-service/statuses/{SHA}").respond_with_json(
        {"message": "Resource not accessible by integration"}, status=403
    )
    with pytest.raises(ForgeError, match="refused with HTTP 403"):
        await github(server, sleeps).post_status(status())
    assert len(server.log) == 1


# --- from config, and the closing status ---------------------------------------------------


async def test_the_forge_from_config_posts_statuses(server: HTTPServer) -> None:
    config = ForgeConfig(provider="gitlab", api_url=server.url_for("/api/v4"), project="1234")
    forge = make_forge(config, f"  {TOKEN}\n", argument="status-token", purpose="statuses")
    assert forge.provider == "gitlab"
    assert TOKEN not in repr(forge)
    server.expect_oneshot_request(
        f"/api/v4/projects/1234/statuses/{SHA}", headers={"PRIVATE-TOKEN": TOKEN}
    ).respond_with_json({}, status=201)
    assert await post_status(forge, status()) is None
    server.check_assertions()


async def test_a_status_that_cannot_be_posted_is_reported_not_raised(
    server: HTTPServer, sleeps: Sleeps
) -> None:
    # A forge failure must never abort a pipeline run: the caller records it.
    server.expect_request(f"/api/v3/repos/acme/hello-service/statuses/{SHA}").respond_with_json(
        {"message": f"Bad credentials {TOKEN}"}, status=401
    )
    problem = await post_status(github(server, sleeps), status("pending"))
    assert problem is not None
    assert problem.startswith("commit status pipelines/pre-merge=pending was not posted: ")
    assert "refused with HTTP 401" in problem
    assert TOKEN not in problem


@pytest.mark.parametrize("token", [None, "", "  \n"])
def test_a_missing_token_fails_before_any_work(token: str | None) -> None:
    config = ForgeConfig(
        provider="github", api_url="https://github.example.com/api/v3", repository="acme/app"
    )
    with pytest.raises(InputError) as caught:
        make_forge(config, token, argument="status-token", purpose="statuses")
    assert caught.value.argument == "status-token"
    assert "posting commit statuses on GitHub needs a token" in caught.value.problem
    assert "--status-token=env://GITHUB_TOKEN" in caught.value.fix
    assert "Commit statuses: write" in caught.value.fix
    assert "--report-status=false" in caught.value.fix


async def test_final_status_from_a_pipeline_result() -> None:
    async def ok(_inputs: StepInputs) -> StepOutput[None]:
        return StepOutput()

    async def broken(_inputs: StepInputs) -> StepOutput[None]:
        raise RuntimeError("boom")

    passed = await pipeline("pre-merge", [Step(name="unit", run=ok)]).run()
    failed = await pipeline(
        "pre-merge", [Step(name="unit", run=broken), Step(name="lint", run=broken)]
    ).run()
    good = final_status(passed, sha=COMMIT, context="pipelines/pre-merge", target_url=RUN_URL)
    bad = final_status(failed, sha=COMMIT, context="pipelines/pre-merge")
    assert (good.state, good.description) == ("success", "pre-merge: all 1 steps passed")
    assert (bad.state, bad.description) == ("failure", "pre-merge: failed: unit, lint")
    assert good.sha == COMMIT
    assert good.target_url == RUN_URL


def test_running_status_opens_a_run() -> None:
    opening = running_status("dev", sha=COMMIT, context="pipelines/dev", target_url=RUN_URL)
    assert (opening.state, opening.description) == ("pending", "dev: running")
    assert (opening.context, opening.target_url) == ("pipelines/dev", RUN_URL)


@pytest.mark.parametrize(
    ("fields", "argument"),
    [
        ({"state": "error"}, "state"),
        ({"context": " "}, "context"),
        ({"target_url": "ci.example.com/run"}, "target-url"),
        ({"target_url": RUN_URL + "\n"}, "target-url"),
    ],
)
def test_commit_status_is_validated(fields: dict[str, str], argument: str) -> None:
    values = {"state": "success", "context": "c", "target_url": RUN_URL} | fields
    with pytest.raises(InputError) as caught:
        CommitStatus(sha=COMMIT, **values)  # type: ignore[arg-type]
    assert caught.value.argument == argument


def test_long_descriptions_are_shortened_to_what_github_accepts() -> None:
    long = CommitStatus(sha=COMMIT, state="failure", context="c", description="x" * 500)
    assert len(long.description) == 140
    assert long.description.endswith("…")
