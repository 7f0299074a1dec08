/* SPDX-License-Identifier: Apache-2.0 */
/* Informers against the local kube-apiserver:
 *   1. creates, updates and deletes of ConfigMaps in a fresh namespace reach the handlers in order, with the
 *      resourceVersions the writes returned, and the store converges;
 *   2. a watch from a compacted/expired resourceVersion (410) causes exactly one relist, after which the
 *      watch resumes (a later create is seen) and no spurious events were delivered;
 *   3. a metadata-only, label-selected informer caches only metadata of the selected objects. */
#include <pthread.h>

#include "it_rest_common.h"
#include "kube/informer.h"

#define N_CM 20
#define MAX_EV 256

typedef struct ev {
    char what; /* a, u, d */
    char name[32];
    char rv[32];
} ev_t;

typedef struct rec {
    pthread_mutex_t mu;
    ev_t ev[MAX_EV];
    int n;
} rec_t;

static void record(rec_t *r, char what, json_object *o)
{
    pthread_mutex_lock(&r->mu);
    if (r->n < MAX_EV) {
        r->ev[r->n].what = what;
        snprintf(r->ev[r->n].name, sizeof(r->ev[0].name), "%s", it_meta(o, "name") ? it_meta(o, "name") : "?");
        snprintf(r->ev[r->n].rv, sizeof(r->ev[0].rv), "%s",
                 it_meta(o, "resourceVersion") ? it_meta(o, "resourceVersion") : "?");
    }
    r->n++;
    pthread_mutex_unlock(&r->mu);
}

static void on_add(void *ud, json_object *o)
{
    record(ud, 'a', o);
}

static void on_update(void *ud, json_object *old, json_object *o)
{
    CHECK(old != NULL && o != NULL, "update without old/new");
    record(ud, 'u', o);
}

static void on_delete(void *ud, json_object *o)
{
    record(ud, 'd', o);
}

static int count(rec_t *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Waits (bounded) until the recorder holds at least n events. */
static void wait_events(rec_t *r, int n, double timeout_s)
{
    double end = it_now() + timeout_s;
    while (count(r) < n && it_now() < end)
        usleep(20000);
    CHECK(count(r) >= n, "saw %d events, want %d", count(r), n);
}

static kube_informer_t *start(kube_client_t *c, const kube_informer_opts_t *o, rec_t *r)
{
    char err[256];
    kube_informer_handlers_t h = {on_add, on_update, on_delete, r};
    kube_informer_t *inf = kube_informer_new(c, o, err, sizeof(err));
    CHECK(inf != NULL, "informer: %s", err);
    CHECK(kube_informer_add_handlers(inf, &h) == 0, "handlers");
    CHECK(kube_informer_start(inf) == 0, "start");
    CHECK(kube_informer_wait_synced(inf, 30000), "not synced within 30 s");
    return inf;
}

static void test_order(kube_client_t *c, const char *ns)
{
    static rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char want_rv[N_CM][3][32];
    kube_informer_opts_t o = {.resource = &KUBE_RES_CONFIGMAPS, .namespace = ns, .label_selector = "kacme-it=order",
                              .watch_timeout_s = 120};
    kube_informer_t *inf = start(c, &o, &r);
    kube_error_t e;
    json_object *out;

    CHECK(count(&r) == 0, "events before any write");
    for (int i = 0; i < N_CM; i++) {
        char name[32];
        json_object *cm;
        snprintf(name, sizeof(name), "order-%02d", i);
        cm = it_configmap(name, "order", "v", "0");
        CHECK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, &out, &e) == 0, "create: %s", it_estr(&e));
        snprintf(want_rv[i][0], 32, "%s", it_meta(out, "resourceVersion"));
        json_object_put(out);
        json_object_put(cm);
    }
    for (int i = 0; i < N_CM; i++) {
        char name[32];
        kube_patch_opts_t po = {.type = KUBE_PATCH_MERGE};
        json_object *p = json_tokener_parse("{\"data\":{\"v\":\"1\"}}");
        snprintf(name, sizeof(name), "order-%02d", i);
        CHECK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, name, &po, p, &out, &e) == 0, "patch: %s", it_estr(&e));
        snprintf(want_rv[i][1], 32, "%s", it_meta(out, "resourceVersion"));
        json_object_put(out);
        json_object_put(p);
    }
    for (int i = 0; i < N_CM; i++) {
        char name[32];
        snprintf(name, sizeof(name), "order-%02d", i);
        CHECK(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, name, NULL, &out, &e) == 0, "delete: %s", it_estr(&e));
        json_object_put(out);
    }
    wait_events(&r, 3 * N_CM, 60);
    usleep(300000); /* a moment for anything unexpected to show up */
    CHECK(count(&r) == 3 * N_CM, "extra events: %d", count(&r));
    for (int i = 0; i < N_CM; i++) {
        char name[32];
        int k = 0;
        snprintf(name, sizeof(name), "order-%02d", i);
        for (int j = 0; j < r.n; j++) {
            if (strcmp(r.ev[j].name, name) != 0)
                continue;
            CHECK(k < 3, "too many events for %s", name);
            CHECK(r.ev[j].what == "aud"[k], "%s: event %d is %c", name, k, r.ev[j].what);
            if (k < 2)
                CHECK(strcmp(r.ev[j].rv, want_rv[i][k]) == 0, "%s: event %d rv %s, want %s", name, k, r.ev[j].rv,
                      want_rv[i][k]);
            k++;
        }
        CHECK(k == 3, "%s: %d events", name, k);
    }
    /* Global order: all creates before updates before deletes, as written. */
    for (int j = 0; j < 3 * N_CM; j++)
        CHECK(r.ev[j].what == "aud"[j / N_CM], "global order at %d: %c", j, r.ev[j].what);
    CHECK(kube_store_len(kube_informer_store(inf)) == 0, "store not empty");
    {
        /* Stopping aborts the silent watch at once (not after its 120 s). */
        double t0 = it_now();
        kube_informer_free(inf);
        fprintf(stderr, "order: %d events in order; informer stopped in %.1f s\n", 3 * N_CM, it_now() - t0);
    }
}

