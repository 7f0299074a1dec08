/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/log.h"

static char *capture(void (*fn)(void))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    log_set_stream(f);
    fn();
    log_set_stream(NULL);
    fclose(f);
    return buf;
}

static void emit_text(void)
{
    log_setup(0, LOG_FORMAT_TEXT);
    LOG_INFO("challenge presented", "challenge", "ns/a", "type", "HTTP-01");
}

static void test_text_format(void **state)
{
    (void)state;
    char *out = capture(emit_text);
    assert_int_equal(out[0], 'I');
    assert_non_null(strstr(out, "test_log.c:"));
    assert_non_null(strstr(out, "] \"challenge presented\" challenge=\"ns/a\" type=\"HTTP-01\"\n"));
    free(out);
}

static void emit_json_hostile(void)
{
    log_setup(0, LOG_FORMAT_JSON);
    LOG_WARN("peer said", "detail", "line1\n\"I1129 forged\"\x01");
}

static void test_json_escapes_peer_data(void **state)
{
    (void)state;
    char *out = capture(emit_json_hostile);
    assert_non_null(strstr(out, "\"msg\":\"peer said\""));
    assert_non_null(strstr(out, "\"level\":\"warning\""));
    assert_non_null(strstr(out, "\"detail\":\"line1\\n\\\"I1129 forged\\\"\\u0001\""));
    /* exactly one line */
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
    free(out);
}

static int v_evaluated;
static const char *count_eval(void)
{
    v_evaluated++;
    return "x";
}

static void emit_verbose(void)
{
    log_setup(1, LOG_FORMAT_TEXT);
    LOG_V(2, "hidden", "k", count_eval());
    LOG_V(1, "shown", "k", count_eval());
}

static void test_verbosity_skips_evaluation(void **state)
{
    (void)state;
    v_evaluated = 0;
    char *out = capture(emit_verbose);
    assert_int_equal(v_evaluated, 1);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "shown"));
    free(out);
}

static void test_parse_format(void **state)
{
    (void)state;
    enum log_format f;
    assert_int_equal(log_parse_format("json", &f), 0);
    assert_int_equal(f, LOG_FORMAT_JSON);
    assert_int_equal(log_parse_format("text", &f), 0);
    assert_int_equal(f, LOG_FORMAT_TEXT);
    assert_int_equal(log_parse_format("yaml", &f), -1);
    assert_int_equal(log_parse_format(NULL, &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_format),
        cmocka_unit_test(test_json_escapes_peer_data),
        cmocka_unit_test(test_verbosity_skips_evaluation),
        cmocka_unit_test(test_parse_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
