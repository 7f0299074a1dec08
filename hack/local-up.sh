#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Brings up the local environment: etcd, kube-apiserver, kube-controller-manager, BIND9 (the one DNS server:
# authoritative for the test zone, with a TSIG key; hack/lib/bind9.sh), Pebble (ACME) resolving through it,
# and the two test stand-ins (node, ingress) from tests/standins/. Loopback and a private pod network only
# (bridge $KACME_BRIDGE, $KACME_POD_CIDR, no route anywhere else).
#
#   hack/local-up.sh            start (a quick no-op when everything is already up and healthy)
#   source _local/env.sh        KUBECONFIG, PATH, KACME_ACME_SERVER, ... (see the end of this script)
#
# State lives in ${KACME_LOCAL_DIR:-_local}/ (git-ignored); every port is a KACME_*_PORT variable (see
# hack/lib/local.sh). Needs root (network namespaces, port 80) and the tools of hack/k8s-tools.sh.
# Hooks (none in the repository; for local additions): every hack/local-up.d/*.sh is sourced (sorted) after
# the core components are up, with the functions of hack/lib/local.sh available; a hook adds lines to env.sh
# by appending to $KACME_ENV_EXTRA.
set -euo pipefail
# shellcheck source=lib/local.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/local.sh"
# shellcheck source=lib/bind9.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/bind9.sh"
[[ -n ${KACME_DNS_ZONE:-} ]] && KACME_DNS_ZONE=${KACME_DNS_ZONE%.}. # as recorded: with the final dot
explicit=() # settings the caller chose: a running environment with other values is restarted
for v in "${kacme_config_vars[@]}"; do [[ -n "${!v:-}" ]] && explicit+=("$v=${!v}"); done
kacme_config_defaults
start_time=$SECONDS
L=$KACME_LOCAL_DIR
pki=$L/pki
bin=$KACME_TOOLS_BIN
KACME_ENV_EXTRA=""

usage_hint() {
    cat <<EOF

The local environment is up (state in $L). Use it with:
    source $L/env.sh
    kubectl get nodes
ACME directory: https://$KACME_HOST_IP:$KACME_PEBBLE_PORT/dir
DNS (BIND9): $KACME_HOST_IP:$KACME_DNS_PORT, zone $KACME_DNS_ZONE (TSIG key: KACME_TSIG_* in env.sh)
Pod logs: $L/node/pods/<namespace>_<pod>_<uid>/logs/<container>.log    Stop: hack/local-down.sh
EOF
}

# Pebble's environment: every PEBBLE_* variable of the caller, PEBBLE_VA_NOSLEEP=1 unless set.
pebble_env() { (export PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP:-1}; env | grep '^PEBBLE_' | sort); }

