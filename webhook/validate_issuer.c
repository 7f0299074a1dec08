/* SPDX-License-Identifier: Apache-2.0 */
/* Issuer / ClusterIssuer admission: behaviour reference §2.3 plus kacme's CA-footgun checks. */
#include "util/base64.h"
#include "util/duration.h"
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csr.h"
#include "x509/names.h"

static bool set(const jdoc_value_t *o, const char *k)
{
    return !vjempty(o, k);
}

/* Required name (and key when need_key) of a SecretKeySelector at path. */
static void secret_ref(admission_result_t *r, const jdoc_value_t *ref, const char *path, bool need_key)
{
    if (vjempty(ref, "name"))
        admission_err(r, FE_REQUIRED, NULL, "secret name is required", "%s.name", path);
    if (need_key && vjempty(ref, "key"))
        admission_err(r, FE_REQUIRED, NULL, "secret key is required", "%s.key", path);
}

static void secret_ref_at(admission_result_t *r, const jdoc_value_t *parent, const char *key, const char *path, bool need_key)
{
    char p[256];
    VPATH(p, "%s.%s", path, key);
    secret_ref(r, jdoc_get(parent, key), p, need_key);
}

static bool is_dns1123_subdomain(const char *s)
{
    size_t l = strlen(s);
    if (l == 0 || l > 253)
        return false;
    for (size_t i = 0; i < l; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[l - 1]);
}

/* host[:port] with IPv6 in brackets; port 1..65535. */
static bool host_port_ok(const char *s, bool port_required)
{
    const char *host_end;
    const char *port = NULL;
    if (!s || !*s)
        return false;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return false;
        char buf[64];
        size_t hl = (size_t)(rb - s - 1);
        if (hl == 0 || hl >= sizeof(buf))
            return false;
        memcpy(buf, s + 1, hl);
        buf[hl] = '\0';
        unsigned char b[16];
        if (x509_ip_parse(buf, b) != 6)
            return false;
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb[1] != '\0')
            return false;
    } else {
        host_end = strchr(s, ':');
        if (host_end) {
            if (strchr(host_end + 1, ':'))
                return false; /* bare IPv6 must be bracketed */
            port = host_end + 1;
            if (host_end == s)
                return false;
        }
    }
    if (!port)
        return !port_required;
    if (!*port || strlen(port) > 5)
        return false;
    for (const char *p = port; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    long v = strtol(port, NULL, 10);
    return v >= 1 && v <= 65535;
}

static void service_type(admission_result_t *r, const jdoc_value_t *o, const char *path)
{
    const char *st = vjstr(o, "serviceType");
    if (st && *st && strcmp(st, "ClusterIP") != 0 && strcmp(st, "NodePort") != 0)
        admission_err_str(r, FE_NOT_SUPPORTED, st, "\"ClusterIP\", \"NodePort\"", "%s.serviceType", path);
}

static void http01(admission_result_t *r, const jdoc_value_t *h, const char *path)
{
    const jdoc_value_t *ing = jdoc_get(h, "ingress"), *gw = jdoc_get(h, "gatewayHTTPRoute");
    if (!ing && !gw) {
        admission_err(r, FE_REQUIRED, NULL, "one of ingress or gatewayHTTPRoute must be set", "%s", path);
        return;
    }
    if (ing && gw)
        admission_err(r, FE_FORBIDDEN, NULL, "only one of ingress or gatewayHTTPRoute may be set", "%s.gateway",
                      path);
    if (ing) {
        char p[256];
        VPATH(p, "%s.ingress", path);
        int n = set(ing, "class") + set(ing, "ingressClassName") + set(ing, "name");
        if (n > 1)
            admission_err(r, FE_FORBIDDEN, NULL, "only one of 'ingressClassName', 'name' or 'class' should be specified",
                          "%s", p);
        const char *icn = vjstr(ing, "ingressClassName");
        if (icn && *icn && !is_dns1123_subdomain(icn))
            admission_err_str(r, FE_INVALID, icn, "must be a DNS-1123 subdomain", "%s.ingressClassName", p);
        service_type(r, ing, p);
    }
    if (gw) {
        char p[256];
        VPATH(p, "%s.gateway", path);
        service_type(r, gw, p);
        /* allowed (existing manifests apply unchanged), but said now rather than as a PresentError later */
        admission_warn(r, "%s.gatewayHTTPRoute: kacme does not implement Gateway API HTTP-01 solvers yet; Challenges "
                          "using this solver will fail (use http01.ingress)", path);
        const jdoc_value_t *prs = jdoc_get(gw, "parentRefs");
        for (size_t i = 0; prs && jdoc_is(prs, JDOC_ARRAY) && i < jdoc_len(prs); i++) {
            const jdoc_value_t *pr = jdoc_at(prs, i);
            if (set(pr, "kind") && !set(pr, "name")) {
                admission_err(r, FE_REQUIRED, NULL, "name is required when kind is set", "%s.parentRefs[%zu].name", p, i);
                break;
            }
            if (set(pr, "name") && !set(pr, "kind")) {
                admission_err(r, FE_REQUIRED, NULL, "kind is required when name is set", "%s.parentRefs[%zu].kind", p, i);
                break;
            }
        }
    }
}

