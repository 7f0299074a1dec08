/* SPDX-License-Identifier: Apache-2.0 */
/* CSR parsing and the caBundle check without OpenSSL (see csr.h). GnuTLS decodes the request (libtasn1),
 * imports its public key and verifies its signature; everything OpenSSL's decoder judged differently is
 * done here by hand, so that admission decisions did not change with the library (test_webhook_csr
 * compares the two, including fuzzed and mutated input):
 *  - OpenSSL's d2i ignores bytes after the outer DER structure; libtasn1 refuses them, so they are cut off.
 *  - PEM is read by pem_find() with OpenSSL's rules (blocks with other labels skipped, encapsulated headers
 *    refused, lines stripped and base64 ended as PEM_read_bio does), not by GnuTLS's PEM decoder.
 *  - The DER structure and OpenSSL's checks of primitive contents are applied first (csr_well_formed):
 *    libtasn1 is laxer in places (an empty INTEGER, a BIT STRING's unused bits) and stricter in others (the
 *    inside of attribute values, the attributes field itself, primitive-flagged SEQUENCE OFs). Where the
 *    request had to be re-encoded for libtasn1, the signature is verified over the bytes that were signed.
 *  - The subject is walked here: every entry must convert to UTF-8 as OpenSSL's name decoder requires
 *    (value_refused), and the CN is converted with OpenSSL's rules (1-byte types as Latin-1, BMPString,
 *    UniversalString).
 *  - The extension request and GeneralNames are walked here (OpenSSL's choice of attribute; empty entries
 *    are legal for OpenSSL, not for GnuTLS; an undecodable extension list or subjectAltName means no SANs).
 *  - A caBundle certificate is parsed, not verified, so "valid" is what OpenSSL's decoder accepts:
 *    cert_well_formed checks that, and GnuTLS's stricter importer is not asked. */
#include "csr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "util/base64.h"
#include "x509/csr.h" /* X509_CSR_MAX_BYTES, X509_CSR_MAX_NAMES only: no OpenSSL code is linked from it */

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

/* Length of the outer DER SEQUENCE at the start of d, so that trailing bytes can be ignored as OpenSSL's d2i
 * does; 0 when there is no complete SEQUENCE header or it claims more bytes than there are (libtasn1 is
 * left no chance to accept a bare header). */
static size_t der_outer_len(const unsigned char *d, size_t len)
{
    unsigned tag;
    size_t hdr, body;
    if (der_header(d, len, &tag, &hdr, &body) < 0 || tag != 0x30 || body > len - hdr)
        return 0;
    return hdr + body;
}

/* The content checks OpenSSL's decoder makes on universal primitives wherever it meets them (c2i): INTEGER
 * and ENUMERATED non-empty and minimal, BOOLEAN one byte, NULL empty, OBJECT IDENTIFIER non-empty with
 * minimal sub-identifiers, BIT STRING with an unused-bits byte of 0..7, BMPString and UniversalString of
 * whole characters. libtasn1 lets some of these pass. */
static bool primitive_ok(unsigned tag, const unsigned char *c, size_t n)
{
    switch (tag) {
    case 0x01: return n == 1;
    case 0x02:
    case 0x0a:
        return n >= 1 && !(n > 1 && ((c[0] == 0x00 && !(c[1] & 0x80)) || (c[0] == 0xff && (c[1] & 0x80))));
    case 0x03: return n >= 1 && c[0] <= 7;
    case 0x05: return n == 0;
    case 0x1c: return n % 4 == 0; /* UniversalString */
    case 0x1e: return n % 2 == 0; /* BMPString */
    case 0x06:
        if (n == 0 || (c[n - 1] & 0x80))
            return false;
        for (size_t i = 0; i < n; i++)
            if (c[i] == 0x80 && (i == 0 || !(c[i - 1] & 0x80)))
                return false;
        return true;
    default: return true;
    }
}

/* True when d[0..len) is a sequence of complete definite-length elements, each constructed one holding
 * exactly its children, whose universal primitives pass primitive_ok, and with no empty constructed
 * context-specific element (an EXPLICIT tag wraps exactly one element): GeneralNames as OpenSSL decodes
 * them (entries of an unknown shape fail the whole list). Contents of OCTET and BIT STRINGs are not
 * entered, as OpenSSL's decoder does not enter them either. depth bounds the recursion. */
static bool der_well_formed(const unsigned char *d, size_t len, int depth)
{
    if (depth > 32)
        return false;
    size_t pos = 0;
    while (pos < len) {
        unsigned tag;
        size_t hdr, body;
        if (der_header(d + pos, len - pos, &tag, &hdr, &body) < 0 || body > len - pos - hdr)
            return false;
        const unsigned char *c = d + pos + hdr;
        if (tag & 0x20) {
            if ((tag & 0xc0) == 0x80 && body == 0)
                return false;
            if (!der_well_formed(c, body, depth + 1))
                return false;
        } else if ((tag & 0xc0) == 0 && !primitive_ok(tag, c, body)) {
            return false;
        }
        pos += hdr + body;
    }
    return true;
}

/* ---- PEM (RFC 7468) as OpenSSL's PEM_read_bio reads it ---- */

