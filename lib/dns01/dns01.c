/* SPDX-License-Identifier: Apache-2.0 */
/* DNS-01: record names, CNAME following, zone discovery, RFC 2136 updates and the propagation check, all
 * DNS messages through ldns (see dns01.h). */
#include "dns01/dns01.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Reasons and errors are bounded texts for status.reason: cutting a long name short is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define DEFAULT_TIMEOUT_MS 5000u
#define EDNS_UDP_SIZE 4096
#define MAX_ANSWER (64 * 1024)
#define MAX_NS_ADDRS 4

/* ---- small helpers ---------------------------------------------------------------------------------- */

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Text form of a dname rdf, lower-cased, into out. Returns false when it does not fit. */
static bool dname_str(const ldns_rdf *rdf, char *out, size_t outlen)
{
    char *s = rdf ? ldns_rdf2str(rdf) : NULL;
    bool ok = s && strlen(s) < outlen;
    if (ok) {
        memcpy(out, s, strlen(s) + 1);
        lower(out);
    }
    free(s);
    return ok;
}

/* A name in canonical text form (lower case, trailing dot), validated by ldns. */
static int canon_name(const char *in, char *out, size_t outlen)
{
    ldns_rdf *r = ldns_dname_new_frm_str(in);
    if (!r)
        return -1;
    bool ok = dname_str(r, out, outlen);
    ldns_rdf_deep_free(r);
    return ok ? 0 : -1;
}

static bool rr_owner_is(const ldns_rr *rr, const char *name)
{
    char o[DNS01_MAX_NAME];
    return dname_str(ldns_rr_owner(rr), o, sizeof o) && strcasecmp(o, name) == 0;
}

static const char *rcode_name(int rc, char *buf, size_t len)
{
    ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, rc);
    if (t && t->name)
        return t->name;
    snprintf(buf, len, "RCODE%d", rc);
    return buf;
}

/* RFC 8945 §5.3.2 / IANA TSIG error codes carried in the TSIG RR of an error answer. */
static const char *tsig_error_name(unsigned e, char *buf, size_t len)
{
    switch (e) {
    case 16: return "BADSIG";
    case 17: return "BADKEY";
    case 18: return "BADTIME";
    case 19: return "BADMODE";
    case 20: return "BADNAME";
    case 21: return "BADALG";
    case 22: return "BADTRUNC";
    case 23: return "BADCOOKIE";
    default: snprintf(buf, len, "%u", e); return buf;
    }
}

static unsigned timeout_of(const dns01_client_t *c)
{
    return c && c->timeout_ms ? c->timeout_ms : DEFAULT_TIMEOUT_MS;
}

/* ---- nameserver addresses --------------------------------------------------------------------------- */

static int parse_port(const char *s, uint16_t *out)
{
    if (!*s || strlen(s) > 5)
        return -1;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int dns01_parse_server(const char *s, uint16_t default_port, dns01_server_t *out, char *err, size_t errlen)
{
    char buf[DNS01_MAX_NAME + 16];
    const char *host = NULL, *port = NULL;
    struct in6_addr a6;

    memset(out, 0, sizeof *out);
    if (!s || !*s || strlen(s) >= sizeof buf)
        goto bad;
    memcpy(buf, s, strlen(s) + 1);
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close)
            goto bad;
        *close = '\0';
        host = buf + 1;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            goto bad;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            goto bad;
    } else {
        char *colon = strchr(buf, ':');
        if (colon && strchr(colon + 1, ':')) { /* several colons: a bare IPv6 literal, no port */
            if (inet_pton(AF_INET6, buf, &a6) != 1)
                goto bad;
            host = buf;
        } else {
            if (colon) {
                *colon = '\0';
                port = colon + 1;
            }
            host = buf;
        }
    }
    if (!*host || strlen(host) >= sizeof out->host)
        goto bad;
    for (const char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-_:%", *p))
            goto bad;
    snprintf(out->host, sizeof out->host, "%s", host);
    out->port = default_port;
    if (port && parse_port(port, &out->port) != 0)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "invalid nameserver \"%.*s\": want host[:port] with IPv6 in brackets", 80,
             s ? s : "");
    return -1;
}

