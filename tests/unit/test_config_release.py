"""[publish], [deploy], [forge] and [status]: the release path's configuration."""

from __future__ import annotations

import pytest

from pipelines.config import ConfigError, PipelineConfig, parse_config
from pipelines.config.forge import ForgeConfig
from pipelines.config.status import StatusConfig
from pipelines.values import AwsRegion

SERVICE = '[service]\nname = "hello-service"\nport = 8080\n'
PUBLISH = """
[publish]
registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
repository = "hello-service"
"""


def config(text: str) -> PipelineConfig:
    return parse_config(SERVICE + text, file="svc/pipelines.toml")


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        config(text)
    return caught.value


# --- [publish] -----------------------------------------------------------------------------


def test_publish_defaults() -> None:
    publish = config(PUBLISH).publish
    assert publish is not None
    assert publish.region == AwsRegion("eu-west-1")
    assert publish.account_id == "123456789012"
    assert publish.test_repository == "hello-service-test"
    assert publish.release_uri == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service"
    assert publish.test_uri.endswith("/hello-service-test")
    assert publish.release_tag == "rc-{version}-{sha7}"
    assert (publish.tag_latest, publish.immutable_tags, publish.ensure_repository) == (
        False,
        True,
        False,
    )
    assert (publish.encryption, publish.kms_key, publish.scan_on_push) == ("AES256", None, True)
    assert publish.test_image_retention_days == 14
    assert publish.role_arn is None


def test_publish_everything_set() -> None:
    publish = config(
        PUBLISH
        + """
region = "eu-west-1"
test_repository = "dev/hello-service"
release_tag = "v{version}-{sha}"
ensure_repository = true
encryption = "KMS"
kms_key = "alias/ecr"
test_image_retention_days = 3
role_arn = "arn:aws:iam::123456789012:role/ci-publish"
"""
    ).publish
    assert publish is not None
    assert publish.test_repository == "dev/hello-service"
    assert publish.release_tag == "v{version}-{sha}"
    assert publish.ensure_repository
    assert (publish.encryption, publish.kms_key) == ("KMS", "alias/ecr")
    assert publish.test_image_retention_days == 3
    assert publish.role_arn == "arn:aws:iam::123456789012:role/ci-publish"


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        (
            '[publish]\nregistry = "1234.dkr.ecr.eu-west-1.amazonaws.com"\nrepository = "a-b"',
            "publish.registry",
            "is not an ECR registry host",
        ),
        (
            '[publish]\nregistry = "123456789012.dkr.ecr.westeurope.amazonaws.com"\n'
            'repository = "a-b"',
            "publish.registry",
            "'westeurope' is not an AWS region name",
        ),
        (PUBLISH + 'region = "eu-west-2"', "publish.region", "differs from the registry's"),
        (PUBLISH + 'region = "EU"', "publish.region", "is not an AWS region name"),
        (
            PUBLISH.replace('"hello-service"', '"Hello_Service"'),
            "publish.repository",
            "is not an ECR repository name",
        ),
        (PUBLISH + 'test_repository = "hello-service"', "publish.test_repository", "must differ"),
        (PUBLISH + 'release_tag = "rc-{version}"', "publish.release_tag", "has no {sha7}"),
        (PUBLISH + 'release_tag = "{build}-{sha7}"', "publish.release_tag", "unknown placeholder"),
        (PUBLISH + "tag_latest = true", "publish.tag_latest", "immutable repository refuses"),
        (PUBLISH + 'encryption = "aes"', "publish.encryption", "unknown encryption 'aes'"),
        (PUBLISH + 'kms_key = "alias/x"', "publish.kms_key", 'is not "KMS"'),
        (PUBLISH + 'role_arn = "ci-role"', "publish.role_arn", "is not an IAM role ARN"),
        (
            PUBLISH + "test_image_retention_days = 0",
            "publish.test_image_retention_days",
            "between 1",
        ),
        (PUBLISH + "ensure_repo = true", "publish.ensure_repo", "did you mean"),
    ],
)
def test_publish_errors_name_the_key_and_the_fix(extra: str, key: str, problem: str) -> None:
    caught = error(extra)
    assert caught.file == "svc/pipelines.toml"
    assert caught.key == key
    assert problem in caught.problem
    assert caught.fix


