/* SPDX-License-Identifier: Apache-2.0 */
/* Differential test of webhook/csr.c (GnuTLS) against lib/x509/csr.c and PEM_read_bio_X509 (OpenSSL): for
 * every CSR in the webhook fixtures and the admission fuzz corpus, for CSRs built here with OpenSSL in every
 * shape the parsers distinguish, for bad input and for one-byte mutations, both must accept or reject alike,
 * with the same reason, and agree on the common name, the DNS list and the IP list (order included). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "csr.h"
#include "util/base64.h"
#include "x509/csr.h"

static EVP_PKEY *ec_key; /* fresh P-256 key: ECDSA signatures differ from run to run */
static EVP_PKEY *ed_key; /* fixed Ed25519 key: deterministic signatures, so byte-exact cases repeat exactly */

static int setup(void **state)
{
    (void)state;
    static const unsigned char seed[32] = {0x6b, 0x61, 0x63, 0x6d, 0x65, 0x2d, 0x77, 0x65, 0x62, 0x68, 0x6f,
                                           0x6f, 0x6b, 0x2d, 0x63, 0x73, 0x72, 0x2d, 0x74, 0x65, 0x73, 0x74};
    ec_key = EVP_EC_gen("P-256");
    ed_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
    return ec_key && ed_key ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(ed_key);
    return 0;
}

/* ---- the comparison ---- */

enum { ANY_REASON = 0, SAME_REASON = 1 };

static bool same_list(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* Parses d with both parsers; fails the test when they disagree. Returns 1 when both accepted, 0 when both
 * rejected. With SAME_REASON the rejection messages must be equal too. */
static int agree(const char *what, const unsigned char *d, size_t len, int mode)
{
    char e1[160] = "", e2[160] = "";
    x509_csr_t *a = x509_csr_parse(d, len, e1, sizeof(e1));
    wcsr_t *b = wcsr_parse(d, len, e2, sizeof(e2));
    if (!a != !b)
        fail_msg("%s: OpenSSL %s (%s), GnuTLS %s (%s)", what, a ? "accepts" : "rejects", e1,
                 b ? "accepts" : "rejects", e2);
    if (!a) {
        if (mode == SAME_REASON && strcmp(e1, e2) != 0)
            fail_msg("%s: reasons differ: OpenSSL \"%s\", GnuTLS \"%s\"", what, e1, e2);
        assert_true(strlen(e2) > 0);
        return 0;
    }
    const char *c1 = a->common_name, *c2 = b->common_name;
    if (!c1 != !c2 || (c1 && strcmp(c1, c2) != 0))
        fail_msg("%s: common names differ: \"%s\" vs \"%s\"", what, c1 ? c1 : "(none)", c2 ? c2 : "(none)");
    if (!same_list(a->dns_names, a->n_dns, b->dns_names, b->n_dns))
        fail_msg("%s: DNS names differ (%zu vs %zu)", what, a->n_dns, b->n_dns);
    if (!same_list(a->ip_addresses, a->n_ip, b->ip_addresses, b->n_ip))
        fail_msg("%s: IP addresses differ (%zu vs %zu)", what, a->n_ip, b->n_ip);
    x509_csr_free(a);
    wcsr_free(b);
    return 1;
}

/* Same for the caBundle check: first CERTIFICATE block must be a certificate. */
static bool cert_agree(const char *what, const unsigned char *d, size_t len)
{
    BIO *bio = BIO_new_mem_buf(d, (int)len);
    assert_non_null(bio);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    bool o = x != NULL;
    X509_free(x);
    BIO_free(bio);
    ERR_clear_error();
    bool g = wcsr_pem_has_cert(d, len);
    if (o != g)
        fail_msg("%s: OpenSSL %s, GnuTLS %s", what, o ? "accepts" : "rejects", g ? "accepts" : "rejects");
    return g;
}

/* ---- building CSRs with OpenSSL ---- */

typedef struct spec {
    EVP_PKEY *key;          /* ec_key when NULL */
    const EVP_MD *md;       /* SHA-256 when NULL (and ignored for Ed25519) */
    bool pss;               /* RSA-PSS padding */
    int cn_type;            /* ASN.1 string type of the CN (V_ASN1_UTF8STRING when 0) */
    const char *cn;         /* subject CN bytes, none when NULL */
    size_t cn_len;          /* strlen(cn) when 0 */
    const char *cn2;        /* a second entry after cn */
    int nid2;               /* its attribute (commonName when 0) */
    const char *san;        /* X509V3 config text ("DNS:a,IP:1.2.3.4"), none when NULL */
    GENERAL_NAMES *gens;    /* extra SAN extension built by hand (consumed) */
    bool two_sans;          /* add the SAN extension twice */
    bool bad_san;           /* a subjectAltName extension whose value is not GeneralNames */
} spec_t;

static unsigned char *der_of(X509_REQ *r, size_t *len)
{
    unsigned char *out = NULL;
    int n = i2d_X509_REQ(r, &out);
    assert_true(n > 0);
    *len = (size_t)n;
    return out; /* OPENSSL_malloc'd: free with OPENSSL_free */
}

static X509_REQ *build(const spec_t *s)
{
    EVP_PKEY *key = s->key ? s->key : ec_key;
    X509_REQ *r = X509_REQ_new();
    assert_non_null(r);
    X509_REQ_set_version(r, 0);
    X509_NAME *n = X509_REQ_get_subject_name(r);
    const char *cns[2] = {s->cn, s->cn2};
    for (int i = 0; i < 2; i++) {
        if (!cns[i])
            continue;
        size_t l = i == 0 && s->cn_len ? s->cn_len : strlen(cns[i]);
        X509_NAME_ENTRY *e = X509_NAME_ENTRY_create_by_NID(NULL, i == 1 && s->nid2 ? s->nid2 : NID_commonName,
                                                           s->cn_type ? s->cn_type : V_ASN1_UTF8STRING,
                                                           (const unsigned char *)cns[i], (int)l);
        assert_non_null(e);
        X509_NAME_add_entry(n, e, -1, 0);
        X509_NAME_ENTRY_free(e);
    }
    assert_true(X509_REQ_set_pubkey(r, key) == 1);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    if (s->san) {
        for (int i = 0; i < (s->two_sans ? 2 : 1); i++) {
            X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, s->san);
            assert_non_null(ext);
            sk_X509_EXTENSION_push(exts, ext);
        }
    }
    if (s->gens) {
        X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, s->gens);
        assert_non_null(ext);
        sk_X509_EXTENSION_push(exts, ext);
        GENERAL_NAMES_free(s->gens);
    }
    if (s->bad_san) {
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x30\x05\x82\x07zz", 7);
        X509_EXTENSION *ext = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, os);
        assert_non_null(ext);
        ASN1_OCTET_STRING_free(os);
        sk_X509_EXTENSION_push(exts, ext);
    }
    if (sk_X509_EXTENSION_num(exts) > 0)
        X509_REQ_add_extensions(r, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (s->pss) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        assert_true(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1);
        assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
        assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
        assert_true(X509_REQ_sign_ctx(r, ctx) > 0);
        EVP_MD_CTX_free(ctx);
    } else {
        const EVP_MD *md = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? NULL : (s->md ? s->md : EVP_sha256());
        assert_true(X509_REQ_sign(r, key, md) > 0);
    }
    return r;
}

