#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The orders controller in a whole kacme-controller (every controller, --namespace of its own) against the
# local control plane, Pebble, BIND9 (DNS) and the node/ingress stand-ins (hack/local-up.sh);
# HTTP-01 through the real challenges controller.
#   1. one name: ACME order (url, finalizeURL, authorizations with identifier/challenges), one Challenge (owner
#      reference, HTTP-01 key authorization, Created event) → Order valid with the PEM chain (base64) in
#      status.certificate, Complete event, Challenges deleted, CertificateRequest Ready=True
#   2. three names, one already authorized: one Challenge per authorization not already valid (authz reuse)
#   3. a Challenge the CA fails (the name's A record, mocked in BIND, is a closed port; waitInsteadOfSelfCheck
#      0s): Order invalid with the Challenge's reason and a failureTime; CertificateRequest Failed
#   4. no usable solver: Warning event Solver, no Challenge; fixing the Issuer resumes the Order
#   5. a solver change mid-order: a new Challenge (new name), the old one deleted, then issued
#   6. kill -9 at random moments: no process creates a second ACME order for an Order; still issued
# ctrlorders_fakesolve (DNS-01: set the TXT record in BIND first, e.g. tests/lib/dns-record.sh add
# _acme-challenge.NAME TXT VALUE) is the manual stand-in for the challenges controller when debugging the
# orders controller alone.
#
# usage: it_orders.sh /path/to/kacme-controller
set -euo pipefail
bin=${1:?usage: it_orders.sh /path/to/kacme-controller}
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
env_sh=${KACME_LOCAL_DIR:-$root/_local}/env.sh
[[ -f $env_sh ]] || { echo "it_orders: $env_sh missing: bring the local environment up (hack/local-up.sh)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_sh"

ns=ctrlorders-it-$$
dom=$ns.test
# the name the CA cannot validate: a fresh direct child of the test zone, its A record mocked in BIND
bad=bad-$ns.${KACME_DNS_ZONE%.}
work=$(mktemp -d)
pid=""
cleanup() {
    if [[ -n $pid ]]; then # let the controller clean the Challenges up (finalizers) before it stops
        kubectl -n "$ns" delete certificaterequests --all --wait=false >/dev/null 2>&1 || true
        kubectl -n "$ns" delete orders --all --wait=false >/dev/null 2>&1 || true
        for _ in $(seq 100); do
            [[ -z $(kubectl -n "$ns" get challenges -o name 2>/dev/null) ]] && break
            sleep 0.2
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    "$root/tests/lib/dns-record.sh" delete "$bad" A >/dev/null 2>&1 || true
    kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $work/ctrl.log ]] && { echo "--- controller log" >&2; tail -n 200 "$work/ctrl.log" >&2; }; exit 1; }

start() {
    "$bin" --kubeconfig="$KUBECONFIG" --namespace="$ns" --leader-elect=false \
        --acme-http01-solver-nameservers="$KACME_DNS_SERVER" --metrics-listen-address=0 \
        --internal-healthz-listen-address=127.0.0.1:0 --v=2 >>"$work/ctrl.log" 2>&1 &
    pid=$!
}
crash() { kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }

