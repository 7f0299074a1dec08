/* SPDX-License-Identifier: Apache-2.0 */
/* Pure ACME response parsers and decisions (see acme_parse.h); also the resource helpers of acme.h. */
#include "acme/acme_parse.h"

#include <ctype.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX 4096      /* longest URL accepted in a response */
#define TEXT_MAX 8192     /* longest other string member kept */
#define MAX_CONTACTS 16

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void copy_trunc(char *dst, size_t dstlen, const char *src)
{
    snprintf(dst, dstlen, "%s", src ? src : "");
}

/* ----- status / errors / frees ------------------------------------------------------------------------- */

static const char *const status_names[] = {"", "pending", "ready", "processing", "valid", "invalid", "expired",
                                           "deactivated", "revoked"};

const char *acme_status_name(enum acme_status s)
{
    if ((size_t)s >= sizeof(status_names) / sizeof(status_names[0]))
        return "";
    return status_names[s];
}

enum acme_status acme_status_parse(const char *s)
{
    if (!s)
        return ACME_STATUS_UNKNOWN;
    for (size_t i = 1; i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (strcmp(s, status_names[i]) == 0)
            return (enum acme_status)i;
    return ACME_STATUS_UNKNOWN;
}

void acme_error_clear(acme_error_t *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

bool acme_error_is(const acme_error_t *e, const char *name)
{
    size_t pl = strlen(ACME_PROBLEM_PREFIX);
    return e && name && strncmp(e->type, ACME_PROBLEM_PREFIX, pl) == 0 && strcmp(e->type + pl, name) == 0;
}

void acme_error_format(const acme_error_t *e, char *buf, size_t buflen)
{
    if (!buflen)
        return;
    buf[0] = '\0';
    if (!e)
        return;
    size_t off = 0;
    int n;
    if (e->type[0])
        n = snprintf(buf, buflen, "%s: %s", e->type, e->detail);
    else
        n = snprintf(buf, buflen, "%s", e->detail);
    if (n < 0)
        return;
    off = (size_t)n < buflen ? (size_t)n : buflen - 1;
    for (size_t i = 0; i < e->n_subproblems && off + 1 < buflen; i++) {
        const acme_subproblem_t *s = &e->subproblems[i];
        n = snprintf(buf + off, buflen - off, "%s%s%s%s: %s", i == 0 ? " (" : "; ", s->identifier_value,
                     s->identifier_value[0] ? " " : "", s->type, s->detail);
        if (n < 0)
            return;
        off += (size_t)n < buflen - off ? (size_t)n : buflen - off - 1;
        if (i + 1 == e->n_subproblems && off + 1 < buflen) {
            snprintf(buf + off, buflen - off, ")");
            off++;
        }
    }
}

void acme_directory_free(acme_directory_t *d)
{
    if (!d)
        return;
    free(d->new_nonce);
    free(d->new_account);
    free(d->new_order);
    free(d->revoke_cert);
    free(d->key_change);
    free(d->new_authz);
    free(d->renewal_info);
    free(d->terms_of_service);
    free(d->website);
    for (size_t i = 0; i < d->n_profiles; i++) {
        free(d->profiles[i].name);
        free(d->profiles[i].description);
    }
    free(d->profiles);
    free(d);
}

void acme_order_free(acme_order_t *o)
{
    if (!o)
        return;
    free(o->url);
    free(o->expires);
    free(o->not_before);
    free(o->not_after);
    free(o->profile);
    free(o->replaces);
    free(o->identifiers);
    for (size_t i = 0; i < o->n_authorizations; i++)
        free(o->authorizations[i]);
    free(o->authorizations);
    free(o->finalize);
    free(o->certificate);
    free(o->error);
    free(o);
}

void acme_authz_free(acme_authz_t *a)
{
    if (!a)
        return;
    free(a->url);
    free(a->expires);
    for (size_t i = 0; i < a->n_challenges; i++) {
        free(a->challenges[i].url);
        free(a->challenges[i].token);
        free(a->challenges[i].validated);
        free(a->challenges[i].error);
    }
    free(a->challenges);
    free(a);
}

void acme_account_free(acme_account_t *a)
{
    if (!a)
        return;
    free(a->url);
    for (size_t i = 0; i < a->n_contacts; i++)
        free(a->contacts[i]);
    free(a->contacts);
    free(a);
}

void acme_renewal_info_clear(acme_renewal_info_t *ri)
{
    if (!ri)
        return;
    free(ri->explanation_url);
    memset(ri, 0, sizeof(*ri));
}

const acme_challenge_t *acme_authz_find_challenge(const acme_authz_t *a, const char *type)
{
    for (size_t i = 0; a && i < a->n_challenges; i++)
        if (strcmp(a->challenges[i].type, type) == 0)
            return &a->challenges[i];
    return NULL;
}

/* ----- JSON helpers ------------------------------------------------------------------------------------ */

/* Parses exactly one JSON object from json[0..len) (trailing whitespace allowed). NULL with err. */
static json_object *parse_object(const char *json, size_t len, char *err, size_t errlen)
{
    if (!json || len == 0) {
        set_err(err, errlen, "empty response body");
        return NULL;
    }
    if (len > ACME_JSON_MAX) {
        set_err(err, errlen, "response body too large");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(32);
    if (!tok) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    json_object *obj = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        set_err(err, errlen, "response is not valid JSON: %s", json_tokener_error_desc(jerr));
        return NULL;
    }
    for (size_t i = used; i < len; i++) {
        if (!isspace((unsigned char)json[i])) {
            json_object_put(obj);
            set_err(err, errlen, "trailing data after JSON document");
            return NULL;
        }
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        set_err(err, errlen, "response is not a JSON object");
        return NULL;
    }
    return obj;
}

/* Borrowed string member: 1 found, 0 absent (or null), -1 wrong type / too long / contains NUL. */
static int get_str(json_object *o, const char *key, size_t max, const char **out, char *err, size_t errlen)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string)) {
        set_err(err, errlen, "member \"%s\" is not a string", key);
        return -1;
    }
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (n > max || strlen(s) != n) {
        set_err(err, errlen, "member \"%s\" is too long or contains NUL", key);
        return -1;
    }
    *out = s;
    return 1;
}

