/* SPDX-License-Identifier: Apache-2.0 */
/* Pure parts of the issuers and certificaterequests controllers: LE v1 detection, URL hosts, the §8.2
 * fast-path decision, base64, CN/SAN check, Order building and naming, certificate/CSR key match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/base64.h"
#include "certificaterequests.h"
#include "issuers.h"
#include "names.h"
#include "testutil.h"

static void test_le_v1(void **state)
{
    (void)state;
    assert_string_equal(ctrl_issuers_le_v1_replacement("https://acme-v01.api.letsencrypt.org/directory"),
                        "https://acme-v02.api.letsencrypt.org/directory");
    assert_string_equal(ctrl_issuers_le_v1_replacement("https://acme-v01.api.letsencrypt.org/directory/"),
                        "https://acme-v02.api.letsencrypt.org/directory");
    assert_string_equal(ctrl_issuers_le_v1_replacement("https://acme-staging.api.letsencrypt.org/directory"),
                        "https://acme-staging-v02.api.letsencrypt.org/directory");
    assert_null(ctrl_issuers_le_v1_replacement("https://acme-v02.api.letsencrypt.org/directory"));
    assert_null(ctrl_issuers_le_v1_replacement("https://acme-staging-v02.api.letsencrypt.org/directory"));
    assert_null(ctrl_issuers_le_v1_replacement("https://acme-v01.api.letsencrypt.org/directory//"));
    assert_null(ctrl_issuers_le_v1_replacement("https://acme-v01.api.letsencrypt.org/director"));
    assert_null(ctrl_issuers_le_v1_replacement(""));
    assert_null(ctrl_issuers_le_v1_replacement(NULL));
}

static void test_url_host(void **state)
{
    (void)state;
    char h[64];
    assert_int_equal(ctrl_issuers_url_host("https://Pebble:14000/dir", h, sizeof h), 0);
    assert_string_equal(h, "pebble:14000");
    assert_int_equal(ctrl_issuers_url_host("http://a.example/acct/1?x#y", h, sizeof h), 0);
    assert_string_equal(h, "a.example");
    assert_int_equal(ctrl_issuers_url_host("https://user@b.example", h, sizeof h), 0);
    assert_string_equal(h, "b.example");
    assert_int_equal(ctrl_issuers_url_host("ftp://a.example/", h, sizeof h), -1);
    assert_string_equal(h, "");
    assert_int_equal(ctrl_issuers_url_host("https:///path", h, sizeof h), -1);
    assert_int_equal(ctrl_issuers_url_host("https://a b/", h, sizeof h), -1);
    assert_int_equal(ctrl_issuers_url_host("not a url", h, sizeof h), -1);
    assert_int_equal(ctrl_issuers_url_host(NULL, h, sizeof h), -1);
    char tiny[4];
    assert_int_equal(ctrl_issuers_url_host("https://long.example/", tiny, sizeof tiny), -1);
}

#define HASH "q83vEjRWeJA7h3S8tP8NsQ6r6kL1fFq8D8xk2fF0aGE="

static json_object *ready_issuer(const char *spec_extra, const char *status_acme, const char *ready)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"metadata\":{\"name\":\"i\",\"namespace\":\"ns\",\"uid\":\"u1\",\"generation\":1},"
             "\"spec\":{\"acme\":{\"server\":\"https://acme.example/dir\",\"privateKeySecretRef\":{\"name\":\"k\"}%s}},"
             "\"status\":{\"acme\":%s,\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\","
             "\"reason\":\"ACMEAccountRegistered\"}]}}",
             spec_extra, status_acme, ready);
    return tu_json(buf);
}

static void test_fast_path(void **state)
{
    (void)state;
    const char *good = "{\"uri\":\"https://ACME.example/acct/7\",\"lastRegisteredEmail\":\"a@example.com\","
                       "\"lastPrivateKeyHash\":\"" HASH "\"}";
    const char *email = ",\"email\":\"a@example.com\"";
    json_object *i = ready_issuer(email, good, "True");
    assert_true(ctrl_issuers_fast_path(i, HASH));
    assert_false(ctrl_issuers_fast_path(i, "other"));
    assert_false(ctrl_issuers_fast_path(i, ""));
    assert_false(ctrl_issuers_fast_path(i, NULL));
    json_object_put(i);

    /* not Ready */
    i = ready_issuer(email, good, "False");
    assert_false(ctrl_issuers_fast_path(i, HASH));
    json_object_put(i);
    /* email changed */
    i = ready_issuer(",\"email\":\"b@example.com\"", good, "True");
    assert_false(ctrl_issuers_fast_path(i, HASH));
    json_object_put(i);
    /* email removed */
    i = ready_issuer("", good, "True");
    assert_false(ctrl_issuers_fast_path(i, HASH));
    json_object_put(i);
    /* no email on both sides */
    i = ready_issuer("", "{\"uri\":\"https://acme.example/acct/7\",\"lastPrivateKeyHash\":\"" HASH "\"}", "True");
    assert_true(ctrl_issuers_fast_path(i, HASH));
    json_object_put(i);
    /* server moved to another host */
    i = ready_issuer(email,
                     "{\"uri\":\"https://other.example/acct/7\",\"lastRegisteredEmail\":\"a@example.com\","
                     "\"lastPrivateKeyHash\":\"" HASH "\"}",
                     "True");
    assert_false(ctrl_issuers_fast_path(i, HASH));
    json_object_put(i);
    /* no uri */
    i = ready_issuer(email, "{\"lastRegisteredEmail\":\"a@example.com\",\"lastPrivateKeyHash\":\"" HASH "\"}", "True");
    assert_false(ctrl_issuers_fast_path(i, HASH));
    json_object_put(i);
    /* no status at all */
    i = tu_json("{\"spec\":{\"acme\":{\"server\":\"https://acme.example/dir\"}}}");
    assert_false(ctrl_issuers_fast_path(i, HASH));
    json_object_put(i);
}

