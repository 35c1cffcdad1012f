"""Validate GitLab CI/CD components: GitLab's schema on each of their two documents.

check-jsonschema reads one YAML document per file, and a component is two:
its ``spec:`` header, then the jobs after ``---``. This splits each file
given, validates both halves with ``check-jsonschema --builtin-schema
vendor.gitlab-ci`` (as the gitlab-ci-schema hook does for .gitlab-ci.yml),
and then applies the component's own policies (tests/ci_policies.py). The
``gitlab-component`` git hook runs it::

    python -m tests.gitlab_component templates/pipelines/template.yml
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.ci_policies import gitlab_policy_problems
from tests.ci_wrappers import WrapperError, split_component

SCHEMA = [
    "--builtin-schema",
    "vendor.gitlab-ci",
    "--data-transform",
    "gitlab-ci",
    "--regex-variant",
    "nonunicode",
]


def component_problems(path: Path) -> list[str]:
    try:
        header, jobs = split_component(path)
    except WrapperError as error:
        return [str(error)]
    checker = shutil.which("check-jsonschema")
    if checker is None:
        return ["check-jsonschema is not on PATH: activate the project's virtualenv"]
    problems = []
    with tempfile.TemporaryDirectory() as directory:
        for name, text in (("spec", header), ("jobs", jobs)):
            part = Path(directory) / f"{path.stem}.{name}.yml"
            part.write_text(text, encoding="utf-8")
            result = subprocess.run(
                [checker, *SCHEMA, str(part)],
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            if result.returncode != 0:
                problems.append(f"{path} ({name} document):\n{result.stdout}{result.stderr}")
    return problems + gitlab_policy_problems(path)


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    problems = [problem for name in argv for problem in component_problems(Path(name))]
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
