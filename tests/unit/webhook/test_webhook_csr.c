/* SPDX-License-Identifier: Apache-2.0 */
/* webhook/csr.c (GnuTLS) against lib/x509/csr.c and PEM_read_bio_X509 (OpenSSL), the parsers of the
 * webhook and of the controller:
 *  - every CSR in the webhook fixtures and the admission fuzz corpus, and CSRs built here with OpenSSL in
 *    the shapes users send (CN or not, DNS and IP SANs, UTF-8 names, RSA/ECDSA/Ed25519, SHA-1 to SHA-512,
 *    PEM or DER), get the same verdict from both, with equal common name, DNS list and IP list;
 *  - bad input is refused with a reason: empty, oversize, garbage, every truncation, a broken signature,
 *    another PEM label, more than X509_CSR_MAX_NAMES names;
 *  - where GnuTLS is stricter than OpenSSL's decoder the webhook refuses (a CSR without the attributes
 *    field RFC 2986 requires, a CN of a type OpenSSL reads but X.520 does not allow): the user gets a clear
 *    denial at once instead of a CertificateRequest the CA may refuse later;
 *  - caBundle: PEM certificates and chains are accepted, anything else refused. */
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
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "csr.h"
#include "util/base64.h"
#include "x509/csr.h"

static EVP_PKEY *ec_key, *rsa_key, *ed_key;

static int setup(void **state)
{
    (void)state;
    ec_key = EVP_EC_gen("P-256");
    rsa_key = EVP_RSA_gen(2048);
    ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return ec_key && rsa_key && ed_key ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ed_key);
    return 0;
}