static unsigned char *pem_of(X509_REQ *r, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, r);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    unsigned char *out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

/* Builds s and compares DER and PEM; returns whether the parsers accepted the DER form. */
static int check_spec(const char *what, const spec_t *s)
{
    X509_REQ *r = build(s);
    size_t dl, pl;
    unsigned char *der = der_of(r, &dl), *pem = pem_of(r, &pl);
    int ok = agree(what, der, dl, SAME_REASON);
    assert_int_equal(agree(what, pem, pl, SAME_REASON), ok);
    OPENSSL_free(der);
    free(pem);
    X509_REQ_free(r);
    return ok;
}

static GENERAL_NAMES *gens_one(int type, const void *data, int len)
{
    GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    ASN1_STRING_set(s, data, len);
    GENERAL_NAME_set0_value(gn, type, s);
    sk_GENERAL_NAME_push(g, gn);
    return g;
}

static GENERAL_NAMES *gens_many(size_t n)
{
    GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "h%zu.example.com", i);
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        ASN1_STRING_set(s, name, (int)strlen(name));
        GENERAL_NAME_set0_value(gn, GEN_DNS, s);
        sk_GENERAL_NAME_push(g, gn);
    }
    return g;
}

/* ---- tests ---- */

static void test_shapes(void **state)
{
    (void)state;
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),
             *p384 = EVP_EC_gen("P-384");
    assert_non_null(rsa);
    assert_non_null(ed);
    assert_non_null(p384);
    const char *sans = "DNS:a.example.com,DNS:B.example.com,DNS:*.example.com,IP:192.0.2.1,IP:2001:db8:0::1,"
                       "IP:::ffff:198.51.100.7,email:x@example.com,URI:https://example.com/,DNS:a.example.com";
    struct {
        const char *what;
        spec_t s;
        int ok;
    } cases[] = {
        {"cn and sans", {.cn = "a.example.com", .san = sans}, 1},
        {"no subject, no extensions", {0}, 1},
        {"cn only", {.cn = "a.example.com"}, 1},
        {"empty cn", {.cn = "", .san = "DNS:a.example.com"}, 1},
        {"long cn", {.cn = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"}, 1},
        {"two cns (first wins)", {.cn = "first.example.com", .cn2 = "second.example.com"}, 1},
        {"ip-only", {.san = "IP:8.8.8.8,IP:::1"}, 1},
        {"printable cn", {.cn_type = V_ASN1_PRINTABLESTRING, .cn = "a.example.com"}, 1},
        {"ia5 cn", {.cn_type = V_ASN1_IA5STRING, .cn = "a.example.com"}, 1},
        {"t61 latin-1 cn", {.cn_type = V_ASN1_T61STRING, .cn = "caf\xe9.example"}, 1},
        {"utf8 cn", {.cn = "caf\xc3\xa9.example"}, 1},
        {"4-byte utf8 cn", {.cn = "\xf0\x9f\x94\x92.example"}, 1},
        {"bmp cn", {.cn_type = V_ASN1_BMPSTRING, .cn = "\x00" "a\x00\xe9\x20\xac", .cn_len = 6}, 1},
        {"universal cn", {.cn_type = V_ASN1_UNIVERSALSTRING, .cn = "\x00\x00\x00" "a\x00\x01\xf5\x12", .cn_len = 8}, 1},
        {"nul in cn", {.cn = "a\0b", .cn_len = 3}, 0},
        {"nul in dns", {.gens = NULL}, 0}, /* filled below */
        {"ip of 5 bytes", {.gens = NULL}, 0},
        {"ip of 0 bytes", {.gens = NULL}, 0},
        {"two san extensions", {.san = "DNS:a.example.com", .two_sans = true}, 0},
        {"undecodable san extension", {.cn = "a.example.com", .bad_san = true}, 1},
        {"1000 sans", {.gens = NULL}, 1},
        {"1001 sans", {.gens = NULL}, 0},
        {"rsa sha256", {.key = rsa, .cn = "a.example.com", .san = "DNS:a.example.com"}, 1},
        {"rsa sha1", {.key = rsa, .md = EVP_sha1(), .san = "DNS:a.example.com"}, 1},
        {"rsa sha512", {.key = rsa, .md = EVP_sha512(), .san = "DNS:a.example.com"}, 1},
        {"rsa-pss", {.key = rsa, .pss = true, .san = "DNS:a.example.com"}, 1},
        {"ecdsa p-384 sha384", {.key = p384, .md = EVP_sha384(), .san = "DNS:a.example.com"}, 1},
        {"ecdsa sha1", {.md = EVP_sha1(), .san = "DNS:a.example.com"}, 1},
        {"ed25519", {.key = ed, .cn = "a.example.com", .san = "DNS:a.example.com,IP:10.0.0.1"}, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        spec_t s = cases[i].s;
        const char *w = cases[i].what;
        if (getenv("CSR_DEBUG"))
            fprintf(stderr, "case %s\n", w);
        if (strcmp(w, "nul in dns") == 0)
            s.gens = gens_one(GEN_DNS, "a\0b.example.com", 15);
        else if (strcmp(w, "ip of 5 bytes") == 0)
            s.gens = gens_one(GEN_IPADD, "\x01\x02\x03\x04\x05", 5);
        else if (strcmp(w, "ip of 0 bytes") == 0)
            s.gens = gens_one(GEN_IPADD, "", 0);
        else if (strcmp(w, "1000 sans") == 0)
            s.gens = gens_many(X509_CSR_MAX_NAMES);
        else if (strcmp(w, "1001 sans") == 0)
            s.gens = gens_many(X509_CSR_MAX_NAMES + 1);
        if (check_spec(w, &s) != cases[i].ok)
            fail_msg("%s: expected %s", w, cases[i].ok ? "accept" : "reject");
    }
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(p384);
}

static void resign(unsigned char *der, size_t dl);

/* A CSR whose CN has ASN.1 tag `tag` and content cn[0..len), which OpenSSL will not encode itself (its
 * name encoder converts to UTF-8 first): built with a placeholder CN of the same length, patched, and
 * re-signed with the Ed25519 key (fixed signature size, so the patch keeps every length). */
static unsigned char *patched_csr(int nid, unsigned char tag, const char *cn, size_t len, size_t *outlen)
{
    char ph[64];
    assert_true(len > 0 && len < sizeof(ph));
    memset(ph, 'Q', len);
    ph[len] = '\0';
    spec_t s = {.key = ed_key, .cn = ph, .san = "DNS:a.example.com"};
    if (nid != NID_commonName) {
        s.cn = "a.example.com";
        s.cn2 = ph;
        s.nid2 = nid;
    }
    X509_REQ *r = build(&s);
    size_t dl;
    unsigned char *der = der_of(r, &dl);
    X509_REQ_free(r);
    unsigned char *at = memmem(der, dl, ph, len);
    assert_non_null(at);
    assert_int_equal(at[-2], V_ASN1_UTF8STRING);
    assert_int_equal(at[-1], len);
    at[-2] = tag;
    memcpy(at, cn, len);
    resign(der, dl);
    unsigned char *out = malloc(dl);
    memcpy(out, der, dl);
    OPENSSL_free(der);
    *outlen = dl;
    return out;
}

/* Re-signs the Ed25519 CSR der[0..dl) in place after its signed part was changed (the signature is the
 * last 64 bytes). Tolerates a broken tbs header: then it signs whatever the lengths point at, within dl. */
static void resign(unsigned char *der, size_t dl)
{
    /* tbs = the first element inside the outer SEQUENCE */
    size_t oh = der[1] & 0x80 ? 2 + (size_t)(der[1] & 0x7f) : 2;
    const unsigned char *tbs = der + oh;
    size_t th = tbs[1] & 0x80 ? 2 + (size_t)(tbs[1] & 0x7f) : 2, tl = 0;
    for (size_t i = 2; i < th; i++)
        tl = tl << 8 | tbs[i];
    if (th == 2)
        tl = tbs[1];
    size_t signed_len = th + tl;
    if (oh + signed_len > dl - 64)
        signed_len = dl - 64 - oh;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t sl = sizeof(sig);
    assert_true(EVP_DigestSignInit(ctx, NULL, NULL, NULL, ed_key) == 1);
    assert_true(EVP_DigestSign(ctx, sig, &sl, tbs, signed_len) == 1);
    assert_int_equal(sl, 64);
    EVP_MD_CTX_free(ctx);
    memcpy(der + dl - 64, sig, 64);
}

static void test_cn_encodings(void **state)
{
    (void)state;
    struct {
        const char *what;
        unsigned char tag;
        const char *cn;
        size_t len;
        int ok;
    } v[] = {
        {"utf8 ascii", V_ASN1_UTF8STRING, "a.example.com", 13, 1},
        {"utf8 2-byte", V_ASN1_UTF8STRING, "caf\xc3\xa9", 5, 1},
        {"utf8 4-byte", V_ASN1_UTF8STRING, "\xf0\x9f\x94\x92", 4, 1},
        {"utf8 invalid byte", V_ASN1_UTF8STRING, "a\xff" "b", 3, 0},
        {"utf8 overlong", V_ASN1_UTF8STRING, "\xc0\xaf", 2, 0},
        {"utf8 surrogate", V_ASN1_UTF8STRING, "\xed\xa0\x80", 3, 0},
        {"utf8 beyond U+10FFFF", V_ASN1_UTF8STRING, "\xf4\x90\x80\x80", 4, 0},
        {"utf8 truncated", V_ASN1_UTF8STRING, "ab\xe2\x82", 4, 0},
        {"utf8 nul", V_ASN1_UTF8STRING, "a\0b", 3, 0},
        {"printable", V_ASN1_PRINTABLESTRING, "a.example.com", 13, 1},
        {"printable high byte", V_ASN1_PRINTABLESTRING, "caf\xe9", 4, 1},
        {"numeric", V_ASN1_NUMERICSTRING, "12345", 5, 1},
        {"t61 latin-1", V_ASN1_T61STRING, "caf\xe9", 4, 1},
        {"ia5", V_ASN1_IA5STRING, "a.example.com", 13, 1},
        {"visible (not a name string for OpenSSL)", V_ASN1_VISIBLESTRING, "a.example.com", 13, 0},
        {"general (not a name string for OpenSSL)", V_ASN1_GENERALSTRING, "a.example.com", 13, 0},
        {"bit string", V_ASN1_BIT_STRING, "\x00\x41", 2, 0},
        {"boolean", V_ASN1_BOOLEAN, "\xff", 1, 0},
        {"enumerated", V_ASN1_ENUMERATED, "\x01", 1, 0},
        {"utctime", V_ASN1_UTCTIME, "261129000000Z", 13, 0},
        {"object descriptor", 7, "abc", 3, 0},
        {"ia5 nul", V_ASN1_IA5STRING, "a\0b", 3, 0},
        {"bmp", V_ASN1_BMPSTRING, "\x00" "a\x00\xe9\x20\xac", 6, 1},
        {"bmp odd length", V_ASN1_BMPSTRING, "\x00" "a\x00", 3, 0},
        {"bmp surrogate", V_ASN1_BMPSTRING, "\xd8\x00", 2, 0},
        {"bmp nul", V_ASN1_BMPSTRING, "\x00\x00", 2, 0},
        {"universal", V_ASN1_UNIVERSALSTRING, "\x00\x00\x00" "a\x00\x01\xf5\x12", 8, 1},
        {"universal beyond U+10FFFF", V_ASN1_UNIVERSALSTRING, "\x00\x11\x00\x00", 4, 0},
        {"universal bad length", V_ASN1_UNIVERSALSTRING, "\x00\x00" "a", 3, 0},
        {"octet string", V_ASN1_OCTET_STRING, "a.example.com", 13, 0},
        {"integer", V_ASN1_INTEGER, "\x01", 1, 0},
        {"constructed utf8 (BER)", 0x2c, "\x0c\x01" "a" "\x04\x02" "bc", 7, 1},
        {"constructed utf8, nested", 0x2c, "\x2c\x03\x0c\x01" "a", 5, 1},
        {"constructed utf8, piece overruns", 0x2c, "\x0c\x05" "ab", 4, 0},
        {"constructed bmp, odd length", 0x3e, "\x04\x01" "a", 3, 0},
        {"primitive-flagged sequence", 0x10, "\x05\x00", 2, 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t dl;
        unsigned char *d = patched_csr(NID_commonName, v[i].tag, v[i].cn, v[i].len, &dl);
        if (agree(v[i].what, d, dl, SAME_REASON) != v[i].ok)
            fail_msg("%s: expected %s", v[i].what, v[i].ok ? "accept" : "reject");
        free(d);
        /* the same value as organizationName: only the parse-level refusals remain */
        char w[128];
        snprintf(w, sizeof(w), "O %s", v[i].what);
        d = patched_csr(NID_organizationName, v[i].tag, v[i].cn, v[i].len, &dl);
        agree(w, d, dl, SAME_REASON);
        free(d);
    }
}

/* Writes a DER header for tag and length n at o; returns its size. */
static size_t der_hdr(unsigned char *o, unsigned char tag, size_t n)
{
    o[0] = tag;
    if (n < 0x80) {
        o[1] = (unsigned char)n;
        return 2;
    }
    if (n < 0x100) {
        o[1] = 0x81;
        o[2] = (unsigned char)n;
        return 3;
    }
    o[1] = 0x82;
    o[2] = (unsigned char)(n >> 8);
    o[3] = (unsigned char)n;
    return 4;
}

/* Header size and content length of the DER element at d. */
static size_t der_len(const unsigned char *d, size_t *content)
{
    if (d[1] < 0x80) {
        *content = d[1];
        return 2;
    }
    size_t nb = d[1] & 0x7f, v = 0;
    for (size_t i = 0; i < nb; i++)
        v = v << 8 | d[2 + i];
    *content = v;
    return 2 + nb;
}

/* Extension-request variants: the attributes field left out (RFC 2986 makes it mandatory, OpenSSL reads
 * it as optional), Microsoft's older extension-request attribute, both, and many small extensions. */
static void test_extension_requests(void **state)
{
    (void)state;
    /* without the "[0] attributes" field */
    spec_t s = {.key = ed_key, .cn = "a.example.com"};
    X509_REQ *r = build(&s);
    size_t dl;
    unsigned char *der = der_of(r, &dl);
    X509_REQ_free(r);
    size_t on, tn;
    size_t oh = der_len(der, &on);
    unsigned char *tbs = der + oh;
    size_t th = der_len(tbs, &tn);
    assert_int_equal(tbs[th + tn - 2], 0xa0);
    assert_int_equal(tbs[th + tn - 1], 0x00);
    size_t rest = dl - oh - th - tn; /* AlgorithmIdentifier and signature */
    unsigned char out[1024], inner[1024];
    size_t il = der_hdr(inner, 0x30, tn - 2);
    memcpy(inner + il, tbs + th, tn - 2);
    il += tn - 2;
    memcpy(inner + il, tbs + th + tn, rest);
    il += rest;
    size_t ol = der_hdr(out, 0x30, il);
    memcpy(out + ol, inner, il);
    ol += il;
    resign(out, ol);
    assert_int_equal(agree("no attributes field", out, ol, SAME_REASON), 1);
    out[ol - 1] ^= 0x01;
    assert_int_equal(agree("no attributes field, broken signature", out, ol, SAME_REASON), 0);
    OPENSSL_free(der);

    /* SEQUENCE OF / SET OF with the constructed bit clear (OpenSSL does not insist on it): the subject
     * Name, its first RDN, and the attributes field, each re-signed */
    for (int which = 0; which < 3; which++) {
        spec_t s2 = {.key = ed_key, .cn = "a.example.com", .san = "DNS:a.example.com"};
        X509_REQ *q = build(&s2);
        unsigned char *d = der_of(q, &dl);
        X509_REQ_free(q);
        size_t cn_, tn_;
        size_t o2 = der_len(d, &cn_);
        size_t t2 = der_len(d + o2, &tn_);
        unsigned char *name = d + o2 + t2 + 3; /* after version INTEGER 02 01 00 */
        size_t nn;
        size_t nh = der_len(name, &nn);
        unsigned char *target = which == 0 ? name : which == 1 ? name + nh : NULL;
        if (which == 2) {
            unsigned char *spki = name + nh + nn;
            size_t sn;
            size_t sh = der_len(spki, &sn);
            target = spki + sh + sn;
        }
        assert_true(*target == 0x30 || *target == 0x31 || *target == 0xa0);
        *target &= (unsigned char)~0x20;
        resign(d, dl);
        static const char *const what[] = {"primitive-flagged Name", "primitive-flagged RDN", "primitive-flagged attributes"};
        assert_int_equal(agree(what[which], d, dl, SAME_REASON), 1);
        OPENSSL_free(d);
    }

    /* Microsoft's extension request, alone and after a standard one */
    for (int both = 0; both < 2; both++) {
        X509_REQ *q = X509_REQ_new();
        X509_REQ_set_pubkey(q, ed_key);
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:ms.example.com"));
        assert_true(X509_REQ_add_extensions_nid(q, exts, NID_ms_ext_req) == 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        if (both) {
            exts = sk_X509_EXTENSION_new_null();
            sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:std.example.com"));
            X509_REQ_add_extensions(q, exts);
            sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        }
        assert_true(X509_REQ_sign(q, ed_key, NULL) > 0);
        unsigned char *d = der_of(q, &dl);
        assert_int_equal(agree(both ? "microsoft and standard extension requests" : "microsoft extension request", d,
                               dl, SAME_REASON),
                         1);
        OPENSSL_free(d);
        X509_REQ_free(q);
    }

    /* many small extensions before the SANs (the walk is linear; both parsers must agree) */
    X509_REQ *q = X509_REQ_new();
    X509_REQ_set_pubkey(q, ed_key);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    for (int i = 0; i < 2500; i++)
        sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, "x"));
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:a.example.com"));
    X509_REQ_add_extensions(q, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_true(X509_REQ_sign(q, ed_key, NULL) > 0);
    unsigned char *d = der_of(q, &dl);
    assert_true(dl <= X509_CSR_MAX_BYTES);
    assert_int_equal(agree("2500 extensions", d, dl, SAME_REASON), 1);
    OPENSSL_free(d);
    X509_REQ_free(q);

    /* the size limit filled with subject entries, and with attributes (libtasn1 expands both) */
    for (int kind = 0; kind < 2; kind++) {
        q = X509_REQ_new();
        X509_REQ_set_pubkey(q, ed_key);
        for (int i = 0; i < 4000; i++) {
            if (kind == 0)
                X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(q), NID_organizationName, MBSTRING_ASC,
                                           (const unsigned char *)"o", 1, -1, 0);
            else
                X509_REQ_add1_attr_by_NID(q, NID_pkcs9_challengePassword, MBSTRING_ASC, (const unsigned char *)"p", 1);
        }
        X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(q), NID_commonName, MBSTRING_ASC,
                                   (const unsigned char *)"a.example.com", -1, -1, 0);
        assert_true(X509_REQ_sign(q, ed_key, NULL) > 0);
        d = der_of(q, &dl);
        assert_true(dl <= X509_CSR_MAX_BYTES);
        assert_int_equal(agree(kind ? "4000 attributes" : "4000 subject entries", d, dl, SAME_REASON), 1);
        OPENSSL_free(d);
        X509_REQ_free(q);
    }
}

static void test_values(void **state)
{
    (void)state;
    spec_t s = {.cn = "a.example.com", .san = "DNS:b.example.com,IP:2001:db8:0:0::1,DNS:a.example.com,IP:10.0.0.1"};
    X509_REQ *r = build(&s);
    size_t len;
    unsigned char *d = pem_of(r, &len);
    char err[160];
    wcsr_t *c = wcsr_parse(d, len, err, sizeof(err));
    if (!c)
        fail_msg("parse: %s", err);
    assert_string_equal(c->common_name, "a.example.com");
    assert_int_equal(c->n_dns, 2);
    assert_string_equal(c->dns_names[0], "b.example.com");
    assert_string_equal(c->dns_names[1], "a.example.com");
    assert_int_equal(c->n_ip, 2);
    assert_string_equal(c->ip_addresses[0], "2001:db8::1");
    assert_string_equal(c->ip_addresses[1], "10.0.0.1");
    wcsr_free(c);
    wcsr_free(NULL);
    free(d);
    X509_REQ_free(r);
}

/* tmpl with its one "%s" replaced by body (the templates are data, not printf formats). */
static int subst(char *buf, size_t size, const char *tmpl, const char *body)
{
    const char *at = strstr(tmpl, "%s");
    assert_non_null(at);
    int n = snprintf(buf, size, "%.*s%s%s", (int)(at - tmpl), tmpl, body, at + 2);
    assert_true(n > 0 && (size_t)n < size);
    return n;
}

/* PEM text variants of one CSR: labels, surrounding text, other blocks, line endings, headers, base64. */
static void test_pem_variants(void **state)
{
    (void)state;
    spec_t s = {.key = ed_key, .cn = "a.example.com", .san = "DNS:a.example.com"};
    X509_REQ *r = build(&s);
    size_t pl;
    unsigned char *pem = pem_of(r, &pl);
    const char *begin = "-----BEGIN CERTIFICATE REQUEST-----\n", *end = "-----END CERTIFICATE REQUEST-----\n";
    char body[4096];
    size_t bl = pl - strlen(begin) - strlen(end);
    assert_true(bl < sizeof(body));
    memcpy(body, pem + strlen(begin), bl);
    body[bl] = '\0';
    char oneline[4096];
    size_t ol = 0;
    for (size_t i = 0; i < bl; i++)
        if (body[i] != '\n')
            oneline[ol++] = body[i];
    oneline[ol] = '\0';
    char crlf[8192];
    size_t cl = 0;
    for (size_t i = 0; i < pl; i++) {
        if (pem[i] == '\n')
            crlf[cl++] = '\r';
        crlf[cl++] = (char)pem[i];
    }
    crlf[cl] = '\0';
    char nopad[4096];
    snprintf(nopad, sizeof(nopad), "%s", body);
    char *eq = strchr(nopad, '=');
    if (eq)
        memmove(eq, eq + 1, strlen(eq));
    struct {
        const char *what, *fmt;
        int ok;
    } v[] = {
        {"plain", "-----BEGIN CERTIFICATE REQUEST-----\n%s-----END CERTIFICATE REQUEST-----\n", 1},
        {"NEW label", "-----BEGIN NEW CERTIFICATE REQUEST-----\n%s-----END NEW CERTIFICATE REQUEST-----\n", 1},
        {"wrong label", "-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n", 0},
        {"private key label", "-----BEGIN PRIVATE KEY-----\n%s-----END PRIVATE KEY-----\n", 0},
        {"mismatched end", "-----BEGIN CERTIFICATE REQUEST-----\n%s-----END CERTIFICATE-----\n", 0},
        {"no end", "-----BEGIN CERTIFICATE REQUEST-----\n%s", 0},
        {"text around", "subject=CN = a.example.com\n-----BEGIN CERTIFICATE REQUEST-----\n%s"
                        "-----END CERTIFICATE REQUEST-----\ntrailing text\n", 1},
        {"trailing spaces", "-----BEGIN CERTIFICATE REQUEST-----  \n%s-----END CERTIFICATE REQUEST----- \t\n", 1},
        {"no final newline", "-----BEGIN CERTIFICATE REQUEST-----\n%s-----END CERTIFICATE REQUEST-----", 1},
        {"other block first", "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n-----BEGIN CERTIFICATE REQUEST-----\n%s"
                              "-----END CERTIFICATE REQUEST-----\n", 1},
        {"bad other block first", "-----BEGIN FOO-----\nA!AA\n-----END FOO-----\n-----BEGIN CERTIFICATE REQUEST-----\n%s"
                                  "-----END CERTIFICATE REQUEST-----\n", 0},
        {"other block with headers first", "-----BEGIN FOO-----\nA: b\n\nAAAA\n-----END FOO-----\n"
                                           "-----BEGIN CERTIFICATE REQUEST-----\n%s-----END CERTIFICATE REQUEST-----\n", 1},
        {"headers", "-----BEGIN CERTIFICATE REQUEST-----\nComment: hello\n\n%s-----END CERTIFICATE REQUEST-----\n", 0},
        {"proc-type header", "-----BEGIN CERTIFICATE REQUEST-----\nProc-Type: 4,ENCRYPTED\n\n%s"
                             "-----END CERTIFICATE REQUEST-----\n", 0},
        {"blank line first", "-----BEGIN CERTIFICATE REQUEST-----\n\n%s-----END CERTIFICATE REQUEST-----\n", 1},
        {"two blank lines", "-----BEGIN CERTIFICATE REQUEST-----\n\n\n%s-----END CERTIFICATE REQUEST-----\n", 0},
        {"blank line last", "-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n", 0},
        {"bad base64", "-----BEGIN CERTIFICATE REQUEST-----\n%s!!!!\n-----END CERTIFICATE REQUEST-----\n", 0},
        {"extra base64 group", "-----BEGIN CERTIFICATE REQUEST-----\n%sAAAA\n-----END CERTIFICATE REQUEST-----\n", -1},
        {"begin without dashes", "-----BEGIN CERTIFICATE REQUEST\n%s-----END CERTIFICATE REQUEST-----\n", 0},
        {"leading space on begin", " -----BEGIN CERTIFICATE REQUEST-----\n%s-----END CERTIFICATE REQUEST-----\n", 0},
        {"high bytes after begin", "-----BEGIN CERTIFICATE REQUEST-----\xff\xfe\n%s-----END CERTIFICATE REQUEST-----\n", 1},
        {"dash ends the base64", "-----BEGIN CERTIFICATE REQUEST-----\n%s--AAAA\n-----END CERTIFICATE REQUEST-----\n", 1},
        {"second csr after", "-----BEGIN CERTIFICATE REQUEST-----\n%s-----END CERTIFICATE REQUEST-----\n"
                             "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", 1},
    };
    char buf[16384];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        int n = subst(buf, sizeof(buf), v[i].fmt, body);
        int got = agree(v[i].what, (unsigned char *)buf, (size_t)n, SAME_REASON);
        if (v[i].ok >= 0 && got != v[i].ok)
            fail_msg("%s: expected %s", v[i].what, v[i].ok ? "accept" : "reject");
    }
    int n = snprintf(buf, sizeof(buf), "%s%s\n%s", begin, oneline, end);
    assert_int_equal(agree("one long line", (unsigned char *)buf, (size_t)n, SAME_REASON), 1);
    assert_int_equal(agree("crlf", (unsigned char *)crlf, cl, SAME_REASON), 1);
    n = snprintf(buf, sizeof(buf), "%s%s%s", begin, nopad, end);
    agree("unpadded", (unsigned char *)buf, (size_t)n, SAME_REASON);
    /* "-----BEGIN" past the first 256 bytes: both read it as DER (and fail) */
    n = snprintf(buf, sizeof(buf), "%300s%s", "", (char *)pem);
    assert_int_equal(agree("pem after 300 bytes", (unsigned char *)buf, (size_t)n, SAME_REASON), 0);
    free(pem);
    X509_REQ_free(r);
}

