/* SPDX-License-Identifier: Apache-2.0 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

EVP_PKEY *tu_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (!k)
        abort();
    return k;
}

static char *bio_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);
    if (!s)
        abort();
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

char *tu_csr_pem(EVP_PKEY *key, const char *cn, const char *sans)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    if (cn)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_subject_name(req, name);
    X509_NAME_free(name);
    X509_REQ_set_pubkey(req, key);
    if (sans) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
        if (!ext)
            abort();
        sk_X509_EXTENSION_push(exts, ext);
        X509_REQ_add_extensions(req, exts);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0)
        abort();
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, req);
    char *s = bio_string(b);
    BIO_free(b);
    X509_REQ_free(req);
    return s;
}

char *tu_cert_pem(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, name);
    X509_NAME_free(name);
    X509_set_pubkey(x, key);
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        abort();
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *s = bio_string(b);
    BIO_free(b);
    X509_free(x);
    return s;
}

char *tu_b64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        abort();
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

json_object *tu_json(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (!o) {
        fprintf(stderr, "bad JSON fixture: %s\n", text);
        abort();
    }
    return o;
}
