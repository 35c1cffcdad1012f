"""The documented IAM trust policies, and a small evaluator of the part of IAM they use.

docs/snippets/trust/*.json are the trust policies the CI pages show (each
page includes its two files verbatim). tests/unit/test_trust_model.py reads
them and asks, for the OIDC tokens each CI system issues, which role a token
may assume: a feature branch must never get the release role.

The evaluator models exactly what those policies use, as IAM documents it
(IAM JSON policy elements: Condition operators), and refuses anything else
by name, so a policy that relies on an unmodelled feature fails loudly
instead of being judged wrong:

- ``Effect`` Allow or Deny; an explicit Deny wins; nothing allowed means no;
- ``Action`` a string or a list, ``*`` and ``?`` as wildcards;
- ``Principal`` ``{"Federated": ARN or [ARN, ...]}``;
- ``Condition`` operators ``StringEquals``, ``StringNotEquals``,
  ``StringLike``, ``StringNotLike``. Several operators, and several keys of
  one operator, must all match (AND); several values of one key match when
  any does (OR). A key the request lacks fails a positive operator and
  satisfies a negated one. Comparison is case-sensitive; in ``StringLike``
  ``*`` matches any run of characters (``/`` and ``:`` included) and ``?``
  one character, and nothing else is special.

AWS evaluates only ``aud`` and ``sub`` (and ``amr`` for some providers) of a
generic OIDC provider's token: custom claims such as GitLab's
``ref_protected`` or GitHub's ``job_workflow_ref`` cannot be conditions
(GitHub's "Configuring OpenID Connect in Amazon Web Services": "AWS doesn't
support custom claims for OIDC"). :func:`token_context` therefore puts only
those two claims in the request, whatever else a token carries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.module_release import ROOT

TRUST_POLICIES = ROOT / "docs" / "snippets" / "trust"
ASSUME_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
# The claims AWS exposes as condition keys for a generic OIDC provider.
EVALUATED_CLAIMS = ("aud", "sub")

_OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"}


class PolicyError(AssertionError):
    """The policy uses something this evaluator does not model."""


@dataclass(frozen=True)
class Provider:
    """An IAM OIDC identity provider: its ARN and the prefix of its condition keys."""

    arn: str
    host: str  # e.g. token.actions.githubusercontent.com, gitlab.com, jenkins.acme.com/oidc


@dataclass(frozen=True)
class Request:
    """An ``sts:AssumeRoleWithWebIdentity`` call: who federates, and the token's claims."""

    federated: str
    context: Mapping[str, str]
    action: str = ASSUME_WEB_IDENTITY


# The providers the documented policies trust (docs/snippets/trust/<ci>-*.json).
PROVIDERS = {
    "github": Provider(
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        "token.actions.githubusercontent.com",
    ),
    "gitlab": Provider("arn:aws:iam::123456789012:oidc-provider/gitlab.com", "gitlab.com"),
    "jenkins": Provider(
        "arn:aws:iam::123456789012:oidc-provider/jenkins.acme.com/oidc", "jenkins.acme.com/oidc"
    ),
}


def token_context(provider: Provider, claims: Mapping[str, str]) -> dict[str, str]:
    """The condition keys a token of ``provider`` puts in a request: ``<host>:aud``, ``:sub``."""
    return {f"{provider.host}:{name}": claims[name] for name in EVALUATED_CLAIMS if name in claims}


def request_for(provider: Provider, claims: Mapping[str, str]) -> Request:
    return Request(federated=provider.arn, context=token_context(provider, claims))


def load_policy(name: str, directory: Path = TRUST_POLICIES) -> dict[str, Any]:
    policy = json.loads((directory / name).read_text(encoding="utf-8"))
    if not isinstance(policy, dict) or policy.get("Version") != "2012-10-17":
        raise PolicyError(f"{name}: a policy document with Version 2012-10-17")
    return policy


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def string_like(value: str, pattern: str) -> bool:
    return _wildcard(pattern).fullmatch(value) is not None


