#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# e2e for the Helm chart without installing it (fixture kacme_env: the local API server):
#  - `helm lint --strict` with the default and the non-default values (values-nondefault.yaml);
#  - values.schema.json rejects wrong types, out-of-range values and unknown keys (top level and nested);
#  - `helm template` with default and non-default values, each applied with `kubectl apply --dry-run=server`;
#  - the rendered objects: CRDs equal crds/ (apart from labels/annotations) with the keep policy when
#    crds.keep, none when crds.enabled=false; least-privilege RBAC (no wildcards, the controller never lists
#    or watches Secrets, the webhook's Secret and ValidatingWebhookConfiguration access by resourceNames);
#    the Validating- and MutatingWebhookConfiguration per behaviour reference §2.5; hardened pods with probes and named
#    ports; non-default values reach the args; the ServiceMonitor renders when enabled;
#  - an admin's cert-manager values file (values-cert-manager.yaml) is accepted: the cert-manager keys kacme
#    maps reach the manifests, `helm install --dry-run` NOTES lists the ignored ones that were set, and typos
#    and wrong types of these keys are still rejected.
set -euo pipefail
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
L=${KACME_LOCAL_DIR:-$root/_local}
# shellcheck disable=SC1091
. "$L/env.sh"
chart=$root/charts/kacme
nondefault=$root/tests/e2e/chart/values-nondefault.yaml
cmvalues=$root/tests/e2e/chart/values-cert-manager.yaml
command -v helm >/dev/null || { echo "helm not found (hack/k8s-tools.sh builds it)" >&2; exit 1; }

