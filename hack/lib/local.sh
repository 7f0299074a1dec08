# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# shellcheck disable=SC2034 # its variables are used by the scripts that source it
# Shared by hack/local-up.sh and hack/local-down.sh (and by hooks in hack/local-up.d/): the local
# environment's settings and process helpers. Source it; it defines functions and variables only.
# (hack/lib/bind9.sh holds the DNS server's part.)
#
# Every setting can be overridden from the environment before local-up; local-up records the values it used
# in $KACME_LOCAL_DIR/config.env and local-down reads them back, so down always matches what is up.

kacme_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

kacme_config_defaults() {
    : "${KACME_LOCAL_DIR:=$kacme_root/_local}"
    : "${KACME_SOURCE_DIR:=$kacme_root}"
    : "${KACME_BUILD_DIR:=$kacme_root/build}"
    : "${KACME_ETCD_PORT:=23790}"
    : "${KACME_ETCD_PEER_PORT:=23800}"
    : "${KACME_APISERVER_PORT:=6443}"
    : "${KACME_KCM_PORT:=20257}"
    : "${KACME_PEBBLE_PORT:=14000}"
    : "${KACME_PEBBLE_MGMT_PORT:=15000}"
    : "${KACME_PEBBLE_TLSALPN_PORT:=5001}"
    : "${KACME_DNS_PORT:=8053}" # BIND9, UDP and TCP
    : "${KACME_DNS_ZONE:=kacme.test.}"
    KACME_DNS_ZONE=${KACME_DNS_ZONE%.}.
    : "${KACME_INGRESS_PORT:=80}"
    : "${KACME_KUBELET_PORT:=20250}"
    : "${KACME_POD_CIDR:=10.244.213.0/24}"
    : "${KACME_SERVICE_CIDR:=10.96.0.0/16}"
    : "${KACME_BRIDGE:=kacme0}"
    : "${KACME_NODE_NAME:=kacme-node}"
    : "${KACME_IMAGES_FILE:=$kacme_root/tests/standins/images.tsv}"
    : "${KACME_TOOLS_BIN:=$("$kacme_root/hack/k8s-tools.sh" --print-bin-dir)}"
    if [[ -z "${KACME_HOST_IP:-}" ]]; then
        # the host side of the pod network: the CIDR's first address
        KACME_HOST_IP=$(python3 -c 'import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1])[1])' \
            "$KACME_POD_CIDR") || { echo "local: bad KACME_POD_CIDR '$KACME_POD_CIDR'" >&2; return 1; }
    fi
    KACME_POD_PREFIXLEN=${KACME_POD_CIDR#*/}
    # the first address of the service range: the `kubernetes` Service's ClusterIP
    KACME_KUBERNETES_CLUSTER_IP=$(python3 -c 'import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1])[1])' \
        "$KACME_SERVICE_CIDR")
    # the DNS server Pebble resolves through: BIND9 (hack/lib/bind9.sh) unless set
    : "${KACME_PEBBLE_DNS_SERVER:=127.0.0.1:$KACME_DNS_PORT}"
}

# The layout of what local-up starts; a running environment recorded with another one is restarted.
# 2: BIND9 is the one DNS server (no pebble-challtestsrv).
kacme_env_layout=2

kacme_config_vars=(KACME_LOCAL_DIR KACME_SOURCE_DIR KACME_BUILD_DIR KACME_ETCD_PORT KACME_ETCD_PEER_PORT
    KACME_APISERVER_PORT KACME_KCM_PORT KACME_PEBBLE_PORT KACME_PEBBLE_MGMT_PORT KACME_PEBBLE_TLSALPN_PORT
    KACME_DNS_PORT KACME_DNS_ZONE KACME_INGRESS_PORT KACME_KUBELET_PORT KACME_POD_CIDR KACME_SERVICE_CIDR
    KACME_BRIDGE KACME_NODE_NAME KACME_IMAGES_FILE KACME_TOOLS_BIN KACME_HOST_IP KACME_PEBBLE_DNS_SERVER)

# kacme_config_load: the recorded settings of a running environment, else defaults.
kacme_config_load() {
    local dir=${KACME_LOCAL_DIR:-$kacme_root/_local}
    KACME_ENV_LAYOUT=""
    if [[ -f "$dir/config.env" ]]; then
        # shellcheck disable=SC1091
        . "$dir/config.env"
    fi
    kacme_config_defaults
}

kacme_config_save() {
    local v
    mkdir -p "$KACME_LOCAL_DIR"
    {
        echo "# settings of the running local environment (written by hack/local-up.sh)"
        echo "KACME_ENV_LAYOUT=$kacme_env_layout"
        for v in "${kacme_config_vars[@]}"; do printf '%s=%q\n' "$v" "${!v}"; done
    } >"$KACME_LOCAL_DIR/config.env"
}

kacme_log() { printf 'local: %s\n' "$*" >&2; }

# pid file: "<pid> <starttime>" — the start time guards against a recycled PID.
# (a zombie counts as gone)
kacme_starttime() { awk '{ sub(/.*\) /, ""); if ($1 != "Z") print $20 }' "/proc/$1/stat" 2>/dev/null; }

# kacme_pid_alive PIDFILE: true when the recorded process is still the one we started.
kacme_pid_alive() {
    local f=$1 pid st
    [[ -f "$f" ]] || return 1
    read -r pid st <"$f" || return 1
    [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
    local now
    now=$(kacme_starttime "$pid")
    [[ -n "$now" && ( -z "$st" || "$now" == "$st" ) ]]
}

kacme_pidfile() { echo "$KACME_LOCAL_DIR/pids/$1.pid"; }
kacme_logfile() { echo "$KACME_LOCAL_DIR/logs/$1.log"; }

# kacme_start NAME COMMAND...: runs COMMAND in its own session, output to logs/NAME.log, PID recorded.
kacme_start() {
    local name=$1
    shift
    local log pid
    log=$(kacme_logfile "$name")
    mkdir -p "$KACME_LOCAL_DIR/pids" "$KACME_LOCAL_DIR/logs"
    printf -- '--- %s starting: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"
    setsid "$@" >>"$log" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid $(kacme_starttime "$pid")" >"$(kacme_pidfile "$name")"
    grep -qx "$name" "$KACME_LOCAL_DIR/pids/order" 2>/dev/null || echo "$name" >>"$KACME_LOCAL_DIR/pids/order"
}

# kacme_fail COMPONENT MESSAGE: names the component, shows the end of its log, exits 1.
kacme_fail() {
    local name=$1 log
    shift
    log=$(kacme_logfile "$name")
    printf '\nlocal: FAILED: %s: %s\n' "$name" "$*" >&2
    if [[ -s "$log" ]]; then
        printf 'local: last lines of %s:\n' "$log" >&2
        tail -n 25 "$log" | sed 's/^/    /' >&2
    fi
    exit 1
}

# kacme_wait COMPONENT TIMEOUT DESCRIPTION COMMAND...: polls COMMAND (quietly) until it succeeds, failing
# early when the component's process has died.
kacme_wait() {
    local name=$1 timeout=$2 what=$3
    shift 3
    local deadline=$((SECONDS + timeout))
    while ! "$@" >/dev/null 2>&1; do
        if [[ -f "$(kacme_pidfile "$name")" ]] && ! kacme_pid_alive "$(kacme_pidfile "$name")"; then
            kacme_fail "$name" "process exited while waiting for $what"
        fi
        if ((SECONDS >= deadline)); then
            kacme_fail "$name" "timed out after ${timeout}s waiting for $what"
        fi
        sleep 0.2
    done
}

# kacme_stop NAME [GRACE]: SIGTERM to the recorded process (and its process group), SIGKILL after GRACE s.
kacme_stop() {
    local name=$1 grace=${2:-10} f pid st i
    f=$(kacme_pidfile "$name")
    [[ -f "$f" ]] || return 0
    if kacme_pid_alive "$f"; then
        read -r pid st <"$f"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < grace * 10; i++)); do
            kacme_pid_alive "$f" || break
            sleep 0.1
        done
        if kacme_pid_alive "$f"; then
            kacme_log "$name (pid $pid) did not stop in ${grace}s; killing"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                kacme_pid_alive "$f" || break
                sleep 0.1
            done
        fi
    fi
    rm -f "$f"
}

