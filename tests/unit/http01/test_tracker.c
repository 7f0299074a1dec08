/* SPDX-License-Identifier: Apache-2.0 */
/* The consecutive-passes bookkeeping of the self-check (pure: times are given). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "http01/selfcheck.h"

static void test_two_passes_one_second_apart(void **state)
{
    (void)state;
    selfcheck_tracker_t *t = selfcheck_tracker_new(2, 1000);
    long long after = -1;
    assert_int_equal(selfcheck_tracker_wait_ms(t, "u1", 0), 0);
    assert_int_equal(selfcheck_tracker_record(t, "u1", true, 10000, &after), SELFCHECK_PENDING);
    assert_int_equal(after, 1000);
    assert_int_equal(selfcheck_tracker_passes(t, "u1"), 1);
    /* asked again too early (an informer event): wait the rest, an early pass does not count */
    assert_int_equal(selfcheck_tracker_wait_ms(t, "u1", 10400), 600);
    assert_int_equal(selfcheck_tracker_record(t, "u1", true, 10400, &after), SELFCHECK_PENDING);
    assert_int_equal(after, 600);
    assert_int_equal(selfcheck_tracker_passes(t, "u1"), 1);
    assert_int_equal(selfcheck_tracker_wait_ms(t, "u1", 11000), 0);
    assert_int_equal(selfcheck_tracker_record(t, "u1", true, 11000, &after), SELFCHECK_PASSED);
    assert_int_equal(selfcheck_tracker_size(t), 0);
    selfcheck_tracker_free(t);
}

static void test_failure_resets(void **state)
{
    (void)state;
    selfcheck_tracker_t *t = selfcheck_tracker_new(3, 500);
    long long after;
    assert_int_equal(selfcheck_tracker_record(t, "u", true, 0, &after), SELFCHECK_PENDING);
    assert_int_equal(selfcheck_tracker_record(t, "u", true, 500, &after), SELFCHECK_PENDING);
    assert_int_equal(selfcheck_tracker_record(t, "u", false, 1000, &after), SELFCHECK_FAILED);
    assert_int_equal(selfcheck_tracker_passes(t, "u"), 0);
    assert_int_equal(selfcheck_tracker_record(t, "u", true, 1001, &after), SELFCHECK_PENDING);
    assert_int_equal(selfcheck_tracker_record(t, "u", true, 1501, &after), SELFCHECK_PENDING);
    assert_int_equal(selfcheck_tracker_record(t, "u", true, 2001, NULL), SELFCHECK_PASSED);
    selfcheck_tracker_free(t);
}

static void test_single_pass_and_many_keys(void **state)
{
    (void)state;
    selfcheck_tracker_t *t = selfcheck_tracker_new(0, 0); /* 0 passes means 1 */
    assert_int_equal(selfcheck_tracker_record(t, "x", true, 5, NULL), SELFCHECK_PASSED);
    selfcheck_tracker_free(t);

    t = selfcheck_tracker_new(2, 1000);
    char uid[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(uid, sizeof(uid), "uid-%d", i);
        assert_int_equal(selfcheck_tracker_record(t, uid, true, i, NULL), SELFCHECK_PENDING);
    }
    assert_int_equal(selfcheck_tracker_size(t), 2000);
    selfcheck_tracker_forget(t, "uid-7");
    selfcheck_tracker_forget(t, "uid-7");
    assert_int_equal(selfcheck_tracker_size(t), 1999);
    assert_int_equal(selfcheck_tracker_passes(t, "uid-8"), 1);
    /* entries last touched before 1000 are older than 1000 ms at 2000 */
    assert_int_equal(selfcheck_tracker_gc(t, 2000, 1000), 999);
    assert_int_equal(selfcheck_tracker_size(t), 1000);
    selfcheck_tracker_free(t);
    selfcheck_tracker_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_passes_one_second_apart),
        cmocka_unit_test(test_failure_resets),
        cmocka_unit_test(test_single_pass_and_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
