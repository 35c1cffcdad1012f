"""``release.json``: what the release pipeline pushed, for promotion later.

Build once, deploy many: the digest recorded here is the one that is
promoted to STAGING and PROD, never a tag. With ``[publish] signing_key`` the
record also holds the supply chain of that digest: the SBOM of each platform
(by digest), the signature cosign stored beside the image, and the provenance
(the source commit, the CI run, the builder). ``format`` 2 added those; fields
are only ever added.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipelines import __version__
from pipelines.images import IMAGES
from pipelines.publishing import Published
from pipelines.signing import Provenance, Sbom, Signature, attestation_tag
from pipelines.values import CommitId

RELEASE_FILE = "release.json"
RELEASE_FORMAT = 2
# What built the image: this library's version, run by the Dagger engine.
BUILDER = f"portable-pipelines {__version__} (Dagger module, engine v0.21.11)"


def release_json(
    *,
    service: str,
    published: Published,
    commit: CommitId,
    version: str,
    sboms: Sequence[Sbom] = (),
    signature: Signature | None = None,
    provenance: Provenance | None = None,
) -> str:
    """The record: ``ref`` is ``repository@sha256:...``, what a deployment pins."""
    document: dict[str, Any] = {
        "format": RELEASE_FORMAT,
        "service": service,
        "ref": str(published.ref),
        "digest": str(published.digest),
        "commit": commit.value,
        "version": version,
        "tags": list(published.tags),
        "sbom": [
            {"platform": s.platform, "path": s.path, "digest": str(s.digest), "format": "cyclonedx"}
            for s in sboms
        ],
        # None: the release was not signed ([publish] signing_key unset); promote refuses it.
        "signature": None,
        "provenance": None,
    }
    if signature is not None:
        document["signature"] = {
            "key": signature.key,
            "tag": signature.tag,
            "value": signature.value,
            "attestations": attestation_tag(published.digest) if sboms else None,
            "tool": IMAGES["cosign"],
        }
    if provenance is not None:
        document["provenance"] = {
            "commit": provenance.commit,
            "run_url": provenance.run_url,
            "builder": provenance.builder,
            "trust_level": provenance.trust_level,
        }
    return json.dumps(document, indent=2) + "\n"
