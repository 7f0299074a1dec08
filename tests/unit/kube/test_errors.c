/* SPDX-License-Identifier: Apache-2.0 */
/* metav1.Status → typed kube errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kube/errors.h"

static void from(kube_error_t *e, long code, const char *body, const char *ra)
{
    kube_error_from_response(e, code, body, body ? strlen(body) : 0, ra);
}

static void test_not_found(void **state)
{
    kube_error_t e;
    (void)state;
    from(&e, 404,
         "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
         "\"configmaps \\\"x\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"x\",\"kind\":"
         "\"configmaps\"},\"code\":404}",
         NULL);
    assert_int_equal(e.type, KUBE_ERR_NOT_FOUND);
    assert_int_equal(e.code, 404);
    assert_string_equal(e.reason, "NotFound");
    assert_string_equal(e.message, "configmaps \"x\" not found");
    assert_false(kube_error_is_retryable(&e));
}

static void test_409_reason_decides(void **state)
{
    kube_error_t e;
    (void)state;
    from(&e, 409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":\"exists\",\"code\":409}", NULL);
    assert_int_equal(e.type, KUBE_ERR_ALREADY_EXISTS);
    from(&e, 409,
         "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"Operation cannot be fulfilled: the object "
         "has been modified\",\"code\":409}",
         NULL);
    assert_int_equal(e.type, KUBE_ERR_CONFLICT);
    /* Server-side apply conflicts: reason Conflict, causes FieldManagerConflict. */
    from(&e, 409,
         "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"Apply failed with 1 conflict\",\"details\":"
         "{\"causes\":[{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl\\\"\","
         "\"field\":\".data.a\"}]},\"code\":409}",
         NULL);
    assert_int_equal(e.type, KUBE_ERR_CONFLICT);
    assert_int_equal(e.n_causes, 1);
    assert_string_equal(e.causes[0].reason, "FieldManagerConflict");
    assert_string_equal(e.causes[0].field, ".data.a");
}

static void test_invalid_causes(void **state)
{
    kube_error_t e;
    char buf[1024];
    (void)state;
    from(&e, 422,
         "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Order.acme.cert-manager.io \\\"o\\\" is "
         "invalid\",\"reason\":\"Invalid\",\"details\":{\"causes\":[{\"reason\":\"FieldValueRequired\","
         "\"message\":\"Required value\",\"field\":\"spec.request\"},{\"reason\":\"FieldValueInvalid\","
         "\"message\":\"Invalid value: \\\"x\\\"\",\"field\":\"spec.dnsNames[0]\"}]},\"code\":422}",
         NULL);
    assert_int_equal(e.type, KUBE_ERR_INVALID);
    assert_int_equal(e.n_causes, 2);
    assert_string_equal(e.causes[0].field, "spec.request");
    assert_string_equal(e.causes[0].message, "Required value");
    assert_string_equal(e.causes[1].field, "spec.dnsNames[0]");
    kube_error_str(&e, buf, sizeof(buf));
    assert_non_null(strstr(buf, "Invalid (422)"));
    assert_non_null(strstr(buf, "spec.request: Required value"));
    assert_non_null(strstr(buf, "spec.dnsNames[0]: Invalid value"));
}

static void test_many_causes_capped(void **state)
{
    kube_error_t e;
    char body[8192];
    size_t off;
    (void)state;
    off = (size_t)snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"details\":{\"causes\":[");
    for (int i = 0; i < 20; i++)
        off += (size_t)snprintf(body + off, sizeof(body) - off, "%s{\"field\":\"f%d\",\"message\":\"m\"}",
                                i ? "," : "", i);
    snprintf(body + off, sizeof(body) - off, "]},\"code\":422}");
    from(&e, 422, body, NULL);
    assert_int_equal(e.n_causes, KUBE_ERR_MAX_CAUSES);
    assert_string_equal(e.causes[7].field, "f7");
}

static void test_too_many_requests(void **state)
{
    kube_error_t e;
    (void)state;
    from(&e, 429,
         "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"too many requests\",\"details\":"
         "{\"retryAfterSeconds\":3},\"code\":429}",
         "1");
    assert_int_equal(e.type, KUBE_ERR_TOO_MANY_REQUESTS);
    assert_int_equal(e.retry_after_s, 3);
    assert_true(kube_error_is_retryable(&e));
    from(&e, 429, NULL, "7");
    assert_int_equal(e.type, KUBE_ERR_TOO_MANY_REQUESTS);
    assert_int_equal(e.retry_after_s, 7);
    from(&e, 429, NULL, "Wed, 21 Oct 2015 07:28:00 GMT"); /* date form: not used by the API server */
    assert_int_equal(e.retry_after_s, 0);
}

