#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# issuers + certificaterequests-issuer-acme controllers against the local control plane and Pebble
# (hack/local-up.sh), in a namespace of their own (--namespace, so nothing else in the shared environment is
# touched):
#   1. an Issuer pointing at Pebble (caBundle) becomes Ready=True ACMEAccountRegistered with status.acme set,
#      and its account key Secret is generated with the managed-by label
#   2. an unreachable server → Ready=False ErrRegisterACMEAccount and a Warning ErrInitIssuer event;
#      a Let's Encrypt v1 URL → Ready=False InvalidConfig
#   3. a CertificateRequest is approved and gets its Order (owner reference, labels, spec from the CSR),
#      Ready=False Pending, event OrderCreated; an unparsable CSR → Ready=False Failed, RequestParsingError
#   4. a controller killed and started again keeps the account (same uri, no re-registration) and creates no
#      second Order
#   5. a changed email is sent to the ACME server (account update) and recorded, same account
#   6. with every controller running (orders, challenges: HTTP-01 through the ingress stand-in), the request
#      ends Ready=True Issued with a certificate for the CSR's key, event CertificateIssued
#
# usage: it_issuers.sh /path/to/kacme-controller
set -euo pipefail
bin=${1:?usage: it_issuers.sh /path/to/kacme-controller}
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
env_sh=${KACME_LOCAL_DIR:-$root/_local}/env.sh
[[ -f $env_sh ]] ||
    { echo "it_issuers: $env_sh missing: bring the local environment up (hack/local-up.sh)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_sh"

ns=ctrlissuers-it-$$
work=$(mktemp -d)
pid=""
cleanup() {
    [[ -n $pid ]] && { kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [[ -f $work/ctrl.log ]] && { echo "--- controller log" >&2; cat "$work/ctrl.log" >&2; }
    exit 1
}

start() { # start [CONTROLLERS]
    "$bin" --kubeconfig="$KUBECONFIG" --namespace="$ns" --controllers="${1:-issuers,certificaterequests-issuer-acme}" \
        --acme-http01-solver-nameservers="$KACME_DNS_SERVER" \
        --leader-elect=false --metrics-listen-address=0 --internal-healthz-listen-address=127.0.0.1:0 --v=2 \
        >>"$work/ctrl.log" 2>&1 &
    pid=$!
}
crash() { kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

# wait_for DESC TIMEOUT_S CMD...: until CMD succeeds.
wait_for() {
    local desc=$1 deadline=$(( $(date +%s) + $2 )); shift 2
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || fail "timed out waiting for $desc"
        sleep 0.5
    done
}
jp() { kubectl -n "$ns" get "$1" -o "jsonpath=$2" 2>/dev/null; }
cond_is() { [[ "$(jp "$1" "{.status.conditions[?(@.type==\"$2\")].$3}")" == "$4" ]]; }
event_seen() { kubectl -n "$ns" get events --field-selector "involvedObject.name=$1,reason=$2" -o name | grep -q .; }

kubectl apply -f "$root/crds/" >/dev/null
kubectl create namespace "$ns" >/dev/null
ca=$(base64 -w0 <"$KACME_ACME_CA_FILE")

issuer() { # issuer NAME SERVER
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: $1}
spec:
  acme:
    server: $2
    email: it@example.com
    caBundle: $ca
    privateKeySecretRef: {name: $1-account}
    solvers: [{http01: {ingress: {}}}]
YAML
}
issuer pebble "$KACME_ACME_SERVER"
issuer down https://127.0.0.1:1/dir
issuer v1 https://acme-v01.api.letsencrypt.org/directory
start

# 1
wait_for "issuer pebble Ready" 60 cond_is issuer/pebble Ready status True
cond_is issuer/pebble Ready reason ACMEAccountRegistered || fail "pebble: wrong Ready reason"
uri=$(jp issuer/pebble '{.status.acme.uri}')
[[ $uri == https://* ]] || fail "pebble: status.acme.uri not set: '$uri'"
[[ $(jp issuer/pebble '{.status.acme.lastRegisteredEmail}') == it@example.com ]] || fail "pebble: lastRegisteredEmail"
[[ -n $(jp issuer/pebble '{.status.acme.lastPrivateKeyHash}') ]] || fail "pebble: lastPrivateKeyHash"
[[ $(jp secret/pebble-account '{.metadata.labels.app\.kubernetes\.io/managed-by}') == cert-manager ]] ||
    fail "account Secret without managed-by label"
echo "ok 1 issuer Ready ($uri) (${SECONDS}s)"

# 2
wait_for "issuer down not ready" 30 cond_is issuer/down Ready reason ErrRegisterACMEAccount
cond_is issuer/down Ready status False || fail "down: Ready not False"
wait_for "ErrInitIssuer event" 20 event_seen down ErrInitIssuer
wait_for "issuer v1 InvalidConfig" 30 cond_is issuer/v1 Ready reason InvalidConfig
jp issuer/v1 '{.status.conditions[0].message}' | grep -q acme-v02 || fail "v1: message does not name the v2 URL"
echo "ok 2 failure reasons (${SECONDS}s)"

# 3
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/k.pem" \
    -subj "/CN=web.$ns.example" -addext "subjectAltName=DNS:web.$ns.example,DNS:www.$ns.example" \
    -out "$work/csr.pem" 2>/dev/null
cr() { # cr NAME BASE64_REQUEST
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: $1, labels: {app: web}}
spec:
  request: $2
  issuerRef: {name: pebble, kind: Issuer, group: cert-manager.io}
YAML
}
cr web "$(base64 -w0 <"$work/csr.pem")"
cr bad "$(printf 'not a csr' | base64 -w0)"
orders() { kubectl -n "$ns" get orders -o name | grep -c . || true; }
wait_for "an Order" 30 test "$(orders)" -ge 1
order=$(kubectl -n "$ns" get orders -o name | head -1)
cond_is certificaterequest/web Approved status True || fail "web: not approved"
cond_is certificaterequest/web Approved reason cert-manager.io || fail "web: approval reason"
owner='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}'
owner+='/{.metadata.ownerReferences[0].controller}'
[[ $(jp "$order" "$owner") == CertificateRequest/web/true ]] || fail "order owner reference"
[[ $(jp "$order" '{.metadata.labels.app}') == web ]] || fail "order labels not copied"
[[ $(jp "$order" '{.spec.commonName}') == "web.$ns.example" ]] || fail "order commonName"
[[ $(jp "$order" '{.spec.dnsNames[*]}') == "web.$ns.example www.$ns.example" ]] || fail "order dnsNames"
[[ ${order#*/} == web-* ]] || fail "order name $order"
wait_for "web Pending" 20 cond_is certificaterequest/web Ready reason Pending
wait_for "OrderCreated event" 20 event_seen web OrderCreated
wait_for "bad Failed" 30 cond_is certificaterequest/bad Ready reason Failed
[[ -n $(jp certificaterequest/bad '{.status.failureTime}') ]] || fail "bad: no failureTime"
wait_for "RequestParsingError event" 20 event_seen bad RequestParsingError
echo "ok 3 CertificateRequest → $order (${SECONDS}s)"

# 4 (killed, not stopped: it must resume from the API objects alone)
crash
start
wait_for "restored account" 30 grep -q "restored without registration" "$work/ctrl.log"
sleep 2
[[ $(jp issuer/pebble '{.status.acme.uri}') == "$uri" ]] || fail "account uri changed after restart"
cond_is issuer/pebble Ready status True || fail "pebble not Ready after restart"
[[ $(orders) == 1 ]] || fail "expected one Order after restart, got $(orders)"
[[ $(grep -c '"ACME account registered" issuer="'"$ns"'/pebble"' "$work/ctrl.log") == 1 ]] ||
    fail "the account was registered again after the restart"
echo "ok 4 kill -9 and restart keep the account and the Order (${SECONDS}s)"

# 5
kubectl -n "$ns" patch issuer pebble --type merge -p '{"spec":{"acme":{"email":"changed@example.com"}}}' >/dev/null
wait_for "new email recorded" 30 test "$(jp issuer/pebble '{.status.acme.lastRegisteredEmail}')" = changed@example.com
cond_is issuer/pebble Ready status True || fail "pebble not Ready after the email change"
[[ $(jp issuer/pebble '{.status.acme.uri}') == "$uri" ]] || fail "account uri changed with the email"
grep -q '"updated the ACME account.s email" issuer="'"$ns"'/pebble"' "$work/ctrl.log" || fail "no account update"
echo "ok 5 email change updates the account (${SECONDS}s)"

# 6
crash
start '*'
wait_for "web Issued" 90 cond_is certificaterequest/web Ready reason Issued
cond_is certificaterequest/web Ready status True || fail "web: Ready not True"
jp certificaterequest/web '{.status.certificate}' | base64 -d >"$work/crt.pem"
[[ "$(openssl x509 -in "$work/crt.pem" -noout -pubkey)" == "$(openssl pkey -in "$work/k.pem" -pubout)" ]] ||
    fail "issued certificate is not for the CSR's key"
wait_for "CertificateIssued event" 20 event_seen web CertificateIssued
[[ $(orders) == 1 ]] || fail "expected one Order, got $(orders)"
echo "ok 6 issued (${SECONDS}s)"
