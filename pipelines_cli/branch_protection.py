"""Protect the release branch of a repository: ``python -m pipelines_cli.branch_protection``.

Run it once per repository, and again whenever the policy changes; it is
idempotent::

    GITHUB_TOKEN=... python -m pipelines_cli.branch_protection \\
        --provider github --repository acme/hello-service --branch main

The token comes from an environment variable (``--token-env``; by default
the forge's usual one), never from an argument, so it stays out of shell
history and process lists. Expected failures exit 1 with the error on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence

import anyio

from pipelines.branch_protection import (
    DEFAULT_BRANCH,
    DEFAULT_REQUIRED_STATUS,
    ProtectionPolicy,
    protect,
)
from pipelines.config.forge import ForgeConfig, api_url_problem
from pipelines.errors import InputError, PipelinesError
from pipelines.forge import FORGES, make_forge


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines_cli.branch_protection",
        description="Protect the release branch: required pre-merge status, approvals, "
        "no force pushes. Idempotent.",
    )
    parser.add_argument("--provider", required=True, choices=sorted(FORGES))
    parser.add_argument(
        "--repository",
        required=True,
        help="GitHub owner/name, or GitLab project id or group/sub/project",
    )
    parser.add_argument("--branch", default=DEFAULT_BRANCH)
    parser.add_argument("--required-status", default=DEFAULT_REQUIRED_STATUS)
    parser.add_argument("--approvals", type=int, default=1)
    parser.add_argument(
        "--no-code-owner-review",
        dest="code_owner_review",
        action="store_false",
        help="GitHub: do not require a code owner's approval (.github/CODEOWNERS)",
    )
    parser.add_argument("--api-url", help="API base URL (GitHub Enterprise, self-managed GitLab)")
    parser.add_argument(
        "--token-env",
        help="environment variable holding the token (default: "
        + " or ".join(sorted({kind.token_variables["protection"] for kind in FORGES.values()}))
        + ")",
    )
    return parser.parse_args(argv)


def forge_config(provider: str, *, repository: str, api_url: str | None) -> ForgeConfig:
    """The forge the arguments name, checked as ``[forge]`` would be, with argument names."""
    kind = FORGES[provider]
    problem = kind.locator.problem(repository)
    if problem is not None:
        raise InputError(
            argument="repository",
            problem=problem,
            fix=f"pass the {kind.title} {kind.locator.key}, e.g. "
            f"--repository {kind.locator.example}",
        )
    url = api_url if api_url is not None else kind.default_api_url
    problem = api_url_problem(url)
    if problem is not None:
        raise InputError(
            argument="api-url",
            problem=problem,
            fix="pass the https API base URL without user:password@, e.g. "
            f"--api-url {kind.default_api_url}",
        )
    return ForgeConfig(provider=provider, api_url=url.rstrip("/"), **{kind.locator.key: repository})


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parse_args(argv)
    environ = os.environ if environ is None else environ
    variable = args.token_env or FORGES[args.provider].token_variables["protection"]
    try:
        policy = ProtectionPolicy(
            branch=args.branch,
            required_status=args.required_status,
            approvals=args.approvals,
            code_owner_review=args.code_owner_review,
        )
        config = forge_config(args.provider, repository=args.repository, api_url=args.api_url)
        token = environ.get(variable, "").strip()
        if not token:
            raise InputError(
                argument="token-env",
                problem=f"${variable} is empty or not set",
                fix=f"export {variable}=<a token that may administer the repository>",
            )
        forge = make_forge(config, token, argument="token-env", purpose="protection")
        done = anyio.run(protect, forge, policy)
    except PipelinesError as error:
        sys.stderr.write(f"branch protection: {error}\n")
        return 1
    sys.stdout.write("".join(f"{line}\n" for line in done))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
