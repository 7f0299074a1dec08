#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stops the local environment started by hack/local-up.sh: every recorded process (by PID), every pod
# process and pod network namespace of the node stand-in, the veths and the bridge. Then checks that nothing
# is left and exits non-zero if something is.
#
#   hack/local-down.sh [--quiet] [--keep-data]
#
# The cluster's data (etcd) is removed so the next local-up starts from an empty cluster, unless --keep-data
# (or KACME_KEEP_DATA=1). Certificates/keys (pki/) and the logs of the last run stay in $KACME_LOCAL_DIR.
set -euo pipefail
# shellcheck source=lib/local.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/local.sh"
quiet=0
keep=${KACME_KEEP_DATA:-0}
for a in "$@"; do
    case $a in
    --quiet) quiet=1 ;;
    --keep-data) keep=1 ;;
    *) echo "usage: $0 [--quiet] [--keep-data]" >&2; exit 2 ;;
    esac
done
kacme_config_load
L=$KACME_LOCAL_DIR
say() { ((quiet)) || kacme_log "$@"; }
[[ $(id -u) -eq 0 ]] || { kacme_log "must run as root"; exit 1; }
kacme_lock
netns_prefix=kacme-pod-

# 1. recorded components, last started first
if [[ -d "$L/pids" ]]; then
    names=()
    [[ -f "$L/pids/order" ]] && mapfile -t names < <(tac "$L/pids/order")
    for f in "$L"/pids/*.pid; do
        [[ -f "$f" ]] || continue
        n=$(basename "$f" .pid)
        [[ " ${names[*]} " == *" $n "* ]] || names+=("$n")
    done
    for n in "${names[@]}"; do
        if kacme_pid_alive "$(kacme_pidfile "$n")"; then say "stopping $n"; fi
        kacme_stop "$n" 10
    done
    rm -f "$L/pids/order"
fi

# The pod network is global (one environment per machine): leave it alone when it belongs to another state
# directory whose environment is still recorded there.
owner=$(cat "/sys/class/net/$KACME_BRIDGE/ifalias" 2>/dev/null || true)
owner=${owner#kacme-local:}
if [[ -n "$owner" && "$owner" != "$L" && -f "$owner/config.env" ]]; then
    kacme_log "the pod network ($KACME_BRIDGE) belongs to the environment in $owner: not touching it"
    say "down (state directory $L)"
    exit 0
fi

# 2. pod processes: everything inside the node stand-in's network namespaces, and host-network pods
pod_netns() { ip netns list 2>/dev/null | awk -v p="$netns_prefix" 'index($1, p) == 1 { print $1 }'; }
ns_pids() { ip netns pids "$1" 2>/dev/null || true; }
mapfile -t spaces < <(pod_netns)
if ((${#spaces[@]})); then
    say "stopping pod processes in ${#spaces[@]} network namespace(s)"
    for ns in "${spaces[@]}"; do
        for p in $(ns_pids "$ns"); do kill -TERM "$p" 2>/dev/null || true; done
    done
    for ((i = 0; i < 30; i++)); do
        left=0
        for ns in "${spaces[@]}"; do [[ -n "$(ns_pids "$ns")" ]] && left=1; done
        ((left)) || break
        sleep 0.1
    done
    for ns in "${spaces[@]}"; do
        for p in $(ns_pids "$ns"); do kill -KILL "$p" 2>/dev/null || true; done
    done
fi
shopt -s nullglob
for f in "$L"/node/pods/*/pids; do
    while read -r _ pid st; do
        [[ -n "${pid:-}" ]] || continue
        if [[ "$(kacme_starttime "$pid")" == "$st" ]]; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$f"
    rm -f "$f"
done
shopt -u nullglob
# processes killed above may take a moment to leave their namespace
for ns in "${spaces[@]}"; do
    for ((i = 0; i < 50; i++)); do
        [[ -z "$(ns_pids "$ns")" ]] && break
        sleep 0.1
    done
    ip netns del "$ns" 2>/dev/null || true
done

# 3. network: leftover host-side veths, the bridge
for l in $(ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1 | grep '^kvh' || true); do
    ip link del "$l" 2>/dev/null || true
done
if ip link show "$KACME_BRIDGE" >/dev/null 2>&1; then
    say "removing bridge $KACME_BRIDGE"
    ip link del "$KACME_BRIDGE" 2>/dev/null || true
fi

# 4. mount-point directories the node stand-in had to create on the host (deepest first, only if empty)
if [[ -f "$L/node/created-dirs" ]]; then
    sort -ru "$L/node/created-dirs" | while read -r d; do rmdir "$d" 2>/dev/null || true; done
    rm -f "$L/node/created-dirs"
fi

# 5. cluster data
# (pod logs stay in node/pods/*/logs until the next local-up moves them to node/pods.prev)
rm -rf "$L"/node/pods/*/volumes
if ((!keep)); then
    rm -rf "$L/etcd"
fi
rm -f "$L/env.sh" "$L/config.env"

# 6. verify
problems=()
shopt -s nullglob
for f in "$L"/pids/*.pid; do kacme_pid_alive "$f" && problems+=("process $(cat "$f") ($(basename "$f" .pid))"); done
shopt -u nullglob
mapfile -t left_ns < <(pod_netns)
((${#left_ns[@]})) && problems+=("network namespaces: ${left_ns[*]}")
left_links=$(ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1 | grep -E '^kvh' || true)
[[ -n "$left_links" ]] && problems+=("veths: $left_links")
ip link show "$KACME_BRIDGE" >/dev/null 2>&1 && problems+=("bridge $KACME_BRIDGE")
if ((${#problems[@]})); then
    kacme_log "FAILED: left behind: ${problems[*]}"
    exit 1
fi
say "down: no process, network namespace, veth or bridge left"
