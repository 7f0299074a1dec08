#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs kacme into the running local environment (hack/local-up.sh) as local processes with the admin
# kubeconfig — the Helm chart runs the same binaries as pods instead:
#   - the CRDs (crds/), waiting until they are established;
#   - kacme-webhook in dynamic-serving mode (its CA in Secret kacme/kacme-webhook-ca) and the Validating- and
#     MutatingWebhookConfiguration "kacme-webhook" pointing at it, caBundle kept in sync by the webhook;
#   - kacme-controller.
# Idempotent: re-running restarts both with the current build. hack/local-down.sh stops them.
#
# Environment: KACME_BUILD_DIR (default build), KACME_CONTROLLER_ARGS (extra controller flags),
# KACME_WEBHOOK_PORT (10443), KACME_WEBHOOK_HEALTHZ_PORT (16080), KACME_CONTROLLER_METRICS_PORT (19402),
# KACME_CONTROLLER_HEALTHZ_PORT (19403), KACME_WEBHOOK_METRICS_PORT (19404).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=lib/local.sh
. hack/lib/local.sh
kacme_config_load
# shellcheck disable=SC1091
. "$KACME_LOCAL_DIR/env.sh"
build=${KACME_BUILD_DIR:-$root/build}
webhook_port=${KACME_WEBHOOK_PORT:-10443}
webhook_healthz=${KACME_WEBHOOK_HEALTHZ_PORT:-16080}
metrics_port=${KACME_CONTROLLER_METRICS_PORT:-19402}
healthz_port=${KACME_CONTROLLER_HEALTHZ_PORT:-19403}
webhook_metrics=${KACME_WEBHOOK_METRICS_PORT:-19404}
say() { printf 'kacme-up: %s\n' "$*" >&2; }
for b in kacme-webhook kacme-controller kacme-acmesolver; do
    [[ -x "$build/bin/$b" ]] || { say "missing $build/bin/$b: build first (cmake --build build)"; exit 1; }
done

# The identity the controller runs as here: the admin client certificate's CN.
admin_user=$(openssl x509 -in "$KACME_ADMIN_CERT_FILE" -noout -subject -nameopt multiline |
    sed -n 's/^ *commonName *= *//p')

say "applying the CRDs"
kubectl apply -f crds/ >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
kubectl create namespace kacme --dry-run=client -o yaml | kubectl apply -f - >/dev/null

say "starting kacme-webhook (dynamic serving CA, https://127.0.0.1:$webhook_port/validate)"
kacme_stop kacme-webhook
# The configuration exists first so the webhook can keep its caBundle in sync; until the CA is published
# the API server cannot call it, so this script waits for /readyz before anything else is written.
kubectl apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: kacme-webhook
webhooks:
  - name: webhook.cert-manager.io
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: Fail
    matchPolicy: Equivalent
    timeoutSeconds: 30
    namespaceSelector:
      matchExpressions:
        - {key: cert-manager.io/disable-validation, operator: NotIn, values: ["true"]}
    rules:
      - apiGroups: ["cert-manager.io", "acme.cert-manager.io"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["*/*"]
    clientConfig:
      url: https://127.0.0.1:$webhook_port/validate
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: kacme-webhook
webhooks:
  - name: webhook.cert-manager.io
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: Fail
    matchPolicy: Equivalent
    reinvocationPolicy: Never
    timeoutSeconds: 30
    namespaceSelector:
      matchExpressions:
        - {key: cert-manager.io/disable-validation, operator: NotIn, values: ["true"]}
    rules:
      - apiGroups: ["cert-manager.io"]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["certificaterequests"]
    clientConfig:
      url: https://127.0.0.1:$webhook_port/mutate
YAML
kacme_start kacme-webhook "$build/bin/kacme-webhook" --kubeconfig="$KUBECONFIG" --bind-address=127.0.0.1 \
    --secure-port="$webhook_port" --healthz-port="$webhook_healthz" --metrics-listen-address="127.0.0.1:$webhook_metrics" \
    --dynamic-serving-ca-secret-namespace=kacme --dynamic-serving-ca-secret-name=kacme-webhook-ca \
    --dynamic-serving-dns-names=127.0.0.1,localhost --webhook-configuration-name=kacme-webhook \
    --challenge-creators="$admin_user,system:serviceaccount:kacme:kacme-controller"
kacme_wait kacme-webhook 30 "webhook /readyz" curl -fsS "http://127.0.0.1:$webhook_healthz/readyz"

say "starting kacme-controller"
kacme_stop kacme-controller
# Every check resolves through the environment's BIND9, the one DNS server of the test zone (the
# HTTP-01 self-check; the DNS-01 zone lookup and propagation check, when the build has DNS-01).
dns_args=("--acme-http01-solver-nameservers=$KACME_DNS_SERVER")
if "$build/bin/kacme-controller" --help 2>&1 | grep -q -- --dns01-recursive-nameservers-only; then
    dns_args+=("--dns01-recursive-nameservers=$KACME_DNS_SERVER" --dns01-recursive-nameservers-only)
fi
# shellcheck disable=SC2086
kacme_start kacme-controller "$build/bin/kacme-controller" --kubeconfig="$KUBECONFIG" \
    --cluster-resource-namespace=kacme --leader-election-namespace=kube-system \
    --acme-http01-solver-image="ghcr.io/kacme/acmesolver:$("$build/bin/kacme-controller" --version | awk '{print $2}')" \
    "${dns_args[@]}" \
    --metrics-listen-address="127.0.0.1:$metrics_port" --internal-healthz-listen-address="127.0.0.1:$healthz_port" \
    ${KACME_CONTROLLER_ARGS:-}
kacme_wait kacme-controller 60 "controller /readyz" curl -fsS "http://127.0.0.1:$healthz_port/readyz"
say "kacme is running (logs: $KACME_LOCAL_DIR/logs/kacme-webhook.log, kacme-controller.log)"
