#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The controller killed with SIGKILL at random moments, 10 times during issuance: every CertificateRequest
# is still issued, no finalizer is left stuck, no solver pod is left behind. Then kube-apiserver is
# restarted during issuance, and issuance completes.
. "$(dirname "$0")/lib.sh"
e2e_kacme --leader-election-lease-duration=10s --leader-election-renew-deadline=7s --leader-election-retry-period=2s
ns=$(e2e_namespace)
e2e_issuer "e2e-chaos"
names=()
for i in $(seq 1 6); do
    e2e_cr "$ns" "k$i" e2e-chaos "DNS:k$i.chaos.kacme.test" "DNS:www.k$i.chaos.kacme.test"
    names+=("k$i")
done
for i in $(seq 1 10); do
    sleep "0.$((RANDOM % 9 + 1))"
    log "SIGKILL $i to the controller"
    e2e_crash_restart kacme-controller
done
e2e_wait_issued "$ns" 300 "${names[@]}"
e2e_assert_clean "$ns" 120

log "restarting kube-apiserver during issuance"
e2e_cr "$ns" api1 e2e-chaos DNS:api1.chaos.kacme.test
sleep 0.5
e2e_crash_restart apiserver
deadline=$((SECONDS + 60))
until kubectl get --raw /readyz >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "kube-apiserver did not come back"
    sleep 0.2
done
log "kube-apiserver is back"
e2e_wait_issued "$ns" 300 api1
e2e_assert_clean "$ns" 120
