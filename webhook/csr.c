/* SPDX-License-Identifier: Apache-2.0 */
/* CSR parsing and the caBundle check with GnuTLS (see csr.h). Where GnuTLS and OpenSSL differ, this file
 * adds the difference by hand so that admission decisions do not change with the library:
 *  - OpenSSL's d2i ignores bytes after the outer DER structure; libtasn1 refuses them, so they are cut off.
 *  - OpenSSL's PEM reader (skip blocks with other labels, refuse encapsulated headers, strict base64) is
 *    reproduced by pem_find() instead of GnuTLS's decoder, which matches labels by prefix.
 *  - The common name is converted to UTF-8 from its DER string type with OpenSSL's rules (1-byte types as
 *    Latin-1, BMPString, UniversalString), not GnuTLS's.
 *  - An undecodable subjectAltName extension yields no SANs (OpenSSL's X509V3_get_d2i returns NULL for it). */
#include "csr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>

#include "util/base64.h"
#include "x509/csr.h" /* X509_CSR_MAX_BYTES, X509_CSR_MAX_NAMES only: no OpenSSL code is linked from it */

#define OID_SUBJECT_ALT_NAME "2.5.29.17"

static void seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

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

/* Appends a copy of s[0..len) to *list; -1 when the name limit is reached or on allocation failure. */
static int push(char ***list, size_t *n, const char *s, size_t len)
{
    if (*n >= X509_CSR_MAX_NAMES)
        return -1;
    char **nl = realloc(*list, (*n + 1) * sizeof(**list));
    if (!nl)
        return -1;
    *list = nl;
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, s, len);
    c[len] = '\0';
    nl[(*n)++] = c;
    return 0;
}

/* ---- DER helpers ---- */

/* Reads one DER tag and definite length at d[0..len): sets *tag, *hdr (header bytes) and *body (content
 * bytes). Single-byte tags only (all this file needs). -1 when malformed or indefinite. */
static int der_header(const unsigned char *d, size_t len, unsigned *tag, size_t *hdr, size_t *body)
{
    if (len < 2 || (d[0] & 0x1f) == 0x1f)
        return -1;
    *tag = d[0];
    if (d[1] < 0x80) {
        *hdr = 2;
        *body = d[1];
        return 0;
    }
    size_t nb = d[1] & 0x7f;
    if (nb == 0 || nb > sizeof(size_t) || len < 2 + nb)
        return -1;
    size_t v = 0;
    for (size_t i = 0; i < nb; i++)
        v = v << 8 | d[2 + i];
    *hdr = 2 + nb;
    *body = v;
    return 0;
}

/* Length of the outer DER element at the start of d, so that trailing bytes can be ignored as OpenSSL's d2i
 * does; len itself when the header cannot be read or claims more than there is (the import then fails). */
static size_t der_outer_len(const unsigned char *d, size_t len)
{
    unsigned tag;
    size_t hdr, body;
    if (der_header(d, len, &tag, &hdr, &body) < 0 || body > len - hdr)
        return len;
    return hdr + body;
}

/* ---- PEM (RFC 7468) as OpenSSL's PEM_read_bio reads it ---- */

/* One line of d starting at *pos, without its '\n' and trailing whitespace; advances *pos. */
static bool next_line(const unsigned char *d, size_t len, size_t *pos, const unsigned char **line, size_t *ll)
{
    if (*pos >= len)
        return false;
    const unsigned char *s = d + *pos;
    const unsigned char *nl = memchr(s, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - s) : len - *pos;
    *pos += nl ? n + 1 : n;
    while (n > 0 && s[n - 1] <= ' ')
        n--;
    *line = s;
    *ll = n;
    return true;
}

static bool has_prefix(const unsigned char *l, size_t ll, const char *p)
{
    size_t n = strlen(p);
    return ll >= n && memcmp(l, p, n) == 0;
}

/* Decodes the base64 body of one block. Returns 0 with an owned buffer, -1 on bad base64. OpenSSL's
 * decoder needs whole 4-character groups (padding written out); util_base64_decode does the rest. */
static int pem_body_decode(const unsigned char *b, size_t blen, unsigned char **out, size_t *outlen)
{
    size_t groups = 0;
    for (size_t i = 0; i < blen; i++)
        if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && b[i] != '\n')
            groups++;
    if (groups % 4 != 0)
        return -1;
    char *s = malloc(blen + 1);
    if (!s)
        return -1;
    memcpy(s, b, blen);
    s[blen] = '\0';
    int rc = util_base64_decode(s, X509_CSR_MAX_BYTES + 4096u, out, outlen);
    free(s);
    return rc;
}

