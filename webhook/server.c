/* SPDX-License-Identifier: Apache-2.0 */
#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "admission.h"
#include "servingcert.h"
#include "tlsopts.h"
#include "util/log.h"

struct webhook_server {
    struct MHD_Daemon *d;
    unsigned short port;
    const admission_policy_t *policy;
    const webhook_metrics_t *metrics; /* NULL: none */
};

int webhook_metrics_register(metrics_registry_t *r, webhook_metrics_t *m)
{
    static const char *const req_labels[] = {"endpoint", "kind", "operation", "allowed", NULL};
    static const char *const code_labels[] = {"code", NULL};
    static const char *const ep_labels[] = {"endpoint", NULL};
    /* sub-millisecond is the normal case (bench/webhook): finer buckets than the Go client's defaults */
    static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
    m->requests = metrics_new_counter(r, "kacme_webhook_admission_requests_total",
                                      "AdmissionReviews answered, by endpoint, kind, operation and verdict.",
                                      req_labels);
    m->rejected = metrics_new_counter(r, "kacme_webhook_bad_requests_total",
                                      "Requests answered without an AdmissionReview (not JSON, wrong path or "
                                      "method, too large, internal error), by HTTP status.",
                                      code_labels);
    m->duration = metrics_new_histogram(r, "kacme_webhook_admission_duration_seconds",
                                        "Time from the last body byte to the queued answer.", ep_labels, buckets,
                                        sizeof(buckets) / sizeof(buckets[0]));
    return m->requests && m->rejected && m->duration ? 0 : -1;
}

/* A label value from a fixed set, so that clients cannot grow the registry. */
static const char *bounded(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(v, *allowed) == 0)
            return *allowed;
    return "other";
}

