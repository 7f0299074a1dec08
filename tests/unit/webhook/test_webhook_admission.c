/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven admission tests: every fixtures/<case>.json is an AdmissionReview plus an "_expect" object
 * (see gen_fixtures.py); the handler's response must match it. Bad requests are inline cases below. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <unistr.h>

#include "admission.h"
#include "result.h"
#include "validate.h"

static const char *const creators[] = {ADMISSION_DEFAULT_CHALLENGE_CREATOR, "group:kacme:controllers"};
static const admission_policy_t policy = {.challenge_creators = creators, .n_challenge_creators = 2};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s: ", name);                                                    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

static void run_fixture(const char *name, const char *path)
{
    size_t len;
    char *body = slurp(path, &len);
    json_object *in = json_tokener_parse(body); /* owned */
    json_object *resp = NULL;                   /* owned */
    char *out = NULL;
    size_t outlen = 0;
    assert_non_null(in);
    json_object *exp = get(in, "_expect");
    assert_non_null(exp);
    int code = admission_handle(body, len, &policy, &out, &outlen, NULL);
    CHECK(code == 200, "HTTP %d: %s", code, out ? out : "");
    resp = json_tokener_parse(out);
    CHECK(resp, "response is not JSON");
    CHECK(strcmp(json_object_get_string(get(resp, "apiVersion")), json_object_get_string(get(in, "apiVersion"))) == 0,
          "apiVersion not echoed");
    CHECK(strcmp(json_object_get_string(get(resp, "kind")), "AdmissionReview") == 0, "kind");
    json_object *r = get(resp, "response");
    CHECK(strcmp(json_object_get_string(get(r, "uid")), json_object_get_string(get(get(in, "request"), "uid"))) == 0,
          "uid not echoed");
    bool allowed = json_object_get_boolean(get(r, "allowed"));
    bool want = json_object_get_boolean(get(exp, "allowed"));
    json_object *st = get(r, "status");
    const char *msg = st ? json_object_get_string(get(st, "message")) : "";
    CHECK(allowed == want, "allowed=%d want %d (message: %s)", allowed, want, msg);
    if (!want) {
        int wc = json_object_get_int(get(exp, "code"));
        CHECK(json_object_get_int(get(st, "code")) == wc, "status.code %d want %d", json_object_get_int(get(st, "code")),
              wc);
        if (wc == 403)
            CHECK(strcmp(json_object_get_string(get(st, "reason")), "Forbidden") == 0, "reason");
    } else {
        CHECK(st == NULL, "status present on allow");
    }
    json_object *m = get(exp, "message");
    for (size_t i = 0; m && i < json_object_array_length(m); i++) {
        const char *want_s = json_object_get_string(json_object_array_get_idx(m, i));
        CHECK(strstr(msg, want_s), "message lacks [%s]; got [%s]", want_s, msg);
    }
    json_object *w = get(exp, "warnings"), *gw = get(r, "warnings");
    for (size_t i = 0; w && i < json_object_array_length(w); i++) {
        const char *want_s = json_object_get_string(json_object_array_get_idx(w, i));
        bool found = false;
        for (size_t j = 0; gw && j < json_object_array_length(gw) && !found; j++)
            found = strstr(json_object_get_string(json_object_array_get_idx(gw, j)), want_s) != NULL;
        CHECK(found, "warnings lack [%s]; got %s", want_s, gw ? json_object_to_json_string(gw) : "none");
    }
    if (json_object_get_boolean(get(exp, "no_warnings")))
        CHECK(!gw, "unexpected warnings %s", json_object_to_json_string(gw));
done:
    json_object_put(resp);
    json_object_put(in);
    free(out);
    free(body);
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_fixtures(void **state)
{
    (void)state;
    DIR *d = opendir(WEBHOOK_FIXTURE_DIR);
    assert_non_null(d);
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmpstr);
    assert_true(n >= 100);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", WEBHOOK_FIXTURE_DIR, names[i]);
        run_fixture(names[i], path);
        free(names[i]);
    }
    fprintf(stderr, "%zu fixtures, %d failures\n", n, failures);
    assert_int_equal(failures, 0);
}

struct bad {
    const char *body;
    int code;
    const char *reason;
};

