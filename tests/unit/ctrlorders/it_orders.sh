#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The orders controller (with issuers + certificaterequests-issuer-acme in the same process, for the account
# registry and the Orders) against the local control plane and Pebble (hack/local-up.sh), in a namespace of its
# own (--namespace). The challenges controller is NOT run: ctrlorders_fakesolve stands in for it (DNS-01: the
# TXT record goes into pebble-challtestsrv, the challenge is accepted with the issuer's account key, and the
# result is copied into the Challenge status as the challenges controller would).
#   1. one name: ACME order (url, finalizeURL, authorizations with identifier/challenges), one Challenge (owner
#      reference, DNS-01 key, Created event); solved → Order valid with the PEM chain (base64) in
#      status.certificate, Complete event, Challenges deleted, CertificateRequest Ready=True
#   2. three names with a wildcard: one Challenge per authorization not already valid (authz reuse), the
#      wildcard one with dnsName without "*." and wildcard=true
#   3. a failed Challenge: Order invalid with the Challenge's reason and a failureTime; CR Failed
#   4. no usable solver: Warning event Solver, no Challenge; fixing the Issuer resumes the Order
#   5. a solver change mid-order: a new Challenge (new name), the old one deleted
#   6. kill -9 at random moments: exactly one ACME order per Order, still issued
#
# usage: it_orders.sh /path/to/kacme-controller /path/to/ctrlorders_fakesolve
set -euo pipefail
bin=${1:?usage: it_orders.sh /path/to/kacme-controller /path/to/ctrlorders_fakesolve}
solve_bin=${2:?usage: it_orders.sh /path/to/kacme-controller /path/to/ctrlorders_fakesolve}
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
env_sh=${KACME_LOCAL_DIR:-$root/_local}/env.sh
[[ -f $env_sh ]] || { echo "it_orders: $env_sh missing: bring the local environment up (hack/local-up.sh)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_sh"

ns=ctrlorders-it-$$
work=$(mktemp -d)
pid=""
cleanup() {
    [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $work/ctrl.log ]] && { echo "--- controller log" >&2; tail -n 200 "$work/ctrl.log" >&2; }; exit 1; }