static void test_gone_and_expired(void **state)
{
    kube_error_t e;
    json_object *st;
    (void)state;
    from(&e, 410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old resource version\",\"code\":410}",
         NULL);
    assert_int_equal(e.type, KUBE_ERR_GONE);
    /* A watch ERROR event object: code 410 and reason Expired, HTTP status unknown (0). */
    st = json_tokener_parse("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                            "\"too old resource version: 1 (5)\",\"reason\":\"Expired\",\"code\":410}");
    kube_error_from_status(&e, st, 0);
    assert_int_equal(e.type, KUBE_ERR_GONE);
    assert_int_equal(e.code, 410);
    json_object_put(st);
    st = json_tokener_parse("{\"kind\":\"Status\",\"code\":410}");
    kube_error_from_status(&e, st, 0);
    assert_int_equal(e.type, KUBE_ERR_GONE);
    json_object_put(st);
}

static void test_codes_without_status(void **state)
{
    static const struct {
        long code;
        enum kube_err_type t;
    } cases[] = {
        {400, KUBE_ERR_BAD_REQUEST}, {401, KUBE_ERR_UNAUTHORIZED}, {403, KUBE_ERR_FORBIDDEN},
        {404, KUBE_ERR_NOT_FOUND},   {409, KUBE_ERR_CONFLICT},     {410, KUBE_ERR_GONE},
        {422, KUBE_ERR_INVALID},     {429, KUBE_ERR_TOO_MANY_REQUESTS}, {500, KUBE_ERR_SERVER},
        {502, KUBE_ERR_SERVER},      {503, KUBE_ERR_SERVER},       {504, KUBE_ERR_TIMEOUT},
        {418, KUBE_ERR_OTHER},
    };
    kube_error_t e;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        from(&e, cases[i].code, "<html>\x01 bad gateway</html>", NULL);
        assert_int_equal(e.type, cases[i].t);
        assert_int_equal(e.code, cases[i].code);
        assert_null(strchr(e.message, '\x01'));
    }
    from(&e, 500, "{\"kind\":\"Status\",\"reason\":\"InternalError\",\"code\":500}", NULL);
    assert_int_equal(e.type, KUBE_ERR_SERVER);
    from(&e, 504, "{\"kind\":\"Status\",\"reason\":\"Timeout\",\"code\":504}", NULL);
    assert_int_equal(e.type, KUBE_ERR_TIMEOUT);
    from(&e, 403, "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"message\":\"secrets is forbidden\"}", NULL);
    assert_int_equal(e.type, KUBE_ERR_FORBIDDEN);
    assert_int_equal(e.code, 403);
    from(&e, 401, "not json at all {", NULL);
    assert_int_equal(e.type, KUBE_ERR_UNAUTHORIZED);
}

static void test_transport_and_str(void **state)
{
    kube_error_t e;
    char buf[64];
    (void)state;
    kube_error_transport(&e, "connection refused", false);
    assert_int_equal(e.type, KUBE_ERR_TRANSPORT);
    assert_true(kube_error_is_retryable(&e));
    assert_string_equal(kube_error_str(&e, buf, sizeof(buf)), "Transport: connection refused");
    kube_error_transport(&e, "Operation timed out", true);
    assert_int_equal(e.type, KUBE_ERR_TIMEOUT);
    /* Truncation keeps the buffer terminated. */
    kube_error_set(&e, KUBE_ERR_DECODE, "a very long message that will not fit in the small buffer at all");
    kube_error_str(&e, buf, 16);
    assert_int_equal(strlen(buf), 15);
    assert_string_equal(kube_err_type_name(KUBE_ERR_ALREADY_EXISTS), "AlreadyExists");
    assert_string_equal(kube_err_type_name((enum kube_err_type)999), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found),        cmocka_unit_test(test_409_reason_decides),
        cmocka_unit_test(test_invalid_causes),   cmocka_unit_test(test_many_causes_capped),
        cmocka_unit_test(test_too_many_requests), cmocka_unit_test(test_gone_and_expired),
        cmocka_unit_test(test_codes_without_status), cmocka_unit_test(test_transport_and_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