int dns01_parse_servers(const char *csv, uint16_t default_port, dns01_server_t *out, size_t max, size_t *n,
                        char *err, size_t errlen)
{
    *n = 0;
    if (!csv)
        return 0;
    const char *p = csv;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        if (len) {
            char item[DNS01_MAX_NAME + 16];
            if (len >= sizeof item) {
                snprintf(err, errlen, "nameserver entry too long");
                return -1;
            }
            if (*n >= max) {
                snprintf(err, errlen, "too many nameservers (at most %zu)", max);
                return -1;
            }
            memcpy(item, p, len);
            item[len] = '\0';
            if (dns01_parse_server(item, default_port, &out[*n], err, errlen) != 0)
                return -1;
            (*n)++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

void dns01_server_format(const dns01_server_t *s, char *out, size_t outlen)
{
    if (strchr(s->host, ':'))
        snprintf(out, outlen, "[%s]:%u", s->host, (unsigned)s->port);
    else
        snprintf(out, outlen, "%s:%u", s->host, (unsigned)s->port);
}

/* ---- names ------------------------------------------------------------------------------------------ */

int dns01_record_name(const char *dns_name, char *out, size_t outlen, char *err, size_t errlen)
{
    char buf[DNS01_MAX_NAME + 32];
    const char *n = dns_name ? dns_name : "";
    if (strncmp(n, "*.", 2) == 0)
        n += 2;
    size_t len = strlen(n);
    if (len && n[len - 1] == '.')
        len--;
    if (len == 0 || len > 253) {
        snprintf(err, errlen, "invalid DNS name for a DNS-01 record");
        return -1;
    }
    snprintf(buf, sizeof buf, "_acme-challenge.%.*s.", (int)len, n);
    if (canon_name(buf, out, outlen) != 0) {
        snprintf(err, errlen, "invalid DNS-01 record name for %.*s", 253, n);
        return -1;
    }
    return 0;
}

/* ---- TSIG ------------------------------------------------------------------------------------------- */

static const struct {
    const char *field;
    const char *dname;
} tsig_algs[] = {
    [DNS01_TSIG_HMACMD5] = {"HMACMD5", "hmac-md5.sig-alg.reg.int."},
    [DNS01_TSIG_HMACSHA1] = {"HMACSHA1", "hmac-sha1."},
    [DNS01_TSIG_HMACSHA256] = {"HMACSHA256", "hmac-sha256."},
    [DNS01_TSIG_HMACSHA512] = {"HMACSHA512", "hmac-sha512."},
};

int dns01_parse_tsig_algorithm(const char *s, dns01_tsig_alg_t *out)
{
    if (!s || !*s) {
        *out = DNS01_TSIG_HMACMD5;
        return 0;
    }
    for (size_t i = 0; i < sizeof tsig_algs / sizeof tsig_algs[0]; i++) {
        if (strcasecmp(s, tsig_algs[i].field) == 0) {
            *out = (dns01_tsig_alg_t)i;
            return 0;
        }
    }
    return -1;
}

const char *dns01_tsig_algorithm_dname(dns01_tsig_alg_t alg)
{
    if ((size_t)alg >= sizeof tsig_algs / sizeof tsig_algs[0])
        return tsig_algs[DNS01_TSIG_HMACMD5].dname;
    return tsig_algs[alg].dname;
}

/* Standard padded base64 (what ldns and BIND expect for a TSIG secret). Checked here because ldns leaks
 * when asked to sign with a secret it cannot decode. */
static bool valid_base64(const char *s)
{
    size_t len = strlen(s), pad = 0;
    if (len == 0 || len % 4 != 0 || len > 4096)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '=') {
            if (i < len - 2)
                return false;
            pad++;
        } else if (pad || !(isalnum((unsigned char)ch) || ch == '+' || ch == '/')) {
            return false;
        }
    }
    return true;
}

static bool tsig_wanted(const dns01_tsig_t *t)
{
    return t && t->key_name && *t->key_name && t->secret_b64 && *t->secret_b64;
}

/* ---- transport -------------------------------------------------------------------------------------- */

static int resolve_server(const dns01_server_t *srv, struct sockaddr_storage *ss, socklen_t *sl, char *err,
                          size_t errlen)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, srv->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(srv->port);
        *sl = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, srv->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(srv->port);
        *sl = sizeof *v6;
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(srv->host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s: %s", srv->host, rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    if (ss->ss_family == AF_INET)
        v4->sin_port = htons(srv->port);
    else
        v6->sin6_port = htons(srv->port);
    freeaddrinfo(res);
    return 0;
}

