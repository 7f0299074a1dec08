#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# e2e for the Helm chart installed into the local control plane (fixture kacme_env). The node stand-in maps
# the chart's images (ghcr.io/kacme/{controller,webhook,acmesolver}) to the built binaries and runs the pods
# with in-cluster config and their ServiceAccount tokens, so RBAC is enforced: a missing permission fails.
#  1. helm install (release kacme-e2e-<pid>, namespace of the same name, --take-ownership of CRDs that other
#     tests applied with kubectl): both Deployments roll out, pods Ready through their probes;
#  2. RBAC as installed: the controller may get/create/update Secrets but not list/watch them, the webhook
#     only its own CA Secret and ValidatingWebhookConfiguration;
#  3. the webhook publishes its CA (caBundle of both webhook configurations == the CA Secret's ca.crt), the
#     API server calls /mutate for a CertificateRequest (spec.username/groups recorded) and /validate through
#     its Service (a user's Challenge is denied by kacme-webhook); the controller serves /metrics;
#  4. a CertificateRequest is issued end to end through a ClusterIssuer for Pebble (HTTP-01 via the ingress
#     stand-in; solver pods run the acmesolver image) and the certificate chains to Pebble's root;
#  5. helm upgrade with changed values rolls both pods (new pods with the new flags, old pods gone), the new
#     webhook adopts the CA Secret, and Helm's patch of the webhook configuration keeps the caBundle;
#     no pod log line says Forbidden (a missing permission that the flow survives still fails the test);
#  6. helm uninstall removes every object of the release and keeps the CRDs (crds.keep).
# The webhook validates only this test's namespace (namespaceSelector on its label; cluster-scoped objects
# always) so that other tests' namespaces never depend on it.
#
# KACME_CHART_E2E_SCOPE=namespace runs the controller with --namespace and a namespaced Issuer instead of a
# ClusterIssuer: for running this test by hand while other tests share the environment (an all-namespace
# controller would also reconcile their CertificateRequests and Issuers). Default: cluster, or namespace when
# another kacme controller already serves the whole cluster (see below). CI runs tests one at a time.
set -euo pipefail
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
L=${KACME_LOCAL_DIR:-$root/_local}
# shellcheck disable=SC1091
. "$L/env.sh"
chart=$root/charts/kacme
scope=${KACME_CHART_E2E_SCOPE:-}
command -v helm >/dev/null || { echo "helm not found (hack/k8s-tools.sh builds it)" >&2; exit 1; }