static void test_bad_requests(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"", 400, "empty request body"},
        {"not json", 400, "not a single JSON document"},
        {"{\"apiVersion\":", 400, "not a single JSON document"},
        {"{} {}", 400, "not a single JSON document"},
        {"[1,2]", 400, "not an admission.k8s.io/v1 AdmissionReview"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}", 400, "not an admission.k8s.io/v1 AdmissionReview"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", 400, "has no request"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}", 400, "has no uid"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\"}}", 400,
         "has no kind"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"kind\":{}}}",
         400, "has no kind"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        size_t outlen = 0;
        int code = admission_handle(cases[i].body, strlen(cases[i].body), &policy, &out, &outlen, NULL);
        assert_int_equal(code, cases[i].code);
        assert_non_null(out);
        assert_non_null(strstr(out, cases[i].reason));
        assert_null(strchr(out, '\n'));
        free(out);
    }
    /* deep nesting is refused, not recursed into */
    size_t depth = 10000;
    char *deep = malloc(depth * 2 + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[depth * 2] = '\0';
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(admission_handle(deep, depth * 2, &policy, &out, &outlen, NULL), 400);
    free(out);
    free(deep);
    /* over 3 MiB */
    assert_int_equal(admission_handle("x", ADMISSION_MAX_BODY + 1, &policy, &out, &outlen, NULL), 413);
    free(out);
}

static void test_identifiers_cn_too_long(void **state)
{
    (void)state;
    admission_result_t r = {0};
    char cn[80];
    memset(cn, 'a', 65);
    strcpy(cn + 65, ".com");
    char *dns[] = {cn};
    validate_identifiers_c(&r, "d", dns, 1, "i", NULL, 0, "cn", cn, "none");
    char *m = admission_result_message(&r);
    assert_non_null(m);
    assert_non_null(strstr(m, "cn: Too long: must have at most 64 bytes"));
    assert_non_null(strstr(m, "d[0]: Invalid value"));     /* a 65-byte label */
    assert_int_equal(m[0], '[');                           /* several errors are bracketed */
    free(m);
    admission_result_clear(&r);
    /* exactly 64 bytes is fine */
    memset(cn, 'a', 60);
    strcpy(cn + 60, ".com");
    validate_identifiers_c(&r, "d", dns, 1, "i", NULL, 0, "cn", cn, "none");
    assert_int_equal(r.n_errors, 0);
    admission_result_clear(&r);
}

static void test_result_rendering(void **state)
{
    (void)state;
    admission_result_t r = {0};
    admission_err_str(&r, FE_DUPLICATE, "example.com", NULL, "spec.dnsNames[%d]", 1);
    char *m = admission_result_message(&r);
    assert_string_equal(m, "spec.dnsNames[1]: Duplicate value: \"example.com\"");
    free(m);
    admission_err(&r, FE_FORBIDDEN, NULL, "nope", "spec");
    admission_err(&r, FE_REQUIRED, NULL, NULL, "spec.x");
    m = admission_result_message(&r);
    assert_string_equal(m, "[spec.dnsNames[1]: Duplicate value: \"example.com\", spec: Forbidden: nope, spec.x: "
                           "Required value]");
    free(m);
    admission_result_clear(&r);
    for (int i = 0; i < ADMISSION_MAX_ERRORS + 5; i++)
        admission_err(&r, FE_REQUIRED, NULL, NULL, "f%d", i);
    m = admission_result_message(&r);
    assert_non_null(strstr(m, "... 5 more]"));
    free(m);
    admission_result_clear(&r);
}

/* An Order UPDATE review with the given old and new spec JSON. Owned. */
static char *order_update(const char *old_spec, const char *new_spec)
{
    char *s = NULL;
    assert_true(asprintf(&s,
                         "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
                         "\"uid\":\"u-1\",\"kind\":{\"group\":\"acme.cert-manager.io\",\"version\":\"v1\","
                         "\"kind\":\"Order\"},\"namespace\":\"ns\",\"name\":\"o\",\"operation\":\"UPDATE\","
                         "\"userInfo\":{\"username\":\"jane\"},"
                         "\"object\":{\"kind\":\"Order\",\"metadata\":{\"name\":\"o\"},\"spec\":%s},"
                         "\"oldObject\":{\"kind\":\"Order\",\"metadata\":{\"name\":\"o\"},\"spec\":%s}}}",
                         new_spec, old_spec) > 0);
    return s;
}

