"""AWS credentials from Dagger Secrets, read at the last moment and never logged."""

from __future__ import annotations

import secrets

import anyio
import dagger
from dagger import dag

from pipelines.aws.session import AwsCredentials, AwsSession, WebIdentity
from pipelines.errors import InputError
from pipelines.values import AwsRegion


async def plaintext(secret: dagger.Secret) -> str:
    # A `cmd://` secret keeps the command's trailing newline.
    return (await secret.plaintext()).strip()


async def aws_credentials(
    *,
    access_key_id: dagger.Secret | None,
    secret_access_key: dagger.Secret | None,
    session_token: dagger.Secret | None,
    web_identity_token: dagger.Secret | None,
    role_arn: str | None,
) -> AwsCredentials | WebIdentity:
    """Keys, or an OIDC token exchanged for ``role_arn``; an InputError says what is missing.

    The module runs in the engine's sandbox, where boto3 finds no ambient
    credentials, so one of the two forms is required.
    """
    if web_identity_token is not None:
        if role_arn is None:
            raise InputError(
                argument="aws-web-identity-token",
                problem="a web-identity token needs the role to exchange it for",
                fix='set `role_arn = "arn:aws:iam::<account>:role/<name>"` under [publish]',
            )
        return WebIdentity(role_arn=role_arn, token=await plaintext(web_identity_token))
    if access_key_id is None and secret_access_key is None:
        raise InputError(
            argument="aws-access-key-id",
            problem="this step talks to AWS, but no credentials were given",
            fix="pass --aws-web-identity-token=env://AWS_WEB_IDENTITY_TOKEN (OIDC, preferred) "
            "or --aws-access-key-id=env://AWS_ACCESS_KEY_ID "
            "--aws-secret-access-key=env://AWS_SECRET_ACCESS_KEY",
        )
    if access_key_id is None or secret_access_key is None:
        missing = "aws-access-key-id" if access_key_id is None else "aws-secret-access-key"
        raise InputError(
            argument=missing,
            problem="an access key needs both its id and its secret",
            fix=f"pass --{missing}=env://{missing.upper().replace('-', '_')}",
        )
    return AwsCredentials(
        access_key_id=await plaintext(access_key_id),
        secret_access_key=await plaintext(secret_access_key),
        session_token=await plaintext(session_token) if session_token is not None else None,
    )


async def aws_session(credentials: AwsCredentials | WebIdentity, *, region: str) -> AwsSession:
    """The call's AWS session: a web identity is exchanged with STS here, once."""
    return await anyio.to_thread.run_sync(
        lambda: AwsSession.resolve(credentials, region=AwsRegion.parse(region))
    )


def aws_env(session: AwsSession) -> dict[str, dagger.Secret]:
    """The session's keys as secret variables for a container (kubectl's `aws eks get-token`).

    The exchange happened in the module, so the container needs no OIDC
    plumbing and the token itself never enters it.
    """
    keys = session.credentials
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
