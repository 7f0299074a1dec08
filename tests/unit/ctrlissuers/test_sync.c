/* SPDX-License-Identifier: Apache-2.0 */
/* One sync of the certificaterequests-issuer-acme and issuers controllers against in-memory stores and a
 * tiny fake API server (tests/unit/kube_runtime/fake_apiserver.c): condition transitions, Order creation,
 * account key Secrets, the §8.2 fast path and failure reasons. The ACME server is unreachable on purpose
 * (127.0.0.1 port 1): no test needs one, and the fast path must not call it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../kube_runtime/fake_apiserver.h"
#include "accounts.h"
#include "acme/acme_key.h"
#include "certificaterequests.h"
#include "issuers.h"
#include "names.h"
#include "testutil.h"
#include "util/http.h"

#define UNREACHABLE "https://127.0.0.1:1/dir"

typedef struct fixture {
    fake_api_t *api;
    kube_client_t *kube;
    ctrl_options_t opts;
    ctrl_ctx_t ctx;
    EVP_PKEY *key;
    char *csr_pem, *csr_b64;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->api = fake_api_start();
    assert_non_null(f->api);
    kube_config_t cfg = {.server = (char *)fake_api_url(f->api), .source = (char *)"test"};
    kube_client_opts_t co = {.component = "test", .qps = 1000, .burst = 1000, .max_retries = -1};
    char err[256];
    f->kube = kube_client_new(&cfg, &co, err, sizeof err);
    assert_non_null(f->kube);
    f->opts.cluster_resource_namespace = "kacme-system";
    f->opts.auto_approve = true;
    f->opts.user_agent = "kacme-test";
    f->ctx.opts = &f->opts;
    f->ctx.kube = f->kube;
    f->ctx.issuers = kube_store_new();
    f->ctx.clusterissuers = kube_store_new();
    f->ctx.certificaterequests = kube_store_new();
    f->ctx.orders = kube_store_new();
    f->ctx.accounts = ctrl_accounts_new();
    f->key = tu_key();
    f->csr_pem = tu_csr_pem(f->key, "www.example.com", "DNS:www.example.com,DNS:example.com");
    f->csr_b64 = tu_b64(f->csr_pem, strlen(f->csr_pem));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    kube_store_free(f->ctx.issuers);
    kube_store_free(f->ctx.clusterissuers);
    kube_store_free(f->ctx.certificaterequests);
    kube_store_free(f->ctx.orders);
    ctrl_accounts_free(f->ctx.accounts);
    kube_client_free(f->kube);
    fake_api_stop(f->api);
    EVP_PKEY_free(f->key);
    free(f->csr_pem);
    free(f->csr_b64);
    free(f);
    return 0;
}

static json_object *copy(json_object *o)
{
    json_object *c = NULL;
    assert_int_equal(json_object_deep_copy(o, &c, NULL), 0);
    return c;
}

static const char *cond_field(json_object *o, const char *type, const char *field)
{
    json_object *c = ctrl_condition(o, type);
    return c ? ctrl_str(c, field) : NULL;
}

/* ---------------------------------------------------------------------------------------------------- */
/* CertificateRequests */

static void add_issuer(fixture_t *f, bool cluster, const char *name, bool acme, const char *ready)
{
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"%s\",\"metadata\":{\"name\":\"%s\",%s"
             "\"uid\":\"iss-%s\",\"resourceVersion\":\"1\"},\"spec\":%s,\"status\":{\"conditions\":"
             "[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
             cluster ? "ClusterIssuer" : "Issuer", name, cluster ? "" : "\"namespace\":\"team-a\",", name,
             acme ? "{\"acme\":{\"server\":\"https://acme.example/dir\",\"privateKeySecretRef\":{\"name\":\"k\"}}}"
                  : "{\"selfSigned\":{}}",
             ready);
    assert_int_equal(kube_store_upsert(cluster ? f->ctx.clusterissuers : f->ctx.issuers, tu_json(buf), NULL, NULL),
                     0);
}

