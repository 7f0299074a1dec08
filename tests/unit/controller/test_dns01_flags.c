/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --issuer-ambient-credentials / --cluster-issuer-ambient-credentials: the allowAmbientCredentials the DNS-01
 * glue hands to webhook solvers (lib/dns01 puts it into the ChallengePayload; tests/unit/dns01 covers that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dns01.h"

static void test_defaults(void **state)
{
    (void)state;
    /* without ctrl_dns01_set_options: cert-manager's defaults */
    assert_false(ctrl_dns01_allow_ambient_credentials("Issuer"));
    assert_false(ctrl_dns01_allow_ambient_credentials(""));
    assert_false(ctrl_dns01_allow_ambient_credentials(NULL));
    assert_true(ctrl_dns01_allow_ambient_credentials("ClusterIssuer"));
    ctrl_dns01_options_t o;
    ctrl_dns01_options_init(&o);
    assert_false(o.issuer_ambient_credentials);
    assert_true(o.cluster_issuer_ambient_credentials);
    assert_int_equal(o.check_settle_period_ms, 60000);
}

static void test_flags(void **state)
{
    (void)state;
    char err[256];
    ctrl_dns01_options_t o;
    ctrl_dns01_options_init(&o);
    o.issuer_ambient_credentials = true;
    o.cluster_issuer_ambient_credentials = false;
    assert_int_equal(ctrl_dns01_set_options(&o, err, sizeof(err)), 0);
    assert_true(ctrl_dns01_allow_ambient_credentials("Issuer"));
    assert_true(ctrl_dns01_allow_ambient_credentials(NULL));
    assert_false(ctrl_dns01_allow_ambient_credentials("ClusterIssuer"));
    ctrl_dns01_options_init(&o);
    assert_int_equal(ctrl_dns01_set_options(&o, err, sizeof(err)), 0);
    assert_false(ctrl_dns01_allow_ambient_credentials("Issuer"));
    assert_true(ctrl_dns01_allow_ambient_credentials("ClusterIssuer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
