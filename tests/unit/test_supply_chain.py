"""The release supply chain's core: the SBOM and cosign command lines, the plan, the record."""

from __future__ import annotations

import base64
import json

import pytest

from pipelines.config import parse_config
from pipelines.errors import ConfigError
from pipelines.images import IMAGES
from pipelines.plans import plan_pipeline
from pipelines.publishing import Published
from pipelines.release_record import release_json
from pipelines.scan.command import CACHE_DIR, sbom_command
from pipelines.signing import (
    Provenance,
    Sbom,
    Signature,
    UnsignedRelease,
    attest_command,
    docker_config,
    sign_command,
    signature_tag,
    verification_verdict,
    verify_commands,
)
from pipelines.values import CommitId, Digest, ImageRef

KEY = "awskms:///arn:aws:kms:eu-west-1:123456789012:alias/release"
DIGEST = Digest.parse("sha256:" + "c" * 64)
REF = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc@{DIGEST}"
BASE = """\
[service]
name = "svc"
port = 8080

[build]
platforms = ["linux/amd64", "linux/arm64"]

[publish]
registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
repository = "svc"
"""


def test_the_sbom_needs_no_vulnerability_db() -> None:
    config = parse_config(BASE)
    command = sbom_command(config.scan, output="/work/out/sbom.cdx.json")
    assert command[command.index("--format") + 1] == "cyclonedx"
    # Trivy turns vulnerability scanning off for CycloneDX only when --scanners is unset.
    assert "--scanners" not in command
    assert "--skip-db-update" in command
    assert "--offline-scan" in command
    # Never the scan's DB volume: the SBOM must not depend on (or touch) it.
    assert command[command.index("--cache-dir") + 1] != CACHE_DIR
    assert command[-2:] == ("--input", "/work/image.tar")


@pytest.mark.parametrize(
    "key",
    [
        "awskms:///alias/release",
        "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab",
        "awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        KEY,
    ],
)
def test_a_kms_signing_key_is_accepted(key: str) -> None:
    config = parse_config(BASE + f'signing_key = "{key}"\n')
    assert config.require_publish().signing_key == key


@pytest.mark.parametrize(
    "key",
    [
        "alias/release",  # no scheme: cosign would read a file of that name
        "awskms://kms.example.com/alias/release",  # another endpoint
        "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
        "awskms:///alias/release\n",
        "cosign.key",
    ],
)
def test_a_signing_key_that_is_not_an_aws_kms_uri_is_refused(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + f"signing_key = {json.dumps(key)}\n")
    assert caught.value.key == "publish.signing_key"
    assert "awskms:///" in caught.value.fix


def test_release_signs_and_attests_only_with_a_key_and_after_the_push() -> None:
    signed = plan_pipeline(parse_config(BASE + f'signing_key = "{KEY}"\n'), "release")
    order = [s.name for s in signed.steps]
    assert order == ["build", "scan", "sbom", "publish", "sign", "attest", "record"]
    assert signed.step("publish").depends_on == ("scan", "sbom")  # no push without an SBOM
    for name in ("sign", "attest"):
        step = signed.step(name)
        assert step.kind == "effect"
        assert "publish" in step.depends_on
        assert step.runs_in == IMAGES["cosign"]
        (command,) = step.commands
        assert command[command.index("--key") + 1] == KEY
        assert command[-1].endswith("@sha256:<digest>")  # a digest, never a tag
        assert "--tlog-upload=false" in command
        # Credentials are secret variables and a secret file, never arguments.
        assert "AWS_SECRET_ACCESS_KEY" in step.env
        assert not [a for a in command if "password" in a.lower()]
    assert set(signed.step("record").depends_on) == {"publish", "sbom", "sign", "attest"}


def test_cosign_is_only_given_digests() -> None:
    with pytest.raises(ValueError, match="digest"):
        sign_command(KEY, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc:rc-1.0.0")
    assert attest_command(KEY, REF, predicate="/p.json")[-1] == REF
    signature, attestation = verify_commands(KEY, REF)
    assert signature[:2] == ("cosign", "verify")
    assert attestation[:2] == ("cosign", "verify-attestation")
    assert attestation[attestation.index("--type") + 1] == "cyclonedx"


def test_the_registry_login_is_a_docker_config() -> None:
    text = docker_config(registry="r.example", username="AWS", password="s3cret")
    auth = json.loads(text)["auths"]["r.example"]["auth"]
    assert base64.b64decode(auth) == b"AWS:s3cret"


def test_the_verdict_refuses_any_failed_verification() -> None:
    verification_verdict(REF, KEY, (0, 0), "")
    with pytest.raises(UnsignedRelease, match="no valid signature") as caught:
        verification_verdict(REF, KEY, (1, 1), "Error: no signatures found\n")
    assert "no signatures found" in str(caught.value)
    assert caught.value.fix is not None
    with pytest.raises(UnsignedRelease, match="no valid SBOM attestation"):
        verification_verdict(REF, KEY, (0, 1), "")


def test_release_json_records_the_sboms_the_signature_and_the_provenance() -> None:
    published = Published(ref=ImageRef.parse(REF), tags=("rc-1.0.0-0123456",))
    sbom = Sbom(platform="linux/amd64", path="sbom/linux-amd64.cdx.json", digest=DIGEST)
    signature = Signature(key=KEY, tag=signature_tag(DIGEST), value="MEUCIQ==")
    provenance = Provenance(
        commit="0" * 40, run_url="https://ci.example/runs/7", builder="b", trust_level="release"
    )
    record = json.loads(
        release_json(
            service="svc",
            published=published,
            commit=CommitId.parse("0" * 40),
            version="1.0.0",
            sboms=[sbom],
            signature=signature,
            provenance=provenance,
        )
    )
    assert record["digest"] == str(DIGEST)
    assert record["sbom"] == [
        {
            "platform": "linux/amd64",
            "path": "sbom/linux-amd64.cdx.json",
            "digest": str(DIGEST),
            "format": "cyclonedx",
        }
    ]
    assert record["signature"]["tag"] == f"sha256-{'c' * 64}.sig"
    assert record["signature"]["value"] == "MEUCIQ=="
    assert record["signature"]["tool"] == IMAGES["cosign"]
    assert record["provenance"]["run_url"] == "https://ci.example/runs/7"
    assert record["provenance"]["trust_level"] == "release"
    unsigned = json.loads(
        release_json(
            service="svc", published=published, commit=CommitId.parse("0" * 40), version="1"
        )
    )
    assert unsigned["signature"] is None
