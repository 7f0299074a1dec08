/* SPDX-License-Identifier: Apache-2.0 */
#include "ops/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ops/metrics.h"
#include "util/log.h"

#define MAX_CHECKS 64
#define MAX_HANDLERS 16
#define MAX_REASON 256
#define MAX_EXCLUDES 16

typedef struct ops_check {
    char *name;
    unsigned mask;
    ops_check_fn fn;
    void *ud;
} ops_check_t;

typedef struct ops_handler {
    char *path;
    ops_handler_fn fn;
    void *ud;
} ops_handler_t;

struct ops_server {
    char host[256];
    int port;       /* requested */
    int bound_port; /* after start */
    ops_server_opts_t opts;
    bool health;
    bool started;
    ops_check_t checks[MAX_CHECKS];
    size_t n_checks;
    ops_handler_t handlers[MAX_HANDLERS];
    size_t n_handlers;
    struct MHD_Daemon *mhd;
};

static const struct {
    const char *path;
    const char *name;
    unsigned bit;
} endpoints[] = {
    {"/livez", "livez", OPS_LIVEZ},
    {"/readyz", "readyz", OPS_READYZ},
    {"/healthz", "healthz", OPS_HEALTHZ},
};

int ops_parse_listen_address(const char *addr, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    const char *colon, *h = addr;
    size_t hl;
    if (!addr || !*addr) {
        snprintf(err, errlen, "empty listen address");
        return -1;
    }
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "listen address %.64s: want [ipv6]:port", addr);
            return -1;
        }
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon) {
            snprintf(err, errlen, "listen address %.64s: want host:port", addr);
            return -1;
        }
        if (memchr(addr, ':', (size_t)(colon - addr))) {
            snprintf(err, errlen, "listen address %.64s: put IPv6 addresses in brackets", addr);
            return -1;
        }
        hl = (size_t)(colon - addr);
    }
    const char *p = colon + 1;
    char *end = NULL;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (!*p || *end || errno || v < 0 || v > 65535 || *p == '+' || *p == '-' || *p == ' ') {
        snprintf(err, errlen, "listen address %.64s: bad port", addr);
        return -1;
    }
    if (hl >= hostlen) {
        snprintf(err, errlen, "listen address %.64s: host too long", addr);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}

ops_server_t *ops_server_new(const char *addr, const ops_server_opts_t *opts, char *err, size_t errlen)
{
    ops_server_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (ops_parse_listen_address(addr, s->host, sizeof(s->host), &s->port, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    if (opts)
        s->opts = *opts;
    if (!s->opts.connection_limit)
        s->opts.connection_limit = 64;
    if (!s->opts.timeout_s)
        s->opts.timeout_s = 10;
    if (!s->opts.threads)
        s->opts.threads = 2;
    s->bound_port = -1;
    return s;
}

static bool valid_check_name(const char *n)
{
    if (!n || !*n || strlen(n) > 63)
        return false;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') || *n == '_' ||
              *n == '.' || *n == '-'))
            return false;
    return true;
}

int ops_server_serve_health(ops_server_t *s)
{
    if (!s || s->started)
        return -1;
    s->health = true;
    return 0;
}

int ops_server_add_check(ops_server_t *s, unsigned mask, const char *name, ops_check_fn fn, void *ud)
{
    if (!s || s->started || !fn || !(mask & OPS_ALL) || !valid_check_name(name) || strcmp(name, "ping") == 0 ||
        s->n_checks == MAX_CHECKS)
        return -1;
    for (size_t i = 0; i < s->n_checks; i++)
        if (strcmp(s->checks[i].name, name) == 0 && (s->checks[i].mask & mask))
            return -1;
    char *n = strdup(name);
    if (!n)
        return -1;
    s->checks[s->n_checks++] = (ops_check_t){n, mask & OPS_ALL, fn, ud};
    return 0;
}

int ops_server_handle(ops_server_t *s, const char *path, ops_handler_fn fn, void *ud)
{
    if (!s || s->started || !fn || !path || path[0] != '/' || s->n_handlers == MAX_HANDLERS)
        return -1;
    for (size_t i = 0; i < s->n_handlers; i++)
        if (strcmp(s->handlers[i].path, path) == 0)
            return -1;
    char *p = strdup(path);
    if (!p)
        return -1;
    s->handlers[s->n_handlers++] = (ops_handler_t){p, fn, ud};
    return 0;
}

