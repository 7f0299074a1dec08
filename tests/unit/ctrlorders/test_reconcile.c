/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The orders controller's reconcile() driven end to end in-process: the API server is a map of objects
 * (optimistic concurrency on resourceVersion, AlreadyExists, NotFound) whose content is copied into the
 * informer stores when a test says so (so informer lag can be simulated), and the ACME server is a script
 * of recorded responses (Pebble / RFC 8555 bodies and problem documents) fed through lib/acme's own parser
 * and error classification (orders_set_ops). Covers: new order → authorizations → Challenges; authz reuse
 * (ready at creation, no Challenge); finalize of an already valid order; processing with Retry-After;
 * invalid authorization; badNonce (transient); 429 with Retry-After; rejectedIdentifier (terminal);
 * all Challenges valid but the order still pending; no account yet; a stale cache after our own write; a
 * write Conflict right after newOrder; cleanup of a valid Order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "accounts.h"
#include "acme/acme_key.h"
#include "acme/acme_parse.h"
#include "orders.h"

/* ---- fake API server ---- */

static json_object *server; /* "orders/<ns>/<name>" or "challenges/<ns>/<name>" → object */
static int rv_counter = 100;
static int n_get, n_put, n_create, n_delete;
static bool bump_after_get; /* the next Order GET is followed by someone else's change */

static const char *kind_of(const kube_resource_t *r)
{
    return strcmp(r->resource, "orders") == 0 ? "orders" : "challenges";
}

static void skey(char *buf, size_t len, const kube_resource_t *r, const char *ns, const char *name)
{
    snprintf(buf, len, "%s/%s/%s", kind_of(r), ns, name);
}

static void bump_rv(json_object *obj)
{
    char rv[32];
    snprintf(rv, sizeof(rv), "%d", ++rv_counter);
    json_object *meta = NULL;
    json_object_object_get_ex(obj, "metadata", &meta);
    json_object_object_add(meta, "resourceVersion", json_object_new_string(rv));
}

static json_object *copy(json_object *o)
{
    json_object *c = NULL;
    json_object_deep_copy(o, &c, NULL);
    return c;
}

static int f_get(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name, json_object **out,
                 kube_error_t *e)
{
    (void)c;
    n_get++;
    char k[256];
    skey(k, sizeof(k), r, ns, name);
    json_object *o = NULL;
    kube_error_clear(e);
    if (!json_object_object_get_ex(server, k, &o)) {
        kube_error_set(e, KUBE_ERR_NOT_FOUND, "not found");
        return -1;
    }
    *out = copy(o);
    if (bump_after_get && strncmp(k, "orders/", 7) == 0) {
        bump_after_get = false;
        bump_rv(o);
    }
    return 0;
}

static int f_update_status(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                           json_object *obj, json_object **out, kube_error_t *e)
{
    (void)c;
    n_put++;
    char k[256];
    skey(k, sizeof(k), r, ns, name);
    json_object *cur = NULL;
    kube_error_clear(e);
    if (!json_object_object_get_ex(server, k, &cur)) {
        kube_error_set(e, KUBE_ERR_NOT_FOUND, "not found");
        return -1;
    }
    if (strcmp(ctrl_str(cur, "metadata.resourceVersion"), ctrl_str(obj, "metadata.resourceVersion")) != 0) {
        kube_error_set(e, KUBE_ERR_CONFLICT, "the object has been modified");
        return -1;
    }
    json_object *st = NULL;
    json_object_deep_copy(ctrl_get(obj, "status"), &st, NULL);
    json_object_object_add(cur, "status", st);
    bump_rv(cur);
    if (out)
        *out = copy(cur);
    return 0;
}

static int f_create(kube_client_t *c, const kube_resource_t *r, const char *ns, json_object *obj, json_object **out,
                    kube_error_t *e)
{
    (void)c;
    n_create++;
    char k[256];
    skey(k, sizeof(k), r, ns, ctrl_str(obj, "metadata.name"));
    kube_error_clear(e);
    if (json_object_object_get_ex(server, k, NULL)) {
        kube_error_set(e, KUBE_ERR_ALREADY_EXISTS, "already exists");
        return -1;
    }
    json_object *o = copy(obj);
    json_object *meta = ctrl_get(o, "metadata");
    char uid[128];
    snprintf(uid, sizeof(uid), "uid-%s", ctrl_str(obj, "metadata.name"));
    json_object_object_add(meta, "uid", json_object_new_string(uid));
    bump_rv(o);
    json_object_object_add(server, k, o);
    if (out)
        *out = copy(o);
    return 0;
}