def test_latest_is_allowed_with_a_mutable_repository() -> None:
    publish = config(PUBLISH + "tag_latest = true\nimmutable_tags = false").publish
    assert publish is not None
    assert publish.tag_latest


# --- [deploy] ------------------------------------------------------------------------------

EKS = """
[deploy]
target = "eks"
[deploy.eks]
region = "eu-west-1"
cluster = "dev"
url = "https://{namespace}.dev.example.com"
"""

EC2 = """
[deploy]
target = "ec2"
[deploy.ec2]
region = "eu-west-1"
url = "http://hello.dev.example.internal:8080"
"""


def test_eks_defaults() -> None:
    deploy = config(EKS).deploy
    assert deploy is not None
    assert deploy.target == "eks"
    assert deploy.ec2 is None
    eks = deploy.eks
    assert eks is not None
    assert (eks.region, eks.cluster, eks.overlay) == (
        AwsRegion("eu-west-1"),
        "dev",
        "deploy/overlays/dev",
    )
    assert (eks.namespace_prefix, eks.deployment, eks.image) == ("dev", None, None)
    assert eks.rollout_timeout_seconds == 300


def test_ec2_settings() -> None:
    deploy = config(
        EC2
        + 'tag_key = "Stage"\ntag_value = "dev-fleet"\nhost_port = 80\n'
        + 'container_name = "hello"\nenv = { LOG_LEVEL = "debug" }\n'
    ).deploy
    assert deploy is not None
    ec2 = deploy.ec2
    assert ec2 is not None
    assert (ec2.tag_key, ec2.tag_value, ec2.host_port, ec2.container_name) == (
        "Stage",
        "dev-fleet",
        80,
        "hello",
    )
    assert ec2.env == (("LOG_LEVEL", "debug"),)
    assert (ec2.command_timeout_seconds, ec2.health_timeout_seconds) == (600, 120)


def test_both_targets_may_be_configured() -> None:
    ec2_table = EC2.split("\n", 3)[3]  # Without its [deploy] header.
    deploy = config(EKS + ec2_table).deploy
    assert deploy is not None
    assert deploy.eks is not None
    assert deploy.ec2 is not None


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[deploy]\ntarget = "ecs"', "deploy.target", "unknown deploy target 'ecs'"),
        ('[deploy]\ntarget = "eks"', "deploy.eks", "needs a [deploy.eks] table"),
        (EKS.replace('"eu-west-1"', '"eu-west"'), "deploy.eks.region", "not an AWS region"),
        (
            EKS.replace("{namespace}.dev", "{ns}.dev"),
            "deploy.eks.url",
            "unknown placeholder {ns}",
        ),
        (EKS.replace("https://", "ftp://"), "deploy.eks.url", "is not an http(s) URL"),
        # urllib raises ValueError for these; the reader reports them.
        (EKS.replace("https://", "https://[::1"), "deploy.eks.url", "is not a valid URL"),
        (EKS.replace(".com", ".com:99999"), "deploy.eks.url", "is not a valid URL"),
        (EKS + 'overlay = "../other"', "deploy.eks.overlay", "inside the service directory"),
        (EKS + 'namespace_prefix = "Dev_"', "deploy.eks.namespace_prefix", "not a DNS label"),
        (
            EKS + 'namespace_prefix = "' + "d" * 31 + '"',
            "deploy.eks.namespace_prefix",
            "at most 30",
        ),
        (EKS + "rollout_timeout_seconds = 1", "deploy.eks.rollout_timeout_seconds", "between"),
        (EC2.replace(":8080", ":8080/{branch}"), "deploy.ec2.url", "unknown placeholder"),
        (EC2 + 'tag_key = "aws:x"', "deploy.ec2.tag_key", "not a usable EC2 tag key"),
        (EC2 + "host_port = 0", "deploy.ec2.host_port", "between 1 and 65535"),
        (EC2 + 'env = { "1X" = "y" }', "deploy.ec2.env", "not an environment variable name"),
        (EC2 + "timeout = 3", "deploy.ec2.timeout", "unknown key"),
    ],
)
def test_deploy_errors_name_the_key_and_the_fix(text: str, key: str, problem: str) -> None:
    caught = error(text)
    assert caught.key == key
    assert problem in caught.problem
    assert caught.fix