static void test_base64(void **state)
{
    (void)state;
    unsigned char *out = NULL;
    size_t n = 0;
    assert_int_equal(util_base64_decode("aGVsbG8=", 100, &out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(out[5], 0);
    free(out);
    assert_int_equal(util_base64_decode("aGVs\nbG8", 100, &out, &n), 0); /* unpadded, line break */
    assert_int_equal(n, 5);
    free(out);
    assert_int_equal(util_base64_decode("", 100, &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(util_base64_decode("aGVsbG8=", 4, &out, &n), -1); /* over max */
    assert_null(out);
    assert_int_equal(util_base64_decode("aGV*bG8=", 100, &out, &n), -1);
    assert_int_equal(util_base64_decode("aGVsbG8=x", 100, &out, &n), -1); /* data after padding */
    assert_int_equal(util_base64_decode("a", 100, &out, &n), -1);         /* 6 dangling bits */
    assert_int_equal(util_base64_decode("a-_b", 100, &out, &n), -1);      /* base64url alphabet */
}

static x509_csr_t *parse(const char *pem)
{
    char err[256];
    x509_csr_t *c = x509_csr_parse((const unsigned char *)pem, strlen(pem), err, sizeof err);
    if (!c)
        fprintf(stderr, "csr: %s\n", err);
    assert_non_null(c);
    return c;
}

static void test_cn_in_sans(void **state)
{
    (void)state;
    EVP_PKEY *k = tu_key();
    struct {
        const char *cn, *sans;
        bool ok;
    } cases[] = {
        {NULL, "DNS:a.example", true},
        {"a.example", "DNS:b.example,DNS:a.example", true},
        {"A.example", "DNS:a.example", false}, /* exact, as cert-manager */
        {"c.example", "DNS:a.example", false},
        {"10.0.0.1", "IP:10.0.0.1", true},
        {"2001:db8::1", "IP:2001:db8:0:0:0:0:0:1", true},
        {"10.0.0.2", "IP:10.0.0.1,DNS:10.0.0.3", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *pem = tu_csr_pem(k, cases[i].cn, cases[i].sans);
        x509_csr_t *c = parse(pem);
        assert_int_equal(ctrl_cr_cn_in_sans(c), cases[i].ok);
        x509_csr_free(c);
        free(pem);
    }
    EVP_PKEY_free(k);
}

static void test_order_failed(void **state)
{
    (void)state;
    const char *bad[] = {"errored", "invalid", "expired", "revoked", "deactivated"};
    const char *notbad[] = {"", "pending", "ready", "processing", "valid", "Invalid"};
    for (size_t i = 0; i < 5; i++)
        assert_true(ctrl_cr_order_failed(bad[i]));
    for (size_t i = 0; i < 6; i++)
        assert_false(ctrl_cr_order_failed(notbad[i]));
    assert_false(ctrl_cr_order_failed(NULL));
}

static json_object *cr_fixture(const char *name, const char *request_b64, const char *extra_spec)
{
    char *buf = malloc(strlen(request_b64) + 2048);
    sprintf(buf,
            "{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"CertificateRequest\","
            "\"metadata\":{\"name\":\"%s\",\"namespace\":\"team-a\",\"uid\":\"cr-uid-1\","
            "\"labels\":{\"app\":\"web\",\"tier\":\"front\"},"
            "\"annotations\":{\"cert-manager.io/certificate-name\":\"web\","
            "\"acme.cert-manager.io/http01-override-ingress-name\":\"web-ing\","
            "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\",\"argocd.argoproj.io/sync-wave\":\"1\"}},"
            "\"spec\":{\"request\":\"%s\",\"issuerRef\":{\"name\":\"le\",\"kind\":\"ClusterIssuer\","
            "\"group\":\"cert-manager.io\"},\"duration\":\"2160h0m0s\"%s}}",
            name, request_b64, extra_spec);
    json_object *o = tu_json(buf);
    free(buf);
    return o;
}

static const char *ISSUER_PLAIN = "{\"metadata\":{\"name\":\"le\",\"uid\":\"i1\"},\"spec\":{\"acme\":"
                                  "{\"server\":\"https://acme.example/dir\"}}}";
static const char *ISSUER_DUR = "{\"metadata\":{\"name\":\"le\",\"uid\":\"i1\"},\"spec\":{\"acme\":"
                                "{\"server\":\"https://acme.example/dir\",\"enableDurationFeature\":true,"
                                "\"profile\":\"shortlived\"}}}";

static void test_build_order(void **state)
{
    (void)state;
    EVP_PKEY *k = tu_key();
    char *pem = tu_csr_pem(k, "www.example.com", "DNS:www.example.com,DNS:example.com,IP:192.0.2.7");
    char *b64 = tu_b64(pem, strlen(pem));
    x509_csr_t *csr = parse(pem);
    json_object *cr = cr_fixture("web-1", b64, "");
    json_object *iss = tu_json(ISSUER_PLAIN);
    char err[256] = "";

    json_object *o = ctrl_cr_build_order(cr, iss, csr, err, sizeof err);
    assert_non_null(o);
    assert_string_equal(ctrl_str(o, "apiVersion"), "acme.cert-manager.io/v1");
    assert_string_equal(ctrl_str(o, "kind"), "Order");
    assert_string_equal(ctrl_str(o, "metadata.namespace"), "team-a");
    assert_true(json_object_equal(ctrl_get(o, "metadata.labels"), ctrl_get(cr, "metadata.labels")));
    json_object *want_ann = tu_json("{\"cert-manager.io/certificate-name\":\"web\","
                                    "\"acme.cert-manager.io/http01-override-ingress-name\":\"web-ing\"}");
    assert_true(json_object_equal(ctrl_get(o, "metadata.annotations"), want_ann));
    json_object_put(want_ann);
    json_object *owners = ctrl_get(o, "metadata.ownerReferences");
    assert_int_equal(json_object_array_length(owners), 1);
    json_object *ow = json_object_array_get_idx(owners, 0);
    assert_string_equal(ctrl_str(ow, "apiVersion"), "cert-manager.io/v1");
    assert_string_equal(ctrl_str(ow, "kind"), "CertificateRequest");
    assert_string_equal(ctrl_str(ow, "name"), "web-1");
    assert_string_equal(ctrl_str(ow, "uid"), "cr-uid-1");
    assert_true(ctrl_bool(ow, "controller", false));
    assert_true(ctrl_bool(ow, "blockOwnerDeletion", false));
    assert_string_equal(ctrl_str(o, "spec.request"), b64);
    assert_true(json_object_equal(ctrl_get(o, "spec.issuerRef"), ctrl_get(cr, "spec.issuerRef")));
    assert_string_equal(ctrl_str(o, "spec.commonName"), "www.example.com");
    json_object *dns = ctrl_get(o, "spec.dnsNames");
    assert_int_equal(json_object_array_length(dns), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(dns, 0)), "www.example.com");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(dns, 1)), "example.com");
    json_object *ips = ctrl_get(o, "spec.ipAddresses");
    assert_int_equal(json_object_array_length(ips), 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(ips, 0)), "192.0.2.7");
    assert_null(ctrl_get(o, "spec.duration")); /* issuer without enableDurationFeature */
    assert_null(ctrl_get(o, "spec.profile"));

    /* the name: CR name prefix, and the same as names_order over the spec */
    const char *name = ctrl_str(o, "metadata.name");
    char expect[NAMES_MAX];
    assert_int_equal(names_order("web-1", ctrl_get(o, "spec"), expect, sizeof expect), 0);
    assert_string_equal(name, expect);
    assert_memory_equal(name, "web-1-", 6);

    /* deterministic: same inputs, same name; another CSR (other key, same names) hashes the same since
     * request is not part of the hash */
    json_object *o2 = ctrl_cr_build_order(cr, iss, csr, err, sizeof err);
    assert_string_equal(ctrl_str(o2, "metadata.name"), name);
    json_object_put(o2);
    EVP_PKEY *k2 = tu_key();
    char *pem2 = tu_csr_pem(k2, "www.example.com", "DNS:www.example.com,DNS:example.com,IP:192.0.2.7");
    char *b642 = tu_b64(pem2, strlen(pem2));
    x509_csr_t *csr2 = parse(pem2);
    json_object *cr2 = cr_fixture("web-1", b642, "");
    o2 = ctrl_cr_build_order(cr2, iss, csr2, err, sizeof err);
    assert_string_equal(ctrl_str(o2, "metadata.name"), name);
    json_object_put(o2);

    /* different names → different Order name */
    char *pem3 = tu_csr_pem(k2, "www.example.com", "DNS:www.example.com");
    x509_csr_t *csr3 = parse(pem3);
    free(pem3);
    o2 = ctrl_cr_build_order(cr2, iss, csr3, err, sizeof err);
    assert_string_not_equal(ctrl_str(o2, "metadata.name"), name);
    json_object_put(o2);

    /* duration and profile with an issuer that enables them; they change the name */
    json_object *iss2 = tu_json(ISSUER_DUR);
    o2 = ctrl_cr_build_order(cr, iss2, csr, err, sizeof err);
    assert_string_equal(ctrl_str(o2, "spec.duration"), "2160h0m0s");
    assert_string_equal(ctrl_str(o2, "spec.profile"), "shortlived");
    assert_string_not_equal(ctrl_str(o2, "metadata.name"), name);
    json_object_put(o2);

    /* a long CR name is shortened but the Order name stays ≤ 63 bytes */
    json_object *crl = cr_fixture("a-very-long-certificate-request-name-that-goes-past-fifty-two-chars", b64, "");
    o2 = ctrl_cr_build_order(crl, iss, csr, err, sizeof err);
    assert_non_null(o2);
    assert_true(strlen(ctrl_str(o2, "metadata.name")) <= 63);
    json_object_put(o2);
    json_object_put(crl);

    /* no labels/annotations → none on the Order; no CN → no commonName */
    json_object *bare = tu_json("{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\",\"uid\":\"u\","
                                "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"}},"
                                "\"spec\":{\"request\":\"eA==\",\"issuerRef\":{\"name\":\"le\"}}}");
    char *pem4 = tu_csr_pem(k, NULL, "DNS:x.example");
    x509_csr_t *nocn = parse(pem4);
    free(pem4);
    o2 = ctrl_cr_build_order(bare, iss, nocn, err, sizeof err);
    assert_null(ctrl_get(o2, "metadata.labels"));
    assert_null(ctrl_get(o2, "metadata.annotations"));
    assert_null(ctrl_get(o2, "spec.commonName"));
    assert_null(ctrl_get(o2, "spec.ipAddresses"));
    json_object_put(o2);

    /* missing uid → error */
    json_object *nouid = tu_json("{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"},"
                                 "\"spec\":{\"request\":\"eA==\",\"issuerRef\":{\"name\":\"le\"}}}");
    assert_null(ctrl_cr_build_order(nouid, iss, nocn, err, sizeof err));
    assert_true(strlen(err) > 0);

    json_object_put(nouid);
    json_object_put(bare);
    x509_csr_free(nocn);
    x509_csr_free(csr3);
    json_object_put(iss2);
    json_object_put(cr2);
    x509_csr_free(csr2);
    free(b642);
    free(pem2);
    EVP_PKEY_free(k2);
    json_object_put(o);
    json_object_put(iss);
    json_object_put(cr);
    x509_csr_free(csr);
    free(b64);
    free(pem);
    EVP_PKEY_free(k);
}

