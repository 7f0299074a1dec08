/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS-01 solver: rfc2136 and webhook providers over lib/dns01 (see solver.h). */
#include "dns01/solver.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"

/* Reasons and errors are bounded texts for status.reason: cutting a long name short is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define SETTLE_MAX 10000
#define UID_MAX 64

/* ---- small JSON helpers ----------------------------------------------------------------------------- */

static json_object *jget(json_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part && o; part = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, part, &next))
            return NULL;
        o = next;
    }
    return o;
}

static const char *jstr(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool empty(const char *s)
{
    return !s || !*s;
}

/* ---- options ---------------------------------------------------------------------------------------- */

static int servers_from_resolv_conf(const char *path, dns01_server_t *out, size_t max, size_t *n)
{
    FILE *f = fopen(path ? path : "/etc/resolv.conf", "r");
    char line[512], err[128];
    *n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f) && *n < max) {
        char word[32], addr[256];
        if (sscanf(line, "%31s %255s", word, addr) == 2 && strcmp(word, "nameserver") == 0 &&
            dns01_parse_server(addr, 53, &out[*n], err, sizeof err) == 0)
            (*n)++;
    }
    fclose(f);
    return 0;
}

int dns01_solver_opts_init(dns01_solver_opts_t *o, const char *recursive_csv, bool recursive_only, int64_t settle_ms,
                           const char *resolv_conf, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->recursive_only = recursive_only;
    o->settle_ms = settle_ms < 0 ? 0 : settle_ms;
    if (!empty(recursive_csv)) {
        if (strstr(recursive_csv, "https://")) {
            snprintf(err, errlen, "--dns01-recursive-nameservers: DNS-over-HTTPS is not supported, use host:port");
            return -1;
        }
        if (dns01_parse_servers(recursive_csv, 53, o->recursive, DNS01_MAX_SERVERS, &o->n_recursive, err, errlen) != 0)
            return -1;
    }
    if (o->n_recursive == 0)
        servers_from_resolv_conf(resolv_conf, o->recursive, DNS01_MAX_SERVERS, &o->n_recursive);
    if (o->n_recursive == 0) {
        dns01_parse_server("8.8.8.8:53", 53, &o->recursive[0], err, errlen);
        dns01_parse_server("8.8.4.4:53", 53, &o->recursive[1], err, errlen);
        o->n_recursive = 2;
    }
    if (o->settle_ms > 0 && !(o->settle = dns01_settle_new())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void dns01_solver_opts_free(dns01_solver_opts_t *o)
{
    if (!o)
        return;
    dns01_settle_free(o->settle);
    o->settle = NULL;
}

/* ---- configuration parsing -------------------------------------------------------------------------- */

int dns01_rfc2136_parse(json_object *rfc2136, dns01_rfc2136_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!rfc2136 || !json_object_is_type(rfc2136, json_type_object)) {
        snprintf(err, errlen, "rfc2136: not an object");
        return -1;
    }
    const char *ns = jstr(rfc2136, "nameserver");
    if (empty(ns)) {
        snprintf(err, errlen, "rfc2136.nameserver is required");
        return -1;
    }
    char perr[256];
    if (dns01_parse_server(ns, 53, &out->server, perr, sizeof perr) != 0) {
        snprintf(err, errlen, "rfc2136.nameserver: %s", perr);
        return -1;
    }
    const char *alg = jstr(rfc2136, "tsigAlgorithm");
    if (dns01_parse_tsig_algorithm(alg, &out->alg) != 0) {
        snprintf(err, errlen, "rfc2136.tsigAlgorithm: unsupported algorithm \"%.40s\" (HMACMD5, HMACSHA1, HMACSHA256 or "
                              "HMACSHA512)", alg);
        return -1;
    }
    const char *proto = jstr(rfc2136, "protocol");
    if (empty(proto) || strcasecmp(proto, "UDP") == 0) {
        out->tcp = false;
    } else if (strcasecmp(proto, "TCP") == 0) {
        out->tcp = true;
    } else {
        snprintf(err, errlen, "rfc2136.protocol: \"%.20s\" is neither TCP nor UDP", proto);
        return -1;
    }
    out->tsig_key_name = jstr(rfc2136, "tsigKeyName");
    out->secret_name = jstr(rfc2136, "tsigSecretSecretRef.name");
    out->secret_key = jstr(rfc2136, "tsigSecretSecretRef.key");
    if (!empty(out->tsig_key_name) && !empty(out->secret_name) && empty(out->secret_key)) {
        snprintf(err, errlen, "rfc2136.tsigSecretSecretRef.key is required");
        return -1;
    }
    return 0;
}

static bool dns_like(const char *s)
{
    if (empty(s) || strlen(s) > 253)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return false;
    return true;
}

int dns01_webhook_path(json_object *webhook, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *group = jstr(webhook, "groupName"), *solver = jstr(webhook, "solverName");
    if (!dns_like(group) || !dns_like(solver)) {
        snprintf(err, errlen, "webhook.groupName and webhook.solverName must be DNS-like names");
        return -1;
    }
    if ((size_t)snprintf(out, outlen, "/apis/%s/v1alpha1/%s", group, solver) >= outlen) {
        snprintf(err, errlen, "webhook path too long");
        return -1;
    }
    return 0;
}

json_object *dns01_webhook_payload(json_object *challenge, const char *action, const char *fqdn, const char *zone,
                                   const char *resource_namespace, bool allow_ambient)
{
    json_object *p = json_object_new_object(), *req = json_object_new_object();
    if (!p || !req) {
        json_object_put(p);
        json_object_put(req);
        return NULL;
    }
    const char *dns = jstr(challenge, "spec.dnsName"), *key = jstr(challenge, "spec.key");
    json_object_object_add(p, "apiVersion", json_object_new_string("webhook.acme.cert-manager.io/v1alpha1"));
    json_object_object_add(p, "kind", json_object_new_string("ChallengePayload"));
    json_object_object_add(req, "uid", json_object_new_string(""));
    json_object_object_add(req, "action", json_object_new_string(action));
    json_object_object_add(req, "type", json_object_new_string("dns-01"));
    json_object_object_add(req, "dnsName", json_object_new_string(dns ? dns : ""));
    json_object_object_add(req, "key", json_object_new_string(key ? key : ""));
    json_object_object_add(req, "resourceNamespace", json_object_new_string(resource_namespace ? resource_namespace : ""));
    json_object_object_add(req, "resolvedFQDN", json_object_new_string(fqdn ? fqdn : ""));
    json_object_object_add(req, "resolvedZone", json_object_new_string(zone ? zone : ""));
    json_object_object_add(req, "allowAmbientCredentials", json_object_new_boolean(allow_ambient));
    json_object *config = jget(challenge, "spec.solver.dns01.webhook.config"), *copy = NULL;
    if (config && json_object_deep_copy(config, &copy, NULL) == 0) /* borrowed from challenge: copied */
        json_object_object_add(req, "config", copy);
    json_object_object_add(p, "request", req);
    return p;
}

/* ---- the solver ------------------------------------------------------------------------------------- */

typedef struct target {
    dns01_server_t servers[DNS01_MAX_SERVERS];
    size_t n;
    bool custom; /* the solver's own nameservers */
    char fqdn[DNS01_MAX_NAME];
    char zone[DNS01_MAX_NAME];
} target_t;

/* Nameservers (the solver's or the global ones) and the record name, CNAME-followed when follow. */
static int resolve_target(const dns01_solver_opts_t *o, json_object *ch, bool follow, bool want_zone, target_t *t,
                          char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    json_object *d = jget(ch, "spec.solver.dns01");
    if (!d) {
        snprintf(err, errlen, "challenge has no spec.solver.dns01");
        return -1;
    }
    json_object *nss = jget(d, "nameservers");
    size_t nn = nss && json_object_is_type(nss, json_type_array) ? json_object_array_length(nss) : 0;
    for (size_t i = 0; i < nn && t->n < DNS01_MAX_SERVERS; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(nss, i));
        if (empty(s))
            continue;
        if (strncmp(s, "https://", 8) == 0) {
            snprintf(err, errlen, "dns01.nameservers: DNS-over-HTTPS (%.100s) is not supported", s);
            return -1;
        }
        if (dns01_parse_server(s, 53, &t->servers[t->n], err, errlen) != 0)
            return -1;
        t->n++;
    }
    t->custom = t->n > 0;
    if (!t->custom) {
        memcpy(t->servers, o->recursive, o->n_recursive * sizeof o->recursive[0]);
        t->n = o->n_recursive;
    }
    char rec[DNS01_MAX_NAME];
    if (dns01_record_name(jstr(ch, "spec.dnsName"), rec, sizeof rec, err, errlen) != 0)
        return -1;
    if (follow) {
        if (dns01_follow_cname(&o->client, t->servers, t->n, rec, t->fqdn, sizeof t->fqdn, err, errlen) != 0)
            return -1;
    } else {
        memcpy(t->fqdn, rec, sizeof rec);
    }
    if (want_zone && dns01_find_zone(&o->client, t->servers, t->n, t->fqdn, t->zone, sizeof t->zone, err, errlen) != 0)
        return -1;
    return 0;
}

