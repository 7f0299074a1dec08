#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DNS-01 end to end (issue 10) against the local environment: kacme-controller (issuers,
# certificaterequests-issuer-acme, orders, challenges) in a namespace of its own, an Issuer whose solver is
# dns01.rfc2136 against the environment's BIND9 with its TSIG key (Secret read by name), Pebble as the CA.
#   1. one CertificateRequest for "*.w.<ns>.kacme.test" and "w.<ns>.kacme.test": two DNS-01 Challenges that
#      share the record name _acme-challenge.w.<ns>.kacme.test. — never both in progress (processing) at
#      once — both TXT values presented through RFC 2136, checked at BIND, issued
#   2. nothing left behind: no TXT at the record name in BIND, Challenges gone
#   3. a wrong TSIG secret: the Challenge reason names NOTAUTH / BADSIG
#   4. an external webhook solver (tests/e2e/dns01/webhook.py, an aggregated API registered with an
#      APIService, writing to BIND with nsupdate): issued; the webhook saw Present and CleanUp with the
#      resolved FQDN and zone and the solver's config; nothing left in BIND
#
# BIND9 is the environment's one DNS server: the controller updates and checks it, and Pebble reads the TXT
# values from it too. Exit 77 (skipped) when the controller binary has no DNS-01 flags yet.
#
# usage: run.sh /path/to/kacme-controller
set -euo pipefail
bin=${1:?usage: run.sh /path/to/kacme-controller}
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
env_sh=${KACME_LOCAL_DIR:-$root/_local}/env.sh
[[ -f $env_sh ]] || { echo "dns01 e2e: $env_sh missing: bring the local environment up (hack/local-up.sh)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_sh"
[[ -n ${KACME_TSIG_SECRET:-} ]] || { echo "dns01 e2e: no TSIG key in $env_sh (restart the environment)" >&2; exit 1; }
if ! "$bin" --help 2>&1 | grep -q -- --dns01-recursive-nameservers; then
    echo "SKIP: $bin has no DNS-01 flags (controller/dns01.c not enabled in this build)"
    exit 77
fi

ns=dns01-e2e-$$
zone=${KACME_DNS_ZONE%.}
bind_host=${KACME_DNS_SERVER%:*}
bind_port=${KACME_DNS_SERVER##*:}
work=$(mktemp -d)
pid="" hook=""
names=("_acme-challenge.w.$ns.$zone." "_acme-challenge.bad.$ns.$zone." "_acme-challenge.h.$ns.$zone.")
group=$ns.webhook.kacme.test

cleanup() {
    kubectl -n "$ns" delete certificaterequests,orders,challenges --all --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do
        [[ -z $(kubectl -n "$ns" get challenges -o name 2>/dev/null) ]] && break
        sleep 0.2
    done
    [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    [[ -n $hook ]] && { kill "$hook" 2>/dev/null || true; wait "$hook" 2>/dev/null || true; }
    kubectl delete apiservice "v1alpha1.$group" --ignore-not-found >/dev/null 2>&1 || true
    for c in $(kubectl -n "$ns" get challenges -o name 2>/dev/null); do
        kubectl -n "$ns" patch "$c" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
    done
    for n in "${names[@]}"; do # what a failed run may have left in BIND
        "$root/tests/lib/dns-record.sh" delete "$n" TXT >/dev/null 2>&1 || true
    done
    kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $work/ctrl.log ]] && { echo "--- controller log (tail)" >&2; tail -60 "$work/ctrl.log" >&2; }; exit 1; }
wait_for() {
    local desc=$1 deadline=$(( $(date +%s) + $2 )); shift 2
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || fail "timed out waiting for $desc"
        sleep 0.2
    done
}
jp() { kubectl -n "$ns" get "$1" -o "jsonpath=$2" 2>/dev/null; }
cond_is() { [[ "$(jp "$1" "{.status.conditions[?(@.type==\"$2\")].$3}")" == "$4" ]]; }
txt_at_bind() { dig +short +time=2 +tries=1 -p "$bind_port" "@$bind_host" "$1" TXT | tr -d '"' | sort; }

kubectl apply -f "$root/crds/" >/dev/null
kubectl create namespace "$ns" >/dev/null
kubectl -n "$ns" create secret generic tsig --from-literal=secret="$KACME_TSIG_SECRET" >/dev/null
kubectl -n "$ns" create secret generic tsig-wrong \
    --from-literal=secret="d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE=" >/dev/null
ca=$(base64 -w0 <"$KACME_ACME_CA_FILE")
issuer() { # issuer NAME TSIG_SECRET_NAME
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: $1}
spec:
  acme:
    server: $KACME_ACME_SERVER
    email: e2e@example.com
    caBundle: $ca
    privateKeySecretRef: {name: $1-account}
    solvers:
    - dns01:
        rfc2136:
          nameserver: "$KACME_DNS_SERVER"
          tsigKeyName: $KACME_TSIG_KEY_NAME
          tsigAlgorithm: $KACME_TSIG_ALGORITHM
          tsigSecretSecretRef: {name: $2, key: secret}
YAML
}
cr() { # cr NAME ISSUER DNSNAME...
    local name=$1 iss=$2 san="" n
    shift 2
    for n in "$@"; do san+="${san:+,}DNS:$n"; done
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$name.key" \
        -subj "/CN=$1" -addext "subjectAltName=$san" -out "$work/$name.csr" 2>/dev/null
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: $name}
spec:
  request: $(base64 -w0 <"$work/$name.csr")
  issuerRef: {name: $iss, kind: Issuer, group: cert-manager.io}
YAML
}
issuer bind tsig
issuer wrong tsig-wrong
"$bin" --kubeconfig="$KUBECONFIG" --namespace="$ns" \
    --controllers=issuers,certificaterequests-issuer-acme,orders,challenges \
    --dns01-recursive-nameservers="$KACME_DNS_SERVER" --dns01-recursive-nameservers-only \
    --dns01-check-settle-period=0 --dns01-check-retry-period=2s \
    --leader-elect=false --metrics-listen-address=127.0.0.1:0 --internal-healthz-listen-address=127.0.0.1:0 \
    --v=2 >>"$work/ctrl.log" 2>&1 &
pid=$!
wait_for "issuer bind Ready" 60 cond_is issuer/bind Ready status True
wait_for "issuer wrong Ready" 60 cond_is issuer/wrong Ready status True

# 1
t0=$(date +%s%3N)
cr wild bind "*.w.$ns.$zone" "w.$ns.$zone"
# never both in progress: sample the Challenges' processing flags until issued
both=0
deadline=$(( $(date +%s) + 120 ))
until cond_is certificaterequest/wild Ready reason Issued; do
    (( $(date +%s) < deadline )) || fail "timed out waiting for the wildcard certificate (CR: $(jp certificaterequest/wild '{.status.conditions}'); challenges: $(kubectl -n "$ns" get challenges -o jsonpath='{range .items[*]}{.spec.dnsName} {.status.state} {.status.reason}{"\n"}{end}'))"
    p=$(kubectl -n "$ns" get challenges -o jsonpath='{range .items[*]}{.status.processing}{"\n"}{end}' 2>/dev/null | grep -c true || true)
    (( p > 1 )) && both=1
    sleep 0.2
done
t1=$(date +%s%3N)
(( both == 0 )) || fail "two challenges for one record name were in progress at once"
cert=$(jp certificaterequest/wild '{.status.certificate}' | base64 -d)
sans=$(openssl x509 -noout -ext subjectAltName <<<"$cert")
[[ $sans == *"DNS:*.w.$ns.$zone"* && $sans == *"DNS:w.$ns.$zone"* ]] || fail "certificate names: $sans"
grep -q "DNS-01 record presented" "$work/ctrl.log" || fail "no DNS-01 presentation logged"
echo "ok 1 wildcard + apex issued through DNS-01 (RFC 2136 to BIND, TSIG) in $(( t1 - t0 )) ms"

# 2
no_txt() { [[ -z $(txt_at_bind "${names[0]}") ]]; }
wait_for "TXT records removed from BIND" 30 no_txt
no_challenges() { [[ -z $(kubectl -n "$ns" get challenges -o name 2>/dev/null) ]] || \
    [[ -z $(kubectl -n "$ns" get challenges -o jsonpath='{range .items[*]}{.status.processing}{"\n"}{end}' | grep true) ]]; }
wait_for "challenges released" 30 no_challenges
echo "ok 2 nothing left behind in BIND"

# 3
cr bad wrong "bad.$ns.$zone"
reason_names_rcode() {
    kubectl -n "$ns" get challenges -o jsonpath='{range .items[*]}{.spec.dnsName} {.status.reason}{"\n"}{end}' |
        grep "^bad\.$ns" | grep -q "NOTAUTH.*BADSIG"
}
wait_for "the wrong-secret challenge's reason naming NOTAUTH/BADSIG" 60 reason_names_rcode
echo "ok 3 wrong TSIG secret: $(kubectl -n "$ns" get challenges -o jsonpath='{range .items[*]}{.status.reason}{"\n"}{end}' | grep BADSIG | head -1)"

# 4
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=dns01-webhook.$ns.svc" \
    -addext "subjectAltName=DNS:dns01-webhook.$ns.svc,IP:$KACME_HOST_IP" \
    -keyout "$work/hook.key" -out "$work/hook.crt" 2>/dev/null
python3 -B -u "$root/tests/e2e/dns01/webhook.py" --listen "$KACME_HOST_IP" --port-file "$work/hook.port" \
    --cert "$work/hook.crt" --key "$work/hook.key" --group "$group" --solver bind >"$work/hook.log" 2>&1 &
hook=$!
wait_for "the test webhook's port" 20 test -s "$work/hook.port"
hport=$(cat "$work/hook.port")
kubectl apply -f - 2> >(grep -v "Endpoints is deprecated" >&2) >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: dns01-webhook, namespace: $ns}
spec:
  ports: [{name: https, port: 443, targetPort: $hport, protocol: TCP}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: dns01-webhook, namespace: $ns}
subsets:
- addresses: [{ip: $KACME_HOST_IP}]
  ports: [{name: https, port: $hport, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.$group}
spec:
  group: $group
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  insecureSkipTLSVerify: true
  service: {namespace: $ns, name: dns01-webhook, port: 443}
YAML
apiservice_ok() { [[ $(kubectl get apiservice "v1alpha1.$group" -o 'jsonpath={.status.conditions[?(@.type=="Available")].status}') == True ]]; }
wait_for "APIService v1alpha1.$group Available" 60 apiservice_ok
kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: hook}
spec:
  acme:
    server: $KACME_ACME_SERVER
    email: e2e@example.com
    caBundle: $ca
    privateKeySecretRef: {name: hook-account}
    solvers:
    - dns01:
        webhook:
          groupName: $group
          solverName: bind
          config: {e2e: "$ns", nested: {list: [1, 2]}}
YAML
wait_for "issuer hook Ready" 60 cond_is issuer/hook Ready status True
t0=$(date +%s%3N)
cr viahook hook "h.$ns.$zone"
hook_issued() { cond_is certificaterequest/viahook Ready reason Issued; }
deadline=$(( $(date +%s) + 120 ))
until hook_issued; do
    (( $(date +%s) < deadline )) || fail "timed out waiting for the webhook-solved certificate (challenges: $(kubectl -n "$ns" get challenges -o jsonpath='{range .items[*]}{.spec.dnsName} {.status.state} {.status.reason}{"\n"}{end}'); webhook log: $(cat "$work/hook.log"))"
    sleep 0.2
done
t1=$(date +%s%3N)
grep -q "^Present _acme-challenge.h.$ns.$zone. $zone. {\"e2e\": \"$ns\", \"nested\": {\"list\": \[1, 2\]}} ok" "$work/hook.log" ||
    fail "webhook did not see the expected Present: $(cat "$work/hook.log")"
hook_cleaned() { grep -q "^CleanUp _acme-challenge.h.$ns.$zone. $zone. .* ok" "$work/hook.log"; }
wait_for "webhook CleanUp" 30 hook_cleaned
no_hook_txt() { [[ -z $(txt_at_bind "${names[2]}") ]]; }
wait_for "webhook TXT removed from BIND" 30 no_hook_txt
echo "ok 4 issued through the external webhook solver (APIService $group) in $(( t1 - t0 )) ms; Present + CleanUp seen"
