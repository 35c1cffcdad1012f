"""Credentials from Dagger Secrets: read at the last moment, never logged.

AWS credentials are resolved once per call (:func:`aws_session`): static
keys, or the CI's OIDC token exchanged with STS for the role's temporary
keys. The session then makes every boto3 client of the call, and its keys
are what a container gets (:func:`aws_env`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import anyio
import dagger
from dagger import dag

from pipelines.aws.session import AwsCredentials, AwsSession, WebIdentity
from pipelines.errors import InputError
from pipelines.values import AwsRegion


async def plaintext(secret: dagger.Secret) -> str:
    # A `cmd://` secret keeps the command's trailing newline.
    return (await secret.plaintext()).strip()


@dataclass(frozen=True, kw_only=True)
class AwsSecrets:
    """The module's AWS options, as given on the command line."""

    access_key_id: dagger.Secret | None = None
    secret_access_key: dagger.Secret | None = None
    session_token: dagger.Secret | None = None
    web_identity_token: dagger.Secret | None = None
    # --aws-role-arn, else [publish] role_arn.
    role_arn: str | None = None

    @property
    def given(self) -> bool:
        return self.web_identity_token is not None or self.access_key_id is not None


async def aws_session(given: AwsSecrets, *, region: AwsRegion) -> AwsSession:
    """The call's AWS session; an InputError says which credentials are missing.

    The module runs in the engine's sandbox, where boto3 finds no ambient
    credentials, so one of the two forms is needed whenever AWS is.
    """
    credentials = await _credentials(given)
    return await anyio.to_thread.run_sync(lambda: AwsSession.resolve(credentials, region=region))


async def optional_aws_session(given: AwsSecrets, *, region: AwsRegion) -> AwsSession | None:
    """The call's AWS session when credentials were given (a kubeconfig may not need them)."""
    return await aws_session(given, region=region) if given.given else None


async def _credentials(given: AwsSecrets) -> AwsCredentials | WebIdentity:
    if given.web_identity_token is not None:
        if given.role_arn is None:
            raise InputError(
                argument="aws-web-identity-token",
                problem="a web-identity token needs the role to exchange it for",
                fix='set `role_arn = "arn:aws:iam::<account>:role/<name>"` under [publish]',
            )
        return WebIdentity(role_arn=given.role_arn, token=await plaintext(given.web_identity_token))
    if given.access_key_id is None and given.secret_access_key is None:
        raise InputError(
            argument="aws-access-key-id",
            problem="this step talks to AWS, but no credentials were given",
            fix="pass --aws-web-identity-token=env://AWS_WEB_IDENTITY_TOKEN (OIDC, preferred) "
            "or --aws-access-key-id=env://AWS_ACCESS_KEY_ID "
            "--aws-secret-access-key=env://AWS_SECRET_ACCESS_KEY",
        )
    if given.access_key_id is None or given.secret_access_key is None:
        missing = "aws-access-key-id" if given.access_key_id is None else "aws-secret-access-key"
        raise InputError(
            argument=missing,
            problem="an access key needs both its id and its secret",
            fix=f"pass --{missing}=env://{missing.upper().replace('-', '_')}",
        )
    token = given.session_token
    return AwsCredentials(
        access_key_id=await plaintext(given.access_key_id),
        secret_access_key=await plaintext(given.secret_access_key),
        session_token=await plaintext(token) if token is not None else None,
    )


def aws_env(session: AwsSession | None) -> dict[str, dagger.Secret]:
    """The session's keys as secret variables for a container (kubectl's `aws eks get-token`).

    The exchange happened in the module, so the container needs no OIDC
    plumbing and the token itself never enters it. No session, no variables:
    the kubeconfig may carry its own credentials.
    """
    keys = session.credentials if session is not None else None
    if keys is None:
        return {}
    suffix = secrets.token_hex(4)
    named = {
        "AWS_ACCESS_KEY_ID": keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
        "AWS_SESSION_TOKEN": keys.session_token,
    }
    return {
        name: dag.set_secret(f"{name.lower()}-{suffix}", value)
        for name, value in named.items()
        if value
    }
