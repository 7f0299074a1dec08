#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cleanup of the kacme_env fixture: hack/local-down.sh, then an independent check that nothing of the local
# environment is left: none of its processes (BIND9 included), no pod network namespace, veth or bridge, no
# listener on its ports (TCP, and UDP for DNS).
set -euo pipefail
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
# the settings of the running environment (ports, bridge), before local-down removes them
# shellcheck source=../../../hack/lib/local.sh
. "$root/hack/lib/local.sh"
kacme_config_load

"$root/hack/local-down.sh"

problems=()
# the environment's own processes, recognised by their command lines (other tests may run their own
# kube-apiserver or etcd with other arguments at the same time)
for pat in "--data-dir $KACME_LOCAL_DIR/etcd" "kube-apiserver .*--secure-port $KACME_APISERVER_PORT" \
    "$KACME_LOCAL_DIR/kcm.kubeconfig" "$KACME_LOCAL_DIR/pebble/config.json" \
    "named .*$KACME_LOCAL_DIR/bind9/named.conf" "tests/standins/(node|ingress)-standin.py"; do
    procs=$(pgrep -af -- "$pat" || true)
    [[ -z "$procs" ]] || problems+=("processes: $procs")
done
ns=$(ip netns list | awk '$1 ~ /^kacme-pod-/ { print $1 }')
[[ -z "$ns" ]] || problems+=("network namespaces: $ns")
links=$(ip -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1 | grep -E '^kvh|^kvp' || true)
[[ -z "$links" ]] || problems+=("veths: $links")
ip link show "$KACME_BRIDGE" >/dev/null 2>&1 && problems+=("bridge $KACME_BRIDGE")
for p in "$KACME_ETCD_PORT" "$KACME_APISERVER_PORT" "$KACME_KCM_PORT" "$KACME_PEBBLE_PORT" \
    "$KACME_PEBBLE_MGMT_PORT" "$KACME_DNS_PORT" "$KACME_INGRESS_PORT" "$KACME_KUBELET_PORT"; do
    kacme_port_free "$p" || problems+=("port $p: $(ss -Hltnp "sport = :$p" | head -1)")
done
kacme_udp_port_free "$KACME_DNS_PORT" ||
    problems+=("UDP port $KACME_DNS_PORT: $(ss -Hlunp "sport = :$KACME_DNS_PORT" | head -1)")
if ((${#problems[@]})); then
    printf 'down-and-check: FAILED, left behind:\n' >&2
    printf '  %s\n' "${problems[@]}" >&2
    exit 1
fi
echo "down-and-check: nothing left behind"
