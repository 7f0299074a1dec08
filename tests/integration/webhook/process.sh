#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kacme-webhook as a process, static TLS mode (needs no API server):
#  - bad flags exit 2, an unreadable certificate exits 1;
#  - static mode never maps libcurl/libyaml (dynamic mode's module is loaded only on demand); dynamic mode
#    without its module (kacme-webhook-dynamic.so) exits 1 naming it;
#  - serves /validate on an ephemeral port; /livez and /readyz 200; /metrics counts what it answered;
#  - replacing the certificate files switches the served certificate without a restart;
#  - SIGTERM while a request is in flight: the request completes, the process exits 0;
#  - logs name objects but never contain CSRs or keys;
#  - --tls-min-version / --tls-cipher-suites: bad values exit 2 naming the flag; VersionTLS13 refuses a
#    TLS 1.2 client; a suite list refuses a TLS 1.2 client offering only other suites.
set -euo pipefail
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
build=${KACME_BUILD_DIR:-$root/build}
bin=$build/bin/kacme-webhook
[[ -x "$bin" ]] || { echo "missing $bin" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "webhook process: FAILED: $*" >&2; tail -n 20 "$tmp/log" >&2 2>/dev/null || true; exit 1; }
retry() {
    local t=$1 what=$2
    shift 2
    local deadline=$((SECONDS + t))
    until "$@"; do
        ((SECONDS < deadline)) || fail "timed out after ${t}s: $what"
        sleep 0.2
    done
}
mkcert() { # mkcert DIR CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/k.tmp" -out "$1/c.tmp" -days 1 \
        -subj "/CN=$2" -addext subjectAltName=IP:127.0.0.1 2>/dev/null
    mv "$1/k.tmp" "$1/tls.key"
    mv "$1/c.tmp" "$1/tls.crt"
}

rc=0; "$bin" --secure-port nope >/dev/null 2>&1 || rc=$?; [[ $rc == 2 ]] || fail "bad port: exit $rc"
rc=0; "$bin" --no-such-flag >/dev/null 2>&1 || rc=$?; [[ $rc == 2 ]] || fail "unknown flag: exit $rc"
rc=0; "$bin" --secure-port 0 >/dev/null 2>&1 || rc=$?; [[ $rc == 2 ]] || fail "no cert source: exit $rc"
rc=0; "$bin" --tls-cert-file "$tmp/x" >/dev/null 2>&1 || rc=$?; [[ $rc == 2 ]] || fail "cert without key: exit $rc"
rc=0; "$bin" --tls-cert-file "$tmp/none" --tls-private-key-file "$tmp/none" --secure-port 0 --healthz-port 0 \
    >/dev/null 2>&1 || rc=$?; [[ $rc == 1 ]] || fail "missing cert file: exit $rc"
"$bin" --version | grep -q '^kacme-webhook ' || fail "--version"
mkdir "$tmp/alone"
cp "$bin" "$tmp/alone/"
rc=0; "$tmp/alone/kacme-webhook" --dynamic-serving-ca-secret-namespace ns --dynamic-serving-ca-secret-name n \
    --dynamic-serving-dns-names a.example --secure-port 0 --healthz-port 0 >"$tmp/alone/log" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "dynamic mode without its module: exit $rc"
grep -q 'kacme-webhook-dynamic.so' "$tmp/alone/log" || fail "the missing module is not named: $(cat "$tmp/alone/log")"
echo "ok: flag errors"

mkdir "$tmp/certs"
mkcert "$tmp/certs" first
cp "$tmp/certs/tls.crt" "$tmp/first.crt"
"$bin" --tls-cert-file "$tmp/certs/tls.crt" --tls-private-key-file "$tmp/certs/tls.key" --bind-address 127.0.0.1 \
    --secure-port 0 --healthz-port 0 --metrics-listen-address 127.0.0.1:0 --v 2 >"$tmp/log" 2>&1 &
pid=$!
retry 10 "serving" grep -q '"serving"' "$tmp/log"
port=$(sed -n 's/.*"serving" securePort="\([0-9]*\)".*/\1/p' "$tmp/log")
hport=$(sed -n 's/.*healthzPort="\([0-9]*\)".*/\1/p' "$tmp/log")
curl -sf "http://127.0.0.1:$hport/livez" >/dev/null || fail livez
curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null || fail readyz
if grep -E 'libcurl|libyaml|kacme-webhook-dynamic' "/proc/$pid/maps" >/dev/null; then
    fail "static mode maps dynamic mode's libraries: $(grep -oE '[^/]*(libcurl|libyaml|kacme-webhook-dynamic)[^ ]*' "/proc/$pid/maps" | sort -u | tr '\n' ' ')"
fi
python3 - "$root/tests/unit/webhook/fixtures/order_create_ok.json" "$tmp/order.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d.pop("_expect"); json.dump(d, open(sys.argv[2], "w"))
PY
out=$(curl -sf --cacert "$tmp/first.crt" --data-binary @"$tmp/order.json" "https://127.0.0.1:$port/validate") ||
    fail "POST /validate"
