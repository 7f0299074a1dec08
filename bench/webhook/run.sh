#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark of kacme-webhook: validations per second over TLS keep-alive on loopback (wrk, 2 threads,
# 32 connections, 10 s), latency p50/p99 under light load (1 thread, 2 connections, 10 s; wrk cannot pace a
# fixed rate, so the run reports the rate it reached as a share of the maximum), the webhook's RSS after
# the runs, and a ceiling measured in the same run: nginx returning a fixed body of the same size over TLS
# with the same certificate (2 workers, matching the webhook's 2 threads). The request is an Order UPDATE
# that only edits labels (spec compare + set-once status checks, allowed), i.e. the common case.
# The load generator shares the machine's CPUs with the server, so the maximum-rate runs alternate
# webhook / nginx for KACME_BENCH_ROUNDS rounds (default 3) and report medians: background load then
# affects both sides alike. Prints its result line last:
#   rps=<n> p50_ms=<x> p99_ms=<x> rss_kb=<n> ceiling_rps=<n>
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${KACME_BENCH_BUILD_DIR:-$root/build-bench}
duration=${KACME_BENCH_SECONDS:-10}
rounds=${KACME_BENCH_ROUNDS:-3}
tmp=$(mktemp -d)
wh=""
ng=""
cleanup() {
    [[ -n "$wh" ]] && kill "$wh" 2>/dev/null && wait "$wh" 2>/dev/null || true
    [[ -n "$ng" ]] && kill "$ng" 2>/dev/null && wait "$ng" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
for t in wrk nginx openssl python3; do command -v "$t" >/dev/null || { echo "bench: needs $t" >&2; exit 1; }; done

echo "bench: building kacme-webhook (Release) in $build" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" --target kacme-webhook -j2 >/dev/null

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" -out "$tmp/tls.crt" \
    -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
python3 - "$root/tests/unit/webhook/fixtures/order_update_labels_annotations.json" "$tmp/body.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d.pop("_expect")
json.dump(d, open(sys.argv[2], "w"), separators=(",", ":"))
PY
export KACME_BENCH_BODY=$tmp/body.json

"$build/bin/kacme-webhook" --tls-cert-file "$tmp/tls.crt" --tls-private-key-file "$tmp/tls.key" \
    --bind-address 127.0.0.1 --secure-port 0 --healthz-port 0 --metrics-listen-address 127.0.0.1:0 \
    >"$tmp/webhook.log" 2>&1 &
wh=$!
for _ in $(seq 100); do grep -q '"serving"' "$tmp/webhook.log" && break; sleep 0.1; done
port=$(sed -n 's/.*"serving" securePort="\([0-9]*\)".*/\1/p' "$tmp/webhook.log")
[[ -n "$port" ]] || { cat "$tmp/webhook.log" >&2; exit 1; }
resp=$(curl -s --cacert "$tmp/tls.crt" --data-binary @"$tmp/body.json" "https://127.0.0.1:$port/validate")
grep -q '"allowed":true' <<<"$resp" || { echo "bench: unexpected response: $resp" >&2; exit 1; }

# nginx ceiling: same certificate, same response size, 2 workers, keep-alive
ngport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '%s' "$resp" >"$tmp/resp.json"
mkdir -p "$tmp/ngx/logs"
cat >"$tmp/nginx.conf" <<NGX
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/ngx/logs/error.log;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $tmp/ngx/body;
    server {
        listen 127.0.0.1:$ngport ssl;
        ssl_certificate $tmp/tls.crt;
        ssl_certificate_key $tmp/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        client_max_body_size 4m;
        location = /validate { default_type application/json; return 200 '$(cat "$tmp/resp.json")'; }
    }
}
NGX
nginx -p "$tmp/ngx" -e "$tmp/ngx/logs/error.log" -c "$tmp/nginx.conf" &
ng=$!
for _ in $(seq 50); do curl -sk -o /dev/null "https://127.0.0.1:$ngport/validate" && break; sleep 0.1; done

# wrk_run URL THREADS CONNS -> "rps p50_ms p99_ms"
wrk_run() {
    local out
    out=$(wrk -t"$2" -c"$3" -d"${duration}s" --latency -s "$root/bench/webhook/post.lua" "$1")
    python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    x = float(m.group(1))
    return x / 1000 if m.group(2) == "us" else x * 1000 if m.group(2) == "s" else x
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if errs:
    sys.exit("bench: non-2xx responses: " + errs.group(1))
print("%d %.3f %.3f" % (rps, p50, p99))
PY
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
wh_all="" ng_all=""
for r in $(seq "$rounds"); do
    echo "bench: round $r/$rounds: webhook max rate (2 threads, 32 connections, ${duration}s)" >&2
    read -r x _ _ < <(wrk_run "https://127.0.0.1:$port/validate" 2 32)
    wh_all+=" $x"
    echo "bench: round $r/$rounds: nginx ceiling (2 threads, 32 connections, ${duration}s)" >&2
    read -r y _ _ < <(wrk_run "https://127.0.0.1:$ngport/validate" 2 32)
    ng_all+=" $y"
    echo "bench: round $r/$rounds: webhook $x req/s, nginx $y req/s ($((x * 100 / (y > 0 ? y : 1)))%)" >&2
done
rps=$(median <<<"$wh_all")
ceiling=$(median <<<"$ng_all")
echo "bench: webhook latency under light load (1 thread, 2 connections, ${duration}s)" >&2
read -r light_rps p50 p99 < <(wrk_run "https://127.0.0.1:$port/validate" 1 2)
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$wh/status")
echo "bench: nginx latency under light load (1 thread, 2 connections, ${duration}s), for comparison" >&2
read -r ng_light_rps ng_p50 ng_p99 < <(wrk_run "https://127.0.0.1:$ngport/validate" 1 2)
echo "bench: nginx light load: ${ng_light_rps} req/s p50_ms=${ng_p50} p99_ms=${ng_p99}" >&2
echo "bench: load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
echo "bench: light-load run achieved ${light_rps} req/s ($(( light_rps * 100 / (rps > 0 ? rps : 1) ))% of max)" >&2
echo "bench: webhook ${rps} req/s is $((rps * 100 / (ceiling > 0 ? ceiling : 1)))% of the nginx ceiling (medians of$wh_all /$ng_all)" >&2
echo "rps=$rps p50_ms=$p50 p99_ms=$p99 rss_kb=$rss ceiling_rps=$ceiling"
