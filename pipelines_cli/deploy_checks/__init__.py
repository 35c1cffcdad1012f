"""Checks of the GitOps tree under ``deploy/``: ``python -m pipelines_cli.deploy_checks deploy/``.

Every kustomization is built with ``kubectl kustomize``; every built-in kind is
validated with ``kubernetes-validate --strict`` against Kubernetes 1.32; every
Argo resource against its JSON schema (``argo-schemas/``, shipped with this
package); and the policies of docs/deployment.md are checked on every
environment:

- every workload of dev, staging and prod is safe to roll (probes on the
  service's paths, surge-only rolling updates, graceful termination longer
  than preStop plus the service's drain time, a PodDisruptionBudget, requests
  and limits, non-root with a read-only root filesystem, at least two
  replicas in staging and prod; a canary that aborts by itself):
  :mod:`.workloads`;
- staging and prod run images pinned by digest; dev runs release
  candidates: :mod:`.images`;
- dev syncs automatically with prune and self-heal, staging and prod never;
  Argo CD Image Updater follows release-candidate tags in dev only; degraded
  applications, failed syncs and aborted rollouts alert someone:
  :mod:`.argocd`.

Each check returns a list of problems (empty when all is well); each problem
names where it is and what is wrong, then how to fix it (:mod:`.problems`).
The ``deploy-checks`` git hook and the integration tests run the same checks.
"""

from __future__ import annotations

from pipelines_cli.deploy_checks.argocd import (
    IMAGE_UPDATE_STRATEGY,
    applications,
    check_application_sources,
    check_image_updater,
    check_notifications,
    check_project_allows,
    check_sync_policy,
)
from pipelines_cli.deploy_checks.environments import ENVIRONMENTS, PROMOTED_ENVIRONMENTS
from pipelines_cli.deploy_checks.images import (
    FEATURE_TAG_SAMPLES,
    NEVER_FOLLOW_SAMPLES,
    RELEASE_CANDIDATE_SAMPLES,
    RELEASE_CANDIDATE_TAG,
    check_images,
)
from pipelines_cli.deploy_checks.manifests import (
    BuildError,
    Document,
    buildable_kustomizations,
    find,
    kustomize_build,
    tool,
)
from pipelines_cli.deploy_checks.schemas import (
    ARGO_SCHEMAS,
    KUBERNETES_VERSION,
    validate_builtin,
    validate_custom,
)
from pipelines_cli.deploy_checks.tree import check_environment, check_tree
from pipelines_cli.deploy_checks.workloads import (
    CANDIDATE_ANNOTATION,
    CANDIDATE_ROLE,
    MIN_REPLICAS_PROMOTED,
    check_workloads,
)

__all__ = [
    "ARGO_SCHEMAS",
    "CANDIDATE_ANNOTATION",
    "CANDIDATE_ROLE",
    "ENVIRONMENTS",
    "FEATURE_TAG_SAMPLES",
    "IMAGE_UPDATE_STRATEGY",
    "KUBERNETES_VERSION",
    "MIN_REPLICAS_PROMOTED",
    "NEVER_FOLLOW_SAMPLES",
    "PROMOTED_ENVIRONMENTS",
    "RELEASE_CANDIDATE_SAMPLES",
    "RELEASE_CANDIDATE_TAG",
    "BuildError",
    "Document",
    "applications",
    "buildable_kustomizations",
    "check_application_sources",
    "check_environment",
    "check_image_updater",
    "check_images",
    "check_notifications",
    "check_project_allows",
    "check_sync_policy",
    "check_tree",
    "check_workloads",
    "find",
    "kustomize_build",
    "tool",
    "validate_builtin",
    "validate_custom",
]