static void count_rejected(const webhook_server_t *s, unsigned code)
{
    if (!s->metrics)
        return;
    char c[8];
    snprintf(c, sizeof(c), "%u", code);
    metrics_counter_inc(metrics_with(s->metrics->rejected, c, (char *)NULL));
}

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct req {
    char *buf;
    size_t len, cap;
    bool mutate; /* POST /mutate rather than /validate */
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype, char *body, size_t len,
                             bool owned)
{
    struct MHD_Response *r = owned ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
                                   : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

#define TEXT(c, code, s) reply((c), (code), "text/plain; charset=utf-8", (char *)(s), sizeof(s) - 1, false)

/* Header iterator: counts Content-Length headers whose value differs from the first one (cls). */
static enum MHD_Result other_length(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    const char **first = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
        return MHD_YES;
    if (!*first)
        *first = value;
    else if (strcmp(*first, value) != 0)
        *first = "";
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    webhook_server_t *s = cls;
    struct req *rq = *con_cls;
    (void)version;
    if (!rq) {
        bool mutate = strcmp(url, "/mutate") == 0;
        if (!mutate && strcmp(url, "/validate") != 0) {
            count_rejected(s, MHD_HTTP_NOT_FOUND);
            return TEXT(c, MHD_HTTP_NOT_FOUND, "not found: only /validate and /mutate are served\n");
        }
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
            count_rejected(s, MHD_HTTP_METHOD_NOT_ALLOWED);
            return TEXT(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use POST\n");
        }
        const char *cl = NULL;
        MHD_get_connection_values(c, MHD_HEADER_KIND, other_length, &cl);
        if (cl && !*cl) { /* RFC 9110 §8.6: differing lengths make the message invalid */
            count_rejected(s, MHD_HTTP_BAD_REQUEST);
            return TEXT(c, MHD_HTTP_BAD_REQUEST, "conflicting Content-Length headers\n");
        }
        if (cl) {
            char *end = NULL;
            unsigned long long v = strtoull(cl, &end, 10);
            if (end == cl || v > ADMISSION_MAX_BODY) {
                count_rejected(s, MHD_HTTP_CONTENT_TOO_LARGE);
                return TEXT(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than 3 MiB\n");
            }
        }
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        rq->mutate = mutate;
        if (cl) { /* size the body buffer once from Content-Length (checked <= 3 MiB above) */
            size_t want = (size_t)strtoull(cl, NULL, 10);
            rq->buf = want ? malloc(want) : NULL;
            rq->cap = rq->buf ? want : 0;
        }
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (rq->len + n > ADMISSION_MAX_BODY) {
            count_rejected(s, MHD_HTTP_CONTENT_TOO_LARGE);
            /* streamed (chunked) body over the cap: drop the connection, read no further. libmicrohttpd
             * 0.9.75 refuses to queue a reply (413) before the whole body is read. */
            return MHD_NO;
        }
        if (rq->len + n > rq->cap) {
            size_t nc = rq->cap ? rq->cap : 16384;
            while (nc < rq->len + n)
                nc *= 2;
            if (nc > ADMISSION_MAX_BODY)
                nc = ADMISSION_MAX_BODY;
            char *nb = realloc(rq->buf, nc);
            if (!nb)
                return MHD_NO;
            rq->buf = nb;
            rq->cap = nc;
        }
        memcpy(rq->buf + rq->len, upload_data, n);
        rq->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    char *out = NULL;
    size_t outlen = 0;
    admission_summary_t sum;
    double t0 = s->metrics ? mono_seconds() : 0;
    int code = rq->mutate ? admission_mutate(rq->buf ? rq->buf : "", rq->len, &out, &outlen, &sum)
                          : admission_handle(rq->buf ? rq->buf : "", rq->len, s->policy, &out, &outlen, &sum);
    if (!out) {
        count_rejected(s, MHD_HTTP_INTERNAL_SERVER_ERROR);
        return TEXT(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
    }
    if (code == 200 && s->metrics) {
        static const char *const kinds[] = {"Order", "Challenge", "CertificateRequest", "Issuer", "ClusterIssuer",
                                            NULL};
        static const char *const ops[] = {"CREATE", "UPDATE", "DELETE", "CONNECT", NULL};
        const char *ep = rq->mutate ? "mutate" : "validate";
        metrics_counter_inc(metrics_with(s->metrics->requests, ep, bounded(sum.kind, kinds),
                                         bounded(sum.operation, ops), sum.allowed ? "true" : "false", (char *)NULL));
        metrics_observe(metrics_with(s->metrics->duration, ep, (char *)NULL), mono_seconds() - t0);
    } else if (code != 200) {
        count_rejected(s, (unsigned)code);
    }
    if (code == 200) {
        if (!sum.allowed || log_enabled(2)) { /* the common allowed case at --v < 2 formats nothing */
            char obj[330];
            snprintf(obj, sizeof(obj), "%s%s%s", sum.namespace_, sum.namespace_[0] ? "/" : "", sum.name);
            if (!sum.allowed)
                LOG_INFO("admission denied", "uid", sum.uid, "kind", sum.kind, "object", obj, "operation",
                         sum.operation);
            else
                LOG_V(2, "admission allowed", "uid", sum.uid, "kind", sum.kind, "object", obj, "operation",
                      sum.operation);
        }
        return reply(c, 200, "application/json", out, outlen, true);
    }
    LOG_V(1, "bad admission request", "status", code == 400 ? "400" : code == 413 ? "413" : "500");
    /* one-line reason */
    char *nl = realloc(out, outlen + 2);
    if (nl) {
        nl[outlen++] = '\n';
        nl[outlen] = '\0';
        out = nl;
    }
    return reply(c, (unsigned)code, "text/plain; charset=utf-8", out, outlen, true);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *rq = *con_cls;
    if (rq) {
        free(rq->buf);
        free(rq);
        *con_cls = NULL;
    }
}

size_t webhook_sockaddr(const char *addr, unsigned short port, void *out, size_t outlen)
{
    if (outlen < sizeof(struct sockaddr_in6))
        return 0;
    memset(out, 0, outlen);
    if (!addr || !*addr)
        addr = "0.0.0.0";
    struct sockaddr_in *v4 = out;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return sizeof(*v4);
    }
    struct sockaddr_in6 *v6 = out;
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return sizeof(*v6);
    }
    return 0;
}

webhook_server_t *webhook_server_start(const webhook_server_config_t *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    size_t salen = webhook_sockaddr(cfg->bind_address, cfg->port, &sa, sizeof(sa));
    if (!salen) {
        snprintf(err, errlen, "bind address %s is not an IP address", cfg->bind_address);
        return NULL;
    }
    webhook_server_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->policy = cfg->policy;
    s->metrics = cfg->metrics;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, cfg->port, NULL, NULL, handle, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_HTTPS_CERT_CALLBACK, servingcert_gnutls_callback(),
                            MHD_OPTION_HTTPS_PRIORITIES,
                            cfg->tls_priorities ? cfg->tls_priorities : TLSOPTS_DEFAULT_PRIORITIES,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads ? cfg->threads : 2),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cfg->max_connections ? cfg->max_connections : 1000),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->timeout_s ? cfg->timeout_s : 30),
                            /* per-connection pool: headers and read buffer only (bodies go to our own
                             * buffer), so 16 KiB is plenty and keeps RSS low with many connections */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot start the HTTPS listener on port %u", (unsigned)cfg->port);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    return s;
}

unsigned short webhook_server_port(const webhook_server_t *s)
{
    return s->port;
}

unsigned webhook_server_connections(const webhook_server_t *s)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di ? di->num_connections : 0;
}

void webhook_server_stop(webhook_server_t *s, unsigned grace_ms)
{
    if (!s)
        return;
    MHD_socket ls = MHD_quiesce_daemon(s->d);
    for (unsigned waited = 0; waited < grace_ms; waited += 50) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!di || di->num_connections == 0)
            break;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L}; /* shutdown path only */
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->d);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    free(s);
}
