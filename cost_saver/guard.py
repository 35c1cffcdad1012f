"""The production guard: act only where the environment is positively non-production.

It fails closed. A resource is parked or restored only when its own
environment tag (``environment`` by default) holds one of the configured
non-production values, and, for a node group or an ECS service, its cluster
carries no environment tag with any other value. A resource without the tag,
or tagged ``prod``, ``prd``, ``live`` or anything not on the list, is never
touched.

The rule is the one the Lambda role's IAM deny states
(infra/cost-saver/template.yaml, ``OnlyNonProduction``)::

    Deny <every mutating call> unless
        StringNotEqualsIgnoreCase aws:ResourceTag/environment: [the same list]

IAM compares condition key names (so the tag key) without regard to case, and
``StringNotEqualsIgnoreCase`` compares the value without regard to case but
exactly otherwise, and holds when the tag is missing: so does this module.
A value with stray spaces (``"dev "``) is refused here as IAM would refuse it,
with a reason that says so; the configured list itself is trimmed and
lower-cased when it is read. IAM cannot see a parent's tags: the cluster
check is the code's alone, which only makes the code stricter than the role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cost_saver.model import Resource

DEFAULT_TAG_KEY = "environment"
DEFAULT_ENVIRONMENTS = ("dev", "development", "test", "qa", "sandbox")
# Values that may never be listed as non-production, however the list is written.
PRODUCTION_NAMES = frozenset({"prod", "production", "prd", "live"})


@dataclass(frozen=True, kw_only=True)
class EnvironmentGuard:
    """The environment tag's key and the values that mean "not production"."""

    key: str = DEFAULT_TAG_KEY
    # Trimmed and lower-case (settings.py reads them so): values compare case aside.
    allowed: tuple[str, ...] = DEFAULT_ENVIRONMENTS

    def __post_init__(self) -> None:
        if not self.allowed or any(v != v.strip().lower() or not v for v in self.allowed):
            raise ValueError(f"allowed environments must be trimmed lower-case: {self.allowed!r}")

    def refusal(self, resource: Resource) -> str | None:
        """Why ``resource`` must not be touched, or None when it is positively non-production."""
        own = self._values(resource.tags)
        if not own:
            return (
                f"no {self.key} tag: only resources tagged {self.key}={self._choices()} "
                "are touched (the production guard fails closed)"
            )
        refused = [value for value in own if not self.allows(value)]
        if refused:
            return self._not_listed(refused[0], "tagged")
        if resource.parent is not None:
            refused = [v for v in self._values(resource.parent.tags) if not self.allows(v)]
            if refused:
                return self._not_listed(refused[0], f"in {resource.parent.label}, tagged")
        return None

    def allows(self, value: str) -> bool:
        """IAM's ``StringEqualsIgnoreCase`` against the list: case aside, exactly."""
        return value.lower() in self.allowed

    def _values(self, tags: Mapping[str, str]) -> list[str]:
        # Every key that IAM would read as this condition key: case does not matter.
        wanted = self.key.lower()
        return [value for key, value in tags.items() if key.lower() == wanted]

    def _not_listed(self, value: str, where: str) -> str:
        spaces = (
            " (mind the spaces: tag values are compared exactly)" if value != value.strip() else ""
        )
        return (
            f"{where} {self.key}={value!r}, which is not a non-production environment "
            f"({self._choices()}){spaces}: never touched"
        )

    def _choices(self) -> str:
        return "|".join(self.allowed)