start_pebble() {
    cat >"$L/pebble/config.json" <<EOF
{
  "pebble": {
    "listenAddress": "$KACME_HOST_IP:$KACME_PEBBLE_PORT",
    "managementListenAddress": "127.0.0.1:$KACME_PEBBLE_MGMT_PORT",
    "certificate": "$pki/pebble.crt",
    "privateKey": "$pki/pebble.key",
    "httpPort": $KACME_INGRESS_PORT,
    "tlsPort": $KACME_PEBBLE_TLSALPN_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
    pebble_env >"$L/pebble/env"
    kacme_log "starting pebble (https://$KACME_HOST_IP:$KACME_PEBBLE_PORT/dir) with $(tr '\n' ' ' <"$L/pebble/env")"
    PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP:-1} kacme_start pebble \
        pebble -config "$L/pebble/config.json" -dnsserver "$KACME_PEBBLE_DNS_SERVER"
}

# waits for the ACME directory, then records the roots of issued certificates (new at every Pebble start)
wait_pebble() {
    kacme_wait pebble 20 "the ACME directory" \
        curl -sf --max-time 2 --cacert "$pki/pebble-ca.crt" "https://$KACME_HOST_IP:$KACME_PEBBLE_PORT/dir"
    curl -sf --max-time 5 --cacert "$pki/pebble-ca.crt" -o "$L/pebble/root.pem" \
        "https://127.0.0.1:$KACME_PEBBLE_MGMT_PORT/roots/0" || kacme_fail pebble "cannot fetch /roots/0"
    curl -sf --max-time 5 --cacert "$pki/pebble-ca.crt" -o "$L/pebble/intermediate.pem" \
        "https://127.0.0.1:$KACME_PEBBLE_MGMT_PORT/intermediates/0" ||
        kacme_fail pebble "cannot fetch /intermediates/0"
}

# ---------------------------------------------------------------- preflight
[[ $(id -u) -eq 0 ]] || { kacme_log "must run as root (network namespaces, port $KACME_INGRESS_PORT)"; exit 1; }
kacme_lock
for t in etcd kube-apiserver kube-controller-manager kubectl; do
    [[ -x "$bin/$t" ]] || { kacme_log "missing $bin/$t: run hack/k8s-tools.sh first"; exit 1; }
done
for t in pebble named dig python3 openssl curl ip unshare setpriv setsid ss; do
    command -v "$t" >/dev/null || { kacme_log "missing '$t': run hack/install-deps.sh"; exit 1; }
done

healthy() {
    local n
    [[ -f "$L/env.sh" && -f "$L/pids/order" ]] || return 1
    while read -r n; do kacme_pid_alive "$(kacme_pidfile "$n")" || return 1; done <"$L/pids/order"
    kacme_api_curl /readyz >/dev/null || return 1
    kacme_bind9_answers || return 1
    ip link show "$KACME_BRIDGE" >/dev/null 2>&1 || return 1
    curl -s --max-time 2 -o /dev/null -D - "http://127.0.0.1:$KACME_INGRESS_PORT/" | grep -qi '^x-kacme-ingress:'
}
if [[ -f "$L/config.env" ]]; then
    # a running environment keeps the settings it was started with
    (
        kacme_config_load
        L=$KACME_LOCAL_DIR
        [[ $KACME_ENV_LAYOUT == "$kacme_env_layout" ]] ||
            { kacme_log "the running environment has an older layout (${KACME_ENV_LAYOUT:-1})"; exit 1; }
        for kv in "${explicit[@]}"; do
            v=${kv%%=*}
            [[ $v == KACME_BUILD_DIR ]] && continue # switched below without a restart
            [[ "${!v}" == "${kv#*=}" ]] || { kacme_log "setting $v changed (running: ${!v})"; exit 1; }
        done
        healthy
    ) && {
        want_build=""
        for kv in "${explicit[@]}"; do [[ ${kv%%=*} == KACME_BUILD_DIR ]] && want_build=${kv#*=}; done
        kacme_config_load
        L=$KACME_LOCAL_DIR
        pki=$L/pki
        if [[ -n "$want_build" && "$want_build" != "$KACME_BUILD_DIR" ]]; then
            # the node stand-in reads this file whenever it starts a container
            KACME_BUILD_DIR=$want_build
            echo "$KACME_BUILD_DIR" >"$L/node/build-dir"
            kacme_config_save
            kacme_log "pods now run the binaries of $KACME_BUILD_DIR"
        fi
        if [[ "$(pebble_env)" != "$(cat "$L/pebble/env" 2>/dev/null)" ]]; then
            kacme_log "PEBBLE_* settings changed: restarting pebble only"
            unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
            kacme_stop pebble 10
            start_pebble
            wait_pebble
        fi
        kacme_log "already up and healthy (checked in $((SECONDS - start_time))s)"
        usage_hint
        exit 0
    }
    kacme_log "cleaning up a previous environment that is not healthy"
fi
"$kacme_root/hack/local-down.sh" --quiet

for p in "$KACME_ETCD_PORT" "$KACME_ETCD_PEER_PORT" "$KACME_APISERVER_PORT" "$KACME_KCM_PORT" \
    "$KACME_PEBBLE_PORT" "$KACME_PEBBLE_MGMT_PORT" "$KACME_DNS_PORT" "$KACME_INGRESS_PORT" \
    "$KACME_KUBELET_PORT"; do
    kacme_port_free "$p" || {
        kacme_log "port $p is already in use: $(ss -Hltnp "sport = :$p" | head -1)"
        kacme_log "stop that process or choose other ports (KACME_*_PORT, see hack/lib/local.sh)"
        exit 1
    }
done
kacme_udp_port_free "$KACME_DNS_PORT" || {
    kacme_log "UDP port $KACME_DNS_PORT is already in use: $(ss -Hlunp "sport = :$KACME_DNS_PORT" | head -1)"
    kacme_log "stop that process or choose another KACME_DNS_PORT"
    exit 1
}

mkdir -p "$L"/{pids,logs,pki,node,pebble}
for f in "$L"/logs/*.log; do [[ -f "$f" ]] && mv -f "$f" "$f.prev"; done
if [[ ! -d "$L/etcd" && -d "$L/node/pods" ]]; then
    rm -rf "$L/node/pods.prev" && mv "$L/node/pods" "$L/node/pods.prev"
fi
kacme_config_save
echo "$KACME_BUILD_DIR" >"$L/node/build-dir"

# ---------------------------------------------------------------- PKI (kept across runs)
# cert NAME CA SUBJECT EXT: an EC P-256 key and a certificate signed by CA (or self-signed when CA is "self")
cert() {
    local name=$1 ca=$2 subj=$3 ext=$4
    openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
    if [[ "$ca" == self ]]; then
        openssl req -x509 -new -key "$pki/$name.key" -subj "$subj" -days 3650 -out "$pki/$name.crt" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            2>/dev/null
    else
        printf '%b\n' "$ext" >"$pki/$name.ext"
        openssl req -new -key "$pki/$name.key" -subj "$subj" 2>/dev/null |
            openssl x509 -req -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" -CAcreateserial -days 3650 \
                -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
        rm -f "$pki/$name.ext"
    fi
}
client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
server_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth'
pki_stamp="v2 $KACME_HOST_IP $KACME_KUBERNETES_CLUSTER_IP"
if [[ "$(cat "$pki/stamp" 2>/dev/null)" != "$pki_stamp" ]]; then
    kacme_log "generating certificates and keys in $pki"
    rm -f "$pki"/*
    cert ca self "/CN=kacme-local-ca" ""
    cert apiserver ca "/CN=kube-apiserver" "$server_ext\nsubjectAltName=IP:127.0.0.1,IP:$KACME_HOST_IP,\
IP:$KACME_KUBERNETES_CLUSTER_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,\
DNS:kubernetes.default.svc.cluster.local"
    cert admin ca "/O=system:masters/CN=kacme-admin" "$client_ext"
    cert kcm ca "/CN=system:kube-controller-manager" "$client_ext"
    cert apiserver-kubelet-client ca "/CN=kube-apiserver-kubelet-client" "$client_ext"
    cert kubelet ca "/CN=$KACME_NODE_NAME" "$server_ext\nsubjectAltName=IP:$KACME_HOST_IP"
    cert front-proxy-ca self "/CN=kacme-front-proxy-ca" ""
    cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" "$client_ext"
    cert pebble-ca self "/CN=kacme-pebble-tls-ca" ""
    cert pebble pebble-ca "/CN=localhost" "$server_ext\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:$KACME_HOST_IP"
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
    rm -f "$pki"/*.srl
    echo "$pki_stamp" >"$pki/stamp"
fi

kubeconfig() { # FILE USER CERT KEY
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kacme-local
  cluster:
    server: https://127.0.0.1:$KACME_APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$3")
    client-key-data: $(base64 -w0 "$4")
contexts:
- name: kacme-local
  context: {cluster: kacme-local, user: $2}
current-context: kacme-local
EOF
    chmod 600 "$1"
}
kubeconfig "$L/kubeconfig" kacme-admin "$pki/admin.crt" "$pki/admin.key"
kubeconfig "$L/kcm.kubeconfig" kube-controller-manager "$pki/kcm.crt" "$pki/kcm.key"

# Components never talk through a proxy: every peer is local.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

# ---------------------------------------------------------------- pod network
# A bridge holding the host side of the pod network; the node stand-in plugs each pod's veth into it.
ip link add "$KACME_BRIDGE" type bridge
echo 1 >"/proc/sys/net/ipv6/conf/$KACME_BRIDGE/disable_ipv6" 2>/dev/null || true
ip addr add "$KACME_HOST_IP/$KACME_POD_PREFIXLEN" dev "$KACME_BRIDGE"
ip link set "$KACME_BRIDGE" alias "kacme-local:$L" # ownership, checked by local-down
ip link set "$KACME_BRIDGE" up
if [[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" == 1 ]]; then
    kacme_log "note: bridge-nf-call-iptables=1: pod-to-pod traffic on $KACME_BRIDGE passes the FORWARD chain" \
        "(host <-> pod traffic is unaffected)"
fi

# ---------------------------------------------------------------- etcd
kacme_log "starting etcd (127.0.0.1:$KACME_ETCD_PORT)"
kacme_start etcd "$bin/etcd" --name kacme --data-dir "$L/etcd" \
    --listen-client-urls "http://127.0.0.1:$KACME_ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$KACME_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$KACME_ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$KACME_ETCD_PEER_PORT" \
    --initial-cluster "kacme=http://127.0.0.1:$KACME_ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn

# ---------------------------------------------------------------- BIND9, then Pebble resolving through it
kacme_bind9_start
start_pebble

kacme_wait etcd 30 "etcd health" curl -sf --max-time 2 "http://127.0.0.1:$KACME_ETCD_PORT/health"

# ---------------------------------------------------------------- kube-apiserver
kacme_log "starting kube-apiserver (https://127.0.0.1:$KACME_APISERVER_PORT, pods: https://$KACME_HOST_IP:$KACME_APISERVER_PORT)"
kacme_start apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$KACME_ETCD_PORT" \
    --bind-address 0.0.0.0 --secure-port "$KACME_APISERVER_PORT" --advertise-address "$KACME_HOST_IP" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$KACME_SERVICE_CIDR" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
    --enable-aggregator-routing=true \
    --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$pki/apiserver-kubelet-client.key" --kubelet-certificate-authority "$pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --allow-privileged=true --profiling=false

wait_pebble

kacme_wait apiserver 90 "/readyz" kacme_api_curl /readyz

# ---------------------------------------------------------------- kube-controller-manager
kacme_log "starting kube-controller-manager"
kacme_start kcm "$bin/kube-controller-manager" \
    --kubeconfig "$L/kcm.kubeconfig" --authentication-kubeconfig "$L/kcm.kubeconfig" \
    --authorization-kubeconfig "$L/kcm.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KACME_KCM_PORT" --cert-dir "$L/kcm" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range "$KACME_SERVICE_CIDR" --cluster-name kacme \
    --controllers '*'

# ---------------------------------------------------------------- stand-ins (test code)
standin_args=(--server "https://127.0.0.1:$KACME_APISERVER_PORT" --ca "$pki/ca.crt" --cert "$pki/admin.crt"
    --key "$pki/admin.key")
kacme_log "starting the node stand-in ($KACME_NODE_NAME, pods on $KACME_POD_CIDR)"
KACME_BUILD_DIR=$KACME_BUILD_DIR KACME_SOURCE_DIR=$KACME_SOURCE_DIR kacme_start node \
    python3 -B -u "$kacme_root/tests/standins/node-standin.py" "${standin_args[@]}" \
    --node-name "$KACME_NODE_NAME" --pod-cidr "$KACME_POD_CIDR" --host-ip "$KACME_HOST_IP" \
    --bridge "$KACME_BRIDGE" --api-port "$KACME_APISERVER_PORT" --state-dir "$L/node" \
    --images "$KACME_IMAGES_FILE" --build-dir-file "$L/node/build-dir" --kubelet-port "$KACME_KUBELET_PORT" \
    --kubelet-cert "$pki/kubelet.crt" --kubelet-key "$pki/kubelet.key"
kacme_log "starting the ingress stand-in (http://127.0.0.1:$KACME_INGRESS_PORT, http://$KACME_HOST_IP:$KACME_INGRESS_PORT)"
kacme_start ingress python3 -B -u "$kacme_root/tests/standins/ingress-standin.py" "${standin_args[@]}" \
    --listen "127.0.0.1:$KACME_INGRESS_PORT" --listen "$KACME_HOST_IP:$KACME_INGRESS_PORT" \
    --status-address "$KACME_HOST_IP"

kacme_wait kcm 60 "/healthz" curl -sfk --max-time 2 "https://127.0.0.1:$KACME_KCM_PORT/healthz"
node_ready() {
    kacme_api_curl "/api/v1/nodes/$KACME_NODE_NAME" |
        python3 -c 'import json,sys; c={x["type"]:x["status"] for x in json.load(sys.stdin)["status"]["conditions"]}; sys.exit(c.get("Ready")!="True")'
}
kacme_wait node 30 "node $KACME_NODE_NAME Ready" node_ready
kacme_wait ingress 30 "HTTP on 127.0.0.1:$KACME_INGRESS_PORT" \
    bash -c "curl -s --max-time 2 -o /dev/null -D - http://127.0.0.1:$KACME_INGRESS_PORT/ | grep -qi '^x-kacme-ingress:'"
kacme_wait kcm 60 "the default ServiceAccount and kube-root-ca.crt in namespace default" \
    bash -c "$(declare -f kacme_api_curl); KACME_LOCAL_DIR='$L' KACME_APISERVER_PORT=$KACME_APISERVER_PORT;
        kacme_api_curl /api/v1/namespaces/default/serviceaccounts/default &&
        kacme_api_curl /api/v1/namespaces/default/configmaps/kube-root-ca.crt"

# ---------------------------------------------------------------- hooks
shopt -s nullglob
for hook in "$kacme_root"/hack/local-up.d/*.sh; do
    kacme_log "running hook $hook"
    # shellcheck disable=SC1090
    . "$hook"
done
shopt -u nullglob

# ---------------------------------------------------------------- env.sh
cat >"$L/env.sh.tmp" <<EOF
# Written by hack/local-up.sh: source it to use the local environment.
export KACME_LOCAL_DIR=$(printf %q "$L")
export KUBECONFIG=$(printf %q "$L/kubeconfig")
case ":\$PATH:" in *:$(printf %q "$bin"):*) ;; *) export PATH=$(printf %q "$bin"):\$PATH ;; esac
# ACME (Pebble): directory URL, CA of its TLS certificate (an Issuer's caBundle), root of issued certificates
export KACME_ACME_SERVER=https://$KACME_HOST_IP:$KACME_PEBBLE_PORT/dir
export KACME_ACME_CA_FILE=$(printf %q "$pki/pebble-ca.crt")
export KACME_ACME_ROOT_FILE=$(printf %q "$L/pebble/root.pem")
export KACME_ACME_INTERMEDIATE_FILE=$(printf %q "$L/pebble/intermediate.pem")
export KACME_PEBBLE_MGMT_URL=https://127.0.0.1:$KACME_PEBBLE_MGMT_PORT
$(kacme_bind9_env)
# Ingress stand-in (HTTP, also on 127.0.0.1:$KACME_INGRESS_PORT)
export KACME_INGRESS_ADDR=$KACME_HOST_IP
export KACME_INGRESS_PORT=$KACME_INGRESS_PORT
# API server as pods reach it (KUBERNETES_SERVICE_HOST/PORT inside pods), and its CA
export KACME_APISERVER=https://$KACME_HOST_IP:$KACME_APISERVER_PORT
export KACME_APISERVER_CA_FILE=$(printf %q "$pki/ca.crt")
# ... and from the host (the admin kubeconfig's server), with the admin client certificate (system:masters)
export KACME_APISERVER_LOCAL=https://127.0.0.1:$KACME_APISERVER_PORT
export KACME_APISERVER_PORT=$KACME_APISERVER_PORT
export KACME_ADMIN_CERT_FILE=$(printf %q "$pki/admin.crt")
export KACME_ADMIN_KEY_FILE=$(printf %q "$pki/admin.key")
# etcd (plain HTTP on loopback), e.g. for compaction in watch tests
export KACME_ETCD_PORT=$KACME_ETCD_PORT
export KACME_ETCD_ENDPOINT=http://127.0.0.1:$KACME_ETCD_PORT
# Node stand-in: node name, pod network, host side of it, image table, pod state (logs) directory
export KACME_NODE_NAME=$KACME_NODE_NAME
export KACME_POD_CIDR=$KACME_POD_CIDR
export KACME_HOST_IP=$KACME_HOST_IP
export KACME_IMAGES_FILE=$(printf %q "$KACME_IMAGES_FILE")
export KACME_PODS_DIR=$(printf %q "$L/node/pods")
export KACME_TOOLS_BIN=$(printf %q "$bin")
case ",\${NO_PROXY:-}," in *,$KACME_HOST_IP,*) ;; *) export NO_PROXY=\${NO_PROXY:+\$NO_PROXY,}127.0.0.1,localhost,$KACME_HOST_IP,$KACME_POD_CIDR ;; esac
$KACME_ENV_EXTRA
EOF
mv "$L/env.sh.tmp" "$L/env.sh"

kacme_log "ready in $((SECONDS - start_time))s"
usage_hint
