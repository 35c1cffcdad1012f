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
from pipelines.errors import ConfigError, InputError
from pipelines.images import IMAGES
from pipelines.promotion import Promotion, Proposal
from pipelines.signing import DOCKER_CONFIG_FILE, UnsignedRelease
from pipelines.values import Digest
from tests.graph import Graph, strings_in
from tests.plan.conftest import fails_with
from tests.plan.doubles import REGISTRY, SENTINELS
from tests.plan.seam import Seam

DIGEST = "sha256:" + "b" * 64
TOKEN = "ghp_sentinelgittoken0000"


@pytest.fixture
def forge(monkeypatch: pytest.MonkeyPatch, seam: Seam, ecr: Any) -> dict[str, Any]:
    """A forge that records what promote proposes, and which cosign checks ran before."""
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
        seen["verified_before"] = [verb(g) for g in cosign_runs(seam)]
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
    """The module with the given secrets, plus AWS keys (promote reads the registry)."""
    secrets = {
        "aws_access_key_id": SENTINELS["aws_access_key_id"],
        "aws_secret_access_key": SENTINELS["aws_secret_access_key"],
        **secrets,
    }
    given: dict[str, Any] = {name: dag.set_secret(name, value) for name, value in secrets.items()}
    return PortablePipelines(source=source, **given)


def cosign_runs(seam: Seam) -> list[Graph]:
    return [
        g
        for name, g in seam.calls
        if name == "Container.exit_code"
        and any(c.args["address"] == IMAGES["cosign"] for c in g.find("from"))
    ]


def verb(graph: Graph) -> str:
    return str(graph.find("withExec")[-1].args["args"][1])


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


# --- the release's signature, verified before any forge write ---------------------

KEY = "awskms:///arn:aws:kms:eu-west-1:123456789012:alias/hello-service-release"


async def test_promote_verifies_the_signature_and_the_sbom_attestation_first(
    seam: Seam, lazy_source: dagger.Directory, forge: dict[str, Any]
) -> None:
    await ci(lazy_source, git_token=TOKEN).promote(environment="staging", digest=DIGEST)
    # Both checks had run, and passed, when the forge was first asked to write.
    assert forge["verified_before"] == ["verify", "verify-attestation"]
    ref = f"{REGISTRY}/hello-service@{DIGEST}"
    for graph in cosign_runs(seam):
        argv = graph.find("withExec")[-1].args["args"]
        assert argv[argv.index("--key") + 1] == KEY
        assert argv[-1] == ref
        (login,) = graph.find("withMountedSecret")
        assert login.args["path"] == DOCKER_CONFIG_FILE
        assert "AWS_SECRET_ACCESS_KEY" in {c.args["name"] for c in graph.find("withSecretVariable")}
        assert not [t for t in strings_in(graph) if SENTINELS["aws_secret_access_key"] in t]
        # Never answered from the cache: a signature can be deleted after a verify.
        assert "PIPELINE_RUN" in {c.args["name"] for c in graph.find("withEnvVariable")}


@pytest.mark.parametrize(
    ("failing", "says"),
    [
        (("verify", "verify-attestation"), "no valid signature or SBOM attestation"),
        (("verify-attestation",), "no valid SBOM attestation"),
    ],
)
async def test_promote_refuses_a_digest_without_the_release_signature(
    seam: Seam,
    lazy_source: dagger.Directory,
    forge: dict[str, Any],
    failing: tuple[str, ...],
    says: str,
) -> None:
    seam.answers["Container.exit_code"] = lambda g: 1 if verb(g) in failing else 0
    seam.answers["Container.combined_output"] = lambda _g: "Error: no matching signatures\n"
    with fails_with(UnsignedRelease, match=says) as caught:
        await ci(lazy_source, git_token=TOKEN).promote(environment="prod", digest=DIGEST)
    assert "no matching signatures" in str(caught.value)
    assert "environment" not in forge  # nothing was proposed, branched or committed


async def test_promote_without_a_signing_key_stops_before_any_container(
    seam: Seam, lazy_source: dagger.Directory, forge: dict[str, Any], reference_service: Any
) -> None:
    toml = (reference_service / "pipelines.toml").read_text()
    unsigned = "\n".join(line for line in toml.splitlines() if not line.startswith("signing_key"))
    seam.files["pipelines.toml"] = unsigned + "\n"
    with fails_with(ConfigError, match="no signing key") as caught:
        await ci(lazy_source, git_token=TOKEN).promote(environment="staging", digest=DIGEST)
    assert caught.value.key == "publish.signing_key"
    assert caught.value.file == "pipelines.toml"
    assert cosign_runs(seam) == []
    assert forge == {}
