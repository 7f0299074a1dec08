/* SPDX-License-Identifier: Apache-2.0 */
/* ACME account keys, JWK/thumbprint, JWS and EAB (see acme_key.h). */
#include "acme/acme_key.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct acme_key {
    EVP_PKEY *pkey;
    enum acme_key_type type;
    atomic_int refs;
    char *jwk_json;                    /* canonical JWK text (RFC 7638 member order, no whitespace) */
    char thumbprint[ACME_THUMBPRINT_LEN];
};

/* ----- base64 ------------------------------------------------------------------------------------------ */

static const char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *acme_b64url_encode(const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t outlen = (len / 3) * 4 + ((len % 3) ? (len % 3) + 1 : 0);
    char *out = malloc(outlen + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int acme_b64url_decode(const char *s, size_t len, uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    /* Padding is tolerated only when it makes a full quantum. */
    size_t pad = 0;
    while (len > 0 && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (pad && ((len + pad) % 4) != 0)
        return -1;
    if (len % 4 == 1)
        return -1;
    uint8_t *buf = malloc(len / 4 * 3 + 3 + 1);
    if (!buf)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)((acc >> bits) & 0xff);
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        free(buf);
        return -1;
    }
    buf[o] = 0;
    *out = buf;
    *outlen = o;
    return 0;
}

static void b64std(const unsigned char *p, size_t len, char *out, size_t outsz)
{
    /* EVP_EncodeBlock writes padded standard base64 and a NUL. */
    if (outsz < ((len + 2) / 3) * 4 + 1) {
        out[0] = '\0';
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, p, (int)len);
}

/* ----- keys -------------------------------------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static char *bn_b64url(const BIGNUM *bn, int pad_to)
{
    int n = pad_to > 0 ? pad_to : BN_num_bytes(bn);
    if (n <= 0 || n > 1024)
        return NULL;
    unsigned char buf[1024];
    if (pad_to > 0) {
        if (BN_bn2binpad(bn, buf, n) != n)
            return NULL;
    } else {
        BN_bn2bin(bn, buf);
    }
    return acme_b64url_encode(buf, (size_t)n);
}

static json_object *build_jwk(EVP_PKEY *pkey, enum acme_key_type type)
{
    json_object *jwk = json_object_new_object();
    BIGNUM *a = NULL, *b = NULL;
    char *s1 = NULL, *s2 = NULL;
    if (!jwk)
        return NULL;
    if (type == ACME_KEY_RSA) {
        if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &a) ||
            !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &b))
            goto fail;
        s1 = bn_b64url(a, 0);
        s2 = bn_b64url(b, 0);
        if (!s1 || !s2)
            goto fail;
        /* RFC 7638 §3.2: members in lexicographic order; json-c keeps insertion order. */
        json_object_object_add(jwk, "e", json_object_new_string(s1));
        json_object_object_add(jwk, "kty", json_object_new_string("RSA"));
        json_object_object_add(jwk, "n", json_object_new_string(s2));
    } else {
        if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a) ||
            !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b))
            goto fail;
        s1 = bn_b64url(a, 32);
        s2 = bn_b64url(b, 32);
        if (!s1 || !s2)
            goto fail;
        json_object_object_add(jwk, "crv", json_object_new_string("P-256"));
        json_object_object_add(jwk, "kty", json_object_new_string("EC"));
        json_object_object_add(jwk, "x", json_object_new_string(s1));
        json_object_object_add(jwk, "y", json_object_new_string(s2));
    }
    BN_free(a);
    BN_free(b);
    free(s1);
    free(s2);
    return jwk;
fail:
    BN_free(a);
    BN_free(b);
    free(s1);
    free(s2);
    json_object_put(jwk);
    return NULL;
}