id=$$
ns=kacme-e2e-chart-render-$id
tmp=$(mktemp -d)
step() { printf '\n--- e2e chart render: %s\n' "$*"; }
cleanup() {
    kubectl delete ns "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { printf '\ne2e chart render: FAILED: %s\n' "$*" >&2; exit 1; }
# check DESCRIPTION JQ-FILTER FILE: the filter (over the slurped objects) must yield true
check() {
    local what=$1 filter=$2 file=$3 out
    out=$(jq -s "$filter" "$file") || fail "jq failed on: $what"
    [[ "$out" == "true" ]] || fail "$what (got: $out)"
    echo "ok: $what"
}
# render NAME OUT [helm args...]: helm template into OUT.yaml and OUT.json (one JSON object per line)
render() {
    local out=$1
    shift
    helm template kacme "$chart" --namespace "$ns" "$@" >"$out.yaml" || fail "helm template $*"
    kubectl create --dry-run=client -o json -f "$out.yaml" >"$out.json" 2>"$tmp/err" ||
        fail "rendered YAML does not parse: $(cat "$tmp/err")"
}

step "helm lint --strict (default and non-default values)"
helm lint --strict "$chart" || fail "helm lint --strict (defaults)"
helm lint --strict "$chart" -f "$nondefault" || fail "helm lint --strict (non-default values)"

step "values.schema.json rejects wrong values"
reject() { # reject DESCRIPTION helm-args...: helm template must fail with a schema error
    local what=$1
    shift
    if helm template kacme "$chart" "$@" >/dev/null 2>"$tmp/err"; then
        fail "schema accepted $what ($*)"
    fi
    grep -qi "schema" "$tmp/err" || fail "$what rejected, but not by the schema: $(cat "$tmp/err")"
    echo "ok: rejected $what: $(grep -m1 -- "- at '" "$tmp/err" | sed 's/^- //')"
}
reject "a string replica count" --set controller.replicaCount=two
reject "a boolean as string list" --set-json 'controller.extraArgs=true'
reject "an unknown nested key" --set controller.replicas=2
reject "an unknown top-level key" --set replicaCont=2
reject "a typo in a cert-manager key" --set dns01RecursiveNameserver=8.8.8.8:53
reject "a non-boolean installCRDs" --set installCRDs=yes
reject "a string cert-manager replicaCount" --set replicaCount=three
reject "a list as featureGates" --set-json 'featureGates=["A=true"]'
reject "an unknown podDnsPolicy" --set podDnsPolicy=Cluster
reject "a typo inside podDnsConfig" --set-json 'podDnsConfig={"nameserver":["1.1.1.1"]}'
reject "a non-boolean webhook.hostNetwork" --set webhook.hostNetwork=yes
reject "a malformed global.leaderElection.leaseDuration" --set global.leaderElection.leaseDuration=60
reject "an unknown global.leaderElection key" --set global.leaderElection.namespaces=x
reject "webhook.timeoutSeconds above 30" --set webhook.timeoutSeconds=31
reject "an unknown log format" --set logFormat=xml
reject "a malformed digest" --set controller.image.digest=latest
reject "a non-boolean crds.keep" --set crds.keep=maybe
helm template kacme "$chart" --set controller.replicaCount=2 >/dev/null || fail "a valid value was rejected"

helm template kacme "$chart" -f "$cmvalues" >/dev/null || fail "the cert-manager values file was rejected"

step "kubectl apply --dry-run=server (default and non-default values)"
kubectl create ns "$ns" >/dev/null
render "$tmp/default"
kubectl apply --dry-run=server -f "$tmp/default.yaml" >"$tmp/apply.out" 2>&1 ||
    fail "dry-run apply of the default rendering: $(cat "$tmp/apply.out")"
echo "ok: defaults: $(wc -l <"$tmp/apply.out") objects accepted by the API server"
render "$tmp/nondefault" -f "$nondefault"
kubectl apply --dry-run=server -f "$tmp/nondefault.yaml" >"$tmp/apply.out" 2>&1 ||
    fail "dry-run apply of the non-default rendering: $(cat "$tmp/apply.out")"
echo "ok: non-default values: $(wc -l <"$tmp/apply.out") objects accepted by the API server"

step "CRDs"
d=$tmp/default.json
check "five CRDs with the keep policy" \
    '[.[] | select(.kind=="CustomResourceDefinition")] | length == 5 and
     all(.metadata.annotations["helm.sh/resource-policy"] == "keep")' "$d"
for f in "$root"/crds/*.yaml; do
    kubectl create --dry-run=client -o json -f "$f" >"$tmp/src.json"
    name=$(jq -r .metadata.name "$tmp/src.json")
    jq -s --arg n "$name" '[.[] | select(.kind=="CustomResourceDefinition" and .metadata.name==$n)][0]' "$d" \
        >"$tmp/chart-crd.json"
    jq -e -s '.[0].spec == .[1].spec and
        ((.[0].metadata.labels // {}) | to_entries | all(.value == $c[0].metadata.labels[.key]))' \
        --slurpfile c "$tmp/chart-crd.json" "$tmp/src.json" "$tmp/chart-crd.json" >/dev/null ||
        fail "CRD $name in the chart differs from crds/"
    echo "ok: CRD $name spec equals crds/$(basename "$f")"
done
check "no keep policy with crds.keep=false" \
    '[.[] | select(.kind=="CustomResourceDefinition")] | length == 5 and
     all(.metadata.annotations["helm.sh/resource-policy"] == null)' "$tmp/nondefault.json"
render "$tmp/nocrds" --set crds.enabled=false
check "no CRDs with crds.enabled=false" '[.[] | select(.kind=="CustomResourceDefinition")] | length == 0' \
    "$tmp/nocrds.json"

step "RBAC: least privilege"
check "no wildcard verbs, resources or API groups" \
    '[.[] | select(.kind=="ClusterRole" or .kind=="Role") | .rules[] |
      (.verbs + .resources + .apiGroups)[] | select(. == "*")] | length == 0' "$d"
check "the controller never lists or watches Secrets, and reads them only by get" \
    '[.[] | select((.kind=="ClusterRole" or .kind=="Role") and .metadata.name=="kacme-controller") | .rules[] |
      select(.resources | index("secrets"))] | length == 1 and
      (.[0].verbs | sort == ["create", "get", "update"])' "$d"
check "the controller's Lease access is in the leader-election namespace, by name for get/update" \
    '[.[] | select(.kind=="Role" and .metadata.name=="kacme-controller:leaderelection")][0] |
      .metadata.namespace == "'"$ns"'" and
      (.rules[] | select(.resourceNames) | .resourceNames == ["kacme-controller"])' "$d"
check "the webhook reads/updates only its own CA Secret (create cannot be limited by name)" \
    '[.[] | select(.kind=="Role" and .metadata.name=="kacme-webhook:dynamic-serving") | .rules[]] as $r |
      ($r | length == 2) and
      ($r[0] | .resources == ["secrets"] and .resourceNames == ["kacme-webhook-ca"] and .verbs == ["get","update"]) and
      ($r[1] | .resources == ["secrets"] and .verbs == ["create"])' "$d"
check "the webhook touches only its own Validating/MutatingWebhookConfiguration" \
    '[.[] | select(.kind=="ClusterRole" and .metadata.name=="kacme-webhook:webhook-configuration") | .rules[]] |
      length == 1 and .[0].resourceNames == ["kacme-webhook"] and
      .[0].resources == ["validatingwebhookconfigurations","mutatingwebhookconfigurations"] and
      (.[0].verbs | all(. == "get" or . == "update" or . == "patch"))' "$d"
check "nothing is granted on Secrets cluster-wide by name-less list/watch anywhere" \
    '[.[] | select(.kind=="ClusterRole" or .kind=="Role") | .rules[] | select(.resources | index("secrets")) |
      .verbs[] | select(. == "list" or . == "watch")] | length == 0' "$d"
check "the controller may approve CertificateRequests only for issuers/clusterissuers signers" \
    '[.[] | select(.kind=="ClusterRole" and .metadata.name=="kacme-controller") | .rules[] |
      select(.resources == ["signers"])][0] |
      .verbs == ["approve"] and .resourceNames == ["issuers.cert-manager.io/*","clusterissuers.cert-manager.io/*"]' "$d"
check "leader election in kube-system when set (non-default values)" \
    '[.[] | select(.kind=="Role" and .metadata.name=="kacme-alt-controller:leaderelection")][0].metadata.namespace
      == "kube-system"' "$tmp/nondefault.json"

step "ValidatingWebhookConfiguration (behaviour reference §2.5)"
check "one webhook, both groups, */*, CREATE+UPDATE, Fail, None, Equivalent, v1, 30 s, service /validate" \
    '[.[] | select(.kind=="ValidatingWebhookConfiguration")] | length == 1 and (.[0] |
      .metadata.name == "kacme-webhook" and (.webhooks | length == 1) and (.webhooks[0] |
      .rules == [{"apiGroups":["cert-manager.io","acme.cert-manager.io"],"apiVersions":["v1"],
                  "operations":["CREATE","UPDATE"],"resources":["*/*"]}] and
      .failurePolicy == "Fail" and .sideEffects == "None" and .matchPolicy == "Equivalent" and
      .admissionReviewVersions == ["v1"] and .timeoutSeconds == 30 and
      .namespaceSelector == {"matchExpressions":[{"key":"cert-manager.io/disable-validation",
                                                  "operator":"NotIn","values":["true"]}]} and
      .clientConfig.service == {"name":"kacme-webhook","namespace":"'"$ns"'","path":"/validate","port":443} and
      (.clientConfig.caBundle == null)))' "$d"
