/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8555 ACME client over lib/util/http (see acme.h). */
#include "acme/acme.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_parse.h"
#include "util/http.h"
#include "util/log.h"

#define NONCE_POOL_MAX 32
#define NONCE_MAX_LEN 512
#define BAD_NONCE_TRIES 5
#define CERT_MAX (1024 * 1024)
#define MAX_ALTERNATES 16

struct acme_client {
    http_client_t *http;
    acme_key_t *key;
    char *directory_url;
    acme_metrics_fn metrics;
    void *metrics_ud;
    long timeout_ms;

    pthread_mutex_t dir_mu;      /* serializes the one directory fetch */
    acme_directory_t *dir;       /* written once under dir_mu and mu; read under mu */

    pthread_mutex_t mu;          /* protects everything below and dir pointer reads */
    char *kid;
    char *nonces[NONCE_POOL_MAX]; /* LIFO: the newest nonce is used first */
    size_t n_nonces;
};

/* ----- small helpers ----------------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void local_error(acme_error_t *e, enum acme_err_kind kind,
                                                               const char *fmt, ...)
{
    va_list ap;
    acme_error_clear(e);
    e->kind = kind;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* scheme and host[:port] of url for the metrics labels. */
static void split_url(const char *url, char *scheme, size_t slen, char *host, size_t hlen)
{
    const char *p = strstr(url, "://");
    if (!p) {
        snprintf(scheme, slen, "%s", "");
        snprintf(host, hlen, "%s", "");
        return;
    }
    snprintf(scheme, slen, "%.*s", (int)(p - url), url);
    p += 3;
    size_t n = strcspn(p, "/?#");
    snprintf(host, hlen, "%.*s", (int)n, p);
}

static long retry_after_header(const http_response_t *r)
{
    long ms = 0;
    const char *v = http_response_header(r, "Retry-After");
    if (v && acme_retry_after_parse(v, time(NULL), &ms) == 0)
        return ms;
    return 0;
}

/* ----- client ------------------------------------------------------------------------------------------ */

acme_client_t *acme_client_new(const acme_client_opts_t *opts, acme_key_t *k, char *err, size_t errlen)
{
    if (!opts || !opts->directory_url || !k) {
        snprintf(err, errlen, "ACME client needs a directory URL and an account key");
        return NULL;
    }
    if (strncasecmp(opts->directory_url, "https://", 8) != 0) {
        snprintf(err, errlen, "ACME directory URL must use https");
        return NULL;
    }
    acme_client_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    http_client_opts_t ho = {
        .ca_pem = opts->ca_pem,
        .ca_file = opts->ca_file,
        .insecure_skip_verify = opts->insecure_skip_verify,
        .https_only = true,
        .connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000,
        .user_agent = opts->user_agent,
    };
    c->http = http_client_new(&ho, err, errlen);
    c->directory_url = strdup(opts->directory_url);
    if (!c->http || !c->directory_url) {
        if (c->http)
            snprintf(err, errlen, "out of memory");
        http_client_free(c->http);
        free(c->directory_url);
        free(c);
        return NULL;
    }
    c->key = acme_key_ref(k);
    c->metrics = opts->metrics;
    c->metrics_ud = opts->metrics_ud;
    c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 30000;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->dir_mu, NULL);
    return c;
}

void acme_client_free(acme_client_t *c)
{
    if (!c)
        return;
    http_client_free(c->http);
    acme_key_free(c->key);
    free(c->directory_url);
    acme_directory_free(c->dir);
    free(c->kid);
    for (size_t i = 0; i < c->n_nonces; i++)
        free(c->nonces[i]);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->dir_mu);
    free(c);
}

const acme_key_t *acme_client_key(const acme_client_t *c)
{
    return c->key;
}

void acme_set_account_url(acme_client_t *c, const char *url)
{
    char *copy = url && *url ? strdup(url) : NULL;
    pthread_mutex_lock(&c->mu);
    free(c->kid);
    c->kid = copy;
    pthread_mutex_unlock(&c->mu);
}

bool acme_get_account_url(acme_client_t *c, char *buf, size_t buflen)
{
    pthread_mutex_lock(&c->mu);
    bool ok = c->kid != NULL;
    snprintf(buf, buflen, "%s", c->kid ? c->kid : "");
    pthread_mutex_unlock(&c->mu);
    return ok;
}

char *acme_client_key_authorization(const acme_client_t *c, const char *token)
{
    return acme_key_authorization(c->key, token);
}

/* ----- nonces ------------------------------------------------------------------------------------------ */