static int f_delete(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                    const kube_delete_opts_t *o, json_object **out, kube_error_t *e)
{
    (void)c;
    (void)o;
    (void)out;
    n_delete++;
    char k[256];
    skey(k, sizeof(k), r, ns, name);
    kube_error_clear(e);
    if (!json_object_object_get_ex(server, k, NULL)) {
        kube_error_set(e, KUBE_ERR_NOT_FOUND, "not found");
        return -1;
    }
    json_object_object_del(server, k);
    return 0;
}

/* ---- scripted ACME server ---- */

typedef struct resp {
    const char *op;          /* "new", "get", "finalize", "authz", "cert" */
    int status;              /* HTTP status; 2xx = success */
    const char *body;        /* JSON, PEM for "cert", problem document for errors */
    const char *retry_after; /* Retry-After header or NULL */
    const char *location;    /* order URL for "new" */
} resp_t;

static resp_t script[16];
static size_t n_script, pos;

static void expect_acme(const resp_t *r, size_t n)
{
    if (n)
        memcpy(script, r, n * sizeof(*r));
    n_script = n;
    pos = 0;
}

static const resp_t *next(const char *op, acme_error_t *e)
{
    acme_error_clear(e);
    if (pos >= n_script)
        fail_msg("unexpected ACME call %s", op);
    const resp_t *r = &script[pos++];
    if (strcmp(r->op, op) != 0)
        fail_msg("ACME call %s, script expected %s", op, r->op);
    if (r->status >= 300) {
        acme_classify_response(r->status, r->body, r->body ? strlen(r->body) : 0, r->retry_after, time(NULL), e);
        return NULL;
    }
    return r;
}

static long retry_ms(const resp_t *r)
{
    long ms = 0;
    if (r->retry_after)
        acme_retry_after_parse(r->retry_after, time(NULL), &ms);
    return ms;
}

static int order_from(const resp_t *r, const char *url, acme_order_t **out)
{
    char err[128];
    assert_int_equal(acme_order_parse(r->body, strlen(r->body), out, err, sizeof(err)), 0);
    (*out)->url = strdup(url);
    (*out)->retry_after_ms = retry_ms(r);
    return 0;
}

static int f_order_new(acme_client_t *c, const acme_order_request_t *req, acme_order_t **out, acme_error_t *e)
{
    (void)c;
    (void)req;
    const resp_t *r = next("new", e);
    return r ? order_from(r, r->location, out) : -1;
}

static int f_order_get(acme_client_t *c, const char *url, acme_order_t **out, acme_error_t *e)
{
    (void)c;
    const resp_t *r = next("get", e);
    return r ? order_from(r, url, out) : -1;
}

static int f_order_finalize(acme_client_t *c, const acme_order_t *order, const unsigned char *csr, size_t csr_len,
                            acme_order_t **out, acme_error_t *e)
{
    (void)c;
    assert_non_null(csr);
    assert_true(csr_len > 0);
    const unsigned char *p = csr;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr_len);
    assert_non_null(req); /* the Order's PEM CSR arrives as DER */
    X509_REQ_free(req);
    const resp_t *r = next("finalize", e);
    return r ? order_from(r, order->url, out) : -1;
}

static int f_authz_get(acme_client_t *c, const char *url, acme_authz_t **out, acme_error_t *e)
{
    (void)c;
    const resp_t *r = next("authz", e);
    if (!r)
        return -1;
    char err[128];
    assert_int_equal(acme_authz_parse(r->body, strlen(r->body), out, err, sizeof(err)), 0);
    (*out)->url = strdup(url);
    return 0;
}

static char *chain_pem;

static int f_cert_fetch(acme_client_t *c, const char *cert_url, const char *preferred, char **pem, size_t *len,
                        acme_error_t *e)
{
    (void)c;
    (void)cert_url;
    (void)preferred;
    const resp_t *r = next("cert", e);
    if (!r)
        return -1;
    *pem = strdup(r->body ? r->body : chain_pem);
    *len = strlen(*pem);
    return 0;
}

static char *f_keyauth(const acme_client_t *c, const char *token)
{
    (void)c;
    size_t n = strlen(token) + 8;
    char *s = malloc(n);
    snprintf(s, n, "%s.thumb", token);
    return s;
}

