/* SPDX-License-Identifier: Apache-2.0 */
/* TEST CODE: see fake_kube.h. */
#include "fake_kube.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (1 << 20)
#define MAX_LOG 4096

struct fake_kube {
    struct MHD_Daemon *d;
    char url[64];
    pthread_mutex_t mu;
    json_object *objs; /* path → object */
    long rv;
    char *log[MAX_LOG];
    size_t n_log;
};

typedef struct req {
    char *body;
    size_t len;
} req_t;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, json_object *body)
{
    const char *s = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : "";
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), (void *)s, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result status(struct MHD_Connection *c, unsigned code, const char *reason, const char *msg)
{
    json_object *s = json_object_new_object();
    json_object_object_add(s, "kind", json_object_new_string("Status"));
    json_object_object_add(s, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(s, "status", json_object_new_string("Failure"));
    json_object_object_add(s, "message", json_object_new_string(msg));
    json_object_object_add(s, "reason", json_object_new_string(reason));
    json_object_object_add(s, "code", json_object_new_int((int)code));
    enum MHD_Result rc = reply(c, code, s);
    json_object_put(s);
    return rc;
}

static json_object *meta(json_object *o)
{
    json_object *m = NULL;
    if (!json_object_object_get_ex(o, "metadata", &m) || !json_object_is_type(m, json_type_object)) {
        m = json_object_new_object();
        json_object_object_add(o, "metadata", m);
    }
    return m;
}

static const char *mstr(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(meta(o), k, &v) ? json_object_get_string(v) : NULL;
}

static void bump(fake_kube_t *f, json_object *o)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%ld", ++f->rv);
    json_object_object_add(meta(o), "resourceVersion", json_object_new_string(buf));
    if (!mstr(o, "uid")) {
        snprintf(buf, sizeof(buf), "uid-%ld", f->rv);
        json_object_object_add(meta(o), "uid", json_object_new_string(buf));
    }
}

static bool has_finalizers(json_object *o)
{
    json_object *fz = NULL;
    return json_object_object_get_ex(meta(o), "finalizers", &fz) && json_object_is_type(fz, json_type_array) &&
           json_object_array_length(fz) > 0;
}

/* Splits url into collection path, name (or "") and subresource (or ""). Returns 0 or -1. */
static int split(const char *url, char *coll, size_t clen, char *name, size_t nlen, char *sub, size_t slen)
{
    const char *p = strstr(url, "/namespaces/");
    if (!p)
        return -1;
    const char *ns = p + strlen("/namespaces/");
    const char *res = strchr(ns, '/');
    if (!res)
        return -1;
    const char *nm = strchr(res + 1, '/');
    name[0] = sub[0] = '\0';
    if (!nm) {
        snprintf(coll, clen, "%s", url);
        return 0;
    }
    snprintf(coll, clen, "%.*s", (int)(nm - url), url);
    const char *sb = strchr(nm + 1, '/');
    if (sb) {
        snprintf(name, nlen, "%.*s", (int)(sb - nm - 1), nm + 1);
        snprintf(sub, slen, "%s", sb + 1);
    } else {
        snprintf(name, nlen, "%s", nm + 1);
    }
    return 0;
}

static bool labels_match(json_object *o, const char *sel)
{
    if (!sel || !*sel)
        return true;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", sel);
    json_object *labels = NULL;
    json_object_object_get_ex(meta(o), "labels", &labels);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq)
            return false;
        *eq = '\0';
        json_object *v = NULL;
        if (!labels || !json_object_object_get_ex(labels, t, &v) || strcmp(json_object_get_string(v), eq + 1) != 0)
            return false;
    }
    return true;
}

/* JSON pointer parent + last token (object members only). */
static json_object *pointer_parent(json_object *root, const char *ptr, char *last, size_t lastlen, bool create)
{
    if (ptr[0] != '/')
        return NULL;
    json_object *cur = root;
    char buf[500];
    snprintf(buf, sizeof(buf), "%s", ptr + 1);
    char *tok = buf;
    for (;;) {
        char *slash = strchr(tok, '/');
        if (!slash) {
            snprintf(last, lastlen, "%s", tok);
            return json_object_is_type(cur, json_type_object) ? cur : NULL;
        }
        *slash = '\0';
        json_object *next = NULL;
        if (!json_object_object_get_ex(cur, tok, &next)) {
            if (!create)
                return NULL;
            next = json_object_new_object();
            json_object_object_add(cur, tok, next);
        }
        cur = next;
        tok = slash + 1;
    }
}

