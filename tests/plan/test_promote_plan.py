"""Plan tier: `promote` checks its input first and hands the forge a pinned digest.

The forge conversation itself (branch, commit, pull/merge request) is tested
against fake GitHub and GitLab servers in tests/integration/test_promotion.py.
"""

from __future__ import annotations

from typing import Any

import dagger
import pytest
from dagger import dag

from ci.main import PortablePipelines
from pipelines.errors import InputError
from pipelines.promotion import Promotion, Proposal
from pipelines.values import Digest
from tests.plan.conftest import fails_with
from tests.plan.seam import Seam

DIGEST = "sha256:" + "b" * 64
TOKEN = "ghp_sentinelgittoken0000"


@pytest.fixture
def forge(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def make(config: Any, token: str | None, *, argument: str, purpose: str, **_: Any) -> object:
        if not token:
            raise InputError(argument=argument, problem="no token", fix="pass one")
        seen["token"] = token
        seen["repository"] = config.repository
        seen["purpose"] = purpose
        return object()

    async def propose(forge: object, **kwargs: Any) -> Promotion:
        seen.update(kwargs)
        proposal = Proposal(
            url="https://forge.example/pull/7", branch="promote/x", created=True, committed=True
        )
        return Promotion(
            environment=kwargs["environment"],
            image=kwargs["image"],
            digest=kwargs["digest"],
            path="deploy/overlays/staging/kustomization.yaml",
            base_branch=kwargs["base_branch"],
            proposal=None if seen.get("already") else proposal,
        )

    monkeypatch.setattr("pipelines.forge.make_forge", make)
    monkeypatch.setattr("pipelines.promotion.propose_promotion", propose)
    return seen


def ci(source: dagger.Directory, **secrets: str) -> PortablePipelines:
    given: dict[str, Any] = {name: dag.set_secret(name, value) for name, value in secrets.items()}
    return PortablePipelines(source=source, **given)


async def test_promote_pins_the_digest_of_the_service_image(
    seam: Seam, lazy_source: dagger.Directory, forge: dict[str, Any]
) -> None:
    message = await ci(lazy_source, git_token=TOKEN).promote(
        environment="staging", digest=DIGEST, release_ref="repo@" + DIGEST
    )
    assert message.endswith("review opened: https://forge.example/pull/7")
    assert forge["token"] == TOKEN
    assert forge["repository"] == "acme/hello-service"
    assert forge["purpose"] == "promotion"
    assert forge["environment"] == "staging"
    assert forge["image"] == "hello-service"
    assert forge["digest"] == Digest.parse(DIGEST)
    assert forge["base_branch"] == "main"


async def test_an_already_promoted_digest_is_reported_not_failed(
    seam: Seam, lazy_source: dagger.Directory, forge: dict[str, Any]
) -> None:
    forge["already"] = True
    message = await ci(lazy_source, git_token=TOKEN).promote(environment="prod", digest=DIGEST)
    assert "already pins hello-service to " + DIGEST in message


@pytest.mark.parametrize(
    ("environment", "digest", "argument"),
    [
        ("dev", DIGEST, "environment"),
        ("stagin", DIGEST, "environment"),
        ("staging", "rc-1.4.0-0123456", "digest"),
        ("staging", "sha256:abc", "digest"),
    ],
)
async def test_bad_input_is_refused_before_any_work(
    seam: Seam,
    lazy_source: dagger.Directory,
    forge: dict[str, Any],
    environment: str,
    digest: str,
    argument: str,
) -> None:
    with fails_with(InputError) as caught:
        await ci(lazy_source, git_token=TOKEN).promote(environment=environment, digest=digest)
    assert caught.value.argument == argument
    assert seam.calls == []
    assert forge == {}


async def test_a_missing_token_names_the_option(
    seam: Seam, lazy_source: dagger.Directory, forge: dict[str, Any]
) -> None:
    with fails_with(InputError) as caught:
        await ci(lazy_source).promote(environment="staging", digest=DIGEST)
    assert caught.value.argument == "git-token"