static const char *const providers[] = {"akamai",  "cloudDNS", "cloudflare", "route53", "azureDNS",
                                        "digitalocean", "acmeDNS", "rfc2136", "webhook"};

static void dns01_provider(admission_result_t *r, const char *name, const jdoc_value_t *v, const char *p)
{
    if (strcmp(name, "akamai") == 0) {
        if (vjempty(v, "serviceConsumerDomain"))
            admission_err(r, FE_REQUIRED, NULL, NULL, "%s.serviceConsumerDomain", p);
        secret_ref_at(r, v, "clientTokenSecretRef", p, true);
        secret_ref_at(r, v, "clientSecretSecretRef", p, true);
        secret_ref_at(r, v, "accessTokenSecretRef", p, true);
    } else if (strcmp(name, "cloudDNS") == 0) {
        if (vjempty(v, "project"))
            admission_err(r, FE_REQUIRED, NULL, NULL, "%s.project", p);
        if (jdoc_get(v, "serviceAccountSecretRef"))
            secret_ref_at(r, v, "serviceAccountSecretRef", p, true);
    } else if (strcmp(name, "cloudflare") == 0) {
        bool k = jdoc_get(v, "apiKeySecretRef") != NULL, t = jdoc_get(v, "apiTokenSecretRef") != NULL;
        if (k && t)
            admission_err(r, FE_FORBIDDEN, NULL, "apiKeySecretRef and apiTokenSecretRef cannot both be specified", "%s",
                          p);
        else if (!k && !t)
            admission_err(r, FE_REQUIRED, NULL, "apiKeySecretRef or apiTokenSecretRef is required", "%s", p);
        if (k) {
            secret_ref_at(r, v, "apiKeySecretRef", p, true);
            if (vjempty(v, "email"))
                admission_err(r, FE_REQUIRED, NULL, "email is required when using an API key", "%s.email", p);
        }
        if (t)
            secret_ref_at(r, v, "apiTokenSecretRef", p, true);
    } else if (strcmp(name, "route53") == 0) {
        if (set(v, "accessKeyID") && jdoc_get(v, "accessKeyIDSecretRef"))
            admission_err(r, FE_FORBIDDEN, NULL, "accessKeyID and accessKeyIDSecretRef cannot both be specified",
                          "%s.accessKeyIDSecretRef", p);
        if (jdoc_get(v, "accessKeyIDSecretRef"))
            secret_ref_at(r, v, "accessKeyIDSecretRef", p, true);
        if (jdoc_get(v, "secretAccessKeySecretRef"))
            secret_ref_at(r, v, "secretAccessKeySecretRef", p, true);
    } else if (strcmp(name, "azureDNS") == 0) {
        int n = set(v, "clientID") + (jdoc_get(v, "clientSecretSecretRef") != NULL) + set(v, "tenantID");
        const jdoc_value_t *mi = jdoc_get(v, "managedIdentity");
        if (n != 0 && n != 3)
            admission_err(r, FE_REQUIRED, NULL, "clientID, clientSecretSecretRef and tenantID must all be set or all be empty",
                          "%s", p);
        if (n > 0 && mi)
            admission_err(r, FE_FORBIDDEN, NULL, "managedIdentity cannot be used with a service principal",
                          "%s.managedIdentity", p);
        if (jdoc_get(v, "clientSecretSecretRef"))
            secret_ref_at(r, v, "clientSecretSecretRef", p, true);
        if (mi) {
            if (set(mi, "clientID") && set(mi, "resourceID"))
                admission_err(r, FE_FORBIDDEN, NULL, "managedIdentity clientID and resourceID cannot both be specified",
                              "%s.managedIdentity", p);
            if (set(mi, "tenantID") && set(mi, "resourceID"))
                admission_err(r, FE_FORBIDDEN, NULL, "managedIdentity tenantID and resourceID cannot both be specified",
                              "%s.managedIdentity", p);
            if (set(mi, "tenantID") && !set(mi, "clientID"))
                admission_err(r, FE_REQUIRED, NULL, "managedIdentity tenantID needs clientID",
                              "%s.managedIdentity.clientID", p);
        }
        if (vjempty(v, "subscriptionID"))
            admission_err(r, FE_REQUIRED, NULL, NULL, "%s.subscriptionID", p);
        if (vjempty(v, "resourceGroupName"))
            admission_err(r, FE_REQUIRED, NULL, NULL, "%s.resourceGroupName", p);
        const char *env = vjstr(v, "environment");
        if (env && *env && strcmp(env, "AzurePublicCloud") && strcmp(env, "AzureChinaCloud") &&
            strcmp(env, "AzureGermanCloud") && strcmp(env, "AzureUSGovernmentCloud"))
            admission_err_str(r, FE_NOT_SUPPORTED, env,
                              "\"AzurePublicCloud\", \"AzureChinaCloud\", \"AzureGermanCloud\", \"AzureUSGovernmentCloud\"",
                              "%s.environment", p);
    } else if (strcmp(name, "digitalocean") == 0) {
        secret_ref_at(r, v, "tokenSecretRef", p, true);
    } else if (strcmp(name, "acmeDNS") == 0) {
        secret_ref_at(r, v, "accountSecretRef", p, true);
        if (vjempty(v, "host"))
            admission_err(r, FE_REQUIRED, NULL, NULL, "%s.host", p);
    } else if (strcmp(name, "rfc2136") == 0) {
        const char *ns = vjstr(v, "nameserver");
        if (!ns || !*ns)
            admission_err(r, FE_REQUIRED, NULL, NULL, "%s.nameserver", p);
        else if (!host_port_ok(ns, false))
            admission_err_str(r, FE_INVALID, ns, "must be host[:port] (IPv6 addresses in brackets)", "%s.nameserver",
                              p);
        const char *alg = vjstr(v, "tsigAlgorithm");
        if (alg && *alg && strcasecmp(alg, "HMACMD5") && strcasecmp(alg, "HMACSHA1") && strcasecmp(alg, "HMACSHA256") &&
            strcasecmp(alg, "HMACSHA512"))
            admission_err_str(r, FE_NOT_SUPPORTED, alg, "\"HMACMD5\", \"HMACSHA1\", \"HMACSHA256\", \"HMACSHA512\"",
                              "%s.tsigAlgorithm", p);
        const jdoc_value_t *sr = jdoc_get(v, "tsigSecretSecretRef");
        if (set(v, "tsigKeyName"))
            secret_ref_at(r, v, "tsigSecretSecretRef", p, true);
        else if (set(sr, "name") && set(sr, "key"))
            admission_err(r, FE_REQUIRED, NULL, "tsigKeyName is required when tsigSecretSecretRef is set",
                          "%s.tsigKeyName", p);
    } else if (strcmp(name, "webhook") == 0) {
        if (vjempty(v, "solverName"))
            admission_err(r, FE_REQUIRED, NULL, NULL, "%s.solverName", p);
        if (vjempty(v, "groupName"))
            admission_err(r, FE_REQUIRED, NULL, NULL, "%s.groupName", p);
    }
}