id=$$
rel=kacme-e2e-$id   # contains "kacme": the full name prefix is the release name
ns=$rel
ctrl=$rel-controller
wh=$rel-webhook
issuer=pebble-chart-$id
dns=chart-$id.kacme.test
tmp=$(mktemp -d)
step() { printf '\n--- e2e chart install [%ds]: %s\n' "$SECONDS" "$*"; }
cleanup() {
    # the webhook configuration first: a Fail policy without a webhook would block the deletions below
    kubectl delete validatingwebhookconfiguration "$wh" --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete mutatingwebhookconfiguration "$wh" --ignore-not-found >/dev/null 2>&1 || true
    helm uninstall "$rel" -n "$ns" --wait --timeout 60s >/dev/null 2>&1 || true
    kubectl delete clusterissuer "$issuer" --ignore-not-found --wait=false >/dev/null 2>&1 || true
    kubectl delete ns "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
    unown_crds >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
# leaves the kept CRDs as other tests expect them: not owned by a release that no longer exists
unown_crds() {
    local c crds=()
    for c in orders.acme.cert-manager.io challenges.acme.cert-manager.io certificaterequests.cert-manager.io \
        issuers.cert-manager.io clusterissuers.cert-manager.io; do
        [[ "$(kubectl get crd "$c" -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}' 2>/dev/null)" == \
            "$rel" ]] && crds+=("$c")
    done
    ((${#crds[@]})) || return 0
    kubectl annotate crd "${crds[@]}" meta.helm.sh/release-name- meta.helm.sh/release-namespace- \
        helm.sh/resource-policy- >/dev/null
    kubectl label crd "${crds[@]}" app.kubernetes.io/instance- app.kubernetes.io/managed-by- helm.sh/chart- \
        app.kubernetes.io/version- >/dev/null
}
trap cleanup EXIT
logs() {
    local p
    for p in $(kubectl -n "$ns" get pods -o name 2>/dev/null); do
        echo "== $p" >&2
        kubectl -n "$ns" get "$p" -o jsonpath='{.status.phase} {.status.containerStatuses[0].state}{"\n"}' >&2 || true
        kubectl -n "$ns" logs "$p" --tail 30 >&2 2>/dev/null || true
    done
}
fail() {
    printf '\ne2e chart install: FAILED: %s\n' "$*" >&2
    logs
    kubectl get certificaterequests,orders,challenges -n "$ns" -o wide >&2 2>/dev/null || true
    exit 1
}
retry() { # retry SECONDS WHAT CMD...
    local t=$1 what=$2
    shift 2
    local deadline=$((SECONDS + t))
    until "$@"; do
        ((SECONDS < deadline)) || fail "timed out after ${t}s: $what"
        sleep 0.5
    done
}
can() { [[ "$(kubectl auth can-i --as="system:serviceaccount:$ns:$1" "${@:2}" 2>/dev/null)" == yes ]]; }
expect_can() { can "$@" || fail "RBAC: $1 cannot ${*:2}"; }
expect_cannot() { ! can "$@" || fail "RBAC: $1 may ${*:2}"; }
# sar SA VERB GROUP RESOURCE NAME: a SubjectAccessReview (kubectl auth can-i cannot name "a/b" objects)
sar() {
    kubectl create -o jsonpath='{.status.allowed}' -f - <<YAML
apiVersion: authorization.k8s.io/v1
kind: SubjectAccessReview
spec:
  user: system:serviceaccount:$ns:$1
  groups: [system:serviceaccounts, "system:serviceaccounts:$ns", system:authenticated]
  resourceAttributes: {verb: $2, group: $3, resource: $4, name: "$5"}
YAML
}
pod_of() { kubectl -n "$ns" get pods -l "app.kubernetes.io/instance=$rel,app.kubernetes.io/component=$1" \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}'; }

# Another kacme controller serving the whole cluster (hack/kacme-up.sh, the demo: Lease kube-system/kacme-controller
# renewed within its duration) would also reconcile our ClusterIssuer with an ACME account of its own (its
# cluster resource namespace differs) and the two would fight over the Order. A namespaced Issuer keeps its
# account key in its own namespace, so both controllers share one account: use that scope then.
if [[ -z $scope ]]; then
    scope=cluster
    lease=$(kubectl -n kube-system get lease kacme-controller \
        -o jsonpath='{.spec.holderIdentity} {.spec.renewTime} {.spec.leaseDurationSeconds}' 2>/dev/null || true)
    read -r holder renew duration <<<"$lease"
    if [[ -n "${holder:-}" && -n "${renew:-}" ]] &&
        (($(date +%s) - $(date -d "$renew" +%s) < ${duration:-60})); then
        scope=namespace
        echo "note: another kacme controller ($holder) serves the cluster: Issuer scope instead of ClusterIssuer"
    fi
fi

# Values of this install; everything else is the chart's default.
ctrl_args=("--acme-http01-solver-nameservers=$KACME_DNS_SERVER")
[[ $scope == namespace ]] && ctrl_args+=("--namespace=$ns")
jq -n --arg id "$id" --argjson args "$(printf '%s\n' "${ctrl_args[@]}" | jq -R . | jq -s .)" '{
    logLevel: 2,
    webhook: {namespaceSelector: {matchExpressions: null, matchLabels: {"kacme-e2e-chart": $id}}},
    controller: {extraArgs: $args}
  }' >"$tmp/values.json"

step "helm install $rel into namespace $ns (scope: $scope)"
kubectl create ns "$ns" >/dev/null
# our webhook selects this label; other kacme webhooks (default selector) skip the namespace
kubectl label ns "$ns" "kacme-e2e-chart=$id" cert-manager.io/disable-validation=true >/dev/null
helm install "$rel" "$chart" -n "$ns" --take-ownership -f "$tmp/values.json" --wait --timeout 180s \
    >"$tmp/install.out" 2>&1 || { cat "$tmp/install.out" >&2; fail "helm install"; }
grep -q "kacme 0.1.0 is installed in namespace $ns" "$tmp/install.out" || fail "NOTES not shown"
kubectl -n "$ns" rollout status deploy/"$ctrl" --timeout=60s >/dev/null || fail "controller rollout"
kubectl -n "$ns" rollout status deploy/"$wh" --timeout=60s >/dev/null || fail "webhook rollout"
for c in controller webhook; do
    p=$(pod_of $c)
    [[ -n "$p" ]] || fail "no $c pod"
    kubectl -n "$ns" wait --for=condition=Ready "pod/${p%% *}" --timeout=60s >/dev/null || fail "$c pod not Ready"
    sa=$(kubectl -n "$ns" get pod "${p%% *}" -o jsonpath='{.spec.serviceAccountName}')
    echo "ok: $c pod ${p%% *} Ready (ServiceAccount $sa)"
done
for crd in orders.acme.cert-manager.io challenges.acme.cert-manager.io certificaterequests.cert-manager.io \
    issuers.cert-manager.io clusterissuers.cert-manager.io; do
    [[ "$(kubectl get crd "$crd" -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}')" == "$rel" ]] ||
        fail "CRD $crd is not part of the release"
done
echo "ok: the release owns the five CRDs"

step "RBAC as installed"
expect_can "$ctrl" get secrets -n kube-system
expect_can "$ctrl" create secrets -n "$ns"
expect_can "$ctrl" update secrets -n "$ns"
expect_cannot "$ctrl" list secrets -A
expect_cannot "$ctrl" watch secrets -n "$ns"
expect_cannot "$ctrl" delete secrets -n "$ns"
for r in pods services ingresses.networking.k8s.io orders.acme.cert-manager.io challenges.acme.cert-manager.io \
    certificaterequests.cert-manager.io issuers.cert-manager.io; do
    expect_can "$ctrl" list "$r" -A
    expect_can "$ctrl" watch "$r" -A
done
expect_can "$ctrl" watch clusterissuers.cert-manager.io
expect_can "$ctrl" update clusterissuers.cert-manager.io --subresource=status
expect_can "$ctrl" create events -n default
expect_can "$ctrl" patch challenges.acme.cert-manager.io -n default
expect_can "$ctrl" create challenges.acme.cert-manager.io -n default
expect_cannot "$ctrl" update orders.acme.cert-manager.io -n default
expect_can "$ctrl" update certificaterequests.cert-manager.io --subresource=status -n default
expect_can "$ctrl" update orders.acme.cert-manager.io --subresource=status -n default
expect_can "$ctrl" update challenges.acme.cert-manager.io --subresource=status -n default
# cert-manager's approval check asks for the literal name "<kind>.<group>/*" (RBAC has no wildcards)
[[ "$(sar "$ctrl" approve cert-manager.io signers 'clusterissuers.cert-manager.io/*')" == true ]] ||
    fail "RBAC: the controller cannot approve for clusterissuers.cert-manager.io/*"
[[ "$(sar "$ctrl" approve cert-manager.io signers 'issuers.cert-manager.io/*')" == true ]] ||
    fail "RBAC: the controller cannot approve for issuers.cert-manager.io/*"
[[ "$(sar "$ctrl" approve cert-manager.io signers 'example.com/*')" != true ]] ||
    fail "RBAC: the controller may approve for other signers"
expect_can "$ctrl" update leases.coordination.k8s.io/kacme-controller -n "$ns"
expect_cannot "$ctrl" update leases.coordination.k8s.io/kacme-controller -n kube-system
expect_cannot "$ctrl" update leases.coordination.k8s.io/other -n "$ns"
expect_can "$wh" get "secrets/$wh-ca" -n "$ns"
expect_can "$wh" update "secrets/$wh-ca" -n "$ns"
expect_cannot "$wh" get secrets/other -n "$ns"
expect_cannot "$wh" list secrets -n "$ns"
expect_cannot "$wh" create secrets -n default
expect_can "$wh" update "validatingwebhookconfigurations.admissionregistration.k8s.io/$wh"
expect_cannot "$wh" update validatingwebhookconfigurations.admissionregistration.k8s.io/other
expect_can "$wh" update "mutatingwebhookconfigurations.admissionregistration.k8s.io/$wh"
expect_cannot "$wh" update mutatingwebhookconfigurations.admissionregistration.k8s.io/other
expect_cannot "$wh" create challenges.acme.cert-manager.io -n "$ns"
echo "ok: least privilege as installed (controller: Secrets get/create/update only; webhook: by name)"

step "the webhook publishes its CA and the API server calls it through its Service"
secret_ca() { kubectl -n "$ns" get secret "$wh-ca" -o jsonpath='{.data.ca\.crt}' 2>/dev/null; }
bundle() { kubectl get validatingwebhookconfiguration "$wh" -o jsonpath='{.webhooks[0].clientConfig.caBundle}'; }
bundle_has_ca() {
    local ca b
    ca=$(secret_ca) && b=$(bundle) && [[ -n "$ca" && -n "$b" ]] &&
        base64 -d <<<"$b" | grep -qF -- "$(base64 -d <<<"$ca" | sed -n 2p)"
}
retry 30 "caBundle contains the CA of Secret $wh-ca" bundle_has_ca
mbundle_has_ca() {
    local ca b
    ca=$(secret_ca) && b=$(kubectl get mutatingwebhookconfiguration "$wh" -o jsonpath='{.webhooks[0].clientConfig.caBundle}') &&
        [[ -n "$ca" && -n "$b" ]] && base64 -d <<<"$b" | grep -qF -- "$(base64 -d <<<"$ca" | sed -n 2p)"
}
retry 30 "the MutatingWebhookConfiguration's caBundle contains the CA" mbundle_has_ca
echo "ok: caBundle published ($(bundle | base64 -d | grep -c 'BEGIN CERTIFICATE') certificate(s)), equal to Secret $wh-ca"
user_challenge() {
    kubectl create --as=jane --as-group=system:masters -f - 2>&1 <<YAML
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata: {name: by-hand, namespace: $ns}
spec: {url: u, authorizationURL: a, dnsName: a.example.com, wildcard: false, type: HTTP-01, token: t, key: k,
       solver: {http01: {ingress: {}}}, issuerRef: {name: x}}
YAML
}
denied_by_webhook() {
    local out
    out=$(user_challenge) && fail "a user's Challenge was admitted"
    grep -q "admission webhook \"webhook.cert-manager.io\" denied" <<<"$out" &&
        grep -q 'created by the kacme controller only' <<<"$out"
}
retry 30 "the API server calls kacme-webhook through Service $wh" denied_by_webhook
echo "ok: a user's Challenge is denied by the chart's webhook"
cpod=$(pod_of controller)
cip=$(kubectl -n "$ns" get pod "${cpod%% *}" -o jsonpath='{.status.podIP}')
metrics_up() { curl -sf --max-time 5 "http://$cip:9402/metrics" >"$tmp/metrics"; }
retry 30 "controller /metrics on $cip:9402" metrics_up
grep -q '^certmanager_controller_sync_call_count\|^# TYPE certmanager_' "$tmp/metrics" ||
    fail "no certmanager_ metrics: $(head -5 "$tmp/metrics")"
echo "ok: controller serves /metrics on port http-metrics"

step "a CertificateRequest issued end to end through Pebble"
if [[ -n "${KACME_CHART_E2E_SKIP_ISSUE:-}" ]]; then
    echo "SKIPPED (KACME_CHART_E2E_SKIP_ISSUE set)"
else
if [[ $scope == cluster ]]; then
    ikind=ClusterIssuer
    imeta="{name: $issuer}"
else
    ikind=Issuer
    imeta="{name: $issuer, namespace: $ns}"
fi
kubectl apply -f - >/dev/null <<YAML || fail "cannot create the $ikind"
apiVersion: cert-manager.io/v1
kind: $ikind
metadata: $imeta
spec:
  acme:
    server: $KACME_ACME_SERVER
    email: chart-e2e@kacme.test
    caBundle: $(base64 -w0 "$KACME_ACME_CA_FILE")
    privateKeySecretRef:
      name: $issuer-account-key
    solvers:
      - http01:
          ingress: {}
YAML
iref=$ikind/$issuer
[[ $scope == namespace ]] && iref="-n $ns $iref"
# shellcheck disable=SC2086
kubectl wait --for=condition=Ready $iref --timeout=90s >/dev/null ||
    fail "$ikind $issuer not Ready: $(kubectl get $iref -o jsonpath='{.status.conditions}' 2>&1)"
[[ -n "$(kubectl -n "$ns" get secret "$issuer-account-key" -o name 2>/dev/null)" ]] ||
    fail "the ACME account key Secret is not in the cluster resource namespace $ns"
echo "ok: $ikind $issuer Ready (account key Secret created in $ns by the controller)"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/key.pem" \
    -subj "/CN=$dns" -addext "subjectAltName=DNS:$dns" -out "$tmp/csr.pem" 2>/dev/null
kubectl apply -f - >/dev/null <<YAML || fail "cannot create the CertificateRequest"
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: chart, namespace: $ns}
spec:
  issuerRef: {name: $issuer, kind: $ikind, group: cert-manager.io}
  request: $(base64 -w0 "$tmp/csr.pem")
  usages: [digital signature, key encipherment, server auth]
YAML
# /mutate recorded the requester from the API server's userInfo (the admin client certificate's subject)
requester=$(kubectl -n "$ns" get certificaterequest chart -o jsonpath='{.spec.username}|{.spec.groups}')
[[ $requester == "kacme-admin|"*system:masters* ]] || fail "spec.username/groups not set by /mutate: $requester"
echo "ok: the CertificateRequest records its requester ($requester)"
cr_state() { kubectl -n "$ns" get certificaterequest chart \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}'; }
issued() {
    local s
    s=$(cr_state)
    case "$s" in
    True/*) return 0 ;;
    False/Failed | False/Denied) fail "the CertificateRequest failed: $(kubectl -n "$ns" get certificaterequest chart \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')" ;;
    esac
    return 1
}
retry 180 "CertificateRequest issued (state: \$(cr_state))" issued
kubectl -n "$ns" get certificaterequest chart -o jsonpath='{.status.certificate}' | base64 -d >"$tmp/cert.pem"
awk '/BEGIN CERT/ {n++} n > 1' "$tmp/cert.pem" >"$tmp/chain.pem"
openssl verify -CAfile "$KACME_ACME_ROOT_FILE" -untrusted "$tmp/chain.pem" "$tmp/cert.pem" >/dev/null ||
    fail "the certificate does not chain to Pebble's root"
openssl x509 -in "$tmp/cert.pem" -noout -ext subjectAltName | grep -q "DNS:$dns" || fail "SAN $dns missing"
echo "ok: certificate for $dns issued by Pebble through the chart's controller and solver pods"
fi

step "no permission was missing (no RBAC refusal in the pod logs)"
no_forbidden() {
    local p out
    for p in $(kubectl -n "$ns" get pods -l "app.kubernetes.io/instance=$rel" -o name); do
        out=$(kubectl -n "$ns" logs "$p" 2>&1) || fail "cannot read the logs of $p: $out"
        # RBAC refusals read 'User "system:serviceaccount:..." cannot <verb> resource ...' (an admission
        # denial is a 403 too, but not a missing permission)
        if grep -E 'User \\?"system:serviceaccount:[^ ]* cannot [a-z]+ resource' <<<"$out" >&2; then
            fail "$p was refused by RBAC (lines above)"
        fi
    done
}
no_forbidden
echo "ok: no RBAC refusal in the controller and webhook logs"

step "helm upgrade with changed values rolls the pods"
old_ctrl=$(pod_of controller)
old_wh=$(pod_of webhook)
ca_before=$(secret_ca)
helm upgrade "$rel" "$chart" -n "$ns" --reuse-values --set controller.maxConcurrentChallenges=7 \
    --set webhook.timeoutSeconds=20 --set 'webhook.extraArgs={--max-connections=500}' --wait --timeout 180s \
    >"$tmp/upgrade.out" 2>&1 || { cat "$tmp/upgrade.out" >&2; fail "helm upgrade"; }
for c in controller webhook; do
    old=$old_ctrl
    [[ $c == webhook ]] && old=$old_wh
    kubectl -n "$ns" rollout status "deploy/$rel-$c" --timeout=120s >/dev/null || fail "$c rollout after upgrade"
    rolled() { # exactly one pod of the component, not the old one
        local p
        read -r -a p <<<"$(pod_of "$c")"
        [[ ${#p[@]} -eq 1 && "${p[0]}" != "${old%% *}" ]]
    }
    retry 120 "the old $c pod ${old%% *} replaced" rolled
    new=$(pod_of "$c")
    kubectl -n "$ns" wait --for=condition=Ready "pod/${new%% *}" --timeout=60s >/dev/null || fail "new $c pod not Ready"
    echo "ok: $c pod ${old%% *} -> ${new%% *}"
done
new_ctrl=$(pod_of controller)
kubectl -n "$ns" get pod "${new_ctrl%% *}" -o jsonpath='{.spec.containers[0].args}' |
    grep -q -- '--max-concurrent-challenges=7' || fail "the new controller pod lacks the new flag"
[[ "$(kubectl get validatingwebhookconfiguration "$wh" -o jsonpath='{.webhooks[0].timeoutSeconds}')" == 20 ]] ||
    fail "webhook.timeoutSeconds not applied"
# Helm patched the configuration (timeoutSeconds); the caBundle the webhook wrote must survive that
retry 30 "caBundle still set after the upgrade" bundle_has_ca
[[ "$(secret_ca)" == "$ca_before" ]] || fail "the new webhook pod replaced the CA instead of adopting it"
retry 30 "the new webhook pod answers" denied_by_webhook
echo "ok: new flags in the new pods; the new webhook adopted the CA; caBundle set after Helm patched the configuration"
no_forbidden

step "helm uninstall keeps the CRDs and removes everything else of the release"
helm uninstall "$rel" -n "$ns" --wait --timeout 120s >"$tmp/uninstall.out" 2>&1 ||
    { cat "$tmp/uninstall.out" >&2; fail "helm uninstall"; }
grep -q 'kept due to the resource policy' "$tmp/uninstall.out" || fail "helm did not report kept CRDs"
sel="app.kubernetes.io/instance=$rel"
leftovers() {
    kubectl get deployments,replicasets,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets \
        -n "$ns" -l "$sel" -o name
    kubectl get roles,rolebindings -n "$ns" -o name | grep "$rel" || true
    kubectl get clusterroles,clusterrolebindings,validatingwebhookconfigurations -l "$sel" -o name
}
# ReplicaSets (and pods) go through the garbage collector after Helm deleted their Deployment
deadline=$((SECONDS + 60))
until [[ -z "$(leftovers)" ]]; do
    ((SECONDS < deadline)) || fail "left behind after uninstall: $(leftovers | tr '\n' ' ')"
    sleep 0.5
done
gone() { [[ -z "$(kubectl -n "$ns" get pods -l "$sel" -o name)" ]]; }
retry 60 "pods gone" gone
for crd in orders.acme.cert-manager.io challenges.acme.cert-manager.io certificaterequests.cert-manager.io \
    issuers.cert-manager.io clusterissuers.cert-manager.io; do
    kubectl get crd "$crd" >/dev/null 2>&1 || fail "CRD $crd deleted by uninstall (crds.keep)"
done
[[ -n "${KACME_CHART_E2E_SKIP_ISSUE:-}" ]] || kubectl -n "$ns" get certificaterequest chart >/dev/null ||
    fail "the CertificateRequest went with the release"
echo "ok: release objects removed, CRDs and their objects kept"
unown_crds
echo "(not managed by Helm, removed with the namespace: Secret $wh-ca, the account key, Lease kacme-controller)"

printf '\ne2e chart install: PASSED (%ds)\n' "$SECONDS"