static const orders_ops_t fake_ops = {f_get, f_update_status, f_create, f_delete, f_order_new, f_order_get,
                                      f_order_finalize, f_authz_get, f_cert_fetch, f_keyauth, f_order_get};

/* ---- fixtures ---- */

#define NS "ns"
#define ORDER_URL "https://ca.test/my-order/O1"
#define FINALIZE_URL "https://ca.test/finalize-order/O1"
#define AUTHZ_URL "https://ca.test/authZ/A1"

static const char ORDER_PENDING[] = "{\"status\":\"pending\",\"expires\":\"2030-01-01T00:00:00Z\","
                                    "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.com\"}],"
                                    "\"finalize\":\"" FINALIZE_URL "\",\"authorizations\":[\"" AUTHZ_URL "\"]}";
static const char ORDER_READY[] = "{\"status\":\"ready\",\"expires\":\"2030-01-01T00:00:00Z\","
                                  "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.com\"}],"
                                  "\"finalize\":\"" FINALIZE_URL "\",\"authorizations\":[\"" AUTHZ_URL "\"]}";
static const char ORDER_PROCESSING[] = "{\"status\":\"processing\",\"expires\":\"2030-01-01T00:00:00Z\","
                                       "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.com\"}],"
                                       "\"finalize\":\"" FINALIZE_URL "\",\"authorizations\":[\"" AUTHZ_URL "\"]}";
static const char ORDER_VALID[] = "{\"status\":\"valid\",\"expires\":\"2030-01-01T00:00:00Z\","
                                  "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.com\"}],"
                                  "\"finalize\":\"" FINALIZE_URL "\",\"authorizations\":[\"" AUTHZ_URL "\"],"
                                  "\"certificate\":\"https://ca.test/certZ/X1\"}";
static const char ORDER_INVALID[] =
    "{\"status\":\"invalid\",\"expires\":\"2030-01-01T00:00:00Z\","
    "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.com\"}],"
    "\"finalize\":\"" FINALIZE_URL "\",\"authorizations\":[\"" AUTHZ_URL "\"],"
    "\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"authorization failed\"}}";
static const char AUTHZ_PENDING[] =
    "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example.com\"},"
    "\"challenges\":[{\"type\":\"tls-alpn-01\",\"url\":\"https://ca.test/chalZ/C0\",\"token\":\"tok0\","
    "\"status\":\"pending\"},{\"type\":\"http-01\",\"url\":\"https://ca.test/chalZ/C1\",\"token\":\"tok1\","
    "\"status\":\"pending\"},{\"type\":\"dns-01\",\"url\":\"https://ca.test/chalZ/C2\",\"token\":\"tok2\","
    "\"status\":\"pending\"}],\"expires\":\"2030-01-01T00:00:00Z\"}";
static const char AUTHZ_VALID[] =
    "{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example.com\"},"
    "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://ca.test/chalZ/C1\",\"token\":\"tok1\","
    "\"status\":\"valid\",\"validated\":\"2026-01-01T00:00:00Z\"}],\"expires\":\"2030-01-01T00:00:00Z\"}";
static const char PROBLEM_BADNONCE[] = "{\"type\":\"urn:ietf:params:acme:error:badNonce\","
                                       "\"detail\":\"JWS has an invalid anti-replay nonce\",\"status\":400}";
static const char PROBLEM_RATELIMITED[] = "{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
                                          "\"detail\":\"too many new orders recently\",\"status\":429}";
static const char PROBLEM_REJECTED[] =
    "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"Error creating new order :: "
    "Cannot issue for a.example.com: forbidden by policy\",\"status\":400}";

static ctrl_options_t opts;
static ctrl_ctx_t ctx;
static char *csr_b64;

static char *make_cert_pem(EVP_PKEY *k, const char *cn)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    return out;
}

