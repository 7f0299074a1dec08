/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_HTTP01_SELFCHECK_H
#define KACME_HTTP01_SELFCHECK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The HTTP-01 self-check (kacme-decisions.md "Self-check (HTTP01)"): one attempt fetches
 * http://<dnsName>/.well-known/acme-challenge/<token> from EVERY address the name resolves to (A and
 * AAAA, resolved afresh, each over a new connection), follows redirects the way a CA does, and compares
 * the body (trailing whitespace trimmed, at most 1 MiB read) with the key authorization.
 *
 * Not blocking a worker: selfcheck_run_once() is a single pass (it blocks only for the HTTP exchanges, each
 * capped at 10 s); the "N consecutive passes S apart" rule lives in selfcheck_tracker_*, which tells the
 * controller when to requeue instead of sleeping.
 *
 * Proxies: HTTP_PROXY/http_proxy (HTTPS_PROXY/https_proxy for https hops, ALL_PROXY as a fallback) and
 * NO_PROXY/no_proxy are honoured like Go's net/http (localhost and loopback addresses are never proxied).
 * When a proxy applies to a hop, the hop is fetched once through the proxy and the per-address pinning is
 * skipped for it: the proxy does the resolution and the connection, so there is nothing to pin.
 *
 * Thread-safe: every call builds its own curl handles and c-ares channel. curl_global_init() must have
 * run (http_global_init() in main).
 */

#define SELFCHECK_REASON_LEN 512
#define SELFCHECK_MAX_ADDRS 16
#define SELFCHECK_MAX_REDIRECTS 10
#define SELFCHECK_MAX_BODY (1024 * 1024)

typedef struct selfcheck_addr {
    char ip[INET6_ADDRSTRLEN];  /* numeric address without brackets */
    unsigned short port;        /* TCP port to connect to */
} selfcheck_addr_t;

/* An address lookup: fills out[0..*n) (at most max) with the addresses of host (never an IP literal) on
 * port. Returns 0, or -1 with err filled (no address is an error too). */
typedef int (*selfcheck_resolve_fn)(void *ud, const char *host, unsigned short port, selfcheck_addr_t *out,
                                    size_t max, size_t *n, char *err, size_t errlen);

typedef struct selfcheck_opts {
    const char *nameservers;              /* --acme-http01-solver-nameservers "ip:port[,ip:port]" ("[v6]:port");
                                             NULL or "": the system resolver (getaddrinfo) */
    const unsigned short *allowed_ports;  /* ports a redirect may go to; NULL: {80, 443} (tests widen it) */
    size_t n_allowed_ports;
    long timeout_ms;                      /* per HTTP request; 0: 10000 */
    const char *user_agent;               /* NULL: "kacme/<version>" */
    unsigned short port;                  /* port of the first request; 0: 80 (tests) */
    selfcheck_resolve_fn resolve;         /* NULL: selfcheck_resolve(); a test hook to inject addresses */
    void *resolve_ud;
} selfcheck_opts_t;

/*
 * One attempt (one pass over all addresses). opts may be NULL (defaults). dns_name: the challenge's
 * spec.dnsName (host name or IP literal, IPv6 without brackets); token and key: spec.token and spec.key
 * (borrowed; never put into the reason). Returns 0 when every address served the key, or -1 with a
 * reason suitable for Challenge status.reason, e.g.
 *   "wrong status code 404 from 127.0.0.1:80 (expected 200)", "body mismatch from [::1]:80",
 *   "connection refused to 10.0.0.1:80", "redirect loop", "too many redirects",
 *   "redirect to unsupported port 8080", "cannot resolve example.com: ..." .
 * Hops after a redirect add "(after redirect to <scheme>://<host>)".
 */
int selfcheck_run_once(const selfcheck_opts_t *opts, const char *dns_name, const char *token, const char *key,
                       char *reason, size_t reasonlen);

/* The default lookup: A and AAAA of host through opts->nameservers (c-ares, 3 s per query, 2 tries) or
 * getaddrinfo; de-duplicated, at most max. Same contract as selfcheck_resolve_fn. */
int selfcheck_resolve(const selfcheck_opts_t *opts, const char *host, unsigned short port, selfcheck_addr_t *out,
                      size_t max, size_t *n, char *err, size_t errlen);

/* Validates a --acme-http01-solver-nameservers value (comma-separated IP:port, IPv6 as [addr]:port).
 * Returns 0, or -1 with err naming the bad entry. */
int selfcheck_validate_nameservers(const char *s, char *err, size_t errlen);

/* ---- consecutive passes ----------------------------------------------------------------------------
 * Per-challenge bookkeeping keyed by Challenge UID (copied). Times are monotonic milliseconds supplied by
 * the caller, so the helper is pure and testable. Thread-safe (one mutex).
 *
 * Controller use:   wait = selfcheck_tracker_wait_ms(t, uid, now);  if (wait > 0) requeue after wait;
 *                   else pass = selfcheck_run_once(...) == 0;
 *                   switch (selfcheck_tracker_record(t, uid, pass, now, &after)) {
 *                   case SELFCHECK_PASSED:  accept the challenge; break;
 *                   case SELFCHECK_PENDING: requeue after `after` ms; break;
 *                   case SELFCHECK_FAILED:  status.reason = reason; requeue after the retry period; }
 */

typedef struct selfcheck_tracker selfcheck_tracker_t;

enum selfcheck_verdict {
    SELFCHECK_PASSED = 0,  /* the required consecutive passes are in; the entry is forgotten */
    SELFCHECK_PENDING = 1, /* a pass was recorded (or came too early to count); check again after *after_ms */
    SELFCHECK_FAILED = 2,  /* the run of passes is broken; the entry is forgotten */
};

/* required_passes >= 1 (0 means 1), spacing_ms >= 0 between counted passes. NULL on allocation failure. */
selfcheck_tracker_t *selfcheck_tracker_new(unsigned required_passes, long long spacing_ms);
void selfcheck_tracker_free(selfcheck_tracker_t *t);

/* Milliseconds to wait before the next attempt for uid may count (0: attempt now). */
long long selfcheck_tracker_wait_ms(selfcheck_tracker_t *t, const char *uid, long long now_ms);

/* Records the result of an attempt made at now_ms. A pass earlier than spacing after the previous counted
 * pass does not count (PENDING, *after_ms = the rest of the spacing). after_ms may be NULL. */
enum selfcheck_verdict selfcheck_tracker_record(selfcheck_tracker_t *t, const char *uid, bool passed,
                                                long long now_ms, long long *after_ms);

/* Drops uid (Challenge deleted or no longer presented). */
void selfcheck_tracker_forget(selfcheck_tracker_t *t, const char *uid);

/* Drops entries whose last pass is older than max_age_ms (challenges that went away unnoticed); returns
 * how many were dropped. */
size_t selfcheck_tracker_gc(selfcheck_tracker_t *t, long long now_ms, long long max_age_ms);

/* Consecutive passes counted so far for uid (0 when unknown), and the number of entries. */
unsigned selfcheck_tracker_passes(selfcheck_tracker_t *t, const char *uid);
size_t selfcheck_tracker_size(selfcheck_tracker_t *t);

#endif
