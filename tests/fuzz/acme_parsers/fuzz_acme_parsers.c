/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the ACME response parsers. The first input byte picks the parser, the rest is the
 * response body (or header value):
 *   'd' directory, 'o' order, 'a' authorization, 'p' problem document + classification, 'c' account,
 *   'r' ARI renewal info, 't' Retry-After, 'l' Link header, 'x' PEM chain top issuer CN.
 * Other first bytes run every parser on the remainder.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"
#include "acme/acme_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(char which, const char *s, size_t n)
{
    char err[160];
    switch (which) {
    case 'd': {
        acme_directory_t *d = NULL;
        if (acme_directory_parse(s, n, &d, err, sizeof(err)) == 0)
            acme_directory_free(d);
        break;
    }
    case 'o': {
        acme_order_t *o = NULL;
        if (acme_order_parse(s, n, &o, err, sizeof(err)) == 0)
            acme_order_free(o);
        break;
    }
    case 'a': {
        acme_authz_t *a = NULL;
        if (acme_authz_parse(s, n, &a, err, sizeof(err)) == 0) {
            (void)acme_authz_find_challenge(a, "http-01");
            acme_authz_free(a);
        }
        break;
    }
    case 'p': {
        acme_error_t e;
        char buf[1024];
        acme_classify_response(400, s, n, "Sun, 06 Nov 1994 08:49:37 GMT", 784111777, &e);
        acme_error_format(&e, buf, sizeof(buf));
        acme_classify_response(503, s, n, NULL, 0, &e);
        break;
    }
    case 'c': {
        acme_account_t *a = NULL;
        if (acme_account_parse(s, n, &a, err, sizeof(err)) == 0)
            acme_account_free(a);
        break;
    }
    case 'r': {
        acme_renewal_info_t ri;
        if (acme_renewal_info_parse(s, n, &ri, err, sizeof(err)) == 0)
            acme_renewal_info_clear(&ri);
        break;
    }
    case 't': {
        long ms;
        (void)acme_retry_after_parse(s, 784111777, &ms);
        time_t t;
        (void)acme_rfc3339_parse(s, &t);
        break;
    }
    case 'l': {
        char **urls = NULL;
        size_t k = 0;
        (void)acme_link_alternates(s, &urls, &k, 16);
        for (size_t i = 0; i < k; i++)
            free(urls[i]);
        free(urls);
        break;
    }
    case 'x': {
        char cn[256];
        (void)acme_chain_top_issuer_cn(s, n, cn, sizeof(cn));
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 65536)
        return 0;
    /* NUL-terminated copy: the string parsers (Retry-After, Link) take C strings. */
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    char which = (char)data[0];
    if (strchr("doapcrtlx", which) && which != '\0') {
        run(which, s, size - 1);
    } else {
        for (const char *w = "doapcrtlx"; *w; w++)
            run(*w, s, size - 1);
    }
    free(s);
    return 0;
}
