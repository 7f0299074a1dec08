/* SPDX-License-Identifier: Apache-2.0 */
#include "kube/rest.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/http.h"
#include "util/log.h"
#include "util/version.h"

#define DEFAULT_QPS 20.0
#define DEFAULT_BURST 50
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RETRIES 3
#define MAX_RETRY_WAIT_S 10
#define TOKEN_REREAD_S 60
#define MAX_BODY (64u * 1024 * 1024)      /* big lists: 500 objects a page, far below */
#define MAX_WATCH_LINE (16u * 1024 * 1024) /* one event */
#define MAX_JSON_DEPTH 64
#define MAX_LIST_ITEMS 1000000
#define PATH_MAX_LEN 2048

const kube_resource_t KUBE_RES_NAMESPACES = {"", "v1", "namespaces", false};
const kube_resource_t KUBE_RES_CONFIGMAPS = {"", "v1", "configmaps", true};
const kube_resource_t KUBE_RES_SECRETS = {"", "v1", "secrets", true};
const kube_resource_t KUBE_RES_PODS = {"", "v1", "pods", true};
const kube_resource_t KUBE_RES_SERVICES = {"", "v1", "services", true};
const kube_resource_t KUBE_RES_EVENTS = {"", "v1", "events", true};
const kube_resource_t KUBE_RES_LEASES = {"coordination.k8s.io", "v1", "leases", true};
const kube_resource_t KUBE_RES_INGRESSES = {"networking.k8s.io", "v1", "ingresses", true};

struct kube_client {
    http_client_t *http;
    char *server;
    char *namespace;
    long timeout_ms;
    int max_retries;

    pthread_mutex_t token_mu; /* guards token and token_read_at */
    char *token;
    char *token_file;
    time_t token_read_at;

    pthread_mutex_t rl_mu; /* token bucket */
    atomic_bool apf;       /* the server does API Priority & Fairness: no client-side limit needed */
    double qps;
    double burst;
    double tokens;
    struct timespec rl_last;
};

/* ---- small string builder ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        char *np;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void sb_esc(sbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            sb_add(b, (const char *)&ch, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            sb_add(b, e, 3);
        }
    }
}

/* Appends "&key=value" (or "?key=value" for the first parameter) with value encoded. */
static void sb_query(sbuf_t *b, bool *first, const char *key, const char *value)
{
    if (!value)
        return;
    sb_str(b, *first ? "?" : "&");
    *first = false;
    sb_str(b, key);
    sb_str(b, "=");
    sb_esc(b, value);
}

static void sb_query_long(sbuf_t *b, bool *first, const char *key, long v)
{
    char num[32];
    snprintf(num, sizeof(num), "%ld", v);
    sb_query(b, first, key, num);
}

/* ---- paths ---- */