/* A CR in team-a referencing issuer (kind "" or ClusterIssuer); conds is the conditions JSON array. */
static json_object *make_cr(fixture_t *f, const char *request_b64, const char *kind, const char *issuer,
                            const char *conds)
{
    size_t n = strlen(request_b64) + 2048;
    char *buf = malloc(n);
    snprintf(buf, n,
             "{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"CertificateRequest\","
             "\"metadata\":{\"name\":\"web-1\",\"namespace\":\"team-a\",\"uid\":\"cr-uid\",\"resourceVersion\":\"5\","
             "\"generation\":1,\"labels\":{\"app\":\"web\"}},"
             "\"spec\":{\"request\":\"%s\",\"issuerRef\":{\"name\":\"%s\",\"kind\":\"%s\"}},"
             "\"status\":{\"conditions\":%s}}",
             request_b64, issuer, kind, conds);
    json_object *o = tu_json(buf);
    free(buf);
    return o;
}

#define APPROVED "[{\"type\":\"Approved\",\"status\":\"True\",\"reason\":\"cert-manager.io\"}]"

static kube_reconcile_result_t run_cr(fixture_t *f, json_object *cr, json_object **out)
{
    *out = copy(cr);
    return ctrl_cr_sync(&f->ctx, cr, *out);
}

static void test_cr_approval(void **state)
{
    fixture_t *f = *state;
    add_issuer(f, true, "le", true, "True");
    add_issuer(f, false, "selfsigned", false, "True");
    json_object *obj;

    /* auto-approve: Approved=True reason cert-manager.io, nothing else yet */
    json_object *cr = make_cr(f, f->csr_b64, "ClusterIssuer", "le", "[]");
    kube_reconcile_result_t r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Approved", "status"), "True");
    assert_string_equal(cond_field(obj, "Approved", "reason"), CTRL_CR_APPROVED_REASON);
    assert_string_equal(cond_field(obj, "Approved", "message"), CTRL_CR_APPROVED_MESSAGE);
    assert_null(ctrl_condition(obj, "Ready"));
    assert_int_equal(fake_api_requests(f->api, "POST"), 0);
    json_object_put(obj);

    /* issuer not existing yet: still approved (the CR then waits with IssuerNotFound) */
    json_object *cr2 = make_cr(f, f->csr_b64, "Issuer", "missing", "[]");
    run_cr(f, cr2, &obj);
    assert_string_equal(cond_field(obj, "Approved", "status"), "True");
    json_object_put(obj);
    json_object_put(cr2);

    /* --auto-approve=false: nothing changes */
    f->opts.auto_approve = false;
    run_cr(f, cr, &obj);
    assert_true(json_object_equal(ctrl_get(obj, "status"), ctrl_get(cr, "status")));
    json_object_put(obj);
    f->opts.auto_approve = true;

    /* a non-ACME issuer is not ours: not approved, not touched */
    json_object *cr3 = make_cr(f, f->csr_b64, "", "selfsigned", "[]");
    run_cr(f, cr3, &obj);
    assert_true(json_object_equal(ctrl_get(obj, "status"), ctrl_get(cr3, "status")));
    json_object_put(obj);
    json_object_put(cr3);

    /* Denied: Ready=False reason Denied with failureTime, never approved */
    json_object *cr4 = make_cr(f, f->csr_b64, "ClusterIssuer", "le",
                               "[{\"type\":\"Denied\",\"status\":\"True\",\"reason\":\"policy\"}]");
    r = run_cr(f, cr4, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "status"), "False");
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Denied");
    assert_non_null(ctrl_str(obj, "status.failureTime"));
    assert_null(ctrl_condition(obj, "Approved"));
    json_object_put(obj);
    json_object_put(cr4);

    /* another issuer group: ignored entirely (not even approved) */
    json_object *cr5 = make_cr(f, f->csr_b64, "ClusterIssuer", "le", "[]");
    json_object_object_add(ctrl_get(cr5, "spec.issuerRef"), "group", json_object_new_string("example.io"));
    assert_false(ctrl_cr_group_ok(cr5));
    json_object_put(cr5);
    json_object_put(cr);
}