# --- [forge] -------------------------------------------------------------------------------


def forge(text: str) -> ForgeConfig | None:
    parsed = config(text)
    assert parsed.deprecations == ()
    return parsed.forge


def test_forge_absent() -> None:
    parsed = config("")
    assert parsed.forge is None
    assert parsed.status == StatusConfig()


def test_github_defaults() -> None:
    parsed = forge('[forge]\nprovider = "github"\nrepository = "acme/hello-service"')
    assert parsed == ForgeConfig(
        provider="github", api_url="https://api.github.com", repository="acme/hello-service"
    )


def test_gitlab_self_managed() -> None:
    parsed = forge(
        '[forge]\nprovider = "gitlab"\nproject = "acme/platform/hello"\n'
        'api_url = "https://git.example.com/api/v4/"'
    )
    assert parsed == ForgeConfig(
        provider="gitlab", api_url="https://git.example.com/api/v4", project="acme/platform/hello"
    )


def test_gitlab_defaults_and_numeric_project() -> None:
    parsed = forge('[forge]\nprovider = "gitlab"\nproject = "1234"')
    assert parsed is not None
    assert parsed.api_url == "https://gitlab.com/api/v4"
    assert parsed.repository is None


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[forge]\nprovider = "jenkins"', "forge.provider", "unknown forge provider"),
        ('[forge]\nprovider = "gitlabb"', "forge.provider", 'did you mean "gitlab"'),
        ('[forge]\nprovider = "github"', "forge.repository", "needs the repository"),
        (
            '[forge]\nprovider = "github"\nrepository = "just-a-name"',
            "forge.repository",
            "is not a GitHub owner/name",
        ),
        (
            '[forge]\nprovider = "github"\nrepository = "acme/app\\n"',
            "forge.repository",
            "is not a GitHub owner/name",
        ),
        (
            '[forge]\nprovider = "github"\nproject = "a/b"',
            "forge.project",
            "`project` is for gitlab, not github",
        ),
        ('[forge]\nprovider = "gitlab"', "forge.project", "needs the project"),
        (
            '[forge]\nprovider = "gitlab"\nproject = "noslash"',
            "forge.project",
            "not a GitLab project",
        ),
        (
            '[forge]\nprovider = "gitlab"\nrepository = "a/b"',
            "forge.repository",
            "`repository` is for github, not gitlab",
        ),
        (
            '[forge]\nprovider = "github"\nrepository = "a/b"\napi_url = "api.github.com"',
            "forge.api_url",
            "not an https base URL",
        ),
        (
            '[forge]\nprovider = "github"\nrepository = "a/b"\ntoken = "ghp_x"',
            "forge.token",
            "unknown key",
        ),
        ('[forge]\nrepository = "a/b"', "forge.provider", "required key is missing"),
    ],
)
def test_forge_errors_name_the_key_and_the_fix(text: str, key: str, problem: str) -> None:
    caught = error(text)
    assert caught.file == "svc/pipelines.toml"
    assert caught.key == key
    assert problem in caught.problem
    assert caught.fix


def test_a_use_that_needs_a_forge_says_how_to_add_one() -> None:
    with pytest.raises(ConfigError) as caught:
        config("").require_forge("promotion", file="svc/pipelines.toml")
    assert (caught.value.file, caught.value.key) == ("svc/pipelines.toml", "forge")
    assert "opening a promotion pull/merge request needs a forge" in caught.value.problem
    assert '`provider = "github"` and `repository = "acme/hello-service"`' in caught.value.fix
    assert '`provider = "gitlab"` and `project = "group/project"`' in caught.value.fix
    configured = config('[forge]\nprovider = "gitlab"\nproject = "7"')
    assert configured.require_forge("promotion") == configured.forge


# --- [status] ------------------------------------------------------------------------------


def test_status_has_the_contexts_only() -> None:
    parsed = config('[status]\npre_merge_context = "safe-to-merge"')
    assert parsed.status == StatusConfig(pre_merge_context="safe-to-merge")
    assert parsed.forge is None
    assert parsed.deprecations == ()