static void nonce_put(acme_client_t *c, const char *nonce)
{
    if (!nonce || !*nonce || strlen(nonce) > NONCE_MAX_LEN)
        return;
    char *copy = strdup(nonce);
    if (!copy)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->n_nonces == NONCE_POOL_MAX) {
        /* Drop the oldest: it is the likeliest to have expired on the server. */
        free(c->nonces[0]);
        memmove(c->nonces, c->nonces + 1, (NONCE_POOL_MAX - 1) * sizeof(char *));
        c->n_nonces--;
    }
    c->nonces[c->n_nonces++] = copy;
    pthread_mutex_unlock(&c->mu);
}

static char *nonce_take(acme_client_t *c)
{
    char *n = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->n_nonces > 0)
        n = c->nonces[--c->n_nonces];
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* ----- HTTP round trip --------------------------------------------------------------------------------- */

/* One request with metrics and logging. Transport failure → -1 with a TRANSIENT e. Any response → 0
 * (status is data); the caller classifies it. */
static int round_trip(acme_client_t *c, const char *action, const char *method, const char *url, const char *body,
                      const char *accept, size_t max_body, http_response_t *resp, acme_error_t *e)
{
    char errbuf[HTTP_ERR_LEN] = "";
    const char *hdrs[3];
    size_t nh = 0;
    if (body)
        hdrs[nh++] = "Content-Type: application/jose+json";
    if (accept)
        hdrs[nh++] = accept;
    hdrs[nh] = NULL;
    http_request_t req = {
        .method = method,
        .url = url,
        .headers = hdrs,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = c->timeout_ms,
        .max_body = max_body,
    };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = http_do(c->http, &req, resp, errbuf, sizeof(errbuf));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (c->metrics) {
        char scheme[16], host[256];
        split_url(url, scheme, sizeof(scheme), host, sizeof(host));
        c->metrics(c->metrics_ud, action, method, scheme, host, rc == 0 ? (int)resp->status : 999, secs);
    }
    if (rc != 0) {
        LOG_V(2, "ACME request failed", "action", action, "method", method, "url", url, "error", errbuf);
        local_error(e, ACME_ERR_TRANSIENT, "%s", errbuf);
        return -1;
    }
    if (log_enabled(4)) {
        char st[16];
        snprintf(st, sizeof(st), "%ld", resp->status);
        LOG_V(4, "ACME request", "action", action, "method", method, "url", url, "status", st);
    }
    return 0;
}

static bool is_2xx(long s)
{
    return s >= 200 && s < 300;
}

/* Fills e from a non-2xx response. */
static void classify(const http_response_t *r, acme_error_t *e)
{
    acme_classify_response(r->status, r->body, r->body_len, http_response_header(r, "Retry-After"), time(NULL), e);
    if (e->type[0])
        LOG_V(2, "ACME problem", "type", e->type);
}

/* ----- directory --------------------------------------------------------------------------------------- */

static const acme_directory_t *dir_peek(acme_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    const acme_directory_t *d = c->dir;
    pthread_mutex_unlock(&c->mu);
    return d;
}

int acme_directory_get(acme_client_t *c, const acme_directory_t **out, acme_error_t *e)
{
    acme_error_clear(e);
    *out = dir_peek(c);
    if (*out)
        return 0;
    int rc = -1;
    http_response_t r = {0};
    pthread_mutex_lock(&c->dir_mu);
    *out = dir_peek(c);
    if (*out) {
        rc = 0;
        goto out;
    }
    if (round_trip(c, "discover", "GET", c->directory_url, NULL, NULL, ACME_JSON_MAX, &r, e) != 0)
        goto out_unlock;
    if (!is_2xx(r.status)) {
        classify(&r, e);
        goto out;
    }
    acme_directory_t *d = NULL;
    char perr[160];
    if (acme_directory_parse(r.body, r.body_len, &d, perr, sizeof(perr)) != 0) {
        /* A CA serving garbage is most likely misconfigured or in trouble: retry later. */
        local_error(e, ACME_ERR_TRANSIENT, "invalid ACME directory: %s", perr);
        goto out;
    }
    pthread_mutex_lock(&c->mu);
    c->dir = d;
    pthread_mutex_unlock(&c->mu);
    *out = d;
    LOG_V(2, "ACME directory fetched", "url", c->directory_url);
    rc = 0;
out:
    http_response_clear(&r);
out_unlock:
    pthread_mutex_unlock(&c->dir_mu);
    return rc;
}

