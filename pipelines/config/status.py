"""[status]: where the pipelines report commit statuses.

    [status]
    provider = "github"                        # or "gitlab"
    repository = "acme/hello-service"          # GitHub: owner/name
    # project = "acme/platform/hello-service"  # GitLab: numeric id or full path
    # api_url = "https://github.example.com/api/v3"   # GitHub Enterprise / self-managed GitLab
    # dev_context = "pipelines/dev"                    # "validations passed"
    # pre_merge_context = "pipelines/pre-merge"        # "safe to merge": make it required
    # release_context = "pipelines/release"

The token is never configured here: it is a Secret argument of the function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipelines.config._reader import Table

PROVIDERS = ("github", "gitlab")
DEFAULT_API_URLS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_GITLAB_PROJECT = re.compile(
    r"^(?:\d+|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+)$"
)
# GitHub caps a context at 255 characters; GitLab's name is as long.
_MAX_CONTEXT = 255


@dataclass(frozen=True, kw_only=True)
class StatusConfig:
    provider: str
    # Without a trailing slash.
    api_url: str
    # GitHub "owner/name"; None for GitLab.
    repository: str | None = None
    # GitLab numeric id or "group/sub/project"; None for GitHub.
    project: str | None = None
    dev_context: str = "pipelines/dev"
    pre_merge_context: str = "pipelines/pre-merge"
    release_context: str = "pipelines/release"

    def context_for(self, pipeline: str) -> str:
        """The commit-status name of a pipeline: "dev", "pre-merge" or "release"."""
        return {
            "dev": self.dev_context,
            "pre-merge": self.pre_merge_context,
            "release": self.release_context,
        }[pipeline]


def parse_status(table: Table | None) -> StatusConfig | None:
    if table is None:
        return None
    provider = table.string("provider", example='"github"')
    if provider not in PROVIDERS:
        table.fail(
            "provider",
            f"unknown status provider {provider!r}",
            "use one of "
            + ", ".join(f'"{p}"' for p in PROVIDERS)
            + " (Jenkins jobs report to the forge that hosts the code)",
        )
    api_url: str = table.string(
        "api_url", DEFAULT_API_URLS[provider], example=f'"{DEFAULT_API_URLS[provider]}"'
    )
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        table.fail(
            "api_url",
            f"{api_url!r} is not an http(s) base URL",
            f'write it as `api_url = "{DEFAULT_API_URLS[provider]}"`',
        )

    repository, project = _where(table, provider)

    contexts = {}
    for key, default in (
        ("dev_context", "pipelines/dev"),
        ("pre_merge_context", "pipelines/pre-merge"),
        ("release_context", "pipelines/release"),
    ):
        value: str = table.string(key, default, example=f'"{default}"')
        if len(value) > _MAX_CONTEXT:
            table.fail(
                key, f"longer than {_MAX_CONTEXT} characters", f'use a short name like "{default}"'
            )
        contexts[key] = value
    table.finish()
    return StatusConfig(
        provider=provider,
        api_url=api_url.rstrip("/"),
        repository=repository,
        project=project,
        **contexts,
    )


# Per provider: the key naming where statuses go, its pattern, and an example.
_WHERE = {
    "github": ("repository", _GITHUB_REPOSITORY, "acme/hello-service", "a GitHub owner/name"),
    "gitlab": ("project", _GITLAB_PROJECT, "group/project", "a GitLab project id or full path"),
}


def _where(table: Table, provider: str) -> tuple[str | None, str | None]:
    """``(repository, project)``: exactly the one the provider uses is set."""
    values: dict[str, str | None] = {
        key: table.string(key, None, example=f'"{example}"')
        for key, _, example, _ in _WHERE.values()
    }
    key, pattern, example, what = _WHERE[provider]
    for other, (other_key, _, _, _) in _WHERE.items():
        stray = values[other_key]
        if other != provider and stray is not None:
            table.fail(
                other_key,
                f"`{other_key}` is for {other}, not {provider}",
                f'replace it with `{key} = "{stray}"`',
            )
    value = values[key]
    if value is None:
        table.fail(
            key, f"{provider} statuses need the {key}", f'add `{key} = "{example}"` under [status]'
        )
    if not pattern.match(value):
        table.fail(key, f"{value!r} is not {what}", f'write it as `{key} = "{example}"`')
    return values["repository"], values["project"]
