/* SPDX-License-Identifier: Apache-2.0 */
#include "fake_apiserver.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJS 4096
#define MAX_BODY (1 << 20)

struct fake_api {
    struct MHD_Daemon *d;
    char url[64];
    pthread_mutex_t mu;
    char *paths[MAX_OBJS];
    json_object *objs[MAX_OBJS];
    int n;
    long rv;
    int n_get, n_post, n_put, n_patch, n_other;
    bool down;
};

typedef struct req {
    char *body;
    size_t len;
} req_t;

static int find(fake_api_t *f, const char *path)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->paths[i], path) == 0)
            return i;
    return -1;
}

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

static const char *meta_str(json_object *o, const char *k)
{
    json_object *m, *v;
    if (json_object_object_get_ex(o, "metadata", &m) && json_object_object_get_ex(m, k, &v))
        return json_object_get_string(v);
    return NULL;
}

static void set_rv(fake_api_t *f, json_object *o)
{
    json_object *m;
    char rv[32];
    snprintf(rv, sizeof(rv), "%ld", ++f->rv);
    if (!json_object_object_get_ex(o, "metadata", &m)) {
        m = json_object_new_object();
        json_object_object_add(o, "metadata", m);
    }
    json_object_object_add(m, "resourceVersion", json_object_new_string(rv));
    if (!meta_str(o, "uid")) {
        snprintf(rv, sizeof(rv), "uid-%ld", f->rv);
        json_object_object_add(m, "uid", json_object_new_string(rv));
    }
}

static enum MHD_Result handle(fake_api_t *f, struct MHD_Connection *c, const char *url, const char *method,
                              req_t *rq)
{
    json_object *body = rq->len ? json_tokener_parse(rq->body) : NULL;
    enum MHD_Result rc;
    char path[1024];
    pthread_mutex_lock(&f->mu);
    if (strcmp(method, "GET") == 0)
        f->n_get++;
    else if (strcmp(method, "POST") == 0)
        f->n_post++;
    else if (strcmp(method, "PUT") == 0)
        f->n_put++;
    else if (strcmp(method, "PATCH") == 0)
        f->n_patch++;
    else
        f->n_other++;
    if (f->down) {
        rc = status(c, 503, "ServiceUnavailable", "down for the test");
        goto out;
    }
    if (strcmp(method, "POST") == 0) {
        const char *name = body ? meta_str(body, "name") : NULL;
        if (!name) {
            rc = status(c, 422, "Invalid", "metadata.name: Required value");
            goto out;
        }
        snprintf(path, sizeof(path), "%s/%s", url, name);
        if (find(f, path) >= 0) {
            rc = status(c, 409, "AlreadyExists", "already exists");
            goto out;
        }
        if (f->n == MAX_OBJS) {
            rc = status(c, 500, "InternalError", "full");
            goto out;
        }
        set_rv(f, body);
        f->paths[f->n] = strdup(path);
        f->objs[f->n++] = json_object_get(body);
        rc = reply(c, 201, body);
        goto out;
    }
    int i = find(f, url);
    if (i < 0) {
        rc = status(c, 404, "NotFound", "not found");
        goto out;
    }
    if (strcmp(method, "GET") == 0) {
        rc = reply(c, 200, f->objs[i]);
    } else if (strcmp(method, "PUT") == 0) {
        const char *rv = body ? meta_str(body, "resourceVersion") : NULL;
        const char *cur = meta_str(f->objs[i], "resourceVersion");
        if (!rv || strcmp(rv, cur) != 0) {
            rc = status(c, 409, "Conflict", "the object has been modified; please apply your changes to the "
                                            "latest version and try again");
            goto out;
        }
        set_rv(f, body);
        json_object_put(f->objs[i]);
        f->objs[i] = json_object_get(body);
        rc = reply(c, 200, body);
    } else if (strcmp(method, "PATCH") == 0 && body) {
        json_object_object_foreach(body, k, v) json_object_object_add(f->objs[i], k, json_object_get(v));
        set_rv(f, f->objs[i]);
        rc = reply(c, 200, f->objs[i]);
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
        return MHD_YES;
    }
    if (*size) {
        if (rq->len + *size > MAX_BODY)
            return MHD_NO;
        rq->body = realloc(rq->body, rq->len + *size + 1);
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

fake_api_t *fake_api_start(void)
{
    fake_api_t *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, on_req, f, MHD_OPTION_NOTIFY_COMPLETED,
                            on_done, f, MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sin, MHD_OPTION_END);
    if (!f->d) {
        free(f);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", info ? info->port : 0);
    return f;
}

void fake_api_stop(fake_api_t *f)
{
    if (!f)
        return;
    MHD_stop_daemon(f->d);
    for (int i = 0; i < f->n; i++) {
        free(f->paths[i]);
        json_object_put(f->objs[i]);
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fake_api_url(fake_api_t *f)
{
    return f->url;
}

json_object *fake_api_get(fake_api_t *f, const char *path)
{
    pthread_mutex_lock(&f->mu);
    int i = find(f, path);
    json_object *o = i >= 0 ? json_object_get(f->objs[i]) : NULL;
    pthread_mutex_unlock(&f->mu);
    return o;
}

int fake_api_count(fake_api_t *f, const char *prefix)
{
    int n = 0;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n; i++)
        n += strncmp(f->paths[i], prefix, strlen(prefix)) == 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

int fake_api_requests(fake_api_t *f, const char *method)
{
    pthread_mutex_lock(&f->mu);
    int n = strcmp(method, "GET") == 0     ? f->n_get
            : strcmp(method, "POST") == 0  ? f->n_post
            : strcmp(method, "PUT") == 0   ? f->n_put
            : strcmp(method, "PATCH") == 0 ? f->n_patch
                                           : f->n_other;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fake_api_set_down(fake_api_t *f, bool down)
{
    pthread_mutex_lock(&f->mu);
    f->down = down;
    pthread_mutex_unlock(&f->mu);
}

void fake_api_put(fake_api_t *f, const char *path, json_object *obj)
{
    pthread_mutex_lock(&f->mu);
    json_object *o = json_object_get(obj);
    set_rv(f, o);
    int i = find(f, path);
    if (i >= 0) {
        json_object_put(f->objs[i]);
        f->objs[i] = o;
    } else if (f->n < MAX_OBJS) {
        f->paths[f->n] = strdup(path);
        f->objs[f->n++] = o;
    } else {
        json_object_put(o);
    }
    pthread_mutex_unlock(&f->mu);
}