# wait_for DESC TIMEOUT_S CMD...: until CMD succeeds (polls every 100 ms).
wait_for() {
    local desc=$1 deadline=$(( $(date +%s) + $2 )); shift 2
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || fail "timed out waiting for $desc"
        sleep 0.1
    done
}
jp() { kubectl -n "$ns" get "$1" -o "jsonpath=$2" 2>/dev/null; }
cond_is() { [[ "$(jp "$1" "{.status.conditions[?(@.type==\"$2\")].$3}")" == "$4" ]]; }
event_seen() { kubectl -n "$ns" get events --field-selector "involvedObject.name=$1,reason=$2" -o name | grep -q .; }
order_of() { kubectl -n "$ns" get orders -o name 2>/dev/null | sed -n "s|^order.acme.cert-manager.io/\($1-[0-9]*\)$|\1|p"; }
has_order() { [[ -n $(order_of "$1") ]]; }
state_is() { [[ "$(jp "order/$1" '{.status.state}')" == "$2" ]]; }
# names of the Challenges controlled by Order $1 (not being deleted)
challenges_of() { kubectl -n "$ns" get challenges -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin)["items"]:
    if any(r.get("name") == sys.argv[1] and r.get("controller") for r in c["metadata"].get("ownerReferences", [])) \
            and not c["metadata"].get("deletionTimestamp"):
        print(c["metadata"]["name"])' "$1"; }
challenges_are() { [[ "$(challenges_of "$1" | wc -l)" == "$2" ]]; }
# snap_challenges ORDER: the Challenges controlled by the Order (not being deleted), as a JSON array in
# $work/ch.json; fails while there is none
snap_challenges() {
    kubectl -n "$ns" get challenges -o json | jq --arg o "$1" '[.items[] | select(.metadata.deletionTimestamp == null)
        | select(any(.metadata.ownerReferences[]?; .name == $o and .controller == true))]' >"$work/ch.json" &&
        [[ $(jq length "$work/ch.json") -gt 0 ]]
}
authz_filled() { [[ $(jp "order/$1" '{.status.authorizations[*].identifier}' | wc -w) == "$2" ]]; }
# open (non-final) authorizations of an Order = Challenges it needs
n_open_authz() { jp "order/$1" '{range .status.authorizations[*]}{.initialState}{"\n"}{end}' | grep -vc '^valid$' || true; }

cr() { # cr NAME ISSUER DNS...: a CertificateRequest for a fresh P-256 key
    local n=$1 iss=$2; shift 2
    local san
    san=$(printf 'DNS:%s,' "$@")
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$n.key" -subj "/CN=$1" \
        -addext "subjectAltName=${san%,}" -out "$work/$n.csr" 2>/dev/null
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: $n}
spec:
  request: $(base64 -w0 <"$work/$n.csr")
  issuerRef: {name: $iss, kind: Issuer, group: cert-manager.io}
YAML
}

issuer() { # issuer NAME SOLVERS_JSON
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: $1}
spec:
  acme:
    server: $KACME_ACME_SERVER
    email: it@example.com
    caBundle: $ca
    privateKeySecretRef: {name: $1-account}
    solvers: $2
YAML
}
HTTP='[{"http01": {"ingress": {}}}]'

kubectl apply -f "$root/crds/" >/dev/null
kubectl create namespace "$ns" >/dev/null
ca=$(base64 -w0 <"$KACME_ACME_CA_FILE")
issuer pebble "$HTTP"
issuer nocheck '[{"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "0s"}]'
issuer nosolver '[{"selector": {"dnsZones": ["elsewhere.test"]}, "http01": {"ingress": {}}}]'
issuer slow '[{"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "1h"}]'
start
for i in pebble nocheck nosolver slow; do wait_for "issuer $i Ready" 60 cond_is "issuer/$i" Ready status True; done

# 1. one name, end to end
t0=$(date +%s%N)
cr one pebble "one.$dom"
wait_for "order of cr one" 30 has_order one
o=$(order_of one)
# the Challenge can be done and deleted within a second: its fields are checked on the first snapshot
wait_for "challenge of $o" 30 snap_challenges "$o"
[[ $(jq length "$work/ch.json") == 1 ]] || fail "$o: $(jq length "$work/ch.json") challenges, want 1"
chv() { jq -r ".[0] | $1" "$work/ch.json"; }
[[ $(jp "order/$o" '{.status.url}') == https://* ]] || fail "$o: no status.url"
[[ $(jp "order/$o" '{.status.finalizeURL}') == https://* ]] || fail "$o: no status.finalizeURL"
[[ $(jp "order/$o" '{.status.authorizations[0].identifier}') == "one.$dom" ]] || fail "$o: authorization identifier"
tok=$(jp "order/$o" '{.status.authorizations[0].challenges[?(@.type=="http-01")].token}')
[[ -n $tok ]] || fail "$o: no http-01 challenge recorded"
ch=challenge/$(chv .metadata.name)
[[ $(chv '.metadata.ownerReferences[0] | "\(.kind)/\(.name)"') == "Order/$o" ]] || fail "$ch: owner reference"
[[ $(chv '.metadata.ownerReferences[0] | "\(.controller)\(.blockOwnerDeletion)"') == truetrue ]] ||
    fail "$ch: owner reference flags"
[[ $(chv .spec.type) == HTTP-01 && $(chv .spec.token) == "$tok" ]] || fail "$ch: type/token"
[[ $(chv .spec.key) =~ ^$tok\.[A-Za-z0-9_-]{43}$ ]] || fail "$ch: HTTP-01 key is not token.thumbprint"
[[ $(chv .spec.issuerRef.name) == pebble ]] || fail "$ch: issuerRef"
wait_for "order $o valid" 60 state_is "$o" valid
t1=$(date +%s%N)
echo "one name (HTTP-01, every controller): CertificateRequest created → Order valid in $(( (t1 - t0) / 1000000 )) ms"
wait_for "Created event" 10 event_seen "$o" Created
jp "order/$o" '{.status.certificate}' | base64 -d >"$work/chain.pem"
[[ $(grep -c 'BEGIN CERTIFICATE' "$work/chain.pem") -ge 2 ]] || fail "$o: certificate chain"
openssl x509 -in "$work/chain.pem" -noout -ext subjectAltName | grep -q "DNS:one.$dom" || fail "$o: SAN"
wait_for "Complete event" 10 event_seen "$o" Complete
wait_for "challenges of $o deleted" 30 challenges_are "$o" 0
wait_for "cr one Ready" 30 cond_is certificaterequest/one Ready status True

# 2. three names, one of them authorized in 1 (authz reuse is up to Pebble: count open authorizations)
cr multi pebble "one.$dom" "two.$dom" "three.$dom"
wait_for "order of cr multi" 30 has_order multi
o=$(order_of multi)
wait_for "authorizations of $o" 30 authz_filled "$o" 3
want=$(n_open_authz "$o")
wait_for "$want challenges of $o" 30 challenges_are "$o" "$want"
wait_for "order $o valid" 60 state_is "$o" valid
wait_for "challenges of $o deleted" 30 challenges_are "$o" 0

# 3. the CA fails the Challenge: the Order fails with its reason
"$root/tests/lib/dns-record.sh" add "$bad" A 127.0.0.2 || fail "cannot mock the A record of $bad"
cr bad nocheck "$bad"
wait_for "order of cr bad" 30 has_order bad
o=$(order_of bad)
wait_for "order $o invalid" 60 state_is "$o" invalid
reason=$(jp "order/$o" '{.status.reason}')
[[ $reason == *urn:ietf:params:acme:error:* ]] || fail "$o: reason '$reason' does not carry the CA's error"
[[ -n $(jp "order/$o" '{.status.failureTime}') ]] || fail "$o: no failureTime"
wait_for "cr bad Failed" 30 cond_is certificaterequest/bad Ready reason Failed

# 4. no usable solver: Solver event, no Challenge; a fixed Issuer resumes the Order
cr nosolver nosolver "nosolver.$dom"
wait_for "order of cr nosolver" 30 has_order nosolver
o=$(order_of nosolver)
wait_for "Solver event" 30 event_seen "$o" Solver
challenges_are "$o" 0 || fail "$o: a Challenge without a solver"
issuer nosolver "$HTTP"
wait_for "order $o valid after the Issuer fix" 60 state_is "$o" valid

# 5. a solver change mid-order replaces the Challenge
cr slow slow "slow.$dom"
wait_for "order of cr slow" 30 has_order slow
o=$(order_of slow)
wait_for "challenge of $o" 30 challenges_are "$o" 1
old=$(challenges_of "$o")
issuer slow "$HTTP"
wait_for "order $o valid after the solver change" 60 state_is "$o" valid
wait_for "old challenge $old gone" 30 eval '! kubectl -n '"$ns"' get challenge '"$old"' -o name'

# 6. crashes at random moments: still issued, never two ACME orders from one process
for i in 1 2 3; do
    cr "crash$i" pebble "crash$i.$dom" "crash$i-b.$dom"
    for _ in 1 2 3; do
        sleep "0.$(( RANDOM % 9 + 1 ))"
        crash
        start
    done
    wait_for "order of cr crash$i" 30 has_order "crash$i"
    o=$(order_of "crash$i")
    wait_for "order $o valid" 60 state_is "$o" valid
    # newOrder and the status write that records its URL cannot be atomic: a kill -9 between them costs
    # one abandoned ACME order, but a running process must never create a second one (stale cache)
    dup=$(grep "\"ACME order created\" order=\"$ns/$o\"" "$work/ctrl.log" | awk '{print $3}' | sort | uniq -d)
    [[ -z $dup ]] || fail "$o: process $dup created more than one ACME order"
    [[ $(jp "order/$o" '{.status.url}') == https://* ]] || fail "$o: no status.url"
done
echo "it_orders: PASS"
