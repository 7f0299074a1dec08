#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Deleting an Order mid-flight: its Challenges are cleaned up (finalizers removed, solver resources gone)
# and the CertificateRequest gets a new Order, which completes.
. "$(dirname "$0")/lib.sh"
e2e_kacme
ns=$(e2e_namespace)
e2e_issuer "e2e-delete"
e2e_cr "$ns" del e2e-delete DNS:del.kacme.test DNS:del2.kacme.test
deadline=$((SECONDS + 60))
while [[ -z "$(kubectl -n "$ns" get challenges -o name 2>/dev/null)" ]]; do
    ((SECONDS < deadline)) || fail "no Challenge appeared"
    sleep 0.1
done
uid=$(kubectl -n "$ns" get orders -o jsonpath='{.items[0].metadata.uid}')
order=$(kubectl -n "$ns" get orders -o jsonpath='{.items[0].metadata.name}')
log "deleting Order $order mid-flight"
kubectl -n "$ns" delete order "$order" --wait=true --timeout=60s >/dev/null || fail "Order deletion hung"
e2e_wait_issued "$ns" 180 del
newuid=$(kubectl -n "$ns" get orders -o jsonpath='{.items[0].metadata.uid}')
[[ -n "$newuid" && "$newuid" != "$uid" ]] || fail "no new Order was made"
e2e_assert_clean "$ns"