static int setup(void **state)
{
    (void)state;
    server = json_object_new_object();
    opts.user_agent = "test";
    memset(&ctx, 0, sizeof(ctx));
    ctx.opts = &opts;
    ctx.orders = kube_store_new();
    ctx.challenges = kube_store_new();
    ctx.issuers = kube_store_new();
    ctx.accounts = ctrl_accounts_new();
    char err[256];
    acme_key_t *k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    assert_non_null(k);
    acme_client_opts_t co = {.directory_url = "https://127.0.0.1:1/dir"}; /* never contacted */
    acme_client_t *c = acme_client_new(&co, k, err, sizeof(err));
    assert_non_null(c);
    acme_key_free(k);
    assert_int_equal(ctrl_accounts_put(ctx.accounts, "iss-uid", c, "https://127.0.0.1:1/dir", false, NULL, "h", NULL),
                     0);
    kube_store_upsert(ctx.issuers,
                      json_tokener_parse("{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"Issuer\",\"metadata\":"
                                         "{\"name\":\"le\",\"namespace\":\"" NS "\",\"uid\":\"iss-uid\","
                                         "\"resourceVersion\":\"1\"},\"spec\":{\"acme\":{\"server\":"
                                         "\"https://127.0.0.1:1/dir\",\"solvers\":[{\"http01\":{\"ingress\":{}}}]}}}"),
                      NULL, NULL);
    /* a CSR (PEM, base64 in spec.request) and a two-certificate chain */
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_pubkey(req, pk);
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                               (const unsigned char *)"a.example.com", -1, -1, 0);
    assert_true(X509_REQ_sign(req, pk, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, req);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    csr_b64 = orders_b64_encode(p, (size_t)n);
    BIO_free(b);
    X509_REQ_free(req);
    char *leaf = make_cert_pem(pk, "a.example.com"), *inter = make_cert_pem(pk, "Test Intermediate");
    size_t cl = strlen(leaf) + strlen(inter) + 1;
    chain_pem = malloc(cl);
    snprintf(chain_pem, cl, "%s%s", leaf, inter);
    free(leaf);
    free(inter);
    EVP_PKEY_free(pk);
    orders_set_ops(&fake_ops);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    orders_set_ops(NULL);
    json_object_put(server);
    kube_store_free(ctx.orders);
    kube_store_free(ctx.challenges);
    kube_store_free(ctx.issuers);
    ctrl_accounts_free(ctx.accounts);
    free(csr_b64);
    free(chain_pem);
    return 0;
}

/* The API server's content → the informer stores (what a watch would deliver). */
static void sync_stores(void)
{
    json_object *orders[64], *chals[64];
    size_t no = 0, nc = 0;
    json_object_object_foreach(server, k, v)
    {
        if (strncmp(k, "orders/", 7) == 0)
            orders[no++] = copy(v);
        else
            chals[nc++] = copy(v);
    }
    kube_store_replace(ctx.orders, orders, no, NULL, NULL);
    kube_store_replace(ctx.challenges, chals, nc, NULL, NULL);
}

/* A fresh Order "name" with the given status JSON (or NULL), stored on the server and in the cache. */
static void new_order(const char *name, const char *status)
{
    char buf[8192];
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"acme.cert-manager.io/v1\",\"kind\":\"Order\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"" NS "\",\"uid\":\"uid-%s\",\"resourceVersion\":\"1\"},\"spec\":{\"request\":\"%s\","
             "\"issuerRef\":{\"name\":\"le\",\"kind\":\"Issuer\",\"group\":\"cert-manager.io\"},"
             "\"dnsNames\":[\"a.example.com\"]}%s%s}",
             name, name, csr_b64, status ? ",\"status\":" : "", status ? status : "");
    json_object *o = json_tokener_parse(buf);
    assert_non_null(o);
    bump_rv(o);
    char k[256];
    snprintf(k, sizeof(k), "orders/" NS "/%s", name);
    json_object_object_add(server, k, o);
    sync_stores();
}

static json_object *server_order(const char *name)
{
    char k[256];
    snprintf(k, sizeof(k), "orders/" NS "/%s", name);
    json_object *o = NULL;
    json_object_object_get_ex(server, k, &o);
    return o;
}

static int count_challenges(void)
{
    int n = 0;
    json_object_object_foreach(server, k, v)
    {
        (void)v;
        if (strncmp(k, "challenges/", 11) == 0)
            n++;
    }
    return n;
}

static json_object *first_challenge(void)
{
    json_object_object_foreach(server, k, v)
    {
        if (strncmp(k, "challenges/", 11) == 0)
            return v;
    }
    return NULL;
}

static void set_challenges_state(const char *state, const char *reason)
{
    json_object_object_foreach(server, k, v)
    {
        if (strncmp(k, "challenges/", 11) != 0)
            continue;
        json_object *st = json_object_new_object();
        json_object_object_add(st, "state", json_object_new_string(state));
        if (reason)
            json_object_object_add(st, "reason", json_object_new_string(reason));
        json_object_object_add(v, "status", st);
        bump_rv(v);
    }
    sync_stores();
}

