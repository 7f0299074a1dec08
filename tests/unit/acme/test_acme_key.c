/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: base64url, RFC 7638 thumbprint, keys (PEM forms, hash), JWS verified by OpenSSL, EAB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_key.h"

static void check_encode(const void *in, size_t len, const char *want)
{
    char *s = acme_b64url_encode(in, len);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static int decode_str(const char *in, char *out, size_t outsz)
{
    uint8_t *b = NULL;
    size_t n = 0;
    if (acme_b64url_decode(in, strlen(in), &b, &n) != 0)
        return -1;
    assert_true(n < outsz);
    memcpy(out, b, n);
    out[n] = '\0';
    free(b);
    return (int)n;
}

static void test_b64url(void **state)
{
    (void)state;
    check_encode("", 0, "");
    check_encode("f", 1, "Zg");
    check_encode("fo", 2, "Zm8");
    check_encode("foo", 3, "Zm9v");
    check_encode("foob", 4, "Zm9vYg");
    const unsigned char hi[] = {0xfb, 0xff, 0xbf};
    check_encode(hi, sizeof(hi), "-_-_"); /* standard base64 would be "+/+/" */
    char buf[32];
    assert_int_equal(decode_str("Zm9vYg", buf, sizeof(buf)), 4);
    assert_string_equal(buf, "foob");
    assert_int_equal(decode_str("Zm9vYg==", buf, sizeof(buf)), 4); /* padding tolerated */
    assert_int_equal(decode_str("-_-_", buf, sizeof(buf)), 3);
    assert_memory_equal(buf, hi, 3);
    assert_int_equal(decode_str("", buf, sizeof(buf)), 0);
    assert_int_equal(decode_str("+/+/", buf, sizeof(buf)), -1); /* standard alphabet rejected */
    assert_int_equal(decode_str("Zm9vYg=", buf, sizeof(buf)), -1);   /* bad padding */
    assert_int_equal(decode_str("Zm9vY", buf, sizeof(buf)), -1);     /* impossible length */
    assert_int_equal(decode_str("Zh", buf, sizeof(buf)), -1);        /* non-zero trailing bits */
    assert_int_equal(decode_str("Zm 9v", buf, sizeof(buf)), -1);
    assert_int_equal(decode_str("Zg===", buf, sizeof(buf)), -1);
}

static void test_thumbprint_rfc7638(void **state)
{
    (void)state;
    /* RFC 7638 §3.1 example key (extra members must be ignored). */
    const char *jwk_text =
        "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS"
        "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicA"
        "taSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xB"
        "niIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
    json_object *jwk = json_tokener_parse(jwk_text);
    assert_non_null(jwk);
    char tp[ACME_THUMBPRINT_LEN];
    assert_int_equal(acme_jwk_thumbprint(jwk, tp), 0);
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    json_object_put(jwk);
    jwk = json_tokener_parse("{\"kty\":\"oct\",\"k\":\"AA\"}");
    assert_int_equal(acme_jwk_thumbprint(jwk, tp), -1);
    json_object_put(jwk);
    jwk = json_tokener_parse("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}");
    assert_int_equal(acme_jwk_thumbprint(jwk, tp), -1);
    json_object_put(jwk);
}

/* Decodes a base64url member of a JSON object into a NUL-terminated malloc'd buffer. */
static uint8_t *member_b64(json_object *o, const char *key, size_t *len)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    uint8_t *b = NULL;
    assert_int_equal(acme_b64url_decode(json_object_get_string(v), strlen(json_object_get_string(v)), &b, len), 0);
    return b;
}

static EVP_PKEY *pkey_from_acme(const acme_key_t *k)
{
    char *pem = NULL;
    size_t n = 0;
    assert_int_equal(acme_key_to_pem(k, &pem, &n), 0);
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    EVP_PKEY *p = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    free(pem);
    assert_non_null(p);
    return p;
}

