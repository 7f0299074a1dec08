#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Deleting a namespace with challenges in flight: the namespace finishes terminating (no finalizer is
# left hanging on a Challenge).
. "$(dirname "$0")/lib.sh"
e2e_kacme
ns=$(e2e_namespace)
e2e_issuer "e2e-nsdel"
for i in 1 2 3; do e2e_cr "$ns" "n$i" e2e-nsdel "DNS:n$i.nsdel.kacme.test"; done
deadline=$((SECONDS + 60))
while [[ -z "$(kubectl -n "$ns" get challenges -o name 2>/dev/null)" ]]; do
    ((SECONDS < deadline)) || fail "no Challenge appeared"
    sleep 0.1
done
log "deleting namespace $ns with challenges in flight"
kubectl delete namespace "$ns" --wait=true --timeout=120s >/dev/null || fail "namespace $ns did not terminate"