/* Owned copy of a string member into *dst; required → absent is an error. 0 or -1. */
static int dup_str(json_object *o, const char *key, size_t max, bool required, char **dst, char *err,
                   size_t errlen)
{
    const char *s = NULL;
    int r = get_str(o, key, max, &s, err, errlen);
    if (r < 0)
        return -1;
    if (r == 0) {
        if (required) {
            set_err(err, errlen, "required member \"%s\" missing", key);
            return -1;
        }
        return 0;
    }
    *dst = strdup(s);
    if (!*dst) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int get_status(json_object *o, enum acme_status *st, char *err, size_t errlen)
{
    const char *s = NULL;
    int r = get_str(o, "status", 32, &s, err, errlen);
    if (r < 0)
        return -1;
    if (r == 0) {
        set_err(err, errlen, "required member \"%s\" missing", "status");
        return -1;
    }
    *st = acme_status_parse(s);
    if (*st == ACME_STATUS_UNKNOWN) {
        set_err(err, errlen, "unknown status value");
        return -1;
    }
    return 0;
}

/* Borrowed array member; required → absent is an error; more than max elements is an error. */
static int get_array(json_object *o, const char *key, size_t max, bool required, json_object **out, char *err,
                     size_t errlen)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
        if (required) {
            set_err(err, errlen, "required member \"%s\" missing", key);
            return -1;
        }
        return 0;
    }
    if (!json_object_is_type(v, json_type_array)) {
        set_err(err, errlen, "member \"%s\" is not an array", key);
        return -1;
    }
    if (json_object_array_length(v) > max) {
        set_err(err, errlen, "member \"%s\" has too many elements", key);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_identifier(json_object *v, acme_identifier_t *id, char *err, size_t errlen)
{
    const char *t = NULL, *val = NULL;
    if (!json_object_is_type(v, json_type_object)) {
        set_err(err, errlen, "identifier is not an object");
        return -1;
    }
    if (get_str(v, "type", sizeof(id->type) - 1, &t, err, errlen) != 1 ||
        get_str(v, "value", sizeof(id->value) - 1, &val, err, errlen) != 1) {
        set_err(err, errlen, "identifier needs string \"type\" and \"value\" (short)");
        return -1;
    }
    copy_trunc(id->type, sizeof(id->type), t);
    copy_trunc(id->value, sizeof(id->value), val);
    return 0;
}

/* Fills the problem part of e from an object (type required). */
static int problem_from_object(json_object *o, acme_error_t *e)
{
    const char *t = NULL, *d = NULL;
    char dummy[8];
    if (get_str(o, "type", TEXT_MAX, &t, dummy, sizeof(dummy)) != 1)
        return -1;
    copy_trunc(e->type, sizeof(e->type), t);
    if (get_str(o, "detail", TEXT_MAX, &d, dummy, sizeof(dummy)) == 1)
        copy_trunc(e->detail, sizeof(e->detail), d);
    else
        e->detail[0] = '\0';
    e->n_subproblems = 0;
    json_object *subs = NULL;
    if (json_object_object_get_ex(o, "subproblems", &subs) && json_object_is_type(subs, json_type_array)) {
        size_t n = json_object_array_length(subs);
        for (size_t i = 0; i < n && e->n_subproblems < ACME_MAX_SUBPROBLEMS; i++) {
            json_object *s = json_object_array_get_idx(subs, i);
            if (!json_object_is_type(s, json_type_object))
                continue;
            acme_subproblem_t *sp = &e->subproblems[e->n_subproblems];
            memset(sp, 0, sizeof(*sp));
            if (get_str(s, "type", TEXT_MAX, &t, dummy, sizeof(dummy)) == 1)
                copy_trunc(sp->type, sizeof(sp->type), t);
            if (get_str(s, "detail", TEXT_MAX, &d, dummy, sizeof(dummy)) == 1)
                copy_trunc(sp->detail, sizeof(sp->detail), d);
            json_object *id = NULL;
            if (json_object_object_get_ex(s, "identifier", &id) && json_object_is_type(id, json_type_object)) {
                if (get_str(id, "type", TEXT_MAX, &t, dummy, sizeof(dummy)) == 1)
                    copy_trunc(sp->identifier_type, sizeof(sp->identifier_type), t);
                if (get_str(id, "value", TEXT_MAX, &d, dummy, sizeof(dummy)) == 1)
                    copy_trunc(sp->identifier_value, sizeof(sp->identifier_value), d);
            }
            e->n_subproblems++;
        }
    }
    return 0;
}

/* Optional "error" member → malloc'd terminal acme_error_t. */
static int get_problem_member(json_object *o, acme_error_t **out, char *err, size_t errlen)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, "error", &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_object)) {
        set_err(err, errlen, "member \"%s\" is not an object", "error");
        return -1;
    }
    acme_error_t *e = calloc(1, sizeof(*e));
    if (!e) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    if (problem_from_object(v, e) != 0) {
        /* A problem without type is still an error; keep what we can. */
        copy_trunc(e->type, sizeof(e->type), "");
        copy_trunc(e->detail, sizeof(e->detail), "error without problem type");
    }
    e->kind = ACME_ERR_TERMINAL;
    *out = e;
    return 0;
}