check "MutatingWebhookConfiguration: only CertificateRequest CREATE, service /mutate, same policies" \
    '[.[] | select(.kind=="MutatingWebhookConfiguration")] | length == 1 and (.[0] |
      .metadata.name == "kacme-webhook" and (.webhooks | length == 1) and (.webhooks[0] |
      .rules == [{"apiGroups":["cert-manager.io"],"apiVersions":["v1"],"operations":["CREATE"],
                  "resources":["certificaterequests"]}] and
      .failurePolicy == "Fail" and .sideEffects == "None" and .matchPolicy == "Equivalent" and
      .reinvocationPolicy == "Never" and .admissionReviewVersions == ["v1"] and .timeoutSeconds == 30 and
      .clientConfig.service == {"name":"kacme-webhook","namespace":"'"$ns"'","path":"/mutate","port":443} and
      (.clientConfig.caBundle == null)))' "$d"
check "webhook.timeoutSeconds and namespaceSelector from values" \
    '[.[] | select(.kind=="ValidatingWebhookConfiguration")][0].webhooks[0] | .timeoutSeconds == 10 and
      .namespaceSelector == {"matchLabels":{"example.com/kacme-validated":"yes"}}' "$tmp/nondefault.json"
check "the webhook Service maps 443 to the pod's https port" \
    '[.[] | select(.kind=="Service" and .metadata.name=="kacme-webhook")][0].spec.ports ==
      [{"name":"https","port":443,"protocol":"TCP","targetPort":"https"}]' "$d"