int dns01_net_exchange(void *ud, const dns01_server_t *srv, bool tcp, unsigned timeout_ms, const uint8_t *query,
                       size_t qlen, uint8_t **answer, size_t *alen, char *err, size_t errlen)
{
    (void)ud;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    char addr[DNS01_MAX_NAME + 16];

    *answer = NULL;
    *alen = 0;
    dns01_server_format(srv, addr, sizeof addr);
    if (resolve_server(srv, &ss, &sl, err, errlen) != 0)
        return -1;
    ldns_buffer *qb = ldns_buffer_new(qlen);
    if (!qb) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ldns_buffer_write(qb, query, qlen); /* ldns sends [begin, position): not flipped */
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (long)(timeout_ms % 1000) * 1000};
    uint8_t *res = NULL;
    size_t rs = 0;
    ldns_status st = tcp ? ldns_tcp_send(&res, qb, &ss, sl, tv, &rs) : ldns_udp_send(&res, qb, &ss, sl, tv, &rs);
    ldns_buffer_free(qb);
    if (st != LDNS_STATUS_OK || !res) {
        free(res);
        if (st == LDNS_STATUS_NETWORK_ERR)
            snprintf(err, errlen, "no answer from %s over %s within %u ms", addr, tcp ? "TCP" : "UDP", timeout_ms);
        else
            snprintf(err, errlen, "%s exchange with %s failed: %s", tcp ? "TCP" : "UDP", addr,
                     ldns_get_errorstr_by_id(st));
        return -1;
    }
    if (rs > MAX_ANSWER) {
        free(res);
        snprintf(err, errlen, "answer from %s too large", addr);
        return -1;
    }
    *answer = res;
    *alen = rs;
    return 0;
}

/* An answer that repeats a question must repeat ours (name case-insensitively, type and class). */
static bool same_question(const ldns_pkt *q, const ldns_pkt *a)
{
    const ldns_rr_list *aq = ldns_pkt_question(a), *qq = ldns_pkt_question(q);
    if (ldns_rr_list_rr_count(aq) == 0)
        return true; /* some error answers carry no question */
    if (ldns_rr_list_rr_count(aq) != 1 || ldns_rr_list_rr_count(qq) != 1)
        return false;
    const ldns_rr *x = ldns_rr_list_rr(qq, 0), *y = ldns_rr_list_rr(aq, 0);
    return ldns_rr_get_type(x) == ldns_rr_get_type(y) && ldns_rr_get_class(x) == ldns_rr_get_class(y) &&
           ldns_dname_compare(ldns_rr_owner(x), ldns_rr_owner(y)) == 0;
}

/* Sends q to srv and parses the answer: UDP (unless tcp), then TCP when the UDP answer is truncated. The
 * answer's ID must match. awire/alen (optional) receive the answer's bytes (for TSIG verification). */
static int exchange_pkt(const dns01_client_t *c, const dns01_server_t *srv, bool tcp, const ldns_pkt *q,
                        ldns_pkt **ans, uint8_t **awire, size_t *awlen, char *err, size_t errlen)
{
    dns01_exchange_fn ex = c && c->exchange ? c->exchange : dns01_net_exchange;
    void *ud = c ? c->ud : NULL;
    uint8_t *qw = NULL, *aw = NULL;
    size_t ql = 0, al = 0;
    ldns_pkt *a = NULL;
    char addr[DNS01_MAX_NAME + 16];
    int rc = -1;

    *ans = NULL;
    dns01_server_format(srv, addr, sizeof addr);
    if (ldns_pkt2wire(&qw, q, &ql) != LDNS_STATUS_OK) {
        snprintf(err, errlen, "cannot encode DNS query");
        goto out;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        bool use_tcp = tcp || attempt == 1;
        free(aw);
        aw = NULL;
        ldns_pkt_free(a);
        a = NULL;
        if (ex(ud, srv, use_tcp, timeout_of(c), qw, ql, &aw, &al, err, errlen) != 0)
            goto out;
        ldns_status st = ldns_wire2pkt(&a, aw, al);
        if (st != LDNS_STATUS_OK) {
            snprintf(err, errlen, "malformed answer from %s: %s", addr, ldns_get_errorstr_by_id(st));
            goto out;
        }
        if (ldns_pkt_id(a) != ldns_pkt_id(q) || !same_question(q, a)) {
            snprintf(err, errlen, "answer from %s does not match the query (ID or question)", addr);
            goto out;
        }
        if (!ldns_pkt_tc(a) || use_tcp)
            break;
    }
    if (ldns_pkt_tc(a)) {
        snprintf(err, errlen, "truncated answer from %s over TCP", addr);
        goto out;
    }
    *ans = a;
    a = NULL;
    if (awire) {
        *awire = aw;
        *awlen = al;
        aw = NULL;
    }
    rc = 0;
out:
    free(qw);
    free(aw);
    ldns_pkt_free(a);
    return rc;
}