/* ----- resource parsers -------------------------------------------------------------------------------- */

int acme_problem_parse(const char *json, size_t len, acme_error_t *e)
{
    char err[64];
    json_object *o = parse_object(json, len, err, sizeof(err));
    if (!o)
        return -1;
    int rc = problem_from_object(o, e);
    json_object_put(o);
    return rc;
}

int acme_directory_parse(const char *json, size_t len, acme_directory_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_object *o = parse_object(json, len, err, errlen);
    if (!o)
        return -1;
    int rc = -1;
    acme_directory_t *d = calloc(1, sizeof(*d));
    if (!d) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    if (dup_str(o, "newNonce", URL_MAX, true, &d->new_nonce, err, errlen) ||
        dup_str(o, "newAccount", URL_MAX, true, &d->new_account, err, errlen) ||
        dup_str(o, "newOrder", URL_MAX, true, &d->new_order, err, errlen) ||
        dup_str(o, "revokeCert", URL_MAX, false, &d->revoke_cert, err, errlen) ||
        dup_str(o, "keyChange", URL_MAX, false, &d->key_change, err, errlen) ||
        dup_str(o, "newAuthz", URL_MAX, false, &d->new_authz, err, errlen) ||
        dup_str(o, "renewalInfo", URL_MAX, false, &d->renewal_info, err, errlen))
        goto out;
    json_object *meta = NULL;
    if (json_object_object_get_ex(o, "meta", &meta) && meta) {
        if (!json_object_is_type(meta, json_type_object)) {
            set_err(err, errlen, "member \"%s\" is not an object", "meta");
            goto out;
        }
        if (dup_str(meta, "termsOfService", URL_MAX, false, &d->terms_of_service, err, errlen) ||
            dup_str(meta, "website", URL_MAX, false, &d->website, err, errlen))
            goto out;
        json_object *v = NULL;
        if (json_object_object_get_ex(meta, "externalAccountRequired", &v) && v) {
            if (!json_object_is_type(v, json_type_boolean)) {
                set_err(err, errlen, "member \"%s\" is not a boolean", "externalAccountRequired");
                goto out;
            }
            d->external_account_required = json_object_get_boolean(v);
        }
        json_object *profiles = NULL;
        if (json_object_object_get_ex(meta, "profiles", &profiles) && profiles) {
            if (!json_object_is_type(profiles, json_type_object)) {
                set_err(err, errlen, "member \"%s\" is not an object", "profiles");
                goto out;
            }
            size_t n = (size_t)json_object_object_length(profiles);
            if (n > ACME_MAX_PROFILES) {
                set_err(err, errlen, "member \"%s\" has too many elements", "profiles");
                goto out;
            }
            d->profiles = calloc(n ? n : 1, sizeof(*d->profiles));
            if (!d->profiles) {
                set_err(err, errlen, "out of memory");
                goto out;
            }
            json_object_object_foreach(profiles, name, desc)
            {
                if (strlen(name) > 256) {
                    set_err(err, errlen, "profile name too long");
                    goto out;
                }
                acme_profile_t *p = &d->profiles[d->n_profiles++];
                p->name = strdup(name);
                /* Descriptions are free text; anything but a string is kept as "". */
                p->description = strdup(desc && json_object_is_type(desc, json_type_string)
                                            ? json_object_get_string(desc)
                                            : "");
                if (!p->name || !p->description) {
                    set_err(err, errlen, "out of memory");
                    goto out;
                }
            }
        }
    }
    *out = d;
    d = NULL;
    rc = 0;
out:
    acme_directory_free(d);
    json_object_put(o);
    return rc;
}