static bool same_list(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* Both parsers give the same verdict and, when they accept, the same values. Returns 1 accepted, 0 not. */
static int agree(const char *what, const unsigned char *d, size_t len)
{
    char e1[160] = "", e2[160] = "";
    x509_csr_t *a = x509_csr_parse(d, len, e1, sizeof(e1));
    wcsr_t *b = wcsr_parse(d, len, e2, sizeof(e2));
    if (!a != !b)
        fail_msg("%s: OpenSSL %s (%s), GnuTLS %s (%s)", what, a ? "accepts" : "rejects", e1,
                 b ? "accepts" : "rejects", e2);
    int ret = b != NULL;
    if (!b) {
        assert_true(strlen(e2) > 0);
    } else {
        const char *c1 = a->common_name, *c2 = b->common_name;
        if (!c1 != !c2 || (c1 && strcmp(c1, c2) != 0))
            fail_msg("%s: common names differ: \"%s\" vs \"%s\"", what, c1 ? c1 : "(none)", c2 ? c2 : "(none)");
        if (!same_list(a->dns_names, a->n_dns, b->dns_names, b->n_dns))
            fail_msg("%s: DNS names differ (%zu vs %zu)", what, a->n_dns, b->n_dns);
        if (!same_list(a->ip_addresses, a->n_ip, b->ip_addresses, b->n_ip))
            fail_msg("%s: IP addresses differ (%zu vs %zu)", what, a->n_ip, b->n_ip);
    }
    x509_csr_free(a);
    wcsr_free(b);
    return ret;
}

/* The webhook's parser refuses d, with a reason containing want (NULL: any). */
static void refused(const char *what, const unsigned char *d, size_t len, const char *want)
{
    char err[160] = "";
    wcsr_t *c = wcsr_parse(d, len, err, sizeof(err));
    if (c)
        fail_msg("%s: accepted", what);
    if (!*err || (want && !strstr(err, want)))
        fail_msg("%s: reason \"%s\", want \"%s\"", what, err, want ? want : "(any)");
}

/* ---- CSRs built with OpenSSL ---- */

typedef struct shape {
    const char *cn;        /* NULL: no subject CN */
    int cn_type;           /* ASN.1 string type of the CN (0: UTF8String) */
    const char *san;       /* X509V3 SAN text ("DNS:a,IP:1.2.3.4"), NULL: none */
    EVP_PKEY *key;         /* NULL: ec_key */
    const EVP_MD *md;      /* NULL: SHA-256 (Ed25519 takes none) */
    bool no_attributes;    /* cut the (empty) attributes field out */
    int tiny_extensions;   /* empty extensions 1.2.<i> before the SAN (size stress) */
} shape_t;

/* DER of a CSR of shape s (owned, *len bytes). */
static unsigned char *build(const shape_t *s, size_t *len)
{
    X509_REQ *r = X509_REQ_new();
    assert_non_null(r);
    X509_NAME *n = X509_REQ_get_subject_name(r);
    if (s->cn && (s->cn_type == V_ASN1_BMPSTRING || s->cn_type == V_ASN1_UNIVERSALSTRING)) {
        /* UTF-8 text re-encoded as UCS-2 / UCS-4 */
        ASN1_STRING *str = NULL;
        assert_true(ASN1_mbstring_copy(&str, (const unsigned char *)s->cn, -1, MBSTRING_UTF8,
                                       s->cn_type == V_ASN1_BMPSTRING ? B_ASN1_BMPSTRING : B_ASN1_UNIVERSALSTRING) > 0);
        assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, s->cn_type, ASN1_STRING_get0_data(str),
                                                    ASN1_STRING_length(str), -1, 0), 1);
        ASN1_STRING_free(str);
    } else if (s->cn) {
        assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, s->cn_type ? s->cn_type : MBSTRING_UTF8,
                                                    (const unsigned char *)s->cn, -1, -1, 0), 1);
    }
    if (s->san) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        ASN1_OCTET_STRING *empty = ASN1_OCTET_STRING_new();
        for (int i = 0; i < s->tiny_extensions; i++) {
            char oid[32];
            snprintf(oid, sizeof(oid), "1.2.%d", i);
            ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
            sk_X509_EXTENSION_push(exts, X509_EXTENSION_create_by_OBJ(NULL, o, 0, empty));
            ASN1_OBJECT_free(o);
        }
        ASN1_OCTET_STRING_free(empty);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, s->san);
        assert_non_null(e);
        sk_X509_EXTENSION_push(exts, e);
        assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    EVP_PKEY *k = s->key ? s->key : ec_key;
    assert_int_equal(X509_REQ_set_pubkey(r, k), 1);
    const EVP_MD *md = k == ed_key ? NULL : s->md ? s->md : EVP_sha256();
    if (X509_REQ_sign(r, k, md) <= 0)
        fail_msg("X509_REQ_sign: %s", ERR_error_string(ERR_get_error(), NULL));
    unsigned char *der = NULL;
    int l = i2d_X509_REQ(r, &der);
    assert_true(l > 0);
    X509_REQ_free(r);
    *len = (size_t)l;
    if (s->no_attributes) {
        /* without a SAN the attributes field is the empty [0] (a0 00) that ends the CertificationRequestInfo;
         * dropping it shortens that SEQUENCE and the outer one by two bytes (short-form lengths only: the
         * test builds small requests with the Ed25519 key, whose signature needs no re-signing to decode) */
        unsigned char *p = memmem(der, *len, "\xa0\x00", 2);
        assert_non_null(p);
        memmove(p, p + 2, *len - (size_t)(p + 2 - der));
        *len -= 2;
    }
    return der;
}

static char *pem_of(const unsigned char *der, size_t len, const char *label)
{
    char *b64 = util_base64_encode(der, len), *pem = NULL;
    assert_non_null(b64);
    assert_true(asprintf(&pem, "-----BEGIN %s-----\n%s\n-----END %s-----\n", label, b64, label) > 0);
    free(b64);
    return pem;
}