static void test_bad_input(void **state)
{
    (void)state;
    spec_t s = {.key = ed_key, .cn = "a.example.com", .san = "DNS:a.example.com"};
    X509_REQ *r = build(&s);
    size_t dl;
    unsigned char *der = der_of(r, &dl);
    assert_int_equal(agree("empty", (const unsigned char *)"", 0, SAME_REASON), 0);
    assert_int_equal(agree("NULL", NULL, 0, SAME_REASON), 0);
    assert_int_equal(agree("garbage", (const unsigned char *)"garbage", 7, SAME_REASON), 0);
    const char *aaaa = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    assert_int_equal(agree("pem of zeros", (const unsigned char *)aaaa, strlen(aaaa), SAME_REASON), 0);
    /* every truncation of the DER */
    for (size_t i = 1; i < dl; i++) {
        char w[64];
        snprintf(w, sizeof(w), "truncated to %zu", i);
        assert_int_equal(agree(w, der, i, SAME_REASON), 0);
    }
    /* trailing bytes after the structure are ignored by both */
    unsigned char *t = malloc(dl + 5);
    memcpy(t, der, dl);
    memcpy(t + dl, "junk!", 5);
    assert_int_equal(agree("trailing junk", t, dl + 5, SAME_REASON), 1);
    free(t);
    /* broken signature: last byte flipped, and a flipped byte in the signed part */
    unsigned char *b = malloc(dl);
    memcpy(b, der, dl);
    b[dl - 1] ^= 0x01;
    assert_int_equal(agree("broken signature", b, dl, SAME_REASON), 0);
    char err[160];
    assert_null(wcsr_parse(b, dl, err, sizeof(err)));
    assert_string_equal(err, "CSR signature does not verify");
    /* size limit: refused before parsing, whatever the content */
    unsigned char *big = calloc(1, X509_CSR_MAX_BYTES + 1);
    memcpy(big, der, dl);
    assert_int_equal(agree("over the size limit", big, X509_CSR_MAX_BYTES + 1, SAME_REASON), 0);
    assert_null(wcsr_parse(big, X509_CSR_MAX_BYTES + 1, err, sizeof(err)));
    assert_string_equal(err, "CSR larger than 64 KiB");
    assert_int_equal(agree("at the size limit", big, X509_CSR_MAX_BYTES, SAME_REASON), 1);
    /* a tiny err buffer is still NUL-terminated, and no buffer at all is fine */
    char tiny[4];
    assert_null(wcsr_parse((const unsigned char *)"x", 1, tiny, sizeof(tiny)));
    assert_int_equal(strlen(tiny), 3);
    assert_null(wcsr_parse((const unsigned char *)"x", 1, NULL, 0));
    free(big);
    free(b);
    OPENSSL_free(der);
    X509_REQ_free(r);
}