int dns01_query(const dns01_client_t *c, const dns01_server_t *srv, bool tcp, const char *name, ldns_rr_type type,
                ldns_pkt **answer, char *err, size_t errlen)
{
    *answer = NULL;
    ldns_rdf *qname = ldns_dname_new_frm_str(name);
    if (!qname) {
        snprintf(err, errlen, "invalid name %.*s", 253, name);
        return -1;
    }
    ldns_pkt *q = ldns_pkt_query_new(qname, type, LDNS_RR_CLASS_IN, LDNS_RD); /* owns qname */
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ldns_pkt_set_random_id(q);
    ldns_pkt_set_edns_udp_size(q, EDNS_UDP_SIZE);
    int rc = exchange_pkt(c, srv, tcp, q, answer, NULL, NULL, err, errlen);
    ldns_pkt_free(q);
    return rc;
}

int dns01_query_any(const dns01_client_t *c, const dns01_server_t *servers, size_t n, const char *name,
                    ldns_rr_type type, ldns_pkt **answer, char *err, size_t errlen)
{
    *answer = NULL;
    if (n == 0) {
        snprintf(err, errlen, "no nameservers configured");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (dns01_query(c, &servers[i], false, name, type, answer, err, errlen) == 0)
            return 0;
    return -1; /* err holds the last server's error */
}

/* ---- CNAME and zone --------------------------------------------------------------------------------- */

/* The target of a CNAME for name in a's answer section, into out; false when there is none. */
static bool cname_target(const ldns_pkt *a, const char *name, char *out, size_t outlen)
{
    ldns_rr_list *an = ldns_pkt_answer(a);
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
        ldns_rr *rr = ldns_rr_list_rr(an, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && rr_owner_is(rr, name) && ldns_rr_rd_count(rr) == 1)
            return dname_str(ldns_rr_rdf(rr, 0), out, outlen);
    }
    return false;
}

int dns01_follow_cname(const dns01_client_t *c, const dns01_server_t *servers, size_t n, const char *fqdn, char *out,
                       size_t outlen, char *err, size_t errlen)
{
    char seen[DNS01_MAX_CNAME_HOPS + 1][DNS01_MAX_NAME];
    size_t nseen = 0;
    char cur[DNS01_MAX_NAME];

    if (canon_name(fqdn, cur, sizeof cur) != 0) {
        snprintf(err, errlen, "invalid name %.*s", 253, fqdn);
        return -1;
    }
    memcpy(seen[nseen++], cur, sizeof cur);
    for (;;) {
        ldns_pkt *a = NULL;
        char next[DNS01_MAX_NAME];
        if (dns01_query_any(c, servers, n, cur, LDNS_RR_TYPE_CNAME, &a, err, errlen) != 0)
            return -1;
        bool more = ldns_pkt_get_rcode(a) == LDNS_RCODE_NOERROR && cname_target(a, cur, next, sizeof next);
        ldns_pkt_free(a);
        if (!more)
            break;
        for (size_t i = 0; i < nseen; i++) {
            if (strcmp(seen[i], next) == 0) {
                snprintf(err, errlen, "CNAME loop: %.*s points back to %.*s", 253, cur, 253, next);
                return -1;
            }
        }
        if (nseen > DNS01_MAX_CNAME_HOPS) {
            snprintf(err, errlen, "CNAME chain from %.*s longer than %d", 253, fqdn, DNS01_MAX_CNAME_HOPS);
            return -1;
        }
        memcpy(seen[nseen++], next, sizeof next);
        memcpy(cur, next, sizeof cur);
    }
    if (strlen(cur) >= outlen) {
        snprintf(err, errlen, "name too long");
        return -1;
    }
    memcpy(out, cur, strlen(cur) + 1);
    return 0;
}

static bool answer_has_type(const ldns_pkt *a, ldns_rr_type t, const ldns_rr **found)
{
    ldns_rr_list *an = ldns_pkt_answer(a);
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
        if (ldns_rr_get_type(ldns_rr_list_rr(an, i)) == t) {
            if (found)
                *found = ldns_rr_list_rr(an, i);
            return true;
        }
    }
    return false;
}

