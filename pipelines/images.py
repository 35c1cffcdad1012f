"""Every container image the module itself runs, pinned by digest, in one place.

Services bring their own images through their Dockerfile and pipelines.toml
(where the config loader refuses an image without a digest). To bump one:
`docker buildx imagetools inspect <image>:<tag>` prints the index digest;
replace the digest here and say why in the commit message.
"""

from __future__ import annotations

from typing import Final

IMAGES: Final[dict[str, str]] = {
    # Trivy 0.69.3: the last release before the compromised 0.69.4-0.69.6
    # (CVE-2026-33634); this digest is the one verified with cosign upstream.
    "trivy": "docker.io/aquasec/trivy:0.69.3"
    "@sha256:bcc376de8d77cfe086a917230e818dc9f8528e3c852f7b1aff648949b6258d1c",
    # curl 8.11.1, to probe the app's health and readiness paths before a suite.
    "curl": "docker.io/curlimages/curl:8.11.1"
    "@sha256:c1fe1679c34d9784c1b0d1e5f62ac0a79fca01fb6377cdd33e90473c6f9f9a69",
    # kubectl with a shell and the AWS CLI, for `aws eks get-token` kubeconfigs.
    # (bitnami/kubectl tags were withdrawn from Docker Hub; this one is not.)
    "kubectl": "docker.io/alpine/k8s:1.34.1"
    "@sha256:ec714df3813b5405292860f8a1c55c5727bf8c33c88992f1e981efad8065547f",
    # cosign 2.4.3, to sign release candidates, attach their SBOM attestation and
    # verify both before promotion. The digest is that of the multi-platform index
    # of ghcr.io/sigstore/cosign/cosign:v2.4.3, as public repositories pin it (found
    # with the search tools: a pinning write-up that derives it from the index
    # manifest ghcr.io serves, and Dockerfiles `FROM ghcr.io/sigstore/cosign/
    # cosign:v2.4.3@sha256:c77247...`); not pulled from here, since this machine
    # reaches no registry. 2.x, not 3.x: 3.x makes the bundle format and signing
    # configs the default, and the flags below (--tlog-upload, --output-signature)
    # are the 2.x ones.
    "cosign": "ghcr.io/sigstore/cosign/cosign:v2.4.3"
    "@sha256:c77247c92f4dfea851c70555738226498393e34e2f9ca83cb959e51c230e4ad7",
}
