#!/usr/bin/env bash
# Installs every Debian package kacme and its tests need. Idempotent; uses sudo only when not root.
set -euo pipefail

packages=(
    # build
    build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
    libmicrohttpd-dev libmimalloc-dev libjson-c-dev libyajl-dev libunistring-dev libcurl4-openssl-dev libssl-dev libyaml-dev libcmocka-dev
    libc-ares-dev libldns-dev
    # local environment and tests
    pebble nginx-light bind9 bind9-utils bind9-dnsutils iproute2 iptables openssl curl ca-certificates
    python3 procps psmisc jq valgrind
    # benchmarks
    wrk nghttp2-client
)

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
    sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}" >&2
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
# Debian starts these services on install; the local environment runs its own instances.
for svc in nginx named bind9; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
        "${sudo_cmd[@]}" systemctl stop "$svc" || true
        "${sudo_cmd[@]}" systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
done

# Go builds the Kubernetes tools (hack/k8s-tools.sh); Debian's golang is too old for them.
if ! command -v go >/dev/null; then
    echo "install-deps: Go >= 1.24 is needed on PATH to build the Kubernetes tools (hack/k8s-tools.sh)" >&2
    exit 1
fi
