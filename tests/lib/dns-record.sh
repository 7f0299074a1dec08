#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Mocks a DNS record for a test in the local environment's BIND9 (hack/lib/bind9.sh): an RFC 2136 update
# signed with the environment's TSIG key (nsupdate); an addition is checked to be served.
#
#   tests/lib/dns-record.sh add NAME TYPE VALUE [TTL]   add a record (TTL default 5 s); other records stay
#   tests/lib/dns-record.sh delete NAME [TYPE]          delete every record of NAME (of TYPE only, if given)
#
# TYPE: A, AAAA, CNAME or TXT (what the key may update). NAME must be inside the test zone
# ($KACME_DNS_ZONE, kacme.test.); a trailing dot is optional. Reads _local/env.sh unless KACME_DNS_SERVER
# and KACME_TSIG_KEY_FILE are already set.
#
# Mind the wildcard (RFC 4592): a record at x.kacme.test makes x.kacme.test exist, so names BELOW it
# (y.x.kacme.test) stop matching *.kacme.test and no longer resolve to the ingress stand-in; siblings are
# unaffected. Mock a fresh name that is a direct child of the zone, e.g. unreachable-$RANDOM.kacme.test, and
# add it before anything asks for it (a caching resolver would keep the wildcard's answer up to its TTL).
set -euo pipefail
usage() {
    echo "usage: $0 add NAME TYPE VALUE [TTL] | delete NAME [TYPE]" >&2
    exit 2
}
if [[ -z ${KACME_DNS_SERVER:-} || -z ${KACME_TSIG_KEY_FILE:-} ]]; then
    root=${KACME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
    env_sh=${KACME_LOCAL_DIR:-$root/_local}/env.sh
    [[ -f $env_sh ]] || { echo "dns-record: $env_sh missing: bring the local environment up" >&2; exit 1; }
    # shellcheck disable=SC1090
    . "$env_sh"
fi
[[ -n ${KACME_TSIG_KEY_FILE:-} && -n ${KACME_DNS_ZONE:-} ]] ||
    { echo "dns-record: no TSIG key in the environment (restart it: hack/local-down.sh && hack/local-up.sh)" >&2; exit 1; }

op=${1:-}
name=${2:-}
[[ -n $op && -n $name ]] || usage
name=${name%.}.
zone=${KACME_DNS_ZONE%.}.
shopt -s nocasematch
[[ $name == *".$zone" ]] ||
    { echo "dns-record: $name is not inside the test zone $zone (only its records can be changed)" >&2; exit 1; }
shopt -u nocasematch
host=${KACME_DNS_SERVER%:*}
port=${KACME_DNS_SERVER##*:}

case $op in
add)
    [[ $# -ge 4 && $# -le 5 ]] || usage
    type=${3^^} value=$4 ttl=${5:-5}
    [[ $type == TXT && $value != \"* ]] && value="\"$value\""
    line="update add $name $ttl $type $value"
    ;;
delete)
    [[ $# -ge 2 && $# -le 3 ]] || usage
    type=${3:-}
    type=${type^^}
    line="update delete $name${type:+ $type}"
    ;;
*) usage ;;
esac
case ${type:-ANY} in A | AAAA | CNAME | TXT | ANY) ;; *) echo "dns-record: type $type cannot be updated" >&2; exit 1 ;; esac

out=$(nsupdate -k "$KACME_TSIG_KEY_FILE" -t 5 2>&1 <<EOF
server $host $port
zone $zone
$line
send
EOF
) || { echo "dns-record: nsupdate '$line' failed: $out" >&2; exit 1; }

# BIND applies an update before it answers it: after NOERROR, an added record is served. Check that much
# for an addition (a deletion cannot be told apart from the wildcard's answer that takes its place).
if [[ $op == add ]]; then
    got=$(dig +short +norec +time=2 +tries=2 -p "$port" "@$host" "$name" "$type")
    grep -qF -- "${value//\"/}" <<<"${got//\"/}" ||
        { echo "dns-record: BIND answers '$got' for $name $type after '$line'" >&2; exit 1; }
fi
