"""[deploy]: where the dev pipeline deploys a branch's test image.

    [deploy]
    target = "eks"                      # or "ec2"

    [deploy.eks]
    region = "eu-west-1"
    cluster = "dev"
    overlay = "deploy/overlays/dev"     # kustomize overlay, relative to the service
    namespace_prefix = "dev"            # namespace: dev-<branch-slug>
    url = "https://{namespace}.dev.example.com"
    # deployment = "hello-service"      # default: [service] name
    # image = "hello-service"           # image name used in the overlay; default: [service] name
    # rollout_timeout_seconds = 300
    # ingress_class = "nginx"           # an Ingress per branch for the url's host

    [deploy.ec2]
    region = "eu-west-1"
    tag_key = "Environment"             # instances tagged Environment=dev
    tag_value = "dev"
    url = "http://hello.dev.example.internal:8080"
    # host_port = 8080                  # default: [service] port
    # container_name = "hello-service"  # default: [service] name
    # command_timeout_seconds = 600
    # health_timeout_seconds = 120
    # env = { LOG_LEVEL = "debug" }

Both target tables may be present (to switch with one line); the one named
by ``target`` is required.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from pipelines.config._reader import Table
from pipelines.urls import split_url
from pipelines.values import AwsRegion, region_problem

TARGETS = ("eks", "ec2")
EKS_URL_FIELDS = ("namespace", "branch")
# A namespace is a DNS label: the prefix leaves room for a useful branch slug.
MAX_NAMESPACE_PREFIX = 30
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_TAG_KEY = re.compile(r"[\w.:/=+\-@ ]{1,128}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, kw_only=True)
class EksDeployConfig:
    region: AwsRegion
    cluster: str
    url: str
    overlay: str = "deploy/overlays/dev"
    namespace_prefix: str = "dev"
    # None: the [service] name.
    deployment: str | None = None
    image: str | None = None
    rollout_timeout_seconds: int = 300
    # When set, each branch namespace gets an Ingress of this class routing
    # the URL's host to the deployment's Service (port named "http").
    ingress_class: str | None = None


@dataclass(frozen=True, kw_only=True)
class Ec2DeployConfig:
    region: AwsRegion
    url: str
    tag_key: str = "Environment"
    tag_value: str = "dev"
    # None: the [service] port / name.
    host_port: int | None = None
    container_name: str | None = None
    command_timeout_seconds: int = 600
    health_timeout_seconds: int = 120
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class DeployConfig:
    target: str
    eks: EksDeployConfig | None = None
    ec2: Ec2DeployConfig | None = None

    @property
    def selected(self) -> EksDeployConfig | Ec2DeployConfig:
        """The table of the chosen target (parse_deploy makes sure it exists)."""
        chosen = {"eks": self.eks, "ec2": self.ec2}[self.target]
        if chosen is None:
            raise ValueError(f"[deploy.{self.target}] is missing; parse_deploy requires it")
        return chosen


def parse_deploy(table: Table | None) -> DeployConfig | None:
    if table is None:
        return None
    target = table.string("target", example='"eks"')
    if target not in TARGETS:
        table.fail(
            "target",
            f"unknown deploy target {target!r}",
            "use one of " + ", ".join(f'"{t}"' for t in TARGETS),
        )
    eks_table, ec2_table = table.table("eks"), table.table("ec2")
    chosen = {"eks": eks_table, "ec2": ec2_table}[target]
    if chosen is None:
        table.fail(
            target,
            f'`target = "{target}"` needs a [deploy.{target}] table',
            f"add [deploy.{target}] with at least `region` and `url`",
        )
    config = DeployConfig(
        target=target,
        eks=_parse_eks(eks_table) if eks_table is not None else None,
        ec2=_parse_ec2(ec2_table) if ec2_table is not None else None,
    )
    table.finish()
    return config


def _region(table: Table) -> AwsRegion:
    region: str = table.string("region", example='"eu-west-1"')
    problem = region_problem(region)
    if problem is not None:
        table.fail("region", problem, 'write it as `region = "eu-west-1"`')
    return AwsRegion(region)


def _url(table: Table, fields: tuple[str, ...], example: str) -> str:
    url: str = table.string("url", example=f'"{example}"')
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(url) if name is not None}
    except ValueError as error:
        table.fail(
            "url", f"{url!r} is not a valid template: {error}", f'write it as `url = "{example}"`'
        )
    unknown = names - set(fields)
    if unknown:
        allowed = ", ".join("{" + f + "}" for f in fields) if fields else "none"
        table.fail(
            "url",
            f"unknown placeholder {{{sorted(unknown)[0]}}} in {url!r}",
            f"placeholders allowed here: {allowed}",
            goes_on=True,
        )
    parts, problem = split_url(url.format(**{f: "x" for f in fields}))
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        table.fail(
            "url", problem or f"{url!r} is not an http(s) URL", f'write it as `url = "{example}"`'
        )
    return url


def _dns_label(table: Table, key: str, default: str | None, *, max_length: int = 63) -> str | None:
    value: str | None = table.string(key, default, example='"hello-service"')
    if value is not None and (len(value) > max_length or not _DNS_LABEL.fullmatch(value)):
        table.fail(
            key,
            f"{value!r} is not a DNS label of at most {max_length} characters "
            "(lowercase letters, digits, '-')",
            f'write it as `{key} = "hello-service"`',
        )
    return value


def _parse_eks(table: Table) -> EksDeployConfig:
    region = _region(table)
    cluster = table.string("cluster", example='"dev"')
    url = _url(table, EKS_URL_FIELDS, "https://{namespace}.dev.example.com")
    overlay: str = table.string("overlay", "deploy/overlays/dev", example='"deploy/overlays/dev"')
    if overlay.startswith("/") or ".." in overlay.split("/"):
        table.fail(
            "overlay",
            f"expected a path inside the service directory, got {overlay!r}",
            'write it as `overlay = "deploy/overlays/dev"`',
            goes_on=True,
        )
    prefix = _dns_label(table, "namespace_prefix", "dev", max_length=MAX_NAMESPACE_PREFIX)
    if prefix is not None and (prefix == "kube" or prefix.startswith("kube-")):
        # Every namespace would be kube-<branch>: Kubernetes reserves kube-*.
        table.fail(
            "namespace_prefix",
            f"{prefix!r} makes every branch namespace start with kube-, which Kubernetes "
            "reserves for itself",
            'choose another prefix, e.g. `namespace_prefix = "dev"`',
            goes_on=True,
        )
    deployment = _dns_label(table, "deployment", None, max_length=253)
    image: str | None = table.string("image", None, example='"hello-service"')
    timeout = table.integer("rollout_timeout_seconds", 300, minimum=10, maximum=3600, example="300")
    ingress_class = _dns_label(table, "ingress_class", None, max_length=253)
    table.finish()
    return EksDeployConfig(
        region=region,
        cluster=cluster,
        url=url,
        overlay=overlay,
        namespace_prefix=prefix or "dev",
        deployment=deployment,
        image=image,
        rollout_timeout_seconds=timeout,
        ingress_class=ingress_class,
    )


def _parse_ec2(table: Table) -> Ec2DeployConfig:
    region = _region(table)
    url = _url(table, (), "http://hello.dev.example.internal:8080")
    tag_key: str = table.string("tag_key", "Environment", example='"Environment"')
    if not _TAG_KEY.fullmatch(tag_key) or tag_key.lower().startswith("aws:"):
        table.fail(
            "tag_key",
            f"{tag_key!r} is not a usable EC2 tag key",
            'write it as `tag_key = "Environment"`',
        )
    tag_value: str = table.string("tag_value", "dev", example='"dev"')
    host_port = table.integer("host_port", None, minimum=1, maximum=65535, example="8080")
    container_name = _dns_label(table, "container_name", None)
    command_timeout = table.integer(
        "command_timeout_seconds", 600, minimum=30, maximum=172800, example="600"
    )
    health_timeout = table.integer(
        "health_timeout_seconds", 120, minimum=1, maximum=3600, example="120"
    )
    env = table.str_map("env", ())
    for name, _ in env:
        if not _ENV_NAME.fullmatch(name):
            table.fail(
                "env",
                f"{name!r} is not an environment variable name",
                "use letters, digits and '_', not starting with a digit",
            )
    table.finish()
    return Ec2DeployConfig(
        region=region,
        url=url,
        tag_key=tag_key,
        tag_value=tag_value,
        host_port=host_port,
        container_name=container_name,
        command_timeout_seconds=command_timeout,
        health_timeout_seconds=health_timeout,
        env=env,
    )