static acme_key_t *wrap_pkey(EVP_PKEY *pkey, char *err, size_t errlen)
{
    acme_key_t *k = NULL;
    enum acme_key_type type;
    json_object *jwk = NULL;
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < 2048 || bits > 8192) {
            set_err(err, errlen, "RSA account key must have 2048 to 8192 bits");
            goto fail;
        }
        type = ACME_KEY_RSA;
    } else if (id == EVP_PKEY_EC) {
        char group[64] = "";
        size_t glen = 0;
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) ||
            strcmp(group, "prime256v1") != 0) {
            set_err(err, errlen, "EC account key must be on curve P-256");
            goto fail;
        }
        type = ACME_KEY_EC_P256;
    } else {
        set_err(err, errlen, "account key must be RSA or EC P-256");
        goto fail;
    }
    k = calloc(1, sizeof(*k));
    if (!k) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    k->pkey = pkey;
    k->type = type;
    atomic_init(&k->refs, 1);
    jwk = build_jwk(pkey, type);
    if (!jwk) {
        set_err(err, errlen, "cannot build JWK from key");
        goto fail;
    }
    k->jwk_json = strdup(json_object_to_json_string_ext(jwk, JSON_C_TO_STRING_PLAIN));
    json_object_put(jwk);
    if (!k->jwk_json) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(k->jwk_json, strlen(k->jwk_json), md, &mdlen, EVP_sha256(), NULL)) {
        set_err(err, errlen, "SHA-256 failed");
        goto fail;
    }
    char *tp = acme_b64url_encode(md, mdlen);
    if (!tp) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(k->thumbprint, sizeof(k->thumbprint), "%s", tp);
    free(tp);
    return k;
fail:
    if (k) {
        free(k->jwk_json);
        free(k);
    }
    EVP_PKEY_free(pkey);
    return NULL;
}

/* Encrypted PEM keys are not supported: never prompt. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

acme_key_t *acme_key_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    if (!pem || len == 0 || len > ACME_KEY_PEM_MAX) {
        set_err(err, errlen, "key PEM empty or too large");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!pkey) {
        set_err(err, errlen, "no usable private key in PEM data (PKCS#1, PKCS#8 or SEC1 expected)");
        return NULL;
    }
    return wrap_pkey(pkey, err, errlen);
}

acme_key_t *acme_key_generate(enum acme_key_type type, int bits, char *err, size_t errlen)
{
    EVP_PKEY *pkey = NULL;
    if (type == ACME_KEY_RSA) {
        if (bits == 0)
            bits = 2048;
        pkey = EVP_RSA_gen((unsigned)bits);
    } else if (type == ACME_KEY_EC_P256) {
        pkey = EVP_EC_gen("P-256");
    } else {
        set_err(err, errlen, "unknown key type");
        return NULL;
    }
    ERR_clear_error();
    if (!pkey) {
        set_err(err, errlen, "key generation failed");
        return NULL;
    }
    return wrap_pkey(pkey, err, errlen);
}

acme_key_t *acme_key_ref(acme_key_t *k)
{
    if (k)
        atomic_fetch_add(&k->refs, 1);
    return k;
}

void acme_key_free(acme_key_t *k)
{
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    EVP_PKEY_free(k->pkey);
    free(k->jwk_json);
    free(k);
}

enum acme_key_type acme_key_get_type(const acme_key_t *k)
{
    return k->type;
}

const char *acme_key_alg(const acme_key_t *k)
{
    return k->type == ACME_KEY_RSA ? "RS256" : "ES256";
}

int acme_key_to_pem(const acme_key_t *k, char **out, size_t *outlen)
{
    *out = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = -1;
    if (!bio)
        return -1;
    /* "traditional" = PKCS#1 for RSA and SEC1 for EC, what cert-manager reads and writes. */
    if (!PEM_write_bio_PrivateKey_traditional(bio, k->pkey, NULL, NULL, 0, NULL, NULL))
        goto out;
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        goto out;
    *out = malloc((size_t)n + 1);
    if (!*out)
        goto out;
    memcpy(*out, data, (size_t)n);
    (*out)[n] = '\0';
    if (outlen)
        *outlen = (size_t)n;
    rc = 0;
out:
    ERR_clear_error();
    BIO_free(bio);
    return rc;
}