static void test_shapes_agree(void **state)
{
    (void)state;
    char many[40000] = "";
    for (int i = 0; i < X509_CSR_MAX_NAMES; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sDNS:n%d.example.com", i ? "," : "", i);
    const shape_t shapes[] = {
        {.cn = "a.example.com", .san = "DNS:a.example.com,DNS:b.example.com"},
        {.cn = NULL, .san = "DNS:only-san.example.com"},
        {.cn = "a.example.com", .san = NULL},
        {.cn = NULL, .san = NULL},
        {.cn = "10.0.0.1", .san = "IP:10.0.0.1,IP:2001:db8::1,IP:::ffff:1.2.3.4"},
        {.cn = "*.example.com", .san = "DNS:*.example.com,DNS:example.com"},
        {.cn = "Bad.Example.com", .san = "DNS:Bad.Example.com,DNS:a..b"},
        {.cn = "caf\xc3\xa9.example", .san = "DNS:xn--caf-dma.example"},
        {.cn = "printable.example.com", .cn_type = V_ASN1_PRINTABLESTRING, .san = "DNS:printable.example.com"},
        {.cn = "latin-1 \xff", .cn_type = V_ASN1_T61STRING}, /* both read a TeletexString as Latin-1 */
        {.cn = "ia5.example.com", .cn_type = V_ASN1_IA5STRING},
        {.cn = "bmp \xc3\xa9\xe2\x82\xac.example", .cn_type = V_ASN1_BMPSTRING},
        {.cn = "univ \xf0\x9f\x94\x92.example", .cn_type = V_ASN1_UNIVERSALSTRING},
        {.cn = "a.example.com", .san = "DNS:a.example.com,email:x@example.com,URI:https://example.com/"},
        {.cn = "rsa.example.com", .san = "DNS:rsa.example.com", .key = NULL, .md = NULL},
        {.cn = "sha1.example.com", .san = "DNS:sha1.example.com", .md = NULL},
        {.cn = "ed.example.com", .san = "DNS:ed.example.com", .key = NULL},
        {.cn = NULL, .san = many},
        /* 64 KiB of tiny extensions with the SAN last: linear in the webhook (GnuTLS's per-index extension
         * lookups would take a minute here, far beyond the API server's webhook timeout) */
        {.cn = "stress.example.com", .san = "DNS:stress.example.com", .tiny_extensions = 7000},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        shape_t s = shapes[i];
        if (i == 14)
            s.key = rsa_key;
        if (i == 15)
            s.md = EVP_sha1();
        if (i == 16)
            s.key = ed_key;
        size_t len = 0;
        unsigned char *der = build(&s, &len);
        char what[64];
        snprintf(what, sizeof(what), "shape %zu (DER)", i);
        assert_int_equal(agree(what, der, len), 1);
        char *pem = pem_of(der, len, i % 2 ? "NEW CERTIFICATE REQUEST" : "CERTIFICATE REQUEST");
        snprintf(what, sizeof(what), "shape %zu (PEM)", i);
        assert_int_equal(agree(what, (const unsigned char *)pem, strlen(pem)), strlen(pem) <= X509_CSR_MAX_BYTES);
        free(pem);
        free(der);
    }
    /* the values themselves, for one shape */
    shape_t s = {.cn = "10.0.0.1", .san = "DNS:a.example.com,IP:10.0.0.1,IP:2001:db8::1"};
    size_t len = 0;
    unsigned char *der = build(&s, &len);
    char err[160];
    wcsr_t *c = wcsr_parse(der, len, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->common_name, "10.0.0.1");
    assert_int_equal(c->n_dns, 1);
    assert_string_equal(c->dns_names[0], "a.example.com");
    assert_int_equal(c->n_ip, 2);
    assert_string_equal(c->ip_addresses[0], "10.0.0.1");
    assert_string_equal(c->ip_addresses[1], "2001:db8::1");
    wcsr_free(c);
    free(der);
}

static void test_bad_input(void **state)
{
    (void)state;
    refused("empty", (const unsigned char *)"", 0, "empty CSR");
    refused("NULL", NULL, 0, "empty CSR");
    static unsigned char big[X509_CSR_MAX_BYTES + 1];
    refused("oversize", big, sizeof(big), "larger than 64 KiB");
    refused("garbage", (const unsigned char *)"garbage", 7, "not a PEM or DER");
    refused("PEM garbage", (const unsigned char *)"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            70, NULL);

    shape_t s = {.cn = "a.example.com", .san = "DNS:a.example.com"};
    size_t len = 0;
    unsigned char *der = build(&s, &len);
    for (size_t i = 0; i < len; i++) { /* every truncation */
        char what[48];
        snprintf(what, sizeof(what), "truncated to %zu", i);
        refused(what, der, i, NULL);
    }
    unsigned char *broken = malloc(len);
    memcpy(broken, der, len);
    broken[len - 5] ^= 0x01; /* inside the signature */
    refused("broken signature", broken, len, "signature does not verify");
    free(broken);
    char *pem = pem_of(der, len, "CERTIFICATE");
    refused("another PEM label", (const unsigned char *)pem, strlen(pem), "not a PEM or DER");
    free(pem);
    free(der);

    char many[42000] = "";
    for (int i = 0; i <= X509_CSR_MAX_NAMES; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sDNS:n%d.example.com", i ? "," : "", i);
    shape_t m = {.san = many};
    der = build(&m, &len);
    refused("too many names", der, len, "more than 1000");
    free(der);
}

static void test_stricter_than_openssl(void **state)
{
    (void)state;
    char e[160];
    /* RFC 2986: attributes [0] is not optional; OpenSSL's decoder tolerates its absence */
    shape_t na = {.cn = "a.example.com", .key = NULL, .no_attributes = true};
    na.key = ed_key;
    size_t len = 0;
    unsigned char *der = build(&na, &len);
    x509_csr_t *o = x509_csr_parse(der, len, e, sizeof(e));
    x509_csr_free(o); /* either way: the point is the webhook's answer */
    refused("no attributes field", der, len, "not a PEM or DER");
    free(der);
    /* a CN of another string type (NumericString) */
    shape_t num = {.cn = "12345", .cn_type = V_ASN1_NUMERICSTRING};
    der = build(&num, &len);
    refused("NumericString CN", der, len, "common name");
    free(der);
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
            agree(w, d, dl);
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

static char *self_signed_pem(void)
{
    X509 *x = X509_new();
    assert_non_null(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName, MBSTRING_UTF8,
                               (const unsigned char *)"test CA", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, ec_key);
    assert_true(X509_sign(x, ec_key, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    return out;
}

static void test_cabundle(void **state)
{
    (void)state;
    char *one = self_signed_pem(), *two = NULL;
    assert_true(asprintf(&two, "%s%s", one, one) > 0);
    assert_true(wcsr_pem_has_cert((const unsigned char *)one, strlen(one)));
    assert_true(wcsr_pem_has_cert((const unsigned char *)two, strlen(two)));
    assert_false(wcsr_pem_has_cert((const unsigned char *)"", 0));
    assert_false(wcsr_pem_has_cert(NULL, 0));
    assert_false(wcsr_pem_has_cert((const unsigned char *)"not pem", 7));
    const char *junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_false(wcsr_pem_has_cert((const unsigned char *)junk, strlen(junk)));
    shape_t s = {.cn = "a.example.com"};
    size_t len = 0;
    unsigned char *der = build(&s, &len);
    char *csr = pem_of(der, len, "CERTIFICATE REQUEST");
    assert_false(wcsr_pem_has_cert((const unsigned char *)csr, strlen(csr)));
    free(csr);
    free(der);
    free(one);
    free(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_agree),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_stricter_than_openssl),
        cmocka_unit_test(test_corpora),
        cmocka_unit_test(test_cabundle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
