"""cosign as Dagger graphs: sign, attest, verify; the command lines are the core's.

Every cosign container gets the registry login as a secret file
(``$DOCKER_CONFIG/config.json``) and the AWS keys as secret variables, so no
credential is ever an argument, a plain variable or part of a cache key. Each
carries the run's stamp: signing is an effect (a replayed exec would sign
nothing) and verification reads a registry that changes outside the graph.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import dagger
from dagger import dag

from ci import registry
from ci.credentials import aws_env
from ci.registry import Login
from pipelines.aws.session import AwsSession
from pipelines.config import PipelineConfig
from pipelines.images import IMAGES
from pipelines.signing import (
    DOCKER_CONFIG_DIR,
    DOCKER_CONFIG_FILE,
    SBOM_PREDICATE,
    SIGNATURE_FILE,
    WORK,
    UnsignedRelease,
    attest_command,
    require_signing_key,
    sign_command,
    verification_verdict,
    verify_commands,
)
from pipelines.values import Digest

# The cosign image is ko-built on a distroless base and runs as this user: the
# mounted login and the working directory must be its own to be read and written.
COSIGN_USER = "65532"


def cosign(
    login: Login, aws: dict[str, dagger.Secret], *, region: str, run_stamp: str
) -> dagger.Container:
    ctr = (
        dag.container()
        .from_(IMAGES["cosign"])
        .with_mounted_directory(WORK, dag.directory(), owner=COSIGN_USER)
        .with_workdir(WORK)
        # cosign keeps a TUF cache under $HOME; the image's home is not writable.
        .with_env_variable("HOME", WORK)
        .with_env_variable("DOCKER_CONFIG", DOCKER_CONFIG_DIR)
        .with_mounted_secret(DOCKER_CONFIG_FILE, login.docker_config, owner=COSIGN_USER)
        .with_env_variable("AWS_REGION", region)
        .with_env_variable("PIPELINE_RUN", run_stamp)
    )
    for name, secret in sorted(aws.items()):
        ctr = ctr.with_secret_variable(name, secret)
    return ctr


@dataclass(frozen=True, kw_only=True)
class Signer:
    """What the sign and attest steps need: the key, the login, the AWS keys as Secrets."""

    key: str
    login: Login
    aws: dict[str, dagger.Secret]
    region: str
    run_stamp: str

    def container(self) -> dagger.Container:
        return cosign(self.login, self.aws, region=self.region, run_stamp=self.run_stamp)


def signer(config: PipelineConfig, login: Login, aws: AwsSession) -> Signer | None:
    """The release's signer, or None when [publish] sets no signing key (nothing is signed)."""
    settings = config.require_publish()
    if settings.signing_key is None:
        return None
    return Signer(
        key=settings.signing_key,
        login=login,
        aws=aws_env(aws),
        region=settings.region.name,
        run_stamp=uuid.uuid4().hex,
    )


async def verify_release(config: PipelineConfig, aws: AwsSession, digest: Digest) -> None:
    """promote's check: the release repository's ``digest`` carries the release key's
    signature and SBOM attestation, else :class:`UnsignedRelease`."""
    settings = config.require_publish()
    key = require_signing_key(settings)
    base = cosign(
        await registry.read_login(config, aws),
        aws_env(aws),
        region=settings.region.name,
        run_stamp=uuid.uuid4().hex,
    )
    await verify(base, key=key, ref=f"{settings.release_uri}@{digest}")


async def sign(base: dagger.Container, *, key: str, ref: str) -> str:
    """Sign ``ref``; the signature (base64) cosign stored beside it."""
    signed = base.with_exec(list(sign_command(key, ref)))
    return (await signed.file(SIGNATURE_FILE).contents()).strip()


async def attest(base: dagger.Container, *, key: str, ref: str, sboms: list[dagger.File]) -> None:
    """Attach each SBOM to ``ref`` as a signed CycloneDX attestation, one after another."""
    ctr = base
    for sbom in sboms:
        ctr = ctr.with_mounted_file(SBOM_PREDICATE, sbom, owner=COSIGN_USER).with_exec(
            list(attest_command(key, ref, predicate=SBOM_PREDICATE))
        )
    await ctr.sync()


async def verify(base: dagger.Container, *, key: str, ref: str) -> None:
    """Raise :class:`UnsignedRelease` unless ``ref`` carries a signature and an SBOM
    attestation made with ``key``; the exit codes decide, never the output."""
    codes, output = [], ""
    for command in verify_commands(key, ref):
        ran = base.with_exec(list(command), expect=dagger.ReturnType.ANY)
        code = await ran.exit_code()
        codes.append(code)
        if code != 0 and not output:
            output = await ran.combined_output()
    verification_verdict(ref, key, tuple(codes), output)


__all__ = [
    "Signer",
    "UnsignedRelease",
    "attest",
    "cosign",
    "sign",
    "signer",
    "verify",
    "verify_release",
]