int dns01_find_zone(const dns01_client_t *c, const dns01_server_t *servers, size_t n, const char *fqdn, char *zone,
                    size_t zonelen, char *err, size_t errlen)
{
    char name[DNS01_MAX_NAME];
    if (canon_name(fqdn, name, sizeof name) != 0) {
        snprintf(err, errlen, "invalid name %.*s", 253, fqdn);
        return -1;
    }
    for (const char *p = name; *p && strcmp(p, ".") != 0;) {
        ldns_pkt *a = NULL;
        const ldns_rr *soa = NULL;
        char rbuf[16];
        if (dns01_query_any(c, servers, n, p, LDNS_RR_TYPE_SOA, &a, err, errlen) != 0)
            return -1;
        ldns_pkt_rcode rc = ldns_pkt_get_rcode(a);
        if (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN) {
            snprintf(err, errlen, "unexpected rcode %s for SOA %.*s while finding the zone of %.*s",
                     rcode_name(rc, rbuf, sizeof rbuf), 253, p, 253, name);
            ldns_pkt_free(a);
            return -1;
        }
        if (rc == LDNS_RCODE_NOERROR && !answer_has_type(a, LDNS_RR_TYPE_CNAME, NULL) &&
            answer_has_type(a, LDNS_RR_TYPE_SOA, &soa)) {
            bool ok = dname_str(ldns_rr_owner(soa), zone, zonelen);
            ldns_pkt_free(a);
            if (!ok) {
                snprintf(err, errlen, "zone name too long");
                return -1;
            }
            return 0;
        }
        ldns_pkt_free(a);
        const char *dot = strchr(p, '.');
        if (!dot)
            break;
        p = dot + 1;
    }
    snprintf(err, errlen, "could not find the zone (SOA) of %.*s", 253, name);
    return -1;
}

/* ---- RFC 2136 --------------------------------------------------------------------------------------- */

ldns_pkt *dns01_build_update(const char *zone, const char *fqdn, const char *value, dns01_update_op_t op, char *err,
                             size_t errlen)
{
    ldns_rdf *zrdf = NULL, *owner = NULL;
    ldns_rr *rr = NULL;
    ldns_rr_list *up = NULL;
    ldns_pkt *p = NULL;
    size_t vlen = value ? strlen(value) : 0;

    if (vlen == 0 || vlen > DNS01_MAX_VALUE) {
        snprintf(err, errlen, "TXT value must be 1..%d bytes", DNS01_MAX_VALUE);
        goto out;
    }
    zrdf = ldns_dname_new_frm_str(zone);
    owner = ldns_dname_new_frm_str(fqdn);
    if (!zrdf || !owner) {
        snprintf(err, errlen, "invalid zone %.*s or record name %.*s", 253, zone, 253, fqdn);
        goto out;
    }
    if (ldns_dname_compare(zrdf, owner) != 0 && !ldns_dname_is_subdomain(owner, zrdf)) {
        snprintf(err, errlen, "record %.*s is not in zone %.*s", 253, fqdn, 253, zone);
        goto out;
    }
    rr = ldns_rr_new();
    if (!rr)
        goto oom;
    ldns_rr_set_owner(rr, owner);
    owner = NULL;
    ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
    ldns_rr_set_class(rr, op == DNS01_UPDATE_ADD ? LDNS_RR_CLASS_IN : LDNS_RR_CLASS_NONE);
    ldns_rr_set_ttl(rr, op == DNS01_UPDATE_ADD ? DNS01_TXT_TTL : 0);
    for (size_t off = 0; off < vlen; off += 255) {
        uint8_t chunk[256];
        size_t len = vlen - off > 255 ? 255 : vlen - off;
        chunk[0] = (uint8_t)len;
        memcpy(chunk + 1, value + off, len);
        ldns_rdf *s = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, len + 1, chunk);
        if (!s || !ldns_rr_push_rdf(rr, s)) {
            ldns_rdf_deep_free(s);
            goto oom;
        }
    }
    up = ldns_rr_list_new();
    if (!up || !ldns_rr_list_push_rr(up, rr))
        goto oom;
    rr = NULL; /* owned by up */
    p = ldns_update_pkt_new(zrdf, LDNS_RR_CLASS_IN, NULL, up, NULL);
    if (!p)
        goto oom;
    zrdf = NULL; /* owned by p */
    ldns_pkt_set_rd(p, false); /* RFC 2136 §2.2: the bits after the opcode are zero */
    ldns_pkt_set_random_id(p);
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    ldns_rdf_deep_free(zrdf);
    ldns_rdf_deep_free(owner);
    ldns_rr_free(rr);
    ldns_rr_list_deep_free(up);
    return p;
}