/* Every single-byte change (three flips per byte) of a DER CSR: accept/reject and content must agree. The
 * reason may differ (which check trips first on a corrupt structure is a library detail). */
static void test_mutations(void **state)
{
    (void)state;
    spec_t s = {.key = ed_key, .cn = "a.example.com", .san = "DNS:a.example.com,IP:192.0.2.1"};
    X509_REQ *r = build(&s);
    size_t dl;
    unsigned char *der = der_of(r, &dl);
    unsigned char *m = malloc(dl);
    static const unsigned char flips[] = {0x01, 0x80, 0xff};
    int accepted = 0;
    for (size_t i = 0; i < dl; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            memcpy(m, der, dl);
            m[i] ^= flips[f];
            char w[64];
            snprintf(w, sizeof(w), "byte %zu ^ 0x%02x", i, flips[f]);
            accepted += agree(w, m, dl, ANY_REASON);
        }
    }
    print_message("%zu mutations, %d accepted by both\n", dl * sizeof(flips), accepted);
    /* the same inside the signed part, re-signed: now the parsers' structure checks decide */
    accepted = 0;
    size_t tbs_end = dl - 64 - 3 - 7; /* before the signature BIT STRING and the Ed25519 AlgorithmIdentifier */
    for (size_t i = 3; i < tbs_end; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            memcpy(m, der, dl);
            m[i] ^= flips[f];
            resign(m, dl);
            char w[64];
            snprintf(w, sizeof(w), "re-signed byte %zu ^ 0x%02x", i, flips[f]);
            accepted += agree(w, m, dl, ANY_REASON);
        }
    }
    print_message("%zu re-signed mutations, %d accepted by both\n", (tbs_end - 3) * sizeof(flips), accepted);
    free(m);
    OPENSSL_free(der);
    X509_REQ_free(r);
}

