/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/duration.h"

static void test_valid(void **state)
{
    (void)state;
    double s;
    assert_int_equal(util_parse_duration("2160h0m0s", &s), 0);
    assert_true(s == 2160.0 * 3600);
    assert_int_equal(util_parse_duration("1.5h", &s), 0);
    assert_true(s == 5400);
    assert_int_equal(util_parse_duration("1m30s", &s), 0);
    assert_true(s == 90);
    assert_int_equal(util_parse_duration("-10s", &s), 0);
    assert_true(s == -10);
    assert_int_equal(util_parse_duration("0", &s), 0);
    assert_true(s == 0);
    assert_int_equal(util_parse_duration("1.5ms", &s), 0);
    assert_true(s > 0.0014999 && s < 0.0015001);
    assert_int_equal(util_parse_duration(".5s", &s), 0);
    assert_true(s == 0.5);
    int64_t ms;
    assert_int_equal(util_parse_duration_ms("300ms", &ms), 0);
    assert_int_equal(ms, 300);
    assert_int_equal(util_parse_duration_ms("1500us", &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(util_parse_duration_ms("2\xc2\xb5s", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(util_parse_duration_ms("10s", &ms), 0);
    assert_int_equal(ms, 10000);
}

static void test_invalid(void **state)
{
    (void)state;
    double s;
    int64_t ms;
    const char *bad[] = {"", "10", "5", "h", "1e3s", "s", "1x", " 1s", "1s ", "1.s.", "--1s", "+", "inf", "0x10s", NULL};
    for (const char **b = bad; *b; b++)
        assert_int_equal(util_parse_duration(*b, &s), -1);
    assert_int_equal(util_parse_duration(NULL, &s), -1);
    assert_int_equal(util_parse_duration_ms("-1s", &ms), -1);
    assert_int_equal(util_parse_duration_ms("9999999999999999h", &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