static void test_cr_issuer_states(void **state)
{
    fixture_t *f = *state;
    json_object *obj;
    /* approved, issuer missing → Pending (IssuerNotFound) */
    json_object *cr = make_cr(f, f->csr_b64, "", "le", APPROVED);
    kube_reconcile_result_t r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "status"), "False");
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Pending");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "not found"));
    json_object_put(obj);

    /* issuer not ready → Pending (IssuerNotReady) */
    add_issuer(f, false, "le", true, "False");
    run_cr(f, cr, &obj);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Pending");
    assert_string_equal(cond_field(obj, "Ready", "message"),
                        "Referenced issuer does not have a Ready status condition");
    assert_int_equal(fake_api_requests(f->api, "POST"), 0);
    json_object_put(obj);
    json_object_put(cr);
}

static void test_cr_bad_csr(void **state)
{
    fixture_t *f = *state;
    add_issuer(f, false, "le", true, "True");
    json_object *obj;
    /* unparsable CSR → Failed, failureTime, no Order */
    json_object *cr = make_cr(f, "bm90IGEgY3Ny", "", "le", APPROVED);
    kube_reconcile_result_t r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Failed");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "Failed to decode CSR"));
    assert_non_null(ctrl_str(obj, "status.failureTime"));
    json_object_put(cr);
    /* a Failed request is final: a later sync changes nothing */
    json_object *again = copy(obj);
    json_object_put(obj);
    run_cr(f, again, &obj);
    assert_true(json_object_equal(ctrl_get(obj, "status"), ctrl_get(again, "status")));
    json_object_put(obj);
    json_object_put(again);

    /* CN not among the SANs → Failed (InvalidOrder) */
    char *pem = tu_csr_pem(f->key, "other.example.com", "DNS:www.example.com");
    char *b64 = tu_b64(pem, strlen(pem));
    cr = make_cr(f, b64, "", "le", APPROVED);
    run_cr(f, cr, &obj);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Failed");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "commonName"));
    json_object_put(obj);
    json_object_put(cr);
    free(b64);
    free(pem);
    assert_int_equal(fake_api_requests(f->api, "POST"), 0);
}

/* The Order this CR would get (to learn its name), with optional status. */
static json_object *expected_order(fixture_t *f, json_object *cr, const char *owner_uid, const char *status_json)
{
    char err[256];
    x509_csr_t *csr = x509_csr_parse((unsigned char *)f->csr_pem, strlen(f->csr_pem), err, sizeof err);
    json_object *iss = kube_store_get_ns(f->ctx.issuers, "team-a", "le");
    json_object *o = ctrl_cr_build_order(cr, iss, csr, err, sizeof err);
    assert_non_null(o);
    json_object_put(iss);
    x509_csr_free(csr);
    json_object *refs = ctrl_get(o, "metadata.ownerReferences");
    json_object_object_add(json_object_array_get_idx(refs, 0), "uid", json_object_new_string(owner_uid));
    json_object_object_add(ctrl_get(o, "metadata"), "uid", json_object_new_string("order-uid"));
    if (status_json)
        json_object_object_add(o, "status", tu_json(status_json));
    return o;
}

