/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_DNS01_DNS01_H
#define KACME_DNS01_DNS01_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

/*
 * DNS-01 building blocks (cert-manager-behaviour.md §7.2-§7.4): the record name, CNAME following, zone
 * discovery by SOA walk, RFC 2136 updates with TSIG, and the propagation check. Every DNS message is built,
 * signed and parsed by ldns; this module only decides what to send and what the answers mean.
 *
 * Transport: every query is one exchange of wire-format bytes through a dns01_client_t. The default
 * exchange goes over the network (UDP, then TCP when the UDP answer is truncated; a timeout on every
 * exchange, default 5 s). Tests swap in an exchange function serving constructed answers.
 *
 * Names: absolute, with a trailing dot ("_acme-challenge.example.com."), compared case-insensitively.
 * Nothing here logs or returns the TXT value or the TSIG secret in error texts.
 * Thread-safe: no global state (each call builds its own packets and sockets).
 */

#define DNS01_MAX_NAME 256      /* a domain name in text form, trailing dot and NUL included */
#define DNS01_MAX_VALUE 1024    /* the TXT value (an ACME DNS-01 key is 43 bytes) */
#define DNS01_MAX_SERVERS 16    /* nameservers in one list / authoritative servers checked */
#define DNS01_MAX_CNAME_HOPS 16 /* CNAME chain length before giving up */
#define DNS01_REASON_LEN 512
#define DNS01_TXT_TTL 60        /* TTL of the TXT record Present adds (seconds) */
#define DNS01_TSIG_FUDGE 300    /* seconds */

/* ---- nameserver addresses --------------------------------------------------------------------------- */

typedef struct dns01_server {
    char host[DNS01_MAX_NAME]; /* IP literal (IPv6 without brackets) or host name */
    uint16_t port;
} dns01_server_t;

/* Parses "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 literal; default_port when none is given
 * (53 for nameservers). Returns 0, or -1 with err naming the entry. */
int dns01_parse_server(const char *s, uint16_t default_port, dns01_server_t *out, char *err, size_t errlen);

/* Comma-separated list of the above (spaces around entries ignored), at most max entries. An empty string
 * gives *n = 0. Returns 0, or -1 with err. */
int dns01_parse_servers(const char *csv, uint16_t default_port, dns01_server_t *out, size_t max, size_t *n,
                        char *err, size_t errlen);

/* "host:port" or "[v6]:port" into out (always NUL-terminated). */
void dns01_server_format(const dns01_server_t *s, char *out, size_t outlen);

/* ---- names ------------------------------------------------------------------------------------------ */

/* "_acme-challenge.<dnsName>." for a Challenge spec.dnsName (a leading "*." is dropped, a trailing dot
 * allowed, lower-cased). Returns 0, or -1 with err when the result is not a valid domain name. */
int dns01_record_name(const char *dns_name, char *out, size_t outlen, char *err, size_t errlen);

/* ---- TSIG ------------------------------------------------------------------------------------------- */

typedef enum dns01_tsig_alg {
    DNS01_TSIG_HMACMD5 = 0,
    DNS01_TSIG_HMACSHA1,
    DNS01_TSIG_HMACSHA256,
    DNS01_TSIG_HMACSHA512,
} dns01_tsig_alg_t;

/* rfc2136 tsigAlgorithm: "HMACMD5" (default for NULL or ""), "HMACSHA1", "HMACSHA256", "HMACSHA512",
 * case-insensitive. Returns 0, or -1 for anything else. */
int dns01_parse_tsig_algorithm(const char *s, dns01_tsig_alg_t *out);

/* The algorithm's domain name on the wire (RFC 8945 §6), e.g. "hmac-sha256." */
const char *dns01_tsig_algorithm_dname(dns01_tsig_alg_t alg);

typedef struct dns01_tsig {
    const char *key_name;   /* e.g. "kacme-key." (borrowed) */
    dns01_tsig_alg_t alg;
    const char *secret_b64; /* base64 secret (borrowed; never logged) */
} dns01_tsig_t;

/* ---- transport -------------------------------------------------------------------------------------- */

/* One exchange: send query[0..qlen) to srv over TCP or UDP, waiting at most timeout_ms, and return the answer
 * bytes in *answer (malloc'd, caller frees) and *alen. Returns 0, or -1 with a transport error in err
 * (timeout, refused...). */
typedef int (*dns01_exchange_fn)(void *ud, const dns01_server_t *srv, bool tcp, unsigned timeout_ms,
                                 const uint8_t *query, size_t qlen, uint8_t **answer, size_t *alen, char *err,
                                 size_t errlen);

typedef struct dns01_client {
    dns01_exchange_fn exchange; /* NULL: the network (dns01_net_exchange) */
    void *ud;
    unsigned timeout_ms;        /* per exchange; 0: 5000 */
    uint16_t auth_port;         /* port of authoritative servers found through NS records; 0: 53 (tests) */
} dns01_client_t;

/* The network exchange (ud unused): ldns_udp_send / ldns_tcp_send. Host names are resolved with getaddrinfo
 * (first address). */
int dns01_net_exchange(void *ud, const dns01_server_t *srv, bool tcp, unsigned timeout_ms, const uint8_t *query,
                       size_t qlen, uint8_t **answer, size_t *alen, char *err, size_t errlen);