int acme_order_parse(const char *json, size_t len, acme_order_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_object *o = parse_object(json, len, err, errlen);
    if (!o)
        return -1;
    int rc = -1;
    json_object *ids = NULL, *authzs = NULL;
    acme_order_t *ord = calloc(1, sizeof(*ord));
    if (!ord) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    if (get_status(o, &ord->status, err, errlen) ||
        dup_str(o, "expires", 64, false, &ord->expires, err, errlen) ||
        dup_str(o, "notBefore", 64, false, &ord->not_before, err, errlen) ||
        dup_str(o, "notAfter", 64, false, &ord->not_after, err, errlen) ||
        dup_str(o, "profile", 256, false, &ord->profile, err, errlen) ||
        dup_str(o, "replaces", 1024, false, &ord->replaces, err, errlen) ||
        dup_str(o, "finalize", URL_MAX, true, &ord->finalize, err, errlen) ||
        dup_str(o, "certificate", URL_MAX, false, &ord->certificate, err, errlen) ||
        get_problem_member(o, &ord->error, err, errlen) ||
        get_array(o, "identifiers", ACME_MAX_IDENTIFIERS, true, &ids, err, errlen) ||
        get_array(o, "authorizations", ACME_MAX_IDENTIFIERS, true, &authzs, err, errlen))
        goto out;
    size_t n = json_object_array_length(ids);
    ord->identifiers = calloc(n ? n : 1, sizeof(*ord->identifiers));
    if (!ord->identifiers) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (parse_identifier(json_object_array_get_idx(ids, i), &ord->identifiers[i], err, errlen))
            goto out;
        ord->n_identifiers++;
    }
    n = json_object_array_length(authzs);
    ord->authorizations = calloc(n ? n : 1, sizeof(char *));
    if (!ord->authorizations) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(authzs, i);
        if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) > URL_MAX) {
            set_err(err, errlen, "authorization URL is not a (short) string");
            goto out;
        }
        ord->authorizations[i] = strdup(json_object_get_string(v));
        if (!ord->authorizations[i]) {
            set_err(err, errlen, "out of memory");
            goto out;
        }
        ord->n_authorizations++;
    }
    *out = ord;
    ord = NULL;
    rc = 0;