@pytest.mark.parametrize(
    ("pipeline", "context"),
    [("dev", "pipelines/dev"), ("pre-merge", "safe-to-merge"), ("release", "pipelines/release")],
)
def test_each_pipeline_has_its_context(pipeline: str, context: str) -> None:
    status = StatusConfig(pre_merge_context="safe-to-merge")
    assert status.context_for(pipeline) == context


def test_a_context_for_an_unknown_pipeline_is_a_bug() -> None:
    with pytest.raises(ValueError, match="deploy"):
        StatusConfig().context_for("deploy")


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (f'[status]\ndev_context = "{"x" * 256}"', "status.dev_context", "longer than 255"),
        ('[status]\nrelease_context = ""', "status.release_context", "must not be empty"),
        ('[status]\ntoken = "ghp_x"', "status.token", "unknown key"),
    ],
)
def test_status_errors_name_the_key_and_the_fix(text: str, key: str, problem: str) -> None:
    caught = error(text)
    assert caught.key == key
    assert problem in caught.problem
    assert caught.fix


# --- the forge keys [status] used to hold ----------------------------------------------------


def test_old_forge_keys_in_status_still_work_and_say_what_to_write_instead() -> None:
    parsed = config(
        '[status]\nprovider = "github"\nrepository = "acme/hello-service"\n'
        'pre_merge_context = "safe-to-merge"'
    )
    assert parsed.forge == ForgeConfig(
        provider="github", api_url="https://api.github.com", repository="acme/hello-service"
    )
    assert parsed.status == StatusConfig(pre_merge_context="safe-to-merge")
    (message,) = parsed.deprecations
    assert message.startswith(
        "svc/pipelines.toml: status.provider is deprecated: move provider and repository "
        "to a [forge] table"
    )
    assert '`provider = "github"` and `repository = "acme/hello-service"`' in message
    # What it says to write is what parses to the same forge, without a deprecation.
    rewritten = config('[forge]\nprovider = "github"\nrepository = "acme/hello-service"\n')
    assert rewritten.forge == parsed.forge
    assert rewritten.deprecations == ()


def test_old_gitlab_keys_with_an_api_url_are_all_named() -> None:
    parsed = config(
        '[status]\nprovider = "gitlab"\nproject = "acme/platform/hello"\n'
        'api_url = "https://git.example.com/api/v4/"'
    )
    assert parsed.forge == ForgeConfig(
        provider="gitlab", api_url="https://git.example.com/api/v4", project="acme/platform/hello"
    )
    (message,) = parsed.deprecations
    assert "move provider, project and api_url to a [forge] table" in message


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[status]\nprovider = "jenkins"', "status.provider", "unknown forge provider"),
        ('[status]\nprovider = "github"', "status.repository", "needs the repository"),
        (
            '[status]\nprovider = "gitlab"\nrepository = "a/b"',
            "status.repository",
            "`repository` is for github, not gitlab",
        ),
        (
            '[status]\nprovider = "github"\nrepository = "a/b"\napi_url = "api.github.com"',
            "status.api_url",
            "not an https base URL",
        ),
    ],
)
def test_old_forge_keys_are_checked_as_well_as_forge(text: str, key: str, problem: str) -> None:
    caught = error(text)
    assert caught.key == key
    assert problem in caught.problem


def test_forge_and_the_old_keys_at_once_is_an_error() -> None:
    caught = error(
        '[forge]\nprovider = "github"\nrepository = "acme/a"\n\n'
        '[status]\nrepository = "acme/b"\napi_url = "https://github.example.com/api/v3"'
    )
    assert caught.key == "status.repository"
    assert "both [forge] and the old forge keys of [status]" in caught.problem
    assert "remove repository and api_url from [status]" in caught.fix


@pytest.mark.parametrize("prefix", ["kube", "kube-dev"])
def test_a_namespace_prefix_kubernetes_reserves_is_refused_when_the_config_is_read(
    prefix: str,
) -> None:
    text = SERVICE + EKS.replace(
        'cluster = "dev"', f'cluster = "dev"\nnamespace_prefix = "{prefix}"'
    )
    with pytest.raises(ConfigError, match="Kubernetes reserves") as caught:
        parse_config(text)
    assert caught.value.key == "deploy.eks.namespace_prefix"
