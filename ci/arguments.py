"""The arguments several functions share, declared once with their help text.

The Dagger CLI shows each ``Doc`` as the flag's help (``dagger call dev --help``),
so one wording serves every function that takes the argument.
"""

# No `from __future__ import annotations` here: the SDK reads each Doc() from
# the annotation objects, which that import would turn into strings.

from typing import Annotated

import dagger
from dagger import Doc, Ignore

# Never uploaded with a directory argument: caches and environments that are
# large, machine-specific, and irrelevant to the service's build.
SOURCE_IGNORE = [
    ".git",
    "**/.venv",
    "**/node_modules",
    "**/__pycache__",
    "**/.mypy_cache",
    "**/.ruff_cache",
    "**/.pytest_cache",
    "reports",
    # Local secrets (the compose file's database password): never uploaded.
    "**/.env",
]

Sha = Annotated[str, Doc("The full commit id, e.g. $(git rev-parse HEAD)")]
BranchName = Annotated[str, Doc("The branch the commit is on, as git shows it")]
RunUrl = Annotated[str | None, Doc("Link to the CI run, shown on the commit status")]
ReportStatus = Annotated[bool, Doc("Post commit statuses to the [forge]; false for a local run")]
Manifests = Annotated[
    dagger.Directory | None,
    Doc("Where [deploy.eks] overlay paths start (default: --source)"),
    Ignore(SOURCE_IGNORE),
]
DeploymentUrl = Annotated[
    str | None, Doc("Test this deployment (e.g. the dev environment) instead of the built image")
]
ScanImage = Annotated[str | None, Doc("Scan this published image instead of building --source")]
RegistryUsername = Annotated[str, Doc("Registry user for --image (ECR: AWS)")]
RegistryPassword = Annotated[
    dagger.Secret | None, Doc("Registry password for --image, e.g. env://ECR_TOKEN")
]