static void dns01(admission_result_t *r, const jdoc_value_t *d, const char *path)
{
    const char *cs = vjstr(d, "cnameStrategy");
    if (cs && *cs && strcmp(cs, "None") != 0 && strcmp(cs, "Follow") != 0)
        admission_err_str(r, FE_NOT_SUPPORTED, cs, "\"None\", \"Follow\"", "%s.cnameStrategy", path);
    const jdoc_value_t *nss = jdoc_get(d, "nameservers");
    for (size_t i = 0; nss && jdoc_is(nss, JDOC_ARRAY) && i < jdoc_len(nss); i++) {
        const char *s = jdoc_string(jdoc_at(nss, i));
        bool ok = s && (strncmp(s, "https://", 8) == 0 ? strlen(s) > 8 : host_port_ok(s, true));
        if (!ok)
            admission_err_str(r, FE_INVALID, s ? s : "", "must be host:port or an https:// DNS-over-HTTPS URL",
                              "%s.nameservers[%zu]", path, i);
    }
    int count = 0;
    for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
        const jdoc_value_t *v = jdoc_get(d, providers[i]);
        if (!v)
            continue;
        char p[256];
        VPATH(p, "%s.%s", path, providers[i]);
        if (count++ > 0) {
            admission_err(r, FE_FORBIDDEN, NULL, "may not specify more than one provider type", "%s", p);
            continue;
        }
        dns01_provider(r, providers[i], v, p);
        if (strcmp(providers[i], "rfc2136") != 0 && strcmp(providers[i], "webhook") != 0)
            admission_warn(r, "%s: kacme does not implement the %s DNS-01 provider yet; Challenges using this "
                              "solver will fail (rfc2136 and webhook solvers are implemented)", p, providers[i]);
    }
    if (count == 0)
        admission_err(r, FE_REQUIRED, NULL, "no DNS01 provider specified", "%s", path);
}

