/* SPDX-License-Identifier: Apache-2.0 */
#include "util/err.h"
#include "http01.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http01/resources.h"
#include "http01/selfcheck.h"
#include "kube/object.h"
#include "util/log.h"

#define EXTRA_LABELS_MAX 4096 /* --acme-http01-solver-extra-labels length cap */
#define MAX_OWNED 64          /* owned objects looked at per kind (more is already an error) */

/* Appends "; msg" (or msg) to err: clean-up aggregates its errors. */
static void adderr(char *err, size_t errlen, const char *msg)
{
    size_t len = strlen(err);
    if (len + 1 >= errlen)
        return;
    snprintf(err + len, errlen - len, "%s%s", len ? "; " : "", msg);
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int ctrl_http01_parse_extra_labels(const char *s, json_object **out, char *err, size_t errlen)
{
    *out = NULL;
    json_object *o = json_object_new_object();
    if (!o) {
        util_seterr(err, errlen, "out of memory");
        return -1;
    }
    if (!s || !*s) {
        *out = o;
        return 0;
    }
    if (strlen(s) > EXTRA_LABELS_MAX) {
        util_seterr(err, errlen, "extra labels longer than %d bytes", EXTRA_LABELS_MAX);
        json_object_put(o);
        return -1;
    }
    char *copy = strdup(s);
    if (!copy) {
        json_object_put(o);
        util_seterr(err, errlen, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *t = trim(tok);
        if (!*t)
            continue;
        char *eq = strchr(t, '=');
        if (!eq) {
            util_seterr(err, errlen, "extra label \"%s\" is not key=value", t);
            goto fail;
        }
        *eq = '\0';
        char *k = trim(t), *v = trim(eq + 1);
        if (!*k) {
            util_seterr(err, errlen, "extra label with an empty key");
            goto fail;
        }
        json_object_object_add(o, k, json_object_new_string(v));
    }
    free(copy);
    *out = o;
    return 0;
fail:
    free(copy);
    json_object_put(o);
    return -1;
}

/* ---- the Challenge ---- */

static json_object *jobj(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_object) ? v : NULL;
}

static int challenge_of(json_object *ch, http01_challenge_t *out, char *err, size_t errlen)
{
    json_object *meta = jobj(ch, "metadata"), *spec = jobj(ch, "spec");
    out->ns = kube_obj_str(meta, "namespace");
    out->name = kube_obj_str(meta, "name");
    out->uid = kube_obj_str(meta, "uid");
    out->dns_name = kube_obj_str(spec, "dnsName");
    out->token = kube_obj_str(spec, "token");
    out->key = kube_obj_str(spec, "key");
    if (!out->ns || !*out->ns || !out->name || !out->uid || !*out->uid || !out->dns_name || !*out->dns_name ||
        !out->token || !*out->token) {
        util_seterr(err, errlen, "challenge lacks namespace, name, uid, spec.dnsName or spec.token");
        return -1;
    }
    if (!out->key)
        out->key = "";
    return 0;
}

/* spec.solver.http01.ingress (borrowed) or NULL with err (no http01 config, gateway solver). */
static json_object *ingress_config(json_object *ch, char *err, size_t errlen)
{
    json_object *http01 = jobj(jobj(jobj(ch, "spec"), "solver"), "http01");
    if (!http01) {
        util_seterr(err, errlen, "the challenge's solver has no http01 configuration");
        return NULL;
    }
    json_object *ing = jobj(http01, "ingress");
    if (!ing) {
        if (jobj(http01, "gatewayHTTPRoute"))
            util_seterr(err, errlen, "http01.gatewayHTTPRoute solvers are not supported by kacme");
        else
            util_seterr(err, errlen, "the challenge's http01 solver has no ingress configuration");
        return NULL;
    }
    return ing;
}

static const char *edit_in_place_name(json_object *ing)
{
    const char *n = kube_obj_str(ing, "name");
    return n && *n ? n : NULL;
}

static ctrl_http01_options_t g_opts = {.runtime_class_name = NULL, .ingress_path_type_exact = true};

void ctrl_http01_options_init(ctrl_http01_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->ingress_path_type_exact = true;
}

void ctrl_http01_set_options(const ctrl_http01_options_t *o)
{
    if (o)
        g_opts = *o;
    else
        ctrl_http01_options_init(&g_opts);
}

/* Settings from the controller flags; *labels is owned by the caller (json_object_put). */
static int settings_of(ctrl_ctx_t *ctx, http01_settings_t *s, json_object **labels, char *err, size_t errlen)
{
    const ctrl_options_t *o = ctx->opts;
    http01_settings_init(s);
    if (ctrl_http01_parse_extra_labels(o->solver_extra_labels, labels, err, errlen) != 0)
        return -1;
    s->image = o->solver_image;
    s->request_cpu = o->solver_request_cpu;
    s->request_memory = o->solver_request_memory;
    s->limit_cpu = o->solver_limits_cpu;
    s->limit_memory = o->solver_limits_memory;
    s->run_as_non_root = o->solver_run_as_non_root;
    s->runtime_class_name = g_opts.runtime_class_name;
    s->path_type_implementation_specific = !g_opts.ingress_path_type_exact;
    s->extra_labels = *labels;
    return 0;
}

/* ---- owned objects ---- */

typedef struct owned {
    json_object *items[MAX_OWNED]; /* owned references */
    size_t n;
    bool truncated;
} owned_t;

static void owned_clear(owned_t *o)
{
    for (size_t i = 0; i < o->n; i++)
        json_object_put(o->items[i]);
    o->n = 0;
    o->truncated = false;
}

static void owned_add(owned_t *o, json_object *obj)
{
    if (o->n >= MAX_OWNED) {
        o->truncated = true;
        return;
    }
    o->items[o->n++] = json_object_get(obj);
}

static bool label_is(json_object *obj, const char *key, const char *want)
{
    const char *v = kube_obj_str(jobj(jobj(obj, "metadata"), "labels"), key);
    return v && want && strcmp(v, want) == 0;
}

/* True when obj carries the challenge's identity labels. */
static bool has_identity(json_object *obj, json_object *identity)
{
    json_object_object_foreach(identity, k, v)
    {
        if (!label_is(obj, k, json_object_get_string(v)))
            return false;
    }
    return true;
}

/* The objects of resource r owned by the challenge and carrying its identity labels. From the store when it
 * has any (store may be NULL); otherwise (or with rest_only) from a REST list by label selector, so that a
 * cache that has not seen our last create yet does not make us create a second one. */
static int find_owned(ctrl_ctx_t *ctx, const kube_resource_t *r, kube_store_t *store, const http01_challenge_t *ch,
                      bool metadata_only, bool rest_only, owned_t *out, char *err, size_t errlen)
{
    out->n = 0;
    out->truncated = false;
    json_object *identity = http01_identity_labels(ch);
    if (!identity) {
        util_seterr(err, errlen, "out of memory");
        return -1;
    }
    if (store && !rest_only) {
        json_object **objs = NULL;
        size_t n = 0;
        if (kube_store_by_index(store, KUBE_INDEX_CONTROLLER, ch->uid, &objs, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                const char *ns = kube_obj_str(jobj(objs[i], "metadata"), "namespace");
                if (ns && strcmp(ns, ch->ns) == 0 && has_identity(objs[i], identity) &&
                    !kube_obj_str(jobj(objs[i], "metadata"), "deletionTimestamp"))
                    owned_add(out, objs[i]);
            }
            kube_store_list_free(objs, n);
        }
        if (out->n > 0) {
            json_object_put(identity);
            return 0;
        }
    }
    char sel[256];
    if (http01_label_selector(ch, sel, sizeof(sel)) != 0) {
        json_object_put(identity);
        util_seterr(err, errlen, "label selector too long");
        return -1;
    }
    kube_list_opts_t lo = {.label_selector = sel, .metadata_only = metadata_only, .limit = 100};
    json_object *list = NULL;
    kube_error_t ke;
    if (kube_list(ctx->kube, r, ch->ns, &lo, &list, &ke) != 0) {
        char buf[600];
        util_seterr(err, errlen, "cannot list %s: %s", r->resource, kube_error_str(&ke, buf, sizeof(buf)));
        json_object_put(identity);
        return -1;
    }
    json_object *items = NULL;
    if (json_object_object_get_ex(list, "items", &items) && json_object_is_type(items, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *it = json_object_array_get_idx(items, i);
            if (http01_owned_by(it, ch->uid) && has_identity(it, identity) &&
                !kube_obj_str(jobj(it, "metadata"), "deletionTimestamp"))
                owned_add(out, it);
        }
    }
    json_object_put(list);
    json_object_put(identity);
    return 0;
}

/* Deletes obj (borrowed) of resource r; NotFound counts as done. Returns 0 or -1 with err appended. */
static int delete_one(ctrl_ctx_t *ctx, const kube_resource_t *r, json_object *obj, char *err, size_t errlen)
{
    json_object *meta = jobj(obj, "metadata");
    const char *ns = kube_obj_str(meta, "namespace"), *name = kube_obj_str(meta, "name");
    kube_delete_opts_t o = {.precondition_uid = kube_obj_str(meta, "uid"), .propagation_policy = "Background"};
    kube_error_t ke;
    if (!name || kube_delete(ctx->kube, r, ns, name, &o, NULL, &ke) == 0 || ke.type == KUBE_ERR_NOT_FOUND)
        return 0;
    char buf[600], msg[800];
    snprintf(msg, sizeof(msg), "cannot delete %s %s/%s: %s", r->resource, ns ? ns : "", name,
             kube_error_str(&ke, buf, sizeof(buf)));
    adderr(err, errlen, msg);
    return -1;
}

static int delete_all(ctrl_ctx_t *ctx, const kube_resource_t *r, owned_t *o, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < o->n; i++)
        if (delete_one(ctx, r, o->items[i], err, errlen) != 0)
            rc = -1;
    return rc;
}

