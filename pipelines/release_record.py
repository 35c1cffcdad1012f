"""``release.json``: what the release pipeline pushed, for promotion later.

Build once, deploy many: the digest recorded here is the one that is
promoted to STAGING and PROD, never a tag.
"""

from __future__ import annotations

import json

from pipelines.publishing import Published
from pipelines.values import CommitId

RELEASE_FILE = "release.json"


def release_json(*, service: str, published: Published, commit: CommitId, version: str) -> str:
    """The record: ``ref`` is ``repository@sha256:...``, what a deployment pins."""
    document = {
        "service": service,
        "ref": str(published.ref),
        "digest": str(published.digest),
        "commit": commit.value,
        "version": version,
        "tags": list(published.tags),
    }
    return json.dumps(document, indent=2) + "\n"