static void solver(admission_result_t *r, const jdoc_value_t *s, const char *path)
{
    const jdoc_value_t *h = jdoc_get(s, "http01"), *d = jdoc_get(s, "dns01");
    if (!h && !d)
        admission_err(r, FE_REQUIRED, NULL, "no solver type configured", "%s", path);
    else if (h && d)
        admission_err(r, FE_FORBIDDEN, NULL, "may not specify more than one solver type in a single solver",
                      "%s.dns01", path);
    char p[200];
    if (h) {
        VPATH(p, "%s.http01", path);
        http01(r, h, p);
    }
    if (d && !h) {
        VPATH(p, "%s.dns01", path);
        dns01(r, d, p);
    }
    const char *w = vjstr(s, "waitInsteadOfSelfCheck");
    double secs;
    if (w && *w && (util_parse_duration(w, &secs) < 0 || secs < 0))
        admission_err_str(r, FE_INVALID, w, "must be a non-negative duration", "%s.waitInsteadOfSelfCheck", path);
    const jdoc_value_t *sel = jdoc_get(s, "selector");
    const jdoc_value_t *names = jdoc_get(sel, "dnsNames");
    for (size_t i = 0; names && jdoc_is(names, JDOC_ARRAY) && i < jdoc_len(names);
         i++) {
        const char *n = jdoc_string(jdoc_at(names, i));
        const char *prob = x509_dns_name_problem(n, true);
        if (prob)
            admission_warn(r, "%s.selector.dnsNames[%zu]: \"%.253s\" %s; this selector will never match a valid name",
                           path, i, n ? n : "", prob);
    }
}

static bool email_ok(const char *e)
{
    const char *at = strchr(e, '@');
    if (!at || at == e || !at[1] || strchr(at + 1, '@'))
        return false;
    for (const char *p = e; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == ',' || *p == '<' || *p == '>' || (unsigned char)*p >= 0x7f)
            return false;
    return strchr(at + 1, '.') != NULL;
}