static void test_cr_order_lifecycle(void **state)
{
    fixture_t *f = *state;
    add_issuer(f, false, "le", true, "True");
    json_object *obj;
    json_object *cr = make_cr(f, f->csr_b64, "", "le", APPROVED);

    /* no Order yet → created through the API, CR Pending */
    kube_reconcile_result_t r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Pending");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "Created Order resource team-a/web-1-"));
    json_object_put(obj);
    json_object *want = expected_order(f, cr, "cr-uid", NULL);
    char path[512];
    snprintf(path, sizeof path, "/apis/acme.cert-manager.io/v1/namespaces/team-a/orders/%s",
             ctrl_str(want, "metadata.name"));
    json_object *created = fake_api_get(f->api, path);
    assert_non_null(created);
    assert_true(json_object_equal(ctrl_get(created, "spec"), ctrl_get(want, "spec")));
    assert_string_equal(ctrl_str(created, "metadata.labels.app"), "web");
    json_object_put(created);

    /* creating again (the store has not seen it yet): AlreadyExists is fine */
    r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Pending");
    json_object_put(obj);

    /* an Order of that name controlled by someone else → error, retried */
    json_object *foreign = expected_order(f, cr, "someone-else", NULL);
    kube_store_upsert(f->ctx.orders, foreign, NULL, NULL);
    r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_ERROR);
    json_object_put(obj);

    /* pending Order → Pending OrderPending with the state */
    kube_store_upsert(f->ctx.orders, expected_order(f, cr, "cr-uid", "{\"state\":\"pending\"}"), NULL, NULL);
    r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Pending");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "\"pending\""));
    json_object_put(obj);

    /* valid without certificate yet → still Pending */
    kube_store_upsert(f->ctx.orders, expected_order(f, cr, "cr-uid", "{\"state\":\"valid\"}"), NULL, NULL);
    run_cr(f, cr, &obj);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Pending");
    json_object_put(obj);

    /* invalid Order → Failed with the Order's state and reason, failureTime */
    kube_store_upsert(f->ctx.orders,
                      expected_order(f, cr, "cr-uid",
                                     "{\"state\":\"invalid\",\"reason\":\"urn:ietf:params:acme:error:unauthorized: "
                                     "no TXT record\"}"),
                      NULL, NULL);
    r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Failed");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "\"invalid\""));
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "no TXT record"));
    assert_non_null(ctrl_str(obj, "status.failureTime"));
    json_object_put(obj);

    /* valid with a certificate for the CSR's key → Issued, certificate copied */
    char *cert = tu_cert_pem(f->key, "www.example.com");
    char *cert_b64 = tu_b64(cert, strlen(cert));
    char st[8192];
    snprintf(st, sizeof st, "{\"state\":\"valid\",\"certificate\":\"%s\"}", cert_b64);
    kube_store_upsert(f->ctx.orders, expected_order(f, cr, "cr-uid", st), NULL, NULL);
    r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "status"), "True");
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Issued");
    assert_string_equal(cond_field(obj, "Ready", "message"), CTRL_CR_ISSUED_MESSAGE);
    assert_string_equal(ctrl_str(obj, "status.certificate"), cert_b64);
    assert_null(ctrl_str(obj, "status.failureTime"));
    json_object_put(obj);

    /* valid with a certificate for another key → the Order is deleted (the fake answers 405 to DELETE, so
     * the sync reports an error and is retried) and the CR is not issued */
    EVP_PKEY *other = tu_key();
    char *bad = tu_cert_pem(other, "www.example.com");
    char *bad_b64 = tu_b64(bad, strlen(bad));
    snprintf(st, sizeof st, "{\"state\":\"valid\",\"certificate\":\"%s\"}", bad_b64);
    kube_store_upsert(f->ctx.orders, expected_order(f, cr, "cr-uid", st), NULL, NULL);
    int deletes = fake_api_requests(f->api, "DELETE");
    r = run_cr(f, cr, &obj);
    assert_int_equal(fake_api_requests(f->api, "DELETE"), deletes + 1);
    assert_int_equal(r.kind, KUBE_RECONCILE_ERROR);
    assert_null(ctrl_str(obj, "status.certificate"));
    json_object_put(obj);

    /* a deleted (terminating) Order: wait for it to go */
    json_object *term = expected_order(f, cr, "cr-uid", st);
    json_object_object_add(ctrl_get(term, "metadata"), "deletionTimestamp",
                           json_object_new_string("2026-01-01T00:00:00Z"));
    kube_store_upsert(f->ctx.orders, term, NULL, NULL);
    r = run_cr(f, cr, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "Pending");
    assert_null(ctrl_str(obj, "status.certificate"));
    json_object_put(obj);

    free(bad);
    free(bad_b64);
    EVP_PKEY_free(other);
    free(cert);
    free(cert_b64);
    json_object_put(want);
    json_object_put(cr);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Issuers */

