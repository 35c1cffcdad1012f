"""The environments Argo CD deploys, and which of them run only promoted digests."""

from __future__ import annotations

# `local` (minikube, k3s) is only built and validated: it runs one replica of
# a locally built image on purpose, so no policy applies to it.
ENVIRONMENTS = ("dev", "staging", "prod")
PROMOTED_ENVIRONMENTS = ("staging", "prod")