static void test_relist_once(kube_client_t *c, const char *ns)
{
    static rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char plural[64];
    kube_resource_t res;
    kube_informer_opts_t o = {.resource = &res, .namespace = ns, .label_selector = "kacme-it=relist",
                              .watch_timeout_s = 120, .test_first_watch_rv = "1"};
    kube_informer_stats_t st;
    kube_informer_t *inf;
    kube_error_t e;
    double end;

    /* A fresh CRD: its watch cache starts now, so resourceVersion 1 is too old (410), deterministically. */
    it_crd_create(c, plural, sizeof(plural), &res);
    for (int i = 0; i < 5; i++) {
        char name[32];
        json_object *cr;
        snprintf(name, sizeof(name), "relist-%d", i);
        cr = it_cr(plural, name, "relist");
        CHECK(kube_create(c, &res, ns, cr, NULL, &e) == 0, "create: %s", it_estr(&e));
        json_object_put(cr);
    }
    it_etcd_compact(); /* and resourceVersion 1 is compacted away in etcd too */
    inf = start(c, &o, &r);
    end = it_now() + 30;
    do {
        kube_informer_get_stats(inf, &st);
        if (st.relists >= 1 && st.watches >= 2)
            break;
        usleep(20000);
    } while (it_now() < end);
    CHECK(st.relists == 1, "relists %lu", st.relists);
    /* The watch resumed after the relist: a new object arrives. */
    {
        json_object *cr = it_cr(plural, "relist-new", "relist");
        CHECK(kube_create(c, &res, ns, cr, NULL, &e) == 0, "create: %s", it_estr(&e));
        json_object_put(cr);
    }
    wait_events(&r, 6, 30);
    usleep(300000);
    kube_informer_get_stats(inf, &st);
    CHECK(st.lists == 2 && st.relists == 1, "lists %lu relists %lu", st.lists, st.relists);
    /* 5 adds from the first list, nothing from the relist (unchanged objects), 1 add from the watch. */
    CHECK(count(&r) == 6, "events %d", count(&r));
    for (int j = 0; j < 6; j++)
        CHECK(r.ev[j].what == 'a', "event %d is %c", j, r.ev[j].what);
    CHECK(strcmp(r.ev[5].name, "relist-new") == 0, "last event %s", r.ev[5].name);
    CHECK(kube_store_len(kube_informer_store(inf)) == 6, "store %zu", kube_store_len(kube_informer_store(inf)));
    kube_informer_free(inf);
    it_crd_delete(c, plural);
    fprintf(stderr, "relist: exactly one relist after 410 (lists %lu, watches %lu, errors %lu)\n", st.lists,
            st.watches, st.errors);
}

static void test_metadata_only(kube_client_t *c, const char *ns)
{
    static rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kube_informer_opts_t o = {.resource = &KUBE_RES_CONFIGMAPS, .namespace = ns, .label_selector = "kacme-it=meta",
                              .metadata_only = true, .watch_timeout_s = 120};
    kube_informer_t *inf;
    kube_error_t e;
    json_object *cm, *got, *data = NULL;

    cm = it_configmap("meta-listed", "meta", "big", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    CHECK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &e) == 0, "create: %s", it_estr(&e));
    json_object_put(cm);
    cm = it_configmap("meta-other", "not-meta", "v", "0");
    CHECK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &e) == 0, "create: %s", it_estr(&e));
    json_object_put(cm);
    inf = start(c, &o, &r);
    cm = it_configmap("meta-watched", "meta", "big", "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
    CHECK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &e) == 0, "create: %s", it_estr(&e));
    json_object_put(cm);
    wait_events(&r, 2, 30);
    CHECK(kube_store_len(kube_informer_store(inf)) == 2, "store %zu", kube_store_len(kube_informer_store(inf)));
    CHECK(kube_store_get_ns(kube_informer_store(inf), ns, "meta-other") == NULL, "unselected object cached");
    for (int i = 0; i < 2; i++) {
        got = kube_store_get_ns(kube_informer_store(inf), ns, i ? "meta-watched" : "meta-listed");
        CHECK(got != NULL, "missing object %d", i);
        CHECK(!json_object_object_get_ex(got, "data", &data), "metadata-only object carries data");
        CHECK(it_meta(got, "uid") != NULL, "metadata missing");
        {
            json_object *md = NULL, *mf = NULL;
            json_object_object_get_ex(got, "metadata", &md);
            CHECK(!json_object_object_get_ex(md, "managedFields", &mf), "managedFields cached");
        }
        json_object_put(got);
    }
    kube_informer_free(inf);
    fprintf(stderr, "metadata-only: ok\n");
}

int main(void)
{
    kube_client_t *c = it_client(200, 400);
    char ns[96];
    it_namespace(c, "inf", ns, sizeof(ns));
    test_order(c, ns);
    test_relist_once(c, ns);
    test_metadata_only(c, ns);
    it_namespace_delete(c, ns);
    kube_client_free(c);
    printf("it_informer: ok\n");
    return 0;
}
