#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# e2e for kacme-webhook against the local control plane (fixture kacme_env):
#  - the CRDs apply and are Established; `kubectl explain order.spec.issuerRef` shows their docs;
#  - kacme-webhook runs as a local process in static TLS mode (cert for 127.0.0.1 made here) and is
#    registered with a ValidatingWebhookConfiguration by URL + caBundle, limited to this test's namespace;
#  - an Order created by a user; spec edits (kubectl patch) denied naming the field; label, annotation and
#    finalizer edits allowed; status writes allowed; set-once status fields denied by the webhook;
#  - a Challenge created by a non-controller user denied; by the controller identity allowed; its spec
#    immutable; its status free; field selectors on its spec.issuerRef fields;
#  - with the webhook configuration removed the CEL rule still denies the spec change.
set -euo pipefail
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
build=${KACME_BUILD_DIR:-$root/build}
L=${KACME_LOCAL_DIR:-$root/_local}
# shellcheck disable=SC1091
. "$L/env.sh"
bin=$build/bin/kacme-webhook
[[ -x "$bin" ]] || { echo "missing $bin (build kacme-webhook first)" >&2; exit 1; }

id=$$
ns=kacme-e2e-webhook-$id
vwc=kacme-e2e-webhook-$id
tmp=$(mktemp -d)
wh_pid=""
controller=system:serviceaccount:kacme:kacme-controller
step() { printf '\n--- e2e webhook: %s\n' "$*"; }
cleanup() {
    kubectl delete validatingwebhookconfiguration "$vwc" --ignore-not-found >/dev/null 2>&1 || true
    if [[ -n "$(kubectl get ns "$ns" -o name 2>/dev/null)" ]]; then
        # drop finalizers we added so the namespace can go away
        for o in $(kubectl -n "$ns" get orders,challenges -o name 2>/dev/null); do
            kubectl -n "$ns" patch "$o" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
        done
        kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
    fi
    [[ -n "$wh_pid" ]] && kill "$wh_pid" 2>/dev/null && wait "$wh_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    printf '\ne2e webhook: FAILED: %s\n' "$*" >&2
    [[ -f "$tmp/webhook.log" ]] && tail -n 30 "$tmp/webhook.log" >&2
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
# expect_denied DESCRIPTION PATTERN COMMAND...: the command fails and its output matches PATTERN
expect_denied() {
    local what=$1 pat=$2 out
    shift 2
    if out=$("$@" 2>&1); then fail "$what: was allowed: $out"; fi
    grep -qE -- "$pat" <<<"$out" || fail "$what: denied, but the message lacks /$pat/: $out"
    echo "ok (denied): $what"
}
expect_allowed() {
    local what=$1 out
    shift
    out=$("$@" 2>&1) || fail "$what: was denied: $out"
    echo "ok (allowed): $what"
}

step "CRDs apply and are Established"
kubectl apply --server-side --force-conflicts -f "$root/crds/" >/dev/null
kubectl wait --for=condition=Established --timeout=60s \
    crd/orders.acme.cert-manager.io crd/challenges.acme.cert-manager.io crd/issuers.cert-manager.io \
    crd/clusterissuers.cert-manager.io crd/certificaterequests.cert-manager.io >/dev/null
explained() { local out; out=$(kubectl explain order.spec.issuerRef 2>/dev/null) || return 1; grep -q 'Reference to the Issuer or ClusterIssuer' <<<"$out"; }
retry 30 "explain order.spec.issuerRef" explained
explain=$(kubectl explain order.spec.issuerRef)
grep -q 'name.*-required-' <<<"$explain" || fail "explain lacks the required name: $explain"
explain=$(kubectl explain challenge.spec.solver.dns01.rfc2136)
grep -q tsigKeyName <<<"$explain" || fail "explain lacks rfc2136 fields: $explain"

step "start kacme-webhook (static TLS for 127.0.0.1, ephemeral ports)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" -out "$tmp/tls.crt" \
    -days 1 -subj /CN=kacme-e2e-webhook -addext subjectAltName=IP:127.0.0.1 2>/dev/null
"$bin" --tls-cert-file "$tmp/tls.crt" --tls-private-key-file "$tmp/tls.key" --bind-address 127.0.0.1 \
    --secure-port 0 --healthz-port 0 --metrics-listen-address 0 --v 2 >"$tmp/webhook.log" 2>&1 &
wh_pid=$!
retry 20 "webhook serving" grep -q '"serving"' "$tmp/webhook.log"
port=$(sed -n 's/.*"serving" securePort="\([0-9]*\)".*/\1/p' "$tmp/webhook.log")
hport=$(sed -n 's/.*healthzPort="\([0-9]*\)".*/\1/p' "$tmp/webhook.log")
curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null || fail "readyz not 200"
curl -sf "http://127.0.0.1:$hport/livez" >/dev/null || fail "livez not 200"

step "namespace and ValidatingWebhookConfiguration (this namespace only)"
kubectl create ns "$ns" >/dev/null
kubectl label ns "$ns" "kacme-e2e-webhook=$id" >/dev/null
cab=$(base64 -w0 <"$tmp/tls.crt")
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
    matchPolicy: Equivalent
    timeoutSeconds: 10
    namespaceSelector:
      matchLabels: {kacme-e2e-webhook: "$id"}
    rules:
      - apiGroups: ["acme.cert-manager.io", "cert-manager.io"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["*/*"]
        scope: Namespaced
    clientConfig:
      url: https://127.0.0.1:$port/validate
      caBundle: $cab
YAML

csr_b64() { # csr_b64 CN SAN...: base64 of a PEM CSR
    local cn=$1 san
    shift
    san=$(printf 'DNS:%s,' "$@")
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/CN=$cn" \
        -addext "subjectAltName=${san%,}" 2>/dev/null | base64 -w0
}
req=$(csr_b64 a.example.com a.example.com b.example.com)
order_yaml() {
    cat <<YAML
apiVersion: acme.cert-manager.io/v1
kind: Order
metadata: {name: $1, namespace: $ns}
spec:
  request: $req
  issuerRef: {name: letsencrypt, kind: ClusterIssuer, group: cert-manager.io}
  commonName: a.example.com
  dnsNames: [a.example.com, b.example.com]
YAML
}

step "the webhook is in the path (bad Order denied on create)"
# registration takes effect asynchronously: poll until an invalid Order is refused by the webhook
bad_order() {
    local out
    out=$(order_yaml probe | sed 's/dnsNames: \[a.example.com, b.example.com\]/dnsNames: [a.example.com, c.example.com]/' |
        kubectl create --dry-run=server -f - 2>&1) || true
    grep -q 'must equal the DNS names of the CSR' <<<"$out"
}
retry 60 "webhook registered" bad_order
expect_denied "Order whose dnsNames differ from its CSR" 'spec.dnsNames: Invalid value' \
    bash -c "$(declare -f order_yaml); ns=$ns req=$req; order_yaml bad1 | sed 's/b.example.com\]/B.example.com]/' | kubectl create -f -"
expect_denied "Order with a bad issuerRef.kind" 'spec.issuerRef.kind: Unsupported value: "Foo"' \
    bash -c "$(declare -f order_yaml); ns=$ns req=$req; order_yaml bad2 | sed 's/kind: ClusterIssuer/kind: Foo/' | kubectl create -f -"

step "Order created by a user; spec immutable; metadata and status free"
expect_allowed "Order create by alice" bash -c \
    "$(declare -f order_yaml); ns=$ns req=$req; order_yaml o1 | kubectl create --as=alice --as-group=system:masters -f -"
k() { kubectl -n "$ns" "$@"; }
expect_denied "patch spec.issuerRef.name" 'Order spec is immutable after creation.*changed: spec.issuerRef' \
    k patch order o1 --as=alice --as-group=system:masters --type=merge -p '{"spec":{"issuerRef":{"name":"evil"}}}'
expect_denied "patch spec.dnsNames" 'changed: spec.dnsNames' \
    k patch order o1 --type=merge -p '{"spec":{"dnsNames":["a.example.com"]}}'
expect_denied "patch spec.duration (adding a field)" 'changed: spec.duration' \
    k patch order o1 --type=merge -p '{"spec":{"duration":"1h"}}'
expect_denied "kubectl edit of spec.issuerRef.name" 'is invalid' \
    env TMPDIR="$tmp" EDITOR="sed -i s/name:\ letsencrypt/name:\ evil/" kubectl -n "$ns" edit order o1
grep -qh 'changed: spec.issuerRef' "$tmp"/kubectl-edit-*.yaml || fail "kubectl edit: the saved copy lacks the reason"
expect_allowed "label edit" k label order o1 team=a
expect_allowed "annotation edit" k annotate order o1 note=hello
expect_allowed "finalizer added" k patch order o1 --type=merge -p '{"metadata":{"finalizers":["acme.cert-manager.io/finalizer"]}}'
expect_allowed "finalizer-only removal" k patch order o1 --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
expect_allowed "status write (first fill)" k patch order o1 --subresource=status --type=merge --as="$controller" --as-group=system:masters \
    -p '{"status":{"url":"https://acme.example/order/1","finalizeURL":"https://acme.example/order/1/finalize","state":"pending","authorizations":[{"url":"https://acme.example/authz/1","identifier":"a.example.com","wildcard":false,"initialState":"pending","challenges":[{"url":"https://acme.example/chall/1","token":"tok","type":"http-01"}]}]}}'
expect_allowed "status state/reason change" k patch order o1 --subresource=status --type=merge \
    -p '{"status":{"state":"invalid","reason":"failed for the test"}}'
expect_denied "status.url change (set once)" 'status.url: Forbidden' \
    k patch order o1 --subresource=status --type=merge -p '{"status":{"url":"https://acme.example/order/2"}}'
expect_denied "status authorization identifier change" 'status.authorizations\[0\].identifier: Forbidden' \
    k patch order o1 --subresource=status --type=json -p '[{"op":"replace","path":"/status/authorizations/0/identifier","value":"evil.example.com"}]'
expect_denied "invalid state value (CRD enum)" 'Unsupported value: "bogus"' \
    k patch order o1 --subresource=status --type=merge -p '{"status":{"state":"bogus"}}'
expect_allowed "state revoked (kacme enum)" k patch order o1 --subresource=status --type=merge -p '{"status":{"state":"revoked"}}'
[[ $(k get orders --field-selector spec.issuerRef.name=letsencrypt -o name) == order.acme.cert-manager.io/o1 ]] ||
    fail "field selector on spec.issuerRef.name"

step "Challenge: created only by the controller identity; spec immutable; status free"
chal_yaml() {
    cat <<YAML
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata: {name: $1, namespace: $ns}
spec:
  url: https://acme.example/chall/1
  authorizationURL: https://acme.example/authz/1
  dnsName: a.example.com
  wildcard: false
  type: HTTP-01
  token: tok
  key: tok.thumbprint
  solver: {http01: {ingress: {ingressClassName: nginx}}}
  issuerRef: {name: letsencrypt, kind: ClusterIssuer, group: cert-manager.io}
YAML
}
expect_denied "Challenge create by a user (even system:masters)" 'Challenges are created by the kacme controller only' \
    bash -c "$(declare -f chal_yaml); ns=$ns; chal_yaml c0 | kubectl create --as=someone --as-group=system:masters -f -"
expect_allowed "Challenge create by the controller identity" bash -c \
    "$(declare -f chal_yaml); ns=$ns; chal_yaml c1 | kubectl create --as=$controller --as-group=system:masters -f -"
expect_denied "patch Challenge spec.solver" 'changed: spec.solver' \
    k patch challenge c1 --type=merge -p '{"spec":{"solver":{"dns01":{"webhook":{"groupName":"x","solverName":"y"}}}}}'
expect_allowed "Challenge status write" k patch challenge c1 --subresource=status --type=merge --as="$controller" --as-group=system:masters \
    --as-group=system:masters -p '{"status":{"processing":true,"presented":true,"state":"pending","reason":"presented"}}'
expect_allowed "Challenge label edit" k label challenge c1 x=y
# selectableFields (cert-manager v1.20+): the issuerRef fields, as on Order; a fresh CRD update can take a
# moment to reach the field-selector handling, hence the retry on the first query
chal_by() { [[ $(k get challenges --field-selector "$1" -o name) == "$2" ]]; }
retry 30 "Challenge field selector spec.issuerRef.name" chal_by spec.issuerRef.name=letsencrypt challenge.acme.cert-manager.io/c1
chal_by spec.issuerRef.kind=ClusterIssuer,spec.issuerRef.group=cert-manager.io challenge.acme.cert-manager.io/c1 ||
    fail "field selector on Challenge spec.issuerRef.kind/group"
chal_by spec.issuerRef.name=other "" || fail "field selector on Challenge spec.issuerRef.name matched another issuer"

step "without the webhook configuration the CEL rule still denies spec changes"
kubectl delete validatingwebhookconfiguration "$vwc" >/dev/null
kill "$wh_pid"
wait "$wh_pid" 2>/dev/null || true
wh_pid=""
expect_denied "patch Order spec.issuerRef (CEL)" 'Order spec is immutable after creation.*changed: spec.issuerRef' \
    k patch order o1 --type=merge -p '{"spec":{"issuerRef":{"name":"evil"}}}'
expect_denied "patch Challenge spec.key (CEL)" 'Challenge spec is immutable after creation.*changed: spec.key' \
    k patch challenge c1 --type=merge -p '{"spec":{"key":"other"}}'
grep -q 'tok\.thumbprint\|BEGIN CERTIFICATE REQUEST' "$tmp/webhook.log" && fail "webhook log contains object contents"
echo "e2e webhook: PASSED"