step "Deployments"
check "hardened pods: non-root, RuntimeDefault seccomp, read-only root FS, no escalation, no capabilities" \
    '[.[] | select(.kind=="Deployment")] | length == 2 and all(.spec.template.spec |
      .securityContext.runAsNonRoot == true and .securityContext.seccompProfile.type == "RuntimeDefault" and
      .enableServiceLinks == false and
      (.containers[0].securityContext | .readOnlyRootFilesystem == true and
        .allowPrivilegeEscalation == false and .capabilities.drop == ["ALL"]))' "$d"
check "controller: named metrics/healthz ports, probes on http-healthz, default args" \
    '[.[] | select(.kind=="Deployment" and .metadata.name=="kacme-controller")][0].spec.template.spec |
      .serviceAccountName == "kacme-controller" and (.containers[0] |
      .image == "ghcr.io/kacme/controller:0.1.0" and
      (.ports | map(.name) == ["http-metrics","http-healthz"]) and
      .livenessProbe.httpGet == {"path":"/livez","port":"http-healthz","scheme":"HTTP"} and
      .readinessProbe.httpGet == {"path":"/readyz","port":"http-healthz","scheme":"HTTP"} and
      (.args | index("--max-concurrent-challenges=60") and index("--cluster-resource-namespace='"$ns"'") and
        index("--leader-election-namespace='"$ns"'") and
        index("--acme-http01-solver-image=ghcr.io/kacme/acmesolver:0.1.0")))' "$d"
check "webhook: dynamic serving for the Service names, its VWC, the controller SA may create Challenges" \
    '[.[] | select(.kind=="Deployment" and .metadata.name=="kacme-webhook")][0].spec.template.spec.containers[0] |
      .image == "ghcr.io/kacme/webhook:0.1.0" and
      .livenessProbe.httpGet.path == "/livez" and .readinessProbe.httpGet.path == "/readyz" and
      (.ports | map(.name) == ["https","healthcheck","http-metrics"]) and
      (.args | index("--secure-port=10250") and index("--dynamic-serving-ca-secret-name=kacme-webhook-ca") and
        index("--dynamic-serving-dns-names=kacme-webhook,kacme-webhook.$(POD_NAMESPACE),kacme-webhook.$(POD_NAMESPACE).svc") and
        index("--webhook-configuration-name=kacme-webhook") and index("--metrics-listen-address=0.0.0.0:9402") and
        index("--challenge-creators=system:serviceaccount:'"$ns"':kacme-controller"))' "$d"
check "non-default values reach the controller (digest, args, probes, ports, SA)" \
    '[.[] | select(.kind=="Deployment" and .metadata.name=="kacme-alt-controller")][0].spec |
      .replicas == 2 and (.template.spec | .serviceAccountName == "kacme-alt-ctrl" and (.containers[0] |
      .image == "registry.example.com/kacme/controller@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" and
      .livenessProbe == null and .readinessProbe.periodSeconds == 3 and
      (.args | index("--max-concurrent-challenges=17") and index("--v=4") and index("--logging-format=json") and
        index("--acme-http01-solver-nameservers=10.0.0.10:53") and index("--metrics-listen-address=0.0.0.0:19402") and
        index("--acme-http01-solver-image=registry.example.com/kacme/acmesolver:v0.1.0-rc1"))))' \
    "$tmp/nondefault.json"