/* ---- request handling ---- */

typedef struct query_scan {
    const char *key;
    bool found;
    const char *excludes[MAX_EXCLUDES];
    size_t n_excludes;
} query_scan_t;

static enum MHD_Result scan_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    query_scan_t *q = cls;
    if (q->key && key && strcmp(key, q->key) == 0)
        q->found = true;
    if (key && value && strcmp(key, "exclude") == 0 && q->n_excludes < MAX_EXCLUDES)
        q->excludes[q->n_excludes++] = value;
    return MHD_YES;
}

bool ops_request_has_query(const ops_request_t *req, const char *key)
{
    query_scan_t q = {.key = key};
    MHD_get_connection_values((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND, scan_query, &q);
    return q.found;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype, char *body,
                                 size_t len, const char *allow)
{
    /* body is malloc'd (or NULL) and handed to MHD, which frees it. */
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body ? body : (void *)"",
                                                             body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype ? ctype : "text/plain; charset=utf-8");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_const(struct MHD_Connection *c, unsigned status, const char *text, const char *allow)
{
    char *b = strdup(text);
    return send_text(c, status, NULL, b, b ? strlen(b) : 0, allow);
}

/* Keeps printable ASCII only: check reasons end up in HTTP bodies read by people and probes. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            *s = '?';
}

static bool excluded(const query_scan_t *q, const char *name)
{
    for (size_t i = 0; i < q->n_excludes; i++)
        if (strcmp(q->excludes[i], name) == 0)
            return true;
    return false;
}

/* Runs the checks of one endpoint (or only the one named only). Returns the response. */
static enum MHD_Result serve_health(ops_server_t *s, struct MHD_Connection *c, unsigned bit, const char *ep,
                                    const char *only)
{
    query_scan_t q = {.key = "verbose"};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, scan_query, &q);
    bool verbose = q.found;
    char *buf = NULL;
    size_t blen = 0;
    FILE *out = open_memstream(&buf, &blen);
    if (!out)
        return MHD_NO;
    bool failed = false, matched = false;
    /* The built-in "ping" check is always there, as in Kubernetes. */
    if (!only || strcmp(only, "ping") == 0) {
        matched = true;
        if (!excluded(&q, "ping"))
            fprintf(out, "[+]ping ok\n");
    }
    for (size_t i = 0; i < s->n_checks; i++) {
        const ops_check_t *k = &s->checks[i];
        if (!(k->mask & bit) || (only && strcmp(only, k->name) != 0))
            continue;
        matched = true;
        if (excluded(&q, k->name))
            continue;
        char reason[MAX_REASON] = "";
        if (k->fn(k->ud, reason, sizeof(reason)) == 0) {
            fprintf(out, "[+]%s ok\n", k->name);
        } else {
            failed = true;
            reason[sizeof(reason) - 1] = '\0';
            sanitize(reason);
            if (!reason[0])
                snprintf(reason, sizeof(reason), "unknown");
            fprintf(out, "[-]%s failed: %s\n", k->name, verbose ? reason : "reason withheld");
            LOG_V(1, "health check failed", "endpoint", ep, "check", k->name, "reason", reason);
        }
    }
    if (!matched) {
        fclose(out);
        free(buf);
        return send_const(c, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
    }
    fprintf(out, "%s check %s\n", ep, failed ? "failed" : "passed");
    if (fclose(out) != 0) {
        free(buf);
        return MHD_NO;
    }
    if (!failed && !verbose) {
        free(buf);
        return send_const(c, MHD_HTTP_OK, "ok", NULL);
    }
    return send_text(c, failed ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_OK, NULL, buf, blen, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    ops_server_t *s = cls;
    /* Nothing here reads a body: answer on the first call; MHD closes the connection if a body was
     * announced and not read. */
    (void)upload_data_size;
    (void)req_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_const(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
    for (size_t i = 0; i < s->n_handlers; i++) {
        if (strcmp(url, s->handlers[i].path) != 0)
            continue;
        ops_request_t req = {method, url, c};
        ops_response_t resp = {0};
        if (s->handlers[i].fn(s->handlers[i].ud, &req, &resp) != 0) {
            free(resp.body);
            return send_const(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n", NULL);
        }
        return send_text(c, resp.status ? (unsigned)resp.status : MHD_HTTP_OK, resp.content_type, resp.body,
                         resp.body ? resp.body_len : 0, NULL);
    }
    if (s->health) {
        for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
            size_t l = strlen(endpoints[i].path);
            if (strncmp(url, endpoints[i].path, l) != 0)
                continue;
            if (url[l] == '\0')
                return serve_health(s, c, endpoints[i].bit, endpoints[i].name, NULL);
            if (url[l] == '/' && valid_check_name(url + l + 1))
                return serve_health(s, c, endpoints[i].bit, endpoints[i].name, url + l + 1);
        }
    }
    return send_const(c, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
}

/* Creates the listening socket ourselves, so that any address form works and port 0 can be read back. */
static int listen_socket(ops_server_t *s, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[8];
    int fd = -1;
    snprintf(port, sizeof(port), "%d", s->port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    hints.ai_family = s->host[0] ? AF_UNSPEC : AF_INET6;
    int gai = getaddrinfo(s->host[0] ? s->host : NULL, port, &hints, &res);
    if (gai != 0 && !s->host[0]) {
        /* No IPv6 here: all IPv4 interfaces. */
        hints.ai_family = AF_INET;
        gai = getaddrinfo(NULL, port, &hints, &res);
    }
    if (gai != 0) {
        snprintf(err, errlen, "resolve listen address %s: %s", s->host, gai_strerror(gai));
        return -1;
    }
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6 && !s->host[0])
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)); /* dual stack for ":port" */
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && !s->host[0] && hints.ai_family == AF_INET6) {
        /* IPv6 socket refused (disabled kernel support): retry IPv4 only. */
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
        sin.sin_addr.s_addr = htonl(INADDR_ANY);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd >= 0 && (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 64) != 0)) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        snprintf(err, errlen, "listen on %s:%d: %s", s->host[0] ? s->host : "*", s->port, strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        s->bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int ops_server_start(ops_server_t *s, char *err, size_t errlen)
{
    if (!s || s->started) {
        snprintf(err, errlen, "server already started");
        return -1;
    }
    int fd = listen_socket(s, err, errlen);
    if (fd < 0)
        return -1;
    s->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, on_request, s,
                              MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_THREAD_POOL_SIZE, s->opts.threads,
                              MHD_OPTION_CONNECTION_LIMIT, s->opts.connection_limit,
                              MHD_OPTION_CONNECTION_TIMEOUT, s->opts.timeout_s,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
                              MHD_OPTION_END);
    if (!s->mhd) {
        close(fd);
        s->bound_port = -1;
        snprintf(err, errlen, "cannot start HTTP server on %s:%d", s->host[0] ? s->host : "*", s->port);
        return -1;
    }
    s->started = true;
    return 0;
}

int ops_server_port(const ops_server_t *s)
{
    return s && s->started ? s->bound_port : -1;
}

void ops_server_free(ops_server_t *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    for (size_t i = 0; i < s->n_checks; i++)
        free(s->checks[i].name);
    for (size_t i = 0; i < s->n_handlers; i++)
        free(s->handlers[i].path);
    free(s);
}

int ops_metrics_handler(void *ud, const ops_request_t *req, ops_response_t *resp)
{
    (void)req;
    size_t len = 0;
    char *text = metrics_render((metrics_registry_t *)ud, &len);
    if (!text)
        return -1;
    resp->status = 200;
    resp->content_type = METRICS_CONTENT_TYPE;
    resp->body = text;
    resp->body_len = len;
    return 0;
}

int ops_clock_drift_check(double wall0, double mono0, double wall, double mono, double tolerance_s, char *reason,
                          size_t reasonlen)
{
    double drift = (wall - wall0) - (mono - mono0);
    if (drift > tolerance_s || drift < -tolerance_s) {
        snprintf(reason, reasonlen, "wall clock drifted %.0fs from the monotonic clock", drift);
        return -1;
    }
    return 0;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double clock_wall0, clock_mono0;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;

static void clock_baseline(void)
{
    clock_wall0 = clock_s(CLOCK_REALTIME);
    clock_mono0 = clock_s(CLOCK_MONOTONIC);
}

int ops_clock_health_check(void *ud, char *reason, size_t reasonlen)
{
    (void)ud;
    pthread_once(&clock_once, clock_baseline);
    return ops_clock_drift_check(clock_wall0, clock_mono0, clock_s(CLOCK_REALTIME), clock_s(CLOCK_MONOTONIC), 300,
                                 reason, reasonlen);
}