int dns01_update(const dns01_client_t *c, const dns01_server_t *srv, bool tcp, const dns01_tsig_t *tsig,
                 const char *zone, const char *fqdn, const char *value, dns01_update_op_t op, char *err,
                 size_t errlen)
{
    ldns_pkt *q = NULL, *a = NULL;
    uint8_t *aw = NULL;
    size_t al = 0;
    char addr[DNS01_MAX_NAME + 16];
    int rc = -1;
    const ldns_rdf *mac = NULL;
    bool signed_q = tsig_wanted(tsig);

    dns01_server_format(srv, addr, sizeof addr);
    q = dns01_build_update(zone, fqdn, value, op, err, errlen);
    if (!q)
        goto out;
    if (signed_q && !valid_base64(tsig->secret_b64)) {
        snprintf(err, errlen, "the TSIG secret of key %.*s is not valid base64", 200, tsig->key_name);
        goto out;
    }
    if (signed_q) {
        ldns_status st = ldns_pkt_tsig_sign(q, tsig->key_name, tsig->secret_b64, DNS01_TSIG_FUDGE,
                                            dns01_tsig_algorithm_dname(tsig->alg), NULL);
        if (st != LDNS_STATUS_OK || !ldns_pkt_tsig(q) || ldns_rr_rd_count(ldns_pkt_tsig(q)) < 4) {
            snprintf(err, errlen, "cannot TSIG-sign the update with key %.*s: %s", 200, tsig->key_name,
                     st != LDNS_STATUS_OK ? ldns_get_errorstr_by_id(st) : "no signature");
            goto out;
        }
        mac = ldns_rr_rdf(ldns_pkt_tsig(q), 3);
    }
    if (exchange_pkt(c, srv, tcp, q, &a, &aw, &al, err, errlen) != 0)
        goto out;
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(a);
    if (rcode != LDNS_RCODE_NOERROR) {
        char rbuf[16], tbuf[16], tsigpart[48] = "";
        const ldns_rr *t = ldns_pkt_tsig(a);
        if (t && ldns_rr_rd_count(t) > 5 && ldns_rdf_size(ldns_rr_rdf(t, 5)) == 2) {
            unsigned te = ldns_rdf2native_int16(ldns_rr_rdf(t, 5));
            if (te)
                snprintf(tsigpart, sizeof tsigpart, " (TSIG %s)", tsig_error_name(te, tbuf, sizeof tbuf));
        }
        snprintf(err, errlen, "%s of %.*s in zone %.*s refused by %s: %s%s",
                 op == DNS01_UPDATE_ADD ? "update (add)" : "update (delete)", 253, fqdn, 253, zone, addr,
                 rcode_name(rcode, rbuf, sizeof rbuf), tsigpart);
        goto out;
    }
    if (signed_q) {
        if (!ldns_pkt_tsig(a)) {
            snprintf(err, errlen, "answer from %s to a signed update is not signed", addr);
            goto out;
        }
        if (!ldns_pkt_tsig_verify(a, aw, al, tsig->key_name, tsig->secret_b64, mac)) {
            snprintf(err, errlen, "TSIG verification of the answer from %s failed", addr);
            goto out;
        }
    }
    rc = 0;
out:
    ldns_pkt_free(q);
    ldns_pkt_free(a);
    free(aw);
    return rc;
}

/* ---- propagation check ------------------------------------------------------------------------------ */

bool dns01_txt_value(const ldns_rr *rr, char *out, size_t outlen)
{
    size_t used = 0;
    if (!rr || ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT || outlen == 0)
        return false;
    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
        const ldns_rdf *f = ldns_rr_rdf(rr, i);
        const uint8_t *d = ldns_rdf_data(f);
        size_t sz = ldns_rdf_size(f);
        if (sz < 1 || (size_t)d[0] + 1 > sz)
            return false;
        if (used + d[0] >= outlen)
            return false;
        memcpy(out + used, d + 1, d[0]);
        used += d[0];
    }
    out[used] = '\0';
    return true;
}