static json_object *make_issuer(bool cluster, const char *acme_json, const char *status_json)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"%s\",\"metadata\":{\"name\":\"le\",%s"
             "\"uid\":\"iss-uid\",\"resourceVersion\":\"3\",\"generation\":2},\"spec\":{\"acme\":%s}%s%s}",
             cluster ? "ClusterIssuer" : "Issuer", cluster ? "" : "\"namespace\":\"team-a\",", acme_json,
             status_json ? ",\"status\":" : "", status_json ? status_json : "");
    return tu_json(buf);
}

static kube_reconcile_result_t run_iss(fixture_t *f, json_object *iss, bool cluster, json_object **out)
{
    *out = copy(iss);
    return ctrl_issuers_sync(&f->ctx, iss, *out, cluster);
}

/* Stores a Secret holding a fresh RSA account key; returns the key's hash. */
static void put_key_secret(fixture_t *f, const char *ns, const char *name, char hash[ACME_KEY_HASH_LEN])
{
    char err[256];
    acme_key_t *k = acme_key_generate(ACME_KEY_RSA, 2048, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(acme_key_hash(k, hash), 0);
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(acme_key_to_pem(k, &pem, &len), 0);
    char *b64 = tu_b64(pem, len);
    char buf[8192], path[256];
    snprintf(buf, sizeof buf,
             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},"
             "\"data\":{\"tls.key\":\"%s\"}}",
             name, ns, b64);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/secrets/%s", ns, name);
    json_object *s = tu_json(buf);
    fake_api_put(f->api, path, s);
    json_object_put(s);
    free(b64);
    free(pem);
    acme_key_free(k);
}

static void test_issuer_invalid_config(void **state)
{
    fixture_t *f = *state;
    json_object *obj;
    /* Let's Encrypt v1 → InvalidConfig naming the v2 URL, not retried, no API call */
    json_object *iss = make_issuer(false,
                                   "{\"server\":\"https://acme-v01.api.letsencrypt.org/directory\","
                                   "\"privateKeySecretRef\":{\"name\":\"k\"}}",
                                   NULL);
    kube_reconcile_result_t r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "status"), "False");
    assert_string_equal(cond_field(obj, "Ready", "reason"), "InvalidConfig");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "https://acme-v02.api.letsencrypt.org/directory"));
    assert_int_equal(fake_api_requests(f->api, "GET"), 0);
    json_object_put(obj);
    json_object_put(iss);

    /* plain http server URL → InvalidURL (after the key exists) */
    char hash[ACME_KEY_HASH_LEN];
    put_key_secret(f, "team-a", "k", hash);
    iss = make_issuer(false, "{\"server\":\"http://acme.example/dir\",\"privateKeySecretRef\":{\"name\":\"k\"}}",
                      NULL);
    r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "InvalidURL");
    json_object_put(obj);
    json_object_put(iss);

    /* caBundle that is not base64 → InvalidConfig */
    iss = make_issuer(false,
                      "{\"server\":\"" UNREACHABLE "\",\"caBundle\":\"***\",\"privateKeySecretRef\":{\"name\":\"k\"}}",
                      NULL);
    r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_OK);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "InvalidConfig");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "caBundle"));
    json_object_put(obj);
    json_object_put(iss);
}

