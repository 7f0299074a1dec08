# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# BIND9, the one DNS server of the local environment (sourced by hack/local-up.sh, after hack/lib/local.sh).
#
# - One foreground `named -g` (a local process like the others: hack/local-down.sh stops it), all state in
#   $KACME_LOCAL_DIR/bind9/, listening on 127.0.0.1 and $KACME_HOST_IP (pods reach it) on $KACME_DNS_PORT
#   (UDP and TCP). Authoritative only: no recursion, no rndc, no DNSSEC.
# - The test zone $KACME_DNS_ZONE (kacme.test.): SOA, NS ns1.<zone> (A $KACME_HOST_IP), and the apex and a
#   wildcard A record pointing at the ingress stand-in, so HTTP-01 names in the zone resolve to it. The TSIG
#   key kacme-key. (HMAC-SHA256) may add and delete TXT (DNS-01, RFC 2136), A, AAAA and CNAME records
#   anywhere in the zone (zonesub): tests mock records with it (tests/lib/dns-record.sh). Rewritten at every
#   start (the journal of earlier updates is dropped); the TSIG secret is kept across restarts.
# - A root zone "." with a wildcard A record to the ingress stand-in, so every name outside the test zone
#   resolves there too (A only, no AAAA). It takes no updates: a record added there would hide the wildcard
#   from its siblings' descendants (RFC 4592 closest-encloser rules).
# - TTLs and the negative-caching TTL are a few seconds, so a client that caches sees a mocked record soon.
#
# Pebble (-dnsserver), the HTTP-01 self-check (--acme-http01-solver-nameservers) and the DNS-01 check
# (--dns01-recursive-nameservers) all ask this server: KACME_DNS_SERVER in env.sh.

kacme_bind9_dir() { echo "$KACME_LOCAL_DIR/bind9"; }
kacme_tsig_key_name=kacme-key.

# kacme_bind9_configure: writes the zone files, the TSIG key (new secret only when there is none yet) and
# named.conf into $KACME_LOCAL_DIR/bind9/.
kacme_bind9_configure() {
    local dir zone=$KACME_DNS_ZONE ingress=$KACME_HOST_IP key=$kacme_tsig_key_name secret
    dir=$(kacme_bind9_dir)
    mkdir -p "$dir"
    if [[ ! -s "$dir/tsig.secret" ]]; then
        (umask 077 && openssl rand -base64 32 >"$dir/tsig.secret")
    fi
    secret=$(cat "$dir/tsig.secret")
    rm -f "$dir"/*.jnl "$dir"/named.pid
    # the key in named.conf syntax: included by named.conf, and what `nsupdate -k` reads
    (umask 077 && printf 'key "%s" {\n    algorithm hmac-sha256;\n    secret "%s";\n};\n' "$key" "$secret" \
        >"$dir/tsig.key")
    cat >"$dir/zone.db" <<EOF
\$TTL 5
@        IN SOA ns1.$zone hostmaster.$zone 1 60 60 3600 5
@        IN NS  ns1.$zone
ns1      IN A   $KACME_HOST_IP
@        IN A   $ingress
*        IN A   $ingress
EOF
    cat >"$dir/root.db" <<EOF
\$TTL 5
@        IN SOA ns1.$zone hostmaster.$zone 1 60 60 3600 5
@        IN NS  ns1.$zone
*        IN A   $ingress
EOF
    cat >"$dir/named.conf" <<EOF
// Written by hack/local-up.sh (hack/lib/bind9.sh): the local environment's DNS server.
options {
    directory "$dir";
    pid-file "$dir/named.pid";
    session-keyfile "$dir/session.key";
    managed-keys-directory "$dir";
    listen-on port $KACME_DNS_PORT { 127.0.0.1; $KACME_HOST_IP; };
    listen-on-v6 { none; };
    recursion no;
    allow-query { any; };
    dnssec-validation no;
    notify no;
    minimal-responses no;
};
controls { };
include "$dir/tsig.key";
zone "$zone" {
    type primary;
    file "$dir/zone.db";
    journal "$dir/zone.db.jnl";
    update-policy { grant $key zonesub TXT A AAAA CNAME; };
};
zone "." {
    type primary;
    file "$dir/root.db";
};
EOF
}

# kacme_bind9_answers: the server answers the SOA query of the test zone (authoritatively).
kacme_bind9_answers() {
    dig +norec +time=1 +tries=1 -p "$KACME_DNS_PORT" @127.0.0.1 "$KACME_DNS_ZONE" SOA | grep -q 'flags:.* aa'
}

# kacme_bind9_start: configures and starts named, waits until it serves the zone.
kacme_bind9_start() {
    local dir named
    dir=$(kacme_bind9_dir)
    named=$(command -v named || echo /usr/sbin/named)
    [[ -x "$named" ]] || { kacme_log "'named' missing: run hack/install-deps.sh"; exit 1; }
    kacme_bind9_configure
    kacme_log "starting bind9 (DNS $KACME_HOST_IP:$KACME_DNS_PORT and 127.0.0.1:$KACME_DNS_PORT, zone" \
        "$KACME_DNS_ZONE with TSIG key $kacme_tsig_key_name, every other name -> $KACME_HOST_IP)"
    kacme_start bind9 "$named" -g -c "$dir/named.conf" -n 1
    kacme_wait bind9 10 "the SOA of $KACME_DNS_ZONE on 127.0.0.1:$KACME_DNS_PORT" kacme_bind9_answers
}

# kacme_bind9_env: the lines of env.sh describing the DNS server.
kacme_bind9_env() {
    local dir
    dir=$(kacme_bind9_dir)
    cat <<EOF
# DNS (BIND9): authoritative for the test zone, where the TSIG key below may add/delete TXT, A, AAAA and
# CNAME records (RFC 2136; tests/lib/dns-record.sh); every name in the zone without a record of its own and
# every name outside it resolves to the ingress stand-in. Pebble and the controllers resolve through it.
export KACME_DNS_SERVER=$KACME_HOST_IP:$KACME_DNS_PORT
export KACME_BIND_SERVER=$KACME_HOST_IP:$KACME_DNS_PORT
export KACME_DNS_ZONE=$KACME_DNS_ZONE
export KACME_TSIG_KEY_NAME=$kacme_tsig_key_name
export KACME_TSIG_ALGORITHM=HMACSHA256
export KACME_TSIG_SECRET=$(cat "$dir/tsig.secret")
export KACME_TSIG_KEY_FILE=$(printf %q "$dir/tsig.key")
EOF
}
