# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared shell functions of the issuance e2e tests (sourced). They drive kubectl as users do, against the
# local environment (fixture kacme_env) with kacme installed by hack/kacme-up.sh as local processes.
set -euo pipefail
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
export KACME_BUILD_DIR=${KACME_BUILD_DIR:-$root/build}
cd "$root"
# shellcheck disable=SC1091
. "$root/_local/env.sh"
# shellcheck source=../../../hack/lib/local.sh
. "$root/hack/lib/local.sh"
kacme_config_load

T=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/kacme-e2e-$T.XXXXXX")
E2E_NAMESPACES=()
E2E_ISSUERS=()

log() { printf '[%s %5ds] %s\n' "$T" "$SECONDS" "$*"; }
fail() {
    printf '[%s] FAIL: %s\n' "$T" "$*" >&2
    e2e_dump
    exit 1
}

# What helps when a test fails: the objects and the controller's last log lines.
e2e_dump() {
    {
        echo "--- objects"
        for ns in "${E2E_NAMESPACES[@]}"; do
            kubectl -n "$ns" get certificaterequests,orders,challenges,pods,ingresses -o wide 2>&1 | head -60
        done
        echo "--- challenges (status)"
        for ns in "${E2E_NAMESPACES[@]}"; do
            kubectl -n "$ns" get challenges -o jsonpath='{range .items[*]}{.metadata.name} {.status}{"\n"}{end}' 2>&1 |
                head -20
        done
        echo "--- kacme-controller.log (last 40 lines)"
        tail -40 "$KACME_LOCAL_DIR/logs/kacme-controller.log" 2>/dev/null
    } >&2
}

e2e_cleanup() {
    local rc=$?
    for ns in "${E2E_NAMESPACES[@]}"; do kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; done
    for i in "${E2E_ISSUERS[@]}"; do kubectl delete clusterissuer "$i" --wait=false >/dev/null 2>&1 || true; done
    # Challenges carry a finalizer that the controller removes: let the namespaces go while it runs.
    for ns in "${E2E_NAMESPACES[@]}"; do kubectl wait --for=delete "namespace/$ns" --timeout=60s >/dev/null 2>&1 || true; done
    # kacme as local processes watches every namespace: stop it so that later tests (which run their own
    # controllers in their own namespaces) are not reconciled twice.
    "$root/hack/kacme-down.sh" >/dev/null 2>&1 || true
    rm -rf "$WORK"
    exit $rc
}
trap e2e_cleanup EXIT

# kacme installed and running with the given extra controller flags (restarted when they differ).
e2e_kacme() {
    local want="${*:-}"
    local have=""
    [[ -f "$KACME_LOCAL_DIR/kacme-controller.args" ]] && have=$(cat "$KACME_LOCAL_DIR/kacme-controller.args")
    if [[ "$have" != "$want" ]] || ! kacme_pid_alive "$(kacme_pidfile kacme-controller)" ||
        ! kacme_pid_alive "$(kacme_pidfile kacme-webhook)"; then
        log "starting kacme (controller flags: ${want:-none})"
        KACME_CONTROLLER_ARGS="$want" "$root/hack/kacme-up.sh" >/dev/null
        echo "$want" >"$KACME_LOCAL_DIR/kacme-controller.args"
    fi
}