/* Applies a JSON patch to a copy of obj; NULL when an op fails. */
static json_object *json_patch(json_object *obj, json_object *patch)
{
    json_object *copy = NULL;
    json_object_deep_copy(obj, &copy, NULL);
    for (size_t i = 0; patch && i < json_object_array_length(patch); i++) {
        json_object *op = json_object_array_get_idx(patch, i), *o = NULL, *p = NULL, *v = NULL;
        json_object_object_get_ex(op, "op", &o);
        json_object_object_get_ex(op, "path", &p);
        json_object_object_get_ex(op, "value", &v);
        char last[512];
        const char *opn = o ? json_object_get_string(o) : "";
        json_object *parent = p ? pointer_parent(copy, json_object_get_string(p), last, sizeof(last),
                                                 strcmp(opn, "add") == 0)
                                : NULL;
        json_object *cur = NULL;
        if (!parent)
            goto fail;
        bool exists = json_object_object_get_ex(parent, last, &cur);
        if (strcmp(opn, "test") == 0) {
            if (!exists || !json_object_equal(cur, v))
                goto fail;
        } else if (strcmp(opn, "add") == 0 || strcmp(opn, "replace") == 0) {
            if (strcmp(opn, "replace") == 0 && !exists)
                goto fail;
            json_object *vc = NULL;
            json_object_deep_copy(v, &vc, NULL);
            json_object_object_add(parent, last, vc);
        } else if (strcmp(opn, "remove") == 0) {
            if (!exists)
                goto fail;
            json_object_object_del(parent, last);
        } else {
            goto fail;
        }
    }
    return copy;
fail:
    json_object_put(copy);
    return NULL;
}

static void logreq(fake_kube_t *f, const char *method, const char *url)
{
    if (f->n_log >= MAX_LOG)
        return;
    size_t n = strlen(method) + strlen(url) + 2;
    char *s = malloc(n);
    snprintf(s, n, "%s %s", method, url);
    f->log[f->n_log++] = s;
}