/* ---- corpora: every spec.request in the AdmissionReview fixtures and the admission fuzz corpus ---- */

static int corpus_dir(const char *dir)
{
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    int count = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        json_object *root = json_object_from_file(path); /* owned; NULL for the non-JSON corpus entries */
        if (!root)
            continue;
        static const char *const objs[] = {"object", "oldObject"};
        for (size_t k = 0; k < 2; k++) {
            json_object *req = NULL, *obj = NULL, *spec = NULL, *csr = NULL; /* borrowed */
            if (!json_object_object_get_ex(root, "request", &req) || !json_object_object_get_ex(req, objs[k], &obj) ||
                !json_object_object_get_ex(obj, "spec", &spec) || !json_object_object_get_ex(spec, "request", &csr) ||
                !json_object_is_type(csr, json_type_string))
                continue;
            unsigned char *d = NULL;
            size_t dl = 0;
            if (util_base64_decode(json_object_get_string(csr), 3u << 20, &d, &dl) < 0)
                continue;
            char w[300];
            snprintf(w, sizeof(w), "%s (%s)", de->d_name, objs[k]);
            agree(w, d, dl, SAME_REASON);
            count++;
            free(d);
        }
        json_object_put(root);
    }
    closedir(dh);
    return count;
}

static void test_corpora(void **state)
{
    (void)state;
    int a = corpus_dir(WEBHOOK_FIXTURE_DIR);
    int b = corpus_dir(ADMISSION_CORPUS_DIR);
    print_message("%d CSRs from the fixtures, %d from the fuzz corpus\n", a, b);
    assert_true(a >= 40);
    assert_true(b >= 3);
}