static void test_issuer_key_secret(void **state)
{
    fixture_t *f = *state;
    json_object *obj;
    /* missing Secret with key generation disabled → ErrVerifyACMEAccount, retried with backoff */
    json_object *iss = make_issuer(false,
                                   "{\"server\":\"" UNREACHABLE "\",\"disableAccountKeyGeneration\":true,"
                                   "\"privateKeySecretRef\":{\"name\":\"acct\"}}",
                                   NULL);
    kube_reconcile_result_t r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_ERROR);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "ErrVerifyACMEAccount");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "team-a/acct"));
    assert_int_equal(fake_api_requests(f->api, "POST"), 0);
    json_object_put(obj);
    json_object_put(iss);

    /* a Secret whose entry is not a key → ErrVerifyACMEAccount, re-checked after minutes (not hot) */
    json_object *bad = tu_json("{\"metadata\":{\"name\":\"acct\",\"namespace\":\"team-a\"},"
                               "\"data\":{\"tls.key\":\"bm90IGEga2V5\"}}");
    fake_api_put(f->api, "/api/v1/namespaces/team-a/secrets/acct", bad);
    json_object_put(bad);
    iss = make_issuer(false, "{\"server\":\"" UNREACHABLE "\",\"privateKeySecretRef\":{\"name\":\"acct\"}}", NULL);
    r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_true(r.after_ms >= 60000);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "ErrVerifyACMEAccount");
    json_object_put(obj);
    json_object_put(iss);

    /* missing entry (custom key name) → same */
    iss = make_issuer(false,
                      "{\"server\":\"" UNREACHABLE "\",\"privateKeySecretRef\":{\"name\":\"acct\",\"key\":\"other\"}}",
                      NULL);
    r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "other"));
    json_object_put(obj);
    json_object_put(iss);
}

static void test_issuer_generates_key(void **state)
{
    fixture_t *f = *state;
    json_object *obj;
    /* ClusterIssuer: Secret created in --cluster-resource-namespace with a PKCS#1 RSA key and the managed-by
     * label, status.acme.uri cleared; registration then fails on the unreachable server → transient */
    json_object *iss = make_issuer(true, "{\"server\":\"" UNREACHABLE "\",\"privateKeySecretRef\":{\"name\":\"gen\"}}",
                                   "{\"acme\":{\"uri\":\"https://127.0.0.1:1/acct/1\"}}");
    kube_reconcile_result_t r = run_iss(f, iss, true, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_ERROR);
    assert_string_equal(cond_field(obj, "Ready", "status"), "False");
    assert_string_equal(cond_field(obj, "Ready", "reason"), "ErrRegisterACMEAccount");
    assert_null(ctrl_str(obj, "status.acme.uri"));
    json_object *sec = fake_api_get(f->api, "/api/v1/namespaces/kacme-system/secrets/gen");
    assert_non_null(sec);
    json_object *labels = ctrl_get(sec, "metadata.labels"), *v = NULL;
    assert_true(json_object_object_get_ex(labels, CTRL_ISSUER_MANAGED_BY_LABEL, &v));
    assert_string_equal(json_object_get_string(v), CTRL_ISSUER_MANAGED_BY_VALUE);
    json_object *sd = NULL;
    assert_true(json_object_object_get_ex(ctrl_get(sec, "stringData"), "tls.key", &sd));
    const char *pem = json_object_get_string(sd);
    assert_non_null(strstr(pem, "-----BEGIN RSA PRIVATE KEY-----"));
    char err[256];
    acme_key_t *k = acme_key_from_pem(pem, strlen(pem), err, sizeof err);
    assert_non_null(k);
    assert_int_equal(acme_key_get_type(k), ACME_KEY_RSA);
    acme_key_free(k);
    json_object_put(sec);
    assert_null(ctrl_accounts_get(f->ctx.accounts, "iss-uid"));
    json_object_put(obj);
    json_object_put(iss);
}

