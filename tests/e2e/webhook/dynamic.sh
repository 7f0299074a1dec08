#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# e2e for kacme-webhook's dynamic serving certificate against the local control plane (fixture kacme_env):
#  - started with --dynamic-serving-* flags and --webhook-configuration-name, it creates the CA Secret
#    (kubernetes.io/tls, ca.crt == tls.crt, ECDSA P-384, annotation allow-direct-injection), serves a leaf
#    for 127.0.0.1 signed by it, fills the caBundle of the ValidatingWebhookConfiguration, turns /readyz 200;
#  - the API server calls it (a Challenge by a user is denied by the webhook);
#  - deleting the CA Secret while serving: it is recreated, the caBundle follows, kubectl calls keep working;
#  - a second replica started against the same Secret adopts the CA instead of replacing it.
set -euo pipefail
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
build=${KACME_BUILD_DIR:-$root/build}
L=${KACME_LOCAL_DIR:-$root/_local}
# shellcheck disable=SC1091
. "$L/env.sh"
bin=$build/bin/kacme-webhook
[[ -x "$bin" ]] || { echo "missing $bin (build kacme-webhook first)" >&2; exit 1; }

id=$$
ns=kacme-e2e-whdyn-$id
vwc=kacme-e2e-whdyn-$id
tmp=$(mktemp -d)
pids=()
step() { printf '\n--- e2e webhook dynamic: %s\n' "$*"; }
cleanup() {
    kubectl delete validatingwebhookconfiguration "$vwc" --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    printf '\ne2e webhook dynamic: FAILED: %s\n' "$*" >&2
    for f in "$tmp"/*.log; do [[ -f "$f" ]] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done
    exit 1
}
retry() {
    local t=$1 what=$2
    shift 2
    local deadline=$((SECONDS + t))
    until "$@"; do
        ((SECONDS < deadline)) || fail "timed out after ${t}s: $what"
        sleep 0.5
    done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

kubectl apply --server-side --force-conflicts -f "$root/crds/" >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/challenges.acme.cert-manager.io >/dev/null
kubectl create ns "$ns" >/dev/null
kubectl label ns "$ns" "kacme-e2e-whdyn=$id" >/dev/null
# The webhook URL needs a port before the webhook runs (the configuration exists first, without caBundle).
port=$(free_port)
kubectl apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: $vwc
webhooks:
  - name: webhook.kacme.cert-manager.io
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    namespaceSelector:
      matchLabels: {kacme-e2e-whdyn: "$id"}
    rules:
      - apiGroups: ["acme.cert-manager.io"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["challenges"]
        scope: Namespaced
    clientConfig:
      url: https://127.0.0.1:$port/validate
YAML

start() { # start LOGNAME SECURE_PORT
    "$bin" --kubeconfig "$KUBECONFIG" --dynamic-serving-ca-secret-namespace "$ns" \
        --dynamic-serving-ca-secret-name kacme-webhook-ca --dynamic-serving-dns-names 127.0.0.1,kacme-webhook.kacme.svc \
        --webhook-configuration-name "$vwc" --bind-address 127.0.0.1 --secure-port "$2" --healthz-port 0 \
        --metrics-listen-address 0 --v 1 \
        >"$tmp/$1.log" 2>&1 &
    pids+=($!)
}
step "start in dynamic mode"
start one "$port"
retry 20 "serving" grep -q '"serving"' "$tmp/one.log"
hport=$(sed -n 's/.*healthzPort="\([0-9]*\)".*/\1/p' "$tmp/one.log")
ready() { curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null; }
retry 30 "readyz" ready

step "CA Secret, caBundle and serving certificate"
secret_ca() { kubectl -n "$ns" get secret kacme-webhook-ca -o jsonpath='{.data.ca\.crt}' 2>/dev/null; }
bundle() { kubectl get validatingwebhookconfiguration "$vwc" -o jsonpath='{.webhooks[0].clientConfig.caBundle}'; }
ca1=$(secret_ca)
[[ -n "$ca1" ]] || fail "CA Secret missing"
[[ "$(kubectl -n "$ns" get secret kacme-webhook-ca -o jsonpath='{.data.tls\.crt}')" == "$ca1" ]] || fail "tls.crt != ca.crt"
[[ "$(kubectl -n "$ns" get secret kacme-webhook-ca -o jsonpath='{.type}')" == kubernetes.io/tls ]] || fail "Secret type"
[[ "$(kubectl -n "$ns" get secret kacme-webhook-ca -o jsonpath='{.metadata.annotations.cert-manager\.io/allow-direct-injection}')" == true ]] ||
    fail "allow-direct-injection annotation"
base64 -d <<<"$ca1" >"$tmp/ca1.pem"
openssl x509 -in "$tmp/ca1.pem" -noout -text >"$tmp/ca1.txt"
grep -q 'CA:TRUE' "$tmp/ca1.txt" || fail "CA lacks basicConstraints CA:TRUE"
grep -q 'Public-Key: (384 bit)' "$tmp/ca1.txt" || fail "CA is not P-384"
# bundle_has B64CA: the caBundle contains that CA certificate
bundle_has() { local b; b=$(bundle) && [[ -n "$b" ]] && base64 -d <<<"$b" | grep -qF -- "$(base64 -d <<<"$1" | sed -n 2p)"; }
retry 20 "caBundle set" bundle_has "$ca1"
out=$(curl -s --cacert "$tmp/ca1.pem" -X POST -d '{}' "https://127.0.0.1:$port/validate") ||
    fail "leaf not trusted with the published CA"
grep -q 'not an admission' <<<"$out" || fail "unexpected answer: $out"

chal() { # chal NAME USER: create a Challenge as USER
    kubectl create --as="$2" --as-group=system:masters -f - 2>&1 <<YAML
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata: {name: $1, namespace: $ns}
spec: {url: u, authorizationURL: a, dnsName: a.example.com, wildcard: false, type: HTTP-01, token: t, key: k,
       solver: {http01: {ingress: {}}}, issuerRef: {name: x}}
YAML
}
denied_by_webhook() { local out; out=$(chal "c-$RANDOM" bob) && return 1; grep -q 'Challenges are created by the kacme controller only' <<<"$out"; }
retry 30 "the API server calls the webhook" denied_by_webhook
echo "ok: a user's Challenge is denied through the dynamic certificate"

step "delete the CA Secret while serving: recreated, caBundle follows, calls keep working"
kubectl -n "$ns" delete secret kacme-webhook-ca >/dev/null
new_ca() { local c; c=$(secret_ca) && [[ -n "$c" && "$c" != "$ca1" ]]; }
retry 30 "CA Secret recreated" new_ca
ca2=$(secret_ca)
bundle_follows() { bundle_has "$ca2"; }
retry 30 "caBundle follows the new CA" bundle_follows
retry 30 "webhook calls work with the new CA" denied_by_webhook
out=$(chal c-ok system:serviceaccount:kacme:kacme-controller) || fail "controller Challenge create failed: $out"
echo "ok: CA rotated, calls keep working"

step "a second replica adopts the existing CA"
port2=$(free_port)
start two "$port2"
retry 20 "second replica serving" grep -q 'serving certificate issued' "$tmp/two.log"
[[ "$(secret_ca)" == "$ca2" ]] || fail "the second replica replaced the CA"
grep -q 'created the webhook CA\|regenerated the webhook CA' "$tmp/two.log" && fail "second replica wrote a CA"
base64 -d <<<"$ca2" >"$tmp/ca2.pem"
out=$(curl -s --cacert "$tmp/ca2.pem" -X POST -d '{}' "https://127.0.0.1:$port2/validate") || fail "replica 2 TLS: $out"
grep -q 'not an admission' <<<"$out" || fail "replica 2 answer: $out"
grep -q 'BEGIN\|PRIVATE' "$tmp"/*.log && fail "key material in logs"
echo "e2e webhook dynamic: PASSED"
