#!/usr/bin/env bash
# Builds the Pulumi CLI whose version this module's go.mod pins (a `tool`
# of this module, so the repository's own go.mod does not carry the CLI's
# dependencies) and prints a directory whose bin/pulumi is that CLI:
#
#   root=$(bash tools/pulumi/build.sh) && "$root/bin/pulumi" version
#
# The binary lives in Go's build cache (`go tool -n` builds it when needed
# and prints its path); bin/pulumi under the user's cache directory links
# to it, where the engine tests (internal/enginetest) look. The first build
# takes several minutes; later ones are served from the cache in seconds.
# The version is stamped into the binary, so the Automation API accepts it.
set -euo pipefail
cd "$(dirname "$0")"

version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
# Exactly these flags, whatever GOFLAGS the caller has: they are part of
# the cached binary's key.
bin=$(GOFLAGS="-ldflags=-X=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}" go tool -n pulumi)

root="${XDG_CACHE_HOME:-$HOME/.cache}/crossfaas/pulumi-${version}"
mkdir -p "$root/bin"
ln -sfn "$bin" "$root/bin/pulumi"
echo "$root"