static void test_cert_matches(void **state)
{
    (void)state;
    EVP_PKEY *k = tu_key(), *other = tu_key();
    char *csrpem = tu_csr_pem(k, NULL, "DNS:a.example");
    x509_csr_t *csr = parse(csrpem);
    char *good = tu_cert_pem(k, "a.example");
    char *bad = tu_cert_pem(other, "a.example");
    /* chain: leaf first decides */
    size_t gl = strlen(good), bl = strlen(bad);
    char *chain = malloc(gl + bl + 1);
    memcpy(chain, good, gl);
    memcpy(chain + gl, bad, bl + 1);
    assert_true(ctrl_cr_cert_matches_csr((unsigned char *)good, gl, csr));
    assert_true(ctrl_cr_cert_matches_csr((unsigned char *)chain, gl + bl, csr));
    assert_false(ctrl_cr_cert_matches_csr((unsigned char *)bad, bl, csr));
    memcpy(chain, bad, bl);
    memcpy(chain + bl, good, gl + 1);
    assert_false(ctrl_cr_cert_matches_csr((unsigned char *)chain, gl + bl, csr));
    assert_false(ctrl_cr_cert_matches_csr((const unsigned char *)"garbage", 7, csr));
    assert_false(ctrl_cr_cert_matches_csr(NULL, 0, csr));
    free(chain);
    free(good);
    free(bad);
    x509_csr_free(csr);
    free(csrpem);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

static void test_group_ok(void **state)
{
    (void)state;
    json_object *a = tu_json("{\"spec\":{\"issuerRef\":{\"name\":\"x\"}}}");
    json_object *b = tu_json("{\"spec\":{\"issuerRef\":{\"name\":\"x\",\"group\":\"cert-manager.io\"}}}");
    json_object *c = tu_json("{\"spec\":{\"issuerRef\":{\"name\":\"x\",\"group\":\"\"}}}");
    json_object *d = tu_json("{\"spec\":{\"issuerRef\":{\"name\":\"x\",\"group\":\"awspca.cert-manager.io\"}}}");
    assert_true(ctrl_cr_group_ok(a));
    assert_true(ctrl_cr_group_ok(b));
    assert_true(ctrl_cr_group_ok(c));
    assert_false(ctrl_cr_group_ok(d));
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_le_v1),        cmocka_unit_test(test_url_host),    cmocka_unit_test(test_fast_path),
        cmocka_unit_test(test_base64),       cmocka_unit_test(test_cn_in_sans),  cmocka_unit_test(test_order_failed),
        cmocka_unit_test(test_build_order),  cmocka_unit_test(test_cert_matches), cmocka_unit_test(test_group_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