out:
    acme_order_free(ord);
    json_object_put(o);
    return rc;
}

int acme_authz_parse(const char *json, size_t len, acme_authz_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_object *o = parse_object(json, len, err, errlen);
    if (!o)
        return -1;
    int rc = -1;
    json_object *chs = NULL, *id = NULL, *wc = NULL;
    acme_authz_t *a = calloc(1, sizeof(*a));
    if (!a) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    if (get_status(o, &a->status, err, errlen) ||
        dup_str(o, "expires", 64, false, &a->expires, err, errlen) ||
        get_array(o, "challenges", ACME_MAX_CHALLENGES, true, &chs, err, errlen))
        goto out;
    if (!json_object_object_get_ex(o, "identifier", &id) || !id) {
        set_err(err, errlen, "required member \"%s\" missing", "identifier");
        goto out;
    }
    if (parse_identifier(id, &a->identifier, err, errlen))
        goto out;
    if (json_object_object_get_ex(o, "wildcard", &wc) && wc) {
        if (!json_object_is_type(wc, json_type_boolean)) {
            set_err(err, errlen, "member \"%s\" is not a boolean", "wildcard");
            goto out;
        }
        a->wildcard = json_object_get_boolean(wc);
    }
    size_t n = json_object_array_length(chs);
    a->challenges = calloc(n ? n : 1, sizeof(*a->challenges));
    if (!a->challenges) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(chs, i);
        acme_challenge_t *ch = &a->challenges[a->n_challenges++];
        const char *t = NULL;
        if (!json_object_is_type(c, json_type_object)) {
            set_err(err, errlen, "challenge is not an object");
            goto out;
        }
        if (get_str(c, "type", sizeof(ch->type) - 1, &t, err, errlen) != 1) {
            set_err(err, errlen, "challenge needs a short string \"type\"");
            goto out;
        }
        copy_trunc(ch->type, sizeof(ch->type), t);
        if (get_status(c, &ch->status, err, errlen) || dup_str(c, "url", URL_MAX, true, &ch->url, err, errlen) ||
            dup_str(c, "token", 1024, false, &ch->token, err, errlen) ||
            dup_str(c, "validated", 64, false, &ch->validated, err, errlen) ||
            get_problem_member(c, &ch->error, err, errlen))
            goto out;
    }
    *out = a;
    a = NULL;
    rc = 0;
out:
    acme_authz_free(a);
    json_object_put(o);
    return rc;
}

int acme_account_parse(const char *json, size_t len, acme_account_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_object *o = parse_object(json, len, err, errlen);
    if (!o)
        return -1;
    int rc = -1;
    json_object *contacts = NULL;
    acme_account_t *a = calloc(1, sizeof(*a));
    if (!a) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    /* status is required by RFC 8555 §7.1.2, but tolerate servers omitting it in update responses. */
    if (json_object_object_get_ex(o, "status", NULL) && get_status(o, &a->status, err, errlen))
        goto out;
    if (get_array(o, "contact", MAX_CONTACTS, false, &contacts, err, errlen))
        goto out;
    if (contacts) {
        size_t n = json_object_array_length(contacts);
        a->contacts = calloc(n ? n : 1, sizeof(char *));
        if (!a->contacts) {
            set_err(err, errlen, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(contacts, i);
            if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 1024) {
                set_err(err, errlen, "contact is not a (short) string");
                goto out;
            }
            a->contacts[i] = strdup(json_object_get_string(v));
            if (!a->contacts[i]) {
                set_err(err, errlen, "out of memory");
                goto out;
            }
            a->n_contacts++;
        }
    }
    *out = a;
    a = NULL;
    rc = 0;
out:
    acme_account_free(a);
    json_object_put(o);
    return rc;
}