/* ----- signed POST ------------------------------------------------------------------------------------- */

static int fetch_nonce(acme_client_t *c, const char *action, char **nonce, acme_error_t *e)
{
    const acme_directory_t *d;
    *nonce = nonce_take(c);
    if (*nonce)
        return 0;
    if (acme_directory_get(c, &d, e) != 0)
        return -1;
    http_response_t r = {0};
    if (round_trip(c, action, "HEAD", d->new_nonce, NULL, NULL, 4096, &r, e) != 0)
        return -1;
    const char *n = http_response_header(&r, "Replay-Nonce");
    if (!is_2xx(r.status) || !n || !*n || strlen(n) > NONCE_MAX_LEN) {
        if (!is_2xx(r.status))
            classify(&r, e);
        else
            local_error(e, ACME_ERR_TRANSIENT, "newNonce response without Replay-Nonce");
        http_response_clear(&r);
        return -1;
    }
    *nonce = strdup(n);
    http_response_clear(&r);
    if (!*nonce) {
        local_error(e, ACME_ERR_TRANSIENT, "out of memory");
        return -1;
    }
    return 0;
}

/* POSTs a JWS with payload (NULL: POST-as-GET) to url, signed with kid, or with the jwk when use_jwk.
 * 2xx → 0 with *r filled (caller clears). Otherwise -1 with e (r cleared). badNonce is retried at once
 * with the nonce from the error response, at most BAD_NONCE_TRIES attempts in all. */
static int post_jws(acme_client_t *c, const char *action, const char *url, const char *payload, bool use_jwk,
                    const char *accept, size_t max_body, http_response_t *r, acme_error_t *e)
{
    char *nonce = NULL, *kid = NULL;
    int rc = -1;
    memset(r, 0, sizeof(*r));
    if (!use_jwk) {
        pthread_mutex_lock(&c->mu);
        kid = xstrdup(c->kid);
        pthread_mutex_unlock(&c->mu);
        if (!kid) {
            local_error(e, ACME_ERR_TERMINAL, "no ACME account URL: register the account first");
            return -1;
        }
    }
    for (int attempt = 1;; attempt++) {
        if (!nonce && fetch_nonce(c, action, &nonce, e) != 0)
            goto out;
        char serr[128];
        char *jws = acme_jws_sign(c->key, url, nonce, kid, payload, serr, sizeof(serr));
        free(nonce);
        nonce = NULL;
        if (!jws) {
            local_error(e, ACME_ERR_TERMINAL, "cannot sign ACME request: %s", serr);
            goto out;
        }
        int hr = round_trip(c, action, "POST", url, jws, accept, max_body, r, e);
        free(jws);
        if (hr != 0)
            goto out;
        const char *rn = http_response_header(r, "Replay-Nonce");
        if (is_2xx(r->status)) {
            nonce_put(c, rn);
            rc = 0;
            goto out;
        }
        classify(r, e);
        if (acme_error_is(e, "badNonce") && attempt < BAD_NONCE_TRIES) {
            LOG_V(3, "ACME badNonce, retrying with the nonce from the error response", "url", url);
            nonce = rn && *rn && strlen(rn) <= NONCE_MAX_LEN ? strdup(rn) : NULL;
            http_response_clear(r);
            continue;
        }
        nonce_put(c, rn);
        http_response_clear(r);
        goto out;
    }
out:
    free(nonce);
    free(kid);
    return rc;
}

/* Serializes a json-c payload (borrowed) for post_jws. */
static const char *payload_text(json_object *o)
{
    return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* A 2xx response body that does not parse: the server misbehaves; treat as transient. */
static void bad_body(acme_error_t *e, const char *what, const char *perr)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "invalid %s from ACME server: %s", what, perr);
    local_error(e, ACME_ERR_TRANSIENT, "%s", msg);
}

/* ----- accounts ---------------------------------------------------------------------------------------- */

