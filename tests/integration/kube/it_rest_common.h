/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the kube client integration tests (it_rest*.c, it_informer.c, it_config.c): a client from
 * $KUBECONFIG (the local environment's, sourced by rest_it_run.sh), a fresh namespace per run, and CHECK. */
#ifndef KACME_IT_REST_COMMON_H
#define KACME_IT_REST_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/config.h"
#include "kube/rest.h"
#include "util/http.h"

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                  \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

static inline const char *it_estr(const kube_error_t *e)
{
    static __thread char buf[1024];
    return kube_error_str(e, buf, sizeof(buf));
}

static inline kube_client_t *it_client(double qps, int burst)
{
    char err[512];
    kube_config_t *cfg;
    kube_client_opts_t o = {.component = "it", .qps = qps, .burst = burst};
    kube_client_t *c;
    CHECK(http_global_init() == 0, "http_global_init");
    cfg = kube_config_load(NULL, NULL, err, sizeof(err));
    CHECK(cfg != NULL, "kubeconfig: %s", err);
    c = kube_client_new(cfg, &o, err, sizeof(err));
    CHECK(c != NULL, "client: %s", err);
    kube_config_free(cfg);
    return c;
}

static inline double it_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Creates a fresh namespace "kacme-it-<prefix>-<pid>-<t>" into name. */
static inline void it_namespace(kube_client_t *c, const char *prefix, char *name, size_t len)
{
    json_object *ns = json_object_new_object(), *md = json_object_new_object();
    kube_error_t e;
    snprintf(name, len, "kacme-it-%s-%ld-%ld", prefix, (long)getpid(), (long)time(NULL) % 100000);
    json_object_object_add(ns, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(ns, "kind", json_object_new_string("Namespace"));
    json_object_object_add(ns, "metadata", md);
    json_object_object_add(md, "name", json_object_new_string(name));
    CHECK(kube_create(c, &KUBE_RES_NAMESPACES, NULL, ns, NULL, &e) == 0, "create namespace: %s", it_estr(&e));
    json_object_put(ns);
}

static inline void it_namespace_delete(kube_client_t *c, const char *name)
{
    kube_error_t e;
    kube_delete_opts_t o = {.propagation_policy = "Background"};
    if (kube_delete(c, &KUBE_RES_NAMESPACES, NULL, name, &o, NULL, &e) < 0)
        fprintf(stderr, "warning: delete namespace %s: %s\n", name, it_estr(&e));
}

/* A ConfigMap {name, labels {kacme-it: label}, data {k: v}} (owned). */
static inline json_object *it_configmap(const char *name, const char *label, const char *k, const char *v)
{
    json_object *cm = json_object_new_object(), *md = json_object_new_object(), *data = json_object_new_object();
    json_object_object_add(cm, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(cm, "kind", json_object_new_string("ConfigMap"));
    json_object_object_add(cm, "metadata", md);
    json_object_object_add(md, "name", json_object_new_string(name));
    if (label) {
        json_object *labels = json_object_new_object();
        json_object_object_add(labels, "kacme-it", json_object_new_string(label));
        json_object_object_add(md, "labels", labels);
    }
    if (k)
        json_object_object_add(data, k, json_object_new_string(v));
    json_object_object_add(cm, "data", data);
    return cm;
}

static inline const char *it_meta(json_object *o, const char *k)
{
    json_object *md = NULL, *v = NULL;
    if (!o || !json_object_object_get_ex(o, "metadata", &md) || !json_object_object_get_ex(md, k, &v))
        return NULL;
    return json_object_get_string(v);
}

#endif
