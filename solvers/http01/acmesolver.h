/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_ACMESOLVER_H
#define KACME_ACMESOLVER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * kacme-acmesolver: answers one ACME HTTP-01 challenge (RFC 8555 §8.3) from inside the solver pod.
 *
 * Split in three: flag parsing and the request decision are pure (table-tested and fuzzed); the server
 * (acmesolver_server_*) is a small single-threaded poll(2) loop that feeds parsed requests to the
 * decision. cert-manager's behaviour: cert-manager-behaviour.md §6.1; kacme deviations: 405 for other
 * methods, case-insensitive Host match, Content-Type text/plain.
 */

#define ACMESOLVER_DEFAULT_PORT 8089
#define ACMESOLVER_ERR_LEN 256

typedef struct acmesolver_config {
    int listen_port;      /* 1..65535 (0 only through the API: any free port, for tests) */
    const char *domain;   /* borrowed from argv: the challenge's dnsName */
    const char *token;    /* borrowed: base64url challenge token */
    const char *key;      /* borrowed: key authorization, served as the body (never logged) */
    int verbosity;        /* --v */
} acmesolver_config_t;

/* Parses argv (--listen-port, --domain, --token, --key, --v; each as "--flag value" or "--flag=value",
 * a single leading dash accepted too). Returns 0 with cfg filled (strings borrowed from argv), 1 for
 * --help/--version (message in err, exit 0), or -1 with a one-line message naming the offending flag in
 * err (exit 2): unknown flag, missing value, port outside 1..65535, empty domain, token not base64url
 * (RFC 4648 §5 alphabet, no padding), missing or empty key. */
int acmesolver_parse_args(int argc, char **argv, acmesolver_config_t *cfg, char *err, size_t errlen);

/* True when s is non-empty and only of the base64url alphabet (A-Z a-z 0-9 - _). */
bool acmesolver_is_base64url(const char *s);

/* The decision for one request (what the server answers). Strings are static or borrowed from cfg. */
typedef struct acmesolver_reply {
    int status;               /* 200, 400, 404, 405 */
    const char *body;         /* response body (for HEAD: what GET would send; the server omits it) */
    size_t body_len;
    bool is_challenge;        /* the challenge was served (for logs: never log the path, it holds the token) */
} acmesolver_reply_t;

/*
 * Decides the answer to one request; pure, no allocation, any input bytes accepted.
 * method: request method (case-sensitive, RFC 9110 §9.1); target: the request-target as received
 * (origin-form "/p?q" or absolute-form "http://host/p"; the query is ignored; no percent-decoding is done,
 * so an encoded token does not match); host: the Host header value or NULL when absent.
 *   - "/" and "/healthz" → 200, empty body (load-balancer health checks), any host;
 *   - "/.well-known/acme-challenge/<token>" with host (port and IPv6 brackets stripped) equal to the
 *     domain ignoring ASCII case → 200 with the key as body;
 *   - anything else → 404; a method other than GET or HEAD on any path → 405.
 */
acmesolver_reply_t acmesolver_decide(const acmesolver_config_t *cfg, const char *method, const char *target,
                                     size_t target_len, const char *host);

/* Strips an optional ":port" and IPv6 brackets from a Host header value; writes [start,len) of the
 * host name into *out and *out_len (borrowed from host). Returns false for a malformed value. */
bool acmesolver_host_name(const char *host, const char **out, size_t *out_len);

/* ---- server ---------------------------------------------------------------------------------------- */

typedef struct acmesolver_server acmesolver_server_t;

/* Limits of the server (why: the pod is reachable from the internet for the life of a challenge). */
#define ACMESOLVER_MAX_HEAD 4096       /* request line + headers, bytes; more → 431 and close */
#define ACMESOLVER_MAX_CONNS 64        /* concurrent connections; further accepts wait */
#define ACMESOLVER_CONN_TIMEOUT_MS 10000 /* whole exchange per connection */

/* Binds the listening socket ([::] dual-stack, 0.0.0.0 when IPv6 is unavailable) on cfg->listen_port
 * (0: any free port) with loopback_only limiting it to 127.0.0.1 (tests). cfg must outlive the server.
 * NULL with err filled on failure. */
acmesolver_server_t *acmesolver_server_new(const acmesolver_config_t *cfg, bool loopback_only, char *err,
                                           size_t errlen);

/* The bound port. */
int acmesolver_server_port(const acmesolver_server_t *srv);

/* Serves until acmesolver_server_stop(); then closes idle connections, lets in-flight responses finish
 * for at most 2 s, and returns 0 (-1 on a fatal poll error). One thread only. */
int acmesolver_server_run(acmesolver_server_t *srv);

/* Asks run() to return; async-signal-safe (a write to a self-pipe), callable from any thread. */
void acmesolver_server_stop(acmesolver_server_t *srv);

void acmesolver_server_free(acmesolver_server_t *srv);

#endif