static json_object *contact_array(const char *email)
{
    json_object *arr = json_object_new_array();
    if (email && *email) {
        size_t n = strlen(email) + 8;
        char *s = malloc(n);
        if (s) {
            snprintf(s, n, "mailto:%s", email);
            for (char *p = s; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            json_object_array_add(arr, json_object_new_string(s));
            free(s);
        }
    }
    return arr;
}

/* newAccount with body, its round trips labelled action (cert-manager labels creation "register_account"
 * and the onlyReturnExisting lookup "get_registration"); on 2xx sets kid from Location and returns the
 * account in *out (may be NULL). *status_out gets the HTTP status. */
static int new_account(acme_client_t *c, const char *action, json_object *body, acme_account_t **out,
                       long *status_out, acme_error_t *e)
{
    const acme_directory_t *d;
    http_response_t r;
    if (acme_directory_get(c, &d, e) != 0)
        return -1;
    if (post_jws(c, action, d->new_account, payload_text(body), true, NULL, ACME_JSON_MAX, &r, e) != 0)
        return -1;
    int rc = -1;
    acme_account_t *acct = NULL;
    const char *loc = http_response_header(&r, "Location");
    char perr[160];
    if (!loc || !*loc) {
        local_error(e, ACME_ERR_TRANSIENT, "newAccount response without Location");
        goto out;
    }
    if (r.body_len == 0) {
        acct = calloc(1, sizeof(*acct));
        if (!acct) {
            local_error(e, ACME_ERR_TRANSIENT, "out of memory");
            goto out;
        }
    } else if (acme_account_parse(r.body, r.body_len, &acct, perr, sizeof(perr)) != 0) {
        bad_body(e, "account", perr);
        goto out;
    }
    acct->url = strdup(loc);
    if (!acct->url) {
        local_error(e, ACME_ERR_TRANSIENT, "out of memory");
        goto out;
    }
    acme_set_account_url(c, loc);
    *status_out = r.status;
    LOG_V(2, "ACME account", "url", loc);
    if (out) {
        *out = acct;
        acct = NULL;
    }
    rc = 0;
out:
    acme_account_free(acct);
    http_response_clear(&r);
    return rc;
}

int acme_account_lookup(acme_client_t *c, acme_account_t **out, acme_error_t *e)
{
    acme_error_clear(e);
    if (out)
        *out = NULL;
    json_object *body = json_object_new_object();
    json_object_object_add(body, "onlyReturnExisting", json_object_new_boolean(1));
    long st = 0;
    int rc = new_account(c, "get_registration", body, out, &st, e);
    json_object_put(body);
    return rc;
}

int acme_account_register(acme_client_t *c, const char *email, const acme_eab_t *eab, acme_account_t **out,
                          acme_error_t *e)
{
    const acme_directory_t *d;
    acme_error_clear(e);
    if (out)
        *out = NULL;
    if (acme_directory_get(c, &d, e) != 0)
        return -1;
    json_object *body = json_object_new_object();
    int rc = -1;
    if (email && *email)
        json_object_object_add(body, "contact", contact_array(email));
    if (d->terms_of_service)
        json_object_object_add(body, "termsOfServiceAgreed", json_object_new_boolean(1));
    if (eab) {
        char err[160];
        json_object *b = acme_eab_jws(c->key, eab->kid, eab->mac_key_b64url, d->new_account, err, sizeof(err));
        if (!b) {
            local_error(e, ACME_ERR_TERMINAL, "%s", err);
            goto out;
        }
        json_object_object_add(body, "externalAccountBinding", b);
    }
    long st = 0;
    acme_account_t *acct = NULL;
    if (new_account(c, "register_account", body, &acct, &st, e) != 0)
        goto out;
    if (st == 200) {
        /* The key already has an account: fetch it as cert-manager does (current contacts). */
        acme_account_free(acct);
        acct = NULL;
        if (acme_account_lookup(c, out, e) != 0)
            goto out;
    } else if (out) {
        *out = acct;
    } else {
        acme_account_free(acct);
    }
    rc = 0;
out:
    json_object_put(body);
    return rc;
}

int acme_account_update_contact(acme_client_t *c, const char *email, acme_account_t **out, acme_error_t *e)
{
    char url[4096];
    acme_error_clear(e);
    if (out)
        *out = NULL;
    if (!acme_get_account_url(c, url, sizeof(url))) {
        local_error(e, ACME_ERR_TERMINAL, "no ACME account URL: register the account first");
        return -1;
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "contact", contact_array(email));
    http_response_t r;
    int rc = -1;
    acme_account_t *acct = NULL;
    if (post_jws(c, "update_registration", url, payload_text(body), false, NULL, ACME_JSON_MAX, &r, e) != 0)
        goto out_body;
    char perr[160];
    if (acme_account_parse(r.body, r.body_len, &acct, perr, sizeof(perr)) != 0) {
        bad_body(e, "account", perr);
        goto out;
    }
    acct->url = strdup(url);
    if (out) {
        *out = acct;
        acct = NULL;
    }
    rc = 0;
out:
    acme_account_free(acct);
    http_response_clear(&r);
out_body:
    json_object_put(body);
    return rc;
}

/* ----- orders ------------------------------------------------------------------------------------------ */

/* Parses an order response; url (may be NULL) is copied in as the order URL. */
static int order_from_response(const http_response_t *r, const char *url, acme_order_t **out, acme_error_t *e)
{
    char perr[160];
    if (acme_order_parse(r->body, r->body_len, out, perr, sizeof(perr)) != 0) {
        bad_body(e, "order", perr);
        return -1;
    }
    (*out)->url = xstrdup(url);
    (*out)->retry_after_ms = retry_after_header(r);
    if (url && !(*out)->url) {
        acme_order_free(*out);
        *out = NULL;
        local_error(e, ACME_ERR_TRANSIENT, "out of memory");
        return -1;
    }
    return 0;
}

static int check_profile(const acme_directory_t *d, const char *profile, acme_error_t *e)
{
    if (!profile || !*profile)
        return 0;
    for (size_t i = 0; i < d->n_profiles; i++)
        if (strcmp(d->profiles[i].name, profile) == 0)
            return 0;
    acme_error_clear(e);
    e->kind = ACME_ERR_TERMINAL;
    if (d->n_profiles == 0) {
        snprintf(e->detail, sizeof(e->detail), "profile \"%.64s\" requested but the ACME server advertises no profiles",
                 profile);
        return -1;
    }
    int off = snprintf(e->detail, sizeof(e->detail), "profile \"%.64s\" is not offered by the ACME server (offered:",
                       profile);
    for (size_t i = 0; i < d->n_profiles && off > 0 && (size_t)off < sizeof(e->detail); i++)
        off += snprintf(e->detail + off, sizeof(e->detail) - (size_t)off, "%s %.64s", i ? "," : "",
                        d->profiles[i].name);
    if (off > 0 && (size_t)off < sizeof(e->detail))
        snprintf(e->detail + off, sizeof(e->detail) - (size_t)off, ")");
    return -1;
}

static json_object *order_body(const acme_order_request_t *req, bool with_replaces)
{
    json_object *body = json_object_new_object();
    json_object *ids = json_object_new_array();
    for (size_t i = 0; i < req->n_identifiers; i++) {
        json_object *id = json_object_new_object();
        json_object_object_add(id, "type", json_object_new_string(req->identifiers[i].type));
        json_object_object_add(id, "value", json_object_new_string(req->identifiers[i].value));
        json_object_array_add(ids, id);
    }
    json_object_object_add(body, "identifiers", ids);
    if (req->not_before)
        json_object_object_add(body, "notBefore", json_object_new_string(req->not_before));
    if (req->not_after)
        json_object_object_add(body, "notAfter", json_object_new_string(req->not_after));
    if (req->profile && *req->profile)
        json_object_object_add(body, "profile", json_object_new_string(req->profile));
    if (with_replaces)
        json_object_object_add(body, "replaces", json_object_new_string(req->replaces));
    return body;
}

int acme_order_new(acme_client_t *c, const acme_order_request_t *req, acme_order_t **out, acme_error_t *e)
{
    const acme_directory_t *d;
    acme_error_clear(e);
    *out = NULL;
    if (!req || req->n_identifiers == 0 || req->n_identifiers > ACME_MAX_IDENTIFIERS) {
        local_error(e, ACME_ERR_TERMINAL, "an order needs 1 to 1000 identifiers");
        return -1;
    }
    for (size_t i = 0; i < req->n_identifiers; i++) {
        if (strcmp(req->identifiers[i].type, "dns") != 0 && strcmp(req->identifiers[i].type, "ip") != 0) {
            local_error(e, ACME_ERR_TERMINAL, "unsupported identifier type \"%.8s\"", req->identifiers[i].type);
            return -1;
        }
    }
    if (acme_directory_get(c, &d, e) != 0)
        return -1;
    if (check_profile(d, req->profile, e) != 0)
        return -1;
    bool with_replaces = req->replaces && *req->replaces && d->renewal_info;
    if (req->replaces && *req->replaces && !d->renewal_info)
        LOG_V(2, "ACME server has no renewalInfo: ordering without replaces", "url", c->directory_url);
    for (;;) {
        json_object *body = order_body(req, with_replaces);
        http_response_t r;
        int rc = post_jws(c, "authorize_order", d->new_order, payload_text(body), false, NULL, ACME_JSON_MAX, &r, e);
        json_object_put(body);
        if (rc != 0) {
            if (with_replaces && (acme_error_is(e, "alreadyReplaced") ||
                                  (acme_error_is(e, "malformed") && strstr(e->detail, "replaces")))) {
                LOG_V(2, "ACME server rejected replaces, ordering without it", "type", e->type);
                with_replaces = false;
                continue;
            }
            return -1;
        }
        const char *loc = http_response_header(&r, "Location");
        if (!loc || !*loc) {
            local_error(e, ACME_ERR_TRANSIENT, "newOrder response without Location");
            http_response_clear(&r);
            return -1;
        }
        rc = order_from_response(&r, loc, out, e);
        if (rc == 0)
            LOG_V(2, "ACME order created", "url", loc, "status", acme_status_name((*out)->status));
        http_response_clear(&r);
        return rc;
    }
}

/* POST-as-GET of an order, labelled action. */
static int order_fetch(acme_client_t *c, const char *action, const char *url, acme_order_t **out, acme_error_t *e)
{
    acme_error_clear(e);
    *out = NULL;
    http_response_t r;
    if (post_jws(c, action, url, NULL, false, NULL, ACME_JSON_MAX, &r, e) != 0)
        return -1;
    int rc = order_from_response(&r, url, out, e);
    http_response_clear(&r);
    return rc;
}

int acme_order_get(acme_client_t *c, const char *url, acme_order_t **out, acme_error_t *e)
{
    return order_fetch(c, "get_order", url, out, e);
}

int acme_order_poll(acme_client_t *c, const char *url, acme_order_t **out, acme_error_t *e)
{
    return order_fetch(c, "wait_order", url, out, e);
}

int acme_order_finalize(acme_client_t *c, const acme_order_t *order, const unsigned char *csr_der, size_t csr_len,
                        acme_order_t **out, acme_error_t *e)
{
    acme_error_clear(e);
    *out = NULL;
    if (!order || !order->url || !order->finalize) {
        local_error(e, ACME_ERR_TERMINAL, "order without URL or finalize URL");
        return -1;
    }
    /* Already finalized (an earlier pass whose result was lost): never finalize twice. */
    if (order->status == ACME_STATUS_VALID || order->status == ACME_STATUS_PROCESSING)
        return acme_order_get(c, order->url, out, e);
    if (!csr_der || csr_len == 0 || csr_len > 64 * 1024) {
        local_error(e, ACME_ERR_TERMINAL, "CSR empty or too large");
        return -1;
    }
    char *csr64 = acme_b64url_encode(csr_der, csr_len);
    if (!csr64) {
        local_error(e, ACME_ERR_TRANSIENT, "out of memory");
        return -1;
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "csr", json_object_new_string(csr64));
    free(csr64);
    http_response_t r;
    int rc = post_jws(c, "create_order_cert", order->finalize, payload_text(body), false, NULL, ACME_JSON_MAX, &r, e);
    json_object_put(body);
    if (rc != 0) {
        if (e->http_status == 403) {
            /* orderNotReady: maybe it was finalized already; look before failing. */
            acme_error_t saved = *e;
            acme_order_t *cur = NULL;
            if (acme_order_get(c, order->url, &cur, e) == 0 &&
                (cur->status == ACME_STATUS_VALID || cur->status == ACME_STATUS_PROCESSING)) {
                *out = cur;
                return 0;
            }
            acme_order_free(cur);
            *e = saved;
        }
        return -1;
    }
    rc = order_from_response(&r, order->url, out, e);
    if (rc == 0)
        LOG_V(2, "ACME order finalized", "url", order->url, "status", acme_status_name((*out)->status));
    http_response_clear(&r);
    return rc;
}

/* ----- authorizations and challenges ------------------------------------------------------------------- */

/* POST-as-GET of an authorization, labelled action. */
static int authz_fetch(acme_client_t *c, const char *action, const char *url, acme_authz_t **out, acme_error_t *e)
{
    acme_error_clear(e);
    *out = NULL;
    http_response_t r;
    if (post_jws(c, action, url, NULL, false, NULL, ACME_JSON_MAX, &r, e) != 0)
        return -1;
    char perr[160];
    int rc = -1;
    if (acme_authz_parse(r.body, r.body_len, out, perr, sizeof(perr)) != 0) {
        bad_body(e, "authorization", perr);
        goto out;
    }
    (*out)->url = strdup(url);
    (*out)->retry_after_ms = retry_after_header(&r);
    if (!(*out)->url) {
        acme_authz_free(*out);
        *out = NULL;
        local_error(e, ACME_ERR_TRANSIENT, "out of memory");
        goto out;
    }
    rc = 0;
out:
    http_response_clear(&r);
    return rc;
}

int acme_authz_get(acme_client_t *c, const char *url, acme_authz_t **out, acme_error_t *e)
{
    return authz_fetch(c, "get_authorization", url, out, e);
}

int acme_authz_poll(acme_client_t *c, const char *url, acme_authz_t **out, acme_error_t *e)
{
    return authz_fetch(c, "wait_authorization", url, out, e);
}

int acme_challenge_accept(acme_client_t *c, const char *url, enum acme_status *status_out, acme_error_t *e)
{
    acme_error_clear(e);
    if (status_out)
        *status_out = ACME_STATUS_UNKNOWN;
    json_object *body = json_object_new_object();
    http_response_t r;
    int rc = post_jws(c, "accept_challenge", url, payload_text(body), false, NULL, ACME_JSON_MAX, &r, e);
    json_object_put(body);
    if (rc != 0)
        return -1;
    if (status_out && r.body) {
        json_object *o = json_tokener_parse(r.body);
        json_object *st = NULL;
        if (o && json_object_object_get_ex(o, "status", &st) && json_object_is_type(st, json_type_string))
            *status_out = acme_status_parse(json_object_get_string(st));
        json_object_put(o);
    }
    LOG_V(2, "ACME challenge accepted", "url", url);
    http_response_clear(&r);
    return 0;
}

/* ----- certificates ------------------------------------------------------------------------------------ */

/* Re-encodes every CERTIFICATE block of pem as PEM (drops anything else). NULL when none parses. */
static char *normalize_chain(const char *pem, size_t len, size_t *outlen)
{
    BIO *in = BIO_new_mem_buf(pem, (int)len);
    BIO *outb = BIO_new(BIO_s_mem());
    char *res = NULL;
    int count = 0;
    X509 *x;
    if (!in || !outb)
        goto out;
    while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
        int ok = PEM_write_bio_X509(outb, x);
        X509_free(x);
        if (!ok)
            goto out;
        count++;
    }
    if (count == 0)
        goto out;
    char *data = NULL;
    long n = BIO_get_mem_data(outb, &data);
    res = malloc((size_t)n + 1);
    if (!res)
        goto out;
    memcpy(res, data, (size_t)n);
    res[n] = '\0';
    *outlen = (size_t)n;
out:
    ERR_clear_error();
    BIO_free(in);
    BIO_free(outb);
    return res;
}

