/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the pure parts of controller/orders.c: identifier sets, Go durations, the required
 * Challenges, the Challenge summary, the decision list and the CSR decoding. JSON fixtures in fixtures/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/acme_key.h"
#include "names.h"
#include "orders.h"
#include "util/duration.h"
#include "solverpicker.h"

static json_object *fixture(const char *name)
{
    const char *src = getenv("KACME_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/unit/ctrlorders/fixtures/%s", src ? src : ".", name);
    json_object *o = json_object_from_file(path);
    if (!o)
        fail_msg("cannot read fixture %s", path);
    return o;
}

static json_object *parse(const char *s)
{
    json_object *o = json_tokener_parse(s);
    assert_non_null(o);
    return o;
}

/* ---- identifiers ---- */

static void ids_expect(const char *spec_json, const char *const *expect, size_t n_expect)
{
    json_object *spec = parse(spec_json);
    acme_identifier_t *ids = NULL;
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(orders_identifiers(spec, &ids, &n, err, sizeof(err)), 0);
    char got[4096] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(got, ids[i].type);
        strcat(got, ":");
        strcat(got, ids[i].value);
        strcat(got, " ");
    }
    char want[4096] = "";
    for (size_t i = 0; i < n_expect; i++) {
        strcat(want, expect[i]);
        strcat(want, " ");
    }
    assert_string_equal(got, want);
    free(ids);
    json_object_put(spec);
}

static void test_identifiers_sorted_dedup_dns_first(void **state)
{
    (void)state;
    const char *e1[] = {"dns:a.example.com", "dns:b.example.com", "ip:10.0.0.1", "ip:192.0.2.1"};
    ids_expect("{\"dnsNames\":[\"b.example.com\",\"a.example.com\",\"b.example.com\"],"
               "\"ipAddresses\":[\"192.0.2.1\",\"10.0.0.1\",\"192.0.2.1\"]}",
               e1, 4);
    /* IPs compared by value (canonical text) */
    const char *e2[] = {"dns:x.test", "ip:2001:db8::1", "ip:::1"};
    ids_expect("{\"dnsNames\":[\"x.test\"],\"ipAddresses\":[\"0:0::1\",\"::1\",\"2001:DB8:0::1\"]}", e2, 3);
}

static void test_identifiers_common_name_rules(void **state)
{
    (void)state;
    /* a valid FQDN CN joins the DNS set (dedup with dnsNames) */
    const char *e1[] = {"dns:a.example.com", "dns:cn.example.com"};
    ids_expect("{\"commonName\":\"cn.example.com\",\"dnsNames\":[\"a.example.com\"]}", e1, 2);
    const char *e2[] = {"dns:a.example.com"};
    ids_expect("{\"commonName\":\"a.example.com\",\"dnsNames\":[\"a.example.com\"]}", e2, 1);
    /* an IP CN joins the IP set */
    const char *e3[] = {"dns:a.example.com", "ip:192.0.2.7"};
    ids_expect("{\"commonName\":\"192.0.2.7\",\"dnsNames\":[\"a.example.com\"]}", e3, 2);
    const char *e3b[] = {"ip:192.0.2.7"};
    ids_expect("{\"commonName\":\"192.0.2.7\",\"ipAddresses\":[\"192.0.2.7\"]}", e3b, 1);
    /* single label, upper case, wildcard, spaces: not a valid FQDN → ignored */
    const char *e4[] = {"dns:a.example.com"};
    ids_expect("{\"commonName\":\"localhost\",\"dnsNames\":[\"a.example.com\"]}", e4, 1);
    ids_expect("{\"commonName\":\"Upper.Example.com\",\"dnsNames\":[\"a.example.com\"]}", e4, 1);
    ids_expect("{\"commonName\":\"*.example.com\",\"dnsNames\":[\"a.example.com\"]}", e4, 1);
    ids_expect("{\"commonName\":\"My Service\",\"dnsNames\":[\"a.example.com\"]}", e4, 1);
    /* wildcard dnsNames stay as they are, sorted byte-wise ('*' < 'a') */
    const char *e5[] = {"dns:*.example.com", "dns:example.com"};
    ids_expect("{\"dnsNames\":[\"example.com\",\"*.example.com\"]}", e5, 2);
}