static bool follow_cnames(json_object *ch)
{
    const char *s = jstr(ch, "spec.solver.dns01.cnameStrategy");
    return s && strcmp(s, "Follow") == 0;
}

/* The provider block's name, for the "unsupported" error. */
static const char *provider_name(json_object *d)
{
    json_object_object_foreach(d, k, v)
    {
        (void)v;
        if (strcmp(k, "cnameStrategy") != 0 && strcmp(k, "nameservers") != 0)
            return k;
    }
    return "(none)";
}

static int rfc2136_update(const dns01_solver_opts_t *o, const dns01_host_t *h, json_object *ch, const target_t *t,
                          dns01_update_op_t op, char *err, size_t errlen)
{
    dns01_rfc2136_t cfg;
    char *secret = NULL;
    int rc = -1;
    if (dns01_rfc2136_parse(jget(ch, "spec.solver.dns01.rfc2136"), &cfg, err, errlen) != 0)
        return -1;
    dns01_tsig_t tsig = {.key_name = cfg.tsig_key_name, .alg = cfg.alg};
    bool use_tsig = !empty(cfg.tsig_key_name) && !empty(cfg.secret_name);
    if (use_tsig) {
        char serr[256];
        if (!h || !h->secret_value) {
            snprintf(err, errlen, "cannot read TSIG secrets here");
            return -1;
        }
        if (!(secret = calloc(1, DNS01_SOLVER_MAX_SECRET)))
            goto oom;
        if (h->secret_value(h->ud, h->resource_namespace, cfg.secret_name, cfg.secret_key, secret,
                            DNS01_SOLVER_MAX_SECRET, serr, sizeof serr) != 0) {
            snprintf(err, errlen, "rfc2136 TSIG secret: %s", serr);
            goto out;
        }
        /* a secret stored with a trailing newline (echo | kubectl create secret) still works */
        size_t len = strlen(secret);
        while (len && isspace((unsigned char)secret[len - 1]))
            secret[--len] = '\0';
        tsig.secret_b64 = secret;
    }
    rc = dns01_update(&o->client, &cfg.server, cfg.tcp, use_tsig ? &tsig : NULL, t->zone, t->fqdn,
                      jstr(ch, "spec.key"), op, err, errlen);
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (secret) {
        memset(secret, 0, DNS01_SOLVER_MAX_SECRET);
        free(secret);
    }
    return rc;
}

