#!/usr/bin/env bash
# Builds the pinned test tools (Kubernetes control plane, etcd, kwok, helm, ct; promtool for the
# tests) from their Go modules into the tools cache, skipping each binary that already reports the
# wanted version. Versions live in scripts/cluster/tools/*/go.mod; nothing here downloads anything
# but Go modules.
#
#   scripts/cluster/build-tools.sh              build what is missing (what the cluster and demo use)
#   scripts/cluster/build-tools.sh --for-tests  also promtool, which only the tests use
#   scripts/cluster/build-tools.sh --print      print the bin folder
#
# FORGEJO_ARC_CACHE (default ~/.cache/forgejo-arc) holds bin/; GOMODCACHE and GOCACHE stay Go's own.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/tools"
cache="${FORGEJO_ARC_CACHE:-$HOME/.cache/forgejo-arc}"
bin="$cache/bin"
mkdir -p "$bin"

if [ "${1:-}" = "--print" ]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "build-tools: go is not on PATH; install Go 1.26" >&2; exit 1; }

# The version a tools module pins for a module path, e.g. "v1.36.3".
pinned() { awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$tools/$1/go.mod"; }

# Each built binary gets a stamp file naming the tools module's go.mod hash, so a version bump
# rebuilds even when the binary cannot print its version cheaply.
stamp_of() { sha256sum "$tools/$1/go.mod" | cut -c1-16; }
is_current() { [ -x "$bin/$2" ] && [ "$(cat "$bin/.$2.stamp" 2>/dev/null)" = "$(stamp_of "$1")" ]; }
mark_current() { stamp_of "$1" >"$bin/.$2.stamp"; }

build() { # module-dir binary-name package [ldflags]
  local dir=$1 name=$2 pkg=$3 ldflags=${4:-}
  if is_current "$dir" "$name"; then
    echo "build-tools: $name is current"
    return
  fi
  echo "build-tools: building $name from $pkg ($(date +%T))"
  local start=$SECONDS
  (cd "$tools/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/$name" "$pkg")
  mark_current "$dir" "$name"
  echo "build-tools: built $name in $((SECONDS - start))s"
}

k8s_version=$(pinned kubernetes k8s.io/kubernetes)
major=${k8s_version#v}; minor=${major#*.}; major=${major%%.*}; minor=${minor%%.*}
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build etcd etcd go.etcd.io/etcd/server/v3
build kubernetes kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build kubernetes kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
build kubernetes kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
build kubernetes kubectl k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
helm_version=$(pinned helm helm.sh/helm/v3)
build helm helm helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$helm_version"
ct_version=$(pinned ct github.com/helm/chart-testing/v3)
build ct ct github.com/helm/chart-testing/v3/ct "-X github.com/helm/chart-testing/v3/ct/cmd.Version=$ct_version"
if [ "${1:-}" = "--for-tests" ]; then
  build promtool promtool github.com/prometheus/prometheus/cmd/promtool
fi
# ct reads its Chart.yaml schema and yamllint rules from files that `go build` does not install;
# chart:test passes this copy of them (from the same pinned module) with --chart-yaml-schema/--lint-conf.
ct_etc="$cache/ct-etc"
if [ ! -f "$ct_etc/$ct_version" ]; then
  ct_dir=$(cd "$tools/ct" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/helm/chart-testing/v3)
  mkdir -p "$ct_etc"
  cp "$ct_dir/etc/chart_schema.yaml" "$ct_dir/etc/lintconf.yaml" "$ct_etc/"
  chmod u+w "$ct_etc"/*.yaml
  touch "$ct_etc/$ct_version"
fi
echo "build-tools: all tools current in $bin"
