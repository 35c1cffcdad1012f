"""AWS helpers (names, sessions, ECR), against moto's in-process AWS where it has the call."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from pipelines.aws.ecr import (
    SIGNATURE_TAGS,
    EcrError,
    RepositorySettings,
    TagExistsError,
    check_tag_available,
    decode_authorization,
    ensure_repository,
    expire_test_images_policy,
    registry_credentials,
    require_signature_tags_writable,
)
from pipelines.aws.names import parse_registry, require_repository
from pipelines.aws.session import AwsCredentials, AwsSession, WebIdentity
from pipelines.errors import InputError
from pipelines.values import AwsRegion

REGION = AwsRegion("eu-west-1")
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + "b" * 64,
        },
        "layers": [],
    }
)


@pytest.fixture
def ecr() -> Iterator[Any]:
    with mock_aws():
        yield AwsSession().client("ecr", region=REGION)


# --- addresses -----------------------------------------------------------------------------


def test_parse_registry() -> None:
    registry = parse_registry(REGISTRY)
    assert (registry.account_id, registry.region) == ("123456789012", "eu-west-1")
    assert registry.repository_uri("team/app") == f"{REGISTRY}/team/app"
    assert parse_registry("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").region == (
        "cn-north-1"
    )


@pytest.mark.parametrize(
    ("registry", "problem"),
    [
        ("12345678901.dkr.ecr.eu-west-1.amazonaws.com", "is not an ECR registry host"),
        ("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "without scheme or path"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app", "without scheme or path"),
        ("123456789012.dkr.ecr.europe.amazonaws.com", "'europe' is not an AWS region name"),
        ("docker.io", "is not an ECR registry host"),
    ],
)
def test_a_malformed_registry_is_refused(registry: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_registry(registry)
    assert caught.value.argument == "registry"
    assert problem in caught.value.problem
    assert "123456789012.dkr.ecr.eu-west-1.amazonaws.com" in caught.value.fix


@pytest.mark.parametrize("name", ["hello-service", "team/hello.service", "a/b/c_d", "ab"])
def test_repository_names(name: str) -> None:
    assert require_repository(name) == name


@pytest.mark.parametrize("name", ["Hello", "a", "team//app", "-app", "app-", "a" * 257, "x y"])
def test_a_malformed_repository_name_is_refused(name: str) -> None:
    with pytest.raises(InputError, match="is not an ECR repository name"):
        require_repository(name)


# --- login ---------------------------------------------------------------------------------


def test_registry_credentials_from_moto(ecr: Any) -> None:
    credentials = registry_credentials(ecr, parse_registry(REGISTRY))
    assert credentials.username == "AWS"
    assert credentials.password
    assert credentials.registry == REGISTRY
    # The password never shows in a repr (and so in no log of the object).
    assert credentials.password not in repr(credentials)


def _token_response(token: str) -> dict[str, Any]:
    return {
        "authorizationData": [{"authorizationToken": token, "proxyEndpoint": f"https://{REGISTRY}"}]
    }


def test_decode_authorization() -> None:
    token = base64.b64encode(b"AWS:s3cr3t-password").decode()
    credentials = decode_authorization(_token_response(token))
    assert (credentials.username, credentials.password, credentials.registry) == (
        "AWS",
        "s3cr3t-password",
        REGISTRY,
    )


@pytest.mark.parametrize(
    "response",
    [
        {"authorizationData": []},
        {},
        _token_response("not base64!"),
        _token_response(base64.b64encode(b"no-separator-s3cr3t").decode()),
    ],
)
def test_bad_authorization_data_is_an_error_without_the_token(response: dict[str, Any]) -> None:
    with pytest.raises(EcrError) as caught:
        decode_authorization(response)
    assert "s3cr3t" not in str(caught.value)
    assert "fix:" in str(caught.value)


def test_a_session_with_keys_makes_clients_in_the_region() -> None:
    with mock_aws():
        keys = AwsCredentials(access_key_id="AKIAEXAMPLE", secret_access_key="sentinel-secret")
        assert "sentinel-secret" not in repr(keys)
        session = AwsSession.resolve(keys, region=REGION)
        assert "sentinel-secret" not in repr(session)
        client = session.client("ecr", region=REGION)
        assert client.meta.region_name == "eu-west-1"
        assert client.meta.config.retries["mode"] == "standard"


def test_a_web_identity_is_exchanged_once_for_every_client() -> None:
    """One STS call however many clients the call makes (counted on botocore's events)."""
    import boto3

    exchanges: list[str] = []
    real_client = boto3.session.Session.client

    def counting_client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        client = real_client(self, service, *args, **kwargs)
        if service == "sts":
            client.meta.events.register(
                "before-call.sts.AssumeRoleWithWebIdentity",
                lambda **_: exchanges.append("sts"),
            )
        return client

    identity = WebIdentity(role_arn="arn:aws:iam::123456789012:role/ci", token="sentinel-oidc")
    assert "sentinel-oidc" not in repr(identity)
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(boto3.session.Session, "client", counting_client)
        session = AwsSession.resolve(identity, region=REGION)
        for service in ("ecr", "ssm", "ec2"):
            session.client(service, region=REGION)
        assert session.client("ecr", region=REGION).describe_repositories()["repositories"] == []
    assert exchanges == ["sts"]
    assert session.credentials is not None
    assert session.credentials.session_token


# --- repositories --------------------------------------------------------------------------


def test_lifecycle_policy_expires_test_images_after_retention() -> None:
    policy = json.loads(expire_test_images_policy(retention_days=14))
    (rule,) = policy["rules"]
    assert rule["selection"] == {
        "tagStatus": "any",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 14,
    }
    assert rule["action"] == {"type": "expire"}
    with pytest.raises(ValueError, match="retention_days"):
        expire_test_images_policy(retention_days=0)


def test_ensure_repository_creates_it_immutable_scanned_encrypted(ecr: Any) -> None:
    policy = expire_test_images_policy(retention_days=7)
    state = ensure_repository(
        ecr, name="hello-service-test", settings=RepositorySettings(lifecycle_policy=policy)
    )
    assert state.created
    assert state.uri == f"{REGISTRY}/hello-service-test"
    (repo,) = ecr.describe_repositories(repositoryNames=["hello-service-test"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"]["encryptionType"] == "AES256"
    # moto validates the policy text against ECR's rules before storing it.
    stored = ecr.get_lifecycle_policy(repositoryName="hello-service-test")
    assert json.loads(stored["lifecyclePolicyText"]) == json.loads(policy)


def test_ensure_repository_with_kms(ecr: Any) -> None:
    settings = RepositorySettings(encryption="KMS", kms_key="alias/ecr-images")
    ensure_repository(ecr, name="hello-service", settings=settings)
    (repo,) = ecr.describe_repositories(repositoryNames=["hello-service"])["repositories"]
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert repo["encryptionConfiguration"]["kmsKey"] == "alias/ecr-images"
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.get_lifecycle_policy(repositoryName="hello-service")


def test_ensure_repository_leaves_an_existing_one_alone(ecr: Any) -> None:
    ecr.create_repository(repositoryName="hello-service", imageTagMutability="MUTABLE")
    state = ensure_repository(ecr, name="hello-service", settings=RepositorySettings())
    assert not state.created
    assert not state.immutable_tags
    (repo,) = ecr.describe_repositories(repositoryNames=["hello-service"])["repositories"]
    assert repo["imageTagMutability"] == "MUTABLE"


def test_a_signed_repository_keeps_release_tags_immutable_and_lets_cosign_write(
    ecr: Any,
) -> None:
    settings = RepositorySettings(mutable_tags=(SIGNATURE_TAGS,))
    state = ensure_repository(ecr, name="hello-service", settings=settings)
    assert state.immutable_tags
    (repo,) = ecr.describe_repositories(repositoryNames=["hello-service"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "sha256-*"}
    ]
    # cosign may write
    require_signature_tags_writable(
        check_tag_available(ecr, repository="hello-service", tag="rc-1.0.0-1a2b3c4")
    )
    # A release tag is still refused a second time...
    ecr.put_image(
        repositoryName="hello-service", imageManifest=MANIFEST, imageTag="rc-1.0.0-1a2b3c4"
    )
    with pytest.raises(TagExistsError):
        check_tag_available(ecr, repository="hello-service", tag="rc-1.0.0-1a2b3c4")
    # ...while cosign's attestation tag may be pushed again (a second platform).
    attestation = "sha256-" + "a" * 64 + ".att"
    ecr.put_image(repositoryName="hello-service", imageManifest=MANIFEST, imageTag=attestation)
    other = MANIFEST.replace('"size": 7023', '"size": 7024')
    assert other != MANIFEST
    ecr.put_image(repositoryName="hello-service", imageManifest=other, imageTag=attestation)


def test_a_plain_immutable_repository_is_refused_before_signing(ecr: Any) -> None:
    ensure_repository(ecr, name="hello-service", settings=RepositorySettings())
    state = check_tag_available(ecr, repository="hello-service", tag="rc-1.0.0-1a2b3c4")
    assert state.mutability == "IMMUTABLE"
    with pytest.raises(EcrError) as caught:
        require_signature_tags_writable(state)
    message = str(caught.value)
    assert "ECR repository 'hello-service' has immutable tags without an exclusion" in message
    assert "without an exclusion for cosign's sha256-* tags" in message
    assert "--image-tag-mutability IMMUTABLE_WITH_EXCLUSION" in message
    ecr.create_repository(repositoryName="mutable", imageTagMutability="MUTABLE")
    mutable = check_tag_available(ecr, repository="mutable", tag="rc-1.0.0-1a2b3c4")
    assert mutable.mutability == "MUTABLE"
    require_signature_tags_writable(mutable)


def test_ensure_repository_refuses_a_bad_name_before_calling_aws(ecr: Any) -> None:
    with pytest.raises(InputError):
        ensure_repository(ecr, name="Bad Name", settings=RepositorySettings())
    assert ecr.describe_repositories()["repositories"] == []


# --- tag checks ----------------------------------------------------------------------------


def test_a_free_tag_is_available(ecr: Any) -> None:
    ensure_repository(ecr, name="hello-service", settings=RepositorySettings())
    state = check_tag_available(ecr, repository="hello-service", tag="rc-1.0.0-1a2b3c4")
    assert not state.exists
    assert state.immutable_tags


def test_an_existing_tag_in_an_immutable_repository_is_refused(ecr: Any) -> None:
    ensure_repository(ecr, name="hello-service", settings=RepositorySettings())
    ecr.put_image(
        repositoryName="hello-service", imageManifest=MANIFEST, imageTag="rc-1.0.0-1a2b3c4"
    )
    with pytest.raises(TagExistsError) as caught:
        check_tag_available(ecr, repository="hello-service", tag="rc-1.0.0-1a2b3c4")
    message = str(caught.value)
    assert "'rc-1.0.0-1a2b3c4' already exists in the immutable ECR repository" in message
    assert "sha256:" in message
    assert "fix:" in message


def test_an_existing_tag_in_a_mutable_repository_is_reported(ecr: Any) -> None:
    ensure_repository(ecr, name="hello-service", settings=RepositorySettings(immutable_tags=False))
    ecr.put_image(repositoryName="hello-service", imageManifest=MANIFEST, imageTag="main-1a2b3c4")
    state = check_tag_available(ecr, repository="hello-service", tag="main-1a2b3c4")
    assert state.exists
    assert not state.immutable_tags
    assert state.digest is not None
    assert state.digest.startswith("sha256:")


def test_a_missing_repository_is_a_clear_error(ecr: Any) -> None:
    with pytest.raises(EcrError, match=r"'nope' does not exist(.|\n)*fix: create it"):
        check_tag_available(ecr, repository="nope", tag="x")


def test_a_repository_created_meanwhile_by_another_pipeline_is_used(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.aws.ecr import RepositorySettings, ensure_repository, existing_digest

    ecr.create_repository(repositoryName="raced", imageTagMutability="IMMUTABLE")
    real_describe = ecr.describe_repositories
    calls: list[str] = []

    def describe_once_missing(**kwargs: Any) -> Any:
        calls.append("describe")
        if len(calls) == 1:  # the other pipeline had not created it yet
            raise ecr.exceptions.RepositoryNotFoundException(
                {"Error": {"Code": "RepositoryNotFoundException", "Message": "x"}}, "Describe"
            )
        return real_describe(**kwargs)

    monkeypatch.setattr(ecr, "describe_repositories", describe_once_missing)
    state = ensure_repository(ecr, name="raced", settings=RepositorySettings())
    assert state.created is False
    assert state.immutable_tags is True
    assert calls == ["describe", "describe"]
    assert existing_digest(ecr, repository="raced", tag="missing") is None