static int webhook_call(const dns01_host_t *h, json_object *ch, const target_t *t, const char *action, char *err,
                        size_t errlen)
{
    char path[600];
    json_object *payload = NULL, *resp = NULL;
    int rc = -1;
    if (dns01_webhook_path(jget(ch, "spec.solver.dns01.webhook"), path, sizeof path, err, errlen) != 0)
        return -1;
    if (!h || !h->post) {
        snprintf(err, errlen, "cannot call webhook solvers here");
        return -1;
    }
    payload = dns01_webhook_payload(ch, action, t->fqdn, t->zone, h->resource_namespace, h->allow_ambient_credentials);
    if (!payload) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char perr[512];
    if (h->post(h->ud, path, payload, &resp, perr, sizeof perr) != 0) {
        snprintf(err, errlen, "webhook %s %s: %s", path, action, perr);
        goto out;
    }
    json_object *success = jget(resp, "response.success");
    if (!success || !json_object_get_boolean(success)) {
        const char *msg = jstr(resp, "response.status.message");
        snprintf(err, errlen, "webhook %s %s failed: %.300s", path, action,
                 !empty(msg) ? msg : (success ? "no message" : "no response in the answer"));
        goto out;
    }
    rc = 0;
out:
    json_object_put(payload);
    json_object_put(resp);
    return rc;
}

static int present_or_clean(const dns01_solver_opts_t *o, const dns01_host_t *h, json_object *ch, bool present,
                            char *err, size_t errlen)
{
    json_object *d = jget(ch, "spec.solver.dns01");
    if (!d || !json_object_is_type(d, json_type_object)) {
        snprintf(err, errlen, "challenge has no spec.solver.dns01");
        return -1;
    }
    bool rfc = jget(d, "rfc2136") != NULL, wh = jget(d, "webhook") != NULL;
    if (!rfc && !wh) {
        snprintf(err, errlen, "DNS-01 provider %.40s is not supported by kacme (rfc2136 and webhook are)",
                 provider_name(d));
        return -1;
    }
    if (empty(jstr(ch, "spec.key"))) {
        snprintf(err, errlen, "challenge has no spec.key");
        return -1;
    }
    target_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = resolve_target(o, ch, follow_cnames(ch), true, t, err, errlen);
    if (rc == 0) {
        if (rfc)
            rc = rfc2136_update(o, h, ch, t, present ? DNS01_UPDATE_ADD : DNS01_UPDATE_DELETE, err, errlen);
        else
            rc = webhook_call(h, ch, t, present ? "Present" : "CleanUp", err, errlen);
    }
    if (rc == 0)
        LOG_V(2, present ? "DNS-01 record presented" : "DNS-01 record cleaned up", "fqdn", t->fqdn, "zone", t->zone,
              "provider", rfc ? "rfc2136" : "webhook");
    free(t);
    return rc;
}