# kacme_port_free PORT: nothing listens on PORT (TCP).
kacme_port_free() {
    [[ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

# kacme_udp_port_free PORT: no UDP socket is bound to PORT.
kacme_udp_port_free() {
    [[ -z "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]]
}

# curl against the API server as the admin of the local environment
kacme_api_curl() {
    curl -sf --max-time 5 --cacert "$KACME_LOCAL_DIR/pki/ca.crt" --cert "$KACME_LOCAL_DIR/pki/admin.crt" \
        --key "$KACME_LOCAL_DIR/pki/admin.key" "https://127.0.0.1:$KACME_APISERVER_PORT$1"
}

# kacme_lock: one local-up / local-down at a time per state directory (waits up to 5 minutes). The lock is
# held on file descriptor 9 until the script exits; local-up's own call of local-down inherits it.
kacme_lock() {
    [[ -n "${KACME_LOCK_HELD:-}" ]] && return 0
    mkdir -p "$KACME_LOCAL_DIR"
    exec 9>>"$KACME_LOCAL_DIR/.lock"
    if ! flock -n 9; then
        kacme_log "waiting for another local-up/local-down on $KACME_LOCAL_DIR"
        flock -w 300 9 || { kacme_log "timed out waiting for the lock $KACME_LOCAL_DIR/.lock"; exit 1; }
    fi
    export KACME_LOCK_HELD=1
}
