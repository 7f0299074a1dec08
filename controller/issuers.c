/* SPDX-License-Identifier: Apache-2.0 */
/*
 * issuers / clusterissuers controllers: ACME account registration and the Ready condition
 * (cert-manager-behaviour.md §8.2; the step numbers below are §8.2's).
 */
#include "util/base64.h"
#include "issuers.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accounts.h"
#include "acme/acme.h"
#include "acme/acme_key.h"
#include "util/log.h"

#define READY "Ready"
#define REASON_REGISTERED "ACMEAccountRegistered"
#define MSG_REGISTERED "The ACME account was registered with the ACME server"
#define DEFAULT_KEY_ENTRY "tls.key"
#define SECRET_VALUE_MAX (64 * 1024)   /* account keys and EAB MAC keys are far smaller */
#define CA_BUNDLE_MAX (1024 * 1024)    /* decoded spec.acme.caBundle */
/* Secret-related permanent errors are re-checked this often: Secrets are not watched (kacme never caches
 * them), so a fixed Secret would otherwise go unnoticed until the issuer itself changes. No ACME call is
 * made before the Secret is good, so this cannot load the CA. */
#define SECRET_RECHECK_MS (5 * 60 * 1000)
/* A Ready issuer is synced again this often, for the same reason: a replaced or deleted account key Secret
 * is noticed without watching Secrets. The re-sync is one Secret GET (the fast path makes no ACME call). */
#define READY_RESYNC_MS (10 * 60 * 1000)

/* ---- pure helpers ---- */

const char *ctrl_issuers_le_v1_replacement(const char *server)
{
    static const struct {
        const char *v1, *v2;
    } urls[] = {
        {"https://acme-v01.api.letsencrypt.org/directory", "https://acme-v02.api.letsencrypt.org/directory"},
        {"https://acme-staging.api.letsencrypt.org/directory",
         "https://acme-staging-v02.api.letsencrypt.org/directory"},
    };
    if (!server)
        return NULL;
    size_t n = strlen(server);
    if (n > 0 && server[n - 1] == '/')
        n--;
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        if (strlen(urls[i].v1) == n && strncmp(server, urls[i].v1, n) == 0)
            return urls[i].v2;
    return NULL;
}

int ctrl_issuers_url_host(const char *url, char *buf, size_t len)
{
    if (!buf || len == 0)
        return -1;
    buf[0] = '\0';
    if (!url)
        return -1;
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return -1;
    size_t n = strcspn(p, "/?#");
    /* userinfo is not part of the host */
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n == 0 || n >= len)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c == 0x7f)
            return -1;
        buf[i] = (char)tolower(c);
    }
    buf[n] = '\0';
    return 0;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

bool ctrl_issuers_fast_path(json_object *issuer, const char *key_hash)
{
    json_object *ready = ctrl_condition(issuer, READY);
    if (!ready || strcmp(str_or_empty(ctrl_str(ready, "status")), "True") != 0)
        return false;
    const char *uri = ctrl_str(issuer, "status.acme.uri");
    const char *server = ctrl_str(issuer, "spec.acme.server");
    if (!uri || !*uri || !server)
        return false;
    char h1[256], h2[256];
    if (ctrl_issuers_url_host(uri, h1, sizeof h1) < 0 || ctrl_issuers_url_host(server, h2, sizeof h2) < 0 ||
        strcmp(h1, h2) != 0)
        return false;
    if (strcmp(str_or_empty(ctrl_str(issuer, "status.acme.lastRegisteredEmail")),
               str_or_empty(ctrl_str(issuer, "spec.acme.email"))) != 0)
        return false;
    const char *h = ctrl_str(issuer, "status.acme.lastPrivateKeyHash");
    return h && key_hash && *key_hash && strcmp(h, key_hash) == 0;
}

/* ---- the sync ---- */

enum setup_kind {
    SETUP_OK = 0,
    SETUP_NORETRY,     /* written to Ready; wait for the next change */
    SETUP_RETRY,       /* written to Ready; retry with the queue's backoff */
    SETUP_AFTER        /* written to Ready; requeue after after_ms */
};

