#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A name that cannot validate: the CA's HTTP-01 request for it reaches an address where nothing listens (its
# A record mocked in the environment's BIND9).
# The solver skips the self-check (waitInsteadOfSelfCheck: 0s), so the CA decides: the Challenge ends
# invalid, the Order invalid, the CertificateRequest Failed with the CA's reason, and the solver
# resources are removed.
. "$(dirname "$0")/lib.sh"
e2e_kacme
ns=$(e2e_namespace)
e2e_issuer "e2e-invalid" '- http01: {ingress: {}}
        waitInsteadOfSelfCheck: 0s'
# a fresh direct child of the zone, mocked in BIND before anything resolves it
host=unreachable-$RANDOM$$.${KACME_DNS_ZONE%.}
e2e_dns_record add "$host" A 127.0.0.9 || fail "cannot mock the A record of $host"
trap 'e2e_dns_record delete "$host" A >/dev/null 2>&1; e2e_cleanup' EXIT
e2e_cr "$ns" bad e2e-invalid "DNS:$host"
deadline=$((SECONDS + 120))
while [[ "$(e2e_cr_ready "$ns" bad)" != "False/Failed" ]]; do
    ((SECONDS < deadline)) || fail "the CertificateRequest did not fail ($(e2e_cr_ready "$ns" bad))"
    sleep 0.5
done
msg=$(kubectl -n "$ns" get certificaterequest bad -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
log "CertificateRequest Failed: $msg"
grep -qiE 'connection refused|connect|unauthorized|invalid' <<<"$msg" || fail "the CA's reason is missing: $msg"
order=$(kubectl -n "$ns" get orders -o jsonpath='{.items[0].metadata.name}')
[[ "$(kubectl -n "$ns" get order "$order" -o jsonpath='{.status.state}')" == invalid ]] || fail "Order not invalid"
chs=$(kubectl -n "$ns" get challenges -o jsonpath='{.items[*].status.state}')
[[ -z "$chs" || "$chs" == invalid ]] || fail "Challenge state '$chs', want invalid"
e2e_assert_clean "$ns"
