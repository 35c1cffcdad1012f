"""Plan tier: every cache volume a pipeline mounts is its trust level's and its service's.

The pipelines run through the await seam and every graph they awaited is
searched for ``cacheVolume`` keys, wherever they are nested: the toolchain's
`[toolchain] caches` and Trivy's DB alike. A key outside
``portable-pipelines/<trust level>/<service>/`` is a volume another trust level
or another service could write (docs/ci/shared-engine.md).
"""

from __future__ import annotations

from typing import Any

import dagger
import pytest

from ci.main import PortablePipelines
from pipelines.caches import DEFAULT_TRUST_LEVEL, TRIVY_DB
from pipelines.errors import InputError
from tests.graph import Graph
from tests.plan.conftest import fails_with
from tests.plan.doubles import SHA, StatusRecorder, scripted_suites, with_secrets
from tests.plan.seam import Seam

SERVICE = "hello-service"
# The reference service's [toolchain] caches (examples/hello-service/pipelines.toml).
TOOLCHAIN_KEYS = {"hello-service-ruff", "hello-service-pytest"}


def cache_keys(graphs: list[Graph]) -> set[str]:
    return {
        call.args["key"]
        for graph in graphs
        for _, call in graph.walk()
        if call.name == "cacheVolume"
    }


def awaited_keys(seam: Seam) -> set[str]:
    return cache_keys([graph for _, graph in seam.calls])


async def test_pre_merge_mounts_only_the_untrusted_volumes_of_its_service_by_default(
    seam: Seam, lazy_source: dagger.Directory, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    run = await with_secrets(lazy_source).pre_merge(sha=SHA)
    assert run.passed is True, run.summary
    prefix = f"portable-pipelines/{DEFAULT_TRUST_LEVEL}/{SERVICE}/"
    assert DEFAULT_TRUST_LEVEL == "untrusted"
    # Exactly the toolchain's caches and the DB, each under the prefix.
    assert awaited_keys(seam) == {prefix + key for key in {*TOOLCHAIN_KEYS, TRIVY_DB}}


async def test_release_at_the_release_level_never_mounts_an_untrusted_volume(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    run = await with_secrets(lazy_source, trust_level="release").release(sha=SHA, version="1.4.0")
    assert run.passed is True, run.summary
    keys = awaited_keys(seam)
    assert f"portable-pipelines/release/{SERVICE}/{TRIVY_DB}" in keys
    assert all(key.startswith(f"portable-pipelines/release/{SERVICE}/") for key in keys), keys


@pytest.mark.parametrize("trust_level", ["untrusted", "release"])
async def test_lint_and_unit_mount_the_toolchain_caches_of_the_level_they_run_at(
    seam: Seam, lazy_source: dagger.Directory, trust_level: str
) -> None:
    scripted_suites(seam)
    ci = PortablePipelines(source=lazy_source, trust_level=trust_level)
    await ci.lint()
    await ci.test()
    assert awaited_keys(seam) == {
        f"portable-pipelines/{trust_level}/{SERVICE}/{key}" for key in TOOLCHAIN_KEYS
    }


async def test_scan_alone_uses_the_db_volume_of_its_level(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    scripted_suites(seam)
    await PortablePipelines(source=lazy_source, trust_level="release").scan()
    assert awaited_keys(seam) == {f"portable-pipelines/release/{SERVICE}/{TRIVY_DB}"}


@pytest.mark.parametrize("bad", ["Release", "release\n", " untrusted", "trusted", ""])
async def test_a_bad_trust_level_is_refused_before_any_work(
    seam: Seam, lazy_source: dagger.Directory, bad: str
) -> None:
    with fails_with(InputError, match="--trust-level=untrusted, --trust-level=release"):
        await PortablePipelines(source=lazy_source, trust_level=bad).lint()
    assert seam.calls == []