/* One query (RD set, EDNS0 UDP size 4096) of name/type to srv: UDP, repeated over TCP when the answer is
 * truncated (or always TCP when tcp). Checks the answer's ID and question. Returns 0 with *answer (caller
 * ldns_pkt_free()s) whatever its rcode, or -1 with a transport/parse error in err. */
int dns01_query(const dns01_client_t *c, const dns01_server_t *srv, bool tcp, const char *name, ldns_rr_type type,
                ldns_pkt **answer, char *err, size_t errlen);

/* The same against a list: servers tried in order until one answers without a transport error. */
int dns01_query_any(const dns01_client_t *c, const dns01_server_t *servers, size_t n, const char *name,
                    ldns_rr_type type, ldns_pkt **answer, char *err, size_t errlen);

/* ---- CNAME and zone --------------------------------------------------------------------------------- */

/* Follows the CNAME chain from fqdn (cnameStrategy Follow): CNAME queries through servers; an answer that is
 * not NOERROR or has no CNAME for the current name ends the chain. out receives the final name. Returns 0,
 * or -1 with err on a loop ("CNAME loop at ..."), a chain longer than DNS01_MAX_CNAME_HOPS, or when no server
 * answers. */
int dns01_follow_cname(const dns01_client_t *c, const dns01_server_t *servers, size_t n, const char *fqdn, char *out,
                       size_t outlen, char *err, size_t errlen);

/* The zone of fqdn (§7.2): SOA queries for fqdn and each parent (never the root) through servers; NXDOMAIN
 * or an answer holding a CNAME → go up; another non-NOERROR rcode → error naming it; the first answer holding
 * an SOA gives the zone (the SOA owner). Returns 0 with zone, or -1 with err. */
int dns01_find_zone(const dns01_client_t *c, const dns01_server_t *servers, size_t n, const char *fqdn, char *zone,
                    size_t zonelen, char *err, size_t errlen);

/* ---- RFC 2136 --------------------------------------------------------------------------------------- */

typedef enum dns01_update_op {
    DNS01_UPDATE_ADD,    /* add "<fqdn> 60 IN TXT <value>" */
    DNS01_UPDATE_DELETE, /* delete exactly that RR (class NONE, TTL 0, RFC 2136 §2.5.4) */
} dns01_update_op_t;

/* The UPDATE message (zone section = zone SOA IN, one RR in the update section, no TSIG yet). Values longer
 * than 255 bytes are split into several character-strings. Returns a new packet (ldns_pkt_free) or NULL with
 * err. */
ldns_pkt *dns01_build_update(const char *zone, const char *fqdn, const char *value, dns01_update_op_t op, char *err,
                             size_t errlen);

/* Sends the update to srv (TCP when tcp, else UDP with TCP fallback), TSIG-signed when tsig is non-NULL with
 * a key name and secret (fudge 300 s), and checks the answer: not NOERROR → -1 with err naming the rcode and
 * the TSIG error when present ("update of _acme-challenge.x. refused by 127.0.0.1:53: NOTAUTH (TSIG BADSIG)");
 * a signed query whose answer fails TSIG verification → -1. Adding a present value or deleting an absent one
 * is NOERROR (RFC 2136 §3.4.2), so both operations are idempotent. Returns 0 or -1. */
int dns01_update(const dns01_client_t *c, const dns01_server_t *srv, bool tcp, const dns01_tsig_t *tsig,
                 const char *zone, const char *fqdn, const char *value, dns01_update_op_t op, char *err,
                 size_t errlen);

/* ---- propagation check ------------------------------------------------------------------------------ */

typedef enum dns01_check_result {
    DNS01_PROPAGATED = 0,
    DNS01_NOT_YET,
    DNS01_CHECK_ERROR,
} dns01_check_result_t;

/* What one server said: a transport error (error non-NULL) or its answer to "fqdn TXT" (borrowed). */
typedef struct dns01_server_answer {
    const char *server;    /* for the reason, e.g. "ns1.example.com.(192.0.2.1:53)" */
    const char *error;     /* transport error, or NULL */
    const ldns_pkt *answer;
} dns01_server_answer_t;

/* The check's decision (pure): propagated when every server returned a TXT RR whose concatenated strings
 * equal value; NXDOMAIN, a missing/different value or a transport error → not yet; another rcode (SERVFAIL,
 * REFUSED...) → error. With n == 0 → error. The first failing server's address and what it said go into
 * reason ("TXT _acme-challenge.x. not yet at 192.0.2.1:53: NXDOMAIN"). Result: the worst over servers. */
dns01_check_result_t dns01_check_decide(const dns01_server_answer_t *answers, size_t n, const char *fqdn,
                                        const char *value, char *reason, size_t reasonlen);

/* One propagation check of value at fqdn (already CNAME-followed by the caller when wanted): authoritative
 * mode finds the zone (SOA walk through servers), asks servers for its NS records and then every NS (its
 * glue or its A/AAAA through servers, on port c->auth_port) for the TXT; otherwise every server in servers
 * is asked directly. Returns the decision, with reason filled unless propagated. */
dns01_check_result_t dns01_check(const dns01_client_t *c, const dns01_server_t *servers, size_t n,
                                 bool authoritative, const char *fqdn, const char *value, char *reason,
                                 size_t reasonlen);

/* The concatenated strings of a TXT RR into out (NUL-terminated); returns false when it does not fit or the
 * RR is not a TXT. */
bool dns01_txt_value(const ldns_rr *rr, char *out, size_t outlen);

#endif