static void test_identifiers_errors(void **state)
{
    (void)state;
    acme_identifier_t *ids = NULL;
    size_t n = 0;
    char err[256];
    json_object *s = parse("{\"commonName\":\"localhost\"}");
    assert_int_equal(orders_identifiers(s, &ids, &n, err, sizeof(err)), -1);
    assert_null(ids);
    json_object_put(s);
    s = parse("{\"dnsNames\":[\"a.test\", 7]}");
    assert_int_equal(orders_identifiers(s, &ids, &n, err, sizeof(err)), -1);
    json_object_put(s);
    s = parse("{\"dnsNames\":\"a.test\"}");
    assert_int_equal(orders_identifiers(s, &ids, &n, err, sizeof(err)), -1);
    json_object_put(s);
    /* over the identifier cap */
    json_object *big = json_object_new_object(), *arr = json_object_new_array();
    for (int i = 0; i < ACME_MAX_IDENTIFIERS + 1; i++) {
        char name[64];
        snprintf(name, sizeof(name), "n%d.example.com", i);
        json_object_array_add(arr, json_object_new_string(name));
    }
    json_object_object_add(big, "dnsNames", arr);
    assert_int_equal(orders_identifiers(big, &ids, &n, err, sizeof(err)), -1);
    json_object_put(big);
}

/* ---- durations ---- */

