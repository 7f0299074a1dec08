#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, end to end, from a fresh Debian machine: dependencies, build, tools, the local control
# plane with Pebble, the CRDs, kacme-webhook (dynamic serving CA) with its ValidatingWebhookConfiguration,
# kacme-controller, a ClusterIssuer for Pebble with an HTTP-01 ingress solver, and a CertificateRequest for
# demo.kacme.test + www.demo.kacme.test made with openssl. It waits (showing Order and Challenge states),
# then prints and checks the certificate, shows the webhook denying an Order spec change, and says how to
# go on. Exit 0 only if everything held. Re-running on a warm machine is quick.
#
#   ./hack/demo.sh                       (PEBBLE_WFE_NONCEREJECT=50 ./hack/demo.sh works too)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
start=$SECONDS
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() {
    printf '\ndemo: FAILED: %s\n' "$*" >&2
    exit 1
}

say "dependencies, build and tools"
./hack/install-deps.sh
./hack/k8s-tools.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null || cmake --build build -j 1

say "local control plane, Pebble, node and ingress stand-ins"
./hack/local-up.sh
# shellcheck disable=SC1091
. _local/env.sh
D=$root/_local/demo
mkdir -p "$D"

say "kacme: CRDs, webhook (dynamic serving CA) and controller"
./hack/kacme-up.sh

say "a ClusterIssuer for Pebble (HTTP-01 through the ingress stand-in)"
kubectl apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: pebble
spec:
  acme:
    server: $KACME_ACME_SERVER
    email: admin@kacme.test
    caBundle: $(base64 -w0 "$KACME_ACME_CA_FILE")
    privateKeySecretRef:
      name: pebble-account-key
    solvers:
      - http01:
          ingress: {}
YAML
kubectl wait --for=condition=Ready clusterissuer/pebble --timeout=60s >/dev/null ||
    die "ClusterIssuer pebble is not Ready: $(kubectl get clusterissuer pebble -o jsonpath='{.status.conditions[0].message}')"
kubectl get clusterissuer pebble

say "a key and a CSR for demo.kacme.test and www.demo.kacme.test (openssl)"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$D/key.pem" \
    -subj "/CN=demo.kacme.test" -addext "subjectAltName=DNS:demo.kacme.test,DNS:www.demo.kacme.test" \
    -out "$D/csr.pem" 2>/dev/null
chmod 600 "$D/key.pem"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo delete certificaterequest demo --ignore-not-found --wait=true >/dev/null
t0=$SECONDS
kubectl apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: demo
  namespace: demo
spec:
  issuerRef:
    name: pebble
    kind: ClusterIssuer
    group: cert-manager.io
  request: $(base64 -w0 "$D/csr.pem")
  usages: [digital signature, key encipherment, server auth]
YAML

say "waiting for the certificate (Order and Challenge states as they change)"
last=""
deadline=$((SECONDS + 180))
while :; do
    ready=$(kubectl -n demo get certificaterequest demo \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}' \
        2>/dev/null || true)
    now=$(kubectl -n demo get orders,challenges \
        -o jsonpath='{range .items[*]}{.kind} {.metadata.name} {.status.state}{"\n"}{end}' 2>/dev/null |
        awk 'NF {printf "%s%s/%s=%s", (n++ ? ", " : ""), $1, $2, ($3 == "" ? "-" : $3)}' || true)
    state="$ready | $now"
    if [[ "$state" != "$last" ]]; then
        printf '  [%3ds] CertificateRequest %-16s %s\n' $((SECONDS - t0)) "${ready:-/}" "${now:-(no Order yet)}"
        last=$state
    fi
    case "$ready" in
    True/*) break ;;
    False/Failed | False/Denied)
        die "the CertificateRequest failed: $(kubectl -n demo get certificaterequest demo \
            -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')"
        ;;
    esac
    ((SECONDS < deadline)) || die "no certificate after 180 s (controller log: _local/logs/kacme-controller.log)"
    sleep 0.2
done
elapsed=$((SECONDS - t0))

say "the certificate"
kubectl -n demo get certificaterequest demo -o jsonpath='{.status.certificate}' | base64 -d >"$D/certificate.pem"
openssl x509 -in "$D/certificate.pem" -noout -subject -issuer -dates -ext subjectAltName
awk '/BEGIN CERT/ {n++} n > 1' "$D/certificate.pem" >"$D/intermediates.pem"
openssl verify -CAfile "$KACME_ACME_ROOT_FILE" -untrusted "$D/intermediates.pem" "$D/certificate.pem" >/dev/null ||
    die "the certificate does not chain to Pebble's root ($KACME_ACME_ROOT_FILE)"
echo "chains to Pebble's root: yes"
[[ "$(openssl x509 -in "$D/certificate.pem" -noout -pubkey)" == "$(openssl pkey -in "$D/key.pem" -pubout)" ]] ||
    die "the certificate's public key does not match the CSR's key"
echo "matches the CSR's key: yes"
for n in demo.kacme.test www.demo.kacme.test; do
    openssl x509 -in "$D/certificate.pem" -noout -ext subjectAltName | grep -q "DNS:$n\b" || die "SAN $n missing"
done
echo "written: _local/demo/certificate.pem (chain) and _local/demo/key.pem (key)"
requester=$(kubectl -n demo get certificaterequest demo -o jsonpath='{.spec.username}')
[[ -n "$requester" ]] || die "the CertificateRequest has no spec.username (the webhook's /mutate did not run)"
echo "requested by: $requester (spec.username, recorded by the webhook from the API server's userInfo)"

say "kubectl get clusterissuers,certificaterequests,orders,challenges -A"
kubectl get clusterissuers,certificaterequests,orders,challenges -A
echo
echo "time to certificate: ${elapsed}s"

say "Orders are immutable: changing an Order's spec or a set-once status field is denied"
order=$(kubectl -n demo get orders -o jsonpath='{.items[0].metadata.name}')
[[ -n "$order" ]] || die "no Order found"
# The spec is guarded twice: the CRD's CEL rule (checked first by the API server) and the webhook.
echo "\$ kubectl -n demo patch order $order --type=merge -p '{\"spec\":{\"issuerRef\":{\"name\":\"evil\"}}}'"
if out=$(kubectl -n demo patch order "$order" --type=merge -p '{"spec":{"issuerRef":{"name":"evil"}}}' 2>&1); then
    die "the Order spec change was allowed: $out"
fi
echo "$out"
grep -q 'spec' <<<"$out" || die "the denial does not name the field: $out"
# Set-once status fields are the webhook's alone.
echo "\$ kubectl -n demo patch order $order --subresource=status --type=merge -p '{\"status\":{\"url\":\"https://evil.example/order/1\"}}'"
if out=$(kubectl -n demo patch order "$order" --subresource=status --type=merge \
    -p '{"status":{"url":"https://evil.example/order/1"}}' 2>&1); then
    die "the Order status.url change was allowed: $out"
fi
echo "$out"
grep -q 'admission webhook' <<<"$out" || die "the denial did not come from the webhook: $out"
grep -q 'status.url' <<<"$out" || die "the webhook's denial does not name status.url: $out"

cat <<TEXT

Done in $((SECONDS - start))s. The environment keeps running:
    source _local/env.sh                 # KUBECONFIG, PATH (kubectl, helm), KACME_* variables
    kubectl get clusterissuers,certificaterequests,orders,challenges -A
    kubectl -n demo describe certificaterequest demo
    less _local/logs/kacme-controller.log _local/logs/kacme-webhook.log
Stop everything: ./hack/local-down.sh
TEXT
