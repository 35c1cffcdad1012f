"""[publish]: where images are pushed (Amazon ECR), and how they are tagged.

Release candidates go to ``repository``; the dev pipeline's test images go to
``test_repository``, whose lifecycle policy expires them after
``test_image_retention_days``. Two repositories, because the expiry rule
selects every image it sees and must never reach a release candidate.

    [publish]
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    repository = "hello-service"
    # test_repository = "hello-service-test"
    # release_tag = "rc-{version}-{sha7}"
    # ensure_repository = true
    # encryption = "KMS"
    # kms_key = "alias/ecr"
    # role_arn = "arn:aws:iam::123456789012:role/ci-publish"   # OIDC web identity
    # signing_key = "awskms:///alias/release-signing"   # cosign signs release candidates
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.aws.ecr import ENCRYPTIONS, Encryption
from pipelines.aws.names import registry_problem, repository_problem
from pipelines.config._reader import Table
from pipelines.tags import DEFAULT_RELEASE_TEMPLATE, template_problem
from pipelines.values import AwsRegion, region_problem

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_REGISTRY_EXAMPLE = '"123456789012.dkr.ecr.eu-west-1.amazonaws.com"'
# cosign's AWS KMS key URIs (sigstore/sigstore pkg/signature/kms/aws): the key
# by id, by ARN or by alias, with an optional endpoint between the slashes that
# is refused here (the key must be the account's own, reached through AWS).
_KMS_KEY = re.compile(
    r"awskms:///(?:"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|alias/[A-Za-z0-9/_-]{1,250}"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key/[0-9a-f-]{36}|alias/[A-Za-z0-9/_-]{1,250})"
    r")"
)
_SIGNING_KEY_EXAMPLE = '"awskms:///arn:aws:kms:eu-west-1:123456789012:alias/release-signing"'


@dataclass(frozen=True, kw_only=True)
class PublishConfig:
    registry: str
    # The release repository: release candidates, promoted by digest.
    repository: str
    # Derived from the registry host; an explicit value must agree with it.
    region: AwsRegion
    test_repository: str
    release_tag: str = DEFAULT_RELEASE_TEMPLATE
    # A moving tag next to the immutable one; needs a mutable repository.
    tag_latest: bool = False
    immutable_tags: bool = True
    # Create missing repositories (with the settings below) before pushing.
    ensure_repository: bool = False
    scan_on_push: bool = True
    encryption: Encryption = "AES256"
    kms_key: str | None = None
    test_image_retention_days: int = 14
    # For OIDC: the role a CI web-identity token is exchanged for.
    role_arn: str | None = None
    # cosign's AWS KMS key (awskms:///...): release signs and attests with it,
    # promote verifies with it. Only the release identity may use kms:Sign.
    signing_key: str | None = None

    @property
    def account_id(self) -> str:
        return self.registry.split(".", 1)[0]

    @property
    def release_uri(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def test_uri(self) -> str:
        return f"{self.registry}/{self.test_repository}"


def parse_publish(table: Table | None) -> PublishConfig | None:
    if table is None:
        return None
    registry = table.string("registry", example=_REGISTRY_EXAMPLE)
    problem = registry_problem(registry)
    if problem is not None:
        table.fail("registry", problem, f"write it as `registry = {_REGISTRY_EXAMPLE}`")
    registry_region = registry.split(".")[3]

    repository = _repository(table, "repository", None)
    test_repository = _repository(table, "test_repository", f"{repository}-test")

    region = table.string("region", registry_region, example='"eu-west-1"')
    problem = region_problem(region)
    if problem is not None:
        table.fail("region", problem, 'write it as `region = "eu-west-1"`')
    if region != registry_region:
        table.fail(
            "region",
            f"{region!r} differs from the registry's region {registry_region!r}",
            f'remove `region` (it is read from the registry) or set it to "{registry_region}"',
        )

    release_tag = table.string(
        "release_tag", DEFAULT_RELEASE_TEMPLATE, example=f'"{DEFAULT_RELEASE_TEMPLATE}"'
    )
    problem = template_problem(release_tag)
    if problem is not None:
        table.fail(
            "release_tag", problem, f'write it as `release_tag = "{DEFAULT_RELEASE_TEMPLATE}"`'
        )

    tag_latest = table.boolean("tag_latest", False)
    immutable_tags = table.boolean("immutable_tags", True)
    if tag_latest and immutable_tags:
        table.fail(
            "tag_latest",
            "'latest' moves with every release, but an immutable "
            "repository refuses to move a tag: the second release would fail",
            "remove `tag_latest`, or set `immutable_tags = false` (not recommended)",
        )

    encryption = table.string("encryption", "AES256", example='"AES256"')
    if encryption not in ENCRYPTIONS:
        table.fail(
            "encryption",
            f"unknown encryption {encryption!r}",
            "use one of " + ", ".join(f'"{e}"' for e in ENCRYPTIONS),
        )
    kms_key = table.string("kms_key", None, example='"alias/ecr"')
    if kms_key is not None and encryption != "KMS":
        table.fail(
            "kms_key",
            'a KMS key is set but `encryption` is not "KMS"',
            'add `encryption = "KMS"`, or remove `kms_key`',
        )

    role_arn = table.string("role_arn", None, example='"arn:aws:iam::123456789012:role/ci-publish"')
    if role_arn is not None and not _ROLE_ARN.fullmatch(role_arn):
        table.fail(
            "role_arn",
            f"{role_arn!r} is not an IAM role ARN",
            'write it as `role_arn = "arn:aws:iam::123456789012:role/ci-publish"`',
            goes_on=True,
        )

    signing_key = table.string("signing_key", None, example=_SIGNING_KEY_EXAMPLE)
    if signing_key is not None and not _KMS_KEY.fullmatch(signing_key):
        table.fail(
            "signing_key",
            f"{signing_key!r} is not an AWS KMS key URI as cosign takes it",
            f"write it as `signing_key = {_SIGNING_KEY_EXAMPLE}` (a key id, ARN or alias "
            "after awskms:///)",
            goes_on=True,
        )

    config = PublishConfig(
        registry=registry,
        repository=repository,
        region=AwsRegion(region),
        test_repository=test_repository,
        release_tag=release_tag,
        tag_latest=tag_latest,
        immutable_tags=immutable_tags,
        ensure_repository=table.boolean("ensure_repository", False),
        scan_on_push=table.boolean("scan_on_push", True),
        encryption="KMS" if encryption == "KMS" else "AES256",
        kms_key=kms_key,
        test_image_retention_days=table.integer(
            "test_image_retention_days", 14, minimum=1, maximum=3650, example="14"
        ),
        role_arn=role_arn,
        signing_key=signing_key,
    )
    if config.test_repository == config.repository:
        table.fail(
            "test_repository",
            "the test repository must differ from the release "
            "repository: its lifecycle policy expires every image in it",
            f'remove it (default "{repository}-test") or name another repository',
        )
    table.finish()
    return config


def _repository(table: Table, key: str, default: str | None) -> str:
    if default is None:
        value: str = table.string(key, example='"hello-service"')
    else:
        value = table.string(key, default, example='"hello-service"')
    problem = repository_problem(value)
    if problem is not None:
        table.fail(key, problem, f'write it as `{key} = "hello-service"`')
    return value