int acme_renewal_info_parse(const char *json, size_t len, acme_renewal_info_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_object *o = parse_object(json, len, err, errlen);
    if (!o)
        return -1;
    int rc = -1;
    json_object *w = NULL;
    const char *s = NULL, *e = NULL;
    if (!json_object_object_get_ex(o, "suggestedWindow", &w) || !json_object_is_type(w, json_type_object)) {
        set_err(err, errlen, "required object \"%s\" missing", "suggestedWindow");
        goto out;
    }
    if (get_str(w, "start", 64, &s, err, errlen) != 1 || get_str(w, "end", 64, &e, err, errlen) != 1 ||
        acme_rfc3339_parse(s, &out->window_start) || acme_rfc3339_parse(e, &out->window_end)) {
        set_err(err, errlen, "suggestedWindow needs RFC 3339 \"start\" and \"end\"");
        goto out;
    }
    if (out->window_end < out->window_start) {
        set_err(err, errlen, "suggestedWindow ends before it starts");
        goto out;
    }
    if (dup_str(o, "explanationURL", URL_MAX, false, &out->explanation_url, err, errlen))
        goto out;
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

/* ----- classification ---------------------------------------------------------------------------------- */

void acme_classify_response(long status, const char *body, size_t body_len, const char *retry_after, time_t now,
                            acme_error_t *e)
{
    acme_error_clear(e);
    e->http_status = status;
    long ra = 0;
    bool have_ra = retry_after && acme_retry_after_parse(retry_after, now, &ra) == 0;
    if (have_ra)
        e->retry_after_ms = ra;
    bool problem = body && body_len && acme_problem_parse(body, body_len, e) == 0;
    if (!problem) {
        e->type[0] = '\0';
        e->n_subproblems = 0;
        if (status == 0)
            snprintf(e->detail, sizeof(e->detail), "no response from ACME server");
        else
            snprintf(e->detail, sizeof(e->detail), "unexpected HTTP status %ld from ACME server", status);
    }
    if (acme_error_is(e, "rateLimited") || status == 429) {
        e->kind = ACME_ERR_RETRY_AFTER;
        e->retry_after_ms = have_ra ? ra : ACME_DEFAULT_RETRY_AFTER_MS;
    } else if (status == 0 || status >= 500 || status == 408) {
        e->kind = ACME_ERR_TRANSIENT;
    } else if (acme_error_is(e, "badNonce")) {
        e->kind = ACME_ERR_TRANSIENT;
    } else {
        e->kind = ACME_ERR_TERMINAL;
    }
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int acme_retry_after_parse(const char *value, time_t now, long *ms)
{
    const long cap_s = 24L * 3600;
    *ms = 0;
    if (!value)
        return -1;
    const char *p = skip_ws(value);
    if (isdigit((unsigned char)*p)) {
        long s = 0;
        while (isdigit((unsigned char)*p)) {
            if (s < cap_s)
                s = s * 10 + (*p - '0');
            p++;
        }
        if (*skip_ws(p) != '\0')
            return -1;
        if (s > cap_s)
            s = cap_s;
        *ms = s * 1000;
        return 0;
    }
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* asctime */
    };
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(p, formats[i], &tm);
        if (!end || *skip_ws(end) != '\0')
            continue;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
            return -1;
        long d = t > now ? (long)(t - now) : 0;
        if (d > cap_s)
            d = cap_s;
        *ms = d * 1000;
        return 0;
    }
    return -1;
}

/* ----- Link headers ------------------------------------------------------------------------------------ */

