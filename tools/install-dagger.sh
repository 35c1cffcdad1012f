# shellcheck shell=sh
# The dagger CLI of DAGGER_VERSION into DAGGER_INSTALL_DIR, its tarball
# checked before it is unpacked. The same text runs in every CI entry point
# (.github/workflows/pipelines.yml, templates/pipelines/template.yml,
# vars/portablePipelines.groovy; tests/integration/test_dagger_install.py holds
# them equal and runs it). Each tarball's SHA-256 is committed below by
# `python -m tools.pin_dagger`; an architecture without one is checked
# against the release's checksums.txt, which comes from the same server as
# the tarball and so proves only that the download is whole.
# In a subshell: the job's own shell keeps its directory and options.
(
set -eu
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *)
    echo "dagger CLI: no build for architecture $(uname -m) here; run the job on a linux amd64 or arm64 machine" >&2
    exit 2
    ;;
esac
case "${DAGGER_VERSION}/${arch}" in
  0.21.11/amd64) pinned= ;;
  0.21.11/arm64) pinned= ;;
  *)
    echo "dagger CLI: DAGGER_VERSION is '${DAGGER_VERSION}', but this entry point installs 0.21.11 (the version its module and engine were tested with): unset DAGGER_VERSION" >&2
    exit 2
    ;;
esac
fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$1" "$2"
  else
    wget -q -O "$1" "$2"
  fi
}
tarball="dagger_v${DAGGER_VERSION}_linux_${arch}.tar.gz"
release="https://dl.dagger.io/dagger/releases/${DAGGER_VERSION}"
mkdir -p "${DAGGER_INSTALL_DIR}"
cd "${DAGGER_INSTALL_DIR}"
rm -f dagger "${tarball}" checksums.txt expected.sha256
fetch "${tarball}" "${release}/${tarball}"
if [ -n "${pinned}" ]; then
  echo "${pinned}  ${tarball}" > expected.sha256
else
  echo "dagger CLI: no SHA-256 of ${tarball} is committed yet; checking it against the release's checksums.txt" >&2
  fetch checksums.txt "${release}/checksums.txt"
  awk -v name="${tarball}" '$2 == name { print $1 "  " $2 }' checksums.txt > expected.sha256
  if [ ! -s expected.sha256 ]; then
    echo "dagger CLI: ${release}/checksums.txt lists no ${tarball}" >&2
    exit 1
  fi
fi
if ! sha256sum -c expected.sha256 >/dev/null; then
  echo "dagger CLI: ${tarball} does not match the SHA-256 $(cut -d ' ' -f 1 expected.sha256); refusing to unpack it" >&2
  rm -f "${tarball}"
  exit 1
fi
tar -xzf "${tarball}" dagger
rm -f "${tarball}"
echo "dagger CLI ${DAGGER_VERSION} (linux/${arch}) installed in ${DAGGER_INSTALL_DIR}"
)