/* ---- caBundle ---- */

static char *cert_pem(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, NULL) > 0); /* Ed25519: no separate digest */
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long l = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)l);
    BIO_free(b);
    X509_free(x);
    return out;
}

static void test_cabundle(void **state)
{
    (void)state;
    char *c1 = cert_pem(ed_key, "Test Root"), *c2 = cert_pem(ed_key, "Other Root");
    spec_t s = {.key = ed_key, .cn = "a.example.com"};
    X509_REQ *r = build(&s);
    size_t rl;
    unsigned char *req = pem_of(r, &rl);
    const char *cb = "-----BEGIN CERTIFICATE-----\n", *ce = "-----END CERTIFICATE-----\n";
    char body[4096];
    size_t bl = strlen(c1) - strlen(cb) - strlen(ce);
    memcpy(body, c1 + strlen(cb), bl);
    body[bl] = '\0';
    char broken[4096];
    snprintf(broken, sizeof(broken), "%s", body);
    broken[10] = broken[10] == 'A' ? 'B' : 'A'; /* still base64, no longer the certificate */
    struct {
        const char *what;
        char *text;
        bool ok;
    } v[] = {
        {"one cert", NULL, true}, {"two certs", NULL, true}, {"text first", NULL, true},
        {"csr first", NULL, true}, {"X509 CERTIFICATE label", NULL, true}, {"TRUSTED CERTIFICATE label", NULL, false},
        {"broken first cert", NULL, false}, {"broken second cert", NULL, true}, {"bad base64 block first", NULL, false},
        {"headers", NULL, false}, {"no end line", NULL, false}, {"csr only", NULL, false},
        {"garbage", NULL, false}, {"empty", NULL, false}, {"crlf", NULL, true},
        {"trailing der bytes", NULL, true},
    };
    size_t nv = sizeof(v) / sizeof(v[0]);
    for (size_t i = 0; i < nv; i++)
        v[i].text = malloc(16384);
    size_t k = 0;
    snprintf(v[k++].text, 16384, "%s", c1);
    snprintf(v[k++].text, 16384, "%s%s", c1, c2);
    snprintf(v[k++].text, 16384, "# Test Root\nsubject=CN = Test Root\n%s", c1);
    snprintf(v[k++].text, 16384, "%s%s", (char *)req, c1);
    snprintf(v[k++].text, 16384, "-----BEGIN X509 CERTIFICATE-----\n%s-----END X509 CERTIFICATE-----\n", body);
    snprintf(v[k++].text, 16384, "-----BEGIN TRUSTED CERTIFICATE-----\n%s-----END TRUSTED CERTIFICATE-----\n", body);
    snprintf(v[k++].text, 16384, "%s%s%s%s", cb, broken, ce, c2);
    snprintf(v[k++].text, 16384, "%s%s%s%s", c1, cb, broken, ce);
    snprintf(v[k++].text, 16384, "-----BEGIN FOO-----\n!!!!\n-----END FOO-----\n%s", c1);
    snprintf(v[k++].text, 16384, "%sComment: x\n\n%s%s", cb, body, ce);
    snprintf(v[k++].text, 16384, "%s%s", cb, body);
    snprintf(v[k++].text, 16384, "%s", (char *)req);
    snprintf(v[k++].text, 16384, "garbage");
    snprintf(v[k++].text, 16384, "%s", "");
    size_t o = 0;
    for (const char *p = c1; *p; p++) {
        if (*p == '\n')
            v[k].text[o++] = '\r';
        v[k].text[o++] = *p;
    }
    v[k++].text[o] = '\0';
    /* the certificate's DER with 3 extra bytes, re-encoded */
    {
        BIO *bio = BIO_new_mem_buf(c1, -1);
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        unsigned char *der = NULL;
        int dl = i2d_X509(x, &der);
        unsigned char *ext = malloc((size_t)dl + 3);
        memcpy(ext, der, (size_t)dl);
        memcpy(ext + dl, "\x05\x00\x00", 3);
        BIO *b64 = BIO_new(BIO_f_base64()), *mem = BIO_new(BIO_s_mem());
        BIO_push(b64, mem);
        BIO_write(b64, ext, dl + 3);
        (void)BIO_flush(b64);
        char *p;
        long pl = BIO_get_mem_data(mem, &p);
        snprintf(v[k++].text, 16384, "%s%.*s%s", cb, (int)pl, p, ce);
        BIO_free_all(b64);
        free(ext);
        OPENSSL_free(der);
        X509_free(x);
        BIO_free(bio);
    }
    assert_int_equal(k, nv);
    for (size_t i = 0; i < nv; i++) {
        if (getenv("CSR_DEBUG"))
            fprintf(stderr, "%s:\n%s\n", v[i].what, v[i].text);
        if (cert_agree(v[i].what, (unsigned char *)v[i].text, strlen(v[i].text)) != v[i].ok)
            fail_msg("%s: expected %s", v[i].what, v[i].ok ? "accept" : "reject");
        free(v[i].text);
    }
    /* DER is not PEM */
    BIO *bio = BIO_new_mem_buf(c1, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    unsigned char *der = NULL;
    int dl = i2d_X509(x, &der);
    assert_false(cert_agree("raw DER", der, (size_t)dl));
    /* every single-byte change of the certificate (not signature-checked: the decoders alone decide) */
    static const unsigned char flips[] = {0x01, 0x80, 0xff};
    unsigned char *m = malloc((size_t)dl);
    int accepted = 0;
    for (int i = 0; i < dl; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            memcpy(m, der, (size_t)dl);
            m[i] ^= flips[f];
            BIO *b64 = BIO_new(BIO_f_base64()), *mem = BIO_new(BIO_s_mem());
            BIO_push(b64, mem);
            BIO_write(b64, m, dl);
            (void)BIO_flush(b64);
            char *p;
            long pl = BIO_get_mem_data(mem, &p);
            char text[4096], w[64];
            int tl = snprintf(text, sizeof(text), "%s%.*s%s", cb, (int)pl, p, ce);
            BIO_free_all(b64);
            snprintf(w, sizeof(w), "certificate byte %d ^ 0x%02x", i, flips[f]);
            accepted += cert_agree(w, (unsigned char *)text, (size_t)tl);
        }
    }
    print_message("%d certificate mutations, %d accepted by both\n", dl * 3, accepted);
    /* the issuer Name with the constructed bit clear: OpenSSL reads it */
    {
        memcpy(m, der, (size_t)dl);
        size_t on_, tn_, ln;
        size_t o2 = der_len(m, &on_), t2 = der_len(m + o2, &tn_);
        unsigned char *q = m + o2 + t2;
        q += der_len(q, &ln) + ln; /* [0] version */
        q += der_len(q, &ln) + ln; /* serial */
        q += der_len(q, &ln) + ln; /* signature AlgorithmIdentifier */
        assert_int_equal(*q, 0x30);
        *q = 0x10;
        BIO *b64 = BIO_new(BIO_f_base64()), *mem = BIO_new(BIO_s_mem());
        BIO_push(b64, mem);
        BIO_write(b64, m, dl);
        (void)BIO_flush(b64);
        char *p;
        long pl = BIO_get_mem_data(mem, &p);
        char text[4096];
        int tl = snprintf(text, sizeof(text), "%s%.*s%s", cb, (int)pl, p, ce);
        BIO_free_all(b64);
        assert_true(cert_agree("primitive-flagged issuer", (unsigned char *)text, (size_t)tl));
    }
    free(m);
    /* the system's CA bundle, whole and certificate by certificate (real-world encodings) */
    FILE *f = fopen("/etc/ssl/certs/ca-certificates.crt", "rb");
    if (f) {
        static char all[1 << 20];
        size_t al = fread(all, 1, sizeof(all) - 1, f);
        fclose(f);
        all[al] = '\0';
        assert_true(cert_agree("system bundle", (unsigned char *)all, al));
        int certs = 0;
        for (char *b = strstr(all, cb); b; b = strstr(b + 1, cb)) {
            char *e = strstr(b, ce);
            assert_non_null(e);
            char w[64];
            snprintf(w, sizeof(w), "system CA #%d", certs++);
            assert_true(cert_agree(w, (unsigned char *)b, (size_t)(e - b) + strlen(ce)));
        }
        print_message("%d system CA certificates\n", certs);
    }
    assert_false(wcsr_pem_has_cert(NULL, 0));
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    free(c1);
    free(c2);
    free(req);
    X509_REQ_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),      cmocka_unit_test(test_cn_encodings), cmocka_unit_test(test_extension_requests),
        cmocka_unit_test(test_values),    cmocka_unit_test(test_pem_variants),
        cmocka_unit_test(test_bad_input),   cmocka_unit_test(test_mutations), cmocka_unit_test(test_corpora),
        cmocka_unit_test(test_cabundle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