static bool part_ok(const char *s)
{
    return s && s[0] && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int build_path(sbuf_t *b, const kube_resource_t *r, const char *ns, const char *name, const char *sub)
{
    if (!r || !part_ok(r->version) || !part_ok(r->resource))
        return -1;
    if (!r->group || !r->group[0]) {
        sb_str(b, "/api/");
    } else {
        sb_str(b, "/apis/");
        sb_esc(b, r->group);
        sb_str(b, "/");
    }
    sb_esc(b, r->version);
    if (r->namespaced && ns && ns[0]) {
        if (!part_ok(ns))
            return -1;
        sb_str(b, "/namespaces/");
        sb_esc(b, ns);
    }
    sb_str(b, "/");
    sb_esc(b, r->resource);
    if (name) {
        if (!part_ok(name))
            return -1;
        sb_str(b, "/");
        sb_esc(b, name);
    }
    if (sub) {
        if (!name || !part_ok(sub))
            return -1;
        sb_str(b, "/");
        sb_esc(b, sub);
    }
    return b->oom ? -1 : 0;
}

int kube_path(char *buf, size_t len, const kube_resource_t *r, const char *ns, const char *name,
              const char *subresource)
{
    sbuf_t b = {0};
    int rc = -1;
    if (r && r->namespaced && name && !(ns && ns[0]))
        goto out; /* a namespaced object needs its namespace */
    if (build_path(&b, r, ns, name, subresource) < 0 || !b.p || b.len + 1 > len)
        goto out;
    memcpy(buf, b.p, b.len + 1);
    rc = 0;
out:
    free(b.p);
    return rc;
}

/* ---- client ---- */

kube_client_t *kube_client_new(const kube_config_t *cfg, const kube_client_opts_t *opts, char *err,
                               size_t errlen)
{
    kube_client_opts_t o = {0};
    http_client_opts_t ho = {0};
    kube_client_t *c = NULL;
    char ua[128];

    if (opts)
        o = *opts;
    if (!cfg || !cfg->server) {
        snprintf(err, errlen, "no API server configured");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        goto oom;
    pthread_mutex_init(&c->token_mu, NULL);
    pthread_mutex_init(&c->rl_mu, NULL);
    c->qps = o.qps > 0 ? o.qps : DEFAULT_QPS;
    c->burst = o.burst > 0 ? o.burst : DEFAULT_BURST;
    c->tokens = c->burst;
    clock_gettime(CLOCK_MONOTONIC, &c->rl_last);
    c->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_retries = o.max_retries < 0 ? 0 : (o.max_retries == 0 ? DEFAULT_MAX_RETRIES : o.max_retries);
    if (!(c->server = strdup(cfg->server)))
        goto oom;
    if (cfg->namespace && !(c->namespace = strdup(cfg->namespace)))
        goto oom;
    if (cfg->token && !(c->token = strdup(cfg->token)))
        goto oom;
    if (cfg->token_file && !(c->token_file = strdup(cfg->token_file)))
        goto oom;
    c->token_read_at = time(NULL);

    snprintf(ua, sizeof(ua), "kacme-%s/%s", o.component ? o.component : "client", kacme_version());
    ho.ca_pem = cfg->ca_pem;
    ho.client_cert_pem = cfg->client_cert_pem;
    ho.client_key_pem = cfg->client_key_pem;
    ho.insecure_skip_verify = cfg->insecure_skip_verify;
    ho.user_agent = ua;
    c->http = http_client_new(&ho, err, errlen);
    if (!c->http)
        goto fail;
    return c;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    kube_client_free(c);
    return NULL;
}

void kube_client_free(kube_client_t *c)
{
    if (!c)
        return;
    http_client_free(c->http);
    free(c->server);
    free(c->namespace);
    free(c->token);
    free(c->token_file);
    pthread_mutex_destroy(&c->token_mu);
    pthread_mutex_destroy(&c->rl_mu);
    free(c);
}

const char *kube_client_namespace(const kube_client_t *c)
{
    return c ? c->namespace : NULL;
}

/* Client-side token bucket (client-go's flowcontrol.NewTokenBucketRateLimiter): take a token now, going
 * negative when empty; the caller waits for the deficit to be refilled. Waiting outside the lock keeps
 * the order of reservations fair. */
static void rate_limit(kube_client_t *c)
{
    struct timespec now;
    double wait_s = 0, dt;

    if (atomic_load(&c->apf))
        return;
    pthread_mutex_lock(&c->rl_mu);
    clock_gettime(CLOCK_MONOTONIC, &now);
    dt = (double)(now.tv_sec - c->rl_last.tv_sec) + (double)(now.tv_nsec - c->rl_last.tv_nsec) / 1e9;
    c->rl_last = now;
    if (dt > 0)
        c->tokens += dt * c->qps;
    if (c->tokens > c->burst)
        c->tokens = c->burst;
    c->tokens -= 1.0;
    if (c->tokens < 0)
        wait_s = -c->tokens / c->qps;
    pthread_mutex_unlock(&c->rl_mu);
    if (wait_s > 0) {
        struct timespec ts = {(time_t)wait_s, (long)((wait_s - (double)(time_t)wait_s) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

static void sleep_s(int s)
{
    struct timespec ts = {s, 0};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Copies the current bearer token into a "Authorization: Bearer" header (or "" when none), re-reading a
 * rotating token file at most every TOKEN_REREAD_S seconds, or now when force. */
static char *auth_header(kube_client_t *c, bool force)
{
    char *h = NULL;
    pthread_mutex_lock(&c->token_mu);
    if (c->token_file && (force || time(NULL) - c->token_read_at >= TOKEN_REREAD_S)) {
        char err[256];
        char *t = kube_config_read_token_file(c->token_file, err, sizeof(err));
        c->token_read_at = time(NULL);
        if (t) {
            free(c->token);
            c->token = t;
        } else {
            LOG_WARN("cannot re-read the service account token; keeping the previous one", "error", err);
        }
    }
    if (c->token) {
        size_t n = strlen(c->token) + 32;
        h = malloc(n);
        if (h)
            snprintf(h, n, "Authorization: Bearer %s", c->token);
    }
    pthread_mutex_unlock(&c->token_mu);
    return h;
}

static void free_secret_str(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

static bool looks_like_timeout(const char *msg)
{
    return strstr(msg, "timed out") || strstr(msg, "Timeout");
}

static json_object *parse_json(const char *s, size_t len, char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new_ex(MAX_JSON_DEPTH);
    json_object *o = NULL; /* owned */
    enum json_tokener_error je;
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (len > (size_t)0x7fffffff) {
        snprintf(err, errlen, "JSON too large");
        json_tokener_free(tok);
        return NULL;
    }
    o = json_tokener_parse_ex(tok, s, (int)len);
    je = json_tokener_get_error(tok);
    if (je != json_tokener_success) {
        snprintf(err, errlen, "invalid JSON: %s", json_tokener_error_desc(je));
        json_object_put(o);
        o = NULL;
    } else if ((size_t)json_tokener_get_parse_end(tok) < len) {
        /* Trailing bytes other than whitespace mean this was not one JSON document. */
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
            if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t') {
                snprintf(err, errlen, "invalid JSON: trailing data");
                json_object_put(o);
                o = NULL;
                break;
            }
        }
    }
    json_tokener_free(tok);
    return o;
}

typedef struct call {
    const char *method;
    const char *path;         /* path and query, encoded */
    const char *accept;       /* NULL: application/json */
    const char *content_type; /* NULL with a body: application/json */
    const char *body;
    size_t body_len;
    long timeout_ms;          /* 0: the client's */
} call_t;

/* One API call with rate limiting, 401 token refresh and 429 retries. *out gets the decoded JSON answer
 * (owned) on 2xx (NULL for an empty body). */
static int do_call(kube_client_t *c, const call_t *k, json_object **out, kube_error_t *e)
{
    char accept[160], ctype[160], err[HTTP_ERR_LEN];
    int rc = -1, attempts = 0;
    bool refreshed = false;
    sbuf_t url = {0};

    if (out)
        *out = NULL;
    kube_error_clear(e);
    sb_str(&url, c->server);
    sb_str(&url, k->path);
    if (url.oom) {
        kube_error_set(e, KUBE_ERR_TRANSPORT, "out of memory");
        goto out;
    }
    snprintf(accept, sizeof(accept), "Accept: %s", k->accept ? k->accept : "application/json");
    snprintf(ctype, sizeof(ctype), "Content-Type: %s", k->content_type ? k->content_type : "application/json");

    for (;;) {
        http_request_t req = {0};
        http_response_t resp = {0};
        const char *headers[4];
        size_t nh = 0;
        char *auth;
        int hrc;

        rate_limit(c);
        auth = auth_header(c, false);
        headers[nh++] = accept;
        if (k->body)
            headers[nh++] = ctype;
        if (auth)
            headers[nh++] = auth;
        headers[nh] = NULL;
        req.method = k->method;
        req.url = url.p;
        req.headers = headers;
        req.body = k->body;
        req.body_len = k->body_len;
        req.timeout_ms = k->timeout_ms > 0 ? k->timeout_ms : c->timeout_ms;
        req.max_body = MAX_BODY;
        hrc = http_do(c->http, &req, &resp, err, sizeof(err));
        free_secret_str(auth);
        if (hrc < 0) {
            kube_error_transport(e, err, looks_like_timeout(err));
            goto out;
        }
        /* Like client-go (and cert-manager's --kube-api-qps): when the server answers with Priority &
         * Fairness headers it protects itself and shares capacity fairly, so the client bucket only slows
         * us down. */
        if (!atomic_load(&c->apf) && http_response_header(&resp, "X-Kubernetes-PF-FlowSchema-UID")) {
            atomic_store(&c->apf, true);
            LOG_V(1, "API Priority and Fairness detected: client-side rate limiting off", "server", c->server);
        }
        if (resp.status >= 200 && resp.status < 300) {
            if (out && resp.body && resp.body_len > 0) {
                *out = parse_json(resp.body, resp.body_len, err, sizeof(err));
                if (!*out) {
                    kube_error_set(e, KUBE_ERR_DECODE, err);
                    if (e)
                        e->code = resp.status;
                    http_response_clear(&resp);
                    goto out;
                }
            }
            http_response_clear(&resp);
            rc = 0;
            goto out;
        }
        kube_error_t tmp;
        kube_error_from_response(&tmp, resp.status, resp.body, resp.body_len,
                                 http_response_header(&resp, "Retry-After"));
        http_response_clear(&resp);
        if (tmp.type == KUBE_ERR_UNAUTHORIZED && c->token_file && !refreshed) {
            /* The projected token may have rotated under us: re-read it and try once more. */
            refreshed = true;
            free_secret_str(auth_header(c, true));
            continue;
        }
        if (attempts < c->max_retries &&
            (tmp.type == KUBE_ERR_TOO_MANY_REQUESTS ||
             (tmp.retry_after_s > 0 && tmp.type == KUBE_ERR_SERVER && strcmp(k->method, "GET") == 0))) {
            int w = tmp.retry_after_s > 0 ? tmp.retry_after_s : 1;
            if (w > MAX_RETRY_WAIT_S)
                w = MAX_RETRY_WAIT_S;
            attempts++;
            LOG_V(2, "API server asked to retry", "path", k->path, "reason", tmp.reason);
            sleep_s(w);
            continue;
        }
        if (e)
            *e = tmp;
        goto out;
    }
out:
    free(url.p);
    return rc;
}

/* Serialises a borrowed object for a request body. */
static const char *body_of(json_object *obj, size_t *len)
{
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, len);
    return s;
}

static int path_or_fail(sbuf_t *b, const kube_resource_t *r, const char *ns, const char *name, const char *sub,
                        kube_error_t *e)
{
    if ((r && r->namespaced && name && !(ns && ns[0])) || build_path(b, r, ns, name, sub) < 0) {
        kube_error_set(e, KUBE_ERR_BAD_REQUEST, "invalid resource, namespace or name");
        return -1;
    }
    return 0;
}

int kube_get(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name, json_object **out,
             kube_error_t *e)
{
    sbuf_t p = {0};
    int rc = -1;
    call_t k = {.method = "GET"};
    if (!name) {
        kube_error_set(e, KUBE_ERR_BAD_REQUEST, "no name");
        if (out)
            *out = NULL;
        return -1;
    }
    if (path_or_fail(&p, r, ns, name, NULL, e) < 0)
        goto out;
    k.path = p.p;
    rc = do_call(c, &k, out, e);
out:
    free(p.p);
    return rc;
}

static const char *const ACCEPT_META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
static const char *const ACCEPT_META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

int kube_list(kube_client_t *c, const kube_resource_t *r, const char *ns, const kube_list_opts_t *o,
              json_object **out, kube_error_t *e)
{
    kube_list_opts_t lo = {0};
    sbuf_t p = {0};
    bool first = true;
    int rc = -1;
    call_t k = {.method = "GET"};
    json_object *res = NULL; /* owned */

    if (o)
        lo = *o;
    if (out)
        *out = NULL;
    if (path_or_fail(&p, r, ns, NULL, NULL, e) < 0)
        goto out;
    sb_query(&p, &first, "labelSelector", lo.label_selector && lo.label_selector[0] ? lo.label_selector : NULL);
    sb_query(&p, &first, "fieldSelector", lo.field_selector && lo.field_selector[0] ? lo.field_selector : NULL);
    if (lo.limit > 0)
        sb_query_long(&p, &first, "limit", lo.limit);
    sb_query(&p, &first, "continue", lo.continue_token && lo.continue_token[0] ? lo.continue_token : NULL);
    sb_query(&p, &first, "resourceVersion",
             lo.resource_version && lo.resource_version[0] ? lo.resource_version : NULL);
    if (p.oom) {
        kube_error_set(e, KUBE_ERR_TRANSPORT, "out of memory");
        goto out;
    }
    k.path = p.p;
    k.accept = lo.metadata_only ? ACCEPT_META_LIST : NULL;
    k.timeout_ms = lo.timeout_ms;
    if (do_call(c, &k, &res, e) < 0)
        goto out;
    {
        json_object *items = NULL; /* borrowed */
        if (!res || !json_object_object_get_ex(res, "items", &items) ||
            !(json_object_is_type(items, json_type_array) || json_object_is_type(items, json_type_null))) {
            kube_error_set(e, KUBE_ERR_DECODE, "list answer without items");
            goto out;
        }
        if (json_object_is_type(items, json_type_null)) /* an empty list may come as "items": null */
            json_object_object_add(res, "items", json_object_new_array());
    }
    if (out) {
        *out = res;
        res = NULL;
    }
    rc = 0;
out:
    json_object_put(res);
    free(p.p);
    return rc;
}

static const char *obj_str(json_object *o, const char *k1, const char *k2)
{
    json_object *v = NULL; /* borrowed */
    if (!o || !json_object_object_get_ex(o, k1, &v))
        return NULL;
    if (k2 && !json_object_object_get_ex(v, k2, &v))
        return NULL;
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int kube_list_all(kube_client_t *c, const kube_resource_t *r, const char *ns, const kube_list_opts_t *o,
                  json_object **out, kube_error_t *e)
{
    kube_list_opts_t lo = {0};
    json_object *all = NULL, *page = NULL; /* owned */
    json_object *all_items = NULL;        /* borrowed from all */
    char *cont = NULL;
    int rc = -1;

    if (o)
        lo = *o;
    if (lo.limit <= 0)
        lo.limit = 500;
    lo.continue_token = NULL;
    if (out)
        *out = NULL;
    for (;;) {
        json_object *items = NULL; /* borrowed */
        const char *next;
        if (kube_list(c, r, ns, &lo, &page, e) < 0)
            goto out;
        json_object_object_get_ex(page, "items", &items);
        if (!all) {
            /* The first page is the result: its metadata.resourceVersion is the snapshot of all pages. */
            all = page;
            page = NULL;
            json_object_object_get_ex(all, "items", &all_items);
        } else {
            size_t n = json_object_array_length(items);
            if (json_object_array_length(all_items) + n > MAX_LIST_ITEMS) {
                kube_error_set(e, KUBE_ERR_DECODE, "list too large");
                goto out;
            }
            for (size_t i = 0; i < n; i++)
                json_object_array_add(all_items, json_object_get(json_object_array_get_idx(items, i)));
        }
        next = obj_str(page ? page : all, "metadata", "continue");
        free(cont);
        cont = next && next[0] ? strdup(next) : NULL;
        if (next && next[0] && !cont) {
            kube_error_set(e, KUBE_ERR_TRANSPORT, "out of memory");
            goto out;
        }
        json_object_put(page);
        page = NULL;
        if (!cont)
            break;
        lo.continue_token = cont;
        lo.resource_version = NULL; /* not allowed together with continue */
    }
    {
        json_object *md = NULL; /* borrowed */
        if (json_object_object_get_ex(all, "metadata", &md) && json_object_is_type(md, json_type_object)) {
            json_object_object_del(md, "continue");
            json_object_object_del(md, "remainingItemCount");
        }
    }
    if (out) {
        *out = all;
        all = NULL;
    }
    rc = 0;
out:
    free(cont);
    json_object_put(page);
    json_object_put(all);
    return rc;
}

static int write_call(kube_client_t *c, const char *method, const kube_resource_t *r, const char *ns,
                      const char *name, const char *sub, const char *query, const char *ctype, json_object *body,
                      json_object **out, kube_error_t *e)
{
    sbuf_t p = {0};
    int rc = -1;
    call_t k = {.method = method, .content_type = ctype};
    if (out)
        *out = NULL;
    if (path_or_fail(&p, r, ns, name, sub, e) < 0)
        goto out;
    if (query)
        sb_str(&p, query);
    if (p.oom) {
        kube_error_set(e, KUBE_ERR_TRANSPORT, "out of memory");
        goto out;
    }
    k.path = p.p;
    if (body)
        k.body = body_of(body, &k.body_len);
    rc = do_call(c, &k, out, e);
out:
    free(p.p);
    return rc;
}

int kube_create(kube_client_t *c, const kube_resource_t *r, const char *ns, json_object *obj, json_object **out,
                kube_error_t *e)
{
    if (!obj) {
        kube_error_set(e, KUBE_ERR_BAD_REQUEST, "no object");
        return -1;
    }
    return write_call(c, "POST", r, ns, NULL, NULL, NULL, NULL, obj, out, e);
}

int kube_update(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                const char *subresource, json_object *obj, json_object **out, kube_error_t *e)
{
    if (!obj || !name) {
        kube_error_set(e, KUBE_ERR_BAD_REQUEST, "no object or name");
        return -1;
    }
    return write_call(c, "PUT", r, ns, name, subresource, NULL, NULL, obj, out, e);
}

int kube_update_status(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                       json_object *obj, json_object **out, kube_error_t *e)
{
    return kube_update(c, r, ns, name, "status", obj, out, e);
}

int kube_patch(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
               const kube_patch_opts_t *o, json_object *patch, json_object **out, kube_error_t *e)
{
    kube_patch_opts_t po = {0};
    const char *ctype;
    sbuf_t q = {0};
    bool first = true;
    int rc;

    if (o)
        po = *o;
    if (!patch || !name) {
        kube_error_set(e, KUBE_ERR_BAD_REQUEST, "no patch or name");
        return -1;
    }
    switch (po.type) {
    case KUBE_PATCH_JSON: ctype = "application/json-patch+json"; break;
    case KUBE_PATCH_STRATEGIC: ctype = "application/strategic-merge-patch+json"; break;
    case KUBE_PATCH_APPLY: ctype = "application/apply-patch+yaml"; break;
    case KUBE_PATCH_MERGE:
    default: ctype = "application/merge-patch+json"; break;
    }
    if (po.type == KUBE_PATCH_APPLY && !(po.field_manager && po.field_manager[0])) {
        kube_error_set(e, KUBE_ERR_BAD_REQUEST, "server-side apply needs a field manager");
        return -1;
    }
    sb_query(&q, &first, "fieldManager", po.field_manager && po.field_manager[0] ? po.field_manager : NULL);
    if (po.type == KUBE_PATCH_APPLY && po.force)
        sb_query(&q, &first, "force", "true");
    if (q.oom) {
        kube_error_set(e, KUBE_ERR_TRANSPORT, "out of memory");
        return -1;
    }
    rc = write_call(c, "PATCH", r, ns, name, po.subresource, q.p, ctype, patch, out, e);
    free(q.p);
    return rc;
}

int kube_delete(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                const kube_delete_opts_t *o, json_object **out, kube_error_t *e)
{
    json_object *opts = NULL; /* owned */
    int rc = -1;
    if (!name) {
        kube_error_set(e, KUBE_ERR_BAD_REQUEST, "no name");
        return -1;
    }
    if (o) {
        opts = json_object_new_object();
        if (!opts) {
            kube_error_set(e, KUBE_ERR_TRANSPORT, "out of memory");
            return -1;
        }
        json_object_object_add(opts, "kind", json_object_new_string("DeleteOptions"));
        json_object_object_add(opts, "apiVersion", json_object_new_string("v1"));
        if (o->precondition_uid || o->precondition_resource_version) {
            json_object *pre = json_object_new_object();
            if (o->precondition_uid)
                json_object_object_add(pre, "uid", json_object_new_string(o->precondition_uid));
            if (o->precondition_resource_version)
                json_object_object_add(pre, "resourceVersion",
                                       json_object_new_string(o->precondition_resource_version));
            json_object_object_add(opts, "preconditions", pre);
        }
        if (o->propagation_policy)
            json_object_object_add(opts, "propagationPolicy", json_object_new_string(o->propagation_policy));
        if (o->has_grace_period)
            json_object_object_add(opts, "gracePeriodSeconds", json_object_new_int64(o->grace_period_s));
    }
    rc = write_call(c, "DELETE", r, ns, name, NULL, NULL, NULL, opts, out, e);
    json_object_put(opts);
    return rc;
}

int kube_request(kube_client_t *c, const char *method, const char *path_and_query, const char *content_type,
                 json_object *body, json_object **out, kube_error_t *e)
{
    call_t k = {.method = method ? method : "GET", .path = path_and_query, .content_type = content_type};
    if (out)
        *out = NULL;
    if (!path_and_query || path_and_query[0] != '/') {
        kube_error_set(e, KUBE_ERR_BAD_REQUEST, "path must start with /");
        return -1;
    }
    if (body)
        k.body = body_of(body, &k.body_len);
    return do_call(c, &k, out, e);
}

/* ---- watch ---- */

static const char *const event_names[] = {
    [KUBE_WATCH_ADDED] = "ADDED",       [KUBE_WATCH_MODIFIED] = "MODIFIED", [KUBE_WATCH_DELETED] = "DELETED",
    [KUBE_WATCH_BOOKMARK] = "BOOKMARK", [KUBE_WATCH_ERROR] = "ERROR",
};

int kube_watch_event_parse(const char *s, enum kube_watch_event *out)
{
    for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++) {
        if (s && strcmp(s, event_names[i]) == 0) {
            *out = (enum kube_watch_event)i;
            return 0;
        }
    }
    return -1;
}

const char *kube_watch_event_name(enum kube_watch_event t)
{
    if ((unsigned)t >= sizeof(event_names) / sizeof(event_names[0]))
        return "UNKNOWN";
    return event_names[t];
}

struct kube_watch_decoder {
    kube_watch_fn fn;
    void *ud;
    size_t max_line;
    char *buf; /* a partial line carried over between chunks */
    size_t len, cap;
};

kube_watch_decoder_t *kube_watch_decoder_new(kube_watch_fn fn, void *ud, size_t max_line)
{
    kube_watch_decoder_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->fn = fn;
    d->ud = ud;
    d->max_line = max_line ? max_line : MAX_WATCH_LINE;
    return d;
}

void kube_watch_decoder_free(kube_watch_decoder_t *d)
{
    if (!d)
        return;
    free(d->buf);
    free(d);
}

/* Decodes one complete line. Returns 0, 1 (stop asked) or -1. */
static int decode_line(kube_watch_decoder_t *d, const char *line, size_t len, char *err, size_t errlen)
{
    json_object *ev = NULL;    /* owned */
    json_object *type = NULL, *obj = NULL; /* borrowed */
    enum kube_watch_event t;
    int rc = -1;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return 0; /* blank keep-alive line */
    ev = parse_json(line, len, err, errlen);
    if (!ev)
        goto out;
    if (!json_object_is_type(ev, json_type_object) || !json_object_object_get_ex(ev, "type", &type) ||
        !json_object_is_type(type, json_type_string) || !json_object_object_get_ex(ev, "object", &obj) ||
        !json_object_is_type(obj, json_type_object)) {
        snprintf(err, errlen, "not a watch event");
        goto out;
    }
    if (kube_watch_event_parse(json_object_get_string(type), &t) < 0) {
        snprintf(err, errlen, "unknown watch event type");
        goto out;
    }
    rc = d->fn(d->ud, t, obj) < 0 ? 1 : 0;
out:
    json_object_put(ev);
    return rc;
}

int kube_watch_decoder_feed(kube_watch_decoder_t *d, const char *data, size_t len, char *err, size_t errlen)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        int rc;
        if (d->len + n > d->max_line) {
            snprintf(err, errlen, "watch event larger than %zu bytes", d->max_line);
            return -1;
        }
        if (!nl || d->len > 0) {
            /* Carry the partial line over (or complete a carried one). */
            if (d->len + n + 1 > d->cap) {
                size_t ncap = d->cap ? d->cap : 4096;
                char *nb;
                while (ncap < d->len + n + 1)
                    ncap *= 2;
                nb = realloc(d->buf, ncap);
                if (!nb) {
                    snprintf(err, errlen, "out of memory");
                    return -1;
                }
                d->buf = nb;
                d->cap = ncap;
            }
            memcpy(d->buf + d->len, data, n);
            d->len += n;
            if (!nl)
                return 0;
            rc = decode_line(d, d->buf, d->len, err, errlen);
            d->len = 0;
        } else {
            rc = decode_line(d, data, n, err, errlen);
        }
        if (rc != 0)
            return rc;
        data += n + 1;
        len -= n + 1;
    }
    return 0;
}

#define WATCH_ERRBODY_MAX 65536

typedef struct watch_ctx {
    kube_watch_decoder_t *dec;
    const atomic_int *stop;
    bool stopped;      /* by *stop or the callback */
    bool bad;          /* decoder error */
    char dec_err[160];
    char raw[WATCH_ERRBODY_MAX]; /* the first bytes, to decode an error Status when the answer is not 200 */
    size_t raw_len;
} watch_ctx_t;

static int watch_on_data(void *ud, const char *data, size_t len)
{
    watch_ctx_t *w = ud;
    int rc;
    if (w->raw_len < sizeof(w->raw) - 1) {
        size_t n = len < sizeof(w->raw) - 1 - w->raw_len ? len : sizeof(w->raw) - 1 - w->raw_len;
        memcpy(w->raw + w->raw_len, data, n);
        w->raw_len += n;
    }
    if (w->stop && atomic_load(w->stop)) {
        w->stopped = true;
        return -1;
    }
    rc = kube_watch_decoder_feed(w->dec, data, len, w->dec_err, sizeof(w->dec_err));
    if (rc < 0) {
        w->bad = true;
        return -1;
    }
    if (rc > 0) {
        w->stopped = true;
        return -1;
    }
    return 0;
}

int kube_watch(kube_client_t *c, const kube_resource_t *r, const char *ns, const kube_watch_opts_t *o,
               kube_watch_fn fn, void *ud, bool *stopped_by_caller, kube_error_t *e)
{
    kube_watch_opts_t wo = {0};
    sbuf_t p = {0}, url = {0};
    bool first = true;
    watch_ctx_t *w = NULL;
    char accept[160], err[HTTP_ERR_LEN];
    char *auth = NULL;
    const char *headers[3];
    http_request_t req = {0};
    http_response_t resp = {0};
    int rc = -1, hrc;
    long timeout_s;

    if (o)
        wo = *o;
    if (stopped_by_caller)
        *stopped_by_caller = false;
    kube_error_clear(e);
    timeout_s = wo.timeout_s > 0 ? wo.timeout_s : 300;
    if (path_or_fail(&p, r, ns, NULL, NULL, e) < 0)
        goto out;
    sb_query(&p, &first, "watch", "true");
    sb_query(&p, &first, "labelSelector", wo.label_selector && wo.label_selector[0] ? wo.label_selector : NULL);
    sb_query(&p, &first, "fieldSelector", wo.field_selector && wo.field_selector[0] ? wo.field_selector : NULL);
    sb_query(&p, &first, "resourceVersion",
             wo.resource_version && wo.resource_version[0] ? wo.resource_version : NULL);
    if (wo.allow_bookmarks)
        sb_query(&p, &first, "allowWatchBookmarks", "true");
    sb_query_long(&p, &first, "timeoutSeconds", timeout_s);
    sb_str(&url, c->server);
    if (p.p)
        sb_str(&url, p.p);
    w = calloc(1, sizeof(*w));
    if (p.oom || url.oom || !w || !(w->dec = kube_watch_decoder_new(fn, ud, MAX_WATCH_LINE))) {
        kube_error_set(e, KUBE_ERR_TRANSPORT, "out of memory");
        goto out;
    }
    w->stop = wo.stop;
    snprintf(accept, sizeof(accept), "Accept: %s", wo.metadata_only ? ACCEPT_META : "application/json");
    rate_limit(c);
    auth = auth_header(c, false);
    headers[0] = accept;
    headers[1] = auth;
    headers[2] = NULL;
    req.method = "GET";
    req.url = url.p;
    req.headers = headers;
    req.timeout_ms = -1;
    /* The server ends the watch after timeoutSeconds; a silent, dead connection is noticed by the idle
     * (low-speed) limit. */
    req.low_speed_time_s = wo.idle_timeout_s > 0 ? wo.idle_timeout_s : timeout_s + 30;
    req.on_data = watch_on_data;
    req.on_data_ud = w;
    req.abort_flag = wo.stop; /* a silent stream still stops within about a second */
    hrc = http_do(c->http, &req, &resp, err, sizeof(err));
    if (w->stopped || (wo.stop && atomic_load(wo.stop))) {
        if (stopped_by_caller)
            *stopped_by_caller = true;
        rc = 0;
        goto out;
    }
    if (hrc == 0 && resp.status == 200 && !w->bad) {
        rc = 0; /* the server ended the watch */
        goto out;
    }
    if (hrc == 0 || w->bad) {
        /* Not a stream of events: an error answer (a Status), e.g. 410 Gone for a too-old version. */
        json_object *st = w->raw_len ? parse_json(w->raw, w->raw_len, err, sizeof(err)) : NULL; /* owned */
        const char *kind = st ? obj_str(st, "kind", NULL) : NULL;
        if (kind && strcmp(kind, "Status") == 0) {
            kube_error_from_status(e, st, hrc == 0 ? resp.status : 0);
        } else if (hrc == 0 && resp.status != 200) {
            kube_error_from_response(e, resp.status, w->raw, w->raw_len,
                                     http_response_header(&resp, "Retry-After"));
        } else {
            kube_error_set(e, KUBE_ERR_DECODE, w->dec_err);
        }
        json_object_put(st);
        if (hrc == 0 && resp.status == 401 && c->token_file)
            free_secret_str(auth_header(c, true)); /* next attempt uses a re-read token */
        goto out;
    }
    kube_error_transport(e, err, looks_like_timeout(err));
out:
    http_response_clear(&resp);
    free_secret_str(auth);
    if (w)
        kube_watch_decoder_free(w->dec);
    free(w);
    free(p.p);
    free(url.p);
    return rc;
}
