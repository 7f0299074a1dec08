/* SPDX-License-Identifier: Apache-2.0 */
/* admission_mutate: the requester fields of a CertificateRequest CREATE come from userInfo (set, replaced,
 * or removed when the client forged one userInfo lacks); nothing else is patched; bad envelopes get the
 * same 400s as /validate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "admission.h"
#include "util/base64.h"

/* review(kind group, operation, userInfo JSON, spec JSON) */
static char *review(const char *group, const char *kind, const char *op, const char *user, const char *spec)
{
    char *s = NULL;
    assert_true(asprintf(&s,
                         "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
                         "\"uid\":\"u-1\",\"kind\":{\"group\":\"%s\",\"version\":\"v1\",\"kind\":\"%s\"},"
                         "\"namespace\":\"ns\",\"name\":\"cr\",\"operation\":\"%s\",\"userInfo\":%s,"
                         "\"object\":{\"apiVersion\":\"%s/v1\",\"kind\":\"%s\",\"metadata\":{\"name\":\"cr\"},"
                         "\"spec\":%s}}}",
                         group, kind, op, user, group, kind, spec) > 0);
    return s;
}

/* Runs admission_mutate; returns the decoded patch as JSON (owned) or NULL when the response has none. */
static json_object *mutate(const char *body)
{
    char *out = NULL;
    size_t outlen = 0;
    admission_summary_t sum;
    assert_int_equal(admission_mutate(body, strlen(body), &out, &outlen, &sum), 200);
    assert_true(sum.allowed);
    json_object *resp = json_tokener_parse(out);
    assert_non_null(resp);
    json_object *r = json_object_object_get(resp, "response");
    assert_string_equal(json_object_get_string(json_object_object_get(r, "uid")), "u-1");
    assert_true(json_object_get_boolean(json_object_object_get(r, "allowed")));
    json_object *patch = NULL, *pt = json_object_object_get(r, "patch");
    if (pt) {
        assert_string_equal(json_object_get_string(json_object_object_get(r, "patchType")), "JSONPatch");
        unsigned char *raw = NULL;
        size_t rawlen = 0;
        assert_int_equal(util_base64_decode(json_object_get_string(pt), 1 << 20, &raw, &rawlen), 0);
        patch = json_tokener_parse((const char *)raw);
        assert_non_null(patch);
        free(raw);
    } else {
        assert_null(json_object_object_get(r, "patchType"));
    }
    json_object_put(resp);
    free(out);
    return patch;
}

static void assert_op(json_object *patch, size_t i, const char *op, const char *path, const char *value_json)
{
    json_object *o = json_object_array_get_idx(patch, i);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(json_object_object_get(o, "op")), op);
    assert_string_equal(json_object_get_string(json_object_object_get(o, "path")), path);
    json_object *v = json_object_object_get(o, "value");
    if (!value_json) {
        assert_null(v);
        return;
    }
    assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), value_json);
}

static void test_sets_requester(void **state)
{
    (void)state;
    char *b = review("cert-manager.io", "CertificateRequest", "CREATE",
                     "{\"username\":\"alice\",\"uid\":\"1234\",\"groups\":[\"devs\",\"system:authenticated\"],"
                     "\"extra\":{\"scopes\":[\"a\",\"b\"]}}",
                     "{\"request\":\"eA==\",\"issuerRef\":{\"name\":\"i\"}}");
    json_object *p = mutate(b);
    assert_non_null(p);
    assert_int_equal(json_object_array_length(p), 4);
    assert_op(p, 0, "add", "/spec/username", "\"alice\"");
    assert_op(p, 1, "add", "/spec/uid", "\"1234\"");
    assert_op(p, 2, "add", "/spec/groups", "[\"devs\",\"system:authenticated\"]");
    assert_op(p, 3, "add", "/spec/extra", "{\"scopes\":[\"a\",\"b\"]}");
    json_object_put(p);
    free(b);
}

static void test_forged_fields_replaced_or_removed(void **state)
{
    (void)state;
    /* the client claims to be someone else and adds uid/extra that its userInfo does not have */
    char *b = review("cert-manager.io", "CertificateRequest", "CREATE", "{\"username\":\"bob\",\"groups\":[\"g\"]}",
                     "{\"request\":\"eA==\",\"username\":\"admin\",\"uid\":\"0\",\"groups\":[\"system:masters\"],"
                     "\"extra\":{\"k\":[\"v\"]}}");
    json_object *p = mutate(b);
    assert_int_equal(json_object_array_length(p), 4);
    assert_op(p, 0, "add", "/spec/username", "\"bob\"");
    assert_op(p, 1, "remove", "/spec/uid", NULL);
    assert_op(p, 2, "add", "/spec/groups", "[\"g\"]");
    assert_op(p, 3, "remove", "/spec/extra", NULL);
    json_object_put(p);
    free(b);
}

static void test_nothing_else_patched(void **state)
{
    (void)state;
    const char *user = "{\"username\":\"alice\"}";
    char *b[] = {
        review("cert-manager.io", "CertificateRequest", "UPDATE", user, "{\"request\":\"eA==\"}"),
        review("cert-manager.io", "Issuer", "CREATE", user, "{\"acme\":{}}"),
        review("acme.cert-manager.io", "Order", "CREATE", user, "{\"request\":\"eA==\"}"),
        review("cert-manager.io", "CertificateRequest", "CREATE", user, "\"not an object\""),
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        assert_null(mutate(b[i]));
        free(b[i]);
    }
    /* an empty userInfo and a spec without requester fields: an empty patch */
    char *e = review("cert-manager.io", "CertificateRequest", "CREATE", "{}", "{\"request\":\"eA==\"}");
    json_object *p = mutate(e);
    assert_int_equal(json_object_array_length(p), 0);
    json_object_put(p);
    free(e);
}

static void test_bad_envelopes(void **state)
{
    (void)state;
    const char *bad[] = {"", "not json", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}",
                         "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = NULL;
        size_t outlen = 0;
        assert_int_equal(admission_mutate(bad[i], strlen(bad[i]), &out, &outlen, NULL), 400);
        assert_non_null(out);
        free(out);
    }
}

static void test_base64_encode(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"}; /* RFC 4648 §10 */
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char *e = util_base64_encode((const unsigned char *)in[i], strlen(in[i]));
        assert_string_equal(e, want[i]);
        free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_requester),
        cmocka_unit_test(test_forged_fields_replaced_or_removed),
        cmocka_unit_test(test_nothing_else_patched),
        cmocka_unit_test(test_bad_envelopes),
        cmocka_unit_test(test_base64_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