/* Creates obj (borrowed) in ns; *name_out (optional, >= 254 bytes) gets the generated name. */
static int create_one(ctrl_ctx_t *ctx, const kube_resource_t *r, const char *ns, json_object *obj, char *name_out,
                      size_t name_len, char *err, size_t errlen)
{
    json_object *out = NULL;
    kube_error_t ke;
    if (kube_create(ctx->kube, r, ns, obj, &out, &ke) != 0) {
        char buf[600];
        util_seterr(err, errlen, "cannot create the solver %s: %s", r->resource, kube_error_str(&ke, buf, sizeof(buf)));
        return -1;
    }
    const char *name = kube_obj_str(jobj(out, "metadata"), "name");
    if (name_out)
        snprintf(name_out, name_len, "%s", name ? name : "");
    LOG_V(2, "created HTTP-01 solver object", "resource", r->resource, "namespace", ns, "name", name ? name : "");
    json_object_put(out);
    return 0;
}

/* Ensures exactly one owned object of kind r; *name_out gets its name. Duplicates: all deleted, error. */
static int ensure_one(ctrl_ctx_t *ctx, const kube_resource_t *r, kube_store_t *store, const http01_challenge_t *ch,
                      json_object *(*build)(const http01_challenge_t *, json_object *, const http01_settings_t *,
                                            char *, size_t),
                      json_object *ing, const http01_settings_t *s, char *name_out, size_t name_len, char *err,
                      size_t errlen)
{
    owned_t o = {0};
    int rc = -1;
    /* store first; an empty store answer is confirmed by a REST list inside find_owned */
    if (find_owned(ctx, r, store, ch, true, false, &o, err, errlen) != 0)
        return -1;
    if (o.n > 1 || o.truncated) {
        size_t n = o.n;
        err[0] = '\0';
        delete_all(ctx, r, &o, err, errlen);
        char msg[256];
        snprintf(msg, sizeof(msg), "found %zu%s solver %s for the challenge; deleted them to start over", n,
                 o.truncated ? "+" : "", r->resource);
        adderr(err, errlen, msg);
        goto out;
    }
    if (o.n == 1) {
        const char *name = kube_obj_str(jobj(o.items[0], "metadata"), "name");
        snprintf(name_out, name_len, "%s", name ? name : "");
        rc = 0;
        goto out;
    }
    json_object *obj = build(ch, ing, s, err, errlen);
    if (!obj)
        goto out;
    rc = create_one(ctx, r, ch->ns, obj, name_out, name_len, err, errlen);
    json_object_put(obj);
out:
    owned_clear(&o);
    return rc;
}