static void test_go_duration(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(util_parse_duration_ms("2160h0m0s", &ms), 0);
    assert_int_equal(ms, 2160LL * 3600 * 1000);
    assert_int_equal(util_parse_duration_ms("1h30m", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(util_parse_duration_ms("1.5h", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(util_parse_duration_ms("300ms", &ms), 0);
    assert_int_equal(ms, 300);
    assert_int_equal(util_parse_duration_ms("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(util_parse_duration_ms("90m", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(util_parse_duration_ms("1500us", &ms), 0);
    assert_int_equal(ms, 1);
    const char *bad[] = {"", "h", "10", "-1h", "1x", "1h-", "1.h2", "999999999999999h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(util_parse_duration_ms(bad[i], &ms), -1);
    assert_int_equal(util_parse_duration_ms(NULL, &ms), -1);
}

/* ---- required Challenges ---- */

static char *fake_keyauth(void *ud, const char *token)
{
    (void)ud;
    size_t n = strlen(token) + 8;
    char *s = malloc(n);
    snprintf(s, n, "%s.thumb", token);
    return s;
}

static json_object *by_dns(json_object *arr, const char *dns)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *c = json_object_array_get_idx(arr, i);
        if (strcmp(ctrl_str(c, "spec.dnsName"), dns) == 0)
            return c;
    }
    return NULL;
}

static void test_required_challenges(void **state)
{
    (void)state;
    json_object *order = fixture("order_required.json"), *solvers = fixture("solvers.json");
    json_object *req = NULL;
    char err[512] = "";
    assert_int_equal(orders_required_challenges(order, solvers, fake_keyauth, NULL, &req, err, sizeof(err)), 0);
    /* the reused (initialState valid) authorization gets no Challenge */
    assert_int_equal(json_object_array_length(req), 2);
    assert_null(by_dns(req, "reused.example.com"));

    json_object *www = by_dns(req, "www.example.com");
    assert_non_null(www);
    assert_string_equal(ctrl_str(www, "apiVersion"), "acme.cert-manager.io/v1");
    assert_string_equal(ctrl_str(www, "kind"), "Challenge");
    assert_string_equal(ctrl_str(www, "metadata.namespace"), "team-a");
    json_object *refs = ctrl_get(www, "metadata.ownerReferences");
    assert_int_equal(json_object_array_length(refs), 1);
    json_object *ref = json_object_array_get_idx(refs, 0);
    assert_string_equal(ctrl_str(ref, "kind"), "Order");
    assert_string_equal(ctrl_str(ref, "name"), "site-tls-1-2746348271");
    assert_string_equal(ctrl_str(ref, "uid"), "6f1c3e0a-1111-4222-8333-944455556666");
    assert_true(ctrl_bool(ref, "controller", false));
    assert_true(ctrl_bool(ref, "blockOwnerDeletion", false));
    assert_null(ctrl_get(www, "metadata.labels"));
    /* dnsNames selector beats the zone and the catch-all; the ingress-class annotation overrides */
    assert_string_equal(ctrl_str(www, "spec.type"), "HTTP-01");
    assert_string_equal(ctrl_str(www, "spec.url"), "https://ca.test/chal/w-http");
    assert_string_equal(ctrl_str(www, "spec.authorizationURL"), "https://ca.test/authz/www");
    assert_string_equal(ctrl_str(www, "spec.token"), "tokWhttp");
    assert_false(ctrl_bool(www, "spec.wildcard", true));
    assert_string_equal(ctrl_str(www, "spec.key"), "tokWhttp.thumb");
    assert_string_equal(ctrl_str(www, "spec.solver.http01.ingress.class"), "nginx");
    assert_null(ctrl_get(www, "spec.solver.http01.ingress.ingressClassName"));
    assert_string_equal(ctrl_str(www, "spec.issuerRef.name"), "le");
    assert_string_equal(ctrl_str(www, "spec.issuerRef.kind"), "Issuer");

    json_object *wild = by_dns(req, "example.com");
    assert_non_null(wild);
    assert_true(ctrl_bool(wild, "spec.wildcard", false));
    assert_string_equal(ctrl_str(wild, "spec.type"), "DNS-01");
    assert_string_equal(ctrl_str(wild, "spec.token"), "tokXdns");
    assert_non_null(ctrl_get(wild, "spec.solver.dns01.rfc2136"));
    char want[ACME_THUMBPRINT_LEN];
    assert_int_equal(acme_dns01_value("tokXdns.thumb", want), 0);
    assert_string_equal(ctrl_str(wild, "spec.key"), want);

    /* names: names_challenge of the spec with key "" (deterministic, independent of the key) */
    for (size_t i = 0; i < json_object_array_length(req); i++) {
        json_object *c = json_object_array_get_idx(req, i), *spec = NULL;
        json_object_deep_copy(ctrl_get(c, "spec"), &spec, NULL);
        json_object_object_add(spec, "key", json_object_new_string("other"));
        char name[NAMES_MAX];
        assert_int_equal(names_challenge("site-tls-1-2746348271", spec, name, sizeof(name)), 0);
        assert_string_equal(ctrl_str(c, "metadata.name"), name);
        assert_non_null(strstr(name, "site-tls-1-2746348271-"));
        json_object_put(spec);
    }
    /* without keyauth: same names, empty keys */
    json_object *req2 = NULL;
    assert_int_equal(orders_required_challenges(order, solvers, NULL, NULL, &req2, err, sizeof(err)), 0);
    for (size_t i = 0; i < 2; i++) {
        json_object *a = json_object_array_get_idx(req, i), *b = json_object_array_get_idx(req2, i);
        assert_string_equal(ctrl_str(a, "metadata.name"), ctrl_str(b, "metadata.name"));
        assert_string_equal(ctrl_str(b, "spec.key"), "");
        assert_int_equal(orders_challenge_fill_key(b, fake_keyauth, NULL, err, sizeof(err)), 0);
        assert_string_equal(ctrl_str(a, "spec.key"), ctrl_str(b, "spec.key"));
    }
    json_object_put(req2);
    json_object_put(req);
    json_object_put(solvers);
    json_object_put(order);
}

static void test_required_challenges_no_solver(void **state)
{
    (void)state;
    json_object *order = fixture("order_required.json");
    /* only an HTTP-01 solver: the wildcard authorization offers dns-01 only */
    json_object *solvers = parse("[{\"http01\":{\"ingress\":{}}}]");
    json_object *req = (json_object *)1;
    char err[512] = "";
    assert_int_equal(orders_required_challenges(order, solvers, fake_keyauth, NULL, &req, err, sizeof(err)), -1);
    assert_null(req);
    assert_non_null(strstr(err, SOLVERPICKER_ERR_NO_SOLVER));
    assert_non_null(strstr(err, "*.example.com"));
    json_object_put(solvers);
    /* no solvers at all */
    assert_int_equal(orders_required_challenges(order, NULL, NULL, NULL, &req, err, sizeof(err)), -1);
    /* conflicting annotation overrides */
    json_object *ann = ctrl_get(order, "metadata.annotations");
    json_object_object_add(ann, "acme.cert-manager.io/http01-override-ingress-name", json_object_new_string("x"));
    solvers = fixture("solvers.json");
    assert_int_equal(orders_required_challenges(order, solvers, NULL, NULL, &req, err, sizeof(err)), -1);
    json_object_put(solvers);
    json_object_put(order);
}

static void test_required_challenges_all_reused(void **state)
{
    (void)state;
    json_object *order = fixture("order_required.json");
    json_object *auths = ctrl_get(order, "status.authorizations");
    for (size_t i = 0; i < json_object_array_length(auths); i++)
        json_object_object_add(json_object_array_get_idx(auths, i), "initialState", json_object_new_string("valid"));
    json_object *req = NULL;
    char err[256];
    /* nothing to solve: no solver needed either */
    assert_int_equal(orders_required_challenges(order, NULL, fake_keyauth, NULL, &req, err, sizeof(err)), 0);
    assert_int_equal(json_object_array_length(req), 0);
    json_object_put(req);
    json_object_put(order);
}

/* ---- summary and decisions ---- */

static void test_summarize(void **state)
{
    (void)state;
    json_object *f = fixture("summary.json");
    json_object *required = ctrl_get(f, "required"), *owned_arr = ctrl_get(f, "owned");
    size_t n = json_object_array_length(owned_arr);
    json_object *owned[8];
    for (size_t i = 0; i < n; i++)
        owned[i] = json_object_array_get_idx(owned_arr, i);
    orders_chal_summary_t cs;
    orders_summarize(required, owned, n, &cs);
    assert_int_equal(cs.n_required, 4);
    assert_int_equal(cs.n_missing, 1);  /* o-4 */
    assert_int_equal(cs.n_leftover, 1); /* old-9 (old-8 is already being deleted) */
    assert_int_equal(cs.n_final, 2);    /* o-1 valid, o-2 invalid */
    assert_int_equal(cs.n_failed, 1);
    assert_string_equal(cs.failed_name, "o-2");
    assert_string_equal(cs.failed_state, "invalid");
    assert_non_null(strstr(cs.failed_reason, "unauthorized"));
    orders_summarize(required, NULL, 0, &cs);
    assert_int_equal(cs.n_missing, 4);
    assert_int_equal(cs.n_leftover, 0);
    json_object_put(f);
}

static size_t num(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? (size_t)json_object_get_int(v) : 0;
}

static void test_decide_fixtures(void **state)
{
    (void)state;
    json_object *cases = fixture("decide.json");
    for (size_t i = 0; i < json_object_array_length(cases); i++) {
        json_object *c = json_object_array_get_idx(cases, i);
        json_object *order = json_object_new_object(), *st = ctrl_get(c, "status");
        if (st)
            json_object_object_add(order, "status", json_object_get(st));
        json_object *sum = ctrl_get(c, "summary");
        orders_chal_summary_t cs = {0};
        if (sum) {
            cs.n_required = num(sum, "required");
            cs.n_missing = num(sum, "missing");
            cs.n_leftover = num(sum, "leftover");
            cs.n_final = num(sum, "final");
            cs.n_failed = num(sum, "failed");
        }
        const char *got = orders_action_name(orders_decide(order, sum ? &cs : NULL));
        if (strcmp(got, ctrl_str(c, "expect")) != 0)
            fail_msg("case \"%s\": got %s, want %s", ctrl_str(c, "name"), got, ctrl_str(c, "expect"));
        json_object_put(order);
    }
    json_object_put(cases);
}

static void test_states(void **state)
{
    (void)state;
    const char *failure[] = {"invalid", "expired", "errored", "revoked", "deactivated"};
    for (size_t i = 0; i < 5; i++) {
        assert_true(orders_state_is_failure(failure[i]));
        assert_true(orders_state_is_final(failure[i]));
    }
    assert_true(orders_state_is_final("valid"));
    assert_false(orders_state_is_failure("valid"));
    const char *other[] = {"ready", "pending", "processing", ""};
    for (size_t i = 0; i < 4; i++)
        assert_false(orders_state_is_final(other[i]));
    assert_false(orders_state_is_final(NULL));
}

/* ---- issuer → Order matching ---- */

static void test_refers_to_issuer(void **state)
{
    (void)state;
    json_object *iss = parse("{\"metadata\":{\"name\":\"le\",\"namespace\":\"a\"}}");
    json_object *ciss = parse("{\"metadata\":{\"name\":\"le\"}}");
    struct {
        const char *order;
        bool issuer, cluster;
    } cases[] = {
        {"{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"issuerRef\":{\"name\":\"le\"}}}", true, false},
        {"{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"issuerRef\":{\"name\":\"le\",\"kind\":\"Issuer\","
         "\"group\":\"cert-manager.io\"}}}",
         true, false},
        {"{\"metadata\":{\"namespace\":\"b\"},\"spec\":{\"issuerRef\":{\"name\":\"le\"}}}", false, false},
        {"{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"issuerRef\":{\"name\":\"other\"}}}", false, false},
        {"{\"metadata\":{\"namespace\":\"b\"},\"spec\":{\"issuerRef\":{\"name\":\"le\",\"kind\":\"ClusterIssuer\"}}}",
         false, true},
        {"{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"issuerRef\":{\"name\":\"le\",\"kind\":\"ClusterIssuer\","
         "\"group\":\"example.org\"}}}",
         false, false},
        {"{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"issuerRef\":{\"name\":\"le\",\"kind\":\"Other\"}}}", false,
         false},
        {"{\"metadata\":{\"namespace\":\"a\"},\"spec\":{}}", false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *o = parse(cases[i].order);
        if (orders_refers_to_issuer(o, iss, false) != cases[i].issuer ||
            orders_refers_to_issuer(o, ciss, true) != cases[i].cluster)
            fail_msg("case %zu", i);
        json_object_put(o);
    }
    json_object_put(iss);
    json_object_put(ciss);
}

/* ---- CSR ---- */

static X509_REQ *make_csr(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_pubkey(req, k);
    X509_NAME *nm = X509_REQ_get_subject_name(req);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"a.example.com", -1, -1, 0);
    assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
    EVP_PKEY_free(k);
    return req;
}

static void test_csr_der(void **state)
{
    (void)state;
    X509_REQ *req = make_csr();
    unsigned char *der = NULL;
    int der_len = i2d_X509_REQ(req, &der);
    assert_true(der_len > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, req);
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(b, &pem);

    /* base64 of PEM (what the CertificateRequest → Order path stores) */
    char *b64 = orders_b64_encode(pem, (size_t)pem_len);
    unsigned char *out = NULL;
    size_t out_len = 0;
    char err[256];
    assert_int_equal(orders_csr_der(b64, &out, &out_len, err, sizeof(err)), 0);
    assert_int_equal(out_len, (size_t)der_len);
    assert_memory_equal(out, der, out_len);
    free(out);
    free(b64);
    /* base64 of DER */
    b64 = orders_b64_encode(der, (size_t)der_len);
    assert_int_equal(orders_csr_der(b64, &out, &out_len, err, sizeof(err)), 0);
    assert_memory_equal(out, der, out_len);
    free(out);
    free(b64);
    /* errors */
    assert_int_equal(orders_csr_der("", &out, &out_len, err, sizeof(err)), -1);
    assert_int_equal(orders_csr_der("!!notbase64", &out, &out_len, err, sizeof(err)), -1);
    b64 = orders_b64_encode("hello world", 11);
    assert_int_equal(orders_csr_der(b64, &out, &out_len, err, sizeof(err)), -1);
    free(b64);
    b64 = orders_b64_encode("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", 74);
    assert_int_equal(orders_csr_der(b64, &out, &out_len, err, sizeof(err)), -1);
    assert_null(strstr(err, "AAAA"));
    free(b64);
    char *huge = malloc(300 * 1024 + 1);
    memset(huge, 'A', 300 * 1024);
    huge[300 * 1024] = '\0';
    assert_int_equal(orders_csr_der(huge, &out, &out_len, err, sizeof(err)), -1);
    free(huge);
    BIO_free(b);
    OPENSSL_free(der);
    X509_REQ_free(req);
}

static void test_b64(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *s = orders_b64_encode(in[i], strlen(in[i]));
        assert_string_equal(s, want[i]);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identifiers_sorted_dedup_dns_first),
        cmocka_unit_test(test_identifiers_common_name_rules),
        cmocka_unit_test(test_identifiers_errors),
        cmocka_unit_test(test_go_duration),
        cmocka_unit_test(test_required_challenges),
        cmocka_unit_test(test_required_challenges_no_solver),
        cmocka_unit_test(test_required_challenges_all_reused),
        cmocka_unit_test(test_summarize),
        cmocka_unit_test(test_decide_fixtures),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_refers_to_issuer),
        cmocka_unit_test(test_csr_der),
        cmocka_unit_test(test_b64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
