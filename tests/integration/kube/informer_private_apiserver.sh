#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A private etcd + kube-apiserver for tests that must disturb the API server (restart it) without touching the
# shared local environment: same binaries and certificates as hack/local-up.sh (read-only), ports chosen free
# at run time, state in a temporary directory, processes ended by their recorded PIDs.
#
#   informer_private_apiserver.sh run COMMAND...   up, run COMMAND with KUBECONFIG / KACME_ETCD_PORT /
#                                                  KACME_IT_RESTART_APISERVER set, down; exit status of COMMAND
#   informer_private_apiserver.sh restart DIR      stop the API server of DIR and start it again (same flags)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${KACME_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
L=${KACME_LOCAL_DIR:-$root/_local}

log() { printf 'private-apiserver: %s\n' "$*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() { # DIR SECONDS
    local d=$1 i
    for ((i = 0; i < $2 * 5; i++)); do
        if curl -sf --max-time 2 --cacert "$d/ca.crt" --cert "$L/pki/admin.crt" --key "$L/pki/admin.key" \
            "https://127.0.0.1:$(cat "$d/apiserver.port")/readyz" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$(cat "$d/apiserver.pid")" 2>/dev/null; then
            log "kube-apiserver exited; last lines:"; tail -n 20 "$d/apiserver.log" >&2; return 1
        fi
        sleep 0.2
    done
    log "kube-apiserver not ready in $2 s"; tail -n 20 "$d/apiserver.log" >&2
    return 1
}

start_apiserver() { # DIR
    local d=$1
    local -a cmd
    mapfile -t cmd <"$d/apiserver.cmd"
    setsid "${cmd[@]}" >>"$d/apiserver.log" 2>&1 </dev/null &
    echo $! >"$d/apiserver.pid"
    disown $! 2>/dev/null || true
}

stop_pid() { # PIDFILE [SIGNAL]: the signal (TERM), then KILL after 2 s
    local f=$1 sig=${2:-TERM} pid i
    [[ -f "$f" ]] || return 0
    pid=$(cat "$f")
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
}

up() { # DIR
    local d=$1 bin ep pp ap
    bin=${KACME_TOOLS_BIN:?source _local/env.sh first}
    ep=$(free_port); pp=$(free_port); ap=$(free_port)
    echo "$ep" >"$d/etcd.port"
    echo "$ap" >"$d/apiserver.port"
    cp "$L/pki/ca.crt" "$d/ca.crt"
    setsid "$bin/etcd" --name it --data-dir "$d/etcd" --listen-client-urls "http://127.0.0.1:$ep" \
        --advertise-client-urls "http://127.0.0.1:$ep" --listen-peer-urls "http://127.0.0.1:$pp" \
        --initial-advertise-peer-urls "http://127.0.0.1:$pp" --initial-cluster "it=http://127.0.0.1:$pp" \
        --unsafe-no-fsync >"$d/etcd.log" 2>&1 </dev/null &
    echo $! >"$d/etcd.pid"
    disown $! 2>/dev/null || true
    printf '%s\n' "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$ep" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$ap" \
        --tls-cert-file "$L/pki/apiserver.crt" --tls-private-key-file "$L/pki/apiserver.key" \
        --client-ca-file "$L/pki/ca.crt" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$L/pki/sa.pub" --service-account-signing-key-file "$L/pki/sa.key" \
        --service-cluster-ip-range 10.97.0.0/16 --authorization-mode RBAC \
        --enable-admission-plugins NamespaceLifecycle --profiling=false >"$d/apiserver.cmd"
    start_apiserver "$d"
    sed "s#server: https://127.0.0.1:[0-9]*#server: https://127.0.0.1:$ap#" "$L/kubeconfig" >"$d/kubeconfig"
    wait_ready "$d" 90
    log "up: etcd 127.0.0.1:$ep, kube-apiserver 127.0.0.1:$ap ($d)"
}

down() { # DIR
    local d=$1
    stop_pid "$d/apiserver.pid"
    stop_pid "$d/etcd.pid"
    rm -rf "$d"
}

case "${1:-}" in
run)
    shift
    # Needs the local environment's tools and certificates (hack/local-up.sh made them), not its processes.
    if [[ -f "$L/env.sh" ]]; then
        # shellcheck disable=SC1091
        . "$L/env.sh"
    else
        KACME_TOOLS_BIN=$("$root/hack/k8s-tools.sh" --print-bin-dir)
        export KACME_TOOLS_BIN
    fi
    for f in "$L/pki/ca.crt" "$L/pki/apiserver.crt" "$L/pki/sa.key" "$L/kubeconfig"; do
        [[ -f "$f" ]] || { log "$f missing: run hack/local-up.sh once"; exit 1; }
    done
    d=$(mktemp -d /tmp/kacme-private-apiserver-XXXXXX)
    trap 'down "$d"' EXIT
    up "$d"
    rc=0
    KUBECONFIG=$d/kubeconfig KACME_ETCD_PORT=$(cat "$d/etcd.port") \
        KACME_IT_RESTART_APISERVER="$here/informer_private_apiserver.sh restart $d" "$@" || rc=$?
    exit $rc
    ;;
restart)
    d=$2
    stop_pid "$d/apiserver.pid" KILL # a crash: no graceful goodbye to open watches
    start_apiserver "$d"
    wait_ready "$d" 90
    log "restarted kube-apiserver"
    ;;
*)
    echo "usage: $0 run COMMAND... | restart DIR" >&2
    exit 2
    ;;
esac
