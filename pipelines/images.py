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
}