typedef struct setup_res {
    enum setup_kind kind;
    int64_t after_ms;
    const char *reason; /* Ready=False reason */
    const char *event;  /* an extra Warning event reason (besides ErrInitIssuer) or NULL */
    char msg[768];
} setup_res_t;

static void fail(setup_res_t *r, enum setup_kind kind, const char *reason, const char *event, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));
static void fail(setup_res_t *r, enum setup_kind kind, const char *reason, const char *event, const char *fmt,
                 ...)
{
    r->kind = kind;
    r->reason = reason;
    r->event = event;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

/* The acme error as a setup failure of the given reason: TERMINAL → no retry, RETRY_AFTER → requeue,
 * anything else → backoff. */
static void fail_acme(setup_res_t *r, const char *reason, const char *event, const char *what,
                      const acme_error_t *e)
{
    char detail[640];
    acme_error_format(e, detail, sizeof detail);
    enum setup_kind k = e->kind == ACME_ERR_TERMINAL ? SETUP_NORETRY
                        : e->kind == ACME_ERR_RETRY_AFTER ? SETUP_AFTER
                                                          : SETUP_RETRY;
    fail(r, k, reason, event, "%s: %s", what, detail);
    if (k == SETUP_AFTER)
        r->after_ms = e->retry_after_ms > 0 ? e->retry_after_ms : 60000;
}

/* Secret data[entry] decoded into *out (malloc'd, NUL-terminated; caller frees after cleansing). 0, or -1
 * when the entry is missing, empty or not base64. */
static int secret_value(json_object *secret, const char *entry, unsigned char **out, size_t *outlen)
{
    json_object *data = ctrl_get(secret, "data"), *v = NULL;
    if (!data || !json_object_object_get_ex(data, entry, &v) || !json_object_is_type(v, json_type_string))
        return -1;
    if (util_base64_decode(json_object_get_string(v), SECRET_VALUE_MAX, out, outlen) < 0)
        return -1;
    if (*outlen == 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static void cleanse_free(unsigned char *p, size_t n)
{
    if (p) {
        explicit_bzero(p, n);
        free(p);
    }
}

static json_object *status_acme(json_object *obj)
{
    json_object *status = NULL, *acme = NULL;
    if (!json_object_object_get_ex(obj, "status", &status) || !json_object_is_type(status, json_type_object)) {
        status = json_object_new_object();
        json_object_object_add(obj, "status", status);
    }
    if (!json_object_object_get_ex(status, "acme", &acme) || !json_object_is_type(acme, json_type_object)) {
        acme = json_object_new_object();
        json_object_object_add(status, "acme", acme);
    }
    return acme;
}

/* Creates the account key Secret with a fresh RSA 2048 key (PKCS#1 PEM, as cert-manager writes it).
 * Returns the key, or NULL with r filled. */
static acme_key_t *create_key_secret(ctrl_ctx_t *ctx, const char *ns, const char *name, const char *entry,
                                     setup_res_t *r)
{
    char err[256] = "";
    acme_key_t *key = acme_key_generate(ACME_KEY_RSA, 2048, err, sizeof err);
    if (!key) {
        fail(r, SETUP_RETRY, "ErrRegisterACMEAccount", NULL, "Failed to generate an ACME account key: %s", err);
        return NULL;
    }
    char *pem = NULL;
    size_t pemlen = 0;
    if (acme_key_to_pem(key, &pem, &pemlen) < 0) {
        fail(r, SETUP_RETRY, "ErrRegisterACMEAccount", NULL, "Failed to encode the generated ACME account key");
        acme_key_free(key);
        return NULL;
    }
    json_object *secret = json_object_new_object(), *meta = json_object_new_object(),
                *labels = json_object_new_object(), *sdata = json_object_new_object();
    json_object_object_add(secret, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(secret, "kind", json_object_new_string("Secret"));
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(meta, "namespace", json_object_new_string(ns));
    json_object_object_add(labels, CTRL_ISSUER_MANAGED_BY_LABEL, json_object_new_string(CTRL_ISSUER_MANAGED_BY_VALUE));
    json_object_object_add(meta, "labels", labels);
    json_object_object_add(secret, "metadata", meta);
    json_object_object_add(secret, "type", json_object_new_string("Opaque"));
    /* stringData: the API server base64-encodes it into data */
    json_object_object_add(sdata, entry, json_object_new_string_len(pem, (int)pemlen));
    json_object_object_add(secret, "stringData", sdata);
    explicit_bzero(pem, pemlen);
    free(pem);

    kube_error_t ke;
    int rc = kube_create(ctx->kube, &KUBE_RES_SECRETS, ns, secret, NULL, &ke);
    /* the request body held the key: wipe the string before releasing it */
    json_object *v = NULL;
    if (json_object_object_get_ex(sdata, entry, &v)) {
        char *s = (char *)json_object_get_string(v);
        explicit_bzero(s, strlen(s));
    }
    json_object_put(secret);
    if (rc < 0) {
        char eb[600];
        /* AlreadyExists: somebody else created it meanwhile; the retry reads theirs */
        fail(r, SETUP_RETRY, "ErrRegisterACMEAccount", NULL,
             "Failed to create the ACME account key Secret %s/%s: %s", ns, name, kube_error_str(&ke, eb, sizeof eb));
        acme_key_free(key);
        return NULL;
    }
    LOG_INFO("generated a new ACME account key", "secret", name, "namespace", ns);
    return key;
}

/* Step 3: the account key. Returns the key or NULL with r filled. *generated is set when a new key was
 * created (status.acme.uri must then be cleared). */
static acme_key_t *load_account_key(ctrl_ctx_t *ctx, json_object *acme, const char *ns, setup_res_t *r,
                                    bool *generated)
{
    *generated = false;
    const char *name = ctrl_str(acme, "privateKeySecretRef.name");
    const char *entry = ctrl_str(acme, "privateKeySecretRef.key");
    if (!entry || !*entry)
        entry = DEFAULT_KEY_ENTRY;
    if (!name || !*name) {
        fail(r, SETUP_NORETRY, "InvalidConfig", NULL, "spec.acme.privateKeySecretRef.name must be set");
        return NULL;
    }
    json_object *secret = NULL;
    kube_error_t ke;
    char eb[600];
    if (kube_get(ctx->kube, &KUBE_RES_SECRETS, ns, name, &secret, &ke) < 0) {
        if (ke.type != KUBE_ERR_NOT_FOUND) {
            fail(r, SETUP_RETRY, "ErrVerifyACMEAccount", NULL, "Failed to read the ACME account key Secret %s/%s: %s",
                 ns, name, kube_error_str(&ke, eb, sizeof eb));
            return NULL;
        }
        if (ctrl_bool(acme, "disableAccountKeyGeneration", false)) {
            fail(r, SETUP_RETRY, "ErrVerifyACMEAccount", NULL,
                 "The ACME account key Secret %s/%s does not exist and spec.acme.disableAccountKeyGeneration is set",
                 ns, name);
            return NULL;
        }
        acme_key_t *k = create_key_secret(ctx, ns, name, entry, r);
        *generated = k != NULL;
        return k;
    }
    unsigned char *pem = NULL;
    size_t pemlen = 0;
    acme_key_t *key = NULL;
    if (secret_value(secret, entry, &pem, &pemlen) < 0) {
        fail(r, SETUP_AFTER, "ErrVerifyACMEAccount", NULL,
             "The ACME account key Secret %s/%s has no valid %s entry", ns, name, entry);
        r->after_ms = SECRET_RECHECK_MS;
        goto out;
    }
    char err[256] = "";
    key = acme_key_from_pem((const char *)pem, pemlen, err, sizeof err);
    if (!key) {
        fail(r, SETUP_AFTER, "ErrVerifyACMEAccount", NULL,
             "The ACME account key in Secret %s/%s (entry %s) is not usable: %s", ns, name, entry, err);
        r->after_ms = SECRET_RECHECK_MS;
    }
out:
    cleanse_free(pem, pemlen);
    json_object_put(secret);
    return key;
}

/* New client for the issuer's server with its TLS settings. NULL with r filled. */
static acme_client_t *new_client(ctrl_ctx_t *ctx, json_object *acme, acme_key_t *key, setup_res_t *r)
{
    const char *server = ctrl_str(acme, "server");
    const char *ca_b64 = ctrl_str(acme, "caBundle");
    unsigned char *ca = NULL;
    size_t calen = 0;
    if (ca_b64 && *ca_b64 && (util_base64_decode(ca_b64, CA_BUNDLE_MAX, &ca, &calen) < 0 || calen == 0)) {
        free(ca);
        fail(r, SETUP_NORETRY, "InvalidConfig", NULL, "spec.acme.caBundle is not a base64-encoded PEM bundle");
        return NULL;
    }
    acme_client_opts_t o = {
        .directory_url = server,
        .ca_pem = (const char *)ca,
        .insecure_skip_verify = ctrl_bool(acme, "skipTLSVerify", false),
        .user_agent = ctx->opts ? ctx->opts->user_agent : NULL,
        .metrics = ctrl_acme_metrics,
        .metrics_ud = ctx,
    };
    char err[256] = "";
    acme_client_t *c = acme_client_new(&o, key, err, sizeof err);
    free(ca);
    if (!c)
        fail(r, SETUP_NORETRY, "InvalidConfig", NULL, "Failed to set up the ACME client for %s: %s", server, err);
    return c;
}

/* Step 8: the EAB MAC key. Returns 0 (eab filled, *mac owned by the caller), 1 when no EAB is configured,
 * -1 with r filled. */
static int load_eab(ctrl_ctx_t *ctx, json_object *acme, const char *ns, acme_eab_t *eab, unsigned char **mac,
                    size_t *maclen, setup_res_t *r)
{
    json_object *b = ctrl_get(acme, "externalAccountBinding");
    if (!b)
        return 1;
    const char *kid = ctrl_str(b, "keyID");
    const char *name = ctrl_str(b, "keySecretRef.name");
    const char *entry = ctrl_str(b, "keySecretRef.key");
    if (!kid || !*kid || !name || !*name || !entry || !*entry) {
        fail(r, SETUP_NORETRY, "InvalidConfig", NULL,
             "spec.acme.externalAccountBinding needs keyID, keySecretRef.name and keySecretRef.key");
        return -1;
    }
    json_object *secret = NULL;
    kube_error_t ke;
    char eb[600];
    if (kube_get(ctx->kube, &KUBE_RES_SECRETS, ns, name, &secret, &ke) < 0) {
        if (ke.type == KUBE_ERR_NOT_FOUND) {
            fail(r, SETUP_AFTER, "ErrRegisterACMEAccount", "ErrRegisterACMEAccount",
                 "The external account binding Secret %s/%s does not exist", ns, name);
            r->after_ms = SECRET_RECHECK_MS;
        } else {
            fail(r, SETUP_RETRY, "ErrRegisterACMEAccount", NULL,
                 "Failed to read the external account binding Secret %s/%s: %s", ns, name,
                 kube_error_str(&ke, eb, sizeof eb));
        }
        return -1;
    }
    int rc = secret_value(secret, entry, mac, maclen);
    json_object_put(secret);
    if (rc < 0) {
        fail(r, SETUP_AFTER, "ErrRegisterACMEAccount", "ErrRegisterACMEAccount",
             "The external account binding Secret %s/%s has no valid %s entry", ns, name, entry);
        r->after_ms = SECRET_RECHECK_MS;
        return -1;
    }
    /* the value is the unpadded base64url MAC key as text; trailing newlines from `kubectl create
     * secret --from-file` are not part of it */
    while (*maclen > 0 && ((*mac)[*maclen - 1] == '\n' || (*mac)[*maclen - 1] == '\r'))
        (*mac)[--*maclen] = '\0';
    eab->kid = kid;
    eab->mac_key_b64url = (const char *)*mac;
    return 0;
}

/* Every Secret reference a DNS-01 provider can carry (the providers of the Issuer schema, not only those
 * kacme implements: a reference that cannot be satisfied is a configuration error either way). The webhook
 * provider's config is opaque to the controller and is not checked here. */
static const struct {
    const char *provider, *ref;
} DNS01_SECRET_REFS[] = {
    {"acmeDNS", "accountSecretRef"},
    {"akamai", "clientTokenSecretRef"},
    {"akamai", "clientSecretSecretRef"},
    {"akamai", "accessTokenSecretRef"},
    {"azureDNS", "clientSecretSecretRef"},
    {"cloudDNS", "serviceAccountSecretRef"},
    {"cloudflare", "apiKeySecretRef"},
    {"cloudflare", "apiTokenSecretRef"},
    {"digitalocean", "tokenSecretRef"},
    {"rfc2136", "tsigSecretSecretRef"},
    {"route53", "accessKeyIDSecretRef"},
    {"route53", "secretAccessKeySecretRef"},
};

/* Appends "; " (unless first) and the formatted problem to buf (truncating silently). */
static void append_problem(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append_problem(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n > 0 && n + 2 < len) {
        memcpy(buf + n, "; ", 3);
        n += 2;
    }
    if (n + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

/* Step 4: every Secret referenced by a DNS-01 solver must exist in ns and contain the referenced key (when
 * the reference names one). Missing Secrets or keys → Ready=False InvalidSolver with all problems joined by
 * "; " (permanent: re-checked after SECRET_RECHECK_MS, Secrets are not watched); an API error other than
 * NotFound → InvalidSolver, retried with backoff. Returns 0 when all are present, -1 with r filled. Only
 * existence is checked: whether the value works is the solver's business when it presents. */
static int check_dns01_secrets(ctrl_ctx_t *ctx, json_object *acme, const char *ns, setup_res_t *r)
{
    json_object *solvers = ctrl_get(acme, "solvers"); /* borrowed */
    if (!solvers || !json_object_is_type(solvers, json_type_array))
        return 0;
    char problems[sizeof r->msg] = "";
    size_t n = json_object_array_length(solvers);
    for (size_t i = 0; i < n; i++) {
        json_object *dns01 = ctrl_get(json_object_array_get_idx(solvers, i), "dns01"); /* borrowed */
        if (!dns01)
            continue;
        for (size_t j = 0; j < sizeof DNS01_SECRET_REFS / sizeof DNS01_SECRET_REFS[0]; j++) {
            json_object *prov = ctrl_get(dns01, DNS01_SECRET_REFS[j].provider); /* borrowed */
            json_object *ref = prov ? ctrl_get(prov, DNS01_SECRET_REFS[j].ref) : NULL;
            const char *name = ref ? ctrl_str(ref, "name") : NULL;
            if (!name || !*name)
                continue; /* absent or incomplete references are the webhook's to reject */
            const char *entry = ctrl_str(ref, "key");
            json_object *secret = NULL; /* owned */
            kube_error_t ke;
            if (kube_get(ctx->kube, &KUBE_RES_SECRETS, ns, name, &secret, &ke) < 0) {
                if (ke.type != KUBE_ERR_NOT_FOUND) {
                    char eb[400];
                    fail(r, SETUP_RETRY, "InvalidSolver", NULL,
                         "Failed to read Secret %s/%s referenced by spec.acme.solvers[%zu].dns01.%s.%s: %s", ns, name,
                         i, DNS01_SECRET_REFS[j].provider, DNS01_SECRET_REFS[j].ref, kube_error_str(&ke, eb, sizeof eb));
                    return -1;
                }
                append_problem(problems, sizeof problems,
                               "spec.acme.solvers[%zu].dns01.%s.%s: Secret %s/%s does not exist", i,
                               DNS01_SECRET_REFS[j].provider, DNS01_SECRET_REFS[j].ref, ns, name);
                continue;
            }
            json_object *data = ctrl_get(secret, "data"), *v = NULL; /* borrowed from secret */
            if (entry && *entry && (!data || !json_object_object_get_ex(data, entry, &v)))
                append_problem(problems, sizeof problems,
                               "spec.acme.solvers[%zu].dns01.%s.%s: Secret %s/%s has no key \"%s\"", i,
                               DNS01_SECRET_REFS[j].provider, DNS01_SECRET_REFS[j].ref, ns, name, entry);
            json_object_put(secret);
        }
    }
    if (!*problems)
        return 0;
    fail(r, SETUP_AFTER, "InvalidSolver", NULL, "%s", problems);
    r->after_ms = SECRET_RECHECK_MS;
    return -1;
}

/* The registered email: the first contact without "mailto:" ("" when none). */
static const char *registered_email(const acme_account_t *a)
{
    if (!a || a->n_contacts == 0 || !a->contacts[0])
        return "";
    const char *c = a->contacts[0];
    return strncasecmp(c, "mailto:", 7) == 0 ? c + 7 : c;
}

/* Steps 1-11 on obj (a private copy: status is edited in place). */
static void setup(ctrl_ctx_t *ctx, json_object *obj, bool cluster, const char *key, setup_res_t *r)
{
    memset(r, 0, sizeof *r);
    json_object *acme = ctrl_get(obj, "spec.acme");
    const char *uid = ctrl_str(obj, "metadata.uid");
    const char *server = ctrl_str(acme, "server");
    acme_key_t *akey = NULL;
    acme_client_t *client = NULL;
    acme_account_t *acct = NULL;
    unsigned char *mac = NULL;
    size_t maclen = 0;

    if (!uid || !*uid) {
        fail(r, SETUP_NORETRY, "InvalidConfig", NULL, "The issuer has no metadata.uid");
        goto out;
    }
    if (!server || !*server) {
        fail(r, SETUP_NORETRY, "InvalidConfig", NULL, "spec.acme.server must be set");
        goto out;
    }
    /* 1 */
    const char *v2 = ctrl_issuers_le_v1_replacement(server);
    if (v2) {
        fail(r, SETUP_NORETRY, "InvalidConfig", NULL,
             "The ACME server URL %s is a Let's Encrypt ACME v1 endpoint, which no longer works: set spec.acme.server "
             "to %s",
             server, v2);
        goto out;
    }
    /* 2, 3 */
    const char *ns = ctrl_issuer_resource_namespace(ctx, obj, cluster);
    if (!ns || !*ns) {
        fail(r, SETUP_NORETRY, "InvalidConfig", NULL,
             "No namespace for the issuer's Secrets (set --cluster-resource-namespace)");
        goto out;
    }
    bool generated = false;
    akey = load_account_key(ctx, acme, ns, r, &generated);
    if (!akey)
        goto out;
    if (generated) {
        json_object *sa = status_acme(obj);
        json_object_object_del(sa, "uri");
    }
    char hash[ACME_KEY_HASH_LEN];
    if (acme_key_hash(akey, hash) < 0) {
        fail(r, SETUP_NORETRY, "ErrVerifyACMEAccount", NULL, "Failed to hash the ACME account key");
        goto out;
    }
    /* 4 */
    if (check_dns01_secrets(ctx, acme, ns, r) < 0)
        goto out;
    /* 5 */
    char server_host[256], uri_host[256] = "";
    if (ctrl_issuers_url_host(server, server_host, sizeof server_host) < 0 || strncasecmp(server, "https://", 8) != 0) {
        fail(r, SETUP_NORETRY, "InvalidURL", "InvalidURL", "spec.acme.server %s is not an https:// URL with a host",
             server);
        goto out;
    }
    const char *uri = ctrl_str(obj, "status.acme.uri");
    if (uri && *uri && ctrl_issuers_url_host(uri, uri_host, sizeof uri_host) < 0) {
        fail(r, SETUP_NORETRY, "InvalidURL", "InvalidURL", "status.acme.uri %s is not a valid URL", uri);
        goto out;
    }
    bool skip = ctrl_bool(acme, "skipTLSVerify", false);
    const char *ca_b64 = str_or_empty(ctrl_str(acme, "caBundle"));
    const char *pref = str_or_empty(ctrl_str(acme, "preferredChain"));
    const char *email = str_or_empty(ctrl_str(acme, "email"));

    /* 6 */
    if (ctrl_issuers_fast_path(obj, hash)) {
        if (!ctrl_accounts_matches(ctx->accounts, uid, server, skip, ca_b64, hash)) {
            client = new_client(ctx, acme, akey, r);
            if (!client)
                goto out;
            acme_set_account_url(client, uri);
            if (ctrl_accounts_put(ctx->accounts, uid, client, server, skip, ca_b64, hash, pref) < 0) {
                client = NULL; /* ownership went to the registry either way */
                fail(r, SETUP_RETRY, "ErrRegisterACMEAccount", NULL, "Failed to store the ACME client");
                goto out;
            }
            client = NULL;
            LOG_V(2, "ACME account client restored without registration", "issuer", key);
        }
        ctrl_set_condition(obj, READY, "True", REASON_REGISTERED, MSG_REGISTERED);
        goto out;
    }
    ctrl_accounts_remove(ctx->accounts, uid);
    /* 7 */
    if (uri && *uri && strcmp(uri_host, server_host) != 0)
        json_object_object_del(status_acme(obj), "uri");

    /* 8 */
    acme_eab_t eab = {0};
    int eabrc = load_eab(ctx, acme, ns, &eab, &mac, &maclen, r);
    if (eabrc < 0)
        goto out;

    /* 9 */
    client = new_client(ctx, acme, akey, r);
    if (!client)
        goto out;
    acme_error_t e;
    acme_error_clear(&e);
    if (acme_account_register(client, email, eabrc == 0 ? &eab : NULL, &acct, &e) < 0) {
        fail_acme(r, "ErrRegisterACMEAccount", "ErrRegisterACMEAccount", "Failed to register an ACME account", &e);
        goto out;
    }
    /* 10 */
    if (strcasecmp(registered_email(acct), email) != 0) {
        acme_account_t *upd = NULL;
        acme_error_clear(&e);
        if (acme_account_update_contact(client, email, &upd, &e) < 0) {
            fail_acme(r, "ErrUpdateACMEAccount", "ErrUpdateACMEAccount", "Failed to update the ACME account's email",
                      &e);
            goto out;
        }
        acme_account_free(upd);
        LOG_INFO("updated the ACME account's email", "issuer", key);
    }
    /* 11 */
    char acct_url[1024] = "";
    if (acct && acct->url)
        snprintf(acct_url, sizeof acct_url, "%s", acct->url);
    else
        acme_get_account_url(client, acct_url, sizeof acct_url);
    json_object *sa = status_acme(obj);
    json_object_object_add(sa, "uri", json_object_new_string(acct_url));
    json_object_object_add(sa, "lastRegisteredEmail", json_object_new_string(email));
    json_object_object_add(sa, "lastPrivateKeyHash", json_object_new_string(hash));
    if (ctrl_accounts_put(ctx->accounts, uid, client, server, skip, ca_b64, hash, pref) < 0) {
        client = NULL;
        fail(r, SETUP_RETRY, "ErrRegisterACMEAccount", NULL, "Failed to store the ACME client");
        goto out;
    }
    client = NULL;
    ctrl_set_condition(obj, READY, "True", REASON_REGISTERED, MSG_REGISTERED);
    LOG_INFO("ACME account registered", "issuer", key, "account", acct_url);
out:
    acme_account_free(acct);
    acme_client_free(client);
    acme_key_free(akey);
    cleanse_free(mac, maclen);
}

kube_reconcile_result_t ctrl_issuers_sync(ctrl_ctx_t *ctx, json_object *orig, json_object *obj, bool cluster)
{
    char key[512] = "";
    ctrl_key(orig, key, sizeof key);
    setup_res_t r;
    setup(ctx, obj, cluster, key, &r);
    if (r.kind != SETUP_OK) {
        ctrl_set_condition(obj, READY, "False", r.reason, r.msg);
        ctrl_event(ctx->ev_issuers, orig, "Warning", "ErrInitIssuer", "Error initializing issuer: %s", r.msg);
        if (r.event)
            ctrl_event(ctx->ev_issuers, orig, "Warning", r.event, "%s", r.msg);
        LOG_WARN("issuer not ready", "issuer", key, "reason", r.reason, "message", r.msg);
    }
    switch (r.kind) {
    case SETUP_OK:
        return kube_reconcile_requeue_after(READY_RESYNC_MS);
    case SETUP_NORETRY:
        return kube_reconcile_ok();
    case SETUP_AFTER:
        return kube_reconcile_requeue_after(r.after_ms);
    case SETUP_RETRY:
    default:
        return kube_reconcile_error();
    }
}

static kube_reconcile_result_t reconcile_issuer(ctrl_ctx_t *ctx, const char *key, bool cluster)
{
    kube_store_t *store = cluster ? ctx->clusterissuers : ctx->issuers;
    const kube_resource_t *rsrc = cluster ? &CTRL_RES_CLUSTERISSUERS : &CTRL_RES_ISSUERS;
    if (!store)
        return kube_reconcile_ok();
    json_object *orig = kube_store_get(store, key);
    if (!orig)
        return kube_reconcile_ok(); /* deleted: the delete handler dropped its client */
    const char *uid = ctrl_str(orig, "metadata.uid");
    if (!ctrl_get(orig, "spec.acme") || ctrl_str(orig, "metadata.deletionTimestamp")) {
        if (uid)
            ctrl_accounts_remove(ctx->accounts, uid);
        json_object_put(orig);
        return kube_reconcile_ok();
    }
    json_object *obj = NULL;
    if (json_object_deep_copy(orig, &obj, NULL) < 0 || !obj) {
        json_object_put(orig);
        return kube_reconcile_error();
    }
    kube_reconcile_result_t res = ctrl_issuers_sync(ctx, orig, obj, cluster);
    /* deleted while we registered: the delete handler may have run before our put, so drop it again */
    json_object *now = kube_store_get(store, key);
    const char *now_uid = now ? ctrl_str(now, "metadata.uid") : NULL;
    if (!now_uid || strcmp(now_uid, uid ? uid : "") != 0)
        ctrl_accounts_remove(ctx->accounts, uid ? uid : "");
    json_object_put(now);
    kube_error_t ke;
    int wrc = ctrl_update_status_if_changed(ctx, rsrc, orig, obj, &ke);
    json_object_put(obj);
    json_object_put(orig);
    if (wrc < 0) {
        if (ke.type == KUBE_ERR_CONFLICT || ke.type == KUBE_ERR_NOT_FOUND)
            return kube_reconcile_ok(); /* a newer version (or the deletion) comes through the informer */
        char eb[600];
        LOG_WARN("failed to update issuer status", "issuer", key, "error", kube_error_str(&ke, eb, sizeof eb));
        return kube_reconcile_error();
    }
    return res;
}

static kube_reconcile_result_t reconcile_issuers(void *ud, const char *key)
{
    return reconcile_issuer(ud, key, false);
}

static kube_reconcile_result_t reconcile_clusterissuers(void *ud, const char *key)
{
    return reconcile_issuer(ud, key, true);
}

/* ---- informer handlers ---- */

static void on_add_ns(void *ud, json_object *obj)
{
    ctrl_ctx_t *ctx = ud;
    ctrl_enqueue(ctx->q_issuers, obj);
}

static void on_update_ns(void *ud, json_object *old, json_object *obj)
{
    on_add_ns(ud, obj);
}

static void on_add_cluster(void *ud, json_object *obj)
{
    ctrl_ctx_t *ctx = ud;
    ctrl_enqueue(ctx->q_clusterissuers, obj);
}

static void on_update_cluster(void *ud, json_object *old, json_object *obj)
{
    on_add_cluster(ud, obj);
}

static void on_delete(void *ud, json_object *old)
{
    ctrl_ctx_t *ctx = ud;
    const char *uid = ctrl_str(old, "metadata.uid");
    if (uid && ctx->accounts)
        ctrl_accounts_remove(ctx->accounts, uid);
}

static int setup_issuers(ctrl_ctx_t *ctx, char *err, size_t errlen)
{
    kube_informer_handlers_t h = {on_add_ns, on_update_ns, on_delete, ctx};
    return ctrl_add_handlers(ctx, "issuers", "issuers", &h, false, err, errlen);
}

static int setup_clusterissuers(ctrl_ctx_t *ctx, char *err, size_t errlen)
{
    /* not required: with --namespace ClusterIssuers are not served */
    kube_informer_handlers_t h = {on_add_cluster, on_update_cluster, on_delete, ctx};
    return ctrl_add_handlers(ctx, "clusterissuers", "clusterissuers", &h, false, err, errlen);
}

const ctrl_controller_t ctrl_issuers_controller = {
    .name = "issuers",
    .setup = setup_issuers,
    .reconcile = reconcile_issuers,
    .queue_offset = offsetof(ctrl_ctx_t, q_issuers),
};

const ctrl_controller_t ctrl_clusterissuers_controller = {
    .name = "clusterissuers",
    .setup = setup_clusterissuers,
    .reconcile = reconcile_clusterissuers,
    .queue_offset = offsetof(ctrl_ctx_t, q_clusterissuers),
};
