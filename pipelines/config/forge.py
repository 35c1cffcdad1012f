"""[forge]: the repository or project the pipelines talk to, for every use.

    [forge]
    provider = "github"                        # or "gitlab"
    repository = "acme/hello-service"          # GitHub: owner/name
    # project = "acme/platform/hello-service"  # GitLab: numeric id or full path
    # api_url = "https://github.example.com/api/v3"   # GitHub Enterprise / self-managed GitLab

Commit statuses are posted there, and ``promote`` opens its pull/merge
request there. The token is never configured here: it is a Secret argument
of the function.

These keys used to be part of ``[status]``. They are still read there, as the
forge, and the config then carries a deprecation message saying what to write
instead; ``[forge]`` and the old keys at once is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config._reader import Table
from pipelines.errors import did_you_mean
from pipelines.forge import FORGES
from pipelines.urls import api_url_problem

__all__ = ["FORGE_KEYS", "ForgeConfig", "api_url_problem", "parse_forge"]

# The keys of [forge]; the same keys in [status] are the deprecated spelling.
FORGE_KEYS = ("provider", "repository", "project", "api_url")
# The keys that name where the service lives: each forge uses one of them.
_LOCATOR_KEYS = ("repository", "project")


@dataclass(frozen=True, kw_only=True)
class ForgeConfig:
    provider: str  # a key of pipelines.forge.FORGES: "github" | "gitlab"
    # Without a trailing slash.
    api_url: str
    # GitHub "owner/name"; None for GitLab.
    repository: str | None = None
    # GitLab numeric id or "group/sub/project"; None for GitHub.
    project: str | None = None


def parse_forge(
    forge: Table | None, status: Table | None, *, file: str
) -> tuple[ForgeConfig | None, tuple[str, ...]]:
    """The forge, and the deprecation messages of how it was written.

    From ``[forge]``; else from the old forge keys of ``[status]`` (which the
    caller finishes after reading its contexts), with a deprecation message.
    """
    old_keys = [key for key in FORGE_KEYS if status is not None and status.has(key)]
    if forge is not None:
        if status is not None and old_keys:
            status.fail(
                old_keys[0],
                f"both [forge] and the old forge keys of [status] ({_and(old_keys)}) are set, "
                "so which forge is meant is unclear",
                f"remove {_and(old_keys)} from [status]: [forge] replaces them",
            )
        config = _read(forge, section="forge")
        forge.finish()
        return config, ()
    if status is None or not old_keys:
        return None, ()
    config = _read(status, section="status")
    return config, (_deprecation(config, old_keys, file=file),)


def _read(table: Table, *, section: str) -> ForgeConfig:
    provider = table.string("provider", example='"github"')
    if provider not in FORGES:
        table.fail(
            "provider",
            f"unknown forge provider {provider!r}{did_you_mean(provider, FORGES)}",
            "use one of "
            + ", ".join(f'"{name}"' for name in FORGES)
            + " (Jenkins jobs report to the forge that hosts the code)",
        )
    kind = FORGES[provider]
    default_url = kind.default_api_url
    api_url: str = table.string("api_url", default_url, example=f'"{default_url}"')
    problem = api_url_problem(api_url)
    if problem is not None:
        table.fail(
            "api_url",
            problem,
            f'write an https URL without user:password@, e.g. `api_url = "{default_url}"`',
        )

    locator = kind.locator
    values: dict[str, str | None] = {
        key: table.string(key, None, example=f'"{locator.example}"') for key in _LOCATOR_KEYS
    }
    for key, stray in values.items():
        if key != locator.key and stray is not None:
            users = [name for name, other in FORGES.items() if other.locator.key == key]
            table.fail(
                key,
                f"`{key}` is for {' and '.join(users)}, not {provider}",
                f'replace it with `{locator.key} = "{stray}"`',
            )
    value = values[locator.key]
    if value is None:
        table.fail(
            locator.key,
            f"a {provider} forge needs the {locator.key}",
            f'add `{locator.key} = "{locator.example}"` under [{section}]',
        )
    problem = locator.problem(value)
    if problem is not None:
        table.fail(locator.key, problem, f'write it as `{locator.key} = "{locator.example}"`')
    return ForgeConfig(
        provider=provider,
        api_url=api_url.rstrip("/"),
        repository=values["repository"],
        project=values["project"],
    )


def _deprecation(config: ForgeConfig, old_keys: list[str], *, file: str) -> str:
    written = {
        "provider": config.provider,
        "repository": config.repository,
        "project": config.project,
        "api_url": config.api_url,
    }
    assignments = " and ".join(f'`{key} = "{written[key]}"`' for key in old_keys)
    return (
        f"{file}: status.{old_keys[0]} is deprecated: move {_and(old_keys)} to a [forge] table "
        f"(write `[forge]` with {assignments}); [status] keeps only the status contexts"
    )


def _and(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]
