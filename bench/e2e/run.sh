#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark (not a test): time to certificate on the local environment.
#   - one CertificateRequest with one name, ten times in a row: the median time from create to Ready=True;
#   - 100 CertificateRequests (one name each) created at once: the time until the last is Ready;
#   - the controller's peak RSS (VmHWM) over the run.
# Builds what it needs, brings the environment and kacme up, prints its result line last:
#   time_to_cert_median_s=<x> batch100_total_s=<x> controller_peak_rss_kb=<n>
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
./hack/install-deps.sh >/dev/null
./hack/k8s-tools.sh >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build >/dev/null
./hack/local-up.sh >/dev/null 2>&1
KACME_CONTROLLER_ARGS="--max-concurrent-challenges=100 --max-challenges-per-schedule=100" ./hack/kacme-up.sh >/dev/null 2>&1
rm -f _local/kacme-controller.args
# shellcheck disable=SC1091
. _local/env.sh
. hack/lib/local.sh
kacme_config_load
W=$(mktemp -d)
ns=bench-e2e-$RANDOM
trap 'kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1; kubectl delete clusterissuer bench-e2e --wait=false >/dev/null 2>&1; rm -rf "$W"' EXIT
kubectl create namespace "$ns" >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: bench-e2e}
spec:
  acme:
    server: $KACME_ACME_SERVER
    caBundle: $(base64 -w0 "$KACME_ACME_CA_FILE")
    privateKeySecretRef: {name: bench-e2e-account-key}
    solvers: [{http01: {ingress: {}}}]
YAML
kubectl wait --for=condition=Ready clusterissuer/bench-e2e --timeout=60s >/dev/null
until kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1; do sleep 0.1; done

cr_yaml() { # name dnsname
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout /dev/null \
        -subj "/CN=$2" -addext "subjectAltName=DNS:$2" 2>/dev/null >"$W/$1.csr"
    printf 'apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {name: %s, namespace: %s}\nspec:\n  issuerRef: {name: bench-e2e, kind: ClusterIssuer, group: cert-manager.io}\n  request: %s\n---\n' \
        "$1" "$ns" "$(base64 -w0 "$W/$1.csr")"
}
ready_count() {
    kubectl -n "$ns" get certificaterequests -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
        grep -c True || true
}
now() { date +%s.%N; }

times=()
for i in $(seq 1 10); do
    cr_yaml "one$i" "one$i.bench.kacme.test" >"$W/one$i.yaml"
    t0=$(now)
    kubectl apply -f "$W/one$i.yaml" >/dev/null
    until [[ "$(kubectl -n "$ns" get certificaterequest "one$i" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]; do
        sleep 0.05
    done
    t=$(echo "$(now) - $t0" | bc)
    times+=("$t")
    echo "single $i: ${t}s" >&2
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", (a[5]+a[6])/2}')

: >"$W/batch.yaml"
for i in $(seq 1 100); do cr_yaml "b$i" "b$i.batch.kacme.test" >>"$W/batch.yaml"; done
t0=$(now)
kubectl apply -f "$W/batch.yaml" >/dev/null
deadline=$((SECONDS + 600))
while (($(ready_count) < 110)); do
    ((SECONDS < deadline)) || { echo "batch did not finish in 600 s ($(ready_count)/110 ready)" >&2; exit 1; }
    sleep 0.5
done
batch=$(printf '%.1f' "$(echo "$(now) - $t0" | bc)")
pid=$(awk '{print $1}' "$(kacme_pidfile kacme-controller)")
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "time_to_cert_median_s=$median batch100_total_s=$batch controller_peak_rss_kb=$rss"
