/* SPDX-License-Identifier: Apache-2.0 */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "version.h"

#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define HTTP_DEFAULT_MAX_BODY (16u * 1024u * 1024u)
#define HTTP_MAX_HEADERS 128
#define HTTP_MAX_HEADER_BYTES (64u * 1024u)

struct http_client {
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    char *ca_file;
    char *ca_pem;
    char *cert_pem;
    char *key_pem;
    char *user_agent;
    bool insecure;
    bool https_only;
    long connect_timeout_ms;
};

/* Per-transfer state handed to the libcurl callbacks. */
struct xfer {
    const http_request_t *req;
    http_response_t *resp;
    char *buf;
    size_t len, cap, max;
    size_t header_bytes;
    bool too_big;
    bool too_many_headers;
    bool aborted;
    bool cancelled;
};

int http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    http_client_t *c = ud;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&c->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    http_client_t *c = ud;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&c->locks[data]);
}

static int dup_opt(char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

http_client_t *http_client_new(const http_client_opts_t *opts, char *err, size_t errlen)
{
    http_client_opts_t none = {0};
    http_client_t *c = calloc(1, sizeof(*c));
    if (!opts)
        opts = &none;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    c->insecure = opts->insecure_skip_verify;
    c->https_only = opts->https_only;
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    if (dup_opt(&c->ca_file, opts->ca_file) || dup_opt(&c->ca_pem, opts->ca_pem) ||
        dup_opt(&c->cert_pem, opts->client_cert_pem) || dup_opt(&c->key_pem, opts->client_key_pem)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (opts->user_agent) {
        if (dup_opt(&c->user_agent, opts->user_agent))
            goto oom;
    } else {
        char ua[64];
        snprintf(ua, sizeof(ua), "kacme/%s", kacme_version());
        if (dup_opt(&c->user_agent, ua))
            goto oom;
    }
    if ((c->cert_pem == NULL) != (c->key_pem == NULL)) {
        snprintf(err, errlen, "client certificate and client key must be given together");
        goto fail;
    }
    c->share = curl_share_init();
    if (!c->share)
        goto oom;
    if (curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
        snprintf(err, errlen, "cannot set up the libcurl share");
        goto fail;
    }
    return c;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    http_client_free(c);
    return NULL;
}

void http_client_free(http_client_t *c)
{
    if (!c)
        return;
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->ca_file);
    free(c->ca_pem);
    free(c->cert_pem);
    if (c->key_pem) {
        /* private key material: do not leave it in freed memory */
        memset(c->key_pem, 0, strlen(c->key_pem));
        free(c->key_pem);
    }
    free(c->user_agent);
    free(c);
}

static void headers_clear(http_response_t *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    r->headers = NULL;
    r->n_headers = 0;
}

void http_response_clear(http_response_t *resp)
{
    if (!resp)
        return;
    headers_clear(resp);
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    x->header_bytes += n;
    if (x->header_bytes > HTTP_MAX_HEADER_BYTES) {
        x->too_many_headers = true;
        return 0;
    }
    /* A new status line starts a new header block (1xx interim responses). */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        headers_clear(x->resp);
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon || colon == data)
        return n;
    if (x->resp->n_headers >= HTTP_MAX_HEADERS) {
        x->too_many_headers = true;
        return 0;
    }
    const char *v = colon + 1, *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    http_header_t *hs = realloc(x->resp->headers, (x->resp->n_headers + 1) * sizeof(*hs));
    if (!hs)
        return 0;
    x->resp->headers = hs;
    http_header_t *h = &hs[x->resp->n_headers];
    h->name = strndup(data, (size_t)(colon - data));
    h->value = strndup(v, (size_t)(end - v));
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        return 0;
    }
    x->resp->n_headers++;
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (x->req->on_data) {
        if (x->req->on_data(x->req->on_data_ud, data, n) != 0) {
            x->aborted = true;
            return 0;
        }
        return n;
    }
    if (x->len + n > x->max) {
        x->too_big = true;
        return 0;
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + n + 1)
            cap *= 2;
        char *b = realloc(x->buf, cap);
        if (!b)
            return 0;
        x->buf = b;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