check "PodDisruptionBudgets from values" \
    '[.[] | select(.kind=="PodDisruptionBudget")] | length == 2 and
      (map({(.metadata.name): .spec}) | add | .["kacme-alt-controller"].minAvailable == 1 and
        .["kacme-alt-webhook"].maxUnavailable == "50%")' "$tmp/nondefault.json"
check "no PodDisruptionBudget and no ServiceMonitor by default" \
    '[.[] | select(.kind=="PodDisruptionBudget" or .kind=="ServiceMonitor")] | length == 0' "$d"

step "cert-manager values (values-cert-manager.yaml)"
helm lint --strict "$chart" -f "$cmvalues" || fail "helm lint --strict (cert-manager values)"
render "$tmp/cm" -f "$cmvalues"
kubectl apply --dry-run=server -f "$tmp/cm.yaml" >"$tmp/apply.out" 2>&1 ||
    fail "dry-run apply of the cert-manager-values rendering: $(cat "$tmp/apply.out")"
echo "ok: cert-manager values: $(wc -l <"$tmp/apply.out") objects accepted by the API server"
cm=$tmp/cm.json
check "controller: replicaCount, maxConcurrentChallenges, featureGates, dns01*, global.leaderElection, extraArgs" \
    '[.[] | select(.kind=="Deployment" and .metadata.name=="kacme-controller")][0].spec |
      .replicas == 3 and (.template.spec.containers[0].args as $a |
        ($a | index("--max-concurrent-challenges=25")) and ($a | index("--max-concurrent-challenges=60") | not) and
        ($a | index("--feature-gates=ACMEHTTP01IngressPathTypeExact=false")) and
        ($a | index("--dns01-recursive-nameservers=10.0.0.53:53,10.0.1.53:53")) and
        ($a | index("--dns01-recursive-nameservers-only=true")) and
        ($a | index("--leader-election-namespace=kube-system")) and
        ($a | index("--leader-election-lease-duration=90s")) and
        ($a[-2:] == ["--concurrent-workers=7", "--kube-api-qps=30"]))' "$cm"
check "controller pod: podDnsPolicy and podDnsConfig" \
    '[.[] | select(.kind=="Deployment" and .metadata.name=="kacme-controller")][0].spec.template.spec |
      .dnsPolicy == "None" and .dnsConfig == {"nameservers":["1.1.1.1"],"options":[{"name":"ndots","value":"2"}]}' "$cm"
check "webhook pod: hostNetwork with dnsPolicy ClusterFirstWithHostNet" \
    '[.[] | select(.kind=="Deployment" and .metadata.name=="kacme-webhook")][0].spec.template.spec |
      .hostNetwork == true and .dnsPolicy == "ClusterFirstWithHostNet" and
      (.containers[0].args | index("--secure-port=10260"))' "$cm"
check "prometheus.enabled=false: metrics listeners off, no metrics ports, Service or ServiceMonitor" \
    '([.[] | select(.kind=="Deployment") | .spec.template.spec.containers[0] |
        (.args | index("--metrics-listen-address=0")) and (.ports | map(.name) | index("http-metrics") | not)] ==
        [true, true]) and
      ([.[] | select(.kind=="ServiceMonitor" or (.kind=="Service" and .metadata.name=="kacme-controller"))] ==
        [])' "$cm"
check "installCRDs=false (crds.enabled unset): no CRDs" \
    '[.[] | select(.kind=="CustomResourceDefinition")] | length == 0' "$cm"
check "the Lease Role follows global.leaderElection.namespace" \
    '[.[] | select(.kind=="Role" and .metadata.name=="kacme-controller:leaderelection")][0].metadata.namespace ==
      "kube-system"' "$cm"
