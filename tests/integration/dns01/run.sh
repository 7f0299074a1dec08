#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs the dns01 integration test binary against the local environment's BIND9 (hack/lib/bind9.sh).
set -eu
root=${KACME_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
env_sh=${KACME_LOCAL_DIR:-$root/_local}/env.sh
if [ ! -f "$env_sh" ]; then
    echo "dns01 run.sh: $env_sh missing: bring the local environment up (hack/local-up.sh)" >&2
    exit 1
fi
# shellcheck disable=SC1090
. "$env_sh"
if [ -z "${KACME_TSIG_SECRET:-}" ]; then
    echo "dns01 run.sh: no TSIG key in $env_sh: the environment predates BIND9" \
        "(hack/local-down.sh && hack/local-up.sh)" >&2
    exit 1
fi
exec "$@"