/* The generated Ingress for a solver without `name`. */
static int ensure_ingress(ctrl_ctx_t *ctx, const http01_challenge_t *ch, json_object *ing, const http01_settings_t *s,
                          const char *svc, char *err, size_t errlen)
{
    owned_t o = {0};
    int rc = -1;
    if (find_owned(ctx, &KUBE_RES_INGRESSES, ctx->ingresses, ch, false, false, &o, err, errlen) != 0)
        return -1;
    if (o.n == 1 && !o.truncated) {
        const char *backend = http01_ingress_first_backend(o.items[0]);
        if (backend && strcmp(backend, svc) == 0) {
            rc = 0;
            goto out;
        }
    }
    if (o.n > 0) {
        size_t n = o.n;
        err[0] = '\0';
        delete_all(ctx, &KUBE_RES_INGRESSES, &o, err, errlen);
        char msg[256];
        snprintf(msg, sizeof(msg), "found %zu solver ingress(es) not routing to service %s; deleted them", n, svc);
        adderr(err, errlen, msg);
        goto out;
    }
    json_object *obj = http01_build_ingress(ch, ing, s, svc, err, errlen);
    if (!obj)
        goto out;
    rc = create_one(ctx, &KUBE_RES_INGRESSES, ch->ns, obj, NULL, 0, err, errlen);
    json_object_put(obj);
out:
    owned_clear(&o);
    return rc;
}