/* libcurl calls this about once a second even on a silent connection: the only way to stop a blocked
 * transfer promptly from another thread. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    struct xfer *x = ud;
    if (x->req->abort_flag && atomic_load(x->req->abort_flag)) {
        x->cancelled = true;
        return 1;
    }
    return 0;
}

/* Sets a PEM blob option; libcurl copies the blob. */
static CURLcode set_blob(CURL *h, CURLoption opt, const char *pem)
{
    struct curl_blob b = {.data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};
    return curl_easy_setopt(h, opt, &b);
}

int http_do(http_client_t *c, const http_request_t *req, http_response_t *resp, char *err, size_t errlen)
{
    int rc = -1;
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    struct xfer x = {.req = req, .resp = resp};
    const char *method = req->method ? req->method : "GET";

    memset(resp, 0, sizeof(*resp));
    x.max = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
    if (!req->url) {
        snprintf(err, errlen, "no URL");
        goto out;
    }
    if (c->https_only && strncasecmp(req->url, "https://", 8) != 0) {
        snprintf(err, errlen, "refusing non-https URL %s", req->url);
        goto out;
    }
    h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (const char *const *p = req->headers; p && *p; p++) {
        struct curl_slist *n = curl_slist_append(hdrs, *p);
        if (!n) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        hdrs = n;
    }
    /* libcurl adds "Expect: 100-continue" to large bodies; API servers do not need the round trip. */
    if (req->body) {
        struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
        if (!n)
            goto out;
        hdrs = n;
    }
    long timeout = req->timeout_ms == 0 ? HTTP_DEFAULT_TIMEOUT_MS : (req->timeout_ms < 0 ? 0 : req->timeout_ms);
    CURLcode e = CURLE_OK;
#define SET(opt, val)                                                                                             \
    do {                                                                                                          \
        if (e == CURLE_OK)                                                                                        \
            e = curl_easy_setopt(h, opt, val);                                                                    \
    } while (0)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_SHARE, c->share);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, curl_err);
    SET(CURLOPT_PROTOCOLS_STR, c->https_only ? "https" : "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, timeout);
    SET(CURLOPT_USERAGENT, c->user_agent);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, &x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &x);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    if (req->abort_flag) {
        SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        SET(CURLOPT_XFERINFODATA, &x);
        SET(CURLOPT_NOPROGRESS, 0L);
    }
    if (req->low_speed_time_s > 0) {
        SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SET(CURLOPT_LOW_SPEED_TIME, req->low_speed_time_s);
    }
    if (c->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->ca_pem) {
        if (e == CURLE_OK)
            e = set_blob(h, CURLOPT_CAINFO_BLOB, c->ca_pem);
    } else if (c->ca_file) {
        SET(CURLOPT_CAINFO, c->ca_file);
    }
    if (c->cert_pem && e == CURLE_OK) {
        e = set_blob(h, CURLOPT_SSLCERT_BLOB, c->cert_pem);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
        if (e == CURLE_OK)
            e = set_blob(h, CURLOPT_SSLKEY_BLOB, c->key_pem);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (strcmp(method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        SET(CURLOPT_CUSTOMREQUEST, method);
    }
    if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }
#undef SET
    if (e != CURLE_OK) {
        snprintf(err, errlen, "libcurl option: %s", curl_easy_strerror(e));
        goto out;
    }
    e = curl_easy_perform(h);
    if (e != CURLE_OK) {
        if (x.too_big)
            snprintf(err, errlen, "response body from %s exceeds %zu bytes", req->url, x.max);
        else if (x.too_many_headers)
            snprintf(err, errlen, "response headers from %s exceed the limit", req->url);
        else if (x.aborted)
            snprintf(err, errlen, "aborted by callback");
        else if (x.cancelled)
            snprintf(err, errlen, "aborted");
        else
            snprintf(err, errlen, "%s: %s", req->url, curl_err[0] ? curl_err : curl_easy_strerror(e));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &resp->total_s);
    resp->body = x.buf;
    resp->body_len = x.len;
    x.buf = NULL;
    rc = 0;
out:
    if (rc != 0)
        headers_clear(resp);
    free(x.buf);
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    return rc;
}

const char *http_response_header(const http_response_t *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

void http_response_each_header(const http_response_t *resp, const char *name,
                               void (*fn)(void *ud, const char *value), void *ud)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            fn(ud, resp->headers[i].value);
}
