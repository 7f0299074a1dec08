#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs one kube client integration test binary against the local environment (hack/local-up.sh).
set -eu
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
env_sh=${KACME_LOCAL_DIR:-$root/_local}/env.sh
if [ ! -f "$env_sh" ]; then
    echo "rest_it_run: $env_sh missing: bring the local environment up (hack/local-up.sh)" >&2
    exit 1
fi
# shellcheck disable=SC1090
. "$env_sh"
# etcd's client port (for compaction in the relist tests)
cfg=${KACME_LOCAL_DIR:-$root/_local}/config.env
if [ -z "${KACME_ETCD_PORT:-}" ] && [ -f "$cfg" ]; then
    KACME_ETCD_PORT=$(sed -n 's/^KACME_ETCD_PORT=//p' "$cfg")
    export KACME_ETCD_PORT
fi
exec "$@"