static void collect_alternates(void *ud, const char *value)
{
    struct {
        char **urls;
        size_t n;
    } *alt = ud;
    acme_link_alternates(value, &alt->urls, &alt->n, MAX_ALTERNATES);
}

/* Downloads one chain; alternates (may be NULL) collects the Link rel="alternate" URLs. */
static int fetch_chain(acme_client_t *c, const char *action, const char *url, char **pem, size_t *len,
                       void *alternates, acme_error_t *e)
{
    http_response_t r;
    if (post_jws(c, action, url, NULL, false, "Accept: application/pem-certificate-chain", CERT_MAX, &r, e) != 0)
        return -1;
    *pem = normalize_chain(r.body ? r.body : "", r.body_len, len);
    if (!*pem) {
        local_error(e, ACME_ERR_TRANSIENT, "certificate response from ACME server holds no PEM certificate");
        http_response_clear(&r);
        return -1;
    }
    if (alternates)
        http_response_each_header(&r, "Link", collect_alternates, alternates);
    http_response_clear(&r);
    return 0;
}

int acme_cert_fetch(acme_client_t *c, const char *cert_url, const char *preferred_chain, char **pem,
                    size_t *pem_len, acme_error_t *e)
{
    struct {
        char **urls;
        size_t n;
    } alt = {NULL, 0};
    size_t len = 0;
    char *chain = NULL;
    int rc = -1;
    acme_error_clear(e);
    *pem = NULL;
    if (fetch_chain(c, "fetch_cert", cert_url, &chain, &len, &alt, e) != 0)
        goto out;
    char cn[256];
    if (preferred_chain && *preferred_chain &&
        !(acme_chain_top_issuer_cn(chain, len, cn, sizeof(cn)) == 0 && strcmp(cn, preferred_chain) == 0)) {
        for (size_t i = 0; i < alt.n; i++) {
            char *other = NULL;
            size_t olen = 0;
            if (fetch_chain(c, "list_cert_alternates", alt.urls[i], &other, &olen, NULL, e) != 0) {
                free(chain);
                chain = NULL;
                goto out;
            }
            if (acme_chain_top_issuer_cn(other, olen, cn, sizeof(cn)) == 0 && strcmp(cn, preferred_chain) == 0) {
                LOG_V(2, "ACME preferred chain selected", "url", alt.urls[i]);
                free(chain);
                chain = other;
                len = olen;
                break;
            }
            free(other);
        }
    }
    *pem = chain;
    if (pem_len)
        *pem_len = len;
    rc = 0;
out:
    for (size_t i = 0; i < alt.n; i++)
        free(alt.urls[i]);
    free(alt.urls);
    return rc;
}

