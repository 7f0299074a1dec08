/* SPDX-License-Identifier: Apache-2.0 */
/* kacme-acmesolver: flag parsing and the pure request decision. */
#include "acmesolver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/version.h"

#define CHALLENGE_DIR "/.well-known/acme-challenge/"

bool acmesolver_is_base64url(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

/* Parses a decimal int in [lo, hi]; false for anything else (sign, spaces, trailing bytes). */
static bool parse_int(const char *s, int lo, int hi, int *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

int acmesolver_parse_args(int argc, char **argv, acmesolver_config_t *cfg, char *err, size_t errlen)
{
    static const char *const names[] = {"listen-port", "domain", "token", "key", "v"};
    const char *vals[5] = {NULL, NULL, NULL, NULL, NULL};

    memset(cfg, 0, sizeof(*cfg));
    cfg->listen_port = ACMESOLVER_DEFAULT_PORT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') {
            snprintf(err, errlen, "unexpected argument (flags only)");
            return -1;
        }
        a += (a[1] == '-') ? 2 : 1;
        if (strcmp(a, "help") == 0 || strcmp(a, "h") == 0) {
            snprintf(err, errlen,
                     "usage: kacme-acmesolver --domain NAME --token TOKEN --key KEYAUTH [--listen-port 8089] [--v N]");
            return 1;
        }
        if (strcmp(a, "version") == 0) {
            snprintf(err, errlen, "kacme-acmesolver %s", kacme_version());
            return 1;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        size_t k;
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (strlen(names[k]) == nlen && strncmp(a, names[k], nlen) == 0)
                break;
        if (k == sizeof(names) / sizeof(names[0])) {
            snprintf(err, errlen, "unknown flag --%.*s", (int)(nlen > 64 ? 64 : nlen), a);
            return -1;
        }
        if (eq) {
            vals[k] = eq + 1;
        } else if (i + 1 < argc) {
            vals[k] = argv[++i];
        } else {
            snprintf(err, errlen, "flag --%s needs a value", names[k]);
            return -1;
        }
    }
    if (vals[0] && !parse_int(vals[0], 1, 65535, &cfg->listen_port)) {
        snprintf(err, errlen, "flag --listen-port: not a port number in 1..65535");
        return -1;
    }
    if (vals[4] && !parse_int(vals[4], 0, 100, &cfg->verbosity)) {
        snprintf(err, errlen, "flag --v: not a verbosity level in 0..100");
        return -1;
    }
    if (!vals[1] || !*vals[1]) {
        snprintf(err, errlen, "flag --domain is required and must not be empty");
        return -1;
    }
    if (!vals[2] || !*vals[2]) {
        snprintf(err, errlen, "flag --token is required and must not be empty");
        return -1;
    }
    if (!acmesolver_is_base64url(vals[2])) {
        snprintf(err, errlen, "flag --token: not base64url (A-Z a-z 0-9 - _ only, no padding)");
        return -1;
    }
    if (!vals[3] || !*vals[3]) {
        snprintf(err, errlen, "flag --key is required and must not be empty");
        return -1;
    }
    cfg->domain = vals[1];
    cfg->token = vals[2];
    cfg->key = vals[3];
    return 0;
}

bool acmesolver_host_name(const char *host, const char **out, size_t *out_len)
{
    size_t len = strlen(host);
    if (len > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', len);
        if (!close)
            return false;
        /* after the bracket: nothing or ":port" */
        if (close[1] != '\0' && close[1] != ':')
            return false;
        *out = host + 1;
        *out_len = (size_t)(close - host - 1);
        return true;
    }
    const char *colon = memchr(host, ':', len);
    if (colon) {
        /* a bare IPv6 literal without brackets is not a valid Host (RFC 9110 §7.2): keep it whole only
         * when it has more than one colon, like Go's net.SplitHostPort fallback does */
        if (memchr(colon + 1, ':', len - (size_t)(colon - host) - 1)) {
            *out = host;
            *out_len = len;
            return true;
        }
        len = (size_t)(colon - host);
    }
    *out = host;
    *out_len = len;
    return true;
}

static acmesolver_reply_t reply(int status, const char *body, size_t len, bool challenge)
{
    acmesolver_reply_t r = {status, body, len, challenge};
    return r;
}

acmesolver_reply_t acmesolver_decide(const acmesolver_config_t *cfg, const char *method, const char *target,
                                     size_t target_len, const char *host)
{
    static const char not_found[] = "404 page not found\n";
    static const char not_allowed[] = "405 method not allowed\n";

    const char *path = target;
    size_t plen = target_len;
    const char *abs_host = NULL;
    size_t abs_host_len = 0;

    /* absolute-form (RFC 9112 §3.2.2): the authority there wins over the Host header */
    if (plen >= 7 && strncasecmp(path, "http://", 7) == 0) {
        const char *auth = path + 7;
        const char *end = path + plen;
        const char *slash = memchr(auth, '/', (size_t)(end - auth));
        abs_host = auth;
        abs_host_len = (size_t)((slash ? slash : end) - auth);
        path = slash ? slash : end;
        plen = (size_t)(end - path);
    }
    const char *q = memchr(path, '?', plen);
    if (q)
        plen = (size_t)(q - path);

    bool get_like = method && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
    if (!get_like)
        return reply(405, not_allowed, sizeof(not_allowed) - 1, false);

    if ((plen == 1 && path[0] == '/') || (plen == 8 && memcmp(path, "/healthz", 8) == 0))
        return reply(200, "", 0, false);

    size_t dlen = sizeof(CHALLENGE_DIR) - 1;
    size_t tlen = strlen(cfg->token);
    if (plen != dlen + tlen || memcmp(path, CHALLENGE_DIR, dlen) != 0 || memcmp(path + dlen, cfg->token, tlen) != 0)
        return reply(404, not_found, sizeof(not_found) - 1, false);

    char hbuf[512];
    const char *hv = host;
    if (abs_host) {
        if (abs_host_len >= sizeof(hbuf))
            return reply(404, not_found, sizeof(not_found) - 1, false);
        memcpy(hbuf, abs_host, abs_host_len);
        hbuf[abs_host_len] = '\0';
        hv = hbuf;
    }
    const char *name;
    size_t nlen;
    if (!hv || !acmesolver_host_name(hv, &name, &nlen))
        return reply(404, not_found, sizeof(not_found) - 1, false);
    /* a fully-qualified Host ("example.com.") names the same host */
    if (nlen > 1 && name[nlen - 1] == '.')
        nlen--;
    size_t domlen = strlen(cfg->domain);
    if (domlen > 1 && cfg->domain[domlen - 1] == '.')
        domlen--;
    if (nlen != domlen || strncasecmp(name, cfg->domain, nlen) != 0)
        return reply(404, not_found, sizeof(not_found) - 1, false);
    return reply(200, cfg->key, strlen(cfg->key), true);
}
