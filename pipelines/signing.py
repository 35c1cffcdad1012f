"""Signing release candidates with cosign: the command lines, the registry login, the verdict.

The release pipeline signs the pushed digest and attaches each SBOM as a
CycloneDX attestation, both with the AWS KMS key of ``[publish] signing_key``
(the private key never leaves KMS; only the release identity may call
``kms:Sign``). ``promote`` verifies both with the same key before it writes
anything to the forge. The Dagger module runs these lines in the pinned cosign
image (:data:`pipelines.images.IMAGES`); the decisions are here.

Flags are cosign 2.x's (v2.4.3 is pinned):

- ``--tlog-upload=false`` on sign and attest, ``--insecure-ignore-tlog=true`` on
  verify: release images live in a private ECR repository, and an entry in the
  public Rekor log would publish their names and digests. The KMS key is the
  trust root instead; a cluster policy says the same (``deploy/policies/``).
- ``--yes``: no prompt in CI.
- Registry access through ``$DOCKER_CONFIG/config.json`` (a mounted secret), never
  ``--registry-password``: the argument list is visible in the graph and in
  process listings.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from pipelines.config import CONFIG_FILE
from pipelines.config.publish import PublishConfig
from pipelines.errors import ConfigError, PipelinesError
from pipelines.values import Digest

# Where the cosign container finds its registry login (go-containerregistry's
# default keychain reads $DOCKER_CONFIG/config.json).
DOCKER_CONFIG_DIR = "/cosign/docker"
DOCKER_CONFIG_FILE = f"{DOCKER_CONFIG_DIR}/config.json"
WORK = "/cosign/work"
SIGNATURE_FILE = f"{WORK}/signature.b64"
# Where attest finds the SBOM it attaches (one platform's at a time).
SBOM_PREDICATE = f"{WORK}/sbom.cdx.json"
# cosign's predicate type for a CycloneDX SBOM (https://cyclonedx.org/bom).
ATTESTATION_TYPE = "cyclonedx"


def docker_config(*, registry: str, username: str, password: str) -> str:
    """A Docker config.json holding one registry login (for a secret file, never a log)."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"auth": auth}}})


def signature_tag(digest: Digest) -> str:
    """The tag cosign stores an image's signature under, beside the image."""
    return f"sha256-{digest.hex}.sig"


def attestation_tag(digest: Digest) -> str:
    return f"sha256-{digest.hex}.att"


def sign_command(key: str, ref: str) -> tuple[str, ...]:
    """Sign ``ref`` (repository@sha256:...), keeping the signature for release.json."""
    _require_digest(ref)
    return (
        "cosign",
        "sign",
        "--yes",
        "--key",
        key,
        "--tlog-upload=false",
        "--output-signature",
        SIGNATURE_FILE,
        ref,
    )


def attest_command(key: str, ref: str, *, predicate: str) -> tuple[str, ...]:
    """Attach the SBOM at ``predicate`` to ``ref`` as a signed CycloneDX attestation."""
    _require_digest(ref)
    return (
        "cosign",
        "attest",
        "--yes",
        "--key",
        key,
        "--tlog-upload=false",
        "--type",
        ATTESTATION_TYPE,
        "--predicate",
        predicate,
        ref,
    )


def verify_commands(key: str, ref: str) -> tuple[tuple[str, ...], ...]:
    """What promote runs, in order: the signature, then the SBOM attestation, by ``key``."""
    _require_digest(ref)
    return (
        ("cosign", "verify", "--key", key, "--insecure-ignore-tlog=true", "--output", "json", ref),
        (
            "cosign",
            "verify-attestation",
            "--key",
            key,
            "--insecure-ignore-tlog=true",
            "--type",
            ATTESTATION_TYPE,
            "--output",
            "json",
            ref,
        ),
    )


def require_signing_key(settings: PublishConfig, *, file: str = CONFIG_FILE) -> str:
    """The key promote verifies with; without one nothing can be verified, so nothing promoted."""
    if settings.signing_key is None:
        raise ConfigError(
            file=file,
            key="publish.signing_key",
            problem="promote verifies the release's signature, but no signing key is set "
            "to verify it with",
            fix='set `signing_key = "awskms:///..."` under [publish] (the key the release '
            "pipeline signs with) and release again",
        )
    return settings.signing_key


class UnsignedRelease(PipelinesError):
    """The digest carries no valid signature or attestation of the release identity."""


def verification_verdict(ref: str, key: str, exit_codes: tuple[int, ...], output: str) -> None:
    """Raise :class:`UnsignedRelease` unless every verification exited 0."""
    checks = ("signature", "SBOM attestation")
    failed = [name for name, code in zip(checks, exit_codes, strict=True) if code != 0]
    if not failed:
        return
    detail = output.strip().splitlines()[-1] if output.strip() else "no output"
    raise UnsignedRelease(
        f"{ref} carries no valid {' or '.join(failed)} of the release key {key} ({detail})",
        where="promote",
        fix="promote only what the release pipeline pushed and signed (release.json's ref); "
        "if it was signed with another key, set [publish] signing_key to that key",
    )


def _require_digest(ref: str) -> None:
    # A tag could move between signing and deploying; only a digest is signed.
    if "@sha256:" not in ref:
        raise ValueError(f"cosign is only ever given a digest reference, not {ref!r}")


@dataclass(frozen=True, kw_only=True)
class Sbom:
    """One platform's SBOM, as release.json records it."""

    platform: str
    path: str
    digest: Digest


@dataclass(frozen=True, kw_only=True)
class Signature:
    """The signature cosign stored beside the image, and the key that made it."""

    key: str
    tag: str
    # Base64, as cosign's --output-signature writes it.
    value: str


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where a release candidate came from: what was built, by which run, with what."""

    commit: str
    run_url: str | None
    builder: str
    trust_level: str
