/* SPDX-License-Identifier: Apache-2.0 */
/* CSR parsing and the caBundle check with GnuTLS (see csr.h). Decoding is GnuTLS's (libtasn1): this file
 * only asks for the parts the validators use and applies the limits. */
#include "csr.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>
#include <libtasn1.h>

#include "util/err.h"
#include "x509/csr.h" /* X509_CSR_MAX_BYTES, X509_CSR_MAX_NAMES only: no OpenSSL code is linked from it */

#define NOT_A_CSR "not a PEM or DER PKCS#10 certificate request"

void wcsr_free(wcsr_t *csr)
{
    if (!csr)
        return;
    free(csr->common_name);
    for (size_t i = 0; i < csr->n_dns; i++)
        free(csr->dns_names[i]);
    free(csr->dns_names);
    for (size_t i = 0; i < csr->n_ip; i++)
        free(csr->ip_addresses[i]);
    free(csr->ip_addresses);
    free(csr);
}

/* Appends an owned copy of s[0..len) to *list (*n entries). 0, or -1 when out of memory. */
static int push(char ***list, size_t *n, const char *s, size_t len)
{
    char **nl = realloc(*list, (*n + 1) * sizeof(**list));
    if (!nl)
        return -1;
    *list = nl;
    if (!(nl[*n] = strndup(s, len)))
        return -1;
    (*n)++;
    return 0;
}

static bool looks_pem(const unsigned char *d, size_t len)
{
    return memmem(d, len, "-----BEGIN ", 11) != NULL;
}

/* True when s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or values above
 * U+10FFFF), so that names copied into AdmissionReview responses stay valid JSON text. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || i + len > n)
            return false;
        unsigned long cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Appends code point cp to o as UTF-8; returns the bytes written (1 to 4). */
static size_t utf8_put(unsigned long cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads one DER TLV at p (len bytes available) with libtasn1's decoders: its class (structured bit
 * included), tag, content and total size. 0, or -1 when malformed or longer than len. */
static int tlv(const unsigned char *p, size_t len, unsigned char *cls, unsigned long *tag,
               const unsigned char **content, size_t *clen, size_t *total)
{
    int taglen = 0, lenlen = 0;
    if (len == 0 || len > INT32_MAX || asn1_get_tag_der(p, (int)len, cls, &taglen, tag) != ASN1_SUCCESS)
        return -1;
    long l = asn1_get_length_der(p + taglen, (int)len - taglen, &lenlen);
    if (l < 0 || (size_t)taglen + (size_t)lenlen + (size_t)l > len)
        return -1;
    *content = p + taglen + lenlen;
    *clen = (size_t)l;
    *total = (size_t)taglen + (size_t)lenlen + (size_t)l;
    return 0;
}

/* The text of one X.520 DirectoryString (or IA5String) value as UTF-8, the way OpenSSL converts it: UTF8String
 * as is (checked), PrintableString, IA5String and TeletexString byte by byte as Latin-1, BMPString as UCS-2,
 * UniversalString as UCS-4. der is the DER of the value (libtasn1 reads its header). Owned string (its
 * length in *outlen; it may hold NUL bytes), or NULL when the type is another one or the content is
 * malformed. */
static char *directory_string(const unsigned char *der, size_t len, size_t *outlen)
{
    unsigned char cls = 0;
    unsigned long tag = 0;
    const unsigned char *c = NULL;
    size_t clen = 0, total = 0;
    if (tlv(der, len, &cls, &tag, &c, &clen, &total) < 0 || total != len || cls != ASN1_CLASS_UNIVERSAL)
        return NULL;
    size_t unit = tag == ASN1_TAG_BMP_STRING ? 2 : tag == ASN1_TAG_UNIVERSAL_STRING ? 4 : 1;
    if (unit == 1 && tag != ASN1_TAG_UTF8_STRING && tag != ASN1_TAG_PRINTABLE_STRING &&
        tag != ASN1_TAG_IA5_STRING && tag != ASN1_TAG_TELETEX_STRING)
        return NULL;
    if (clen % unit != 0)
        return NULL;
    unsigned char *out = malloc(clen / unit * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < clen; i += unit) {
        unsigned long cp = 0;
        for (size_t k = 0; k < unit; k++)
            cp = cp << 8 | c[i + k];
        if (tag == ASN1_TAG_UTF8_STRING) {
            *o++ = c[i]; /* copied; checked as a whole below */
            continue;
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto bad;
        o += utf8_put(cp, o);
    }
    *o = '\0';
    *outlen = (size_t)(o - out);
    if (tag == ASN1_TAG_UTF8_STRING && !utf8_valid(out, *outlen))
        goto bad;
    return (char *)out;
bad:
    free(out);
    return NULL;
}

/* The first subject CN as UTF-8. GnuTLS reads the subject; its text form escapes (RFC 4514), so the value
 * is taken raw and converted here. 0 (none is fine), or -1 with err. */
static int common_name(gnutls_x509_crq_t crq, wcsr_t *csr, char *err, size_t errlen)
{
    size_t size = 0, cnlen = 0;
    unsigned char *raw = NULL;
    char *cn = NULL;
    int rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 1, NULL, &size);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return 0;
    if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER && (raw = malloc(size)) &&
        gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 1, raw, &size) == 0)
        cn = directory_string(raw, size, &cnlen);
    free(raw);
    if (!cn || cnlen == 0 || strlen(cn) != cnlen) {
        free(cn);
        util_seterr(err, errlen, "CSR common name is empty, holds a NUL byte or is not a UTF-8, printable, IA5, "
                                 "Teletex, BMP or Universal string");
        return -1;
    }
    csr->common_name = cn;
    return 0;
}

