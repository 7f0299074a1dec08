# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Hook of hack/local-up.sh (sourced, with hack/lib/local.sh's functions and local-up's variables): BIND9 as
# the authoritative DNS server of the test zone $KACME_DNS_ZONE (default kacme.test.), accepting RFC 2136
# updates of TXT records signed with a TSIG key (HMAC-SHA256), for DNS-01.
#
# - One foreground `named -g` (a local process like the others: hack/local-down.sh stops it), all state in
#   $KACME_LOCAL_DIR/bind9/, listening on 127.0.0.1 and $KACME_HOST_IP (pods reach it) on $KACME_BIND_PORT
#   (default 8153, UDP and TCP). No recursion, no rndc, no DNSSEC.
# - The zone: SOA, NS ns1.<zone> (A $KACME_HOST_IP), the apex and a wildcard A record pointing at the ingress
#   stand-in (so HTTP-01 names under the zone resolve here too). Rewritten at every start (the journal of
#   earlier updates is dropped); the TSIG secret is kept across restarts.
# - A root zone "." with a wildcard A record to the ingress stand-in as well, so that every other name
#   resolves the way pebble-challtestsrv answers it (A -> the ingress, no AAAA): BIND can serve Pebble and
#   the HTTP-01 self-check too (KACME_PEBBLE_DNS_SERVER / --acme-http01-solver-nameservers pointing here).
#   The root zone takes no updates: a record added there would hide the wildcard from its siblings (RFC 4592
#   closest-encloser rules), unlike challtestsrv's add-a / set-txt mocks.
#   As long as local-up starts Pebble before the hooks, HTTP-01 and Pebble keep resolving through
#   pebble-challtestsrv (KACME_DNS_SERVER); this server is for DNS-01 (the controller's
#   --dns01-recursive-nameservers and the rfc2136 solver's nameserver).
#
# env.sh gains KACME_DNS_ZONE, KACME_TSIG_KEY_NAME, KACME_TSIG_ALGORITHM (the rfc2136 tsigAlgorithm spelling),
# KACME_TSIG_SECRET (base64) and KACME_BIND_SERVER (host:port, reachable from pods and the host).

kacme_bind9_up() {
    local dir=$KACME_LOCAL_DIR/bind9 port=${KACME_BIND_PORT:-8153} zone=${KACME_DNS_ZONE:-kacme.test.}
    local key=kacme-key. ingress=${KACME_INGRESS_ADDR:-$KACME_HOST_IP} secret named
    zone=${zone%.}.
    named=$(command -v named || echo /usr/sbin/named)
    [[ -x "$named" ]] || { kacme_log "bind9: 'named' missing: run hack/install-deps.sh"; return 1; }
    mkdir -p "$dir"
    if ! kacme_pid_alive "$(kacme_pidfile bind9)"; then
        if ! kacme_port_free "$port" || [[ -n "$(ss -Hlun "sport = :$port" 2>/dev/null)" ]]; then
            kacme_log "bind9: port $port is already in use (set KACME_BIND_PORT)"
            return 1
        fi
        if [[ ! -s "$dir/tsig.secret" ]]; then
            (umask 077 && openssl rand -base64 32 >"$dir/tsig.secret")
        fi
        secret=$(cat "$dir/tsig.secret")
        rm -f "$dir"/*.jnl "$dir"/named.pid
        cat >"$dir/zone.db" <<EOF
\$TTL 60
@        IN SOA ns1.$zone hostmaster.$zone 1 60 60 3600 60
@        IN NS  ns1.$zone
ns1      IN A   $KACME_HOST_IP
@        IN A   $ingress
*        IN A   $ingress
EOF
        cat >"$dir/root.db" <<EOF
\$TTL 60
@        IN SOA ns1.$zone hostmaster.$zone 1 60 60 3600 60
@        IN NS  ns1.$zone
*        IN A   $ingress
EOF
        (umask 077 && cat >"$dir/named.conf" <<EOF
// Written by hack/local-up.d/50-bind9.sh
options {
    directory "$dir";
    pid-file "$dir/named.pid";
    session-keyfile "$dir/session.key";
    managed-keys-directory "$dir";
    listen-on port $port { 127.0.0.1; $KACME_HOST_IP; };
    listen-on-v6 { none; };
    recursion no;
    allow-query { any; };
    dnssec-validation no;
    notify no;
    minimal-responses no;
};
controls { };
key "$key" {
    algorithm hmac-sha256;
    secret "$secret";
};
zone "$zone" {
    type primary;
    file "$dir/zone.db";
    journal "$dir/zone.db.jnl";
    update-policy { grant $key zonesub TXT; };
};
zone "." {
    type primary;
    file "$dir/root.db";
};
EOF
        )
        kacme_log "starting bind9 (DNS $KACME_HOST_IP:$port and 127.0.0.1:$port, zone $zone, TSIG key $key)"
        kacme_start bind9 "$named" -g -c "$dir/named.conf" -n 1
        kacme_wait bind9 10 "the SOA of $zone on 127.0.0.1:$port" \
            bash -c "dig +short +time=1 +tries=1 -p $port @127.0.0.1 $zone SOA | grep -q ."
    fi
    secret=$(cat "$dir/tsig.secret")
    KACME_ENV_EXTRA+="# DNS-01 (BIND9, authoritative for the test zone, RFC 2136 updates with the TSIG key below)
export KACME_DNS_ZONE=$zone
export KACME_BIND_SERVER=$KACME_HOST_IP:$port
export KACME_TSIG_KEY_NAME=$key
export KACME_TSIG_ALGORITHM=HMACSHA256
export KACME_TSIG_SECRET=$secret
"
}
kacme_bind9_up || kacme_fail bind9 "could not start BIND9"