int acme_key_hash(const acme_key_t *k, char out[ACME_KEY_HASH_LEN])
{
    unsigned char *der = NULL;
    out[0] = '\0';
    /* i2d_PrivateKey writes the type-specific form: PKCS#1 RSAPrivateKey / SEC1 ECPrivateKey. */
    int n = i2d_PrivateKey(k->pkey, &der);
    if (n <= 0) {
        ERR_clear_error();
        return -1;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_clear_free(der, (size_t)n);
    if (!ok)
        return -1;
    b64std(md, mdlen, out, ACME_KEY_HASH_LEN);
    return out[0] ? 0 : -1;
}

json_object *acme_key_jwk(const acme_key_t *k)
{
    return json_tokener_parse(k->jwk_json);
}

int acme_key_thumbprint(const acme_key_t *k, char out[ACME_THUMBPRINT_LEN])
{
    memcpy(out, k->thumbprint, ACME_THUMBPRINT_LEN);
    return 0;
}

int acme_jwk_thumbprint(json_object *jwk, char out[ACME_THUMBPRINT_LEN])
{
    static const char *const rsa_members[] = {"e", "kty", "n", NULL};
    static const char *const ec_members[] = {"crv", "kty", "x", "y", NULL};
    json_object *kty = NULL;
    out[0] = '\0';
    if (!jwk || !json_object_object_get_ex(jwk, "kty", &kty) || !json_object_is_type(kty, json_type_string))
        return -1;
    const char *const *members;
    if (strcmp(json_object_get_string(kty), "RSA") == 0)
        members = rsa_members;
    else if (strcmp(json_object_get_string(kty), "EC") == 0)
        members = ec_members;
    else
        return -1;
    json_object *canon = json_object_new_object();
    int rc = -1;
    for (const char *const *m = members; *m; m++) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(jwk, *m, &v) || !json_object_is_type(v, json_type_string))
            goto out;
        json_object_object_add(canon, *m, json_object_new_string(json_object_get_string(v)));
    }
    const char *text = json_object_to_json_string_ext(canon, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL))
        goto out;
    char *tp = acme_b64url_encode(md, mdlen);
    if (!tp)
        goto out;
    snprintf(out, ACME_THUMBPRINT_LEN, "%s", tp);
    free(tp);
    rc = 0;
out:
    json_object_put(canon);
    return rc;
}

/* Signs data; for EC converts the DER ECDSA-Sig to the JWS r||s form (RFC 7518 §3.4). */
static int sign_raw(const acme_key_t *k, const char *data, size_t len, unsigned char **sig, size_t *siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = NULL;
    size_t blen = 0;
    int rc = -1;
    *sig = NULL;
    if (!ctx)
        return -1;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1)
        goto out;
    if (EVP_DigestSign(ctx, NULL, &blen, (const unsigned char *)data, len) != 1)
        goto out;
    buf = malloc(blen);
    if (!buf)
        goto out;
    if (EVP_DigestSign(ctx, buf, &blen, (const unsigned char *)data, len) != 1)
        goto out;
    if (k->type == ACME_KEY_EC_P256) {
        const unsigned char *p = buf;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)blen);
        if (!es)
            goto out;
        unsigned char *rs = malloc(64);
        if (!rs || BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32) != 32 ||
            BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32) != 32) {
            free(rs);
            ECDSA_SIG_free(es);
            goto out;
        }
        ECDSA_SIG_free(es);
        free(buf);
        buf = rs;
        blen = 64;
    }
    *sig = buf;
    *siglen = blen;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* Builds the flattened JWS {"protected","payload","signature"} from an already built protected header. */
