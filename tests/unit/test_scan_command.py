"""Trivy argument lists: the flags the gate relies on, and no secret in them."""

from __future__ import annotations

import pytest

from pipelines.config.scan import ScanConfig
from pipelines.scan.command import (
    REPORT_FORMATS,
    convert_command,
    download_db_command,
    download_java_db_command,
    scan_command,
)

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ghcr/aquasecurity/trivy-db:2"


def value_of(args: tuple[str, ...], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_the_db_download_tries_the_mirrors_in_order() -> None:
    config = ScanConfig(db_repositories=(ECR, "mirror.gcr.io/aquasec/trivy-db:2"))

    args = download_db_command(config, cache_dir="/cache")

    assert args[:3] == ("trivy", "image", "--download-db-only")
    assert value_of(args, "--db-repository") == f"{ECR},mirror.gcr.io/aquasec/trivy-db:2"
    assert value_of(args, "--cache-dir") == "/cache"


def test_the_java_db_download_uses_its_own_mirrors() -> None:
    args = download_java_db_command(ScanConfig())

    assert "--download-java-db-only" in args
    assert value_of(args, "--java-db-repository") == (
        "mirror.gcr.io/aquasec/trivy-java-db:1,ghcr.io/aquasecurity/trivy-java-db:1"
    )


def test_a_tarball_scan_reads_the_cached_db_and_writes_a_complete_json_report() -> None:
    args = scan_command(
        ScanConfig(timeout="15m"), output="/out/trivy.json", input_tarball="/work/image.tar"
    )

    assert value_of(args, "--input") == "/work/image.tar"
    assert "--skip-db-update" in args
    assert value_of(args, "--format") == "json"
    assert value_of(args, "--output") == "/out/trivy.json"
    assert value_of(args, "--timeout") == "15m"
    # The core gates: Trivy must neither filter nor fail on its own.
    assert "--severity" not in args
    assert "--ignore-unfixed" not in args
    assert value_of(args, "--exit-code") == "0"
    assert value_of(args, "--ignorefile") == "/dev/null"


def test_a_registry_scan_names_the_image_last_and_never_a_password() -> None:
    ref = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service@sha256:" + "a" * 64

    args = scan_command(ScanConfig(), output="/out/trivy.json", image_ref=ref)

    assert args[-1] == ref
    assert "--input" not in args
    assert not any(a.startswith(("--password", "--username", "--registry-token")) for a in args)


@pytest.mark.parametrize(
    "targets", [{}, {"input_tarball": "/i.tar", "image_ref": "registry.example/app:1"}]
)
def test_a_scan_needs_exactly_one_target(targets: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        scan_command(ScanConfig(), output="/out/trivy.json", **targets)


def test_the_gitlab_report_uses_the_template_shipped_in_the_image() -> None:
    args = convert_command(
        "gitlab",
        json_report="/out/trivy.json",
        output="/out/gl.json",
        ignorefile="/src/.trivyignore",
    )

    assert args[:2] == ("trivy", "convert")
    assert value_of(args, "--format") == "template"
    assert value_of(args, "--template") == "@/contrib/gitlab.tpl"
    assert value_of(args, "--ignorefile") == "/src/.trivyignore"
    assert args[-1] == "/out/trivy.json"
    assert REPORT_FORMATS["gitlab"].filename == "gl-container-scanning-report.json"


def test_sarif_is_a_plain_format_flag() -> None:
    args = convert_command("sarif", json_report="/out/trivy.json", output="/out/trivy.sarif")

    assert value_of(args, "--format") == "sarif"
    assert "--template" not in args


def test_an_unknown_report_format_is_refused() -> None:
    with pytest.raises(ValueError, match="known: json, sarif, gitlab"):
        convert_command("html", json_report="/out/trivy.json", output="/out/x")