/* ----- ARI --------------------------------------------------------------------------------------------- */

int acme_ari_cert_id(const char *cert_pem, char **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = -1;
    BIGNUM *bn = NULL;
    char *a64 = NULL, *s64 = NULL;
    if (!cert_pem) {
        snprintf(err, errlen, "no certificate");
        return -1;
    }
    size_t len = strnlen(cert_pem, CERT_MAX + 1);
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)(len > CERT_MAX ? CERT_MAX : len));
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (!x) {
        snprintf(err, errlen, "no PEM certificate");
        goto out;
    }
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
    if (!aki || ASN1_STRING_length(aki) <= 0) {
        snprintf(err, errlen, "certificate has no authority key identifier");
        goto out;
    }
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (!bn || BN_is_negative(bn)) {
        snprintf(err, errlen, "certificate serial number unusable");
        goto out;
    }
    /* DER INTEGER content: big-endian two's complement, so a leading 0x00 when the top bit is set. */
    unsigned char ser[64];
    int n = BN_num_bytes(bn);
    if (n > 40) {
        snprintf(err, errlen, "certificate serial number too long");
        goto out;
    }
    size_t off = 0;
    if (n == 0) {
        ser[0] = 0;
        off = 1;
    } else {
        BN_bn2bin(bn, ser + 1);
        if (ser[1] & 0x80) {
            ser[0] = 0;
            off = (size_t)n + 1;
        } else {
            memmove(ser, ser + 1, (size_t)n);
            off = (size_t)n;
        }
    }
    a64 = acme_b64url_encode(ASN1_STRING_get0_data(aki), (size_t)ASN1_STRING_length(aki));
    s64 = acme_b64url_encode(ser, off);
    if (!a64 || !s64) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t total = strlen(a64) + 1 + strlen(s64) + 1;
    *out = malloc(total);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(*out, total, "%s.%s", a64, s64);
    rc = 0;