static char *finish_jws(const char *protected_json, const char *payload, const unsigned char *key_or_null,
                        size_t keylen, const acme_key_t *k, char *err, size_t errlen)
{
    char *p64 = acme_b64url_encode(protected_json, strlen(protected_json));
    char *pl64 = acme_b64url_encode(payload ? payload : "", payload ? strlen(payload) : 0);
    char *signing_input = NULL, *sig64 = NULL, *res = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    json_object *jws = NULL;
    if (!p64 || !pl64) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    size_t silen = strlen(p64) + 1 + strlen(pl64);
    signing_input = malloc(silen + 1);
    if (!signing_input) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    snprintf(signing_input, silen + 1, "%s.%s", p64, pl64);
    if (key_or_null) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (!HMAC(EVP_sha256(), key_or_null, (int)keylen, (const unsigned char *)signing_input, silen, mac,
                  &maclen)) {
            set_err(err, errlen, "HMAC failed");
            goto out;
        }
        sig64 = acme_b64url_encode(mac, maclen);
    } else {
        if (sign_raw(k, signing_input, silen, &sig, &siglen) != 0) {
            set_err(err, errlen, "signing failed");
            goto out;
        }
        sig64 = acme_b64url_encode(sig, siglen);
    }
    if (!sig64) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    jws = json_object_new_object();
    json_object_object_add(jws, "protected", json_object_new_string(p64));
    json_object_object_add(jws, "payload", json_object_new_string(pl64));
    json_object_object_add(jws, "signature", json_object_new_string(sig64));
    res = strdup(json_object_to_json_string_ext(jws, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    if (!res)
        set_err(err, errlen, "out of memory");
out:
    json_object_put(jws);
    free(p64);
    free(pl64);
    free(signing_input);
    free(sig);
    free(sig64);
    return res;
}

char *acme_jws_sign(const acme_key_t *k, const char *url, const char *nonce, const char *kid,
                    const char *payload, char *err, size_t errlen)
{
    json_object *hdr = json_object_new_object();
    char *res = NULL;
    if (!hdr || !url) {
        set_err(err, errlen, url ? "out of memory" : "no URL");
        goto out;
    }
    json_object_object_add(hdr, "alg", json_object_new_string(acme_key_alg(k)));
    if (kid) {
        json_object_object_add(hdr, "kid", json_object_new_string(kid));
    } else {
        json_object *jwk = acme_key_jwk(k);
        if (!jwk) {
            set_err(err, errlen, "cannot build JWK");
            goto out;
        }
        json_object_object_add(hdr, "jwk", jwk);
    }
    if (nonce)
        json_object_object_add(hdr, "nonce", json_object_new_string(nonce));
    json_object_object_add(hdr, "url", json_object_new_string(url));
    res = finish_jws(json_object_to_json_string_ext(hdr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                     payload, NULL, 0, k, err, errlen);
out:
    json_object_put(hdr);
    return res;
}

json_object *acme_eab_jws(const acme_key_t *k, const char *eab_kid, const char *mac_key_b64url,
                          const char *new_account_url, char *err, size_t errlen)
{
    uint8_t *mac = NULL;
    size_t maclen = 0;
    json_object *hdr = NULL, *res = NULL;
    char *text = NULL;
    if (!eab_kid || !*eab_kid || !mac_key_b64url || !new_account_url) {
        set_err(err, errlen, "external account binding needs a key ID and a MAC key");
        return NULL;
    }
    if (acme_b64url_decode(mac_key_b64url, strlen(mac_key_b64url), &mac, &maclen) != 0 || maclen == 0) {
        set_err(err, errlen, "external account binding MAC key is not valid base64url");
        goto out;
    }
    hdr = json_object_new_object();
    json_object_object_add(hdr, "alg", json_object_new_string("HS256"));
    json_object_object_add(hdr, "kid", json_object_new_string(eab_kid));
    json_object_object_add(hdr, "url", json_object_new_string(new_account_url));
    text = finish_jws(json_object_to_json_string_ext(hdr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                      k->jwk_json, mac, maclen, k, err, errlen);
    if (text)
        res = json_tokener_parse(text);
out:
    if (mac)
        OPENSSL_clear_free(mac, maclen);
    free(text);
    json_object_put(hdr);
    return res;
}

char *acme_key_authorization(const acme_key_t *k, const char *token)
{
    if (!token)
        return NULL;
    size_t n = strlen(token) + 1 + strlen(k->thumbprint) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s.%s", token, k->thumbprint);
    return s;
}

int acme_dns01_value(const char *key_authorization, char out[ACME_THUMBPRINT_LEN])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (!EVP_Digest(key_authorization, strlen(key_authorization), md, &mdlen, EVP_sha256(), NULL))
        return -1;
    char *s = acme_b64url_encode(md, mdlen);
    if (!s)
        return -1;
    snprintf(out, ACME_THUMBPRINT_LEN, "%s", s);
    free(s);
    return 0;
}