start() {
    "$bin" --kubeconfig="$KUBECONFIG" --namespace="$ns" --controllers=issuers,certificaterequests-issuer-acme,orders \
        --leader-elect=false --metrics-listen-address=0 --internal-healthz-listen-address=127.0.0.1:0 --v=2 \
        >>"$work/ctrl.log" 2>&1 &
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
n_challenges() { kubectl -n "$ns" get challenges -o json | python3 -c '
import json, sys
o = sys.argv[1]
print(sum(1 for c in json.load(sys.stdin)["items"]
          if any(r.get("name") == o and r.get("controller") for r in c["metadata"].get("ownerReferences", []))
          and not c["metadata"].get("deletionTimestamp")))' "$1"; }
challenges_are() { [[ "$(n_challenges "$1")" == "$2" ]]; }
# open (non-final) authorizations of an Order = Challenges it needs
n_open_authz() { jp "order/$1" '{range .status.authorizations[*]}{.initialState}{"\n"}{end}' | grep -vc '^valid$' || true; }

# solve ORDER [wrong]: what the challenges controller would do for each of ORDER's pending Challenges.
solve() {
    kubectl -n "$ns" get secret pebble-account -o jsonpath='{.data.tls\.key}' | base64 -d >"$work/acct.key"
    kubectl -n "$ns" get challenges -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin)["items"]:
    st = (c.get("status") or {}).get("state", "")
    owned = any(r.get("name") == sys.argv[1] for r in c["metadata"].get("ownerReferences", []))
    if owned and st in ("", "pending") and not c["metadata"].get("deletionTimestamp"):
        s = c["spec"]
        print(c["metadata"]["name"], s["type"], s["dnsName"], s["key"], s["url"], s["authorizationURL"])' "$1" |
    while read -r name type dns key url authz; do
        [[ $type == DNS-01 ]] || fail "challenge $name has type $type"
        [[ ${2:-} == wrong ]] && key=not-the-key
        curl -sf -X POST -d "{\"host\":\"_acme-challenge.$dns.\",\"value\":\"$key\"}" \
            "$KACME_CHALLTESTSRV_URL/set-txt" >/dev/null || fail "challtestsrv set-txt"
        local res state reason
        res=$("$solve_bin" "$KACME_ACME_SERVER" "$KACME_ACME_CA_FILE" "$work/acct.key" "$url" "$authz") ||
            fail "fakesolve $name"
        state=${res%%$'\t'*}
        reason=${res#*$'\t'}
        kubectl -n "$ns" patch challenge "$name" --subresource=status --type=merge -p "$(python3 -c '
import json, sys
print(json.dumps({"status": {"state": sys.argv[1], "reason": sys.argv[2], "processing": False, "presented": True}}))' \
            "$state" "$reason")" >/dev/null || fail "patch challenge $name"
    done
}

cr() { # cr NAME DNS...: a CertificateRequest for a fresh P-256 key
    local n=$1; shift
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
  issuerRef: {name: pebble, kind: Issuer, group: cert-manager.io}
YAML
}

issuer() { # issuer SOLVERS_JSON
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: pebble}
spec:
  acme:
    server: $KACME_ACME_SERVER
    email: it@example.com
    caBundle: $ca
    privateKeySecretRef: {name: pebble-account}
    solvers: $1
YAML
}
DNS_SOLVER='[{"dns01": {"rfc2136": {"nameserver": "'$KACME_DNS_SERVER'"}}}]'

kubectl apply -f "$root/crds/" >/dev/null
kubectl create namespace "$ns" >/dev/null
ca=$(base64 -w0 <"$KACME_ACME_CA_FILE")
dom=$ns.test
issuer "$DNS_SOLVER"
start
wait_for "issuer Ready" 60 cond_is issuer/pebble Ready status True

# 1. one name, end to end
cr one "one.$dom"
wait_for "order of cr one" 30 has_order one
o=$(order_of one)
wait_for "challenge of $o" 30 challenges_are "$o" 1
[[ $(jp "order/$o" '{.status.url}') == https://* ]] || fail "$o: no status.url"
[[ $(jp "order/$o" '{.status.finalizeURL}') == https://* ]] || fail "$o: no status.finalizeURL"
[[ $(jp "order/$o" '{.status.authorizations[0].identifier}') == "one.$dom" ]] || fail "$o: authorization identifier"
[[ -n $(jp "order/$o" '{.status.authorizations[0].challenges[?(@.type=="dns-01")].token}') ]] ||
    fail "$o: no dns-01 challenge recorded"
ch=$(kubectl -n "$ns" get challenges -o name | head -1)
[[ $(jp "$ch" '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}') == "Order/$o" ]] ||
    fail "$ch: owner reference"
[[ $(jp "$ch" '{.metadata.ownerReferences[0].controller}{.metadata.ownerReferences[0].blockOwnerDeletion}') == truetrue ]] ||
    fail "$ch: owner reference flags"
[[ $(jp "$ch" '{.spec.type}') == DNS-01 ]] || fail "$ch: type"
[[ $(jp "$ch" '{.spec.key}') =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "$ch: DNS-01 key is not base64url(SHA-256)"
[[ $(jp "$ch" '{.spec.issuerRef.name}') == pebble ]] || fail "$ch: issuerRef"
wait_for "Created event" 10 event_seen "$o" Created
solve "$o"
t0=$(date +%s%N)
wait_for "order $o valid" 30 state_is "$o" valid
t1=$(date +%s%N)
echo "one name: last Challenge valid → Order valid in $(( (t1 - t0) / 1000000 )) ms (including kubectl polling)"
jp "order/$o" '{.status.certificate}' | base64 -d >"$work/chain.pem"
[[ $(grep -c 'BEGIN CERTIFICATE' "$work/chain.pem") -ge 2 ]] || fail "$o: certificate chain"
openssl x509 -in "$work/chain.pem" -noout -ext subjectAltName | grep -q "DNS:one.$dom" || fail "$o: SAN"
wait_for "Complete event" 10 event_seen "$o" Complete
wait_for "challenges of $o deleted" 30 challenges_are "$o" 0
wait_for "cr one Ready" 30 cond_is certificaterequest/one Ready status True

# 2. three names with a wildcard (authz reuse for one.$dom is up to Pebble: count open authorizations)
cr multi "one.$dom" "*.$dom" "two.$dom"
wait_for "order of cr multi" 30 has_order multi
o=$(order_of multi)
wait_for "authorizations of $o" 30 eval '[[ $(jp order/'"$o"' "{.status.authorizations[*].identifier}" | wc -w) == 3 ]]'
want=$(n_open_authz "$o")
wait_for "$want challenges of $o" 30 challenges_are "$o" "$want"
wc_ch=$(kubectl -n "$ns" get challenges -o jsonpath='{range .items[?(@.spec.wildcard==true)]}{.spec.dnsName}{"\n"}{end}')
[[ $wc_ch == "$dom" ]] || fail "$o: wildcard challenge dnsName '$wc_ch'"
solve "$o"
wait_for "order $o valid" 30 state_is "$o" valid
wait_for "challenges of $o deleted" 30 challenges_are "$o" 0

# 3. a failed Challenge fails the Order with its reason
cr bad "bad.$dom"
wait_for "order of cr bad" 30 has_order bad
o=$(order_of bad)
wait_for "challenge of $o" 30 challenges_are "$o" 1
solve "$o" wrong
wait_for "order $o invalid" 30 state_is "$o" invalid
[[ $(jp "order/$o" '{.status.reason}') == *unauthorized* ]] || fail "$o: reason '$(jp "order/$o" '{.status.reason}')'"
[[ -n $(jp "order/$o" '{.status.failureTime}') ]] || fail "$o: no failureTime"
wait_for "cr bad Failed" 30 cond_is certificaterequest/bad Ready reason Failed

# 4. no usable solver: Solver event, no Challenge; a fixed Issuer resumes the Order
issuer '[{"selector": {"dnsZones": ["elsewhere.test"]}, "dns01": {"rfc2136": {"nameserver": "'$KACME_DNS_SERVER'"}}}]'
sleep 1
cr nosolver "nosolver.$dom"
wait_for "order of cr nosolver" 30 has_order nosolver
o=$(order_of nosolver)
wait_for "Solver event" 30 event_seen "$o" Solver
challenges_are "$o" 0 || fail "$o: a Challenge without a solver"
issuer "$DNS_SOLVER"
wait_for "challenge of $o after the Issuer fix" 30 challenges_are "$o" 1

# 5. a solver change mid-order replaces the Challenge
old=$(kubectl -n "$ns" get challenges -o jsonpath="{.items[?(@.spec.dnsName==\"nosolver.$dom\")].metadata.name}")
issuer '[{"dns01": {"cnameStrategy": "Follow", "rfc2136": {"nameserver": "'$KACME_DNS_SERVER'"}}}]'
wait_for "a new challenge for $o" 30 eval '[[ -n $(kubectl -n '"$ns"' get challenges -o name | grep -v "/'"$old"'$") ]]'
wait_for "old challenge $old gone" 30 eval '! kubectl -n '"$ns"' get challenge '"$old"' -o name'
solve "$o"
wait_for "order $o valid" 30 state_is "$o" valid

# 6. crashes at random moments: one ACME order per Order, still issued
for i in 1 2 3; do
    cr "crash$i" "crash$i.$dom" "crash$i-b.$dom"
    for _ in 1 2 3; do
        sleep "0.$(( RANDOM % 9 + 1 ))"
        crash
        start
    done
    wait_for "order of cr crash$i" 30 has_order "crash$i"
    o=$(order_of "crash$i")
    wait_for "authorizations of $o" 30 eval '[[ $(jp order/'"$o"' "{.status.authorizations[*].identifier}" | wc -w) == 2 ]]'
    want=$(n_open_authz "$o")
    wait_for "$want challenges of $o" 30 challenges_are "$o" "$want"
    solve "$o" &
    spid=$!
    sleep "0.$(( RANDOM % 9 + 1 ))"
    crash
    start
    wait "$spid" || fail "solve $o"
    wait_for "order $o valid" 30 state_is "$o" valid
    n=$(grep -c "\"ACME order created\" order=\"$ns/$o\"" "$work/ctrl.log" || true)
    [[ $n == 1 ]] || fail "$o: $n ACME orders created"
done
echo "it_orders: PASS"
