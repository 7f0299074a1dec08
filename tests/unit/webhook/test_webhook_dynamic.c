/* SPDX-License-Identifier: Apache-2.0 */
/* The dynamic serving CA's pure parts: when the Secret's CA must be regenerated, the CA and leaf shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dynamic.h"

static const time_t T0 = 1780000000; /* 2026-05-28 */

static int check(const char *ca, const char *crt, const char *key, time_t now, char *why)
{
    return dynamic_ca_check(ca, ca ? strlen(ca) : 0, crt, crt ? strlen(crt) : 0, key, key ? strlen(key) : 0, now,
                            why, 160);
}

static X509 *parse(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

static void test_ca_check(void **state)
{
    (void)state;
    char *c1, *k1, *c2, *k2;
    char why[160];
    assert_int_equal(dynamic_new_ca(T0, &c1, &k1), 0);
    assert_int_equal(dynamic_new_ca(T0, &c2, &k2), 0);
    assert_non_null(strstr(k1, "BEGIN PRIVATE KEY")); /* PKCS#8 */
    assert_int_equal(check(c1, c1, k1, T0 + 60, why), 0);
    /* 2/3 of 365 days is ~243 days */
    assert_int_equal(check(c1, c1, k1, T0 + 240 * 86400, why), 0);
    assert_int_equal(check(c1, c1, k1, T0 + 244 * 86400, why), -1);
    assert_non_null(strstr(why, "third"));
    assert_int_equal(check(NULL, c1, k1, T0, why), -1);
    assert_non_null(strstr(why, "missing"));
    assert_int_equal(check(c1, c1, NULL, T0, why), -1);
    assert_int_equal(check(c2, c1, k1, T0, why), -1);
    assert_non_null(strstr(why, "differs"));
    assert_int_equal(check(c1, c1, k2, T0, why), -1);
    assert_non_null(strstr(why, "does not match"));
    assert_int_equal(check("junk", "junk", "junk", T0, why), -1);
    assert_non_null(strstr(why, "parse"));
    /* a leaf is not a CA */
    const char *names[] = {"webhook.kacme.svc"};
    char *lc, *lk;
    time_t nb, na;
    char err[160];
    assert_int_equal(dynamic_issue_leaf(c1, k1, names, 1, 3600, T0, &lc, &lk, &nb, &na, err, sizeof(err)), 0);
    assert_int_equal(check(lc, lc, lk, T0, why), -1);
    assert_non_null(strstr(why, "not a CA"));
    X509 *ca = parse(c1);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(ca)), 384);
    assert_int_equal(X509_check_ca(ca) >= 1, 1);
    X509_free(ca);
    free(lc);
    free(lk);
    free(c1);
    free(k1);
    free(c2);
    free(k2);
}

static void test_leaf(void **state)
{
    (void)state;
    char *c, *k, *lc, *lk;
    time_t nb, na;
    char err[160];
    assert_int_equal(dynamic_new_ca(T0, &c, &k), 0);
    const char *names[] = {"kacme-webhook", "kacme-webhook.kacme.svc", "127.0.0.1", "::1"};
    assert_int_equal(dynamic_issue_leaf(c, k, names, 4, 168 * 3600.0, T0 + 10, &lc, &lk, &nb, &na, err, sizeof(err)),
                     0);
    assert_int_equal(nb, T0 + 10);
    assert_int_equal(na, T0 + 10 + 168 * 3600);
    X509 *ca = parse(c), *leaf = parse(lc);
    assert_int_equal(X509_verify(leaf, X509_get0_pubkey(ca)), 1);
    assert_int_equal(X509_check_host(leaf, "kacme-webhook.kacme.svc", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(leaf, "::1", 0), 1);
    assert_int_equal(X509_check_host(leaf, "127.0.0.1", 0, 0, NULL), 0); /* IPs are not DNS SANs */
    assert_int_equal(X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0), 1);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(leaf)), 384);
    X509_free(leaf);
    free(lc);
    free(lk);
    /* capped at the CA's notAfter */
    assert_int_equal(dynamic_issue_leaf(c, k, names, 1, 10 * DYNAMIC_CA_SECONDS, T0, &lc, &lk, &nb, &na, err,
                                        sizeof(err)), 0);
    assert_int_equal(na, T0 + (time_t)DYNAMIC_CA_SECONDS);
    free(lc);
    free(lk);
    /* an expired CA issues nothing */
    assert_int_equal(dynamic_issue_leaf(c, k, names, 1, 3600, T0 + (time_t)DYNAMIC_CA_SECONDS + 1, &lc, &lk, &nb,
                                        &na, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expired"));
    /* no names */
    assert_int_equal(dynamic_issue_leaf(c, k, names, 0, 3600, T0, &lc, &lk, &nb, &na, err, sizeof(err)), -1);
    X509_free(ca);
    free(c);
    free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_check),
        cmocka_unit_test(test_leaf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
