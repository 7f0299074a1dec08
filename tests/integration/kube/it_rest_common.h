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

/* POSTs a JSON body to the local etcd's v3 HTTP gateway; returns the answer (owned). */
static inline json_object *it_etcd_post(const char *path, const char *body)
{
    char url[256], err[HTTP_ERR_LEN];
    const char *port = getenv("KACME_ETCD_PORT");
    const char *hdr[] = {"Content-Type: application/json", NULL};
    http_client_opts_t ho = {0};
    http_client_t *h = http_client_new(&ho, err, sizeof(err));
    http_request_t req = {.method = "POST", .headers = hdr, .body = body, .body_len = strlen(body), .timeout_ms = 10000};
    http_response_t resp = {0};
    json_object *out;
    CHECK(h != NULL, "%s", err);
    snprintf(url, sizeof(url), "http://127.0.0.1:%s%s", port && port[0] ? port : "23790", path);
    req.url = url;
    CHECK(http_do(h, &req, &resp, err, sizeof(err)) == 0 && resp.status == 200, "etcd %s: %s status %ld", path, err,
          resp.status);
    out = json_tokener_parse(resp.body ? resp.body : "");
    CHECK(out != NULL, "etcd %s: not JSON", path);
    http_response_clear(&resp);
    http_client_free(h);
    return out;
}

/* Compacts etcd up to its current revision, so that any older resourceVersion is gone (the API server
 * answers watches from it with 410). The API server does the same every 5 minutes by itself. */
static inline void it_etcd_compact(void)
{
    json_object *st = it_etcd_post("/v3/maintenance/status", "{}"), *hdr = NULL, *rev = NULL, *res;
    char body[128];
    CHECK(json_object_object_get_ex(st, "header", &hdr) && json_object_object_get_ex(hdr, "revision", &rev),
          "etcd status without revision");
    snprintf(body, sizeof(body), "{\"revision\":\"%s\",\"physical\":true}", json_object_get_string(rev));
    res = it_etcd_post("/v3/kv/compaction", body);
    fprintf(stderr, "etcd compacted at revision %s\n", json_object_get_string(rev));
    json_object_put(res);
    json_object_put(st);
}

/* A throw-away namespaced CRD it.kacme.io/v1 <plural> (plural "kit<pid>s"), established. Its watch cache
 * starts at the current resourceVersion, so a watch from resourceVersion 1 is answered 410 Gone. */
static const kube_resource_t IT_CRDS = {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};

static inline void it_crd_create(kube_client_t *c, char *plural, size_t len, kube_resource_t *res)
{
    char name[128], kind[64];
    json_object *crd, *md = NULL, *spec = NULL, *names = NULL, *out = NULL;
    kube_error_t e;
    double end;
    snprintf(plural, len, "kit%lds", (long)getpid());
    snprintf(kind, sizeof(kind), "Kit%ld", (long)getpid());
    snprintf(name, sizeof(name), "%s.it.kacme.io", plural);
    crd = json_tokener_parse(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\",\"metadata\":{},"
        "\"spec\":{\"group\":\"it.kacme.io\",\"scope\":\"Namespaced\",\"names\":{},\"versions\":[{\"name\":\"v1\","
        "\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
        "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}");
    json_object_object_get_ex(crd, "metadata", &md);
    json_object_object_get_ex(crd, "spec", &spec);
    json_object_object_get_ex(spec, "names", &names);
    json_object_object_add(md, "name", json_object_new_string(name));
    json_object_object_add(names, "plural", json_object_new_string(plural));
    json_object_object_add(names, "kind", json_object_new_string(kind));
    CHECK(kube_create(c, &IT_CRDS, NULL, crd, NULL, &e) == 0 || e.type == KUBE_ERR_ALREADY_EXISTS, "CRD: %s",
          it_estr(&e));
    json_object_put(crd);
    end = it_now() + 30;
    for (;;) {
        bool established = false;
        json_object *st = NULL, *conds = NULL;
        CHECK(kube_get(c, &IT_CRDS, NULL, name, &out, &e) == 0, "get CRD: %s", it_estr(&e));
        if (json_object_object_get_ex(out, "status", &st) && json_object_object_get_ex(st, "conditions", &conds) &&
            json_object_is_type(conds, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(conds); i++) {
                json_object *cd = json_object_array_get_idx(conds, i), *t = NULL, *v = NULL;
                if (json_object_object_get_ex(cd, "type", &t) && json_object_object_get_ex(cd, "status", &v) &&
                    strcmp(json_object_get_string(t), "Established") == 0 &&
                    strcmp(json_object_get_string(v), "True") == 0)
                    established = true;
            }
        }
        json_object_put(out);
        if (established)
            break;
        CHECK(it_now() < end, "CRD %s not established within 30 s", name);
        usleep(100000);
    }
    res->group = "it.kacme.io";
    res->version = "v1";
    res->resource = plural;
    res->namespaced = true;
}

static inline void it_crd_delete(kube_client_t *c, const char *plural)
{
    char name[128];
    kube_error_t e;
    snprintf(name, sizeof(name), "%s.it.kacme.io", plural);
    if (kube_delete(c, &IT_CRDS, NULL, name, NULL, NULL, &e) < 0)
        fprintf(stderr, "warning: delete CRD %s: %s\n", name, it_estr(&e));
}

/* An object of the test CRD (owned). */
static inline json_object *it_cr(const char *plural, const char *name, const char *label)
{
    json_object *o = it_configmap(name, label, "k", "v");
    char kind[64];
    snprintf(kind, sizeof(kind), "Kit%ld", (long)getpid());
    (void)plural;
    json_object_object_add(o, "apiVersion", json_object_new_string("it.kacme.io/v1"));
    json_object_object_add(o, "kind", json_object_new_string(kind));
    return o;
}

static inline const char *it_meta(json_object *o, const char *k)
{
    json_object *md = NULL, *v = NULL;
    if (!o || !json_object_object_get_ex(o, "metadata", &md) || !json_object_object_get_ex(md, k, &v))
        return NULL;
    return json_object_get_string(v);
}

#endif
