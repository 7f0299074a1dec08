/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_OPS_HEALTH_H
#define KACME_OPS_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A small plain-HTTP operations server (libmicrohttpd, internal polling thread + small thread pool) for
 * health endpoints and /metrics. One process may run several (e.g. metrics on 0.0.0.0:9402, health on
 * 0.0.0.0:9403).
 *
 * Health endpoints follow the Kubernetes healthz conventions (k8s.io/apiserver/pkg/server/healthz):
 *   GET /livez, /healthz, /readyz   runs every check registered for that endpoint:
 *       all pass  → 200 "ok"
 *       any fails → 500 listing every check: "[+]name ok" / "[-]name failed: reason withheld", then
 *                   "<endpoint> check failed"
 *   ?verbose      lists the checks on success too, and gives failure reasons ("[-]name failed: <reason>")
 *   ?exclude=name skips a check (repeatable)
 *   GET /livez/<name> (and /healthz/<name>, /readyz/<name>) runs one check.
 * Only GET and HEAD are served (405 with Allow otherwise); unknown paths are 404.
 *
 * Limits: connection limit, per-connection timeout and memory limit (so request headers are bounded),
 * check reasons truncated to 256 bytes and reduced to printable ASCII.
 *
 * Registration (checks, handlers) must happen before ops_server_start; afterwards the server only reads it.
 */

typedef struct ops_server ops_server_t;

/* Endpoint selection for a check (bit mask). */
#define OPS_LIVEZ 1u
#define OPS_READYZ 2u
#define OPS_HEALTHZ 4u
#define OPS_ALL (OPS_LIVEZ | OPS_READYZ | OPS_HEALTHZ)

/* A check: return 0 when healthy, or -1 with a short reason written into reason (NUL-terminated).
 * Called from server threads, possibly concurrently; must be quick and must not block. */
typedef int (*ops_check_fn)(void *ud, char *reason, size_t reasonlen);

typedef struct ops_request {
    const char *method; /* "GET" or "HEAD" */
    const char *path;   /* without the query */
    void *conn;         /* for ops_request_query */
} ops_request_t;

/* A handler fills resp: status (0: 200), content_type (static string; NULL: text/plain; charset=utf-8),
 * and body (malloc'd, owned by the server after the call; NULL for none). */
typedef struct ops_response {
    int status;
    const char *content_type;
    char *body;
    size_t body_len;
} ops_response_t;

/* Handles a GET/HEAD on a mounted path. Return 0, or -1 for a 500 with no body. */
typedef int (*ops_handler_fn)(void *ud, const ops_request_t *req, ops_response_t *resp);

typedef struct ops_server_opts {
    unsigned connection_limit; /* 0: 64 */
    unsigned timeout_s;        /* idle connection timeout; 0: 10 */
    unsigned threads;          /* worker thread pool size; 0: 2 */
} ops_server_opts_t;

/* Parses a listen address: "0.0.0.0:9402", "127.0.0.1:0", ":9403" (all interfaces), "[::1]:9402",
 * "[::]:80", "localhost:8080". Port 0 asks for an ephemeral port. Writes the host part ("" for all
 * interfaces) into host and the port into *port. Returns 0, or -1 with err filled. */
int ops_parse_listen_address(const char *addr, char *host, size_t hostlen, int *port, char *err, size_t errlen);

/* New server for addr (see ops_parse_listen_address; nothing is bound yet). opts may be NULL. NULL with err
 * filled on a bad address or allocation failure. */
ops_server_t *ops_server_new(const char *addr, const ops_server_opts_t *opts, char *err, size_t errlen);

/* Serves /livez, /healthz and /readyz on this server. Returns 0 or -1. */
int ops_server_serve_health(ops_server_t *s);

/* Registers a named check ([a-zA-Z0-9_.-]+, unique per endpoint) for the endpoints in mask. Returns 0 or
 * -1 (bad name, duplicate, allocation failure, server already started). */
int ops_server_add_check(ops_server_t *s, unsigned mask, const char *name, ops_check_fn fn, void *ud);

/* Mounts fn at an exact path (e.g. "/metrics"). Returns 0 or -1. */
int ops_server_handle(ops_server_t *s, const char *path, ops_handler_fn fn, void *ud);

/* Binds, listens and starts serving. Returns 0, or -1 with err filled (e.g. address in use). */
int ops_server_start(ops_server_t *s, char *err, size_t errlen);

/* The bound port (after start; useful with port 0), or -1. */
int ops_server_port(const ops_server_t *s);

/* Stops serving (waits for running requests) and frees. NULL-safe. */
void ops_server_free(ops_server_t *s);

/* True when the query string has key (with or without a value). */
bool ops_request_has_query(const ops_request_t *req, const char *key);

/* cert-manager's "clockHealth" livez check (ud unused): fails when the wall clock has drifted more than 5 min
 * from the monotonic clock since the baseline, taken at the first call (call it once at startup). A jumped
 * wall clock breaks certificate validity decisions, so a restart is the right answer. */
int ops_clock_health_check(void *ud, char *reason, size_t reasonlen);

/* The same with an explicit tolerance and clock readings (seconds), for tests: baseline (wall0, mono0),
 * now (wall, mono). Returns 0 or -1 with reason filled. */
int ops_clock_drift_check(double wall0, double mono0, double wall, double mono, double tolerance_s, char *reason,
                          size_t reasonlen);

/* A handler for /metrics serving metrics_render() of the registry passed as ud
 * (a metrics_registry_t *). */
int ops_metrics_handler(void *ud, const ops_request_t *req, ops_response_t *resp);

#endif
