/* SPDX-License-Identifier: Apache-2.0 */
/* CertificateRequest admission: the CSR parses and its names pass the CA-footgun checks (kacme-decisions.md);
 * spec and the Approved/Denied conditions are immutable once set. Names taken from the CSR are reported under
 * the virtual paths spec.request.dnsNames[i], spec.request.ipAddresses[i] and spec.request.commonName. */
#include "util/base64.h"
#include "util/duration.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"

static const char *const usages[] = {
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth",
    "client auth", "code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel",
    "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc",
};

static const jdoc_value_t *condition(const jdoc_value_t *obj, const char *type)
{
    const jdoc_value_t *c = jdoc_get(jdoc_get(obj, "status"), "conditions");
    if (!c || !jdoc_is(c, JDOC_ARRAY))
        return NULL;
    for (size_t i = 0; i < jdoc_len(c); i++) {
        const jdoc_value_t *it = jdoc_at(c, i);
        const char *t = vjstr(it, "type");
        if (t && strcmp(t, type) == 0)
            return it;
    }
    return NULL;
}

static void conditions(const jdoc_value_t *oldobj, const jdoc_value_t *newobj, admission_result_t *r)
{
    const jdoc_value_t *na = condition(newobj, "Approved"), *nd = condition(newobj, "Denied");
    if (na && nd)
        admission_err(r, FE_FORBIDDEN, NULL, "a CertificateRequest cannot be both Approved and Denied",
                      "status.conditions");
    static const char *const types[] = {"Approved", "Denied"};
    for (size_t i = 0; i < 2 && oldobj; i++) {
        const jdoc_value_t *o = condition(oldobj, types[i]), *n = condition(newobj, types[i]);
        if (!o)
            continue;
        const char *os = vjstr(o, "status"), *ns = n ? vjstr(n, "status") : NULL;
        if (!n || strcmp(os ? os : "", ns ? ns : "") != 0) {
            char d[96];
            VPATH(d, "the %s condition cannot be removed or changed once set", types[i]);
            admission_err(r, FE_FORBIDDEN, NULL, d, "status.conditions");
        }
    }
}

void validate_certificaterequest(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj,
                                 const admission_user_t *user, const admission_policy_t *policy,
                                 admission_result_t *r)
{
    (void)user;
    (void)policy;
    if (op == ADMISSION_UPDATE) {
        if (oldobj)
            validate_spec_immutable(r, oldobj, newobj, "CertificateRequest");
        conditions(oldobj, newobj, r);
        return;
    }
    if (op != ADMISSION_CREATE)
        return;
    conditions(NULL, newobj, r);
    const jdoc_value_t *spec = jdoc_get(newobj, "spec");
    if (!spec || !jdoc_is(spec, JDOC_OBJECT)) {
        admission_err(r, FE_REQUIRED, NULL, NULL, "spec");
        return;
    }
    const jdoc_value_t *ref = jdoc_get(spec, "issuerRef");
    const char *name = vjstr(ref, "name");
    if (!name || !*name)
        admission_err(r, FE_REQUIRED, NULL, NULL, "spec.issuerRef.name");
    const jdoc_value_t *u = jdoc_get(spec, "usages");
    for (size_t i = 0; u && jdoc_is(u, JDOC_ARRAY) && i < jdoc_len(u); i++) {
        const jdoc_value_t *it = jdoc_at(u, i);
        const char *s = jdoc_string(it);
        bool ok = false;
        for (size_t k = 0; s && k < sizeof(usages) / sizeof(usages[0]) && !ok; k++)
            ok = strcmp(s, usages[k]) == 0;
        if (!ok)
            admission_err(r, FE_NOT_SUPPORTED, it, "see the KeyUsage enum of cert-manager.io/v1", "spec.usages[%zu]",
                          i);
    }
    const char *d = vjstr(spec, "duration");
    double secs;
    if (d && *d && (util_parse_duration(d, &secs) < 0 || secs <= 0))
        admission_err_str(r, FE_INVALID, d, "must be a positive duration such as \"2160h\"", "spec.duration");
    const char *req = vjstr(spec, "request");
    if (!req || !*req) {
        admission_err(r, FE_REQUIRED, NULL, NULL, "spec.request");
        return;
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (util_base64_decode(req, WEBHOOK_B64_MAX, &bytes, &len) < 0) {
        admission_err(r, FE_INVALID, NULL, "must be a base64-encoded PEM certificate request", "spec.request");
        return;
    }
    char err[160];
    wcsr_t *csr = wcsr_parse(bytes, len, err, sizeof(err));
    free(bytes);
    if (!csr) {
        admission_err(r, FE_INVALID, NULL, err, "spec.request");
        return;
    }
    validate_identifiers_c(r, "spec.request.dnsNames", csr->dns_names, csr->n_dns, "spec.request.ipAddresses",
                           csr->ip_addresses, csr->n_ip, "spec.request.commonName", csr->common_name,
                           "spec.request");
    wcsr_free(csr);
}