static kube_reconcile_result_t reconcile(const char *name)
{
    char key[256];
    snprintf(key, sizeof(key), NS "/%s", name);
    kube_reconcile_result_t res = ctrl_orders_controller.reconcile(&ctx, key);
    assert_int_equal(pos, n_script); /* every scripted response was used */
    return res;
}

static void clear_server(void)
{
    json_object_put(server);
    server = json_object_new_object();
    sync_stores();
    n_get = n_put = n_create = n_delete = 0;
}

#define STATUS_PENDING_WITH_AUTHZ                                                                               \
    "{\"url\":\"" ORDER_URL "\",\"finalizeURL\":\"" FINALIZE_URL "\",\"state\":\"pending\",\"authorizations\":" \
    "[{\"url\":\"" AUTHZ_URL "\",\"identifier\":\"a.example.com\",\"wildcard\":false,\"initialState\":"        \
    "\"pending\",\"challenges\":[{\"url\":\"https://ca.test/chalZ/C1\",\"token\":\"tok1\",\"type\":"           \
    "\"http-01\"}]}]}"
#define STATUS_READY                                                                                          \
    "{\"url\":\"" ORDER_URL "\",\"finalizeURL\":\"" FINALIZE_URL "\",\"state\":\"ready\",\"authorizations\":" \
    "[{\"url\":\"" AUTHZ_URL "\",\"identifier\":\"a.example.com\",\"wildcard\":false,\"initialState\":"      \
    "\"valid\",\"challenges\":[]}]}"

/* ---- tests ---- */