# e2e_crash_restart NAME: SIGKILL a process started by kacme_start (the controller, the apiserver) and
# start it again with the command line its log recorded, as a supervisor would after a crash.
e2e_crash_restart() {
    local name=$1 pidf cmd pid
    pidf=$(kacme_pidfile "$name")
    cmd=$(sed -n 's/^--- [^ ]* starting: //p' "$(kacme_logfile "$name")" | tail -1)
    [[ -n "$cmd" ]] || fail "no recorded command line for $name"
    pid=$(awk '{print $1}' "$pidf")
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    # Gone means every thread has exited (a multi-threaded process shows Z for its leader while the other
    # threads still hold its sockets).
    while [[ -d "/proc/$pid" ]] && { (($(ls "/proc/$pid/task" 2>/dev/null | wc -l) > 1)) ||
        [[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; }; do
        sleep 0.05
    done
    # shellcheck disable=SC2086
    kacme_start "$name" $cmd
}

# e2e_dns_record add NAME TYPE VALUE [TTL] | delete NAME [TYPE]: a mock record in the environment's BIND9
# (tests/lib/dns-record.sh; NAME inside $KACME_DNS_ZONE).
e2e_dns_record() { "$root/tests/lib/dns-record.sh" "$@"; }

# A fresh namespace (deleted at exit), waiting for its default ServiceAccount (pods need it).
e2e_namespace() {
    local ns="e2e-$T-$RANDOM"
    ns=${ns//_/-}
    kubectl create namespace "$ns" >/dev/null
    E2E_NAMESPACES+=("$ns")
    for _ in $(seq 1 100); do
        kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "$ns"
}

# e2e_issuer NAME [SOLVER_YAML]: a ClusterIssuer for Pebble (HTTP-01 ingress solver by default), Ready.
e2e_issuer() {
    local name=$1 solver=${2:-"- http01: {ingress: {}}"}
    E2E_ISSUERS+=("$name")
    kubectl apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: $name
spec:
  acme:
    server: $KACME_ACME_SERVER
    email: e2e@kacme.test
    caBundle: $(base64 -w0 "$KACME_ACME_CA_FILE")
    privateKeySecretRef:
      name: $name-account-key
    solvers:
      $solver
YAML
    kubectl wait --for=condition=Ready "clusterissuer/$name" --timeout=60s >/dev/null ||
        fail "ClusterIssuer $name not Ready: $(kubectl get clusterissuer "$name" -o jsonpath='{.status.conditions}')"
}

# e2e_cr NS NAME ISSUER SAN... : key + CSR (openssl) and a CertificateRequest; SANs "DNS:x" or "IP:x".
e2e_cr() {
    local ns=$1 name=$2 issuer=$3
    shift 3
    local sans cn
    sans=$(IFS=,; echo "$*")
    cn=${1#*:}
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/$ns-$name.key" \
        -subj "/CN=$cn" -addext "subjectAltName=$sans" -out "$WORK/$ns-$name.csr" 2>/dev/null
    kubectl apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: $name
  namespace: $ns
spec:
  issuerRef: {name: $issuer, kind: ClusterIssuer, group: cert-manager.io}
  request: $(base64 -w0 "$WORK/$ns-$name.csr")
YAML
}

# Ready condition "status/reason" of a CertificateRequest.
e2e_cr_ready() {
    kubectl -n "$1" get certificaterequest "$2" \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}' \
        2>/dev/null || true
}

# e2e_wait_issued NS TIMEOUT NAME...: every CR Ready=True, and its certificate matches its key and chains
# to Pebble's root.
e2e_wait_issued() {
    local ns=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout)) pending
    while :; do
        pending=()
        for n in "$@"; do
            case "$(e2e_cr_ready "$ns" "$n")" in
            True/*) ;;
            False/Failed | False/Denied) fail "CertificateRequest $ns/$n failed: $(kubectl -n "$ns" get certificaterequest "$n" -o jsonpath='{.status.conditions}')" ;;
            *) pending+=("$n") ;;
            esac
        done
        ((${#pending[@]} == 0)) && break
        ((SECONDS < deadline)) || fail "not issued after ${timeout}s: ${pending[*]}"
        sleep 0.5
    done
    for n in "$@"; do e2e_check_cert "$ns" "$n"; done
}

e2e_check_cert() {
    local ns=$1 n=$2 pem="$WORK/$1-$2.crt"
    kubectl -n "$ns" get certificaterequest "$n" -o jsonpath='{.status.certificate}' | base64 -d >"$pem"
    awk '/BEGIN CERT/ {c++} c > 1' "$pem" >"$pem.chain"
    openssl verify -CAfile "$KACME_ACME_ROOT_FILE" -untrusted "$pem.chain" "$pem" >/dev/null 2>&1 ||
        fail "$ns/$n: certificate does not chain to Pebble's root"
    [[ "$(openssl x509 -in "$pem" -noout -pubkey)" == "$(openssl pkey -in "$WORK/$ns-$n.key" -pubout)" ]] ||
        fail "$ns/$n: certificate key does not match the CSR key"
}

# Nothing left behind in ns: no solver pods/services/ingresses, no Challenge with a finalizer.
e2e_assert_clean() {
    local ns=$1 timeout=${2:-60} deadline left
    deadline=$((SECONDS + timeout))
    while :; do
        left=$(kubectl -n "$ns" get pods,services,ingresses -l acme.cert-manager.io/http01-solver=true -o name 2>/dev/null)
        left+=$(kubectl -n "$ns" get challenges -o jsonpath='{range .items[*]}{.metadata.name}:{.metadata.finalizers}{"\n"}{end}' 2>/dev/null | grep finalizer || true)
        [[ -z "$left" ]] && return 0
        ((SECONDS < deadline)) || fail "left behind in $ns: $left"
        sleep 0.5
    done
}
