/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client behaviour against a scripted HTTPS ACME server (libmicrohttpd with TLS on 127.0.0.1:0) replaying
 * recorded-style responses: things the packaged Pebble 2.4.0 cannot show (profiles, ARI renewalInfo and
 * replaces) and exact error handling (rateLimited/429 → retry after without sleeping, 5xx, badNonce
 * retried with the error response's nonce at most 5 times, finalize 403 on an already valid order,
 * processing + Retry-After, size caps, bad directory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme/acme.h"
#include "acme/acme_parse.h"
#include "util/http.h"

/* ----- scripted server --------------------------------------------------------------------------------- */

#define MAX_RULES 32
#define MAX_LOG 64

typedef struct rule {
    const char *method, *path;
    int status;
    const char *headers[4];  /* "Name: value" */
    char *body;              /* "%B" is replaced by the base URL */
    int times;               /* uses left; -1 forever */
} rule_t;

typedef struct logged {
    char method[8], path[256];
    char *body;
} logged_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rule_t rules[MAX_RULES];
static size_t n_rules;
static logged_t req_log[MAX_LOG];
static size_t n_log;
static int nonce_counter;
static char base[64];
static struct MHD_Daemon *mhd;
static char ca_pem[4096], srv_cert_pem[4096], srv_key_pem[4096];

static char *expand(const char *body)
{
    size_t cap = strlen(body) * 2 + 256, o = 0;
    char *out = malloc(cap);
    for (const char *p = body; *p; p++) {
        if (p[0] == '%' && p[1] == 'B') {
            o += (size_t)snprintf(out + o, cap - o, "%s", base);
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

static void add_rule(const char *method, const char *path, int status, const char *h1, const char *body, int times)
{
    pthread_mutex_lock(&mu);
    assert_true(n_rules < MAX_RULES);
    rule_t *r = &rules[n_rules++];
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->path = path;
    r->status = status;
    r->headers[0] = h1;
    r->body = expand(body ? body : "");
    r->times = times;
    pthread_mutex_unlock(&mu);
}

static void reset_server(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_rules; i++)
        free(rules[i].body);
    n_rules = 0;
    for (size_t i = 0; i < n_log; i++)
        free(req_log[i].body);
    n_log = 0;
    pthread_mutex_unlock(&mu);
}

typedef struct upload {
    char *buf;
    size_t len;
} upload_t;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    upload_t *up = *con_cls;
    if (!up) {
        up = calloc(1, sizeof(*up));
        *con_cls = up;
        return MHD_YES;
    }
    if (*data_size) {
        up->buf = realloc(up->buf, up->len + *data_size + 1);
        memcpy(up->buf + up->len, data, *data_size);
        up->len += *data_size;
        up->buf[up->len] = '\0';
        *data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&mu);
    if (n_log < MAX_LOG) {
        logged_t *l = &req_log[n_log++];
        snprintf(l->method, sizeof(l->method), "%s", method);
        snprintf(l->path, sizeof(l->path), "%s", url);
        l->body = up->buf ? strdup(up->buf) : NULL;
    }
    rule_t *r = NULL;
    for (size_t i = 0; i < n_rules; i++) {
        if (strcmp(rules[i].method, method) == 0 && strcmp(rules[i].path, url) == 0 && rules[i].times != 0) {
            r = &rules[i];
            if (r->times > 0)
                r->times--;
            break;
        }
    }
    int status = r ? r->status : 404;
    char *body = strdup(r ? r->body : "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"no rule\"}");
    const char *h1 = r ? r->headers[0] : NULL;
    char nonce[32];
    snprintf(nonce, sizeof(nonce), "nonce-%d", ++nonce_counter);
    pthread_mutex_unlock(&mu);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Replay-Nonce", nonce);
    if (h1) {
        char name[64];
        const char *colon = strchr(h1, ':');
        snprintf(name, sizeof(name), "%.*s", (int)(colon - h1), h1);
        MHD_add_response_header(resp, name, colon + 2);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    upload_t *up = *con_cls;
    if (up) {
        free(up->buf);
        free(up);
    }
    *con_cls = NULL;
}

static void pem_of_cert(X509 *x, char *out, size_t outsz)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *d;
    long n = BIO_get_mem_data(b, &d);
    snprintf(out, outsz, "%.*s", (int)n, d);
    BIO_free(b);
}

static X509 *mk_cert(const char *cn, EVP_PKEY *k, X509 *issuer, EVP_PKEY *ik, bool ca)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_NAME_free(n);
    X509_set_pubkey(x, k);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, ca ? NID_basic_constraints : NID_subject_alt_name,
                                            ca ? "critical,CA:TRUE" : "IP:127.0.0.1");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    if (!ca) {
        /* AKI so the cert can serve as an ARI subject too */
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
        if (e) {
            X509_add_ext(x, e, -1);
            X509_EXTENSION_free(e);
        }
    } else {
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    X509_sign(x, ik ? ik : k, EVP_sha256());
    return x;
}

static int server_up(void **state)
{
    (void)state;
    EVP_PKEY *cak = EVP_EC_gen("P-256"), *k = EVP_EC_gen("P-256");
    X509 *ca = mk_cert("mock CA", cak, NULL, NULL, true);
    X509 *srv = mk_cert("mock ACME", k, ca, cak, false);
    pem_of_cert(ca, ca_pem, sizeof(ca_pem));
    pem_of_cert(srv, srv_cert_pem, sizeof(srv_cert_pem));
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *d;
    long n = BIO_get_mem_data(b, &d);
    snprintf(srv_key_pem, sizeof(srv_key_pem), "%.*s", (int)n, d);
    BIO_free(b);
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                           on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_HTTPS_MEM_KEY,
                           srv_key_pem, MHD_OPTION_HTTPS_MEM_CERT, srv_cert_pem, MHD_OPTION_NOTIFY_COMPLETED,
                           on_completed, NULL, MHD_OPTION_END);
    if (!mhd)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(base, sizeof(base), "https://127.0.0.1:%u", (unsigned)info->port);
    return 0;
}

