#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# challenges controller (with issuers, certificaterequests-issuer-acme and orders) against the local
# control plane, Pebble and the node/ingress stand-ins (hack/local-up.sh), in a namespace of its own
# (--namespace, so nothing else in the shared environment is touched):
#   1. a CertificateRequest for one name is issued through HTTP-01: the Challenge is scheduled (Started),
#      gets our finalizer, is presented (Pod, Service, Ingress owned by it), self-checked, accepted,
#      DomainVerified; the time from the CertificateRequest to Issued is printed
#   2. nothing is left behind: no solver Pod/Service/Ingress, the Challenge gone or released
#   3. edit in place (solver http01.ingress.name): the named Ingress gets the challenge path and keeps its
#      other rules; after issuance the path is gone and the other rules remain
#   4. a Challenge whose spec.solver is not one of the issuer's is refused (errored, Warning Failed),
#      its finalizer removed and its scheduler slot freed
#   5. /metrics carries certmanager_certificate_challenge_status for it
#   6. solver.waitInsteadOfSelfCheck: issued without a self-check (no "Waiting for HTTP-01" reason)
# Exit 77 (skipped) when the node stand-in cannot run a solver pod (no pod IP within 20 s).
#
# usage: it_challenges.sh /path/to/kacme-controller
set -euo pipefail
bin=${1:?usage: it_challenges.sh /path/to/kacme-controller}
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
env_sh=${KACME_LOCAL_DIR:-$root/_local}/env.sh
[[ -f $env_sh ]] || { echo "it_challenges: $env_sh missing: bring the local environment up (hack/local-up.sh)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_sh"

ns=ctrlchallenges-it-$$
work=$(mktemp -d)
pid=""
cleanup() {
    [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    # with the controller gone nobody would remove our finalizer: drop it so the namespace can go
    local c
    for c in $(kubectl -n "$ns" get challenges -o name 2>/dev/null); do
        kubectl -n "$ns" patch "$c" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
    done
    kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $work/ctrl.log ]] && { echo "--- controller log (tail)" >&2; tail -80 "$work/ctrl.log" >&2; }; exit 1; }

start() {
    "$bin" --kubeconfig="$KUBECONFIG" --namespace="$ns" \
        --controllers=issuers,certificaterequests-issuer-acme,orders,challenges \
        --acme-http01-solver-nameservers="$KACME_DNS_SERVER" \
        --leader-elect=false --metrics-listen-address=127.0.0.1:0 --internal-healthz-listen-address=127.0.0.1:0 \
        --v=2 >>"$work/ctrl.log" 2>&1 &
    pid=$!
}

