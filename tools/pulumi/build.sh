#!/usr/bin/env bash
# Builds the Pulumi CLI whose version this module's go.mod pins (a `tool`
# of this module, so the repository's own go.mod does not carry the CLI's
# dependency graph) and prints a directory whose bin/pulumi is that CLI:
#
#   root=$(bash tools/pulumi/build.sh) && "$root/bin/pulumi" version
#
# The binary goes to <user cache dir>/crossfaas/pulumi-<version>/bin/pulumi,
# where the engine tests (internal/enginetest) look for it, with the version
# stamped in (the Automation API refuses a CLI that reports none). A CLI
# already there that reports the pinned version is kept. The first build
# compiles for several minutes; Go's build cache keeps the compiled
# packages, so a rebuild only links.
set -euo pipefail
cd "$(dirname "$0")"

version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
root="${XDG_CACHE_HOME:-$HOME/.cache}/crossfaas/pulumi-${version}"
bin="$root/bin/pulumi"

if [ -x "$bin" ] && [ "$(PULUMI_SKIP_UPDATE_CHECK=true "$bin" version 2>/dev/null)" = "$version" ]; then
	echo "$root"
	exit 0
fi

mkdir -p "$root/bin"
tmp=$(mktemp "$root/bin/.pulumi-XXXXXX")
trap 'rm -f "$tmp"' EXIT
# The caller's GOFLAGS would change what is built: set them.
GOFLAGS=-mod=readonly go build \
	-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}" \
	-o "$tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
mv -f "$tmp" "$bin"
trap - EXIT
echo "$root"