/* The subjectAltName value (the extnValue OCTET STRING's content) in the DER of the extensionRequest's
 * Extensions (RFC 5280 §4.1: SEQUENCE OF SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }). One pass
 * over the TLV headers: GnuTLS's per-index extension accessors decode the whole list again on every call,
 * which made a 64 KiB request of tiny extensions cost a minute of CPU. Returns 1 with value and vlen set (into
 * der), 0 when there is none, -1 when malformed or present twice. */
static int find_san(const unsigned char *der, size_t len, const unsigned char **value, size_t *vlen)
{
    static const unsigned char san_oid[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */
    unsigned char cls;
    unsigned long tag;
    const unsigned char *c;
    size_t clen, total;
    int found = 0;
    if (tlv(der, len, &cls, &tag, &c, &clen, &total) < 0 || tag != ASN1_TAG_SEQUENCE ||
        cls != (ASN1_CLASS_UNIVERSAL | ASN1_CLASS_STRUCTURED))
        return -1;
    for (size_t off = 0; off < clen; off += total) {
        const unsigned char *e, *f;
        size_t elen, flen, ftotal;
        if (tlv(c + off, clen - off, &cls, &tag, &e, &elen, &total) < 0 || tag != ASN1_TAG_SEQUENCE)
            return -1;
        /* extnID */
        if (tlv(e, elen, &cls, &tag, &f, &flen, &ftotal) < 0 || tag != ASN1_TAG_OBJECT_ID)
            return -1;
        if (flen != sizeof(san_oid) || memcmp(f, san_oid, sizeof(san_oid)) != 0)
            continue;
        if (found)
            return -1;
        size_t pos = ftotal;
        if (tlv(e + pos, elen - pos, &cls, &tag, &f, &flen, &ftotal) < 0)
            return -1;
        if (tag == ASN1_TAG_BOOLEAN) { /* critical */
            pos += ftotal;
            if (tlv(e + pos, elen - pos, &cls, &tag, &f, &flen, &ftotal) < 0)
                return -1;
        }
        if (tag != ASN1_TAG_OCTET_STRING || pos + ftotal != elen)
            return -1;
        *value = f;
        *vlen = flen;
        found = 1;
    }
    return found;
}

/* DNS and IP SANs of the subjectAltName extension in the extensionRequest attribute (RFC 2985 §5.4.2).
 * 0, or -1 with err. */
static int sans(gnutls_x509_crq_t crq, wcsr_t *csr, char *err, size_t errlen)
{
    unsigned char *attr = NULL;
    size_t alen = 0;
    gnutls_subject_alt_names_t names = NULL;
    int ret = -1;
    int rc = gnutls_x509_crq_get_attribute_by_oid(crq, "1.2.840.113549.1.9.14", 0, NULL, &alen);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return 0;
    if (rc != GNUTLS_E_SHORT_MEMORY_BUFFER || !(attr = malloc(alen ? alen : 1)) ||
        gnutls_x509_crq_get_attribute_by_oid(crq, "1.2.840.113549.1.9.14", 0, attr, &alen) < 0) {
        util_seterr(err, errlen, "CSR extension request cannot be decoded");
        goto out;
    }
    const unsigned char *v = NULL;
    size_t vlen = 0;
    rc = find_san(attr, alen, &v, &vlen);
    if (rc < 0) {
        util_seterr(err, errlen, "CSR extension request cannot be decoded (or has two subjectAltName extensions)");
        goto out;
    }
    if (rc == 0) {
        ret = 0;
        goto out;
    }
    gnutls_datum_t ext = {(unsigned char *)v, (unsigned)vlen};
    if (gnutls_subject_alt_names_init(&names) < 0 || gnutls_x509_ext_import_subject_alt_names(&ext, names, 0) < 0) {
        util_seterr(err, errlen, "CSR subjectAltName extension cannot be decoded");
        goto out;
    }
    for (unsigned i = 0;; i++) {
        unsigned type = 0;
        gnutls_datum_t san = {NULL, 0};
        rc = gnutls_subject_alt_names_get(names, i, &type, &san, NULL);
        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (rc < 0) {
            util_seterr(err, errlen, "CSR subjectAltName extension cannot be decoded");
            goto out;
        }
        if (type != GNUTLS_SAN_DNSNAME && type != GNUTLS_SAN_IPADDRESS)
            continue;
        if (csr->n_dns + csr->n_ip >= X509_CSR_MAX_NAMES) {
            util_seterr(err, errlen, "CSR has more than %d DNS and IP names", X509_CSR_MAX_NAMES);
            goto out;
        }
        if (type == GNUTLS_SAN_DNSNAME) {
            if (memchr(san.data, '\0', san.size) || !utf8_valid(san.data, san.size)) {
                util_seterr(err, errlen, "CSR DNS name is not a valid UTF-8 string");
                goto out;
            }
            if (push(&csr->dns_names, &csr->n_dns, (const char *)san.data, san.size) < 0)
                goto oom;
            continue;
        }
        char text[INET6_ADDRSTRLEN];
        if ((san.size != 4 && san.size != 16) ||
            !inet_ntop(san.size == 4 ? AF_INET : AF_INET6, san.data, text, sizeof(text))) {
            util_seterr(err, errlen, "CSR IP address name of %u bytes (want 4 or 16)", san.size);
            goto out;
        }
        if (push(&csr->ip_addresses, &csr->n_ip, text, strlen(text)) < 0)
            goto oom;
    }
    ret = 0;
    goto out;
oom:
    util_seterr(err, errlen, "out of memory");
out:
    if (names)
        gnutls_subject_alt_names_deinit(names);
    free(attr);
    return ret;
}

wcsr_t *wcsr_parse(const unsigned char *data, size_t len, char *err, size_t errlen)
{
    wcsr_t *out = NULL, *csr = NULL;
    gnutls_x509_crq_t crq = NULL;

    if (!data || len == 0) {
        util_seterr(err, errlen, "empty CSR");
        goto out;
    }
    if (len > X509_CSR_MAX_BYTES) {
        util_seterr(err, errlen, "CSR larger than 64 KiB");
        goto out;
    }
    if (gnutls_x509_crq_init(&crq) < 0) {
        crq = NULL;
        util_seterr(err, errlen, "out of memory");
        goto out;
    }
    /* PEM: GnuTLS takes the first "NEW CERTIFICATE REQUEST" or "CERTIFICATE REQUEST" block */
    gnutls_datum_t d = {(unsigned char *)data, (unsigned)len};
    if (gnutls_x509_crq_import(crq, &d, looks_pem(data, len) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER) < 0) {
        util_seterr(err, errlen, NOT_A_CSR);
        goto out;
    }
    /* proof of possession only (the CA checks the request again): SHA-1 signatures are accepted */
    if (gnutls_x509_crq_verify(crq, GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1) < 0) {
        util_seterr(err, errlen, "CSR signature does not verify");
        goto out;
    }
    if (!(csr = calloc(1, sizeof(*csr)))) {
        util_seterr(err, errlen, "out of memory");
        goto out;
    }
    if (common_name(crq, csr, err, errlen) < 0 || sans(crq, csr, err, errlen) < 0)
        goto out;
    out = csr;
    csr = NULL;
out:
    if (crq)
        gnutls_x509_crq_deinit(crq);
    wcsr_free(csr);
    return out;
}

bool wcsr_pem_has_cert(const unsigned char *data, size_t len)
{
    gnutls_x509_crt_t *certs = NULL;
    unsigned n = 0;
    if (!data || len == 0 || len > UINT32_MAX)
        return false;
    gnutls_datum_t d = {(unsigned char *)data, (unsigned)len};
    if (gnutls_x509_crt_list_import2(&certs, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
        return false;
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(certs[i]);
    gnutls_free(certs);
    return n > 0;
}