def _values(value: Any, where: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{where}: a string or a list of strings, found {value!r}")
    return values


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str], where: str) -> bool:
    for operator, keys in condition.items():
        if operator not in _OPERATORS:
            raise PolicyError(f"{where}: condition operator {operator!r} is not modelled")
        if not isinstance(keys, Mapping):
            raise PolicyError(f"{where}: {operator} needs a map of condition keys")
        negated = "Not" in operator
        like = operator.endswith("Like")
        for key, wanted in keys.items():
            patterns = _values(wanted, f"{where} {operator} {key}")
            if key not in context:
                if not negated:
                    return False
                continue
            actual = context[key]
            matched = any(
                string_like(actual, pattern) if like else actual == pattern for pattern in patterns
            )
            if matched == negated:
                return False
    return True


def _statement_applies(statement: Mapping[str, Any], request: Request, where: str) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Principal", "Action", "Condition"}
    if unknown:
        raise PolicyError(f"{where}: statement keys {sorted(unknown)} are not modelled")
    actions = _values(statement.get("Action"), f"{where} Action")
    if not any(string_like(request.action, action) for action in actions):
        return False
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping) or set(principal) != {"Federated"}:
        raise PolicyError(f"{where}: Principal must be {{'Federated': ...}}, found {principal!r}")
    if request.federated not in _values(principal["Federated"], f"{where} Principal"):
        return False
    return _condition_holds(statement.get("Condition") or {}, request.context, where)


def allows(policy: Mapping[str, Any], request: Request, name: str = "policy") -> bool:
    """True when the trust policy lets ``request`` assume the role."""
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, Sequence) or not statements:
        raise PolicyError(f"{name}: no Statement")
    allowed = False
    for number, statement in enumerate(statements, start=1):
        where = f"{name} statement {number}"
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{where}: Effect must be Allow or Deny, found {effect!r}")
        if _statement_applies(statement, request, where):
            if effect == "Deny":
                return False
            allowed = True
    return allowed


def documented_policy_problems(path: Path) -> list[str]:
    """A docs/snippets/trust file: named <ci>-<dev|release>.json, pinned, and evaluable."""
    ci, _, role = path.stem.partition("-")
    if ci not in PROVIDERS or role not in ("dev", "release"):
        return [f"{path.name}: name it <github|gitlab|jenkins>-<dev|release>.json"]
    policy = load_policy(path.name, path.parent)
    problems = pinning_problems(policy, PROVIDERS[ci], path.name)
    # Evaluating an empty request walks every statement: an unmodelled
    # operator or key raises PolicyError here, naming it.
    allows(policy, Request(PROVIDERS[ci].arn, {}), path.name)
    return problems


def pinning_problems(policy: Mapping[str, Any], provider: Provider, name: str) -> list[str]:
    """Each Allow must name the provider and pin the token's audience and subject.

    A statement without a ``sub`` condition trusts every repository, project
    or job the provider issues tokens for; one without ``aud`` trusts tokens
    minted for another service.
    """
    problems = []
    for number, statement in enumerate(policy.get("Statement") or [], start=1):
        if statement.get("Effect") != "Allow":
            continue
        where = f"{name} statement {number}"
        federated = (statement.get("Principal") or {}).get("Federated")
        if federated != provider.arn:
            problems.append(f"{where}: Principal.Federated must be {provider.arn}")
        if statement.get("Action") != ASSUME_WEB_IDENTITY:
            problems.append(f"{where}: Action must be exactly {ASSUME_WEB_IDENTITY}")
        condition = statement.get("Condition") or {}
        equals = condition.get("StringEquals") or {}
        if f"{provider.host}:aud" not in equals:
            problems.append(f"{where}: StringEquals {provider.host}:aud (the audience)")
        pinned = {
            key
            for operator in ("StringEquals", "StringLike")
            for key in condition.get(operator) or {}
        }
        if f"{provider.host}:sub" not in pinned:
            problems.append(f"{where}: a condition on {provider.host}:sub (the subject)")
    return problems