/* One server's verdict (see dns01_check_decide) with the reason for it. */
static dns01_check_result_t judge(const dns01_server_answer_t *sa, const char *fqdn, const char *value, char *reason,
                                  size_t reasonlen)
{
    const char *srv = sa->server ? sa->server : "?";
    char rbuf[16];
    if (sa->error || !sa->answer) {
        snprintf(reason, reasonlen, "TXT %.*s not yet propagated: %.*s: %.*s", 253, fqdn, 200, srv, 200,
                 sa->error ? sa->error : "no answer");
        return DNS01_NOT_YET;
    }
    ldns_pkt_rcode rc = ldns_pkt_get_rcode(sa->answer);
    if (rc == LDNS_RCODE_NXDOMAIN) {
        snprintf(reason, reasonlen, "TXT %.*s not yet propagated: %.*s answers NXDOMAIN", 253, fqdn, 200, srv);
        return DNS01_NOT_YET;
    }
    if (rc != LDNS_RCODE_NOERROR) {
        snprintf(reason, reasonlen, "unexpected rcode %s for TXT %.*s from %.*s", rcode_name(rc, rbuf, sizeof rbuf),
                 253, fqdn, 200, srv);
        return DNS01_CHECK_ERROR;
    }
    ldns_rr_list *an = ldns_pkt_answer(sa->answer);
    size_t ntxt = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
        char v[DNS01_MAX_VALUE + 1];
        const ldns_rr *rr = ldns_rr_list_rr(an, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT)
            continue;
        ntxt++;
        if (dns01_txt_value(rr, v, sizeof v) && strcmp(v, value) == 0)
            return DNS01_PROPAGATED;
    }
    if (ntxt == 0)
        snprintf(reason, reasonlen, "TXT %.*s not yet propagated: %.*s has no TXT record", 253, fqdn, 200, srv);
    else
        snprintf(reason, reasonlen, "TXT %.*s not yet propagated: none of the %zu TXT records at %.*s matches",
                 253, fqdn, ntxt, 200, srv);
    return DNS01_NOT_YET;
}

dns01_check_result_t dns01_check_decide(const dns01_server_answer_t *answers, size_t n, const char *fqdn,
                                        const char *value, char *reason, size_t reasonlen)
{
    dns01_check_result_t worst = DNS01_PROPAGATED;
    if (reasonlen)
        reason[0] = '\0';
    if (n == 0) {
        snprintf(reason, reasonlen, "no nameservers to check TXT %.*s against", 253, fqdn);
        return DNS01_CHECK_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        char r[DNS01_REASON_LEN];
        dns01_check_result_t v = judge(&answers[i], fqdn, value, r, sizeof r);
        if (v > worst) {
            worst = v;
            snprintf(reason, reasonlen, "%s", r);
        }
    }
    return worst;
}

typedef struct asked {
    char label[DNS01_MAX_NAME + 64];
    char error[DNS01_REASON_LEN];
    ldns_pkt *answer;
} asked_t;

/* Addresses of NS name ns: glue from the NS answer's additional section, else A/AAAA through servers. */
static size_t ns_addresses(const dns01_client_t *c, const dns01_server_t *servers, size_t n, const ldns_pkt *nsans,
                           const char *ns, char out[][INET6_ADDRSTRLEN], size_t max)
{
    size_t k = 0;
    const ldns_rr_list *lists[3] = {ldns_pkt_additional(nsans), NULL, NULL};
    ldns_pkt *qa[2] = {NULL, NULL};
    char err[DNS01_REASON_LEN];

    for (int pass = 0; pass < 2 && k == 0; pass++) {
        if (pass == 1) { /* no glue: ask */
            static const ldns_rr_type types[2] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA};
            for (int t = 0; t < 2; t++)
                if (dns01_query_any(c, servers, n, ns, types[t], &qa[t], err, sizeof err) == 0)
                    lists[1 + t] = ldns_pkt_answer(qa[t]);
        }
        for (int l = pass == 0 ? 0 : 1; l < (pass == 0 ? 1 : 3); l++) {
            const ldns_rr_list *L = lists[l];
            for (size_t i = 0; L && i < ldns_rr_list_rr_count(L) && k < max; i++) {
                const ldns_rr *rr = ldns_rr_list_rr(L, i);
                ldns_rr_type t = ldns_rr_get_type(rr);
                if ((t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA) || ldns_rr_rd_count(rr) != 1)
                    continue;
                if (pass == 0 && !rr_owner_is(rr, ns))
                    continue;
                char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
                if (s && strlen(s) < INET6_ADDRSTRLEN)
                    memcpy(out[k++], s, strlen(s) + 1);
                free(s);
            }
        }
    }
    ldns_pkt_free(qa[0]);
    ldns_pkt_free(qa[1]);
    return k;
}

