"""Cache volume names: every key the module mounts is namespaced by trust level and service.

A Dagger cache volume is shared by every call on one engine that names the
same key (within the module's namespace, which the engine derives from the
module's repository, not its version). Without a namespace a feature branch
could write the Trivy DB or a package cache that the release job then reads,
and one service's `[toolchain] caches` key could name another's. So every key
becomes ``portable-pipelines/<trust level>/<service>/<key>``:

- the trust level comes from the CI entry point (``--trust-level``): it keeps
  caches apart where one engine serves several levels by mistake, and says on
  the engine which level wrote a volume. It is *not* the boundary: anyone
  who can reach an engine can pass any level. The boundary is one engine per
  trust level that only that level's jobs can reach (docs/ci/shared-engine.md);
- the service is ``[service] name`` (a DNS label: it cannot hold ``/``), so
  the prefix is unambiguous whatever the key after it says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pipelines.errors import InputError

CACHE_PREFIX: Final = "portable-pipelines"

# The pools of docs/ci/shared-engine.md: branches and pull/merge requests run
# untrusted code; only the protected release branch runs as "release".
TRUST_LEVELS: Final = ("untrusted", "release")
# The least trusted level by default: a job that forgets the argument never
# reads or writes what release jobs cached.
DEFAULT_TRUST_LEVEL: Final = "untrusted"

TRIVY_DB: Final = "trivy-db"


def parse_trust_level(value: str, *, argument: str = "trust-level") -> str:
    """``value`` if it is one of TRUST_LEVELS exactly (no case folding, no whitespace)."""
    if value not in TRUST_LEVELS:
        raise InputError(
            argument=argument,
            problem=f"{value!r} is not a trust level",
            fix="pass one of "
            + ", ".join(f"--{argument}={level}" for level in TRUST_LEVELS)
            + " (release only from the protected release branch's job)",
        )
    return value


@dataclass(frozen=True, kw_only=True)
class CacheScope:
    """Where one call's cache volumes live: ``portable-pipelines/<trust>/<service>/``."""

    trust_level: str
    service: str

    def __post_init__(self) -> None:
        parse_trust_level(self.trust_level)
        if not self.service or "/" in self.service:
            raise ValueError(f"a service name holds no '/' (got {self.service!r})")

    @property
    def prefix(self) -> str:
        return f"{CACHE_PREFIX}/{self.trust_level}/{self.service}/"

    def key(self, name: str) -> str:
        """The volume key of the cache ``name`` (a `[toolchain] caches` key, or TRIVY_DB)."""
        if not name:
            raise ValueError("a cache key is not empty")
        return self.prefix + name
