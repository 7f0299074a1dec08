/* SPDX-License-Identifier: Apache-2.0 */
#include "tlsopts.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

struct suite {
    const char *name; /* Go's crypto/tls constant name */
    const char *kx, *cipher, *mac; /* GnuTLS priority keywords; NULL kx: a TLS 1.3 suite */
};

static const struct suite suites[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA", "AES-128-CBC", "SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA", "AES-128-CBC", "SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "AES-128-GCM", "AEAD"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "AES-256-GCM", "AEAD"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "AES-128-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "AES-256-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", "AES-128-CBC", "SHA256"},
    {"TLS_AES_128_GCM_SHA256", NULL, NULL, NULL},
    {"TLS_AES_256_GCM_SHA384", NULL, NULL, NULL},
    {"TLS_CHACHA20_POLY1305_SHA256", NULL, NULL, NULL},
};

/* Go's insecure suites (crypto/tls InsecureCipherSuites): named so the error says why, not "unknown". */
static const char *const insecure[] = {
    "TLS_RSA_WITH_RC4_128_SHA",           "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",   "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
};

/* Appends ":+<word>" to the list in out (outlen bytes) unless the word is already there. 0 or -1 when out is
 * full. */
static int add_word(char *out, size_t outlen, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = strstr(out, word); p; p = strstr(p + 1, word))
        if (p >= out + 2 && p[-1] == '+' && p[-2] == ':' && (p[wl] == ':' || p[wl] == '\0'))
            return 0;
    size_t l = strlen(out);
    int n = snprintf(out + l, outlen - l, ":+%s", word);
    return n < 0 || (size_t)n >= outlen - l ? -1 : 0;
}

int tlsopts_priorities(const char *min_version, const char *const *names, size_t n_names, char *out,
                       size_t outlen, char *err, size_t errlen)
{
    bool tls13_only = false;
    if (min_version && *min_version && strcmp(min_version, "VersionTLS12") != 0) {
        if (strcmp(min_version, "VersionTLS13") == 0) {
            tls13_only = true;
        } else if (strcmp(min_version, "VersionTLS10") == 0 || strcmp(min_version, "VersionTLS11") == 0) {
            util_seterr(err, errlen, "--tls-min-version: %s: versions below TLS 1.2 are not supported", min_version);
            return -1;
        } else {
            util_seterr(err, errlen, "--tls-min-version: %s: unknown version (VersionTLS12 or VersionTLS13)",
                        min_version);
            return -1;
        }
    }
    int n = snprintf(out, outlen, "NORMAL:-VERS-ALL:+VERS-TLS1.3%s", tls13_only ? "" : ":+VERS-TLS1.2");
    if (n < 0 || (size_t)n >= outlen)
        goto too_long;
    if (n_names == 0)
        return 0;

    char kx[256] = "", ciphers[256] = "", macs[128] = "";
    bool any12 = false;
    for (size_t i = 0; i < n_names; i++) {
        const struct suite *s = NULL;
        for (size_t j = 0; j < sizeof(suites) / sizeof(suites[0]); j++)
            if (strcmp(names[i], suites[j].name) == 0)
                s = &suites[j];
        if (!s) {
            for (size_t j = 0; j < sizeof(insecure) / sizeof(insecure[0]); j++)
                if (strcmp(names[i], insecure[j]) == 0) {
                    util_seterr(err, errlen, "--tls-cipher-suites: %s: insecure cipher suite, not supported",
                                names[i]);
                    return -1;
                }
            util_seterr(err, errlen, "--tls-cipher-suites: %s: unknown cipher suite (use Go's names, e.g. "
                                     "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)", names[i]);
            return -1;
        }
        if (!s->kx)
            continue; /* TLS 1.3: always enabled, as in Go */
        any12 = true;
        if (add_word(kx, sizeof(kx), s->kx) < 0 || add_word(ciphers, sizeof(ciphers), s->cipher) < 0 ||
            add_word(macs, sizeof(macs), s->mac) < 0)
            goto too_long;
    }
    if (!any12)
        return 0; /* only TLS 1.3 names: nothing to restrict */
    if (!tls13_only) {
        /* TLS 1.3's own suites stay available while it is enabled */
        if (add_word(ciphers, sizeof(ciphers), "AES-128-GCM") < 0 ||
            add_word(ciphers, sizeof(ciphers), "AES-256-GCM") < 0 ||
            add_word(ciphers, sizeof(ciphers), "CHACHA20-POLY1305") < 0 || add_word(macs, sizeof(macs), "AEAD") < 0)
            goto too_long;
        size_t l = strlen(out);
        n = snprintf(out + l, outlen - l, ":-KX-ALL%s:-CIPHER-ALL%s:-MAC-ALL%s", kx, ciphers, macs);
        if (n < 0 || (size_t)n >= outlen - l)
            goto too_long;
    }
    return 0;
too_long:
    util_seterr(err, errlen, "--tls-cipher-suites: the resulting TLS priority string is too long");
    return -1;
}
