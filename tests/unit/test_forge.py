"""The forge layer without a network: one registry, the token hints, the fixes, redaction.

The clients' conversations with GitHub and GitLab are tested against real
HTTP servers on loopback: tests/integration/test_status_clients.py,
test_promotion.py and test_branch_protection.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.branch_protection import ProtectionPolicy
from pipelines.config import parse_config
from pipelines.config.forge import ForgeConfig
from pipelines.errors import InputError
from pipelines.forge import (
    FORGES,
    PURPOSES,
    ChangeRequest,
    CommitStatus,
    FileChange,
    Forge,
    ForgeError,
    ForgeKind,
    Locator,
    RemoteFile,
    RetryPolicy,
    Sleep,
    make_forge,
)
from pipelines.forge.github import GitHubForge
from pipelines.forge.gitlab import GitLabForge
from pipelines.forge.http import BODY_EXCERPT, Answer, Connection, default_sleep, excerpt
from pipelines_cli.branch_protection import parse_args

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-Q7f3Zp9Lw2"
SERVICE = '[service]\nname = "app"\nport = 8080\n'


# --- one registry --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        (
            ForgeConfig(
                provider="github",
                api_url="https://github.example.com/api/v3",
                repository="acme/hello-service",
            ),
            GitHubForge,
        ),
        (
            ForgeConfig(
                provider="gitlab", api_url="https://gitlab.example.com/api/v4", project="7"
            ),
            GitLabForge,
        ),
    ],
)
def test_one_registry_builds_either_forge_with_its_url_and_a_hidden_token(
    config: ForgeConfig, kind: type
) -> None:
    forge = make_forge(config, f"{TOKEN}\n", argument="git-token", purpose="promotion")
    assert isinstance(forge, kind)
    assert isinstance(forge, GitHubForge | GitLabForge)
    assert forge.provider == config.provider
    assert forge.api_url == config.api_url
    assert forge.token == TOKEN
    assert TOKEN not in repr(forge)


def test_every_registered_forge_covers_every_use() -> None:
    # Statuses, promotion and protection are methods of one client per forge.
    wanted = {
        name
        for name in dir(Forge)
        if not name.startswith("_") and name not in dir(object) and name != "provider"
    }
    assert wanted >= {"post_status", "read_file", "commit_file", "protect_branch"}
    for provider, kind in FORGES.items():
        forge = kind.connect(
            ForgeConfig(
                provider=provider,
                api_url=kind.default_api_url,
                **{kind.locator.key: kind.locator.example},
            ),
            TOKEN,
            RetryPolicy(),
            default_sleep,
        )
        assert wanted <= set(dir(forge)), provider
        # Every purpose has its permissions hint and its usual token variable.
        assert set(kind.permissions) == set(kind.token_variables) == set(PURPOSES), provider


@pytest.mark.parametrize(
    ("provider", "purpose", "argument", "hint"),
    [
        (
            "github",
            "statuses",
            "status-token",
            "--status-token=env://GITHUB_TOKEN: a token with Commit statuses: write",
        ),
        ("github", "promotion", "git-token", "Pull requests: write"),
        ("gitlab", "statuses", "status-token", "--status-token=env://GITLAB_STATUS_TOKEN"),
        ("gitlab", "promotion", "forge-token", "--forge-token=env://GITLAB_TOKEN"),
        ("gitlab", "promotion", "forge-token", "the api scope and at least the Developer role"),
    ],
)
@pytest.mark.parametrize("token", [None, "", " \n"])
def test_a_missing_token_names_the_argument_and_where_a_token_comes_from(
    provider: str, purpose: str, argument: str, hint: str, token: str | None
) -> None:
    kind = FORGES[provider]
    config = ForgeConfig(
        provider=provider, api_url=kind.default_api_url, **{kind.locator.key: "1234/x"}
    )
    with pytest.raises(InputError) as caught:
        make_forge(config, token, argument=argument, purpose=purpose)  # type: ignore[arg-type]
    assert caught.value.argument == argument
    assert f"on {kind.title} needs a token, but none was given" in caught.value.problem
    assert hint in caught.value.fix


@dataclass(frozen=True, kw_only=True)
class Gitea:
    """A third forge, as a contributor would add it (only what the test needs)."""

    repository: str
    token: str = field(repr=False)
    api_url: str
    provider: str = "gitea"
    where: str = "Gitea repository"

    async def post_status(self, status: CommitStatus) -> None:
        raise NotImplementedError

    async def read_file(self, path: str, *, ref: str) -> RemoteFile:
        raise NotImplementedError

    async def branch_exists(self, branch: str) -> bool:
        raise NotImplementedError

    async def commit_file(self, change: FileChange) -> None:
        raise NotImplementedError

    async def find_change_request(self, *, branch: str, base: str) -> str | None:
        raise NotImplementedError

    async def open_change_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> ChangeRequest:
        raise NotImplementedError

    async def protect_branch(self, policy: ProtectionPolicy) -> list[str]:
        raise NotImplementedError


def _gitea(config: ForgeConfig, token: str, retry: RetryPolicy, sleep: Sleep) -> Forge:
    assert config.repository is not None
    return Gitea(repository=config.repository, token=token, api_url=config.api_url)


GITEA = ForgeKind(
    title="Gitea",
    default_api_url="https://gitea.example.com/api/v1",
    locator=Locator(
        key="repository",
        pattern=re.compile(r"[\w.-]+/[\w.-]+"),
        example="acme/app",
        description="a Gitea owner/name",
    ),
    permissions={p: "write:repository" for p in ("statuses", "promotion", "protection")},
    token_variables={p: "GITEA_TOKEN" for p in ("statuses", "promotion", "protection")},
    connect=_gitea,
)


def test_a_forge_added_to_the_registry_is_accepted_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(FORGES, "gitea", GITEA)

    config = parse_config(SERVICE + '[forge]\nprovider = "gitea"\nrepository = "acme/app"\n')
    assert config.forge == ForgeConfig(
        provider="gitea", api_url="https://gitea.example.com/api/v1", repository="acme/app"
    )
    forge = make_forge(config.forge, TOKEN, argument="status-token", purpose="statuses")
    assert isinstance(forge, Gitea)
    assert parse_args(["--provider=gitea", "--repository=acme/app"]).provider == "gitea"
    with pytest.raises(InputError, match="env://GITEA_TOKEN"):
        make_forge(config.forge, None, argument="status-token", purpose="statuses")


def test_the_default_api_urls_are_written_once_in_the_code() -> None:
    # Config defaults, the CLI and the clients all import them from the forge modules.
    for url, home in [
        ("https://api.github.com", "pipelines/forge/github.py"),
        ("https://gitlab.com/api/v4", "pipelines/forge/gitlab.py"),
    ]:
        places = [
            f"{path.relative_to(ROOT)}:{number}"
            for folder in ("pipelines", "ci", "pipelines_cli")
            for path in sorted((ROOT / folder).rglob("*.py"))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if url in line
        ]
        assert len(places) == 1, places
        assert places[0].startswith(home + ":"), places


# --- fixes, per purpose --------------------------------------------------------------------


def connection(provider: str) -> Connection:
    forge = FORGES[provider].connect(
        ForgeConfig(
            provider=provider, api_url="https://forge.example.com", repository="a/b", project="a/b"
        ),
        TOKEN,
        RetryPolicy(),
        default_sleep,
    )
    api: Connection = forge._api  # type: ignore[attr-defined]
    return api


@pytest.mark.parametrize(
    ("provider", "status", "purpose", "says"),
    [
        ("github", 403, "statuses", "Commit statuses: write"),
        ("github", 403, "promotion", "promote branches must not be protected"),
        ("github", 403, "protection", "Administration: write"),
        ("gitlab", 403, "protection", "the Maintainer role"),
        ("github", 404, "statuses", "check [forge] repository and api_url"),
        ("gitlab", 404, "promotion", "check [forge] project and api_url, the base branch"),
        ("gitlab", 404, "protection", "check --repository, --branch and --api-url"),
        ("github", 422, "statuses", "check the commit id and the context name"),
        ("github", 422, "protection", "check the branch name and the status context"),
        ("github", 422, "promotion", "see the answer above"),
        ("gitlab", 401, "statuses", "the token was rejected"),
    ],
)
def test_a_refusal_gets_the_fix_of_its_forge_and_purpose(
    provider: str, status: int, purpose: str, says: str
) -> None:
    error = connection(provider).refused(
        Answer(status=status, text='{"message": "no"}'),
        "do it",
        purpose=purpose,  # type: ignore[arg-type]
    )
    assert isinstance(error, ForgeError)
    assert error.problem == f'do it: refused with HTTP {status} {{"message": "no"}}'
    assert error.fix is not None
    assert says in error.fix
    assert str(error) == f"{error.where}: {error.problem}\n  fix: {error.fix}"


# --- redaction -----------------------------------------------------------------------------


def fragments(text: str, secret: str, size: int = 4) -> list[str]:
    """Pieces of ``secret`` (``size`` characters or more) found in ``text``."""
    return [
        secret[i : i + size] for i in range(len(secret) - size + 1) if secret[i : i + size] in text
    ]


@pytest.mark.parametrize("offset", range(BODY_EXCERPT - len(TOKEN) - 1, BODY_EXCERPT + 2))
def test_an_answer_is_redacted_before_it_is_cut_short(offset: int) -> None:
    # A token straddling the cut must not leave its first characters behind:
    # cutting first and redacting the excerpt would miss the cut token.
    body = "x" * offset + TOKEN + " and more " * 40
    quoted = excerpt(body, secret=TOKEN)
    assert fragments(quoted, TOKEN) == []
    assert len(quoted) <= BODY_EXCERPT + len("...")
    error = connection("github").refused(Answer(status=500, text=body), "do it", purpose="statuses")
    assert fragments(str(error), TOKEN) == []


def test_a_short_answer_keeps_its_text_with_the_token_masked() -> None:
    assert excerpt(f"bad  token\n{TOKEN}!", secret=TOKEN) == "bad token ***!"


def test_the_fragment_check_would_see_a_leak() -> None:
    # The property above can fail: a token cut in half is found.
    assert fragments("x" * 10 + TOKEN[:6], TOKEN) != []
