"""Schema validation: built-in kinds with kubernetes-validate, Argo kinds with their JSON schemas.

``kubernetes-validate`` knows only the built-in kinds: for a custom resource
it prints a warning and passes. So every Argo resource is validated with
``jsonschema`` against the schema of its CRD, shipped with this package in
``argo-schemas/`` (its README says where each one comes from), and a custom
resource without a schema is a problem, never a pass.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from pipelines_cli.deploy_checks.manifests import Document, api_group, tool
from pipelines_cli.deploy_checks.problems import problem

KUBERNETES_VERSION = "1.32"

# The schemas are package data: the tool carries them wherever it is installed.
SCHEMA_DIR = "argo-schemas"
# How messages name that directory (where it lives in this repository).
SCHEMA_DIR_SHOWN = f"pipelines_cli/deploy_checks/{SCHEMA_DIR}"

ARGO_SCHEMAS = {
    ("argoproj.io/v1alpha1", "Application"): "application_v1alpha1.json",
    ("argoproj.io/v1alpha1", "ApplicationSet"): "applicationset_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AppProject"): "appproject_v1alpha1.json",
    ("argoproj.io/v1alpha1", "Rollout"): "rollout_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "analysistemplate_v1alpha1.json",
    ("argocd-image-updater.argoproj.io/v1alpha1", "ImageUpdater"): "imageupdater_v1alpha1.json",
    # Not Argo's, but validated the same way: the admission policy that verifies
    # release signatures (deploy/policies/).
    ("kyverno.io/v1", "ClusterPolicy"): "clusterpolicy_kyverno_v1.json",
}

# Groups that kubernetes-validate knows; anything else is a custom resource
# and needs a schema in ARGO_SCHEMAS, or it would pass unchecked.
_BUILTIN_GROUP = re.compile(r"([a-z0-9]+|[a-z0-9.-]+\.k8s\.io|apps|batch|policy|autoscaling)")


def is_builtin(document: Mapping[str, Any]) -> bool:
    return bool(_BUILTIN_GROUP.fullmatch(api_group(str(document.get("apiVersion", ""))) or "core"))


def validate_builtin(builds: Mapping[str, Sequence[Document]]) -> list[str]:
    """``kubernetes-validate --strict`` on the built-in kinds of every build.

    One process for all builds: each build goes to a file named after it, so
    the tool's messages say which build they are about.
    """
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="deploy-checks-") as scratch:
        files: dict[str, str] = {}
        for where, documents in builds.items():
            builtin = [doc for doc in documents if is_builtin(doc)]
            if not builtin:
                continue
            build_file = Path(scratch) / (where.replace("/", "__") + ".yaml")
            build_file.write_text(yaml.safe_dump_all(builtin, sort_keys=False), encoding="utf-8")
            files[str(build_file)] = where
        if not files:
            return problems
        result = subprocess.run(  # noqa: S603 (an argument list: the tool and our files)
            [tool("kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict", "--quiet", *files],
            capture_output=True,
            text=True,
            check=False,
        )
        output = (result.stdout + result.stderr).strip()
        # Only built-in kinds are sent, so a WARN (no schema for the kind) is
        # a misspelled apiVersion or kind, not a custom resource.
        for line in output.splitlines():
            if line.startswith(("ERROR", "WARN")):
                message = line
                for file_name, where in files.items():
                    message = message.replace(file_name, where)
                problems.append(
                    problem(message, fix=f"make it valid for Kubernetes {KUBERNETES_VERSION}")
                )
        if result.returncode != 0 and not problems:
            problems.append(
                problem(f"kubernetes-validate failed with exit {result.returncode}: {output}")
            )
    return problems


@cache
def argo_schema(file_name: str) -> dict[str, Any]:
    """The JSON schema ``file_name`` of ``argo-schemas/``, read from the installed package."""
    text = (
        resources.files("pipelines_cli.deploy_checks")
        .joinpath(SCHEMA_DIR, file_name)
        .read_text("utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate_custom(documents: Iterable[Document], *, where: str) -> list[str]:
    """Every custom resource against its schema; one without a schema is a problem."""
    problems = []
    for document in documents:
        if is_builtin(document):
            continue
        key = (str(document.get("apiVersion")), str(document.get("kind")))
        name = f"{key[1]}/{document.get('metadata', {}).get('name')}"
        schema_file = ARGO_SCHEMAS.get(key)
        if schema_file is None:
            problems.append(
                problem(
                    f"{where}: {name} ({key[0]}) has no schema to validate it against",
                    fix=f"add its CRD's schema to {SCHEMA_DIR_SHOWN} and ARGO_SCHEMAS",
                )
            )
            continue
        validator = jsonschema.Draft7Validator(argo_schema(schema_file))
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
            path = ".".join(str(part) for part in error.path) or "(root)"
            problems.append(
                problem(
                    f"{where}: {name}: {path}: {error.message}",
                    fix=f"see the {key[1]} CRD, {SCHEMA_DIR_SHOWN}/{schema_file}",
                )
            )
    return problems
