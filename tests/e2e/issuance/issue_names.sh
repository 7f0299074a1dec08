#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issuance for 1, 2 and 10 DNS names and for an IP address identifier, through Orders, Challenges and
# HTTP-01 solver pods; afterwards nothing is left behind.
. "$(dirname "$0")/lib.sh"
e2e_kacme
ns=$(e2e_namespace)
e2e_issuer "e2e-names"
ten=()
for i in $(seq 1 10); do ten+=("DNS:n$i.ten.kacme.test"); done
e2e_cr "$ns" one e2e-names DNS:one.kacme.test
e2e_cr "$ns" two e2e-names DNS:two.kacme.test DNS:www.two.kacme.test
e2e_cr "$ns" ten e2e-names "${ten[@]}"
e2e_cr "$ns" ip e2e-names "IP:$KACME_INGRESS_ADDR"
e2e_wait_issued "$ns" 240 one two ten ip
openssl x509 -in "$WORK/$ns-ip.crt" -noout -ext subjectAltName | grep -q "IP Address:$KACME_INGRESS_ADDR" ||
    fail "IP SAN missing"
[[ $(openssl x509 -in "$WORK/$ns-ten.crt" -noout -ext subjectAltName | grep -o 'DNS:' | wc -l) == 10 ]] ||
    fail "the 10-name certificate does not carry 10 names"
e2e_assert_clean "$ns"
log "issued 1, 2, 10 names and an IP identifier"