static void acme(admission_result_t *r, const jdoc_value_t *a)
{
    const char *cab = vjstr(a, "caBundle");
    const jdoc_value_t *skip = jdoc_get(a, "skipTLSVerify");
    bool skipping = skip && jdoc_is(skip, JDOC_BOOL) && jdoc_bool(skip);
    /* A bundle can be large: errors show its size, not its content. */
    char cab_summary[64] = "";
    if (cab)
        snprintf(cab_summary, sizeof(cab_summary), "<%zu bytes of base64>", strlen(cab));
    if (cab && *cab && skipping) {
        admission_err_str(r, FE_INVALID, cab_summary, "caBundle and skipTLSVerify are mutually exclusive",
                          "spec.acme.caBundle");
        admission_err(r, FE_INVALID, skip, "caBundle and skipTLSVerify are mutually exclusive",
                      "spec.acme.skipTLSVerify");
    }
    if (cab && *cab) {
        unsigned char *b = NULL;
        size_t l = 0;
        if (util_base64_decode(cab, WEBHOOK_B64_MAX, &b, &l) < 0 || !wcsr_pem_has_cert(b, l))
            admission_err_str(r, FE_INVALID, cab_summary, "must contain at least one valid PEM-encoded certificate",
                              "spec.acme.caBundle");
        free(b);
    }
    const jdoc_value_t *pk = jdoc_get(a, "privateKeySecretRef");
    if (vjempty(pk, "name"))
        admission_err(r, FE_REQUIRED, NULL, "private key secret name is a required field",
                      "spec.acme.privateKeySecretRef.name");
    const char *server = vjstr(a, "server");
    if (!server || !*server)
        admission_err(r, FE_REQUIRED, NULL, "ACME server URL is a required field", "spec.acme.server");
    else if (strncmp(server, "https://", 8) != 0) {
        if (strncmp(server, "http://", 7) == 0)
            admission_warn(r, "spec.acme.server: %.200s is not an https URL; ACME (RFC 8555 §6.1) requires HTTPS",
                           server);
        else
            admission_err_str(r, FE_INVALID, server, "must be an https:// ACME directory URL", "spec.acme.server");
    } else if (strstr(server, "acme-v01.api.letsencrypt.org") || strstr(server, "acme-staging.api.letsencrypt.org")) {
        admission_err_str(r, FE_INVALID, server,
                          "ACME v1 is gone; use https://acme-v02.api.letsencrypt.org/directory (or the staging "
                          "v02 URL)", "spec.acme.server");
    }
    const char *email = vjstr(a, "email");
    if (email && *email && !email_ok(email))
        admission_err_str(r, FE_INVALID, email, "must be a plain email address (user@example.com)", "spec.acme.email");
    const char *pc = vjstr(a, "preferredChain");
    if (pc && strlen(pc) > 64)
        admission_err(r, FE_TOO_LONG, NULL, "may not be more than 64 bytes", "spec.acme.preferredChain");
    const jdoc_value_t *eab = jdoc_get(a, "externalAccountBinding");
    if (eab) {
        if (vjempty(eab, "keyID"))
            admission_err(r, FE_REQUIRED, NULL, NULL, "spec.acme.externalAccountBinding.keyID");
        secret_ref(r, jdoc_get(eab, "keySecretRef"), "spec.acme.externalAccountBinding.keySecretRef", true);
        if (!vjempty(eab, "keyAlgorithm"))
            admission_warn(r, "spec.acme.externalAccountBinding.keyAlgorithm field is deprecated and is ignored: "
                              "HS256 is always used");
    }
    const jdoc_value_t *sol = jdoc_get(a, "solvers");
    for (size_t i = 0; sol && jdoc_is(sol, JDOC_ARRAY) && i < jdoc_len(sol); i++) {
        char p[64];
        VPATH(p, "spec.acme.solvers[%zu]", i);
        solver(r, jdoc_at(sol, i), p);
    }
}

void validate_issuer(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj, const admission_user_t *user,
                     const admission_policy_t *policy, admission_result_t *r)
{
    (void)oldobj;
    (void)user;
    (void)policy;
    if (op != ADMISSION_CREATE && op != ADMISSION_UPDATE)
        return;
    const jdoc_value_t *spec = jdoc_get(newobj, "spec");
    static const char *const types[] = {"acme", "ca", "selfSigned", "vault", "venafi"};
    int count = 0;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (!jdoc_get(spec, types[i]))
            continue;
        if (count++ > 0)
            admission_err(r, FE_FORBIDDEN, NULL, "may not specify more than one issuer type", "spec.%s", types[i]);
    }
    if (count == 0) {
        admission_err(r, FE_REQUIRED, NULL, "at least one issuer must be configured", "spec");
        return;
    }
    const jdoc_value_t *a = jdoc_get(spec, "acme");
    if (a)
        acme(r, a);
    const jdoc_value_t *ca = jdoc_get(spec, "ca");
    if (ca && !a && vjempty(ca, "secretName"))
        admission_err(r, FE_REQUIRED, NULL, NULL, "spec.ca.secretName");
}
