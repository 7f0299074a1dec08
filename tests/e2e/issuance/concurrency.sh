#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 20 CertificateRequests at once with --max-concurrent-challenges=3: all issued, and sampling the Challenges
# shows the cap never exceeded and never two in progress for the same (name, type).
. "$(dirname "$0")/lib.sh"
e2e_kacme --max-concurrent-challenges=3
ns=$(e2e_namespace)
e2e_issuer "e2e-concurrency"
names=()
for i in $(seq 1 20); do
    # every other request shares a name with the one before it, so the same-key rule is exercised
    e2e_cr "$ns" "cr$i" e2e-concurrency "DNS:c$(((i + 1) / 2)).conc.kacme.test" &
    names+=("cr$i")
done
wait
samples=0
violations=""
(
    while :; do
        kubectl -n "$ns" get challenges -o jsonpath='{range .items[?(@.status.processing==true)]}{.spec.dnsName} {.spec.type}{"\n"}{end}' \
            2>/dev/null >"$WORK/sample" || true
        echo "$(wc -l <"$WORK/sample") $(sort "$WORK/sample" | uniq -d | tr '\n' ' ')" >>"$WORK/samples"
        sleep 0.3
    done
) &
sampler=$!
e2e_wait_issued "$ns" 300 "${names[@]}"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
samples=$(wc -l <"$WORK/samples")
max=$(awk 'BEGIN{m=0} $1>m{m=$1} END{print m}' "$WORK/samples")
violations=$(awk 'NF>1' "$WORK/samples" | head -3)
log "samples=$samples max_in_progress=$max"
((max <= 3)) || fail "more than 3 challenges in progress at once ($max)"
[[ -z "$violations" ]] || fail "two challenges in progress for the same name and type: $violations"
((samples >= 5)) || fail "too few samples ($samples)"
e2e_assert_clean "$ns"
