/* SPDX-License-Identifier: Apache-2.0 */
#include "x509/names.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

static bool is_ldh_lower(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

const char *x509_dns_name_problem(const char *name, bool allow_wildcard)
{
    if (!name || !*name)
        return "must not be empty";
    size_t len = strlen(name);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)name[i] >= 0x80)
            return "must be ASCII: give internationalised names as A-labels (\"xn--...\", IDNA 2008)";
    }
    if (name[len - 1] == '.')
        return "must not end with a dot";
    if (len > X509_DNS_NAME_MAX)
        return "must be no more than 253 characters";
    for (size_t i = 0; i < len; i++) {
        if (name[i] >= 'A' && name[i] <= 'Z')
            return "must be lower case";
    }
    const char *p = name;
    bool first = true;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0)
            return "must not contain empty labels";
        if (l == 1 && p[0] == '*') {
            if (!first || !allow_wildcard)
                return allow_wildcard ? "a wildcard '*' is only allowed as the whole leftmost label"
                                      : "must not be a wildcard";
            if (!dot)
                return "a wildcard needs at least one label after '*.'";
        } else {
            if (l > X509_DNS_LABEL_MAX)
                return "each label must be no more than 63 characters";
            for (size_t i = 0; i < l; i++) {
                unsigned char c = (unsigned char)p[i];
                if (c == '*')
                    return allow_wildcard ? "a wildcard '*' is only allowed as the whole leftmost label"
                                          : "must not be a wildcard";
                if (!is_ldh_lower(c))
                    return "labels may contain only a-z, 0-9 and '-' (RFC 1123)";
            }
            if (p[0] == '-' || p[l - 1] == '-')
                return "labels must start and end with a letter or digit";
        }
        first = false;
        p += l;
        if (*p == '.')
            p++;
    }
    return NULL;
}

int x509_ip_parse(const char *s, unsigned char out[16])
{
    if (!s)
        return 0;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = 0xff;
        out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 4;
    }
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        memcpy(out, &a6, 16);
        return 6;
    }
    return 0;
}

bool x509_ip_equal(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    return x509_ip_parse(a, x) && x509_ip_parse(b, y) && memcmp(x, y, 16) == 0;
}

int x509_ip_canonical(const char *s, char *out, size_t outlen)
{
    unsigned char b[16];
    int fam = x509_ip_parse(s, b);
    if (!fam)
        return -1;
    const void *src = fam == 4 ? (const void *)(b + 12) : (const void *)b;
    if (!inet_ntop(fam == 4 ? AF_INET : AF_INET6, src, out, (socklen_t)outlen))
        return -1;
    return 0;
}

bool x509_ip_is_private(const char *s)
{
    unsigned char b[16];
    int fam = x509_ip_parse(s, b);
    if (!fam)
        return false;
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (fam == 4 || memcmp(b, v4mapped, 12) == 0) {
        const unsigned char *v = b + 12;
        return v[0] == 10 || v[0] == 127 || v[0] == 0 || (v[0] == 172 && (v[1] & 0xf0) == 16) ||
               (v[0] == 192 && v[1] == 168) || (v[0] == 169 && v[1] == 254) ||
               (v[0] == 100 && (v[1] & 0xc0) == 64) || (v[0] == 192 && v[1] == 0 && v[2] == 2) ||
               (v[0] == 198 && v[1] == 51 && v[2] == 100) || (v[0] == 203 && v[1] == 0 && v[2] == 113) ||
               v[0] >= 224;
    }
    static const unsigned char zero[16] = {0};
    static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (memcmp(b, zero, 16) == 0 || memcmp(b, one, 16) == 0)
        return true;
    if ((b[0] & 0xfe) == 0xfc)                      /* fc00::/7 ULA */
        return true;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)      /* fe80::/10 link-local */
        return true;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* 2001:db8::/32 documentation */
        return true;
    if (b[0] == 0xff)                               /* multicast */
        return true;
    return false;
}

bool x509_wildcard_covers(const char *wildcard, const char *name)
{
    if (!wildcard || !name || strncmp(wildcard, "*.", 2) != 0)
        return false;
    const char *dot = strchr(name, '.');
    if (!dot || dot == name)
        return false;
    return strcasecmp(dot + 1, wildcard + 2) == 0;
}

static bool dns_in(const char *s, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (l[i] && s && strcmp(l[i], s) == 0)
            return true;
    return false;
}

bool x509_dns_sets_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        if (!dns_in(a[i], b, nb))
            return false;
    for (size_t i = 0; i < nb; i++)
        if (!dns_in(b[i], a, na))
            return false;
    return true;
}

static bool ip_in(const char *s, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x509_ip_equal(s, l[i]))
            return true;
    return false;
}

bool x509_ip_sets_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        if (!ip_in(a[i], b, nb))
            return false;
    for (size_t i = 0; i < nb; i++)
        if (!ip_in(b[i], a, na))
            return false;
    return true;
}