/* Edit in place: our path → svc in the named Ingress (GET, edit, PUT with its resourceVersion). */
static int edit_ingress(ctrl_ctx_t *ctx, const http01_challenge_t *ch, const http01_settings_t *s, const char *name,
                        const char *svc, bool add, char *err, size_t errlen)
{
    json_object *ing = NULL;
    kube_error_t ke;
    char buf[600];
    int rc = -1;
    if (kube_get(ctx->kube, &KUBE_RES_INGRESSES, ch->ns, name, &ing, &ke) != 0) {
        if (ke.type == KUBE_ERR_NOT_FOUND && !add)
            return 0; /* clean-up: nothing left to remove */
        util_seterr(err, errlen, "cannot get ingress %s/%s: %s", ch->ns, name, kube_error_str(&ke, buf, sizeof(buf)));
        return -1;
    }
    bool changed = false;
    int erc = add ? http01_ingress_add_path(ing, ch, s, svc, &changed, err, errlen)
                  : http01_ingress_remove_path(ing, ch, &changed, err, errlen);
    if (erc != 0)
        goto out;
    if (changed && kube_update(ctx->kube, &KUBE_RES_INGRESSES, ch->ns, name, NULL, ing, NULL, &ke) != 0) {
        if (ke.type == KUBE_ERR_NOT_FOUND && !add) {
            rc = 0;
            goto out;
        }
        util_seterr(err, errlen, "cannot update ingress %s/%s: %s", ch->ns, name, kube_error_str(&ke, buf, sizeof(buf)));
        goto out;
    }
    if (changed)
        LOG_V(2, add ? "added the challenge path to ingress" : "removed the challenge path from ingress", "namespace",
              ch->ns, "ingress", name);
    rc = 0;
out:
    json_object_put(ing);
    return rc;
}

static json_object *build_pod(const http01_challenge_t *ch, json_object *ing, const http01_settings_t *s, char *err,
                              size_t errlen)
{
    return http01_build_pod(ch, ing, s, err, errlen);
}

static json_object *build_service(const http01_challenge_t *ch, json_object *ing, const http01_settings_t *s,
                                  char *err, size_t errlen)
{
    return http01_build_service(ch, ing, s, err, errlen);
}