static int server_down(void **state)
{
    (void)state;
    reset_server();
    MHD_stop_daemon(mhd);
    return 0;
}

/* ----- helpers ----------------------------------------------------------------------------------------- */

static const char *dir_plain = "{\"newNonce\":\"%B/nonce\",\"newAccount\":\"%B/acct\",\"newOrder\":\"%B/order\","
                               "\"revokeCert\":\"%B/revoke\",\"meta\":{\"termsOfService\":\"%B/tos\"}}";
static const char *dir_full = "{\"newNonce\":\"%B/nonce\",\"newAccount\":\"%B/acct\",\"newOrder\":\"%B/order\","
                              "\"revokeCert\":\"%B/revoke\",\"renewalInfo\":\"%B/ari\",\"meta\":{\"profiles\":"
                              "{\"classic\":\"The same profile you know\",\"shortlived\":\"6 days\"}}}";
static const char *order_pending = "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":"
                                   "\"a.example\"}],\"authorizations\":[\"%B/authz/1\"],\"finalize\":\"%B/fin/1\"}";

static int requests;
/* "action METHOD status" of every metered round trip since client_for, in order */
static char metered[MAX_LOG][64];
static size_t n_metered;
static void count_metric(void *ud, const char *action, const char *method, const char *scheme, const char *host,
                         int status, double seconds)
{
    (void)ud;
    (void)scheme;
    (void)host;
    (void)seconds;
    pthread_mutex_lock(&mu);
    if (n_metered < MAX_LOG)
        snprintf(metered[n_metered++], sizeof(metered[0]), "%s %s %d", action, method, status);
    pthread_mutex_unlock(&mu);
    __atomic_add_fetch(&requests, 1, __ATOMIC_SEQ_CST);
}

/* Asserts the metered round trips since the last call were exactly the NULL-terminated list, then forgets
 * them. */
