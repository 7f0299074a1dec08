/* SPDX-License-Identifier: Apache-2.0 */
/* kube-apiserver killed and restarted during a watch (a private API server: see
 * informer_private_apiserver.sh): the informer reconnects (backoff), resumes or relists, and its store and the
 * state rebuilt from its handler calls converge to the server's state, with nothing missed. */
#include <pthread.h>

#include "it_rest_common.h"
#include "kube/informer.h"

#define MAXN 64

typedef struct model {
    pthread_mutex_t mu;
    char rv[MAXN][32]; /* by index of "r-NN"; "" when absent */
    int adds, updates, deletes;
} model_t;

static model_t M = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int idx(json_object *o)
{
    const char *n = it_meta(o, "name");
    int i = n ? atoi(n + 2) : -1;
    CHECK(i >= 0 && i < MAXN, "unexpected object %s", n ? n : "?");
    return i;
}

static void on_add(void *ud, json_object *o)
{
    (void)ud;
    pthread_mutex_lock(&M.mu);
    snprintf(M.rv[idx(o)], 32, "%s", it_meta(o, "resourceVersion"));
    M.adds++;
    pthread_mutex_unlock(&M.mu);
}

static void on_update(void *ud, json_object *old, json_object *o)
{
    (void)ud;
    CHECK(idx(old) == idx(o), "update of different objects");
    pthread_mutex_lock(&M.mu);
    snprintf(M.rv[idx(o)], 32, "%s", it_meta(o, "resourceVersion"));
    M.updates++;
    pthread_mutex_unlock(&M.mu);
}

static void on_delete(void *ud, json_object *o)
{
    (void)ud;
    pthread_mutex_lock(&M.mu);
    M.rv[idx(o)][0] = '\0';
    M.deletes++;
    pthread_mutex_unlock(&M.mu);
}

static void create(kube_client_t *c, const char *ns, int i)
{
    char name[16];
    kube_error_t e;
    json_object *cm;
    snprintf(name, sizeof(name), "r-%02d", i);
    cm = it_configmap(name, "restart", "v", "0");
    CHECK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &e) == 0, "create %s: %s", name, it_estr(&e));
    json_object_put(cm);
}

/* True when the handler-built model and the informer's store both equal the server's list. */
static bool converged(kube_client_t *c, const char *ns, kube_informer_t *inf, char *why, size_t len)
{
    kube_list_opts_t lo = {.label_selector = "kacme-it=restart"};
    json_object *list = NULL, *items = NULL;
    char want[MAXN][32];
    kube_error_t e;
    bool ok = true;
    memset(want, 0, sizeof(want));
    if (kube_list_all(c, &KUBE_RES_CONFIGMAPS, ns, &lo, &list, &e) < 0) {
        snprintf(why, len, "list: %s", it_estr(&e));
        return false;
    }
    json_object_object_get_ex(list, "items", &items);
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *o = json_object_array_get_idx(items, i);
        snprintf(want[idx(o)], 32, "%s", it_meta(o, "resourceVersion"));
    }
    json_object_put(list);
    pthread_mutex_lock(&M.mu);
    for (int i = 0; i < MAXN && ok; i++) {
        json_object *s = NULL;
        char name[16];
        if (strcmp(want[i], M.rv[i]) != 0) {
            snprintf(why, len, "r-%02d: server %.31s, handlers %.31s", i, want[i], M.rv[i]);
            ok = false;
            break;
        }
        snprintf(name, sizeof(name), "r-%02d", i);
        s = kube_store_get_ns(kube_informer_store(inf), ns, name);
        if ((s == NULL) != (want[i][0] == '\0') || (s && strcmp(it_meta(s, "resourceVersion"), want[i]) != 0)) {
            snprintf(why, len, "r-%02d: server %.31s, store %.31s", i, want[i], s ? it_meta(s, "resourceVersion") : "-");
            ok = false;
        }
        json_object_put(s);
    }
    pthread_mutex_unlock(&M.mu);
    return ok;
}

int main(void)
{
    kube_client_t *c = it_client(200, 400);
    const char *restart = getenv("KACME_IT_RESTART_APISERVER");
    kube_informer_opts_t o = {.resource = &KUBE_RES_CONFIGMAPS, .label_selector = "kacme-it=restart",
                              .watch_timeout_s = 10};
    kube_informer_handlers_t h = {on_add, on_update, on_delete, NULL};
    kube_informer_stats_t st;
    kube_informer_t *inf;
    char ns[96], err[256], why[256] = "";
    double end;
    kube_error_t e;

    CHECK(restart != NULL, "KACME_IT_RESTART_APISERVER not set: run through informer_private_apiserver.sh");
    it_namespace(c, "restart", ns, sizeof(ns));
    o.namespace = ns;
    inf = kube_informer_new(c, &o, err, sizeof(err));
    CHECK(inf != NULL, "%s", err);
    CHECK(kube_informer_add_handlers(inf, &h) == 0, "handlers");
    CHECK(kube_informer_start(inf) == 0, "start");
    CHECK(kube_informer_wait_synced(inf, 30000), "not synced");
    for (int i = 0; i < 20; i++)
        create(c, ns, i);
    end = it_now() + 30;
    while (!converged(c, ns, inf, why, sizeof(why)) && it_now() < end)
        usleep(50000);
    CHECK(converged(c, ns, inf, why, sizeof(why)), "before restart: %s", why);

    /* Writes right before the kill: the watch may or may not deliver them before the connection drops. */
    for (int i = 20; i < 30; i++)
        create(c, ns, i);
    fprintf(stderr, "restarting kube-apiserver\n");
    CHECK(system(restart) == 0, "restart failed");

    /* After the restart: updates, deletes, creates. */
    for (int i = 0; i < 5; i++) {
        char name[16];
        kube_patch_opts_t po = {.type = KUBE_PATCH_MERGE};
        json_object *p = json_tokener_parse("{\"data\":{\"v\":\"1\"}}");
        snprintf(name, sizeof(name), "r-%02d", i);
        CHECK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, name, &po, p, NULL, &e) == 0, "patch: %s", it_estr(&e));
        json_object_put(p);
    }
    for (int i = 5; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "r-%02d", i);
        CHECK(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, name, NULL, NULL, &e) == 0, "delete: %s", it_estr(&e));
    }
    for (int i = 30; i < 35; i++)
        create(c, ns, i);

    end = it_now() + 90;
    while (!converged(c, ns, inf, why, sizeof(why)) && it_now() < end)
        usleep(100000);
    CHECK(converged(c, ns, inf, why, sizeof(why)), "after restart: %s", why);
    kube_informer_get_stats(inf, &st);
    fprintf(stderr, "converged: %d adds, %d updates, %d deletes; lists %lu (relists %lu), watches %lu, errors %lu\n",
            M.adds, M.updates, M.deletes, st.lists, st.relists, st.watches, st.errors);
    CHECK(kube_store_len(kube_informer_store(inf)) == 30, "store %zu", kube_store_len(kube_informer_store(inf)));
    CHECK(M.deletes == 5, "deletes %d", M.deletes);
    CHECK(st.watches >= 2, "watch not restarted");
    kube_informer_free(inf);
    it_namespace_delete(c, ns);
    kube_client_free(c);
    printf("it_informer_restart: ok\n");
    return 0;
}