static enum MHD_Result handle(fake_kube_t *f, struct MHD_Connection *c, const char *url, const char *method,
                              req_t *rq)
{
    json_object *body = rq->len ? json_tokener_parse(rq->body) : NULL;
    char coll[512], name[256], sub[64], path[800];
    enum MHD_Result rc;
    pthread_mutex_lock(&f->mu);
    logreq(f, method, url);
    if (split(url, coll, sizeof(coll), name, sizeof(name), sub, sizeof(sub)) != 0) {
        rc = status(c, 404, "NotFound", "unsupported path");
        goto out;
    }
    if (!name[0]) {
        if (strcmp(method, "GET") == 0) {
            const char *sel = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "labelSelector");
            json_object *list = json_object_new_object(), *items = json_object_new_array();
            size_t plen = strlen(coll);
            json_object_object_foreach(f->objs, k, v)
            {
                if (strncmp(k, coll, plen) == 0 && k[plen] == '/' && !strchr(k + plen + 1, '/') &&
                    labels_match(v, sel))
                    json_object_array_add(items, json_object_get(v));
            }
            json_object_object_add(list, "kind", json_object_new_string("List"));
            json_object_object_add(list, "items", items);
            json_object *lm = json_object_new_object();
            char rv[32];
            snprintf(rv, sizeof(rv), "%ld", f->rv);
            json_object_object_add(lm, "resourceVersion", json_object_new_string(rv));
            json_object_object_add(list, "metadata", lm);
            rc = reply(c, 200, list);
            json_object_put(list);
        } else if (strcmp(method, "POST") == 0 && body) {
            const char *n = mstr(body, "name"), *gen = mstr(body, "generateName");
            char nbuf[256];
            if (!n && gen) {
                snprintf(nbuf, sizeof(nbuf), "%sx%ld", gen, f->rv + 1);
                json_object_object_add(meta(body), "name", json_object_new_string(nbuf));
                n = mstr(body, "name");
            }
            if (!n) {
                rc = status(c, 422, "Invalid", "metadata.name: Required value");
                goto out;
            }
            snprintf(path, sizeof(path), "%s/%s", coll, n);
            if (json_object_object_get_ex(f->objs, path, NULL)) {
                rc = status(c, 409, "AlreadyExists", "already exists");
                goto out;
            }
            json_object_object_del(meta(body), "uid");
            bump(f, body);
            json_object_object_add(f->objs, path, json_object_get(body));
            rc = reply(c, 201, body);
        } else {
            rc = status(c, 405, "MethodNotAllowed", "no");
        }
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s", coll, name);
    json_object *cur = NULL;
    if (!json_object_object_get_ex(f->objs, path, &cur)) {
        rc = status(c, 404, "NotFound", "not found");
        goto out;
    }
    if (strcmp(method, "GET") == 0) {
        rc = reply(c, 200, cur);
    } else if (strcmp(method, "PUT") == 0 && body) {
        const char *rv = mstr(body, "resourceVersion"), *now = mstr(cur, "resourceVersion");
        if (!rv || !now || strcmp(rv, now) != 0) {
            rc = status(c, 409, "Conflict", "the object has been modified; please apply your changes to the latest "
                                            "version and try again");
            goto out;
        }
        json_object *next = NULL;
        if (strcmp(sub, "status") == 0) {
            json_object_deep_copy(cur, &next, NULL);
            json_object *st = NULL;
            if (json_object_object_get_ex(body, "status", &st))
                json_object_object_add(next, "status", json_object_get(st));
        } else {
            next = json_object_get(body);
        }
        bump(f, next);
        json_object_object_add(f->objs, path, next);
        rc = reply(c, 200, next);
    } else if (strcmp(method, "PATCH") == 0 && body) {
        json_object *next = json_patch(cur, body);
        if (!next) {
            rc = status(c, 422, "Invalid", "the server rejected our request due to an error in our request");
            goto out;
        }
        bump(f, next);
        if (mstr(next, "deletionTimestamp") && !has_finalizers(next)) {
            rc = reply(c, 200, next);
            json_object_object_del(f->objs, path);
            json_object_put(next);
        } else {
            json_object_object_add(f->objs, path, next);
            rc = reply(c, 200, next);
        }
    } else if (strcmp(method, "DELETE") == 0) {
        if (has_finalizers(cur)) {
            json_object *next = NULL;
            json_object_deep_copy(cur, &next, NULL);
            json_object_object_add(meta(next), "deletionTimestamp", json_object_new_string("2026-01-01T00:00:00Z"));
            bump(f, next);
            json_object_object_add(f->objs, path, next);
            rc = reply(c, 200, next);
        } else {
            rc = reply(c, 200, cur);
            json_object_object_del(f->objs, path);
        }
    } else {
        rc = status(c, 405, "MethodNotAllowed", "no");
    }
out:
    pthread_mutex_unlock(&f->mu);
    json_object_put(body);
    return rc;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **req_cls)
{
    (void)version;
    req_t *rq = *req_cls;
    if (!rq) {
        *req_cls = calloc(1, sizeof(req_t));
        return *req_cls ? MHD_YES : MHD_NO;
    }
    if (*size) {
        if (rq->len + *size > MAX_BODY)
            return MHD_NO;
        char *nb = realloc(rq->body, rq->len + *size + 1);
        if (!nb)
            return MHD_NO;
        rq->body = nb;
        memcpy(rq->body + rq->len, data, *size);
        rq->len += *size;
        rq->body[rq->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    return handle(cls, c, url, method, rq);
}

static void on_done(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    req_t *rq = *req_cls;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *req_cls = NULL;
}

fake_kube_t *fake_kube_start(void)
{
    fake_kube_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->objs = json_object_new_object();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, on_req, f, MHD_OPTION_NOTIFY_COMPLETED,
                            on_done, f, MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sin, MHD_OPTION_END);
    if (!f->d) {
        json_object_put(f->objs);
        free(f);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", info ? info->port : 0);
    return f;
}

void fake_kube_stop(fake_kube_t *f)
{
    if (!f)
        return;
    MHD_stop_daemon(f->d);
    json_object_put(f->objs);
    fake_kube_clear_log(f);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fake_kube_url(fake_kube_t *f)
{
    return f->url;
}

kube_client_t *fake_kube_client(fake_kube_t *f)
{
    kube_config_t cfg = {.server = f->url, .source = (char *)"test"};
    kube_client_opts_t co = {.component = "test", .qps = 1000, .burst = 1000, .max_retries = -1};
    char err[256];
    return kube_client_new(&cfg, &co, err, sizeof(err));
}

json_object *fake_kube_put(fake_kube_t *f, const char *path, json_object *obj)
{
    json_object *copy = NULL;
    json_object_deep_copy(obj, &copy, NULL);
    pthread_mutex_lock(&f->mu);
    bump(f, copy);
    json_object_object_add(f->objs, path, copy);
    json_object *ret = json_object_get(copy);
    pthread_mutex_unlock(&f->mu);
    return ret;
}

json_object *fake_kube_get(fake_kube_t *f, const char *path)
{
    json_object *o = NULL;
    pthread_mutex_lock(&f->mu);
    if (json_object_object_get_ex(f->objs, path, &o))
        json_object_get(o);
    else
        o = NULL;
    pthread_mutex_unlock(&f->mu);
    return o;
}

int fake_kube_count(fake_kube_t *f, const char *prefix)
{
    int n = 0;
    pthread_mutex_lock(&f->mu);
    json_object_object_foreach(f->objs, k, v)
    {
        (void)v;
        n += strncmp(k, prefix, strlen(prefix)) == 0;
    }
    pthread_mutex_unlock(&f->mu);
    return n;
}

int fake_kube_requests(fake_kube_t *f, const char *prefix)
{
    int n = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_log; i++)
        n += strncmp(f->log[i], prefix, strlen(prefix)) == 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fake_kube_clear_log(fake_kube_t *f)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_log; i++)
        free(f->log[i]);
    f->n_log = 0;
    pthread_mutex_unlock(&f->mu);
}