# wait_for DESC TIMEOUT_S CMD...: until CMD succeeds.
wait_for() {
    local desc=$1 deadline=$(( $(date +%s) + $2 )); shift 2
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || fail "timed out waiting for $desc"
        sleep 0.2
    done
}
jp() { kubectl -n "$ns" get "$1" -o "jsonpath=$2" 2>/dev/null; }
cond_is() { [[ "$(jp "$1" "{.status.conditions[?(@.type==\"$2\")].$3}")" == "$4" ]]; }
event_seen() { kubectl -n "$ns" get events --field-selector "involvedObject.name=$1,reason=$2" -o name | grep -q .; }
solver_objects() { kubectl -n "$ns" get pods,services,ingresses -l acme.cert-manager.io/http01-solver=true -o name; }
no_solver_objects() { [[ -z $(solver_objects) ]]; }
now_ms() { date +%s%3N; }

kubectl apply -f "$root/crds/" >/dev/null
kubectl create namespace "$ns" >/dev/null
ca=$(base64 -w0 <"$KACME_ACME_CA_FILE")
issuer() { # issuer NAME SOLVERS_FLOW_YAML
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
cr() { # cr NAME ISSUER DNSNAME
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$1.key" \
        -subj "/CN=$3" -addext "subjectAltName=DNS:$3" -out "$work/$1.csr" 2>/dev/null
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: $1}
spec:
  request: $(base64 -w0 <"$work/$1.csr")
  issuerRef: {name: $2, kind: Issuer, group: cert-manager.io}
YAML
}
issuer pebble '[{http01: {ingress: {}}}]'
issuer inplace '[{http01: {ingress: {name: web}}}]'
issuer nowait '[{http01: {ingress: {}}, waitInsteadOfSelfCheck: 1s}]'
start
wait_for "issuer pebble Ready" 60 cond_is issuer/pebble Ready status True
wait_for "issuer inplace Ready" 60 cond_is issuer/inplace Ready status True
wait_for "issuer nowait Ready" 60 cond_is issuer/nowait Ready status True

# 1
t0=$(now_ms)
cr one pebble "one.$ns.example"
wait_for "a Challenge" 20 bash -c "kubectl -n $ns get challenges -o name | grep -q ."
ch=$(kubectl -n "$ns" get challenges -o name | head -1)
chname=${ch#*/}
wait_for "Started event" 20 event_seen "$chname" Started
wait_for "Presented event" 20 event_seen "$chname" Presented
[[ $(jp "$ch" '{.metadata.finalizers[*]}') == *acme.cert-manager.io/finalizer* ]] || fail "no finalizer on $ch"
uid=$(jp "$ch" '{.metadata.uid}')
for kind in pods services ingresses; do
    owner=$(kubectl -n "$ns" get "$kind" -l acme.cert-manager.io/http01-solver=true \
        -o jsonpath='{.items[0].metadata.ownerReferences[0].uid}')
    [[ $owner == "$uid" ]] || fail "solver $kind not owned by the Challenge ($owner)"
done
pod_ip() { kubectl -n "$ns" get pods -l acme.cert-manager.io/http01-solver=true -o jsonpath='{.items[0].status.podIP}' 2>/dev/null | grep -q .; }
deadline=$(( $(date +%s) + 20 ))
until pod_ip; do
    if (( $(date +%s) >= deadline )); then
        echo "SKIP: the node stand-in did not run the solver pod (no pod IP after 20 s)"
        exit 77
    fi
    sleep 0.2
done
wait_for "CertificateRequest one issued" 60 cond_is certificaterequest/one Ready reason Issued
t1=$(now_ms)
echo "ok 1 issued through HTTP-01 in $(( t1 - t0 )) ms (CertificateRequest created → Ready=Issued)"

# 2
wait_for "DomainVerified event" 10 event_seen "$chname" DomainVerified
wait_for "solver objects removed" 20 no_solver_objects
released() { ! kubectl -n "$ns" get "$ch" >/dev/null 2>&1 || [[ $(jp "$ch" '{.status.processing}') == false ]]; }
wait_for "challenge released" 20 released
echo "ok 2 nothing left behind (${SECONDS}s)"

# 3
kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: app.$ns.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
YAML
cr two inplace "app.$ns.example"
has_path() { jp ingress/web '{.spec.rules[*].http.paths[*].path}' | grep -q /.well-known/acme-challenge/; }
wait_for "challenge path in ingress web" 30 has_path
wait_for "CertificateRequest two issued" 60 cond_is certificaterequest/two Ready reason Issued
no_path() { ! has_path; }
wait_for "challenge path removed from ingress web" 20 no_path
[[ $(jp ingress/web '{.spec.rules[*].http.paths[*].backend.service.name}') == app ]] ||
    fail "ingress web lost its own rule: $(jp ingress/web '{.spec.rules}')"
wait_for "solver objects removed (edit in place)" 20 no_solver_objects
echo "ok 3 edit in place keeps the Ingress's rules (${SECONDS}s)"

# 4
kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata: {name: evil}
spec:
  url: https://127.0.0.1:1/chal/evil
  authorizationURL: https://127.0.0.1:1/authz/evil
  dnsName: evil.$ns.example
  wildcard: false
  type: HTTP-01
  token: evil-token
  key: evil-token.x
  solver: {http01: {ingress: {class: attacker}}}
  issuerRef: {name: pebble}
YAML
wait_for "evil errored" 20 test "$(jp challenge/evil '{.status.state}')" = errored
jp challenge/evil '{.status.reason}' | grep -q "not one of the solvers" || fail "evil: reason $(jp challenge/evil '{.status.reason}')"
wait_for "evil released" 20 test "$(jp challenge/evil '{.status.processing}')" = false
[[ -z $(jp challenge/evil '{.metadata.finalizers}') ]] || fail "evil: finalizer left"
wait_for "Failed event" 20 event_seen evil Failed
no_solver_objects || fail "solver objects created for a refused challenge: $(solver_objects)"
echo "ok 4 a solver not among the issuer's is refused (${SECONDS}s)"

# 5
ports=$(ss -ltnp 2>/dev/null | grep "pid=$pid," | sed -n 's/.*127\.0\.0\.1:\([0-9]*\) .*/\1/p')
found=""
for p in $ports; do
    if curl -fsS "http://127.0.0.1:$p/metrics" 2>/dev/null >"$work/metrics"; then
        grep -q 'certmanager_certificate_challenge_status{status="errored",domain="evil\.'"$ns"'\.example",.*name="evil".* 1$' \
            "$work/metrics" && found=1
    fi
done
[[ -n $found ]] || fail "metrics: no certmanager_certificate_challenge_status for evil (ports: $ports)"
echo "ok 5 certmanager_certificate_challenge_status (${SECONDS}s)"

# 6
cr three nowait "three.$ns.example"
wait_for "CertificateRequest three issued" 60 cond_is certificaterequest/three Ready reason Issued
grep -qE '"self-check [a-z]+[^"]*" challenge="'"$ns"'/three-' "$work/ctrl.log" &&
    fail "three: a self-check ran despite waitInsteadOfSelfCheck"
grep -qE '"self-check [a-z]+[^"]*" challenge="'"$ns"'/one-' "$work/ctrl.log" ||
    fail "one: no self-check in the log (is the log format different?)"
echo "ok 6 waitInsteadOfSelfCheck (${SECONDS}s)"