/* Runs a review; returns the response's allowed flag and, in *msg (owned, may be NULL), status.message. */
static bool review_allowed(const char *body, char **msg)
{
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(admission_handle(body, strlen(body), &policy, &out, &outlen, NULL), 200);
    json_object *root = json_tokener_parse(out); /* owned */
    free(out);
    assert_non_null(root);
    json_object *resp = get(root, "response");
    bool allowed = json_object_get_boolean(get(resp, "allowed"));
    json_object *m = get(get(resp, "status"), "message");
    if (msg)
        *msg = m ? strdup(json_object_get_string(m)) : NULL;
    json_object_put(root);
    return allowed;
}

static void test_spec_keys_with_nul(void **state)
{
    (void)state;
    /* a key holding \u0000 is its own key, not its prefix: adding it is a spec change */
    char *b = order_update("{\"x\":1}", "{\"x\":1,\"x\\u0000evil\":{\"a\":1}}");
    char *msg = NULL;
    assert_false(review_allowed(b, &msg));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "Forbidden"));
    free(msg);
    free(b);
    b = order_update("{\"x\":1,\"x\\u0000y\":1}", "{\"x\":1,\"x\\u0000y\":2}");
    assert_false(review_allowed(b, NULL));
    free(b);
    b = order_update("{\"x\":1,\"x\\u0000y\":1}", "{\"x\\u0000y\":1,\"x\":1}");
    assert_true(review_allowed(b, NULL));
    free(b);
}

static void test_utf8(void **state)
{
    (void)state;
    /* ill-formed UTF-8 in any string or key is a 400: overlong, encoded surrogate, above U+10FFFF, lone
     * low surrogate escape, stray continuation byte */
    static const char *const bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\\udc00", "\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int in_key = 0; in_key < 2; in_key++) {
            char *b = NULL;
            assert_true(asprintf(&b, in_key ? "{\"apiVersion\":\"admission.k8s.io/v1\",\"%s\":1}"
                                            : "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"%s\"}",
                                 bad[i]) > 0);
            char *out = NULL;
            size_t outlen = 0;
            assert_int_equal(admission_handle(b, strlen(b), &policy, &out, &outlen, NULL), 400);
            if (!strstr(out, "invalid UTF-8") && !strstr(out, "UTF8"))
                fail_msg("case %zu/%d: %s", i, in_key, out);
            free(out);
            free(b);
        }
    }
    /* a value cut inside a multi-byte character is still valid UTF-8 in the message (U+FFFD) */
    admission_result_t r = {0};
    char v[512];
    memset(v, 'x', 199);
    strcpy(v + 199, "\xc3\xa9\xc3\xa9");
    admission_err_str(&r, FE_INVALID, v, "bad", "spec.dnsNames[%d]", 0);
    admission_warn(&r, "w: %.200s", v);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.n_warnings, 1);
    assert_null(u8_check((const uint8_t *)r.errors[0], strlen(r.errors[0])));
    assert_null(u8_check((const uint8_t *)r.warnings[0], strlen(r.warnings[0])));
    assert_non_null(strstr(r.warnings[0], "x\xef\xbf\xbd"));
    admission_result_clear(&r);
}

static void test_too_many_identifiers(void **state)
{
    (void)state;
    /* the cap is checked before the pairwise checks; at the cap they still run */
    size_t n = WEBHOOK_MAX_IDENTIFIERS + 1;
    char **names = calloc(n, sizeof(*names));
    assert_non_null(names);
    for (size_t i = 0; i < n; i++)
        assert_true(asprintf(&names[i], "*.n%zu.example.com", i) > 0);
    admission_result_t r = {0};
    validate_identifiers_c(&r, "spec.dnsNames", names, n, "spec.ipAddresses", NULL, 0, "cn", NULL, "spec");
    char *m = admission_result_message(&r);
    assert_string_equal(m, "spec.dnsNames: Too many: 1001: must have at most 1000 DNS names and IP addresses "
                           "together");
    free(m);
    admission_result_clear(&r);
    validate_identifiers_c(&r, "spec.dnsNames", names, n - 1, "spec.ipAddresses", NULL, 0, "cn", NULL, "spec");
    assert_int_equal(r.n_errors, 0);
    admission_result_clear(&r);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_identifiers_cn_too_long),
        cmocka_unit_test(test_result_rendering),
        cmocka_unit_test(test_spec_keys_with_nul),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_too_many_identifiers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
