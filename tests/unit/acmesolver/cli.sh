#!/usr/bin/env bash
# kacme-acmesolver as a process: flag errors exit 2 with one line naming the flag; it serves the key;
# SIGTERM stops it with status 0. Prints VmRSS for the record.
set -euo pipefail
bin="${KACME_BUILD_DIR:?}/bin/kacme-acmesolver"
fail() { echo "FAIL: $*" >&2; exit 1; }

check_exit2() {
    local flag=$1; shift
    local out rc=0
    out=$("$bin" "$@" 2>&1) || rc=$?
    [[ $rc -eq 2 ]] || fail "exit $rc for: $*"
    [[ $(printf '%s\n' "$out" | wc -l) -eq 1 ]] || fail "more than one line for: $*"
    [[ $out == *"$flag"* ]] || fail "message does not name $flag: $out"
}
check_exit2 --token --domain a.example --token 'no/pe' --key k
check_exit2 --listen-port --domain a.example --token t --key k --listen-port 0
check_exit2 --listen-port --domain a.example --token t --key k --listen-port=65536
check_exit2 --domain --domain= --token t --key k
check_exit2 --key --domain a.example --token t
check_exit2 --bogus --domain a.example --token t --key k --bogus

"$bin" --version | grep -q '^kacme-acmesolver ' || fail "--version"

# a free port: bind 0 and read it back (retried if someone takes it in between)
for attempt in 1 2 3; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    log=$(mktemp)
    "$bin" --listen-port "$port" --domain Solver.Example --token tok-1_A --key tok-1_A.secret-thumb --v=2 2>"$log" &
    pid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && break
    wait "$pid" || true
    rm -f "$log"
    [[ $attempt -lt 3 ]] || fail "solver did not start"
done
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

body=$(curl -sf -H 'Host: solver.example:80' "http://127.0.0.1:$port/.well-known/acme-challenge/tok-1_A")
[[ $body == "tok-1_A.secret-thumb" ]] || fail "body: $body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: other.example' "http://127.0.0.1:$port/.well-known/acme-challenge/tok-1_A")
[[ $code == 404 ]] || fail "wrong host: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/")
[[ $code == 405 ]] || fail "POST: $code"
echo "acmesolver $(grep VmRSS /proc/$pid/status)"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 0 ]] || fail "exit status after SIGTERM: $rc"
grep -q '"listening"' "$log" || fail "no start log"
[[ $(grep -c '"request"' "$log") -ge 3 ]] || fail "no per-request log lines at --v=2"
if grep -q 'secret-thumb' "$log"; then fail "the key was logged"; fi
if grep -q 'tok-1_A' "$log"; then fail "the token was logged"; fi
echo "ok"