static void expect_metered(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    size_t i = 0;
    pthread_mutex_lock(&mu);
    for (const char *want = first; want; want = va_arg(ap, const char *), i++) {
        if (i >= n_metered)
            fail_msg("missing metered request %zu: want \"%s\"", i, want);
        if (strcmp(metered[i], want) != 0)
            fail_msg("metered request %zu: got \"%s\", want \"%s\"", i, metered[i], want);
    }
    if (i != n_metered)
        fail_msg("unexpected metered request %zu: \"%s\"", i, metered[i]);
    n_metered = 0;
    pthread_mutex_unlock(&mu);
    va_end(ap);
}

static acme_client_t *client_for(const char *directory, acme_key_t **key)
{
    char err[256], url[128];
    reset_server();
    add_rule("GET", "/dir", 200, NULL, directory, -1);
    add_rule("HEAD", "/nonce", 200, NULL, "", -1);
    snprintf(url, sizeof(url), "%s/dir", base);
    *key = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    acme_client_opts_t o = {.directory_url = url, .ca_pem = ca_pem, .metrics = count_metric};
    acme_client_t *c = acme_client_new(&o, *key, err, sizeof(err));
    assert_non_null(c);
    acme_set_account_url(c, "https://example/acct/1");
    requests = 0;
    pthread_mutex_lock(&mu);
    n_metered = 0;
    pthread_mutex_unlock(&mu);
    return c;
}

static size_t count_posts(const char *path)
{
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_log; i++)
        if (strcmp(req_log[i].method, "POST") == 0 && strcmp(req_log[i].path, path) == 0)
            n++;
    pthread_mutex_unlock(&mu);
    return n;
}

/* JSON text of the payload / protected header of the k-th POST to path (caller frees). */
static char *jws_part(const char *path, size_t k, const char *part)
{
    char *res = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_log; i++) {
        if (strcmp(req_log[i].method, "POST") != 0 || strcmp(req_log[i].path, path) != 0 || k-- != 0)
            continue;
        json_object *j = json_tokener_parse(req_log[i].body);
        json_object *v = NULL;
        if (j && json_object_object_get_ex(j, part, &v)) {
            uint8_t *b = NULL;
            size_t n = 0;
            if (acme_b64url_decode(json_object_get_string(v), strlen(json_object_get_string(v)), &b, &n) == 0)
                res = (char *)b;
        }
        json_object_put(j);
        break;
    }
    pthread_mutex_unlock(&mu);
    return res;
}

/* ----- tests ------------------------------------------------------------------------------------------- */

