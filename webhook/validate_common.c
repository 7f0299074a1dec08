/* SPDX-License-Identifier: Apache-2.0 */
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "x509/names.h"

const char *vjstr(const jdoc_value_t *obj, const char *key)
{
    return jdoc_string(jdoc_get(obj, key));
}

bool vjempty(const jdoc_value_t *obj, const char *key)
{
    const jdoc_value_t *v = jdoc_get(obj, key);
    if (!v)
        return true;
    switch (jdoc_type(v)) {
    case JDOC_NULL: return true;
    case JDOC_STRING: return jdoc_string_len(v) == 0;
    case JDOC_ARRAY: return jdoc_len(v) == 0;
    case JDOC_OBJECT: return jdoc_len(v) == 0;
    default: return false;
    }
}

static size_t jlen(const jdoc_value_t *a)
{
    return a && jdoc_is(a, JDOC_ARRAY) ? jdoc_len(a) : 0;
}

/* Collects string items of a JSON array (borrowed pointers); non-strings become "" and are reported. */
static const char **strings_of(admission_result_t *r, const char *path, const jdoc_value_t *a, size_t *n)
{
    *n = jlen(a);
    if (*n == 0)
        return NULL;
    const char **v = calloc(*n, sizeof(*v));
    if (!v) {
        *n = 0;
        return NULL;
    }
    for (size_t i = 0; i < *n; i++) {
        const jdoc_value_t *it = jdoc_at(a, i);
        if (it && jdoc_is(it, JDOC_STRING))
            v[i] = jdoc_string(it);
        else {
            admission_err(r, FE_INVALID, it, "must be a string", "%s[%zu]", path, i);
            v[i] = "";
        }
    }
    return v;
}

static void check_ids(admission_result_t *r, const char *dns_path, const char *const *dns, size_t ndns,
                      const char *ip_path, const char *const *ips, size_t nips, const char *cn_path, const char *cn,
                      const char *none_path)
{
    if (ndns + nips > WEBHOOK_MAX_IDENTIFIERS) {
        char d[96];
        VPATH(d, "%zu: must have at most %u DNS names and IP addresses together", ndns + nips,
              WEBHOOK_MAX_IDENTIFIERS);
        admission_err(r, FE_TOO_MANY, NULL, d, "%s", ndns ? dns_path : ip_path);
        return;
    }
    for (size_t i = 0; i < ndns; i++) {
        const char *prob = x509_dns_name_problem(dns[i], true);
        if (prob) {
            admission_err_str(r, FE_INVALID, dns[i], prob, "%s[%zu]", dns_path, i);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(dns[i], dns[j]) == 0) {
                admission_err_str(r, FE_DUPLICATE, dns[i], NULL, "%s[%zu]", dns_path, i);
                break;
            }
        }
    }
    for (size_t i = 0; i < ndns; i++) {
        if (strncmp(dns[i], "*.", 2) != 0)
            continue;
        for (size_t j = 0; j < ndns; j++) {
            if (j != i && x509_wildcard_covers(dns[i], dns[j]))
                admission_warn(r, "%s[%zu]: \"%.253s\" is already covered by wildcard \"%.253s\"; some CAs reject "
                               "redundant names", dns_path, j, dns[j], dns[i]);
        }
    }
    for (size_t i = 0; i < nips; i++) {
        unsigned char b[16];
        if (!x509_ip_parse(ips[i], b)) {
            admission_err_str(r, FE_INVALID, ips[i], "must be a valid IPv4 or IPv6 address", "%s[%zu]", ip_path, i);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = x509_ip_equal(ips[i], ips[j]);
        if (dup)
            admission_err_str(r, FE_DUPLICATE, ips[i], NULL, "%s[%zu]", ip_path, i);
        else if (x509_ip_is_private(ips[i]))
            admission_warn(r, "%s[%zu]: %.64s is a private, loopback or reserved address; public CAs will not "
                           "validate it", ip_path, i, ips[i]);
    }
    if (cn && *cn) {
        size_t l = strlen(cn);
        if (l > X509_CN_MAX)
            admission_err(r, FE_TOO_LONG, NULL, "must have at most 64 bytes (RFC 5280 ub-common-name)", "%s",
                          cn_path);
        bool found = false;
        for (size_t i = 0; i < ndns && !found; i++)
            found = strcmp(dns[i], cn) == 0;
        for (size_t i = 0; i < nips && !found; i++)
            found = x509_ip_equal(ips[i], cn);
        if (!found)
            admission_err_str(r, FE_INVALID, cn, "the common name must also be one of the DNS names or IP addresses",
                              "%s", cn_path);
    }
    if (ndns == 0 && nips == 0 && !(cn && *cn))
        admission_err(r, FE_REQUIRED, NULL, "at least one DNS name or IP address is required", "%s", none_path);
}

void validate_identifiers(admission_result_t *r, const char *dns_path, const jdoc_value_t *dns, const char *ip_path,
                          const jdoc_value_t *ips, const char *cn_path, const char *cn, const char *none_path)
{
    size_t nd = 0, ni = 0;
    const char **d = strings_of(r, dns_path, dns, &nd);
    const char **ip = strings_of(r, ip_path, ips, &ni);
    check_ids(r, dns_path, d, nd, ip_path, ip, ni, cn_path, cn, none_path);
    free(d);
    free(ip);
}

void validate_identifiers_c(admission_result_t *r, const char *dns_path, char *const *dns, size_t ndns,
                            const char *ip_path, char *const *ips, size_t nips, const char *cn_path, const char *cn,
                            const char *none_path)
{
    check_ids(r, dns_path, (const char *const *)dns, ndns, ip_path, (const char *const *)ips, nips, cn_path, cn,
              none_path);
}

void validate_spec_immutable(admission_result_t *r, const jdoc_value_t *oldobj, const jdoc_value_t *newobj, const char *kind)
{
    const jdoc_value_t *os = jdoc_get(oldobj, "spec"), *ns = jdoc_get(newobj, "spec"); /* borrowed */
    if (!os && !ns)
        return;
    if (!os || !ns || !jdoc_is(os, JDOC_OBJECT) || !jdoc_is(ns, JDOC_OBJECT)) {
        if (!(os && ns && jdoc_equal(os, ns)))
            admission_err(r, FE_FORBIDDEN, NULL, "field is immutable", "spec");
        return;
    }
    char detail[160];
    VPATH(detail, "%s spec is immutable after creation; delete the %s to retry", kind, kind);
    /* keys by their stored length: one with a \u0000 must not pass for its prefix */
    size_t kl;
    for (size_t i = 0; i < jdoc_len(os); i++) {
        const char *k = jdoc_key_at(os, i, &kl);
        if (!jdoc_equal(jdoc_at(os, i), jdoc_getn(ns, k, kl)))
            admission_err(r, FE_FORBIDDEN, NULL, detail, "spec.%s", k);
    }
    for (size_t i = 0; i < jdoc_len(ns); i++) {
        const char *k = jdoc_key_at(ns, i, &kl);
        if (!jdoc_getn(os, k, kl) && !jdoc_is(jdoc_at(ns, i), JDOC_NULL))
            admission_err(r, FE_FORBIDDEN, NULL, detail, "spec.%s", k);
    }
}
