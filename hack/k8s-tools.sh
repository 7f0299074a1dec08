#!/usr/bin/env bash
# Builds the pinned kube-apiserver, kube-controller-manager, kubectl, etcd and helm from their Go modules
# (through the Go module proxy) into a cache directory outside the work tree, shared by every clone and CI.
#
#   hack/k8s-tools.sh                 build what is missing, print nothing else but progress
#   hack/k8s-tools.sh --print-bin-dir print the directory holding the binaries (building nothing)
#
# Cache: ${KACME_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kacme/tools}/<versions>/bin
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$root/hack/versions.env"

cache=${KACME_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kacme/tools}
tag="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}"
bindir="$cache/$tag/bin"
srcdir="$cache/$tag/src"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
    echo "$bindir"
    exit 0
fi

command -v go >/dev/null || { echo "k8s-tools: 'go' not found; run hack/install-deps.sh" >&2; exit 1; }
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
mkdir -p "$bindir" "$srcdir"

log() { printf 'k8s-tools: %s\n' "$*" >&2; }

# wrapper_module DIR MODULE_PATH: a throw-away module that depends on the tools' modules.
wrapper_module() {
    local dir=$1
    mkdir -p "$dir"
    ( cd "$dir" && [[ -f go.mod ]] || go mod init "kacme.local/$(basename "$dir")" >/dev/null 2>&1 )
}

build_kubernetes() {
    local want=(kube-apiserver kube-controller-manager kubectl) missing=0 b
    for b in "${want[@]}"; do [[ -x "$bindir/$b" ]] || missing=1; done
    (( missing )) || return 0
    local dir="$srcdir/kubernetes" minor staging
    wrapper_module "$dir"
    cd "$dir"
    log "resolving k8s.io/kubernetes@$KUBERNETES_VERSION"
    local modfile
    modfile=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    [[ -f "$modfile" ]] || { log "cannot download k8s.io/kubernetes@$KUBERNETES_VERSION"; exit 1; }
    # k8s.io/kubernetes replaces its staging modules with ./staging/... paths; point each at the
    # published v0.<minor>.<patch> instead, derived from the downloaded go.mod.
    staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$modfile" | sort -u)
    [[ -n "$staging" ]] || { log "no staging replaces found in $modfile"; exit 1; }
    minor="v0.${KUBERNETES_VERSION#v1.}"
    local args=(-require="k8s.io/kubernetes@$KUBERNETES_VERSION")
    for m in $staging; do args+=(-replace="$m=$m@$minor"); done
    go mod edit "${args[@]}"
    go mod edit -go="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$modfile")"
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    log "go mod tidy (kubernetes)"
    go mod tidy >/dev/null
    local ver=${KUBERNETES_VERSION#v} ld
    ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=${ver%%.*}"
        ld+=" -X $p.gitMinor=$(echo "$ver" | cut -d. -f2) -X $p.gitTreeState=clean"
        ld+=" -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    for b in "${want[@]}"; do
        [[ -x "$bindir/$b" ]] && continue
        log "building $b $KUBERNETES_VERSION"
        go build -trimpath -tags tools -ldflags "$ld" -o "$bindir/$b.tmp" "k8s.io/kubernetes/cmd/$b"
        mv "$bindir/$b.tmp" "$bindir/$b"
    done
}

build_etcd() {
    [[ -x "$bindir/etcd" ]] && return 0
    local dir="$srcdir/etcd"
    wrapper_module "$dir"
    cd "$dir"
    cat > main.go <<'GO'
// Command etcd runs the etcd server from its published module (built by hack/k8s-tools.sh).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    log "go mod tidy (etcd)"
    go mod tidy >/dev/null
    log "building etcd $ETCD_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$bindir/etcd.tmp" .
    mv "$bindir/etcd.tmp" "$bindir/etcd"
}

build_helm() {
    [[ -x "$bindir/helm" ]] && return 0
    local dir="$srcdir/helm"
    wrapper_module "$dir"
    cd "$dir"
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "helm.sh/helm/v3/cmd/helm"
GO
    go mod edit -require="helm.sh/helm/v3@$HELM_VERSION"
    log "go mod tidy (helm)"
    go mod tidy >/dev/null
    log "building helm $HELM_VERSION"
    go build -trimpath -tags tools -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
        -o "$bindir/helm.tmp" helm.sh/helm/v3/cmd/helm
    mv "$bindir/helm.tmp" "$bindir/helm"
}

build_etcd
build_kubernetes
build_helm
log "tools ready in $bindir"
