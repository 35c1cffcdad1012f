"""Pin the dagger release this repository names: the CLI tarballs and the engine image.

    python -m tools.pin_dagger            # write the pins
    python -m tools.pin_dagger --check    # only compare (exit 1 on a difference)

A maintainer runs it on a machine with network whenever the dagger version
changes (it changes in every entry point together: tests/unit/test_ci_structure.py).
It reads the release's ``checksums.txt`` from dl.dagger.io and the engine
image's manifest from registry.dagger.io, then writes:

- the SHA-256 of each Linux tarball into every copy of the CLI install script
  (tools/install-dagger.sh and the entry points that embed it), which from
  then on checks the download against the committed value instead of a
  checksum file from the download's own server;
- the engine image's digest into deploy/dagger-engine/values.yaml.

A pin that is already committed and differs from what the servers now say
is never overwritten: a release's bytes do not change, so the difference is
reported and nothing is written. Nothing is written either unless every
value was read.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

DESCRIPTION = "Pin the dagger release this repository names: the CLI tarballs and the engine image."
ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = Path("tools/install-dagger.sh")
# Every file that carries the install script's text (the entry points embed
# it: a service's pipeline cannot read this repository's files).
INSTALL_COPIES = (
    INSTALL_SCRIPT,
    Path(".github/workflows/pipelines.yml"),
    Path("templates/pipelines/template.yml"),
    Path("vars/portablePipelines.groovy"),
)
ENGINE_VALUES = Path("deploy/dagger-engine/values.yaml")
ARCHITECTURES = ("amd64", "arm64")

DOWNLOADS = "https://dl.dagger.io/dagger/releases"
REGISTRY = "https://registry.dagger.io"
ENGINE_REPOSITORY = "engine"
# What a multi-platform image's tag may resolve to; the digest pinned is the
# one of the document the registry returns (the index, for the engine).
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
TIMEOUT = httpx.Timeout(30.0)
SHA256 = re.compile(r"[0-9a-f]{64}")
VERSION_LINE = re.compile(r"this entry point installs (?P<version>\d+\.\d+\.\d+) ")
BEARER_PARAM = re.compile(r'(\w+)="([^"]*)"')


class PinError(Exception):
    """A problem the maintainer must look at; nothing was written."""


@dataclass(frozen=True)
class Pins:
    version: str
    tarballs: Mapping[str, str]  # architecture -> SHA-256 of its tarball
    engine_digest: str  # sha256:<hex>


def pin_line(version: str, arch: str) -> re.Pattern[str]:
    return re.compile(rf"(?m)^(?P<lead>\s*{re.escape(version)}/{arch}\) pinned=)(?P<sha>\S*)( ;;)$")


def engine_ref(version: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?m)^(?P<lead>\s*ref: registry\.dagger\.io/engine:v{re.escape(version)})"
        r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?\s*$"
    )


def named_version(root: Path) -> str:
    """The dagger version the install script installs."""
    match = VERSION_LINE.search((root / INSTALL_SCRIPT).read_text(encoding="utf-8"))
    if match is None:
        raise PinError(f"{INSTALL_SCRIPT}: no line naming the version it installs")
    return match["version"]


def committed(root: Path, version: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """What is pinned now: each copy's SHA-256 per architecture; the engine digest.

    A file may embed the script more than once (the reusable workflow: once
    per job); each copy is reported on its own.
    """
    tarballs: dict[str, dict[str, str]] = {}
    for path in INSTALL_COPIES:
        text = (root / path).read_text(encoding="utf-8")
        found = {
            arch: [m["sha"] for m in pin_line(version, arch).finditer(text)]
            for arch in ARCHITECTURES
        }
        counts = {len(shas) for shas in found.values()}
        if counts == {0} or len(counts) != 1:
            raise PinError(
                f"{path}: expected one `{version}/<arch>) pinned=... ;;` line per architecture "
                f"({', '.join(ARCHITECTURES)}) in each copy of {INSTALL_SCRIPT}"
            )
        (copies,) = counts
        for index in range(copies):
            where = str(path) if copies == 1 else f"{path} (copy {index + 1} of {copies})"
            tarballs[where] = {arch: shas[index] for arch, shas in found.items()}
    values = (root / ENGINE_VALUES).read_text(encoding="utf-8")
    ref = engine_ref(version).search(values)
    if ref is None:
        raise PinError(
            f"{ENGINE_VALUES}: engine.image.ref is not registry.dagger.io/engine:v{version}"
            "[@sha256:<digest>]"
        )
    return tarballs, {str(ENGINE_VALUES): ref["digest"] or ""}


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    loopback = False
    try:
        loopback = ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = parts.hostname == "localhost"
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise PinError(f"{url}: pins are read over https only (plain http only on loopback)")
    return url.rstrip("/")


def read_tarball_checksums(client: httpx.Client, downloads: str, version: str) -> dict[str, str]:
    url = f"{_checked_url(downloads)}/{version}/checksums.txt"
    response = client.get(url)
    if response.status_code != 200:
        raise PinError(f"{url}: HTTP {response.status_code}; is {version} a released version?")
    listed = {}
    for line in response.text.splitlines():
        fields = line.split()
        if len(fields) == 2 and SHA256.fullmatch(fields[0]):
            listed[fields[1]] = fields[0]
    found = {}
    for arch in ARCHITECTURES:
        name = f"dagger_v{version}_linux_{arch}.tar.gz"
        if name not in listed:
            raise PinError(f"{url}: lists no {name}")
        found[arch] = listed[name]
    return found


def _bearer_token(client: httpx.Client, challenge: str) -> str:
    scheme, _, params = challenge.partition(" ")
    fields = dict(BEARER_PARAM.findall(params))
    if scheme.lower() != "bearer" or "realm" not in fields:
        raise PinError(f"the registry asks for {challenge!r}, not an anonymous bearer token")
    realm = _checked_url(fields.pop("realm"))
    response = client.get(realm, params=fields)
    if response.status_code != 200:
        raise PinError(f"{realm}: HTTP {response.status_code} for an anonymous pull token")
    try:
        body = response.json()
    except ValueError:
        body = None
    token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise PinError(f"{realm}: the answer carries no token")
    return token


def read_engine_digest(client: httpx.Client, registry: str, version: str) -> str:
    """The digest of the engine image's tag, from the bytes the registry serves."""
    url = f"{_checked_url(registry)}/v2/{ENGINE_REPOSITORY}/manifests/v{version}"
    headers = {"Accept": MANIFEST_TYPES}
    response = client.get(url, headers=headers)
    if response.status_code == 401:
        token = _bearer_token(client, response.headers.get("www-authenticate", ""))
        response = client.get(url, headers={**headers, "Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise PinError(f"{url}: HTTP {response.status_code}; is v{version} a released engine?")
    # The digest is the SHA-256 of the manifest's bytes: computed here rather
    # than taken from a header, and the header, when sent, must agree.
    digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
    said = response.headers.get("docker-content-digest")
    if said is not None and said != digest:
        raise PinError(f"{url}: Docker-Content-Digest {said} is not the served bytes' {digest}")
    return digest


def read_pins(downloads: str, registry: str, version: str) -> Pins:
    with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client:
        try:
            tarballs = read_tarball_checksums(client, downloads, version)
            digest = read_engine_digest(client, registry, version)
        except httpx.HTTPError as error:
            raise PinError(f"{type(error).__name__}: {error}") from error
    return Pins(version=version, tarballs=tarballs, engine_digest=digest)


def differences(root: Path, pins: Pins) -> tuple[list[str], list[str]]:
    """(pins not yet committed, committed pins the servers now contradict)."""
    tarballs, engine = committed(root, pins.version)
    missing, contradicted = [], []
    for path, found in tarballs.items():
        for arch, sha in found.items():
            want = pins.tarballs[arch]
            if not sha:
                missing.append(f"{path}: linux/{arch} tarball -> {want}")
            elif sha != want:
                contradicted.append(f"{path}: linux/{arch} tarball is pinned {sha}, served {want}")
    for path, digest in engine.items():
        if not digest:
            missing.append(f"{path}: engine image -> {pins.engine_digest}")
        elif digest != pins.engine_digest:
            contradicted.append(
                f"{path}: engine image is pinned {digest}, served {pins.engine_digest}"
            )
    return missing, contradicted


def write_pins(root: Path, pins: Pins) -> None:
    texts = {}
    for path in INSTALL_COPIES:
        text = (root / path).read_text(encoding="utf-8")
        for arch, sha in pins.tarballs.items():
            text = pin_line(pins.version, arch).sub(rf"\g<lead>{sha}\3", text)
        texts[path] = text
    values = (root / ENGINE_VALUES).read_text(encoding="utf-8")
    texts[ENGINE_VALUES] = engine_ref(pins.version).sub(
        rf"\g<lead>@{pins.engine_digest}", values, count=1
    )
    # Every text is computed before the first write, so a failure above leaves
    # the tree as it was.
    for path, text in texts.items():
        (root / path).write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pin_dagger", description=DESCRIPTION)
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    parser.add_argument(
        "--downloads", default=DOWNLOADS, help=f"CLI releases (default {DOWNLOADS})"
    )
    parser.add_argument(
        "--registry", default=REGISTRY, help=f"engine registry (default {REGISTRY})"
    )
    args = parser.parse_args(argv)
    try:
        version = named_version(root)
        committed(root, version)  # every line to pin exists, before any request
        print(
            f"dagger {version}: reading {args.downloads} and {args.registry} ...", file=sys.stderr
        )
        pins = read_pins(args.downloads, args.registry, version)
        missing, contradicted = differences(root, pins)
    except PinError as error:
        print(f"pin_dagger: {error}", file=sys.stderr)
        return 1
    if contradicted:
        print(
            "pin_dagger: committed pins differ from what the servers serve now; a release's "
            "bytes never change, so find out why before you change a pin (nothing written):",
            *(f"  {line}" for line in contradicted),
            sep="\n",
            file=sys.stderr,
        )
        return 1
    if not missing:
        print(f"dagger {version}: every pin is committed and matches the servers")
        return 0
    if args.check:
        print(f"dagger {version}: not pinned yet:", *(f"  {line}" for line in missing), sep="\n")
        return 1
    write_pins(root, pins)
    print(f"dagger {version}: pinned", *(f"  {line}" for line in missing), sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
