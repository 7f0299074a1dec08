/* SPDX-License-Identifier: Apache-2.0 */
/* CSRs are built in the test with OpenSSL (fresh P-256 key) so every shape is covered without fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509/csr.h"

static EVP_PKEY *key;

static int setup(void **state)
{
    (void)state;
    key = EVP_EC_gen("P-256");
    return key ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key);
    return 0;
}

/* cn may exceed 64 bytes: set as a raw UTF8String to bypass OpenSSL's length table. */
static unsigned char *make_csr(const char *cn, const char *san, bool pem, size_t *len, bool corrupt_sig)
{
    X509_REQ *r = X509_REQ_new();
    assert_non_null(r);
    X509_REQ_set_version(r, 0);
    if (cn) {
        X509_NAME *n = X509_REQ_get_subject_name(r);
        X509_NAME_ENTRY *e = X509_NAME_ENTRY_create_by_NID(NULL, NID_commonName, V_ASN1_UTF8STRING,
                                                           (const unsigned char *)cn, (int)strlen(cn));
        assert_non_null(e);
        X509_NAME_add_entry(n, e, -1, 0);
        X509_NAME_ENTRY_free(e);
    }
    X509_REQ_set_pubkey(r, key);
    if (san) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        assert_non_null(ext);
        sk_X509_EXTENSION_push(exts, ext);
        X509_REQ_add_extensions(r, exts);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    unsigned char *out = NULL;
    if (pem) {
        BIO *b = BIO_new(BIO_s_mem());
        PEM_write_bio_X509_REQ(b, r);
        char *p;
        long n = BIO_get_mem_data(b, &p);
        out = malloc((size_t)n);
        memcpy(out, p, (size_t)n);
        *len = (size_t)n;
        BIO_free(b);
    } else {
        int n = i2d_X509_REQ(r, &out);
        assert_true(n > 0);
        *len = (size_t)n;
        if (corrupt_sig)
            out[n - 1] ^= 0x01;
    }
    X509_REQ_free(r);
    return out;
}

static void test_parse_pem_and_der(void **state)
{
    (void)state;
    char err[128];
    for (int pem = 0; pem < 2; pem++) {
        size_t len;
        unsigned char *d = make_csr("a.example.com", "DNS:a.example.com,DNS:b.example.com,IP:192.0.2.1,IP:2001:db8:0::1",
                                    pem, &len, false);
        x509_csr_t *c = x509_csr_parse(d, len, err, sizeof(err));
        if (!c)
            fail_msg("parse: %s", err);
        assert_string_equal(c->common_name, "a.example.com");
        assert_int_equal(c->n_dns, 2);
        assert_string_equal(c->dns_names[1], "b.example.com");
        assert_int_equal(c->n_ip, 2);
        assert_string_equal(c->ip_addresses[0], "192.0.2.1");
        assert_string_equal(c->ip_addresses[1], "2001:db8::1");
        assert_non_null(c->pubkey);
        x509_csr_free(c);
        free(d);
    }
}

static void test_long_cn_and_no_names(void **state)
{
    (void)state;
    char cn[100];
    memset(cn, 'a', 70);
    cn[70] = '\0';
    size_t len;
    char err[128];
    unsigned char *d = make_csr(cn, NULL, false, &len, false);
    x509_csr_t *c = x509_csr_parse(d, len, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(strlen(c->common_name), 70);
    assert_int_equal(c->n_dns + c->n_ip, 0);
    x509_csr_free(c);
    free(d);
}

static void test_rejects(void **state)
{
    (void)state;
    char err[128];
    size_t len;
    assert_null(x509_csr_parse((const unsigned char *)"", 0, err, sizeof(err)));
    assert_null(x509_csr_parse((const unsigned char *)"garbage", 7, err, sizeof(err)));
    assert_non_null(strstr(err, "PKCS#10"));
    const char *pem = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    assert_null(x509_csr_parse((const unsigned char *)pem, strlen(pem), err, sizeof(err)));
    unsigned char *d = make_csr("a.example.com", "DNS:a.example.com", false, &len, true);
    assert_null(x509_csr_parse(d, len, err, sizeof(err)));
    assert_non_null(strstr(err, "signature"));
    free(d);
    static unsigned char big[X509_CSR_MAX_BYTES + 1];
    assert_null(x509_csr_parse(big, sizeof(big), err, sizeof(err)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_pem_and_der),
        cmocka_unit_test(test_long_cn_and_no_names),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