static void test_profiles(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for(dir_full, &k);
    add_rule("POST", "/order", 201, "Location: https://x/order/1", order_pending, -1);
    acme_identifier_t id = {"dns", "a.example"};
    acme_order_request_t req = {.identifiers = &id, .n_identifiers = 1, .profile = "shortlived",
                                .not_after = "2030-01-01T00:00:00Z"};
    acme_order_t *o = NULL;
    acme_error_t e;
    assert_int_equal(acme_order_new(c, &req, &o, &e), 0);
    assert_string_equal(o->url, "https://x/order/1");
    acme_order_free(o);
    char *payload = jws_part("/order", 0, "payload");
    assert_non_null(strstr(payload, "\"profile\":\"shortlived\""));
    assert_non_null(strstr(payload, "\"notAfter\":\"2030-01-01T00:00:00Z\""));
    free(payload);
    /* unknown profile: terminal, names the offered ones, nothing sent */
    req.profile = "tlsserver";
    assert_int_equal(acme_order_new(c, &req, &o, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TERMINAL);
    assert_non_null(strstr(e.detail, "tlsserver"));
    assert_non_null(strstr(e.detail, "classic, shortlived"));
    assert_int_equal(count_posts("/order"), 1);
    acme_client_free(c);
    acme_key_free(k);
}

static void test_ari(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for(dir_full, &k);
    char *id = NULL, err[128], path[256];
    assert_int_equal(acme_ari_cert_id(srv_cert_pem, &id, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "/ari/%s", id);
    add_rule("GET", path, 200, "Retry-After: 21600",
             "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"},"
             "\"explanationURL\":\"https://acme.example.com/docs/ari\"}", -1);
    acme_renewal_info_t ri;
    acme_error_t e;
    assert_int_equal(acme_renewal_info(c, srv_cert_pem, &ri, &e), 0);
    assert_int_equal(ri.window_start, 1735790400);
    assert_int_equal(ri.window_end, 1735876800);
    assert_int_equal(ri.retry_after_ms, 21600000);
    assert_string_equal(ri.explanation_url, "https://acme.example.com/docs/ari");
    acme_renewal_info_clear(&ri);

    /* replaces: sent when the directory has renewalInfo; alreadyReplaced → retried once without it. */
    add_rule("POST", "/order", 409, NULL,
             "{\"type\":\"urn:ietf:params:acme:error:alreadyReplaced\",\"detail\":\"already replaced\"}", 1);
    add_rule("POST", "/order", 201, "Location: https://x/order/2", order_pending, -1);
    acme_identifier_t ident = {"dns", "a.example"};
    acme_order_request_t req = {.identifiers = &ident, .n_identifiers = 1, .replaces = id};
    acme_order_t *o = NULL;
    assert_int_equal(acme_order_new(c, &req, &o, &e), 0);
    acme_order_free(o);
    char *p0 = jws_part("/order", 0, "payload"), *p1 = jws_part("/order", 1, "payload");
    char want[256];
    snprintf(want, sizeof(want), "\"replaces\":\"%s\"", id);
    assert_non_null(strstr(p0, want));
    assert_null(strstr(p1, "replaces"));
    free(p0);
    free(p1);
    free(id);
    acme_client_free(c);
    acme_key_free(k);
}

static void test_rate_limited(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for(dir_plain, &k);
    add_rule("POST", "/order", 429, "Retry-After: 120",
             "{\"type\":\"urn:ietf:params:acme:error:rateLimited\",\"detail\":\"too many new orders\"}", 1);
    add_rule("POST", "/order", 429, NULL, "", 1);
    acme_identifier_t id = {"dns", "a.example"};
    acme_order_request_t req = {.identifiers = &id, .n_identifiers = 1};
    acme_order_t *o = NULL;
    acme_error_t e;
    assert_int_equal(acme_order_new(c, &req, &o, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_RETRY_AFTER);
    assert_int_equal(e.retry_after_ms, 120000);
    assert_int_equal(e.http_status, 429);
    assert_true(acme_error_is(&e, "rateLimited"));
    assert_int_equal(count_posts("/order"), 1); /* handed back at once, not waited for */
    assert_int_equal(acme_order_new(c, &req, &o, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_RETRY_AFTER);
    assert_int_equal(e.retry_after_ms, ACME_DEFAULT_RETRY_AFTER_MS);
    acme_client_free(c);
    acme_key_free(k);
}

static void test_server_error(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for(dir_plain, &k);
    add_rule("POST", "/order/9", 503, NULL,
             "{\"type\":\"urn:ietf:params:acme:error:serverInternal\",\"detail\":\"maintenance\"}", -1);
    acme_order_t *o = NULL;
    acme_error_t e;
    char url[128];
    snprintf(url, sizeof(url), "%s/order/9", base);
    assert_int_equal(acme_order_get(c, url, &o, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    assert_int_equal(e.http_status, 503);
    assert_int_equal(count_posts("/order/9"), 1);
    /* malformed → terminal */
    add_rule("POST", "/authz/9", 400, NULL, "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"x\"}",
             -1);
    snprintf(url, sizeof(url), "%s/authz/9", base);
    acme_authz_t *a = NULL;
    assert_int_equal(acme_authz_get(c, url, &a, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TERMINAL);
    assert_true(acme_error_is(&e, "malformed"));
    /* a 200 with a body that is not an authorization: transient, with a clear message */
    add_rule("POST", "/authz/10", 200, NULL, "{\"status\":\"pending\"}", -1);
    snprintf(url, sizeof(url), "%s/authz/10", base);
    assert_int_equal(acme_authz_get(c, url, &a, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    assert_non_null(strstr(e.detail, "invalid authorization"));
    acme_client_free(c);
    acme_key_free(k);
}

static void test_bad_nonce(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for(dir_plain, &k);
    add_rule("POST", "/order/1", 400, NULL,
             "{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"JWS has an invalid anti-replay nonce\"}",
             -1);
    char url[128];
    snprintf(url, sizeof(url), "%s/order/1", base);
    acme_order_t *o = NULL;
    acme_error_t e;
    assert_int_equal(acme_order_get(c, url, &o, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    assert_true(acme_error_is(&e, "badNonce"));
    assert_int_equal(count_posts("/order/1"), 5);
    /* every retry used the nonce of the previous error response (nonces are numbered per response) */
    int prev = -1;
    for (size_t i = 0; i < 5; i++) {
        char *h = jws_part("/order/1", i, "protected");
        const char *n = strstr(h, "\"nonce\":\"nonce-");
        assert_non_null(n);
        int v = atoi(n + strlen("\"nonce\":\"nonce-"));
        if (prev >= 0)
            assert_int_equal(v, prev + 1);
        prev = v;
        assert_non_null(strstr(h, "\"kid\":\"https://example/acct/1\""));
        free(h);
    }
    /* then success after two badNonces */
    reset_server();
    add_rule("POST", "/order/1", 400, NULL, "{\"type\":\"urn:ietf:params:acme:error:badNonce\"}", 2);
    add_rule("POST", "/order/1", 200, "Retry-After: 2",
             "{\"status\":\"processing\",\"identifiers\":[],\"authorizations\":[],\"finalize\":\"f\"}", -1);
    assert_int_equal(acme_order_get(c, url, &o, &e), 0);
    assert_int_equal(o->status, ACME_STATUS_PROCESSING);
    assert_int_equal(o->retry_after_ms, 2000); /* the caller polls after 2 s */
    assert_int_equal(count_posts("/order/1"), 3);
    acme_order_free(o);
    acme_client_free(c);
    acme_key_free(k);
}

static void test_finalize_already_valid(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for(dir_plain, &k);
    add_rule("POST", "/fin/1", 403, NULL,
             "{\"type\":\"urn:ietf:params:acme:error:orderNotReady\",\"detail\":\"order is valid\"}", -1);
    add_rule("POST", "/order/1", 200, NULL,
             "{\"status\":\"valid\",\"identifiers\":[],\"authorizations\":[],\"finalize\":\"%B/fin/1\","
             "\"certificate\":\"%B/cert/1\"}", -1);
    char ourl[128], furl[128];
    snprintf(ourl, sizeof(ourl), "%s/order/1", base);
    snprintf(furl, sizeof(furl), "%s/fin/1", base);
    acme_order_t ready = {.url = ourl, .finalize = furl, .status = ACME_STATUS_READY};
    acme_order_t *o = NULL;
    acme_error_t e;
    const unsigned char csr[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    assert_int_equal(acme_order_finalize(c, &ready, csr, sizeof(csr), &o, &e), 0);
    assert_int_equal(o->status, ACME_STATUS_VALID);
    acme_order_free(o);
    assert_int_equal(count_posts("/fin/1"), 1);
    char *p = jws_part("/fin/1", 0, "payload");
    assert_string_equal(p, "{\"csr\":\"MAMCAQA\"}");
    free(p);
    /* a valid order is never finalized again */
    ready.status = ACME_STATUS_VALID;
    assert_int_equal(acme_order_finalize(c, &ready, csr, sizeof(csr), &o, &e), 0);
    acme_order_free(o);
    assert_int_equal(count_posts("/fin/1"), 1);
    acme_client_free(c);
    acme_key_free(k);
}

static void test_accounts(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for(dir_plain, &k);
    acme_set_account_url(c, NULL);
    /* 200 = the key already has an account → looked up with onlyReturnExisting */
    add_rule("POST", "/acct", 200, "Location: https://x/acct/5", "{\"status\":\"valid\"}", 1);
    add_rule("POST", "/acct", 200, "Location: https://x/acct/5",
             "{\"status\":\"valid\",\"contact\":[\"mailto:old@example.com\"]}", 1);
    acme_account_t *a = NULL;
    acme_error_t e;
    assert_int_equal(acme_account_register(c, "New@Example.com", NULL, &a, &e), 0);
    assert_string_equal(a->url, "https://x/acct/5");
    assert_string_equal(a->contacts[0], "mailto:old@example.com");
    acme_account_free(a);
    char *p0 = jws_part("/acct", 0, "payload"), *p1 = jws_part("/acct", 1, "payload");
    char *h0 = jws_part("/acct", 0, "protected");
    assert_non_null(strstr(p0, "\"contact\":[\"mailto:new@example.com\"]"));
    assert_non_null(strstr(p0, "\"termsOfServiceAgreed\":true"));
    assert_non_null(strstr(p1, "\"onlyReturnExisting\":true"));
    assert_non_null(strstr(h0, "\"jwk\":"));
    assert_null(strstr(h0, "\"kid\""));
    free(p0);
    free(p1);
    free(h0);
    char url[256];
    assert_true(acme_get_account_url(c, url, sizeof(url)));
    assert_string_equal(url, "https://x/acct/5");
    /* newAccount without Location: transient */
    reset_server();
    add_rule("GET", "/dir", 200, NULL, dir_plain, -1);
    add_rule("POST", "/acct", 201, NULL, "{\"status\":\"valid\"}", -1);
    assert_int_equal(acme_account_register(c, NULL, NULL, &a, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    acme_client_free(c);
    acme_key_free(k);
}

/* The action label of every round trip is cert-manager's name for the operation (behaviour §9.4): account
 * creation register_account, the onlyReturnExisting lookup get_registration (also after a 200 from
 * newAccount), polls wait_order / wait_authorization; a newNonce HEAD carries the action it is fetched for. */
static void test_metric_actions(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for(dir_plain, &k);
    acme_set_account_url(c, NULL);
    add_rule("POST", "/acct", 200, "Location: https://x/acct/5", "{\"status\":\"valid\"}", -1);
    acme_account_t *a = NULL;
    acme_error_t e;
    /* register → 200 (exists) → lookup; the first POST reuses no nonce, the lookup takes the one returned */
    assert_int_equal(acme_account_register(c, "ops@example.com", NULL, &a, &e), 0);
    acme_account_free(a);
    expect_metered("discover GET 200", "register_account HEAD 200", "register_account POST 200",
                   "get_registration POST 200", NULL);
    /* a lookup on its own (fresh client: nonce fetched under the lookup's name) */
    acme_client_free(c);
    acme_key_free(k);
    c = client_for(dir_plain, &k);
    acme_set_account_url(c, NULL);
    add_rule("POST", "/acct", 200, "Location: https://x/acct/5", "{\"status\":\"valid\"}", -1);
    assert_int_equal(acme_account_lookup(c, &a, &e), 0);
    acme_account_free(a);
    expect_metered("discover GET 200", "get_registration HEAD 200", "get_registration POST 200", NULL);

    /* order and authorization: a plain get vs a poll */
    add_rule("POST", "/order/1", 200, NULL, order_pending, -1);
    add_rule("POST", "/authz/1", 200, NULL,
             "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
             "\"challenges\":[{\"type\":\"http-01\",\"url\":\"%B/chall/1\",\"token\":\"tok\","
             "\"status\":\"pending\"}]}", -1);
    char ourl[128], aurl[128];
    snprintf(ourl, sizeof(ourl), "%s/order/1", base);
    snprintf(aurl, sizeof(aurl), "%s/authz/1", base);
    acme_order_t *o = NULL;
    assert_int_equal(acme_order_get(c, ourl, &o, &e), 0);
    acme_order_free(o);
    assert_int_equal(acme_order_poll(c, ourl, &o, &e), 0);
    assert_int_equal(o->status, ACME_STATUS_PENDING);
    acme_order_free(o);
    acme_authz_t *az = NULL;
    assert_int_equal(acme_authz_get(c, aurl, &az, &e), 0);
    acme_authz_free(az);
    assert_int_equal(acme_authz_poll(c, aurl, &az, &e), 0);
    assert_int_equal(az->status, ACME_STATUS_PENDING);
    assert_string_equal(az->url, aurl);
    acme_authz_free(az);
    expect_metered("get_order POST 200", "wait_order POST 200", "get_authorization POST 200",
                   "wait_authorization POST 200", NULL);
    /* a failing poll is metered under its name too */
    add_rule("POST", "/authz/2", 404, NULL, "{\"type\":\"urn:ietf:params:acme:error:malformed\"}", -1);
    snprintf(aurl, sizeof(aurl), "%s/authz/2", base);
    assert_int_equal(acme_authz_poll(c, aurl, &az, &e), -1);
    assert_null(az);
    expect_metered("wait_authorization POST 404", NULL);
    acme_client_free(c);
    acme_key_free(k);
}

static void test_bad_directory_and_caps(void **state)
{
    (void)state;
    acme_key_t *k;
    acme_client_t *c = client_for("{\"newNonce\":1}", &k);
    const acme_directory_t *d;
    acme_error_t e;
    assert_int_equal(acme_directory_get(c, &d, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    assert_non_null(strstr(e.detail, "invalid ACME directory"));
    acme_client_free(c);
    acme_key_free(k);

    /* certificate bigger than 1 MiB: refused */
    c = client_for(dir_plain, &k);
    size_t big = 1100 * 1024;
    char *body = malloc(big + 1);
    memset(body, 'A', big);
    body[big] = '\0';
    add_rule("POST", "/cert/1", 200, NULL, body, -1);
    free(body);
    char url[128];
    snprintf(url, sizeof(url), "%s/cert/1", base);
    char *pem = NULL;
    assert_int_equal(acme_cert_fetch(c, url, NULL, &pem, NULL, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    assert_null(pem);
    acme_client_free(c);
    acme_key_free(k);

    /* http:// directories are refused */
    char err[128];
    k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    acme_client_opts_t o = {.directory_url = "http://127.0.0.1:1/dir"};
    assert_null(acme_client_new(&o, k, err, sizeof(err)));
    assert_non_null(strstr(err, "https"));
    acme_key_free(k);
}

static void test_transport_error(void **state)
{
    (void)state;
    char err[128];
    acme_key_t *k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    /* nothing listens on port 1 */
    acme_client_opts_t o = {.directory_url = "https://127.0.0.1:1/dir", .metrics = count_metric};
    acme_client_t *c = acme_client_new(&o, k, err, sizeof(err));
    requests = 0;
    const acme_directory_t *d;
    acme_error_t e;
    assert_int_equal(acme_directory_get(c, &d, &e), -1);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    assert_int_equal(e.http_status, 0);
    assert_int_equal(requests, 1);
    acme_client_free(c);
    acme_key_free(k);
}

int main(void)
{
    http_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),         cmocka_unit_test(test_ari),
        cmocka_unit_test(test_rate_limited),     cmocka_unit_test(test_server_error),
        cmocka_unit_test(test_bad_nonce),        cmocka_unit_test(test_finalize_already_valid),
        cmocka_unit_test(test_accounts),         cmocka_unit_test(test_bad_directory_and_caps),
        cmocka_unit_test(test_transport_error),  cmocka_unit_test(test_metric_actions),
    };
    return cmocka_run_group_tests(tests, server_up, server_down);
}
