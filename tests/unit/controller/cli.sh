#!/usr/bin/env bash
# kacme-controller as a process, without a cluster (its kubeconfig points at a closed port): flag errors exit 2
# naming the flag; --help lists the flags; /metrics (bound to port 0, read back from the log) carries the
# certmanager_clock_time_seconds pair; SIGTERM stops it with status 0.
set -euo pipefail
bin="${KACME_BUILD_DIR:?}/bin/kacme-controller"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

cat >"$tmp/kubeconfig" <<'YAML'
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
YAML
# Flags that run the controller against nothing: no leader election, ephemeral ports, no real API server.
base=(--kubeconfig "$tmp/kubeconfig" --leader-elect=false --metrics-listen-address 127.0.0.1:0
      --internal-healthz-listen-address 127.0.0.1:0)

check_exit2() {
    local want=$1; shift
    local out rc=0
    out=$("$bin" "$@" 2>&1) || rc=$?
    [[ $rc -eq 2 ]] || fail "exit $rc for: $* ($out)"
    [[ $out == *"$want"* ]] || fail "message does not name $want: $out"
}
check_exit2 --bogus-flag --bogus-flag=1
check_exit2 --bogus-flag --kubeconfig "$tmp/kubeconfig" --bogus-flag
check_exit2 --internal-healthz-leader-election-timeout --internal-healthz-leader-election-timeout=soon
check_exit2 --internal-healthz-leader-election-timeout --internal-healthz-leader-election-timeout=0s
check_exit2 --issuer-ambient-credentials --issuer-ambient-credentials=maybe
check_exit2 --cluster-issuer-ambient-credentials --cluster-issuer-ambient-credentials=maybe

# --feature-gates: malformed values name the flag and the value
check_exit2 '--feature-gates: "Foo" is not Name=true|false' --feature-gates=Foo
check_exit2 '"A=true,B=maybe" for --feature-gates' --feature-gates 'A=true,B=maybe'
check_exit2 '"=true" for --feature-gates' --feature-gates '=true'
check_exit2 '"Bad-Name=true" for --feature-gates' --feature-gates 'Bad-Name=true'
check_exit2 --enable-gateway-api --enable-gateway-api=maybe
check_exit2 --enable-profiling --enable-profiling=maybe
check_exit2 --profiler-addres-typo --profiler-addres-typo=x

help=$("$bin" --help)
for f in --acme-http01-solver-runtime-class-name --issuer-ambient-credentials --cluster-issuer-ambient-credentials \
         --internal-healthz-leader-election-timeout --feature-gates --enable-gateway-api \
         --copied-annotation-prefixes --enable-profiling --profiler-address; do
    [[ $help == *"$f"* ]] || fail "--help does not list $f"
done

# Starts the controller with extra flags "$@"; its log goes to $tmp/log. Sets pid.
start() {
    "$bin" "${base[@]}" "$@" 2>"$tmp/log" &
    pid=$!
    for _ in $(seq 200); do
        grep -q '"serving metrics"' "$tmp/log" && return 0
        kill -0 "$pid" 2>/dev/null || fail "controller exited: $(cat "$tmp/log")"
        sleep 0.05
    done
    fail "controller did not serve metrics: $(cat "$tmp/log")"
}
stop() {
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    pid=
    [[ $rc -eq 0 ]] || fail "exit $rc after SIGTERM"
}

start --issuer-ambient-credentials=true --cluster-issuer-ambient-credentials=false \
      --acme-http01-solver-runtime-class-name=gvisor --internal-healthz-leader-election-timeout=30s
port=$(grep '"serving metrics"' "$tmp/log" | grep -o 'port="[0-9]*"' | tr -dc 0-9)
curl -sf --max-time 10 "http://127.0.0.1:$port/metrics" >"$tmp/metrics" || fail "GET /metrics"
grep -q '^# TYPE certmanager_clock_time_seconds counter$' "$tmp/metrics" || fail "no clock counter"
grep -q '^# TYPE certmanager_clock_time_seconds_gauge gauge$' "$tmp/metrics" || fail "no clock gauge"
grep -q '^# HELP certmanager_clock_time_seconds DEPRECATED' "$tmp/metrics" || fail "counter not marked deprecated"
now=$(date +%s)
for m in certmanager_clock_time_seconds certmanager_clock_time_seconds_gauge; do
    v=$(awk -v m="$m" '$1 == m {print $2}' "$tmp/metrics")
    [[ -n $v ]] || fail "no sample for $m"
    v=$(awk -v v="$v" 'BEGIN {printf "%d", v}')
    # a sanity bound (same machine, same clock), not a timing assertion
    (( v > now - 300 && v < now + 300 )) || fail "$m = $v, now $now"
done
grep -q '^certmanager_controller_sync_call_count\|^# TYPE certmanager_controller_sync_call_count' "$tmp/metrics" ||
    fail "the other certmanager_ metrics are missing"
# (the informers warn about the closed port; main's startup warnings are the ones looked at)
grep -q '^W.* main\.c:' "$tmp/log" && fail "warnings without compatibility flags: $(grep '^W.* main\.c:' "$tmp/log")"
stop

# cert-manager flags kacme does not implement: accepted, one warning line each naming the flag
start --feature-gates='ACMEHTTP01IngressPathTypeExact=false, AdditionalCertificateOutputFormats=true' \
      --feature-gates=ExperimentalCertificateSigningRequestControllers=false \
      --enable-gateway-api --copied-annotation-prefixes='*,-kubectl.kubernetes.io/' \
      --enable-profiling=true --profiler-address=localhost:6060
want_warn() {
    local n
    n=$(grep -c "^W.*$1" "$tmp/log" || true)
    [[ $n -eq 1 ]] || fail "$n warning lines matching $1: $(grep '^W' "$tmp/log")"
}
want_warn 'flag="--feature-gates" gate="AdditionalCertificateOutputFormats" value="true"'
want_warn 'flag="--feature-gates" gate="ExperimentalCertificateSigningRequestControllers" value="false"'
want_warn 'gatewayHTTPRoute.*flag="--enable-gateway-api"'
want_warn 'no Certificate controller.*flag="--copied-annotation-prefixes"'
want_warn 'flag="--enable-profiling"'
want_warn 'flag="--profiler-address"'
grep -q '^W.*ACMEHTTP01IngressPathTypeExact' "$tmp/log" && fail "the path type gate is not a warning"
grep -q '^I.*"feature gate set".*gate="ACMEHTTP01IngressPathTypeExact" value="false"' "$tmp/log" ||
    fail "ACMEHTTP01IngressPathTypeExact=false not taken: $(cat "$tmp/log")"
stop

# their defaults say nothing
start --enable-gateway-api=false --enable-profiling=false --feature-gates=ACMEHTTP01IngressPathTypeExact=true
grep -q '^W.* main\.c:' "$tmp/log" && fail "warnings for default values: $(grep '^W.* main\.c:' "$tmp/log")"
stop
echo "ok"