static void test_new_order_to_certificate(void **state)
{
    (void)state;
    clear_server();
    new_order("o1", NULL);
    const resp_t s1[] = {{"new", 201, ORDER_PENDING, NULL, ORDER_URL}, {"authz", 200, AUTHZ_PENDING, NULL, NULL}};
    expect_acme(s1, 2);
    kube_reconcile_result_t res = reconcile("o1");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    assert_int_equal(n_get, 1); /* the fresh read before newOrder */
    json_object *o = server_order("o1");
    assert_string_equal(ctrl_str(o, "status.url"), ORDER_URL);
    assert_string_equal(ctrl_str(o, "status.finalizeURL"), FINALIZE_URL);
    assert_string_equal(ctrl_str(o, "status.state"), "pending");
    json_object *a = json_object_array_get_idx(ctrl_get(o, "status.authorizations"), 0);
    assert_string_equal(ctrl_str(a, "identifier"), "a.example.com");
    assert_string_equal(ctrl_str(a, "initialState"), "pending");
    assert_false(ctrl_bool(a, "wildcard", true));
    assert_int_equal(json_object_array_length(ctrl_get(a, "challenges")), 3);
    assert_int_equal(count_challenges(), 1);
    json_object *ch = first_challenge();
    assert_string_equal(ctrl_str(ch, "spec.type"), "HTTP-01");
    assert_string_equal(ctrl_str(ch, "spec.url"), "https://ca.test/chalZ/C1");
    assert_string_equal(ctrl_str(ch, "spec.key"), "tok1.thumb");
    assert_string_equal(ctrl_str(ch, "metadata.namespace"), NS);

    /* the informer catches up: the Challenge is in progress → wait, no ACME call, no write */
    sync_stores();
    expect_acme(NULL, 0);
    int puts = n_put;
    res = reconcile("o1");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    assert_int_equal(n_put, puts);

    /* the Challenge is valid: ready → finalize (processing) → a short wait (never a poll while the CA is
     * issuing) → poll (valid) → certificate, Challenges deleted */
    set_challenges_state("valid", "Successfully authorized domain");
    const resp_t s2[] = {{"get", 200, ORDER_READY, NULL, NULL}, {"finalize", 200, ORDER_PROCESSING, NULL, NULL}};
    expect_acme(s2, 2);
    res = reconcile("o1");
    assert_int_equal(res.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_int_equal(res.after_ms, 300);
    assert_string_equal(ctrl_str(server_order("o1"), "status.state"), "processing");
    sync_stores();
    const resp_t s3[] = {{"get", 200, ORDER_VALID, NULL, NULL}, {"cert", 200, NULL, NULL, NULL}};
    expect_acme(s3, 2);
    res = reconcile("o1");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    o = server_order("o1");
    assert_string_equal(ctrl_str(o, "status.state"), "valid");
    char *want = orders_b64_encode(chain_pem, strlen(chain_pem));
    assert_string_equal(ctrl_str(o, "status.certificate"), want);
    free(want);
    assert_int_equal(count_challenges(), 0);
    assert_null(ctrl_get(o, "status.failureTime"));

    /* done: nothing more, not even the issuer is needed */
    sync_stores();
    expect_acme(NULL, 0);
    res = reconcile("o1");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
}

static void test_authz_reuse_ready_at_creation(void **state)
{
    (void)state;
    clear_server();
    new_order("o2", NULL);
    /* every authorization already valid: the order is ready at once; the finalize answer is already valid
     * (the client found the order finalized by an earlier pass) */
    const resp_t s[] = {{"new", 201, ORDER_READY, NULL, ORDER_URL},
                        {"authz", 200, AUTHZ_VALID, NULL, NULL},
                        {"finalize", 200, ORDER_VALID, NULL, NULL},
                        {"cert", 200, NULL, NULL, NULL}};
    expect_acme(s, 4);
    kube_reconcile_result_t res = reconcile("o2");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    json_object *o = server_order("o2");
    assert_string_equal(ctrl_str(o, "status.state"), "valid");
    assert_non_null(ctrl_str(o, "status.certificate"));
    json_object *a = json_object_array_get_idx(ctrl_get(o, "status.authorizations"), 0);
    assert_string_equal(ctrl_str(a, "initialState"), "valid");
    assert_int_equal(n_create, 0); /* no Challenge for a reused authorization */
}

static void test_processing_retry_after(void **state)
{
    (void)state;
    clear_server();
    new_order("o3", STATUS_READY);
    const resp_t s[] = {{"finalize", 200, ORDER_PROCESSING, "3", NULL}};
    expect_acme(s, 1);
    kube_reconcile_result_t res = reconcile("o3");
    assert_int_equal(res.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_int_equal(res.after_ms, 3000);
    assert_string_equal(ctrl_str(server_order("o3"), "status.state"), "processing");
    /* next pass: processing → one poll, still processing: Retry-After again */
    sync_stores();
    const resp_t s1[] = {{"get", 200, ORDER_PROCESSING, "3", NULL}};
    expect_acme(s1, 1);
    res = reconcile("o3");
    assert_int_equal(res.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_int_equal(res.after_ms, 3000);
    /* next pass: processing → one poll; valid → certificate */
    sync_stores();
    const resp_t s2[] = {{"get", 200, ORDER_VALID, NULL, NULL}, {"cert", 200, NULL, NULL, NULL}};
    expect_acme(s2, 2);
    res = reconcile("o3");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    assert_string_equal(ctrl_str(server_order("o3"), "status.state"), "valid");
}

static void test_invalid_authorization(void **state)
{
    (void)state;
    clear_server();
    new_order("o4", STATUS_PENDING_WITH_AUTHZ);
    expect_acme(NULL, 0);
    reconcile("o4"); /* creates the Challenge */
    assert_int_equal(count_challenges(), 1);
    set_challenges_state("invalid", "Error accepting authorization: urn:ietf:params:acme:error:unauthorized: "
                                    "Invalid response from http://a.example.com/.well-known/acme-challenge/tok1: 404");
    const resp_t s[] = {{"get", 200, ORDER_INVALID, NULL, NULL}};
    expect_acme(s, 1);
    kube_reconcile_result_t res = reconcile("o4");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    json_object *o = server_order("o4");
    assert_string_equal(ctrl_str(o, "status.state"), "invalid");
    assert_non_null(strstr(ctrl_str(o, "status.reason"), "Invalid response from http://a.example.com"));
    assert_non_null(ctrl_str(o, "status.failureTime"));
    /* terminal: nothing more happens */
    sync_stores();
    expect_acme(NULL, 0);
    int puts = n_put;
    reconcile("o4");
    assert_int_equal(n_put, puts);
}

static void test_failed_challenge_but_order_pending(void **state)
{
    (void)state;
    clear_server();
    new_order("o4b", STATUS_PENDING_WITH_AUTHZ);
    expect_acme(NULL, 0);
    reconcile("o4b");
    set_challenges_state("errored", "unexpected non-ACME API error: x");
    const resp_t s[] = {{"get", 200, ORDER_PENDING, NULL, NULL}};
    expect_acme(s, 1);
    reconcile("o4b");
    json_object *o = server_order("o4b");
    assert_string_equal(ctrl_str(o, "status.state"), "errored");
    assert_string_equal(ctrl_str(o, "status.reason"), "unexpected non-ACME API error: x");
    assert_non_null(ctrl_str(o, "status.failureTime"));
}

static void test_bad_nonce_is_transient(void **state)
{
    (void)state;
    clear_server();
    new_order("o5", NULL);
    const resp_t s[] = {{"new", 400, PROBLEM_BADNONCE, NULL, NULL}};
    expect_acme(s, 1);
    kube_reconcile_result_t res = reconcile("o5");
    assert_int_equal(res.kind, KUBE_RECONCILE_ERROR);
    assert_null(ctrl_get(server_order("o5"), "status")); /* state untouched */
    assert_int_equal(n_put, 0);
}

static void test_rate_limited_retry_after(void **state)
{
    (void)state;
    clear_server();
    new_order("o6", NULL);
    const resp_t s[] = {{"new", 429, PROBLEM_RATELIMITED, "7", NULL}};
    expect_acme(s, 1);
    kube_reconcile_result_t res = reconcile("o6");
    assert_int_equal(res.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_int_equal(res.after_ms, 7000);
    assert_null(ctrl_get(server_order("o6"), "status"));
}

static void test_rejected_identifier_is_terminal(void **state)
{
    (void)state;
    clear_server();
    new_order("o7", NULL);
    const resp_t s[] = {{"new", 400, PROBLEM_REJECTED, NULL, NULL}};
    expect_acme(s, 1);
    kube_reconcile_result_t res = reconcile("o7");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    json_object *o = server_order("o7");
    assert_string_equal(ctrl_str(o, "status.state"), "errored");
    const char *reason = ctrl_str(o, "status.reason");
    assert_non_null(strstr(reason, "Failed to create Order: "));
    assert_non_null(strstr(reason, "rejectedIdentifier"));
    assert_non_null(strstr(reason, "forbidden by policy"));
    assert_non_null(ctrl_str(o, "status.failureTime"));
    /* terminal: no retry, no ACME call */
    sync_stores();
    expect_acme(NULL, 0);
    reconcile("o7");
}

static void test_all_valid_acme_pending(void **state)
{
    (void)state;
    clear_server();
    new_order("o8", STATUS_PENDING_WITH_AUTHZ);
    expect_acme(NULL, 0);
    reconcile("o8");
    set_challenges_state("valid", NULL);
    const resp_t s[] = {{"get", 200, ORDER_PENDING, NULL, NULL}};
    expect_acme(s, 1);
    kube_reconcile_result_t res = reconcile("o8");
    assert_int_equal(res.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_int_equal(res.after_ms, 5000);
    assert_string_equal(ctrl_str(server_order("o8"), "status.state"), "pending");
}

static void test_no_account_yet(void **state)
{
    (void)state;
    clear_server();
    new_order("o9", NULL);
    json_object *o = kube_store_get_ns(ctx.orders, NS, "o9"), *c = NULL;
    json_object_deep_copy(o, &c, NULL);
    json_object_put(o);
    json_object_object_add(ctrl_get(c, "spec.issuerRef"), "name", json_object_new_string("other"));
    kube_store_upsert(ctx.issuers,
                      json_tokener_parse("{\"metadata\":{\"name\":\"other\",\"namespace\":\"" NS "\","
                                         "\"uid\":\"other-uid\",\"resourceVersion\":\"1\"},\"spec\":{\"acme\":{}}}"),
                      NULL, NULL);
    kube_store_upsert(ctx.orders, c, NULL, NULL);
    expect_acme(NULL, 0);
    kube_reconcile_result_t res = reconcile("o9");
    assert_int_equal(res.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_int_equal(res.after_ms, 5000);
    assert_int_equal(n_put + n_get + n_create, 0);
}

static void test_stale_cache_after_own_write(void **state)
{
    (void)state;
    clear_server();
    new_order("o10", STATUS_PENDING_WITH_AUTHZ);
    expect_acme(NULL, 0);
    reconcile("o10"); /* creates the Challenge */
    sync_stores();
    set_challenges_state("valid", NULL);
    const resp_t s[] = {{"get", 200, ORDER_READY, NULL, NULL},
                        {"finalize", 200, ORDER_VALID, NULL, NULL},
                        {"cert", 200, NULL, NULL, NULL}};
    expect_acme(s, 3);
    reconcile("o10"); /* writes valid + certificate */
    /* a Challenge event arrives before the informer delivered our write: the stale copy is not redone */
    json_object *o = server_order("o10");
    assert_string_equal(ctrl_str(o, "status.state"), "valid");
    expect_acme(NULL, 0);
    int puts = n_put;
    kube_reconcile_result_t res = reconcile("o10");
    assert_int_equal(res.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_int_equal(n_put, puts);
    sync_stores();
    res = reconcile("o10");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
}

static void test_conflict_after_new_order_keeps_the_url(void **state)
{
    (void)state;
    clear_server();
    new_order("o11", NULL);
    /* someone changes the Order's metadata right after our fresh read: the status PUT conflicts; it is
     * retried once on a fresh copy (whose status is still empty) so the ACME order URL is not lost */
    bump_after_get = true;
    const resp_t s[] = {{"new", 201, ORDER_PENDING, NULL, ORDER_URL}, {"authz", 500, NULL, NULL, NULL}};
    expect_acme(s, 2);
    kube_reconcile_result_t res = reconcile("o11");
    /* the authorization fetch failed transiently: the URL is stored anyway, then back off */
    assert_int_equal(res.kind, KUBE_RECONCILE_ERROR);
    assert_false(bump_after_get);
    assert_string_equal(ctrl_str(server_order("o11"), "status.url"), ORDER_URL);
    assert_int_equal(n_put, 2); /* the conflicting write and its retry */
    /* the next pass continues from the stored URL: no second newOrder */
    sync_stores();
    const resp_t s2[] = {{"authz", 200, AUTHZ_PENDING, NULL, NULL}};
    expect_acme(s2, 1);
    res = reconcile("o11");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    assert_int_equal(count_challenges(), 1);
}

static void test_solver_missing_no_retry(void **state)
{
    (void)state;
    clear_server();
    /* a DNS-01-only authorization with an HTTP-01-only issuer */
    new_order("o12", "{\"url\":\"" ORDER_URL "\",\"finalizeURL\":\"" FINALIZE_URL "\",\"state\":\"pending\","
                     "\"authorizations\":[{\"url\":\"" AUTHZ_URL "\",\"identifier\":\"example.com\",\"wildcard\":true,"
                     "\"initialState\":\"pending\",\"challenges\":[{\"url\":\"https://ca.test/chalZ/C2\",\"token\":"
                     "\"tok2\",\"type\":\"dns-01\"}]}]}");
    expect_acme(NULL, 0);
    kube_reconcile_result_t res = reconcile("o12");
    assert_int_equal(res.kind, KUBE_RECONCILE_OK);
    assert_int_equal(count_challenges(), 0);
    assert_int_equal(n_put, 0);
}

static void test_leftover_challenges_deleted(void **state)
{
    (void)state;
    clear_server();
    new_order("o13", STATUS_PENDING_WITH_AUTHZ);
    expect_acme(NULL, 0);
    reconcile("o13");
    sync_stores();
    /* an owned Challenge that is not required (e.g. from an older solver configuration) */
    json_object *extra = copy(first_challenge());
    json_object_object_add(ctrl_get(extra, "metadata"), "name", json_object_new_string("o13-1"));
    json_object_object_add(ctrl_get(extra, "metadata"), "uid", json_object_new_string("uid-o13-1"));
    json_object_object_add(server, "challenges/" NS "/o13-1", extra);
    sync_stores();
    assert_int_equal(count_challenges(), 2);
    reconcile("o13");
    assert_int_equal(count_challenges(), 1);
    assert_null(ctrl_get(server, "challenges/" NS "/o13-1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_order_to_certificate),
        cmocka_unit_test(test_authz_reuse_ready_at_creation),
        cmocka_unit_test(test_processing_retry_after),
        cmocka_unit_test(test_invalid_authorization),
        cmocka_unit_test(test_failed_challenge_but_order_pending),
        cmocka_unit_test(test_bad_nonce_is_transient),
        cmocka_unit_test(test_rate_limited_retry_after),
        cmocka_unit_test(test_rejected_identifier_is_terminal),
        cmocka_unit_test(test_all_valid_acme_pending),
        cmocka_unit_test(test_no_account_yet),
        cmocka_unit_test(test_stale_cache_after_own_write),
        cmocka_unit_test(test_conflict_after_new_order_keeps_the_url),
        cmocka_unit_test(test_solver_missing_no_retry),
        cmocka_unit_test(test_leftover_challenges_deleted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