crds_with() { # crds_with N helm-args...: the rendering has N CRDs
    local n=$1
    shift
    [[ "$(helm template kacme "$chart" "$@" | grep -c '^kind: CustomResourceDefinition$')" == "$n" ]] ||
        fail "expected $n CRDs with $*"
    echo "ok: $n CRDs with $*"
}
crds_with 5 --set installCRDs=true
crds_with 5 --set installCRDs=true --set crds.enabled=false
crds_with 5 --set installCRDs=false --set crds.enabled=true
crds_with 0 --set installCRDs=false --set crds.enabled=false
helm template kacme "$chart" --namespace "$ns" --set leaderElection.namespace=kacme-le \
    --set global.leaderElection.namespace=kube-system --set maxConcurrentChallenges=null >"$tmp/le.yaml" ||
    fail "helm template with both leader-election namespaces"
grep -q -- '--leader-election-namespace=kacme-le$' "$tmp/le.yaml" ||
    fail "leaderElection.namespace does not win over global.leaderElection.namespace"
grep -q -- '--max-concurrent-challenges=60$' "$tmp/le.yaml" || fail "controller.maxConcurrentChallenges not used"
echo "ok: leaderElection.namespace wins over global.leaderElection.namespace"
# NOTES is rendered by install, not template: a client-side dry run under a release name nothing else uses
helm install "kacme-cm-$id" "$chart" --namespace "$ns" -f "$cmvalues" --dry-run=client >"$tmp/notes.txt" 2>&1 ||
    fail "helm install --dry-run with the cert-manager values: $(cat "$tmp/notes.txt")"
grep -q '^Ignored cert-manager values .*: cainjector, startupapicheck, global.priorityClassName$' "$tmp/notes.txt" ||
    fail "NOTES does not list the ignored cert-manager values: $(sed -n '/^NOTES:/,$p' "$tmp/notes.txt")"
echo "ok: NOTES: $(grep '^Ignored cert-manager values' "$tmp/notes.txt")"
# (crds.enabled=false: install refuses to adopt the CRDs the environment already has)
helm install "kacme-cm-$id" "$chart" --namespace "$ns" --set crds.enabled=false --dry-run=client \
    >"$tmp/notes.txt" 2>&1 || fail "helm install --dry-run with the default values: $(cat "$tmp/notes.txt")"
! grep -q 'Ignored cert-manager values' "$tmp/notes.txt" || fail "NOTES lists ignored values with the defaults"
echo "ok: no ignored-values line with the defaults"

step "helm package: the packaged chart carries the CRDs"
helm package "$chart" -d "$tmp" >/dev/null || fail "helm package"
helm template kacme "$tmp/kacme-0.1.0.tgz" --namespace "$ns" >"$tmp/packaged.yaml" || fail "template of the package"
[[ "$(grep -c '^kind: CustomResourceDefinition$' "$tmp/packaged.yaml")" == 5 ]] || fail "the package lacks CRDs"
cmp -s <(grep -v '^# Source:' "$tmp/packaged.yaml") <(grep -v '^# Source:' "$tmp/default.yaml") ||
    fail "the packaged chart renders differently from the directory"
echo "ok: kacme-0.1.0.tgz renders the same objects (5 CRDs)"

step "ServiceMonitor (prometheus.servicemonitor.enabled)"
helm template kacme "$chart" --namespace "$ns" --set prometheus.servicemonitor.enabled=true \
    --show-only templates/servicemonitor.yaml >"$tmp/sm.yaml" || fail "ServiceMonitor does not render"
grep -q '^kind: ServiceMonitor$' "$tmp/sm.yaml" && grep -q 'port: http-metrics' "$tmp/sm.yaml" ||
    fail "ServiceMonitor: $(cat "$tmp/sm.yaml")"
echo "ok: ServiceMonitor scrapes port http-metrics"

printf '\ne2e chart render: PASSED\n'
