/* SPDX-License-Identifier: Apache-2.0 */
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "x509/names.h"

json_object *vjget(json_object *obj, const char *key)
{
    json_object *v = NULL; /* borrowed */
    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

const char *vjstr(json_object *obj, const char *key)
{
    json_object *v = vjget(obj, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool vjempty(json_object *obj, const char *key)
{
    json_object *v = vjget(obj, key);
    if (!v)
        return true;
    switch (json_object_get_type(v)) {
    case json_type_null: return true;
    case json_type_string: return json_object_get_string_len(v) == 0;
    case json_type_array: return json_object_array_length(v) == 0;
    case json_type_object: return json_object_object_length(v) == 0;
    default: return false;
    }
}

static size_t jlen(json_object *a)
{
    return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* Collects string items of a JSON array (borrowed pointers); non-strings become "" and are reported. */
static const char **strings_of(admission_result_t *r, const char *path, json_object *a, size_t *n)
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
        json_object *it = json_object_array_get_idx(a, i);
        if (it && json_object_is_type(it, json_type_string))
            v[i] = json_object_get_string(it);
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

void validate_identifiers(admission_result_t *r, const char *dns_path, json_object *dns, const char *ip_path,
                          json_object *ips, const char *cn_path, const char *cn, const char *none_path)
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

void validate_spec_immutable(admission_result_t *r, json_object *oldobj, json_object *newobj, const char *kind)
{
    json_object *os = vjget(oldobj, "spec"), *ns = vjget(newobj, "spec"); /* borrowed */
    if (!os && !ns)
        return;
    if (!os || !ns || !json_object_is_type(os, json_type_object) || !json_object_is_type(ns, json_type_object)) {
        if (!(os && ns && json_object_equal(os, ns)))
            admission_err(r, FE_FORBIDDEN, NULL, "field is immutable", "spec");
        return;
    }
    char detail[160];
    VPATH(detail, "%s spec is immutable after creation; delete the %s to retry", kind, kind);
    json_object_object_foreach(os, k, ov) {
        json_object *nv = vjget(ns, k);
        if (!json_object_equal(ov, nv))
            admission_err(r, FE_FORBIDDEN, NULL, detail, "spec.%s", k);
    }
    json_object_object_foreach(ns, k2, nv2) {
        (void)nv2;
        if (!vjget(os, k2) && !json_object_is_type(nv2, json_type_null))
            admission_err(r, FE_FORBIDDEN, NULL, detail, "spec.%s", k2);
    }
}
