#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issuance while Pebble rejects half the nonces (PEBBLE_WFE_NONCEREJECT=50), and with authorization reuse
# (PEBBLE_AUTHZREUSE=100: the second order's authorizations are already valid, so it needs no Challenge).
. "$(dirname "$0")/lib.sh"
restore() { "$root/hack/local-up.sh" >/dev/null 2>&1 || true; }
trap 'rc=$?; restore; e2e_cleanup; exit $rc' EXIT
e2e_kacme
ns=$(e2e_namespace)

log "PEBBLE_WFE_NONCEREJECT=50"
PEBBLE_WFE_NONCEREJECT=50 "$root/hack/local-up.sh" >/dev/null
e2e_issuer "e2e-nonce" # a new issuer: a restarted Pebble has forgotten every account
e2e_cr "$ns" nonce1 e2e-nonce DNS:nonce1.kacme.test DNS:nonce2.kacme.test
e2e_cr "$ns" nonce2 e2e-nonce DNS:nonce3.kacme.test
e2e_wait_issued "$ns" 180 nonce1 nonce2

log "PEBBLE_AUTHZREUSE=100"
PEBBLE_AUTHZREUSE=100 "$root/hack/local-up.sh" >/dev/null
e2e_issuer "e2e-reuse"
e2e_cr "$ns" reuse1 e2e-reuse DNS:reuse.kacme.test
e2e_wait_issued "$ns" 180 reuse1
e2e_cr "$ns" reuse2 e2e-reuse DNS:reuse.kacme.test
e2e_wait_issued "$ns" 180 reuse2
order=$(kubectl -n "$ns" get orders -o json | jq -r '.items[] | select(.metadata.ownerReferences[0].name=="reuse2") | .metadata.name')
init=$(kubectl -n "$ns" get order "$order" -o jsonpath='{.status.authorizations[*].initialState}')
[[ "$init" == "valid" ]] || fail "the second order's authorization was not reused (initialState '$init')"
e2e_assert_clean "$ns"
