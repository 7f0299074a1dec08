/* SPDX-License-Identifier: Apache-2.0 */
/* Order admission: kacme-decisions.md "Immutability" and behaviour reference §2.1 (set-once status). */
#include "util/base64.h"
#include "util/duration.h"
#include "validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "x509/names.h"

#define SET_ONCE "field cannot be changed once it has been set"

/* old non-empty and new differs (JSON equality; absent == null). The path (printf-formatted from fmt) is
 * only built for an error: this runs for every field of every authorization on each status write. */
static void set_once(admission_result_t *r, const jdoc_value_t *o, const jdoc_value_t *n, const char *key,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_once(admission_result_t *r, const jdoc_value_t *o, const jdoc_value_t *n, const char *key,
                     const char *fmt, ...)
{
    if (vjempty(o, key) || jdoc_equal(jdoc_get(o, key), jdoc_get(n, key)))
        return;
    char path[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    admission_err(r, FE_FORBIDDEN, NULL, SET_ONCE, "%s", path);
}

static size_t alen(const jdoc_value_t *a)
{
    return a && jdoc_is(a, JDOC_ARRAY) ? jdoc_len(a) : 0;
}

static void status_set_once(const jdoc_value_t *oldobj, const jdoc_value_t *newobj, admission_result_t *r)
{
    const jdoc_value_t *os = jdoc_get(oldobj, "status"), *ns = jdoc_get(newobj, "status"); /* borrowed */
    set_once(r, os, ns, "url", "status.url");
    set_once(r, os, ns, "finalizeURL", "status.finalizeURL");
    set_once(r, os, ns, "certificate", "status.certificate");
    const jdoc_value_t *oa = jdoc_get(os, "authorizations"), *na = jdoc_get(ns, "authorizations");
    size_t on = alen(oa);
    if (on == 0)
        return;
    if (alen(na) != on) {
        admission_err(r, FE_FORBIDDEN, NULL, SET_ONCE, "status.authorizations");
        return; /* guard: never index past the new list */
    }
    for (size_t i = 0; i < on; i++) {
        const jdoc_value_t *o = jdoc_at(oa, i), *n = jdoc_at(na, i);
        static const char *const keys[] = {"url", "identifier", "initialState"};
        for (size_t k = 0; k < 3; k++)
            set_once(r, o, n, keys[k], "status.authorizations[%zu].%s", i, keys[k]);
        const jdoc_value_t *ow = jdoc_get(o, "wildcard");
        if (ow && !jdoc_equal(ow, jdoc_get(n, "wildcard")))
            admission_err(r, FE_FORBIDDEN, NULL, SET_ONCE, "status.authorizations[%zu].wildcard", i);
        const jdoc_value_t *oc = jdoc_get(o, "challenges"), *nc = jdoc_get(n, "challenges");
        size_t ocn = alen(oc);
        if (ocn == 0)
            continue;
        if (alen(nc) != ocn) {
            admission_err(r, FE_FORBIDDEN, NULL, SET_ONCE, "status.authorizations[%zu].challenges", i);
            continue;
        }
        for (size_t j = 0; j < ocn; j++) {
            const jdoc_value_t *c0 = jdoc_at(oc, j), *c1 = jdoc_at(nc, j);
            static const char *const ck[] = {"url", "type", "token"};
            for (size_t k = 0; k < 3; k++)
                set_once(r, c0, c1, ck[k], "status.authorizations[%zu].challenges[%zu].%s", i, j, ck[k]);
        }
    }
}

static void issuer_ref(admission_result_t *r, const jdoc_value_t *spec)
{
    const jdoc_value_t *ref = jdoc_get(spec, "issuerRef");
    if (!ref || !jdoc_is(ref, JDOC_OBJECT)) {
        admission_err(r, FE_REQUIRED, NULL, NULL, "spec.issuerRef");
        return;
    }
    const char *name = vjstr(ref, "name"), *kind = vjstr(ref, "kind"), *group = vjstr(ref, "group");
    if (!name || !*name)
        admission_err(r, FE_REQUIRED, NULL, NULL, "spec.issuerRef.name");
    if (kind && *kind && strcmp(kind, "Issuer") != 0 && strcmp(kind, "ClusterIssuer") != 0)
        admission_err_str(r, FE_NOT_SUPPORTED, kind, "\"\", \"Issuer\", \"ClusterIssuer\"", "spec.issuerRef.kind");
    if (group && *group && strcmp(group, "cert-manager.io") != 0)
        admission_err_str(r, FE_NOT_SUPPORTED, group, "\"\", \"cert-manager.io\"", "spec.issuerRef.group");
}

/* Builds the list of strings of a JSON array (borrowed); returns count. */
static size_t strs(const jdoc_value_t *a, const char ***out)
{
    size_t n = alen(a);
    *out = NULL;
    if (!n)
        return 0;
    *out = calloc(n, sizeof(**out));
    if (!*out)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = jdoc_string(jdoc_at(a, i));
        (*out)[i] = s ? s : "";
    }
    return n;
}

static void csr_matches(admission_result_t *r, const jdoc_value_t *spec)
{
    const char *req = vjstr(spec, "request");
    if (!req || !*req) {
        admission_err(r, FE_REQUIRED, NULL, NULL, "spec.request");
        return;
    }
    unsigned char *der = NULL;
    size_t derlen = 0;
    if (util_base64_decode(req, WEBHOOK_B64_MAX, &der, &derlen) < 0) {
        admission_err(r, FE_INVALID, NULL, "must be base64-encoded CSR bytes", "spec.request");
        return;
    }
    char err[160];
    wcsr_t *csr = wcsr_parse(der, derlen, err, sizeof(err));
    free(der);
    if (!csr) {
        admission_err(r, FE_INVALID, NULL, err, "spec.request");
        return;
    }
    const char *cn = vjstr(spec, "commonName");
    const char *ccn = csr->common_name;
    if (strcmp(cn ? cn : "", ccn ? ccn : "") != 0)
        admission_err_str(r, FE_INVALID, cn ? cn : "", "must equal the common name of the CSR in spec.request",
                          "spec.commonName");
    /* Expected names: the CSR's SANs plus its CN (cert-manager adds a CN missing from the SANs). */
    const char **dns = NULL, **ips = NULL;
    size_t nd = strs(jdoc_get(spec, "dnsNames"), &dns), ni = strs(jdoc_get(spec, "ipAddresses"), &ips);
    size_t ed = csr->n_dns, ei = csr->n_ip;
    const char **edns = calloc(ed + 1, sizeof(*edns)), **eips = calloc(ei + 1, sizeof(*eips));
    if (edns && eips) {
        for (size_t i = 0; i < ed; i++)
            edns[i] = csr->dns_names[i];
        for (size_t i = 0; i < ei; i++)
            eips[i] = csr->ip_addresses[i];
        unsigned char b[16];
        if (ccn && *ccn) {
            if (x509_ip_parse(ccn, b))
                eips[ei++] = ccn;
            else
                edns[ed++] = ccn;
        }
        /* the set comparisons are pairwise: only within the identifier cap (spec's own excess is reported by
         * validate_identifiers) */
        if (ed + ei > WEBHOOK_MAX_IDENTIFIERS) {
            char d[96];
            VPATH(d, "%zu: must have at most %u DNS names and IP addresses together", ed + ei,
                  WEBHOOK_MAX_IDENTIFIERS);
            admission_err(r, FE_TOO_MANY, NULL, d, "spec.request");
        } else if (nd + ni <= WEBHOOK_MAX_IDENTIFIERS) {
            if (!x509_dns_sets_equal(dns, nd, edns, ed))
                admission_err(r, FE_INVALID, jdoc_get(spec, "dnsNames"),
                              "must equal the DNS names of the CSR in spec.request (its subjectAltNames and common "
                              "name)", "spec.dnsNames");
            if (!x509_ip_sets_equal(ips, ni, eips, ei))
                admission_err(r, FE_INVALID, jdoc_get(spec, "ipAddresses"),
                              "must equal the IP addresses of the CSR in spec.request", "spec.ipAddresses");
        }
    }
    free(edns);
    free(eips);
    free(dns);
    free(ips);
    wcsr_free(csr);
}

void validate_order(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj, const admission_user_t *user,
                    const admission_policy_t *policy, admission_result_t *r)
{
    (void)user;
    (void)policy;
    if (op == ADMISSION_UPDATE) {
        if (!oldobj)
            return;
        validate_spec_immutable(r, oldobj, newobj, "Order");
        status_set_once(oldobj, newobj, r);
        return;
    }
    if (op != ADMISSION_CREATE)
        return;
    const jdoc_value_t *spec = jdoc_get(newobj, "spec");
    if (!spec || !jdoc_is(spec, JDOC_OBJECT)) {
        admission_err(r, FE_REQUIRED, NULL, NULL, "spec");
        return;
    }
    issuer_ref(r, spec);
    validate_identifiers(r, "spec.dnsNames", jdoc_get(spec, "dnsNames"), "spec.ipAddresses", jdoc_get(spec, "ipAddresses"),
                         "spec.commonName", vjstr(spec, "commonName"), "spec.dnsNames");
    csr_matches(r, spec);
    const char *d = vjstr(spec, "duration");
    double secs;
    if (d && *d && (util_parse_duration(d, &secs) < 0 || secs <= 0))
        admission_err_str(r, FE_INVALID, d, "must be a positive duration such as \"2160h\"", "spec.duration");
}