dns01_check_result_t dns01_check(const dns01_client_t *c, const dns01_server_t *servers, size_t n,
                                 bool authoritative, const char *fqdn, const char *value, char *reason,
                                 size_t reasonlen)
{
    asked_t *asked = calloc(DNS01_MAX_SERVERS, sizeof *asked);
    dns01_server_answer_t sa[DNS01_MAX_SERVERS];
    size_t na = 0;
    dns01_check_result_t res = DNS01_CHECK_ERROR;
    ldns_pkt *nsans = NULL;
    char name[DNS01_MAX_NAME];

    if (!asked) {
        snprintf(reason, reasonlen, "out of memory");
        return DNS01_CHECK_ERROR;
    }
    if (canon_name(fqdn, name, sizeof name) != 0) {
        snprintf(reason, reasonlen, "invalid name %.*s", 253, fqdn);
        goto out;
    }
    if (!authoritative) {
        for (size_t i = 0; i < n && na < DNS01_MAX_SERVERS; i++, na++) {
            asked_t *k = &asked[na];
            dns01_server_format(&servers[i], k->label, sizeof k->label);
            if (dns01_query(c, &servers[i], false, name, LDNS_RR_TYPE_TXT, &k->answer, k->error, sizeof k->error))
                k->answer = NULL;
        }
    } else {
        char zone[DNS01_MAX_NAME], err[DNS01_REASON_LEN];
        if (dns01_find_zone(c, servers, n, name, zone, sizeof zone, err, sizeof err) != 0) {
            snprintf(reason, reasonlen, "%s", err);
            goto out;
        }
        if (dns01_query_any(c, servers, n, zone, LDNS_RR_TYPE_NS, &nsans, err, sizeof err) != 0) {
            snprintf(reason, reasonlen, "NS query for zone %s: %s", zone, err);
            goto out;
        }
        ldns_rr_list *an = ldns_pkt_answer(nsans);
        for (size_t i = 0; i < ldns_rr_list_rr_count(an) && na < DNS01_MAX_SERVERS; i++) {
            const ldns_rr *rr = ldns_rr_list_rr(an, i);
            char ns[DNS01_MAX_NAME], addrs[MAX_NS_ADDRS][INET6_ADDRSTRLEN];
            if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS || ldns_rr_rd_count(rr) != 1 || !rr_owner_is(rr, zone) ||
                !dname_str(ldns_rr_rdf(rr, 0), ns, sizeof ns))
                continue;
            asked_t *k = &asked[na++];
            size_t naddr = ns_addresses(c, servers, n, nsans, ns, addrs, MAX_NS_ADDRS);
            snprintf(k->label, sizeof k->label, "%s", ns);
            if (naddr == 0)
                snprintf(k->error, sizeof k->error, "no address for nameserver %s", ns);
            for (size_t j = 0; j < naddr; j++) {
                dns01_server_t s = {.port = c && c->auth_port ? c->auth_port : 53};
                char a[DNS01_MAX_NAME + 16];
                snprintf(s.host, sizeof s.host, "%s", addrs[j]);
                dns01_server_format(&s, a, sizeof a);
                snprintf(k->label, sizeof k->label, "%s(%s)", ns, a);
                if (dns01_query(c, &s, false, name, LDNS_RR_TYPE_TXT, &k->answer, k->error, sizeof k->error) == 0)
                    break;
                k->answer = NULL;
            }
        }
        if (na == 0) {
            snprintf(reason, reasonlen, "no NS records for zone %s", zone);
            goto out;
        }
    }
    for (size_t i = 0; i < na; i++) {
        sa[i].server = asked[i].label;
        sa[i].error = asked[i].answer ? NULL : asked[i].error;
        sa[i].answer = asked[i].answer;
    }
    res = dns01_check_decide(sa, na, name, value, reason, reasonlen);
out:
    for (size_t i = 0; i < DNS01_MAX_SERVERS; i++)
        ldns_pkt_free(asked[i].answer);
    free(asked);
    ldns_pkt_free(nsans);
    return res;
}
