"""The offline evaluators the parity tests stand on: each CI system's semantics, the CLI's names.

If these were wrong, the parity tests would compare the wrong lines; so each
rule the entry points rely on is pinned here, with the case that would
expose a naive implementation.
"""

from __future__ import annotations

import pytest

from tests.ci_expressions import (
    ExpressionError,
    expand_line,
    github_condition,
    github_evaluate,
    github_template,
    gitlab_condition,
    unconditional_references,
)


def test_github_and_or_return_an_operand_as_github_does() -> None:
    context = {"inputs.dev-target": "eks", "secrets.dev-kubeconfig": "K"}
    kubeconfig = "inputs.dev-target == 'eks' && secrets.dev-kubeconfig || ''"
    assert github_evaluate(kubeconfig, context) == "K"
    assert github_evaluate(kubeconfig, {**context, "inputs.dev-target": "ec2"}) == ""
    # An absent secret is empty, as on GitHub: eks without one passes no flag.
    assert github_evaluate(kubeconfig, {"inputs.dev-target": "eks"}) == ""


def test_github_compares_strings_ignoring_case() -> None:
    assert github_evaluate("inputs.x == 'EKS'", {"inputs.x": "eks"}) is True
    assert github_evaluate("!(inputs.x != 'a')", {"inputs.x": "A"}) is True


def test_github_conditions_with_or_without_the_braces() -> None:
    context = {"github.event_name": "push", "github.ref_name": "main", "inputs.b": "main"}
    assert github_condition("github.event_name == 'push' && github.ref_name == inputs.b", context)
    assert github_condition("${{ github.ref_name != inputs.b }}", context) is False


def test_github_templates_render_each_expression() -> None:
    rendered = github_template(
        "${{ inputs.a }}-${{ inputs.b == 'x' }}", {"inputs.a": "1", "inputs.b": "x"}
    )
    assert rendered == "1-true"


def test_a_github_path_the_test_does_not_model_is_refused() -> None:
    with pytest.raises(ExpressionError, match=r"github\.actor is not in the context"):
        github_evaluate("github.actor == 'me'", {})
    with pytest.raises(ExpressionError, match="cannot read"):
        github_evaluate("contains(inputs.a, 'x')", {"inputs.a": "x"})


def test_gitlab_rules_as_gitlab_reads_them() -> None:
    push = {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "feature/x"}
    dev = '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH && $CI_COMMIT_BRANCH != "main"'
    assert gitlab_condition(dev, push)
    # A tag pipeline has no CI_COMMIT_BRANCH: the variable alone is false.
    assert not gitlab_condition(dev, {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1"})
    assert gitlab_condition("$CI_COMMIT_TAG == null", push)
    assert gitlab_condition("($A == 'x' || $B) && $C", {"B": "1", "C": "1"})


def test_the_shell_expansion_of_a_line() -> None:
    line = (
        "dagger",
        "-m",
        "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}",
        "${PIPELINES_KUBECONFIG:+--kubeconfig=env://PIPELINES_KUBECONFIG}",
        "--sha=$PIPELINE_SHA",
    )

    def inputs(name: str) -> bool:
        return name.startswith("PIPELINES_")

    env = {"PIPELINES_MODULE": "m", "PIPELINES_VERSION": "v1.0.0", "PIPELINES_KUBECONFIG": "k"}
    assert expand_line(line, env, inputs) == (
        "dagger",
        "-m",
        "m@v1.0.0",
        "--kubeconfig=env://PIPELINES_KUBECONFIG",
        "--sha=$PIPELINE_SHA",
    )
    # Unset and empty are the same to `:+`; an unquoted empty expansion is no word.
    assert expand_line(line, {"PIPELINES_MODULE": ".", "PIPELINES_KUBECONFIG": ""}, inputs) == (
        "dagger",
        "-m",
        ".",
        "--sha=$PIPELINE_SHA",
    )


def test_what_a_word_always_reads() -> None:
    assert unconditional_references("${K:+--kubeconfig=env://K}") == set()
    assert unconditional_references('--sha="$S"') == {"S"}
    assert unconditional_references("--token=env://T") == {"T"}
