# shellcheck shell=sh
# The module at the release your CI files pin. For your fork or mirror, change
# the address and keep the tag.
export PIPELINES_MODULE=github.com/acme/portable-pipelines@v0.1.0