/* Verifies a flattened JWS with OpenSSL and returns its parsed protected header (caller puts). */
static json_object *verify_jws(const acme_key_t *k, const char *jws_text, const char *want_payload)
{
    json_object *jws = json_tokener_parse(jws_text);
    assert_non_null(jws);
    json_object *p64 = NULL, *pl64 = NULL;
    assert_true(json_object_object_get_ex(jws, "protected", &p64));
    assert_true(json_object_object_get_ex(jws, "payload", &pl64));
    size_t siglen = 0, hlen = 0, plen = 0;
    uint8_t *sig = member_b64(jws, "signature", &siglen);
    uint8_t *hdr = member_b64(jws, "protected", &hlen);
    uint8_t *payload = member_b64(jws, "payload", &plen);
    assert_string_equal((char *)payload, want_payload);

    char input[8192];
    snprintf(input, sizeof(input), "%s.%s", json_object_get_string(p64), json_object_get_string(pl64));
    EVP_PKEY *pk = pkey_from_acme(k);
    unsigned char der[128];
    const unsigned char *to_verify = sig;
    size_t vlen = siglen;
    if (acme_key_get_type(k) == ACME_KEY_EC_P256) {
        assert_int_equal(siglen, 64); /* JWS ES256: r||s, 32 bytes each */
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        unsigned char *p = der;
        int n = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        assert_true(n > 0);
        to_verify = der;
        vlen = (size_t)n;
    } else {
        assert_int_equal(siglen, (size_t)EVP_PKEY_get_size(pk));
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
    assert_int_equal(EVP_DigestVerify(ctx, to_verify, vlen, (const unsigned char *)input, strlen(input)), 1);
    /* A modified input must not verify. */
    input[0] ^= 1;
    EVP_MD_CTX_reset(ctx);
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
    assert_int_not_equal(EVP_DigestVerify(ctx, to_verify, vlen, (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    json_object *h = json_tokener_parse((char *)hdr);
    assert_non_null(h);
    free(sig);
    free(hdr);
    free(payload);
    json_object_put(jws);
    return h;
}

static const char *hstr(json_object *h, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(h, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static void jws_roundtrip(enum acme_key_type type, const char *alg)
{
    char err[128];
    acme_key_t *k = acme_key_generate(type, 0, err, sizeof(err));
    assert_non_null(k);
    assert_string_equal(acme_key_alg(k), alg);

    /* Before registration: jwk, with nonce. */
    char *jws = acme_jws_sign(k, "https://ca.test/acme/new-acct", "nonce-1", NULL, "{\"a\":1}", err, sizeof(err));
    assert_non_null(jws);
    json_object *h = verify_jws(k, jws, "{\"a\":1}");
    assert_string_equal(hstr(h, "alg"), alg);
    assert_string_equal(hstr(h, "nonce"), "nonce-1");
    assert_string_equal(hstr(h, "url"), "https://ca.test/acme/new-acct");
    assert_null(hstr(h, "kid"));
    json_object *jwk = NULL;
    assert_true(json_object_object_get_ex(h, "jwk", &jwk));
    char tp1[ACME_THUMBPRINT_LEN], tp2[ACME_THUMBPRINT_LEN];
    assert_int_equal(acme_jwk_thumbprint(jwk, tp1), 0);
    assert_int_equal(acme_key_thumbprint(k, tp2), 0);
    assert_string_equal(tp1, tp2);
    json_object_put(h);
    free(jws);

    /* After registration: kid; POST-as-GET has an empty payload. */
    jws = acme_jws_sign(k, "https://ca.test/acme/order/1", "n2", "https://ca.test/acme/acct/7", NULL, err,
                        sizeof(err));
    assert_non_null(jws);
    h = verify_jws(k, jws, "");
    assert_string_equal(hstr(h, "kid"), "https://ca.test/acme/acct/7");
    assert_false(json_object_object_get_ex(h, "jwk", NULL));
    json_object_put(h);
    free(jws);
    acme_key_free(k);
}

static void test_jws_es256(void **state)
{
    (void)state;
    jws_roundtrip(ACME_KEY_EC_P256, "ES256");
}

static void test_jws_rs256(void **state)
{
    (void)state;
    jws_roundtrip(ACME_KEY_RSA, "RS256");
}

/* Standard base64 of SHA-256 over the DER inside a PEM block, computed independently of acme_key.c. */
static void pem_body_hash(const char *pem, char *out, size_t outsz)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len = 0;
    assert_int_equal(PEM_read_bio(bio, &name, &header, &der, &len), 1);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
    assert_true(outsz >= 45);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
}

static void test_key_pem_forms(void **state)
{
    (void)state;
    char err[128], tp1[ACME_THUMBPRINT_LEN], tp2[ACME_THUMBPRINT_LEN], h1[ACME_KEY_HASH_LEN], h2[64];
    char *pem = NULL;
    size_t n = 0;

    /* RSA: generated → PKCS#1 PEM (cert-manager's format) → reload → same key. */
    acme_key_t *k = acme_key_generate(ACME_KEY_RSA, 2048, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(acme_key_to_pem(k, &pem, &n), 0);
    assert_non_null(strstr(pem, "-----BEGIN RSA PRIVATE KEY-----"));
    acme_key_t *k2 = acme_key_from_pem(pem, n, err, sizeof(err));
    assert_non_null(k2);
    acme_key_thumbprint(k, tp1);
    acme_key_thumbprint(k2, tp2);
    assert_string_equal(tp1, tp2);
    /* lastPrivateKeyHash: base64std(SHA-256(PKCS#1 DER)). */
    assert_int_equal(acme_key_hash(k2, h1), 0);
    pem_body_hash(pem, h2, sizeof(h2));
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), 44);

    /* The same key as PKCS#8 loads to the same thumbprint and hash. */
    EVP_PKEY *pk = pkey_from_acme(k);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
    char *p8 = NULL;
    long p8len = BIO_get_mem_data(bio, &p8);
    assert_non_null(strstr(p8, "BEGIN PRIVATE KEY"));
    acme_key_t *k3 = acme_key_from_pem(p8, (size_t)p8len, err, sizeof(err));
    assert_non_null(k3);
    acme_key_thumbprint(k3, tp2);
    assert_string_equal(tp1, tp2);
    assert_int_equal(acme_key_hash(k3, h2), 0);
    assert_string_equal(h1, h2);
    BIO_free(bio);
    EVP_PKEY_free(pk);
    acme_key_free(k3);
    acme_key_free(k2);
    free(pem);

    /* A reference outlives the first release. */
    acme_key_t *r = acme_key_ref(k);
    acme_key_free(k);
    assert_string_equal(acme_key_alg(r), "RS256");
    acme_key_free(r);

    /* EC: SEC1 PEM, PKCS#8 too. */
    k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(acme_key_to_pem(k, &pem, &n), 0);
    assert_non_null(strstr(pem, "-----BEGIN EC PRIVATE KEY-----"));
    k2 = acme_key_from_pem(pem, n, err, sizeof(err));
    assert_non_null(k2);
    assert_int_equal(acme_key_get_type(k2), ACME_KEY_EC_P256);
    acme_key_thumbprint(k, tp1);
    acme_key_thumbprint(k2, tp2);
    assert_string_equal(tp1, tp2);
    assert_int_equal(acme_key_hash(k2, h1), 0);
    pem_body_hash(pem, h2, sizeof(h2));
    assert_string_equal(h1, h2);
    pk = pkey_from_acme(k);
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
    p8len = BIO_get_mem_data(bio, &p8);
    k3 = acme_key_from_pem(p8, (size_t)p8len, err, sizeof(err));
    assert_non_null(k3);
    acme_key_thumbprint(k3, tp2);
    assert_string_equal(tp1, tp2);
    BIO_free(bio);
    EVP_PKEY_free(pk);
    acme_key_free(k3);
    acme_key_free(k2);
    acme_key_free(k);
    free(pem);
}

static char *pem_of(EVP_PKEY *pk)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
    char *d = NULL;
    long n = BIO_get_mem_data(bio, &d);
    char *s = strndup(d, (size_t)n);
    BIO_free(bio);
    return s;
}

static void test_key_rejects(void **state)
{
    (void)state;
    char err[128];
    assert_null(acme_key_from_pem("garbage", 7, err, sizeof(err)));
    assert_non_null(strstr(err, "private key"));
    assert_null(acme_key_from_pem("", 0, err, sizeof(err)));
    EVP_PKEY *small = EVP_RSA_gen(1024);
    char *pem = pem_of(small);
    assert_null(acme_key_from_pem(pem, strlen(pem), err, sizeof(err)));
    assert_non_null(strstr(err, "2048"));
    free(pem);
    EVP_PKEY_free(small);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    pem = pem_of(p384);
    assert_null(acme_key_from_pem(pem, strlen(pem), err, sizeof(err)));
    assert_non_null(strstr(err, "P-256"));
    free(pem);
    EVP_PKEY_free(p384);
}

static void test_eab(void **state)
{
    (void)state;
    char err[128];
    acme_key_t *k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    assert_non_null(k);
    const char *mac64 = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    json_object *eab = acme_eab_jws(k, "kid-1", mac64, "https://ca.test/new-acct", err, sizeof(err));
    assert_non_null(eab);
    size_t hlen = 0, plen = 0, slen = 0, klen = 0;
    uint8_t *hdr = member_b64(eab, "protected", &hlen);
    uint8_t *payload = member_b64(eab, "payload", &plen);
    uint8_t *sig = member_b64(eab, "signature", &slen);
    json_object *h = json_tokener_parse((char *)hdr);
    assert_string_equal(hstr(h, "alg"), "HS256");
    assert_string_equal(hstr(h, "kid"), "kid-1");
    assert_string_equal(hstr(h, "url"), "https://ca.test/new-acct");
    assert_null(hstr(h, "nonce"));
    /* payload is the account's public JWK */
    json_object *jwk = json_tokener_parse((char *)payload);
    char tp1[ACME_THUMBPRINT_LEN], tp2[ACME_THUMBPRINT_LEN];
    assert_int_equal(acme_jwk_thumbprint(jwk, tp1), 0);
    acme_key_thumbprint(k, tp2);
    assert_string_equal(tp1, tp2);
    /* HMAC-SHA256 with the decoded MAC key over protected.payload */
    uint8_t *key = NULL;
    assert_int_equal(acme_b64url_decode(mac64, strlen(mac64), &key, &klen), 0);
    json_object *p64 = NULL, *pl64 = NULL;
    json_object_object_get_ex(eab, "protected", &p64);
    json_object_object_get_ex(eab, "payload", &pl64);
    char input[4096];
    snprintf(input, sizeof(input), "%s.%s", json_object_get_string(p64), json_object_get_string(pl64));
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, (int)klen, (unsigned char *)input, strlen(input), mac, &maclen);
    assert_int_equal(slen, 32);
    assert_memory_equal(mac, sig, 32);
    free(key);
    free(hdr);
    free(payload);
    free(sig);
    json_object_put(h);
    json_object_put(jwk);
    json_object_put(eab);
    /* Standard-alphabet keys are rejected (cert-manager requires base64url). */
    assert_null(acme_eab_jws(k, "kid-1", "ab+/cd==", "https://ca.test/new-acct", err, sizeof(err)));
    assert_null(acme_eab_jws(k, "", mac64, "https://ca.test/new-acct", err, sizeof(err)));
    acme_key_free(k);
}

static void test_key_authorization(void **state)
{
    (void)state;
    char err[128], tp[ACME_THUMBPRINT_LEN], v[ACME_THUMBPRINT_LEN];
    acme_key_t *k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    assert_non_null(k);
    acme_key_thumbprint(k, tp);
    char *ka = acme_key_authorization(k, "tok-123");
    char want[128];
    snprintf(want, sizeof(want), "tok-123.%s", tp);
    assert_string_equal(ka, want);
    assert_int_equal(acme_dns01_value(ka, v), 0);
    unsigned char md[32];
    unsigned int mdlen;
    EVP_Digest(ka, strlen(ka), md, &mdlen, EVP_sha256(), NULL);
    char *w = acme_b64url_encode(md, mdlen);
    assert_string_equal(v, w);
    assert_int_equal(strlen(v), 43);
    free(w);
    free(ka);
    /* Fixed vector: RFC 8555 §8.4 style value for a known key authorization. */
    assert_int_equal(acme_dns01_value("abc", v), 0);
    assert_string_equal(v, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    acme_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url),          cmocka_unit_test(test_thumbprint_rfc7638),
        cmocka_unit_test(test_jws_es256),       cmocka_unit_test(test_jws_rs256),
        cmocka_unit_test(test_key_pem_forms),   cmocka_unit_test(test_key_rejects),
        cmocka_unit_test(test_eab),             cmocka_unit_test(test_key_authorization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
