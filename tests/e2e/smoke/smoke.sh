#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# e2e smoke test of the local environment (needs the kacme_env fixture, i.e. hack/local-up.sh):
#  - a second local-up is a quick no-op;
#  - a namespace, a pod running kacme.test/http-responder (node stand-in), a Service and an Ingress;
#  - GET through the ingress stand-in by host name; the pod's service-account token works in-cluster;
#  - BIND9 is authoritative for the test zone and resolves its names to the ingress stand-in; the TSIG key
#    of env.sh mocks a record (tests/lib/dns-record.sh);
#  - a validating webhook served by a pod (secret volume, non-root) is called by the API server;
#  - deleting the pod kills its process and removes its network namespace.
set -euo pipefail
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
L=${KACME_LOCAL_DIR:-$root/_local}
step() { printf '\n--- smoke [%ss]: %s\n' "$SECONDS" "$*"; }
fail() {
    printf '\nsmoke: FAILED: %s\n' "$*" >&2
    [[ -n "${ns:-}" ]] && kubectl -n "$ns" get pods,svc,ingress,endpointslices -o wide >&2 2>&1 || true
    [[ -n "${ns:-}" ]] && kubectl -n "$ns" get pod responder -o yaml 2>/dev/null | sed -n '/^status:/,$p' >&2 || true
    for f in "$L"/node/pods/"${ns:-none}"_*/logs/*.log; do
        [[ -f "$f" ]] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }
    done
    tail -n 20 "$L/logs/node.log" "$L/logs/ingress.log" >&2 2>/dev/null || true
    exit 1
}
# retry SECONDS DESCRIPTION COMMAND...: bounded polling
retry() {
    local t=$1 what=$2
    shift 2
    local deadline=$((SECONDS + t))
    until "$@"; do
        ((SECONDS < deadline)) || fail "timed out after ${t}s: $what"
        sleep 0.5
    done
}

step "second local-up is a no-op"
out=$("$root/hack/local-up.sh" 2>&1) || fail "second local-up failed: $out"
grep -q "already up" <<<"$out" || fail "second local-up did not detect the running environment: $out"

[[ -f "$L/env.sh" ]] || fail "$L/env.sh missing (is the environment up?)"
# shellcheck disable=SC1091
. "$L/env.sh"
for v in KUBECONFIG KACME_ACME_SERVER KACME_ACME_CA_FILE KACME_ACME_ROOT_FILE KACME_DNS_SERVER KACME_DNS_ZONE \
    KACME_TSIG_KEY_NAME KACME_TSIG_ALGORITHM KACME_TSIG_SECRET KACME_INGRESS_ADDR KACME_APISERVER; do
    [[ -n "${!v:-}" ]] || fail "env.sh does not set $v"
done
[[ -s "$KACME_ACME_ROOT_FILE" ]] || fail "Pebble root $KACME_ACME_ROOT_FILE is empty"
curl -sf --max-time 5 --cacert "$KACME_ACME_CA_FILE" "$KACME_ACME_SERVER" | grep -q newOrder ||
    fail "ACME directory $KACME_ACME_SERVER not served"
kubectl get node "$KACME_NODE_NAME" >/dev/null || fail "node $KACME_NODE_NAME missing"

step "DNS: BIND9 ($KACME_DNS_SERVER) is authoritative for $KACME_DNS_ZONE and answers with the ingress address"
[[ $KACME_DNS_SERVER == "$KACME_HOST_IP:"* ]] || fail "KACME_DNS_SERVER=$KACME_DNS_SERVER is not on $KACME_HOST_IP (pods)"
[[ $KACME_TSIG_ALGORITHM == HMACSHA256 ]] || fail "KACME_TSIG_ALGORITHM=$KACME_TSIG_ALGORITHM"
[[ $(base64 -d <<<"$KACME_TSIG_SECRET" 2>/dev/null | wc -c) -ge 16 ]] || fail "KACME_TSIG_SECRET is not base64"
dns_host=${KACME_DNS_SERVER%:*} dns_port=${KACME_DNS_SERVER##*:}
q() { dig +norec +time=2 +tries=2 -p "$dns_port" "@$dns_host" "$@"; }
soa=$(q "$KACME_DNS_ZONE" SOA) || fail "no answer from $KACME_DNS_SERVER"
grep -q 'flags:.* aa' <<<"$soa" || fail "the SOA of $KACME_DNS_ZONE is not authoritative: $soa"
grep -qP "^\Q$KACME_DNS_ZONE\E\s.*\sSOA\s" <<<"$soa" || fail "no SOA for $KACME_DNS_ZONE: $soa"
answer=$(q +short "smoke.${KACME_DNS_ZONE%.}" A)
[[ "$answer" == "$KACME_INGRESS_ADDR" ]] || fail "smoke.${KACME_DNS_ZONE%.} resolved to '$answer', want $KACME_INGRESS_ADDR"
answer=$(q +short smoke.example A)
[[ "$answer" == "$KACME_INGRESS_ADDR" ]] || fail "smoke.example (outside the zone) resolved to '$answer'"
mock=smoke-mock-$$.${KACME_DNS_ZONE%.}
"$root/tests/lib/dns-record.sh" add "$mock" A 127.0.0.9 || fail "mocking an A record with the TSIG key failed"
[[ $(q +short "$mock" A) == 127.0.0.9 ]] || fail "$mock: the mocked record is not served"
"$root/tests/lib/dns-record.sh" delete "$mock" A || fail "deleting the mocked record failed"
[[ $(q +short "$mock" A) == "$KACME_INGRESS_ADDR" ]] || fail "$mock: the wildcard's answer did not come back"

ns=kacme-smoke-$(date +%s)-$$
step "namespace $ns"
kubectl create namespace "$ns" >/dev/null
retry 30 "default ServiceAccount in $ns" kubectl -n "$ns" get serviceaccount default -o name >/dev/null 2>&1

step "pod, service and ingress"
kubectl -n "$ns" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: responder
  labels: {app: responder}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: responder
    image: kacme.test/http-responder:v1
    args: ["--port", "$(PORT)", "--text", "$(GREETING) from $(POD_NAME)", "--whoami", "/whoami",
           "--serve-file", "/sa-namespace=/var/run/secrets/kubernetes.io/serviceaccount/namespace"]
    env:
    - {name: PORT, value: "8080"}
    - {name: GREETING, value: "hello-smoke"}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_NAMESPACE
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    ports:
    - {name: http, containerPort: 8080}
    readinessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: responder
spec:
  selector: {app: responder}
  ports:
  - {name: web, port: 80, targetPort: http}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: responder
spec:
  rules:
  - host: smoke.kacme.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: responder
            port: {name: web}
EOF
kubectl -n "$ns" wait --for=condition=Ready pod/responder --timeout=60s >/dev/null || fail "pod not Ready"
pod_ip=$(kubectl -n "$ns" get pod responder -o jsonpath='{.status.podIP}')
uid=$(kubectl -n "$ns" get pod responder -o jsonpath='{.metadata.uid}')
python3 -c 'import ipaddress,sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' \
    "$pod_ip" "$KACME_POD_CIDR" || fail "pod IP $pod_ip not in $KACME_POD_CIDR"
netns=kacme-pod-${uid:0:8}
ip netns list | grep -qw "$netns" || fail "network namespace $netns missing"
pids=$(ip netns pids "$netns")
[[ -n "$pids" ]] || fail "no process in $netns"
echo "pod IP $pod_ip, netns $netns, pids $pids"

step "GET http://smoke.kacme.test/ through the ingress stand-in"
get() { curl -sf --max-time 5 --resolve "smoke.kacme.test:$KACME_INGRESS_PORT:$1" "http://smoke.kacme.test:$KACME_INGRESS_PORT$2"; }
check_body() { body=$(get 127.0.0.1 /hello) && grep -q "hello-smoke from responder" <<<"$body"; }
retry 30 "GET through the ingress returns the responder's text" check_body
echo "$body"
grep -q "pod=$ns/responder path=/hello host=smoke.kacme.test" <<<"$body" || fail "unexpected body: $body"
get "$KACME_INGRESS_ADDR" /hello | grep -q hello-smoke || fail "ingress not reachable on $KACME_INGRESS_ADDR"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: other.kacme.test' \
    "http://127.0.0.1:$KACME_INGRESS_PORT/") || true
[[ "$code" == 404 ]] || fail "unknown host answered $code, want 404"

step "kubectl logs (the node stand-in serves /containerLogs)"
logs=$(kubectl -n "$ns" logs responder) || fail "kubectl logs failed"
grep -q "GET /hello" <<<"$logs" || fail "kubectl logs lacks the request: $logs"

step "service-account token mounted at the in-cluster path and accepted by the API server"
[[ "$(get 127.0.0.1 /sa-namespace)" == "$ns" ]] || fail "serviceaccount namespace file not mounted"
who=$(get 127.0.0.1 /whoami) || fail "whoami from the pod failed: $(curl -s --resolve smoke.kacme.test:$KACME_INGRESS_PORT:127.0.0.1 http://smoke.kacme.test:$KACME_INGRESS_PORT/whoami)"
[[ "$who" == "system:serviceaccount:$ns:default" ]] || fail "pod's token is $who"
echo "pod authenticates as $who"

step "validating webhook: the API server calls a pod through its Service's endpoints (secret volume, HTTPS)"
wh=$(mktemp -d)
vwc=kacme-smoke-$ns
trap 'rm -rf "$wh"; kubectl delete validatingwebhookconfiguration "$vwc" --ignore-not-found >/dev/null 2>&1 || true' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$wh/ca.key" 2>/dev/null
openssl req -x509 -new -key "$wh/ca.key" -subj /CN=smoke-webhook-ca -days 1 -out "$wh/ca.crt" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$wh/tls.key" 2>/dev/null
printf 'subjectAltName=DNS:denier.%s.svc\nextendedKeyUsage=serverAuth\n' "$ns" >"$wh/ext"
openssl req -new -key "$wh/tls.key" -subj "/CN=denier.$ns.svc" 2>/dev/null |
    openssl x509 -req -CA "$wh/ca.crt" -CAkey "$wh/ca.key" -CAcreateserial -days 1 -extfile "$wh/ext" \
        -out "$wh/tls.crt" 2>/dev/null
kubectl -n "$ns" create secret tls denier-tls --cert "$wh/tls.crt" --key "$wh/tls.key" >/dev/null
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: denier
  labels: {app: denier}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532}
  containers:
  - name: denier
    image: kacme.test/http-responder
    args: ["--port", "8443", "--tls-cert", "/etc/denier/tls.crt", "--tls-key", "/etc/denier/tls.key",
           "--deny-admission", "smoke webhook says no"]
    ports: [{name: https, containerPort: 8443}]
    readinessProbe: {httpGet: {path: /healthz, port: https, scheme: HTTPS}}
    volumeMounts: [{name: tls, mountPath: /etc/denier, readOnly: true}]
  volumes:
  - {name: tls, secret: {secretName: denier-tls}}
---
apiVersion: v1
kind: Service
metadata: {name: denier}
spec:
  selector: {app: denier}
  ports: [{port: 443, targetPort: https}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: $vwc}
webhooks:
- name: denier.smoke.kacme.test
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 5
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: $ns}}
  objectSelector: {matchLabels: {smoke-deny: "yes"}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  clientConfig:
    service: {namespace: $ns, name: denier, path: /validate, port: 443}
    caBundle: $(base64 -w0 "$wh/ca.crt")
EOF
kubectl -n "$ns" wait --for=condition=Ready pod/denier --timeout=60s >/dev/null || fail "webhook pod not Ready"
denied() {
    local out
    out=$(kubectl -n "$ns" create -f - 2>&1 <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {generateName: deny-me-, labels: {smoke-deny: "yes"}}
EOF
) && return 1
    grep -q "smoke webhook says no" <<<"$out" || { echo "not denied by the webhook yet: $out" >&2; return 1; }
}
retry 30 "a labelled ConfigMap denied by the webhook pod" denied
kubectl -n "$ns" create configmap allowed-one >/dev/null || fail "an unlabelled ConfigMap was refused"
echo "webhook pod reached through its endpoints; request denied as expected"

step "delete the pod: process and network namespace gone"
kubectl -n "$ns" delete pod responder --timeout=60s >/dev/null || fail "pod deletion did not finish"
gone() {
    local p
    for p in $pids; do [[ -d /proc/$p ]] && return 1; done
    ! ip netns list | grep -qw "$netns"
}
retry 15 "pod process(es) $pids and netns $netns gone" gone
ip -o link show | grep -q "kvh${uid:0:8}" && fail "host veth kvh${uid:0:8} left behind"

step "unknown image: pod reports ImagePullBackOff"
kubectl -n "$ns" run nosuch --image=nosuch.example/none:v1 --restart=Never >/dev/null
reason() { [[ "$(kubectl -n "$ns" get pod nosuch -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')" == ImagePullBackOff ]]; }
retry 30 "pod nosuch reporting ImagePullBackOff" reason

kubectl delete namespace "$ns" --wait=false >/dev/null
printf '\nsmoke: PASSED\n'
