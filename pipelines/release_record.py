"""``release.json``: what the release pipeline pushed, for promotion later.

Build once, deploy many: the digest recorded here is the one that is
promoted to STAGING and PROD, never a tag.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from pipelines.errors import PipelinesError

RELEASE_FILE = "release.json"
_REF = re.compile(
    r"^(?P<name>[^@\s]+?)(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@(?P<digest>sha256:[0-9a-f]{64})$"
)


@dataclass(frozen=True, kw_only=True)
class ReleaseRecord:
    service: str
    # repository@sha256:...: what a deployment pins.
    ref: str
    digest: str
    commit: str
    version: str
    tags: tuple[str, ...]


def pinned_ref(published: str) -> tuple[str, str]:
    """``repo:tag@sha256:...`` (what publish returns) -> (``repo@sha256:...``, digest)."""
    match = _REF.match(published.strip())
    if match is None:
        raise PipelinesError(
            f"the registry returned {published!r}, not a reference with a sha256 digest"
            "\n  fix: retry the push; report it if it persists"
        )
    return f"{match['name']}@{match['digest']}", match["digest"]


def to_json(record: ReleaseRecord) -> str:
    document = asdict(record)
    document["tags"] = list(record.tags)
    return json.dumps(document, indent=2) + "\n"
