/* SPDX-License-Identifier: Apache-2.0 */
/* --tls-min-version / --tls-cipher-suites → GnuTLS priority strings: the strings for each input, that
 * GnuTLS accepts every one of them, and the errors for what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "tlsopts.h"

static void expect(const char *min, const char *const *suites, size_t n, const char *want)
{
    char out[512], err[256] = "";
    if (tlsopts_priorities(min, suites, n, out, sizeof(out), err, sizeof(err)) != 0)
        fail_msg("min=%s n=%zu: %s", min ? min : "(null)", n, err);
    assert_string_equal(out, want);
    gnutls_priority_t p = NULL;
    const char *where = NULL;
    if (gnutls_priority_init(&p, out, &where) != GNUTLS_E_SUCCESS)
        fail_msg("GnuTLS refuses %s at %s", out, where ? where : "?");
    gnutls_priority_deinit(p);
}

static void expect_error(const char *min, const char *const *suites, size_t n, const char *want_part)
{
    char out[512], err[256] = "";
    assert_int_equal(tlsopts_priorities(min, suites, n, out, sizeof(out), err, sizeof(err)), -1);
    if (!strstr(err, want_part))
        fail_msg("error '%s' lacks '%s'", err, want_part);
}

static void test_versions(void **state)
{
    (void)state;
    expect(NULL, NULL, 0, TLSOPTS_DEFAULT_PRIORITIES);
    expect("", NULL, 0, TLSOPTS_DEFAULT_PRIORITIES);
    expect("VersionTLS12", NULL, 0, TLSOPTS_DEFAULT_PRIORITIES);
    expect("VersionTLS13", NULL, 0, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    expect_error("VersionTLS10", NULL, 0, "--tls-min-version: VersionTLS10: versions below TLS 1.2");
    expect_error("VersionTLS11", NULL, 0, "below TLS 1.2");
    expect_error("tls1.2", NULL, 0, "--tls-min-version: tls1.2: unknown version");
}

static void test_suites(void **state)
{
    (void)state;
    const char *gcm[] = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};
    expect(NULL, gcm, 2,
           TLSOPTS_DEFAULT_PRIORITIES ":-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM"
                                      ":+CHACHA20-POLY1305:-MAC-ALL:+AEAD");
    const char *cbc[] = {"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
                         "TLS_RSA_WITH_AES_128_CBC_SHA"};
    expect("VersionTLS12", cbc, 3,
           TLSOPTS_DEFAULT_PRIORITIES ":-KX-ALL:+RSA:+ECDHE-RSA:-CIPHER-ALL:+AES-128-CBC:+AES-128-GCM:+AES-256-GCM"
                                      ":+CHACHA20-POLY1305:-MAC-ALL:+SHA1:+SHA256:+AEAD");
    /* TLS 1.3 suites are not configurable (as in Go): alone they restrict nothing */
    const char *v13[] = {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"};
    expect(NULL, v13, 2, TLSOPTS_DEFAULT_PRIORITIES);
    /* with TLS 1.3 only, TLS 1.2 suites have nothing to restrict */
    expect("VersionTLS13", gcm, 2, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    const char *alias[] = {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"};
    expect(NULL, alias, 1,
           TLSOPTS_DEFAULT_PRIORITIES ":-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+CHACHA20-POLY1305:+AES-128-GCM:+AES-256-GCM"
                                      ":-MAC-ALL:+AEAD");
}

static void test_refused(void **state)
{
    (void)state;
    const char *rc4[] = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_RC4_128_SHA"};
    expect_error(NULL, rc4, 2, "--tls-cipher-suites: TLS_ECDHE_RSA_WITH_RC4_128_SHA: insecure");
    const char *des[] = {"TLS_RSA_WITH_3DES_EDE_CBC_SHA"};
    expect_error(NULL, des, 1, "insecure");
    const char *bad[] = {"ECDHE-RSA-AES128-GCM-SHA256"};
    expect_error(NULL, bad, 1, "--tls-cipher-suites: ECDHE-RSA-AES128-GCM-SHA256: unknown cipher suite");
    const char *empty[] = {""};
    expect_error(NULL, empty, 1, "unknown cipher suite");
    char small[16], err[128];
    assert_int_equal(tlsopts_priorities(NULL, NULL, 0, small, sizeof(small), err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_suites),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