int dns01_solver_present(const dns01_solver_opts_t *o, const dns01_host_t *h, json_object *challenge, char *err,
                         size_t errlen)
{
    return present_or_clean(o, h, challenge, true, err, errlen);
}

int dns01_solver_clean_up(const dns01_solver_opts_t *o, const dns01_host_t *h, json_object *challenge, char *err,
                          size_t errlen)
{
    const char *uid = jstr(challenge, "metadata.uid");
    if (o->settle && uid)
        dns01_settle_forget(o->settle, uid);
    return present_or_clean(o, h, challenge, false, err, errlen);
}

int dns01_solver_check(const dns01_solver_opts_t *o, json_object *challenge, int64_t now_ms, char *err,
                       size_t errlen)
{
    const char *uid = jstr(challenge, "metadata.uid"), *key = jstr(challenge, "spec.key");
    if (empty(key)) {
        snprintf(err, errlen, "challenge has no spec.key");
        return -1;
    }
    target_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* §7.3: CNAMEs are always followed for the check */
    int rc = resolve_target(o, challenge, true, false, t, err, errlen);
    if (rc == 0) {
        bool authoritative = !t->custom && !o->recursive_only;
        dns01_check_result_t r = dns01_check(&o->client, t->servers, t->n, authoritative, t->fqdn, key, err, errlen);
        rc = r == DNS01_PROPAGATED ? 0 : -1;
        if (rc == 0 && o->settle && o->settle_ms > 0 && uid) {
            int64_t left = dns01_settle_propagated(o->settle, uid, now_ms, o->settle_ms);
            if (left > 0) {
                snprintf(err, errlen, "TXT %s propagated; settling for %lld s more", t->fqdn,
                         (long long)((left + 999) / 1000));
                rc = -1;
            }
        } else if (rc != 0 && o->settle && uid) {
            dns01_settle_forget(o->settle, uid);
        }
    }
    free(t);
    return rc;
}

/* ---- settle period ---------------------------------------------------------------------------------- */

typedef struct settle_entry {
    char uid[UID_MAX];
    int64_t first_ms;
} settle_entry_t;

struct dns01_settle {
    pthread_mutex_t mu;
    settle_entry_t *e;
    size_t n, cap;
};

dns01_settle_t *dns01_settle_new(void)
{
    dns01_settle_t *s = calloc(1, sizeof *s);
    if (s)
        pthread_mutex_init(&s->mu, NULL);
    return s;
}

void dns01_settle_free(dns01_settle_t *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->e);
    free(s);
}

static size_t settle_find(dns01_settle_t *s, const char *uid)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].uid, uid) == 0)
            return i;
    return s->n;
}

int64_t dns01_settle_propagated(dns01_settle_t *s, const char *uid, int64_t now_ms, int64_t settle_ms)
{
    if (!s || !uid || settle_ms <= 0)
        return 0;
    pthread_mutex_lock(&s->mu);
    size_t i = settle_find(s, uid);
    if (i == s->n) {
        if (s->n == SETTLE_MAX) { /* drop the oldest entry */
            memmove(&s->e[0], &s->e[1], (s->n - 1) * sizeof s->e[0]);
            s->n--;
            i = s->n;
        }
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 16;
            settle_entry_t *e = realloc(s->e, cap * sizeof *e);
            if (!e) {
                pthread_mutex_unlock(&s->mu);
                return settle_ms; /* try again later */
            }
            s->e = e;
            s->cap = cap;
        }
        snprintf(s->e[i].uid, sizeof s->e[i].uid, "%s", uid);
        s->e[i].first_ms = now_ms;
        s->n++;
    }
    int64_t left = s->e[i].first_ms + settle_ms - now_ms;
    pthread_mutex_unlock(&s->mu);
    return left > 0 ? left : 0;
}

void dns01_settle_forget(dns01_settle_t *s, const char *uid)
{
    if (!s || !uid)
        return;
    pthread_mutex_lock(&s->mu);
    size_t i = settle_find(s, uid);
    if (i < s->n) {
        memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof s->e[0]);
        s->n--;
    }
    pthread_mutex_unlock(&s->mu);
}

size_t dns01_settle_size(dns01_settle_t *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}
