#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stops what hack/kacme-up.sh started (kacme-controller, kacme-webhook) and removes the
# ValidatingWebhookConfiguration, which would otherwise refuse every cert-manager.io write while the
# webhook is down (failurePolicy Fail). The CRDs and the local environment stay.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/local.sh
. "$root/hack/lib/local.sh"
kacme_config_load
kacme_stop kacme-controller
kacme_stop kacme-webhook
rm -f "$KACME_LOCAL_DIR/kacme-controller.args"
# no longer part of the environment that local-up checks for health
[[ -f "$KACME_LOCAL_DIR/pids/order" ]] && sed -i '/^kacme-controller$/d; /^kacme-webhook$/d' "$KACME_LOCAL_DIR/pids/order"
if [[ -f "$KACME_LOCAL_DIR/env.sh" ]]; then
    # shellcheck disable=SC1091
    . "$KACME_LOCAL_DIR/env.sh"
    kubectl delete validatingwebhookconfiguration,mutatingwebhookconfiguration kacme-webhook --ignore-not-found \
        >/dev/null 2>&1 || true
fi