/* Finds the first PEM block whose label is one of labels[0..nlabels) and decodes it into *der (owned).
 * Lines that are not "-----BEGIN <label>-----" are skipped; blocks with other labels are read and skipped;
 * any malformed block on the way (no or wrong END line, bad base64, a second blank line) ends the search,
 * and the wanted block must carry no RFC 1421 headers (OpenSSL would try to decrypt it). -1 when not found. */
static int pem_find(const unsigned char *d, size_t len, const char *const *labels, size_t nlabels,
                    unsigned char **der, size_t *derlen)
{
    size_t pos = 0;
    const unsigned char *l;
    size_t ll;
    *der = NULL;
    *derlen = 0;
    while (next_line(d, len, &pos, &l, &ll)) {
        if (!has_prefix(l, ll, "-----BEGIN ") || ll < 16 || memcmp(l + ll - 5, "-----", 5) != 0)
            continue;
        const unsigned char *label = l + 11;
        size_t labellen = ll - 16;
        /* Body: lines up to END. Before a blank line they may be headers (the data follows the blank line,
         * whose lines must then be 64 characters except the last); without a blank line every line is data,
         * unless one has a ':' (then all are headers and there is no data). */
        size_t data_start = pos, data_end = pos, pre = 0;
        bool blank = false, colon = false, ended = false, short_line = false;
        while (next_line(d, len, &pos, &l, &ll)) {
            if (has_prefix(l, ll, "-----END ")) {
                if (ll != 9 + labellen + 5 || memcmp(l + 9, label, labellen) != 0 ||
                    memcmp(l + 9 + labellen, "-----", 5) != 0)
                    return -1;
                ended = true;
                break;
            }
            if (ll == 0) {
                if (blank)
                    return -1;
                blank = true;
                data_start = data_end = pos;
                continue;
            }
            if (blank) {
                if (short_line || ll > 64)
                    return -1;
                short_line = ll < 64;
            } else {
                pre++;
                if (memchr(l, ':', ll))
                    colon = true;
            }
            data_end = pos;
        }
        if (!ended)
            return -1;
        bool headers = blank ? pre > 0 : colon;
        if (!blank && colon)
            data_start = data_end; /* everything was header */
        unsigned char *buf = NULL;
        size_t buflen = 0;
        if (pem_body_decode(d + data_start, data_end - data_start, &buf, &buflen) < 0)
            return -1;
        bool wanted = false;
        for (size_t i = 0; i < nlabels && !wanted; i++)
            wanted = strlen(labels[i]) == labellen && memcmp(labels[i], label, labellen) == 0;
        if (!wanted) {
            free(buf);
            continue;
        }
        if (headers) {
            free(buf);
            return -1;
        }
        *der = buf;
        *derlen = buflen;
        return 0;
    }
    return -1;
}

static bool looks_pem(const unsigned char *d, size_t len)
{
    for (size_t i = 0; i + 10 < len && i < 256; i++) {
        if (memcmp(d + i, "-----BEGIN", 10) == 0)
            return true;
    }
    return false;
}

/* ---- common name ---- */

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

static bool unicode_ok(unsigned long cp)
{
    return cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

/* Decodes one UTF-8 sequence at s[0..n): code point and its length, 0 when invalid (overlong, surrogate,
 * beyond U+10FFFF, truncated). */
static size_t utf8_get(const unsigned char *s, size_t n, unsigned long *cp)
{
    static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t k = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    unsigned long v = k == 1 ? s[0] : (unsigned long)(s[0] & (0x7f >> k));
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min[k] || !unicode_ok(v))
        return 0;
    *cp = v;
    return k;
}

/* The DER-encoded directory string tlv as UTF-8, as OpenSSL's ASN1_STRING_to_UTF8 converts it: UTF8String
 * checked, Numeric/Printable/T61/IA5/Visible/GeneralString taken as Latin-1, BMPString as UCS-2 and
 * UniversalString as UCS-4 (big-endian); other types are not text. Returns an owned string (its byte
 * length in *outlen, which may include NULs), or NULL. */