grep -q '"allowed":true' <<<"$out" || fail "order_create_ok not allowed: $out"
curl -s --cacert "$tmp/first.crt" -o /dev/null "https://127.0.0.1:$port/nope" || true
mport=$(sed -n 's/.*metricsPort="\([0-9]*\)".*/\1/p' "$tmp/log")
metrics=$(curl -sf "http://127.0.0.1:$mport/metrics") || fail "GET /metrics"
grep -q '^kacme_webhook_admission_requests_total{endpoint="validate",kind="Order",operation="CREATE",allowed="true"} 1$' \
    <<<"$metrics" || fail "the allowed Order CREATE is not counted: $(grep kacme_webhook <<<"$metrics")"
grep -q '^kacme_webhook_bad_requests_total{code="404"} 1$' <<<"$metrics" || fail "the 404 is not counted"
grep -q '^kacme_webhook_admission_duration_seconds_count{endpoint="validate"} 1$' <<<"$metrics" ||
    fail "no duration observed"
echo "ok: serving, /metrics counts requests"

mkcert "$tmp/certs" second
cp "$tmp/certs/tls.crt" "$tmp/second.crt"
new_cert() { curl -sf --cacert "$tmp/second.crt" --data-binary @"$tmp/order.json" "https://127.0.0.1:$port/validate" >/dev/null; }
retry 20 "the new certificate is served" new_cert
curl -sf --cacert "$tmp/first.crt" -d x "https://127.0.0.1:$port/validate" >/dev/null 2>&1 &&
    fail "the old certificate is still served"
echo "ok: certificate files re-read"

# a request in flight at SIGTERM completes: the body arrives in two halves around the signal
mkfifo "$tmp/body"
size=$(stat -c %s "$tmp/order.json")
curl -s --cacert "$tmp/second.crt" -X POST -H "Content-Length: $size" -H 'Expect:' -T "$tmp/body" \
    -o "$tmp/inflight.out" -w '%{http_code}' "https://127.0.0.1:$port/validate" >"$tmp/inflight.code" &
cpid=$!
exec 3>"$tmp/body"
head -c 100 "$tmp/order.json" >&3
connected() { [[ -n "$(ss -tnH state established "( sport = :$port )")" ]]; }
retry 10 "the client is connected" connected
kill -TERM "$pid"
retry 10 "shutdown begins" grep -q '"shutting down"' "$tmp/log"
tail -c +101 "$tmp/order.json" >&3
exec 3>&-
wait "$cpid" || true
[[ "$(cat "$tmp/inflight.code")" == 200 ]] || fail "in-flight request got $(cat "$tmp/inflight.code")"
grep -q '"allowed":true' "$tmp/inflight.out" || fail "in-flight answer: $(cat "$tmp/inflight.out")"
rc=0; wait "$pid" || rc=$?; pid=""
[[ $rc == 0 ]] || fail "exit status $rc after SIGTERM"
echo "ok: graceful shutdown with a request in flight"

csr_prefix=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["request"]["object"]["spec"]["request"][:40])' "$tmp/order.json")
grep -qF -- "$csr_prefix" "$tmp/log" && fail "the CSR appears in the log"
grep -q 'BEGIN\|PRIVATE KEY' "$tmp/log" && fail "PEM material in the log"
grep -q 'object="team-a/site-1-2742587"' "$tmp/log" || fail "the log does not name the object"

rc=0; "$bin" --tls-min-version VersionTLS10 --tls-cert-file "$tmp/x" --tls-private-key-file "$tmp/x" \
    >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] && grep -q -- '--tls-min-version: VersionTLS10' "$tmp/err" || fail "old TLS version: exit $rc $(cat "$tmp/err")"
rc=0; "$bin" --tls-cipher-suites TLS_RSA_WITH_RC4_128_SHA --tls-cert-file "$tmp/x" --tls-private-key-file "$tmp/x" \
    >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] && grep -q -- 'TLS_RSA_WITH_RC4_128_SHA: insecure' "$tmp/err" || fail "RC4 suite: exit $rc $(cat "$tmp/err")"
# tls_probe ARGS...: 0 when a TLS handshake with the webhook succeeds with these openssl s_client options
tls_probe() { openssl s_client -connect "127.0.0.1:$port" -CAfile "$tmp/second.crt" "$@" </dev/null >/dev/null 2>&1; }
start_tls() {
    "$bin" --tls-cert-file "$tmp/certs/tls.crt" --tls-private-key-file "$tmp/certs/tls.key" --bind-address 127.0.0.1 \
        --secure-port 0 --healthz-port 0 --metrics-listen-address 0 "$@" >"$tmp/log" 2>&1 &
    pid=$!
    retry 10 "serving" grep -q '"serving"' "$tmp/log"
    port=$(sed -n 's/.*"serving" securePort="\([0-9]*\)".*/\1/p' "$tmp/log")
}
stop_tls() { kill "$pid"; wait "$pid" || true; pid=""; }
start_tls --tls-min-version VersionTLS13
tls_probe -tls1_3 || fail "VersionTLS13: a TLS 1.3 client is refused"
tls_probe -tls1_2 && fail "VersionTLS13: a TLS 1.2 client is accepted"
stop_tls
start_tls --tls-cipher-suites TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
tls_probe -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384 || fail "the listed suite is refused"
tls_probe -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA && fail "a suite that is not listed (CBC) is accepted"
tls_probe -tls1_3 || fail "TLS 1.3 is refused with a TLS 1.2 suite list"
stop_tls
echo "ok: --tls-min-version and --tls-cipher-suites"
echo "webhook process: PASSED"