static int http01_present(ctrl_ctx_t *ctx, json_object *challenge, char *err, size_t errlen)
{
    http01_challenge_t ch;
    http01_settings_t s;
    json_object *labels = NULL;
    char pod[256] = "", svc[256] = "", perr[512] = "";
    int rc = -1;
    if (challenge_of(challenge, &ch, err, errlen) != 0)
        return -1;
    json_object *ing = ingress_config(challenge, err, errlen);
    if (!ing)
        return -1;
    if (settings_of(ctx, &s, &labels, err, errlen) != 0)
        return -1;
    /* §6.2: the Service is ensured even when the Pod failed; both errors are reported */
    int prc = ensure_one(ctx, &KUBE_RES_PODS, ctx->pods, &ch, build_pod, ing, &s, pod, sizeof(pod), perr,
                         sizeof(perr));
    if (ensure_one(ctx, &KUBE_RES_SERVICES, ctx->services, &ch, build_service, ing, &s, svc, sizeof(svc), err,
                   errlen) != 0) {
        if (prc != 0) {
            char both[1200];
            snprintf(both, sizeof(both), "%s; %s", perr, err);
            util_seterr(err, errlen, "%s", both);
        }
        goto out;
    }
    if (prc != 0) {
        util_seterr(err, errlen, "%s", perr);
        goto out;
    }
    const char *name = edit_in_place_name(ing);
    if (name)
        rc = edit_ingress(ctx, &ch, &s, name, svc, true, err, errlen);
    else
        rc = ensure_ingress(ctx, &ch, ing, &s, svc, err, errlen);
out:
    json_object_put(labels);
    return rc;
}

static int http01_check(ctrl_ctx_t *ctx, json_object *challenge, char *err, size_t errlen)
{
    http01_challenge_t ch;
    if (challenge_of(challenge, &ch, err, errlen) != 0)
        return -1;
    selfcheck_opts_t o = {
        .nameservers = ctx->opts->solver_nameservers,
        .user_agent = ctx->opts->user_agent,
    };
    return selfcheck_run_once(&o, ch.dns_name, ch.token, ch.key, err, errlen);
}

static int http01_clean_up(ctrl_ctx_t *ctx, json_object *challenge, char *err, size_t errlen)
{
    http01_challenge_t ch;
    owned_t o = {0};
    int rc = 0;
    char e1[512];
    if (challenge_of(challenge, &ch, err, errlen) != 0)
        return -1;
    err[0] = '\0';
    const kube_resource_t *kinds[] = {&KUBE_RES_PODS, &KUBE_RES_SERVICES};
    for (size_t i = 0; i < 2; i++) {
        e1[0] = '\0';
        if (find_owned(ctx, kinds[i], NULL, &ch, true, true, &o, e1, sizeof(e1)) != 0) {
            adderr(err, errlen, e1);
            rc = -1;
            continue;
        }
        if (delete_all(ctx, kinds[i], &o, err, errlen) != 0 || o.truncated)
            rc = -1; /* truncated: more remain, the retry deletes them */
        owned_clear(&o);
    }
    e1[0] = '\0';
    json_object *ing = ingress_config(challenge, e1, sizeof(e1));
    const char *name = ing ? edit_in_place_name(ing) : NULL;
    if (name) {
        if (edit_ingress(ctx, &ch, NULL, name, NULL, false, e1, sizeof(e1)) != 0) {
            adderr(err, errlen, e1);
            rc = -1;
        }
    } else {
        /* also when the solver config is unusable: whatever carries our labels and owner goes */
        e1[0] = '\0';
        if (find_owned(ctx, &KUBE_RES_INGRESSES, NULL, &ch, true, true, &o, e1, sizeof(e1)) != 0) {
            adderr(err, errlen, e1);
            rc = -1;
        } else {
            if (delete_all(ctx, &KUBE_RES_INGRESSES, &o, err, errlen) != 0 || o.truncated)
                rc = -1;
            owned_clear(&o);
        }
    }
    return rc;
}

const ctrl_solver_t ctrl_http01_solver = {
    .type = "HTTP-01",
    .present = http01_present,
    .check = http01_check,
    .clean_up = http01_clean_up,
};

const ctrl_solver_t *ctrl_solver_for_type(const char *type)
{
    if (!type)
        return NULL;
    if (strcmp(type, "HTTP-01") == 0)
        return &ctrl_http01_solver;
    if (strcmp(type, "DNS-01") == 0 && &ctrl_dns01_solver != NULL)
        return &ctrl_dns01_solver;
    return NULL;
}