static char *dirstring_utf8(const unsigned char *tlv, size_t len, size_t *outlen)
{
    unsigned tag;
    size_t hdr, n;
    if (der_header(tlv, len, &tag, &hdr, &n) < 0 || n > len - hdr)
        return NULL;
    const unsigned char *s = tlv + hdr;
    size_t unit;
    switch (tag) {
    case 12: unit = 0; break;                                   /* UTF8String */
    case 18: case 19: case 20: case 22: case 26: case 27:       /* 1-byte string types */
        unit = 1;
        break;
    case 30: unit = 2; break;                                   /* BMPString */
    case 28: unit = 4; break;                                   /* UniversalString */
    default: return NULL;
    }
    if (unit > 1 && n % unit != 0)
        return NULL;
    unsigned char *o = malloc(n * 4 + 1);
    if (!o)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned long cp = 0;
        if (unit == 0) {
            size_t k = utf8_get(s + i, n - i, &cp);
            if (k == 0)
                goto bad;
            i += k;
        } else {
            for (size_t b = 0; b < unit; b++)
                cp = cp << 8 | s[i + b];
            i += unit;
            if (!unicode_ok(cp))
                goto bad;
        }
        w += utf8_put(cp, o + w);
    }
    o[w] = '\0';
    *outlen = w;
    return (char *)o;
bad:
    free(o);
    return NULL;
}

/* Sets csr->common_name from the subject's first CN. 0, or -1 with err set. */
static int common_name(gnutls_x509_crq_t crq, wcsr_t *csr, char *err, size_t errlen)
{
    size_t sz = 0;
    int rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 1, NULL, &sz);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return 0;
    unsigned char *raw = rc == GNUTLS_E_SHORT_MEMORY_BUFFER ? malloc(sz ? sz : 1) : NULL;
    if (!raw || gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 1, raw, &sz) < 0) {
        free(raw);
        seterr(err, errlen, "CSR common name is not valid text");
        return -1;
    }
    size_t ul = 0;
    char *utf8 = dirstring_utf8(raw, sz, &ul);
    free(raw);
    if (!utf8) {
        seterr(err, errlen, "CSR common name is not valid text");
        return -1;
    }
    if (memchr(utf8, 0, ul)) {
        free(utf8);
        seterr(err, errlen, "CSR common name contains a NUL byte");
        return -1;
    }
    csr->common_name = utf8;
    return 0;
}

/* ---- subjectAltName ---- */

/* Number of subjectAltName extensions in the extensionRequest attribute (0 when it is absent or does not
 * decode, as OpenSSL's X509_REQ_get_extensions then yields none). */
static int san_count(gnutls_x509_crq_t crq)
{
    int count = 0;
    for (unsigned i = 0;; i++) {
        char oid[128];
        size_t osz = sizeof(oid);
        unsigned crit = 0;
        int rc = gnutls_x509_crq_get_extension_info(crq, i, oid, &osz, &crit);
        if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
            continue; /* an OID longer than any we look for */
        if (rc < 0)
            break;
        if (strcmp(oid, OID_SUBJECT_ALT_NAME) == 0)
            count++;
    }
    return count;
}

/* Appends the DNS and IP SANs. 0, or -1 with err set. */
static int sans(gnutls_x509_crq_t crq, wcsr_t *csr, char *err, size_t errlen)
{
    int n = san_count(crq);
    if (n == 0)
        return 0;
    if (n > 1) {
        seterr(err, errlen, "CSR has more than one subjectAltName extension");
        return -1;
    }
    gnutls_datum_t ext = {NULL, 0};
    unsigned crit = 0;
    gnutls_subject_alt_names_t list = NULL;
    int ret = 0;
    if (gnutls_x509_crq_get_extension_by_oid2(crq, OID_SUBJECT_ALT_NAME, 0, &ext, &crit) < 0)
        goto out; /* present but unreadable: no SANs, like OpenSSL */
    if (gnutls_subject_alt_names_init(&list) < 0) {
        list = NULL;
        seterr(err, errlen, "out of memory");
        ret = -1;
        goto out;
    }
    if (gnutls_x509_ext_import_subject_alt_names(&ext, list, 0) < 0)
        goto out; /* undecodable extension value: no SANs, like OpenSSL */
    for (unsigned i = 0;; i++) {
        unsigned type = 0;
        gnutls_datum_t v = {NULL, 0};
        if (gnutls_subject_alt_names_get(list, i, &type, &v, NULL) < 0)
            break;
        if (type == GNUTLS_SAN_DNSNAME) {
            if (v.size && memchr(v.data, 0, v.size)) {
                seterr(err, errlen, "CSR DNS name contains a NUL byte");
                ret = -1;
                goto out;
            }
            if (push(&csr->dns_names, &csr->n_dns, (const char *)v.data, v.size) < 0) {
                seterr(err, errlen, "CSR has too many names");
                ret = -1;
                goto out;
            }
        } else if (type == GNUTLS_SAN_IPADDRESS) {
            char txt[INET6_ADDRSTRLEN];
            if ((v.size != 4 && v.size != 16) ||
                !inet_ntop(v.size == 4 ? AF_INET : AF_INET6, v.data, txt, sizeof(txt))) {
                seterr(err, errlen, "CSR IP address has a bad length");
                ret = -1;
                goto out;
            }
            if (push(&csr->ip_addresses, &csr->n_ip, txt, strlen(txt)) < 0) {
                seterr(err, errlen, "CSR has too many names");
                ret = -1;
                goto out;
            }
        }
    }
out:
    if (list)
        gnutls_subject_alt_names_deinit(list);
    gnutls_free(ext.data);
    return ret;
}