static void test_issuer_fast_path(void **state)
{
    fixture_t *f = *state;
    json_object *obj;
    char hash[ACME_KEY_HASH_LEN], st[1024];
    put_key_secret(f, "team-a", "acct", hash);
    snprintf(st, sizeof st,
             "{\"acme\":{\"uri\":\"https://127.0.0.1:1/acct/9\",\"lastRegisteredEmail\":\"ops@example.com\","
             "\"lastPrivateKeyHash\":\"%s\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
             "\"reason\":\"ACMEAccountRegistered\",\"message\":\"The ACME account was registered with the ACME "
             "server\",\"observedGeneration\":2,\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}",
             hash);
    const char *spec = "{\"server\":\"" UNREACHABLE "\",\"email\":\"ops@example.com\","
                       "\"privateKeySecretRef\":{\"name\":\"acct\"}}";
    json_object *iss = make_issuer(false, spec, st);

    /* Ready, same key/email/host: the client goes into the registry without any ACME call (the server is
     * unreachable, so a call would have failed the sync), status unchanged */
    kube_reconcile_result_t r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_REQUEUE_AFTER); /* the periodic re-sync */
    assert_true(r.after_ms >= 60000);
    assert_true(json_object_equal(ctrl_get(obj, "status"), ctrl_get(iss, "status")));
    ctrl_account_t *a = ctrl_accounts_get(f->ctx.accounts, "iss-uid");
    assert_non_null(a);
    char url[256];
    assert_true(acme_get_account_url(ctrl_account_client(a), url, sizeof url));
    assert_string_equal(url, "https://127.0.0.1:1/acct/9");
    ctrl_account_release(a);
    assert_true(ctrl_accounts_matches(f->ctx.accounts, "iss-uid", UNREACHABLE, false, "", hash));
    json_object_put(obj);

    /* again: the registry already matches, nothing changes */
    r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_true(json_object_equal(ctrl_get(obj, "status"), ctrl_get(iss, "status")));
    json_object_put(obj);
    json_object_put(iss);

    /* email changed: no fast path → the registry entry is dropped and registration is attempted (fails:
     * unreachable → transient, Ready=False ErrRegisterACMEAccount) */
    iss = make_issuer(false,
                      "{\"server\":\"" UNREACHABLE "\",\"email\":\"new@example.com\","
                      "\"privateKeySecretRef\":{\"name\":\"acct\"}}",
                      st);
    r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_ERROR);
    assert_string_equal(cond_field(obj, "Ready", "status"), "False");
    assert_string_equal(cond_field(obj, "Ready", "reason"), "ErrRegisterACMEAccount");
    assert_string_not_equal(cond_field(obj, "Ready", "lastTransitionTime"), "2026-01-01T00:00:00Z");
    assert_null(ctrl_accounts_get(f->ctx.accounts, "iss-uid"));
    json_object_put(obj);
    json_object_put(iss);
}

static void test_issuer_eab_secret(void **state)
{
    fixture_t *f = *state;
    json_object *obj;
    char hash[ACME_KEY_HASH_LEN];
    put_key_secret(f, "team-a", "acct", hash);
    json_object *iss = make_issuer(false,
                                   "{\"server\":\"" UNREACHABLE "\",\"privateKeySecretRef\":{\"name\":\"acct\"},"
                                   "\"externalAccountBinding\":{\"keyID\":\"kid-1\",\"keySecretRef\":"
                                   "{\"name\":\"eab\",\"key\":\"secret\"}}}",
                                   NULL);
    kube_reconcile_result_t r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "ErrRegisterACMEAccount");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "team-a/eab"));
    json_object_put(obj);
    json_object_put(iss);
}