out:
    ERR_clear_error();
    free(a64);
    free(s64);
    BN_free(bn);
    X509_free(x);
    BIO_free(bio);
    return rc;
}

int acme_renewal_info(acme_client_t *c, const char *cert_pem, acme_renewal_info_t *out, acme_error_t *e)
{
    const acme_directory_t *d;
    acme_error_clear(e);
    memset(out, 0, sizeof(*out));
    if (acme_directory_get(c, &d, e) != 0)
        return -1;
    if (!d->renewal_info) {
        local_error(e, ACME_ERR_TERMINAL, "the ACME server does not support renewal information (ARI)");
        return -1;
    }
    char *id = NULL, err[128];
    if (acme_ari_cert_id(cert_pem, &id, err, sizeof(err)) != 0) {
        local_error(e, ACME_ERR_TERMINAL, "ARI: %s", err);
        return -1;
    }
    size_t bl = strlen(d->renewal_info);
    bool slash = bl > 0 && d->renewal_info[bl - 1] == '/';
    size_t ulen = bl + 1 + strlen(id) + 1;
    char *url = malloc(ulen);
    if (!url) {
        free(id);
        local_error(e, ACME_ERR_TRANSIENT, "out of memory");
        return -1;
    }
    snprintf(url, ulen, "%s%s%s", d->renewal_info, slash ? "" : "/", id);
    free(id);
    http_response_t r;
    int rc = -1;
    if (round_trip(c, "get_renewal_info", "GET", url, NULL, NULL, ACME_JSON_MAX, &r, e) != 0)
        goto out_url;
    if (!is_2xx(r.status)) {
        classify(&r, e);
        goto out;
    }
    char perr[160];
    if (acme_renewal_info_parse(r.body, r.body_len, out, perr, sizeof(perr)) != 0) {
        bad_body(e, "renewal information", perr);
        goto out;
    }
    out->retry_after_ms = retry_after_header(&r);
    rc = 0;
out:
    http_response_clear(&r);
out_url:
    free(url);
    return rc;
}