/* ---- public ---- */

wcsr_t *wcsr_parse(const unsigned char *data, size_t len, char *err, size_t errlen)
{
    wcsr_t *out = NULL, *csr = NULL;
    unsigned char *pemder = NULL;
    gnutls_x509_crq_t crq = NULL;
    gnutls_pubkey_t pk = NULL;

    if (!data || len == 0) {
        seterr(err, errlen, "empty CSR");
        goto out;
    }
    if (len > X509_CSR_MAX_BYTES) {
        seterr(err, errlen, "CSR larger than 64 KiB");
        goto out;
    }
    const unsigned char *der = data;
    size_t derlen = len;
    if (looks_pem(data, len)) {
        static const char *const labels[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"};
        if (pem_find(data, len, labels, 2, &pemder, &derlen) < 0 || derlen == 0) {
            seterr(err, errlen, "not a PEM or DER PKCS#10 certificate request");
            goto out;
        }
        der = pemder;
    }
    gnutls_datum_t dat = {(unsigned char *)der, (unsigned)der_outer_len(der, derlen)};
    if (gnutls_x509_crq_init(&crq) < 0) {
        crq = NULL;
        seterr(err, errlen, "out of memory");
        goto out;
    }
    if (gnutls_x509_crq_import(crq, &dat, GNUTLS_X509_FMT_DER) < 0) {
        seterr(err, errlen, "not a PEM or DER PKCS#10 certificate request");
        goto out;
    }
    if (gnutls_pubkey_init(&pk) < 0) {
        pk = NULL;
        seterr(err, errlen, "out of memory");
        goto out;
    }
    if (gnutls_pubkey_import_x509_crq(pk, crq, 0) < 0) {
        seterr(err, errlen, "CSR public key cannot be decoded");
        goto out;
    }
    /* Proof of possession only (the CA checks again): accept every algorithm OpenSSL verifies, SHA-1 too. */
    if (gnutls_x509_crq_verify(crq, GNUTLS_VERIFY_ALLOW_BROKEN | GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1) < 0) {
        seterr(err, errlen, "CSR signature does not verify");
        goto out;
    }
    csr = calloc(1, sizeof(*csr));
    if (!csr) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    if (common_name(crq, csr, err, errlen) < 0 || sans(crq, csr, err, errlen) < 0)
        goto out;
    out = csr;
    csr = NULL;
out:
    if (pk)
        gnutls_pubkey_deinit(pk);
    if (crq)
        gnutls_x509_crq_deinit(crq);
    free(pemder);
    wcsr_free(csr);
    return out;
}

bool wcsr_pem_has_cert(const unsigned char *data, size_t len)
{
    static const char *const labels[] = {"CERTIFICATE", "X509 CERTIFICATE"};
    unsigned char *der = NULL;
    size_t derlen = 0;
    if (!data || pem_find(data, len, labels, 2, &der, &derlen) < 0)
        return false;
    gnutls_x509_crt_t crt = NULL;
    bool ok = false;
    if (gnutls_x509_crt_init(&crt) == 0) {
        gnutls_datum_t d = {der, (unsigned)der_outer_len(der, derlen)};
        ok = derlen > 0 && gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) == 0;
        gnutls_x509_crt_deinit(crt);
    }
    free(der);
    return ok;
}