/* §8.2 step 4: Secrets referenced by DNS-01 solvers must exist and hold the key, before any ACME call. */
static void test_issuer_dns01_secrets(void **state)
{
    fixture_t *f = *state;
    json_object *obj;
    char hash[ACME_KEY_HASH_LEN];
    put_key_secret(f, "team-a", "acct", hash);
    const char *spec =
        "{\"server\":\"" UNREACHABLE "\",\"privateKeySecretRef\":{\"name\":\"acct\"},\"solvers\":["
        "{\"http01\":{\"ingress\":{}}},"
        "{\"dns01\":{\"rfc2136\":{\"nameserver\":\"192.0.2.1\",\"tsigKeyName\":\"k\","
        "\"tsigSecretSecretRef\":{\"name\":\"tsig\",\"key\":\"secret\"}}}},"
        "{\"dns01\":{\"cloudflare\":{\"apiTokenSecretRef\":{\"name\":\"cf\",\"key\":\"token\"}}}},"
        "{\"dns01\":{\"webhook\":{\"groupName\":\"x.example\",\"solverName\":\"y\"}}}]}";

    /* both Secrets missing → InvalidSolver naming each, "; "-joined; re-checked after minutes; no ACME call
     * (the server is unreachable: registering would have failed with ErrRegisterACMEAccount) */
    json_object *iss = make_issuer(false, spec, NULL);
    kube_reconcile_result_t r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_true(r.after_ms >= 60000);
    assert_string_equal(cond_field(obj, "Ready", "status"), "False");
    assert_string_equal(cond_field(obj, "Ready", "reason"), "InvalidSolver");
    assert_string_equal(cond_field(obj, "Ready", "message"),
                        "spec.acme.solvers[1].dns01.rfc2136.tsigSecretSecretRef: Secret team-a/tsig does not exist; "
                        "spec.acme.solvers[2].dns01.cloudflare.apiTokenSecretRef: Secret team-a/cf does not exist");
    assert_null(ctrl_accounts_get(f->ctx.accounts, "iss-uid"));
    json_object_put(obj);

    /* the TSIG Secret exists but without the key; the Cloudflare one is fine */
    json_object *s = tu_json("{\"metadata\":{\"name\":\"tsig\",\"namespace\":\"team-a\"},"
                             "\"data\":{\"other\":\"c2VjcmV0\"}}");
    fake_api_put(f->api, "/api/v1/namespaces/team-a/secrets/tsig", s);
    json_object_put(s);
    s = tu_json("{\"metadata\":{\"name\":\"cf\",\"namespace\":\"team-a\"},\"data\":{\"token\":\"dG9r\"}}");
    fake_api_put(f->api, "/api/v1/namespaces/team-a/secrets/cf", s);
    json_object_put(s);
    r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_REQUEUE_AFTER);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "InvalidSolver");
    assert_string_equal(cond_field(obj, "Ready", "message"),
                        "spec.acme.solvers[1].dns01.rfc2136.tsigSecretSecretRef: Secret team-a/tsig has no key "
                        "\"secret\"");
    json_object_put(obj);

    /* with the key present the check passes: the sync goes on to register (unreachable → transient) */
    s = tu_json("{\"metadata\":{\"name\":\"tsig\",\"namespace\":\"team-a\"},"
                "\"data\":{\"secret\":\"c2VjcmV0\"}}");
    fake_api_put(f->api, "/api/v1/namespaces/team-a/secrets/tsig", s);
    json_object_put(s);
    r = run_iss(f, iss, false, &obj);
    assert_int_equal(r.kind, KUBE_RECONCILE_ERROR);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "ErrRegisterACMEAccount");
    json_object_put(obj);
    json_object_put(iss);

    /* a ClusterIssuer's solver Secrets live in --cluster-resource-namespace */
    put_key_secret(f, "kacme-system", "acct", hash);
    iss = make_issuer(true, spec, NULL);
    r = run_iss(f, iss, true, &obj);
    assert_string_equal(cond_field(obj, "Ready", "reason"), "InvalidSolver");
    assert_non_null(strstr(cond_field(obj, "Ready", "message"), "Secret kacme-system/tsig does not exist"));
    json_object_put(obj);
    json_object_put(iss);
}

int main(void)
{
    http_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cr_approval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cr_issuer_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cr_bad_csr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cr_order_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issuer_invalid_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issuer_key_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issuer_generates_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issuer_fast_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issuer_eab_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issuer_dns01_secrets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