/* True when a rel value (space-separated relation types) contains "alternate". */
static bool rel_has_alternate(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && v[i] == ' ')
            i++;
        size_t s = i;
        while (i < n && v[i] != ' ')
            i++;
        if (i - s == 9 && strncasecmp(v + s, "alternate", 9) == 0)
            return true;
    }
    return false;
}

int acme_link_alternates(const char *link_value, char ***urls, size_t *n, size_t max)
{
    const char *p = link_value;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p != '<')
            return 0; /* not a link-value: ignore the rest */
        const char *us = p + 1;
        const char *ue = strchr(us, '>');
        if (!ue)
            return 0;
        p = ue + 1;
        bool alternate = false;
        /* params: ; name[=value] until ',' outside quotes */
        for (;;) {
            p = skip_ws(p);
            if (*p != ';')
                break;
            p = skip_ws(p + 1);
            const char *ns = p;
            while (*p && *p != '=' && *p != ';' && *p != ',' && *p != ' ')
                p++;
            size_t nlen = (size_t)(p - ns);
            p = skip_ws(p);
            const char *vs = p, *ve = p;
            if (*p == '=') {
                p = skip_ws(p + 1);
                if (*p == '"') {
                    vs = ++p;
                    while (*p && *p != '"') {
                        if (*p == '\\' && p[1])
                            p++;
                        p++;
                    }
                    ve = p;
                    if (*p == '"')
                        p++;
                } else {
                    vs = p;
                    while (*p && *p != ';' && *p != ',' && *p != ' ')
                        p++;
                    ve = p;
                }
            }
            if (nlen == 3 && strncasecmp(ns, "rel", 3) == 0 && rel_has_alternate(vs, (size_t)(ve - vs)))
                alternate = true;
        }
        if (alternate && *n < max) {
            size_t ulen = (size_t)(ue - us);
            if (ulen > 0 && ulen <= URL_MAX) {
                char **nu = realloc(*urls, (*n + 1) * sizeof(char *));
                if (!nu)
                    return -1;
                *urls = nu;
                nu[*n] = strndup(us, ulen);
                if (!nu[*n])
                    return -1;
                (*n)++;
            }
        }
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

/* ----- chains ------------------------------------------------------------------------------------------ */

int acme_chain_top_issuer_cn(const char *pem, size_t len, char *cn, size_t cnlen)
{
    if (cnlen)
        cn[0] = '\0';
    if (!pem || len == 0 || len > ACME_JSON_MAX)
        return -1;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return -1;
    X509 *last = NULL, *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_free(last);
        last = x;
    }
    ERR_clear_error();
    BIO_free(bio);
    if (!last)
        return -1;
    int rc = 0;
    const X509_NAME *name = X509_get_issuer_name(last);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx >= 0) {
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
        if (n >= 0) {
            snprintf(cn, cnlen, "%.*s", n, (const char *)utf8);
            OPENSSL_free(utf8);
        } else {
            rc = -1;
        }
    }
    X509_free(last);
    ERR_clear_error();
    return rc;
}

size_t acme_choose_chain(const char *const *chains, const size_t *lens, size_t n, const char *preferred)
{
    if (!preferred || !*preferred)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char cn[256];
        if (acme_chain_top_issuer_cn(chains[i], lens[i], cn, sizeof(cn)) == 0 && strcmp(cn, preferred) == 0)
            return i;
    }
    return 0;
}

/* ----- time -------------------------------------------------------------------------------------------- */

int acme_rfc3339_parse(const char *s, time_t *out)
{
    int Y, M, D, h, m, sec, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3 || n != 10)
        return -1;
    s += n;
    if (*s != 'T' && *s != 't' && *s != ' ')
        return -1;
    s++;
    if (sscanf(s, "%2d:%2d:%2d%n", &h, &m, &sec, &n) != 3 || n != 8)
        return -1;
    s += n;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s))
            s++;
    }
    long off = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int oh, om;
        char sign = *s++;
        if (sscanf(s, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
            return -1;
        s += n;
        off = (oh * 3600L + om * 60L) * (sign == '+' ? 1 : -1);
    } else {
        return -1;
    }
    if (*s != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || Y < 1970)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t - off;
    return 0;
}
