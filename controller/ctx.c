/* SPDX-License-Identifier: Apache-2.0 */
#include "ctx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

const kube_resource_t CTRL_RES_ORDERS = {"acme.cert-manager.io", "v1", "orders", true};
const kube_resource_t CTRL_RES_CHALLENGES = {"acme.cert-manager.io", "v1", "challenges", true};
const kube_resource_t CTRL_RES_ISSUERS = {"cert-manager.io", "v1", "issuers", true};
const kube_resource_t CTRL_RES_CLUSTERISSUERS = {"cert-manager.io", "v1", "clusterissuers", false};
const kube_resource_t CTRL_RES_CERTIFICATEREQUESTS = {"cert-manager.io", "v1", "certificaterequests", true};

json_object *ctrl_get(json_object *obj, const char *path)
{
    char part[128];
    const char *p = path;
    json_object *cur = obj;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof(part))
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        json_object *next = NULL;
        if (!json_object_is_type(cur, json_type_object) || !json_object_object_get_ex(cur, part, &next))
            return NULL;
        cur = next;
        p = dot ? dot + 1 : p + n;
    }
    return cur;
}

const char *ctrl_str(json_object *obj, const char *path)
{
    json_object *v = ctrl_get(obj, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool ctrl_bool(json_object *obj, const char *path, bool def)
{
    json_object *v = ctrl_get(obj, path);
    return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : def;
}

bool ctrl_same_version(json_object *old, json_object *obj)
{
    const char *a = ctrl_str(old, "metadata.resourceVersion"), *b = ctrl_str(obj, "metadata.resourceVersion");
    return a && b && strcmp(a, b) == 0;
}

int ctrl_key(json_object *obj, char *buf, size_t len)
{
    return kube_store_key(obj, buf, len);
}

int ctrl_split_key(const char *key, char *ns, size_t nslen, char *name, size_t namelen)
{
    const char *slash = strchr(key, '/');
    int n;
    if (slash) {
        if ((size_t)(slash - key) >= nslen)
            return -1;
        memcpy(ns, key, (size_t)(slash - key));
        ns[slash - key] = '\0';
        n = snprintf(name, namelen, "%s", slash + 1);
    } else {
        ns[0] = '\0';
        n = snprintf(name, namelen, "%s", key);
    }
    return (n < 0 || (size_t)n >= namelen || name[0] == '\0') ? -1 : 0;
}

json_object *ctrl_issuer_get(ctrl_ctx_t *ctx, const char *ns, json_object *issuer_ref, bool *cluster, char *err,
                             size_t errlen)
{
    const char *name = ctrl_str(issuer_ref, "name");
    const char *kind = ctrl_str(issuer_ref, "kind");
    const char *group = ctrl_str(issuer_ref, "group");
    json_object *iss = NULL;
    *cluster = false;
    if (!name || !*name) {
        snprintf(err, errlen, "issuerRef.name is empty");
        return NULL;
    }
    if (group && *group && strcmp(group, "cert-manager.io") != 0) {
        snprintf(err, errlen, "issuerRef.group %s is not served by kacme", group);
        return NULL;
    }
    if (!kind || !*kind || strcmp(kind, "Issuer") == 0) {
        if (!ctx->issuers) {
            snprintf(err, errlen, "the issuers controller is not running");
            return NULL;
        }
        iss = kube_store_get_ns(ctx->issuers, ns, name);
        if (!iss)
            snprintf(err, errlen, "issuer %s/%s not found", ns, name);
    } else if (strcmp(kind, "ClusterIssuer") == 0) {
        *cluster = true;
        if (!ctx->clusterissuers) {
            snprintf(err, errlen, "ClusterIssuers are not served (running with --namespace)");
            return NULL;
        }
        iss = kube_store_get_ns(ctx->clusterissuers, NULL, name);
        if (!iss)
            snprintf(err, errlen, "clusterissuer %s not found", name);
    } else {
        snprintf(err, errlen, "invalid value for issuerRef.kind: \"%s\"", kind);
    }
    return iss;
}

const char *ctrl_issuer_resource_namespace(ctrl_ctx_t *ctx, json_object *issuer, bool cluster)
{
    if (cluster)
        return ctx->opts->cluster_resource_namespace;
    return ctrl_str(issuer, "metadata.namespace");
}

const char *ctrl_now_rfc3339(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

json_object *ctrl_condition(json_object *obj, const char *type)
{
    json_object *conds = ctrl_get(obj, "status.conditions");
    if (!conds || !json_object_is_type(conds, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(conds); i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        const char *t = ctrl_str(c, "type");
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

json_object *ctrl_status(json_object *obj)
{
    json_object *st = NULL;
    if (!json_object_object_get_ex(obj, "status", &st) || !json_object_is_type(st, json_type_object)) {
        st = json_object_new_object();
        json_object_object_add(obj, "status", st);
    }
    return st;
}

bool ctrl_set_condition(json_object *obj, const char *type, const char *status, const char *reason,
                        const char *message)
{
    json_object *st = ctrl_status(obj), *conds = NULL;
    if (!json_object_object_get_ex(st, "conditions", &conds) || !json_object_is_type(conds, json_type_array)) {
        conds = json_object_new_array();
        json_object_object_add(st, "conditions", conds);
    }
    json_object *gen = ctrl_get(obj, "metadata.generation");
    json_object *c = ctrl_condition(obj, type);
    if (c && str_eq(ctrl_str(c, "status"), status) && str_eq(ctrl_str(c, "reason"), reason) &&
        str_eq(ctrl_str(c, "message"), message)) {
        json_object *og = NULL;
        bool same_gen = !gen || (json_object_object_get_ex(c, "observedGeneration", &og) &&
                                 json_object_get_int64(og) == json_object_get_int64(gen));
        if (same_gen)
            return false;
    }
    char now[32];
    ctrl_now_rfc3339(now, sizeof(now));
    bool flip = !c || !str_eq(ctrl_str(c, "status"), status);
    if (!c) {
        c = json_object_new_object();
        json_object_array_add(conds, c);
        json_object_object_add(c, "type", json_object_new_string(type));
    }
    json_object_object_add(c, "status", json_object_new_string(status));
    json_object_object_add(c, "reason", json_object_new_string(reason ? reason : ""));
    json_object_object_add(c, "message", json_object_new_string(message ? message : ""));
    if (flip || !ctrl_get(c, "lastTransitionTime"))
        json_object_object_add(c, "lastTransitionTime", json_object_new_string(now));
    if (gen)
        json_object_object_add(c, "observedGeneration", json_object_new_int64(json_object_get_int64(gen)));
    return true;
}

void ctrl_event(kube_event_recorder_t *rec, json_object *obj, const char *type, const char *reason,
                const char *fmt, ...)
{
    if (!rec)
        return;
    char msg[KUBE_EVENT_MAX_MESSAGE + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kube_event_record(rec, obj, type, reason, "%s", msg);
}

int ctrl_update_status_if_changed(ctrl_ctx_t *ctx, const kube_resource_t *r, json_object *orig, json_object *obj,
                                  kube_error_t *e)
{
    json_object *a = ctrl_get(orig, "status"), *b = ctrl_get(obj, "status");
    if ((a == NULL && b == NULL) || (a && b && json_object_equal(a, b)))
        return 0;
    const char *ns = ctrl_str(obj, "metadata.namespace");
    const char *name = ctrl_str(obj, "metadata.name");
    if (kube_update_status(ctx->kube, r, ns, name, obj, NULL, e) != 0)
        return -1;
    return 1;
}

void ctrl_acme_metrics(void *ud, const char *action, const char *method, const char *scheme, const char *host,
                       int status, double seconds)
{
    ctrl_ctx_t *ctx = ud;
    char code[16];
    snprintf(code, sizeof(code), "%d", status);
    if (ctx->m_acme_requests)
        metrics_counter_inc(metrics_with(ctx->m_acme_requests, scheme, host, action, method, code, (char *)NULL));
    if (ctx->m_acme_request_duration)
        metrics_observe(metrics_with(ctx->m_acme_request_duration, scheme, host, action, method, code, (char *)NULL),
                        seconds);
}

void ctrl_enqueue(kube_workqueue_t *q, json_object *obj)
{
    char key[512];
    if (q && obj && kube_store_key(obj, key, sizeof(key)) == 0)
        kube_workqueue_add(q, key);
}

void ctrl_enqueue_owner(kube_workqueue_t *q, json_object *obj, const char *owner_kind)
{
    json_object *refs = ctrl_get(obj, "metadata.ownerReferences");
    const char *ns = ctrl_str(obj, "metadata.namespace");
    if (!q || !refs || !json_object_is_type(refs, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(refs); i++) {
        json_object *ref = json_object_array_get_idx(refs, i);
        const char *kind = ctrl_str(ref, "kind"), *name = ctrl_str(ref, "name");
        if (!ctrl_bool(ref, "controller", false) || !kind || !name || strcmp(kind, owner_kind) != 0)
            continue;
        char key[512];
        if (ns && *ns)
            snprintf(key, sizeof(key), "%s/%s", ns, name);
        else
            snprintf(key, sizeof(key), "%s", name);
        kube_workqueue_add(q, key);
    }
}

kube_workqueue_t *ctrl_queue(ctrl_ctx_t *ctx, const ctrl_controller_t *c)
{
    return *(kube_workqueue_t **)((char *)ctx + c->queue_offset);
}

int ctrl_add_handlers(ctrl_ctx_t *ctx, const char *controller, const char *informer,
                      const kube_informer_handlers_t *h, bool required, char *err, size_t errlen)
{
    kube_informer_t *inf = ctrl_informer(ctx, informer);
    if (!inf) {
        if (!required)
            return 0;
        snprintf(err, errlen, "%s: the %s informer is not running", controller, informer);
        return -1;
    }
    if (kube_informer_add_handlers(inf, h) != 0) {
        snprintf(err, errlen, "%s: cannot register %s handlers", controller, informer);
        return -1;
    }
    return 0;
}

kube_informer_t *ctrl_informer(ctrl_ctx_t *ctx, const char *name)
{
    for (size_t i = 0; i < sizeof(ctx->informers) / sizeof(ctx->informers[0]); i++)
        if (ctx->informer_names[i] && strcmp(ctx->informer_names[i], name) == 0)
            return ctx->informers[i];
    return NULL;
}
