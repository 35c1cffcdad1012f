"""AWS credentials, resolved once per call, and the boto3 clients made from them.

A Dagger function gets its credentials as Secrets: static keys, or a CI's
OIDC token to exchange for a role (:class:`WebIdentity`). :meth:`AwsSession.resolve`
turns either into keys once, so a call that talks to ECR, SSM and EC2 makes
one STS exchange, not one per client, and the keys it hands a container
(kubectl's ``aws eks get-token``) are the same ones.

Every client uses botocore's standard retry mode (jittered backoff on
throttling and transient errors, with a retry quota): the pipelines and the
cost-saver Lambda share :func:`client_config`.

boto3 is imported inside the functions that need it: this module is imported
by the Dagger module on every call, and by the Lambda on every cold start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipelines.values import AwsRegion

# Attempts in all (the first one included), as botocore counts them.
DEFAULT_MAX_ATTEMPTS = 5
USER_AGENT = "portable-pipelines"


@dataclass(frozen=True, kw_only=True)
class AwsCredentials:
    """Static or temporary keys, read from Dagger Secrets by the caller."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class WebIdentity:
    """An OIDC token from the CI system, exchanged for a role's credentials."""

    role_arn: str
    token: str = field(repr=False)
    session_name: str = "portable-pipelines"


def client_config(
    *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, user_agent_extra: str = USER_AGENT
) -> Any:
    """botocore's standard retry mode, with ``max_attempts`` attempts in all."""
    from botocore.config import Config

    # botocore's own "max_attempts" key counts retries only (one attempt more);
    # "total_max_attempts" counts the first attempt too, as this module does.
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        user_agent_extra=user_agent_extra,
    )


def assume_web_identity(
    identity: WebIdentity, *, region: AwsRegion, endpoint_url: str | None = None
) -> AwsCredentials:
    """Exchange a CI's OIDC token for the role's temporary keys (one STS call)."""
    import boto3

    sts = boto3.session.Session(region_name=region.name).client(
        "sts", endpoint_url=endpoint_url, config=client_config()
    )
    assumed = sts.assume_role_with_web_identity(
        RoleArn=identity.role_arn,
        RoleSessionName=identity.session_name,
        WebIdentityToken=identity.token,
    )["Credentials"]
    return AwsCredentials(
        access_key_id=assumed["AccessKeyId"],
        secret_access_key=assumed["SecretAccessKey"],
        session_token=assumed["SessionToken"],
    )


@dataclass(frozen=True, kw_only=True)
class AwsSession:
    """Resolved credentials (None: boto3's default chain) and where AWS answers."""

    credentials: AwsCredentials | None = field(default=None, repr=False)
    # For tests and private endpoints; None is AWS itself.
    endpoint_url: str | None = None

    @classmethod
    def resolve(
        cls,
        credentials: AwsCredentials | WebIdentity | None,
        *,
        region: AwsRegion,
        endpoint_url: str | None = None,
    ) -> AwsSession:
        """Keys as given, or a web identity exchanged once (blocking: run it in a thread)."""
        if isinstance(credentials, WebIdentity):
            keys = assume_web_identity(credentials, region=region, endpoint_url=endpoint_url)
            return cls(credentials=keys, endpoint_url=endpoint_url)
        return cls(credentials=credentials, endpoint_url=endpoint_url)

    def client(self, service: str, *, region: AwsRegion) -> Any:
        """A boto3 client for ``service`` (``ecr``, ``ssm``, ``ec2``...) in ``region``."""
        import boto3

        keys: dict[str, str | None] = {}
        if self.credentials is not None:
            keys = {
                "aws_access_key_id": self.credentials.access_key_id,
                "aws_secret_access_key": self.credentials.secret_access_key,
                "aws_session_token": self.credentials.session_token,
            }
        session = boto3.session.Session(region_name=region.name, **keys)
        return session.client(service, endpoint_url=self.endpoint_url, config=client_config())