/* One line of d starting at *pos, without its '\n' and trailing whitespace; advances *pos. Bytes >= 0x80
 * count as whitespace here: OpenSSL compares (signed) chars with ' ' when it strips a line. */
static bool next_line(const unsigned char *d, size_t len, size_t *pos, const unsigned char **line, size_t *ll)
{
    if (*pos >= len)
        return false;
    const unsigned char *s = d + *pos;
    const unsigned char *nl = memchr(s, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - s) : len - *pos;
    *pos += nl ? n + 1 : n;
    while (n > 0 && (s[n - 1] <= ' ' || s[n - 1] >= 0x80))
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

/* Decodes the base64 body of one block (its data lines, joined, NUL-terminated; changed). Returns 0 with an
 * owned buffer, -1 on bad base64. OpenSSL's decoder stops at a '-' and needs whole 4-character groups
 * (padding written out); util_base64_decode does the rest. */
static int pem_body_decode(char *b, size_t blen, unsigned char **out, size_t *outlen)
{
    char *dash = memchr(b, '-', blen);
    if (dash) {
        *dash = '\0';
        blen = (size_t)(dash - b);
    }
    size_t chars = 0;
    for (size_t i = 0; i < blen; i++)
        if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && b[i] != '\n')
            chars++;
    if (chars % 4 != 0)
        return -1;
    return util_base64_decode(b, blen, out, outlen); /* no limit of its own: the input is bounded */
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
    char *data = malloc(len + 1); /* the data lines of the current block, joined (never longer than d) */
    if (!data)
        return -1;
    int ret = -1;
    while (next_line(d, len, &pos, &l, &ll)) {
        if (!has_prefix(l, ll, "-----BEGIN ") || ll < 16 || memcmp(l + ll - 5, "-----", 5) != 0)
            continue;
        const unsigned char *label = l + 11;
        size_t labellen = ll - 16;
        /* Body: lines up to END. Before a blank line they may be headers (the data follows the blank line,
         * whose lines must then be 64 characters except the last); without a blank line every line is data,
         * unless one has a ':' (then all are headers and there is no data). */
        size_t dl = 0, pre = 0;
        bool blank = false, colon = false, ended = false, short_line = false;
        while (next_line(d, len, &pos, &l, &ll)) {
            if (has_prefix(l, ll, "-----END ")) {
                if (ll != 9 + labellen + 5 || memcmp(l + 9, label, labellen) != 0 ||
                    memcmp(l + 9 + labellen, "-----", 5) != 0)
                    goto out;
                ended = true;
                break;
            }
            if (ll == 0) {
                if (blank)
                    goto out;
                blank = true;
                dl = 0; /* what came before was the header */
                continue;
            }
            if (blank) {
                if (short_line || ll > 64)
                    goto out;
                short_line = ll < 64;
            } else {
                pre++;
                if (memchr(l, ':', ll))
                    colon = true;
            }
            const unsigned char *nul = memchr(l, 0, ll); /* OpenSSL passes lines on as C strings */
            size_t take = nul ? (size_t)(nul - l) : ll;
            memcpy(data + dl, l, take);
            dl += take;
        }
        if (!ended)
            goto out;
        bool headers = blank ? pre > 0 : colon;
        if (!blank && colon)
            dl = 0; /* everything was header */
        data[dl] = '\0';
        unsigned char *buf = NULL;
        size_t buflen = 0;
        if (pem_body_decode(data, dl, &buf, &buflen) < 0)
            goto out;
        bool wanted = false;
        for (size_t i = 0; i < nlabels && !wanted; i++)
            wanted = strlen(labels[i]) == labellen && memcmp(labels[i], label, labellen) == 0;
        if (!wanted) {
            free(buf);
            continue;
        }
        if (headers) {
            free(buf);
            goto out;
        }
        *der = buf;
        *derlen = buflen;
        ret = 0;
        goto out;
    }
out:
    free(data);
    return ret;
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

/* The string s[0..n) of universal type tag as UTF-8, as OpenSSL's ASN1_STRING_to_UTF8 converts it:
 * UTF8String checked, Numeric/Printable/T61/IA5/Visible/GeneralString taken as Latin-1, BMPString as UCS-2
 * and UniversalString as UCS-4 (big-endian); other types are not text. Returns an owned string (its byte
 * length in *outlen, which may include NULs), or NULL. */
static char *dirstring_utf8(unsigned tag, const unsigned char *s, size_t n, size_t *outlen)
{
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

/* Content bounds of the subject Name in the DER CSR d (CertificationRequest → CertificationRequestInfo →
 * version, subject; RFC 2986 §4). NULL when the structure is not there (GnuTLS has accepted it already, so
 * that does not happen). */
static const unsigned char *subject_name(const unsigned char *d, size_t len, size_t *nlen)
{
    unsigned tag;
    size_t hdr, body;
    if (der_header(d, len, &tag, &hdr, &body) < 0 || body > len - hdr) /* CertificationRequest */
        return NULL;
    d += hdr;
    len = body;
    if (der_header(d, len, &tag, &hdr, &body) < 0 || tag != 0x30 || body > len - hdr) /* ...Info */
        return NULL;
    d += hdr;
    len = body;
    if (der_header(d, len, &tag, &hdr, &body) < 0 || tag != 0x02 || body > len - hdr) /* version */
        return NULL;
    d += hdr + body;
    len -= hdr + body;
    if (der_header(d, len, &tag, &hdr, &body) < 0 || tag != 0x30 || body > len - hdr) /* subject */
        return NULL;
    *nlen = body;
    return d + hdr;
}

/* Calls fn on the value (a whole TLV) of every AttributeTypeAndValue of the Name content n[0..len), with
 * whether its type is commonName (2.5.4.3), until fn returns non-zero; returns that, or 0, or -1 when the
 * Name is malformed. */
static int name_each(const unsigned char *n, size_t len, int (*fn)(const unsigned char *, size_t, bool, void *),
                     void *arg)
{
    static const unsigned char cn_oid[] = {0x06, 0x03, 0x55, 0x04, 0x03};
    unsigned tag;
    size_t hdr, body, ahdr, abody, ohdr, obody;
    for (size_t pos = 0; pos < len; pos += hdr + body) {
        if (der_header(n + pos, len - pos, &tag, &hdr, &body) < 0 || tag != 0x31 || body > len - pos - hdr)
            return -1; /* RelativeDistinguishedName: SET OF AttributeTypeAndValue */
        const unsigned char *rdn = n + pos + hdr;
        for (size_t apos = 0; apos < body; apos += ahdr + abody) {
            if (der_header(rdn + apos, body - apos, &tag, &ahdr, &abody) < 0 || tag != 0x30 ||
                abody > body - apos - ahdr)
                return -1;
            const unsigned char *ava = rdn + apos + ahdr;
            if (der_header(ava, abody, &tag, &ohdr, &obody) < 0 || tag != 0x06 || obody > abody - ohdr)
                return -1;
            bool is_cn = ohdr + obody == sizeof(cn_oid) && memcmp(ava, cn_oid, sizeof(cn_oid)) == 0;
            int rc = fn(ava + ohdr + obody, abody - ohdr - obody, is_cn, arg);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* OpenSSL's asn1_collect: appends the contents of the pieces of a constructed (BER) string c[0..n) to out
 * (any tags inside; nesting beyond 5 levels refused). false when malformed. */
static bool collect(const unsigned char *c, size_t n, int depth, unsigned char *out, size_t *ol)
{
    for (size_t pos = 0; pos < n;) {
        unsigned t;
        size_t h, b;
        if (der_header(c + pos, n - pos, &t, &h, &b) < 0 || b > n - pos - h)
            return false;
        if (t & 0x20) {
            if (depth >= 5 || !collect(c + pos + h, b, depth + 1, out, ol))
                return false;
        } else {
            memcpy(out + *ol, c + pos + h, b);
            *ol += b;
        }
        pos += h + b;
    }
    return true;
}

/* The universal string element tlv[0..len) as OpenSSL's decoder reads it: *u its tag number, *c and *n its
 * contents - for the constructed (BER) form the pieces joined into *buf (freed by the caller; NULL when
 * not needed). false when malformed or not universal. */
static bool string_value(const unsigned char *tlv, size_t len, unsigned *u, const unsigned char **c, size_t *n,
                         unsigned char **buf)
{
    unsigned tag;
    size_t hdr, body;
    *buf = NULL;
    if (der_header(tlv, len, &tag, &hdr, &body) < 0 || body > len - hdr || (tag & 0xc0) != 0)
        return false;
    *u = tag & 0x1f;
    if (!(tag & 0x20)) {
        *c = tlv + hdr;
        *n = body;
        return true;
    }
    size_t ol = 0;
    if (!(*buf = malloc(body + 1)) || !collect(tlv + hdr, body, 0, *buf, &ol)) {
        free(*buf);
        *buf = NULL;
        return false;
    }
    *c = *buf;
    *n = ol;
    return true;
}

/* OpenSSL's Name decoder takes values of the string types in its "printable" set (plus SEQUENCE and the
 * universal tags it does not know), constructed (BER) strings too, checks their contents as for any
 * primitive, and converts those it canonicalises (UTF8, Printable, Teletex, IA5, Universal, BMP) to UTF-8;
 * anything else, or a failed conversion, makes the whole CSR unreadable. */
static int value_refused(const unsigned char *v, size_t len, bool is_cn, void *arg)
{
    (void)is_cn;
    (void)arg;
    unsigned tag, u;
    size_t hdr, body, n;
    if (der_header(v, len, &tag, &hdr, &body) < 0 || hdr + body != len || (tag & 0xc0) != 0)
        return 1;
    switch (tag & 0x1f) {
    case 16: /* SEQUENCE: kept undecoded, must be constructed */
        return tag & 0x20 ? 0 : 1;
    case 3: case 12: case 18: case 19: case 20: case 22: case 28: case 30:
    case 7: case 8: case 9: case 11: case 13: case 14: case 15: case 29: /* tags OpenSSL calls unknown */
        break;
    default:
        return 1;
    }
    const unsigned char *c;
    unsigned char *buf;
    if (!string_value(v, len, &u, &c, &n, &buf))
        return 1;
    int refused = !primitive_ok(u, c, n);
    if (!refused && (u == 12 || u == 19 || u == 20 || u == 22 || u == 28 || u == 30)) {
        size_t ul;
        char *t = dirstring_utf8(u, c, n, &ul);
        refused = t == NULL;
        free(t);
    }
    free(buf);
    return refused;
}

typedef struct cn_out {
    wcsr_t *csr;
    char *err;
    size_t errlen;
    int rc;
} cn_out_t;

static int take_cn(const unsigned char *v, size_t len, bool is_cn, void *arg)
{
    cn_out_t *o = arg;
    if (!is_cn)
        return 0;
    size_t ul = 0, n = 0;
    unsigned u = 0;
    const unsigned char *c = NULL;
    unsigned char *buf = NULL;
    char *utf8 = string_value(v, len, &u, &c, &n, &buf) ? dirstring_utf8(u, c, n, &ul) : NULL;
    free(buf);
    if (!utf8) {
        seterr(o->err, o->errlen, "CSR common name is not valid text");
        o->rc = -1;
    } else if (memchr(utf8, 0, ul)) {
        free(utf8);
        seterr(o->err, o->errlen, "CSR common name contains a NUL byte");
        o->rc = -1;
    } else {
        o->csr->common_name = utf8;
    }
    return 1; /* the first CN only */
}

/* Sets csr->common_name from the first CN of the subject n[0..len). 0, or -1 with err set. */
static int common_name(const unsigned char *n, size_t len, wcsr_t *csr, char *err, size_t errlen)
{
    cn_out_t o = {csr, err, errlen, 0};
    name_each(n, len, take_cn, &o);
    return o.rc;
}

/* ---- the CSR's structure as OpenSSL's decoder checks it (RFC 2986 §4) ---- */

/* Takes the element at *p (within end) with tag `tag` (any tag when 0): returns its content, sets *body and
 * *tagp (when not NULL), advances *p. NULL when the element is malformed, overruns or has another tag. */
static unsigned char *der_take(unsigned char **p, const unsigned char *end, unsigned tag, size_t *body,
                               unsigned *tagp)
{
    unsigned t;
    size_t hdr, b;
    if (*p >= end || der_header(*p, (size_t)(end - *p), &t, &hdr, &b) < 0 || b > (size_t)(end - *p) - hdr ||
        (tag && t != tag))
        return NULL;
    unsigned char *c = *p + hdr;
    *p = c + b;
    *body = b;
    if (tagp)
        *tagp = t;
    return c;
}

/* A SEQUENCE OF or SET OF (tag: its constructed form). OpenSSL's decoder does not insist on the constructed
 * bit for these; libtasn1 does, so a primitive-flagged one is set constructed in place (the caller then
 * verifies the signature over the original bytes). */
static unsigned char *sof_take(unsigned char **p, const unsigned char *end, unsigned tag, size_t *body)
{
    if (*p < end && **p == (tag & ~0x20u))
        **p |= 0x20;
    return der_take(p, end, tag, body, NULL);
}

/* A universal primitive that OpenSSL decodes into a value (primitive_ok); BIT STRINGs get their unused
 * bits cleared, as OpenSSL's decoder does, so a key or signature with such bits set is a different one to
 * GnuTLS too (which would otherwise ignore them). */
static bool prim_take(unsigned char **p, const unsigned char *end, unsigned tag)
{
    size_t n;
    unsigned char *c = der_take(p, end, tag, &n, NULL);
    if (!c || !primitive_ok(tag, c, n))
        return false;
    if (tag == 0x03 && n > 1)
        c[n - 1] &= (unsigned char)(0xff << c[0]);
    return true;
}

/* An ANY (attribute values, algorithm parameters) as OpenSSL decodes it: a SEQUENCE or SET (constructed)
 * or a non-universal element is kept undecoded; other universal types are checked (primitive_ok), in their
 * constructed (BER) string form too, which INTEGER, ENUMERATED, BOOLEAN, NULL and OBJECT IDENTIFIER may
 * not take. */
static bool any_take(unsigned char **p, const unsigned char *end)
{
    unsigned char *start = *p;
    size_t n;
    unsigned t;
    if (!der_take(p, end, 0, &n, &t))
        return false;
    if ((t & 0xc0) != 0)
        return true;
    unsigned u = t & 0x1f;
    if (!(t & 0x20)) {
        if (u == 16 || u == 17) /* a SEQUENCE or SET must be constructed */
            return false;
        *p = start;
        return prim_take(p, end, t);
    }
    if (u == 16 || u == 17)
        return true;
    if (u == 1 || u == 2 || u == 5 || u == 6 || u == 10)
        return false;
    const unsigned char *c;
    unsigned char *buf;
    if (!string_value(start, (size_t)(*p - start), &u, &c, &n, &buf))
        return false;
    bool ok = primitive_ok(u, c, n);
    free(buf);
    return ok;
}

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL } */
static bool algid_take(unsigned char **p, const unsigned char *end)
{
    size_t n;
    unsigned char *c = der_take(p, end, 0x30, &n, NULL);
    if (!c)
        return false;
    const unsigned char *e = c + n;
    if (!prim_take(&c, e, 0x06))
        return false;
    if (c < e && !any_take(&c, e))
        return false;
    return c == e;
}

/* Name ::= SEQUENCE OF SET OF SEQUENCE { type OBJECT IDENTIFIER, value ANY } (the value types are judged
 * by value_refused afterwards). */
static bool name_take(unsigned char **p, const unsigned char *end, unsigned char **content, size_t *clen)
{
    size_t n, rn, an;
    unsigned char *c = sof_take(p, end, 0x30, &n);
    if (!c)
        return false;
    *content = c;
    *clen = n;
    const unsigned char *e = c + n;
    while (c < e) {
        unsigned char *r = sof_take(&c, e, 0x31, &rn);
        if (!r)
            return false;
        const unsigned char *re = r + rn;
        while (r < re) {
            unsigned char *a = der_take(&r, re, 0x30, &an, NULL);
            if (!a)
                return false;
            const unsigned char *ae = a + an;
            if (!prim_take(&a, ae, 0x06) || !any_take(&a, ae) || a != ae)
                return false;
        }
    }
    return true;
}

/* The extension request as OpenSSL's X509_REQ_get_extensions picks it: the first value of the first
 * extensionRequest attribute (RFC 2985 §5.4.2), or else of Microsoft's older one. */
typedef struct ext_req {
    unsigned char *v; /* the value's whole TLV, NULL when there is none */
    size_t len;
    int rank;         /* 1 extensionRequest, 2 Microsoft's, 0 none seen */
} ext_req_t;

static void ext_req_note(ext_req_t *x, const unsigned char *oid, size_t oidlen, unsigned char *val)
{
    static const unsigned char ext_req[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
    static const unsigned char ms_ext_req[] = {0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x0e};
    int rank = oidlen == sizeof(ext_req) && memcmp(oid, ext_req, oidlen) == 0         ? 1
               : oidlen == sizeof(ms_ext_req) && memcmp(oid, ms_ext_req, oidlen) == 0 ? 2
                                                                                      : 0;
    if (rank && (x->rank == 0 || rank < x->rank)) {
        x->rank = rank;
        x->v = val; /* NULL for an empty value set: then there are no extensions */
        x->len = 0; /* set by the caller once the value is walked */
    }
}

/* What csr_well_formed finds, pointing into the DER it walked. */
typedef struct csr_parts {
    ext_req_t x;          /* the extension request */
    unsigned char *tbs;   /* CertificationRequestInfo, whole TLV (the signed bytes) */
    size_t tbs_len;
    size_t tbs_hdr;       /* its header size */
    unsigned char *spki;  /* SubjectPublicKeyInfo, whole TLV */
    size_t spki_len;
    unsigned char *sig;   /* the signature: BIT STRING content after the unused-bits byte */
    size_t sig_len;
    bool has_attrs;       /* the "[0] attributes" field is present */
} csr_parts_t;

/* CertificationRequest (RFC 2986 §4.1/4.2) down to the ANYs: what OpenSSL's d2i_X509_REQ insists on,
 * checked before libtasn1, which is laxer in places (an empty INTEGER, a BIT STRING's unused bits) and
 * stricter in others (the inside of an attribute value, which OpenSSL keeps undecoded). d is changed
 * (prim_take). The [0] attributes are optional, as for OpenSSL. *pp receives what was found. */
static bool csr_well_formed(unsigned char *d, size_t len, csr_parts_t *pp)
{
    ext_req_t *x = &pp->x;
    unsigned char *p = d;
    size_t n, tn, sn, an, sgn;
    unsigned char *c = der_take(&p, d + len, 0x30, &n, NULL);
    if (!c)
        return false;
    const unsigned char *e = c + n;
    unsigned char *tbs0 = c;
    unsigned char *tbs = der_take(&c, e, 0x30, &tn, NULL);
    if (!tbs || !algid_take(&c, e))
        return false;
    unsigned char *sg = der_take(&c, e, 0x03, &sgn, NULL);
    if (!sg || !primitive_ok(0x03, sg, sgn) || c != e)
        return false;
    if (sgn > 1)
        sg[sgn - 1] &= (unsigned char)(0xff << sg[0]); /* as prim_take */
    pp->tbs = tbs0;
    pp->tbs_hdr = (size_t)(tbs - tbs0);
    pp->tbs_len = pp->tbs_hdr + tn;
    pp->sig = sg + 1;
    pp->sig_len = sgn - 1;
    const unsigned char *te = tbs + tn;
    unsigned char *nm;
    size_t nml;
    if (!prim_take(&tbs, te, 0x02) || !name_take(&tbs, te, &nm, &nml))
        return false;
    unsigned char *spki0 = tbs;
    unsigned char *spki = der_take(&tbs, te, 0x30, &sn, NULL);
    if (!spki)
        return false;
    const unsigned char *se = spki + sn;
    if (!algid_take(&spki, se) || !prim_take(&spki, se, 0x03) || spki != se)
        return false;
    pp->spki = spki0;
    pp->spki_len = (size_t)(se - spki0);
    pp->has_attrs = tbs < te;
    if (tbs < te) {
        unsigned char *at = sof_take(&tbs, te, 0xa0, &an);
        if (!at)
            return false;
        const unsigned char *ae = at + an;
        while (at < ae) {
            size_t xn, vn;
            unsigned char *attr = der_take(&at, ae, 0x30, &xn, NULL);
            if (!attr)
                return false;
            const unsigned char *xe = attr + xn, *oid = attr;
            unsigned char *vals = NULL;
            if (!prim_take(&attr, xe, 0x06))
                return false;
            size_t oidlen = (size_t)(attr - oid);
            if (!(vals = sof_take(&attr, xe, 0x31, &vn)) || attr != xe)
                return false;
            const unsigned char *ve = vals + vn;
            ext_req_note(x, oid, oidlen, vn ? vals : NULL);
            while (vals < ve) {
                unsigned char *v0 = vals;
                if (!any_take(&vals, ve))
                    return false;
                if (x->v == v0)
                    x->len = (size_t)(vals - v0);
            }
        }
    }
    return tbs == te;
}

/* Writes a DER header (tag, definite length n) at o; returns its size (at most 6). */
static size_t der_put_header(unsigned char *o, unsigned char tag, size_t n)
{
    o[0] = tag;
    if (n < 0x80) {
        o[1] = (unsigned char)n;
        return 2;
    }
    size_t nb = 0;
    for (size_t v = n; v; v >>= 8)
        nb++;
    o[1] = (unsigned char)(0x80 | nb);
    for (size_t i = 0; i < nb; i++)
        o[2 + i] = (unsigned char)(n >> (8 * (nb - 1 - i)));
    return 2 + nb;
}

/* The CSR d[0..len) re-encoded with an empty "[0] attributes" appended to its CertificationRequestInfo,
 * for libtasn1, which insists on the field (RFC 2986 says it is there; OpenSSL reads it as optional). The
 * signature no longer covers the result: the caller verifies it over the original bytes. Owned, or NULL. */
static unsigned char *with_empty_attributes(const unsigned char *d, size_t len, const csr_parts_t *pp,
                                            size_t *outlen)
{
    size_t tn = pp->tbs_len - pp->tbs_hdr;
    const unsigned char *rest = pp->tbs + pp->tbs_len; /* AlgorithmIdentifier and signature */
    size_t restlen = (size_t)(d + len - rest);
    unsigned char th[8], oh[8];
    size_t thl = der_put_header(th, 0x30, tn + 2);
    size_t inner = thl + tn + 2 + restlen;
    size_t ohl = der_put_header(oh, 0x30, inner);
    unsigned char *o = malloc(ohl + inner);
    if (!o)
        return NULL;
    size_t w = 0;
    memcpy(o + w, oh, ohl);
    w += ohl;
    memcpy(o + w, th, thl);
    w += thl;
    memcpy(o + w, pp->tbs + pp->tbs_hdr, tn);
    w += tn;
    o[w++] = 0xa0;
    o[w++] = 0x00;
    memcpy(o + w, rest, restlen);
    w += restlen;
    *outlen = w;
    return o;
}

/* A Name as OpenSSL's decoder takes it: structure (name_take) and value types (value_refused). */
static bool name_ok(unsigned char **p, const unsigned char *end)
{
    unsigned char *c;
    size_t n;
    return name_take(p, end, &c, &n) && name_each(c, n, value_refused, NULL) == 0;
}

/* Certificate (RFC 5280 §4.1) as OpenSSL's d2i_X509 decodes it, which is what "a valid certificate" meant
 * for the caBundle check: structure down to the ANYs and extension values, primitive contents, name
 * strings; nothing is verified. GnuTLS's importer is not used because it judges more (the version number,
 * the two signature algorithms being equal) and so would refuse bundles that were accepted so far. */
static bool cert_well_formed(unsigned char *d, size_t len)
{
    unsigned char *p = d;
    size_t n, tn, vn, sn, xn;
    unsigned char *c = der_take(&p, d + len, 0x30, &n, NULL);
    if (!c)
        return false;
    const unsigned char *e = c + n;
    unsigned char *tbs = der_take(&c, e, 0x30, &tn, NULL);
    if (!tbs || !algid_take(&c, e) || !prim_take(&c, e, 0x03) || c != e)
        return false;
    const unsigned char *te = tbs + tn;
    if (tbs < te && *tbs == 0xa0) { /* [0] EXPLICIT Version DEFAULT v1 */
        unsigned char *v = der_take(&tbs, te, 0xa0, &vn, NULL);
        if (!v)
            return false;
        const unsigned char *vend = v + vn;
        if (!prim_take(&v, vend, 0x02) || v != vend)
            return false;
    }
    if (!prim_take(&tbs, te, 0x02) || !algid_take(&tbs, te) || !name_ok(&tbs, te))
        return false;
    unsigned char *val = der_take(&tbs, te, 0x30, &vn, NULL);
    if (!val)
        return false;
    const unsigned char *ve = val + vn;
    for (int i = 0; i < 2; i++) {
        if (val >= ve || (*val != 0x17 && *val != 0x18) || !prim_take(&val, ve, *val))
            return false;
    }
    if (val != ve || !name_ok(&tbs, te))
        return false;
    unsigned char *spki = der_take(&tbs, te, 0x30, &sn, NULL);
    if (!spki)
        return false;
    const unsigned char *se = spki + sn;
    if (!algid_take(&spki, se) || !prim_take(&spki, se, 0x03) || spki != se)
        return false;
    static const unsigned optional[] = {0x81, 0x82};
    for (size_t i = 0; i < 2; i++) {
        if (tbs < te && *tbs == optional[i]) {
            unsigned char *u = der_take(&tbs, te, optional[i], &xn, NULL);
            if (!u || !primitive_ok(0x03, u, xn))
                return false;
        }
    }
    if (tbs < te) { /* [3] EXPLICIT Extensions */
        unsigned char *x = der_take(&tbs, te, 0xa3, &xn, NULL);
        if (!x)
            return false;
        const unsigned char *xe = x + xn;
        unsigned char *list = sof_take(&x, xe, 0x30, &n);
        if (!list || x != xe)
            return false;
        const unsigned char *le = list + n;
        while (list < le) {
            unsigned char *ext = der_take(&list, le, 0x30, &n, NULL);
            if (!ext)
                return false;
            const unsigned char *ee = ext + n;
            if (!prim_take(&ext, ee, 0x06) || (ext < ee && *ext == 0x01 && !prim_take(&ext, ee, 0x01)) ||
                !der_take(&ext, ee, 0x04, &n, NULL) || ext != ee)
                return false;
        }
    }
    return tbs == te;
}

/* ---- subjectAltName ---- */

/* Walks GeneralNames (RFC 5280 §4.2.1.6) in the extension value v[0..n) and appends the dNSName ([2]
 * IA5String) and iPAddress ([7] OCTET STRING) entries. Decoded here rather than by GnuTLS, whose decoder
 * refuses empty entries that OpenSSL reads (an empty dNSName is a name, an empty iPAddress a bad one).
 * A value that is not GeneralNames yields no SANs at all, as with OpenSSL. 0, or -1 with err set. */
static int general_names(const unsigned char *v, size_t n, wcsr_t *csr, char *err, size_t errlen)
{
    unsigned tag;
    size_t hdr, body;
    if (der_header(v, n, &tag, &hdr, &body) < 0 || (tag != 0x30 && tag != 0x10) || body > n - hdr ||
        !der_well_formed(v + hdr, body, 0))
        return 0;
    const unsigned char *p = v + hdr, *end = v + hdr + body;
    /* First pass: every entry must be one of the GeneralName choices, or nothing is taken. */
    for (const unsigned char *q = p; q < end;) {
        der_header(q, (size_t)(end - q), &tag, &hdr, &body); /* cannot fail: checked by der_well_formed */
        switch (tag) {
        case 0xa0: case 0x81: case 0x82: case 0xa3: case 0xa4: case 0xa5: case 0x86: case 0x87: case 0x88:
            break;
        default:
            return 0;
        }
        q += hdr + body;
    }
    for (const unsigned char *q = p; q < end;) {
        der_header(q, (size_t)(end - q), &tag, &hdr, &body);
        const unsigned char *c = q + hdr;
        q += hdr + body;
        if (tag == 0x82) {
            if (memchr(c, 0, body)) {
                seterr(err, errlen, "CSR DNS name contains a NUL byte");
                return -1;
            }
            if (push(&csr->dns_names, &csr->n_dns, (const char *)c, body) < 0) {
                seterr(err, errlen, "CSR has too many names");
                return -1;
            }
        } else if (tag == 0x87) {
            char txt[INET6_ADDRSTRLEN];
            if ((body != 4 && body != 16) || !inet_ntop(body == 4 ? AF_INET : AF_INET6, c, txt, sizeof(txt))) {
                seterr(err, errlen, "CSR IP address has a bad length");
                return -1;
            }
            if (push(&csr->ip_addresses, &csr->n_ip, txt, strlen(txt)) < 0) {
                seterr(err, errlen, "CSR has too many names");
                return -1;
            }
        }
    }
    return 0;
}

/* Appends the DNS and IP SANs from the extension request x (Extensions, RFC 5280 §4.1: SEQUENCE OF
 * SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }). As with OpenSSL, a request
 * value that does not decode as Extensions means no extensions, and two subjectAltName extensions are an
 * error. Walked here, linearly, rather than with GnuTLS's per-index extension calls (each re-decodes the
 * whole list). 0, or -1 with err set. */
static int sans(const ext_req_t *x, wcsr_t *csr, char *err, size_t errlen)
{
    static const unsigned char san_oid[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */
    if (!x->v)
        return 0;
    unsigned char *p = x->v, *found = NULL;
    size_t n, en, on, vn = 0, nsan = 0;
    unsigned char *c = der_take(&p, x->v + x->len, 0x30, &n, NULL);
    if (!c)
        return 0;
    const unsigned char *e = c + n;
    for (unsigned char *q = c; q < e;) { /* whole list first: any malformed extension voids it */
        unsigned char *ext = der_take(&q, e, 0x30, &en, NULL);
        if (!ext)
            return 0;
        const unsigned char *ee = ext + en;
        unsigned char *oid = der_take(&ext, ee, 0x06, &on, NULL);
        if (!oid || !primitive_ok(0x06, oid, on))
            return 0;
        if (ext < ee && *ext == 0x01 && !prim_take(&ext, ee, 0x01))
            return 0;
        size_t valn;
        unsigned char *val = der_take(&ext, ee, 0x04, &valn, NULL);
        if (!val || ext != ee)
            return 0;
        if (on == sizeof(san_oid) && memcmp(oid, san_oid, on) == 0) {
            nsan++;
            found = val;
            vn = valn;
        }
    }
    if (nsan > 1) {
        seterr(err, errlen, "CSR has more than one subjectAltName extension");
        return -1;
    }
    return found ? general_names(found, vn, csr, err, errlen) : 0;
}

/* ---- public ---- */

wcsr_t *wcsr_parse(const unsigned char *data, size_t len, char *err, size_t errlen)
{
    wcsr_t *out = NULL, *csr = NULL;
    unsigned char *der = NULL, *withattrs = NULL, *orig = NULL;
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
    /* An owned copy of the DER: der_well_formed masks unused bits in it. */
    size_t derlen = len;
    if (looks_pem(data, len)) {
        static const char *const labels[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"};
        if (pem_find(data, len, labels, 2, &der, &derlen) < 0) {
            seterr(err, errlen, "not a PEM or DER PKCS#10 certificate request");
            goto out;
        }
    } else if ((der = malloc(len))) {
        memcpy(der, data, len);
    } else {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    gnutls_datum_t dat = {der, (unsigned)der_outer_len(der, derlen)};
    if (dat.size == 0) {
        seterr(err, errlen, "not a PEM or DER PKCS#10 certificate request");
        goto out;
    }
    if (gnutls_x509_crq_init(&crq) < 0) {
        crq = NULL;
        seterr(err, errlen, "out of memory");
        goto out;
    }
    size_t nlen = 0;
    const unsigned char *subj = NULL;
    csr_parts_t parts;
    memset(&parts, 0, sizeof(parts));
    if (!(orig = malloc(dat.size))) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    memcpy(orig, dat.data, dat.size);
    bool ok = csr_well_formed(dat.data, dat.size, &parts);
    /* Changed by the walk (unused bits cleared, constructed bits set) or without attributes: GnuTLS gets a
     * request it can read, and the signature is verified over the bytes that were signed. */
    bool reencoded = ok && (!parts.has_attrs || memcmp(orig, dat.data, dat.size) != 0);
    if (ok && !parts.has_attrs) {
        size_t wl = 0;
        if (!(withattrs = with_empty_attributes(dat.data, dat.size, &parts, &wl))) {
            seterr(err, errlen, "out of memory");
            goto out;
        }
        gnutls_datum_t wd = {withattrs, (unsigned)wl};
        ok = gnutls_x509_crq_import(crq, &wd, GNUTLS_X509_FMT_DER) == 0;
    } else if (ok) {
        ok = gnutls_x509_crq_import(crq, &dat, GNUTLS_X509_FMT_DER) == 0;
    }
    if (!ok || !(subj = subject_name(dat.data, dat.size, &nlen)) ||
        name_each(subj, nlen, value_refused, NULL) != 0) {
        seterr(err, errlen, "not a PEM or DER PKCS#10 certificate request");
        goto out;
    }
    if (gnutls_pubkey_init(&pk) < 0) {
        pk = NULL;
        seterr(err, errlen, "out of memory");
        goto out;
    }
    /* From the SubjectPublicKeyInfo bytes, not gnutls_pubkey_import_x509_crq: that one looks up the key
     * usage extension, and GnuTLS's extension lookups re-decode the whole list per index - seconds of CPU
     * for a 64 KiB request of tiny extensions. */
    gnutls_datum_t spki = {parts.spki, (unsigned)parts.spki_len};
    if (gnutls_pubkey_import(pk, &spki, GNUTLS_X509_FMT_DER) < 0) {
        seterr(err, errlen, "CSR public key cannot be decoded");
        goto out;
    }
    /* Proof of possession only (the CA checks again): accept every algorithm OpenSSL verifies, SHA-1 too. */
    const unsigned vflags = GNUTLS_VERIFY_ALLOW_BROKEN | GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1;
    gnutls_datum_t tbs = {orig + (parts.tbs - dat.data), (unsigned)parts.tbs_len};
    gnutls_datum_t sig = {parts.sig, (unsigned)parts.sig_len};
    int vrc;
    if (!reencoded) {
        vrc = gnutls_x509_crq_verify(crq, vflags);
    } else {
        int alg = gnutls_x509_crq_get_signature_algorithm(crq);
        vrc = alg < 0 ? alg : gnutls_pubkey_verify_data2(pk, (gnutls_sign_algorithm_t)alg, vflags, &tbs, &sig);
    }
    if (vrc < 0) {
        seterr(err, errlen, "CSR signature does not verify");
        goto out;
    }
    csr = calloc(1, sizeof(*csr));
    if (!csr) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    if (common_name(subj, nlen, csr, err, errlen) < 0 || sans(&parts.x, csr, err, errlen) < 0)
        goto out;
    out = csr;
    csr = NULL;
out:
    if (pk)
        gnutls_pubkey_deinit(pk);
    if (crq)
        gnutls_x509_crq_deinit(crq);
    free(der);
    free(withattrs);
    free(orig);
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
    size_t dl = der_outer_len(der, derlen);
    bool ok = dl > 0 && cert_well_formed(der, dl);
    free(der);
    return ok;
}
