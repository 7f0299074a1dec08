/* SPDX-License-Identifier: Apache-2.0 */
#include "kube/informer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

#define BACKOFF_MIN_MS 200L
#define BACKOFF_MAX_MS 30000L
#define DEFAULT_PAGE 500L
#define DEFAULT_WATCH_TIMEOUT_S 300L
#define HEALTHY_WATCH_S 10
#define MAX_HANDLERS 8

struct kube_informer {
    kube_client_t *c;
    kube_resource_t res;
    char *group, *version, *resource; /* res points at these */
    char *ns, *label, *field, *name;
    char *test_rv; /* used once, then freed */
    bool metadata_only;
    long page_size, watch_timeout_s;
    kube_store_t *store;
    kube_informer_handlers_t h[MAX_HANDLERS];
    size_t nh;

    pthread_t thread;
    bool started, joined;
    atomic_int stop;

    pthread_mutex_t mu; /* guards synced, stats; cond signals sync and stop */
    pthread_cond_t cond;
    bool synced;
    kube_informer_stats_t st;
    uint64_t rnd;

    /* watch-time state (informer thread only) */
    char rv[64];
    bool gone;          /* the watch reported 410 */
    bool watch_error;   /* an ERROR event other than 410 */
    kube_error_t werr;
    unsigned long watch_events;
};

static char *dup_or_null(const char *s, bool *oom)
{
    char *d;
    if (!s || !s[0])
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

kube_informer_t *kube_informer_new(kube_client_t *c, const kube_informer_opts_t *o, char *err, size_t errlen)
{
    kube_informer_t *inf = NULL;
    bool oom = false;
    pthread_condattr_t ca;

    if (!c || !o || !o->resource || !o->resource->resource || !o->resource->version) {
        snprintf(err, errlen, "informer: no client or resource");
        return NULL;
    }
    if ((!o->resource->group || !o->resource->group[0]) && strcmp(o->resource->resource, "secrets") == 0 &&
        !(o->label_selector && o->label_selector[0]) && !(o->field_selector && o->field_selector[0])) {
        snprintf(err, errlen, "informer: refusing to cache Secrets without a label or field selector");
        return NULL;
    }
    inf = calloc(1, sizeof(*inf));
    if (!inf)
        goto oom;
    inf->c = c;
    inf->group = strdup(o->resource->group ? o->resource->group : "");
    inf->version = strdup(o->resource->version);
    inf->resource = strdup(o->resource->resource);
    if (!inf->group || !inf->version || !inf->resource)
        goto oom;
    inf->res.group = inf->group;
    inf->res.version = inf->version;
    inf->res.resource = inf->resource;
    inf->res.namespaced = o->resource->namespaced;
    inf->ns = dup_or_null(o->namespace, &oom);
    inf->label = dup_or_null(o->label_selector, &oom);
    inf->field = dup_or_null(o->field_selector, &oom);
    inf->name = dup_or_null(o->name ? o->name : o->resource->resource, &oom);
    inf->test_rv = dup_or_null(o->test_first_watch_rv, &oom);
    if (oom)
        goto oom;
    inf->metadata_only = o->metadata_only;
    inf->page_size = o->page_size > 0 ? o->page_size : DEFAULT_PAGE;
    inf->watch_timeout_s = o->watch_timeout_s > 0 ? o->watch_timeout_s : DEFAULT_WATCH_TIMEOUT_S;
    inf->store = kube_store_new();
    if (!inf->store)
        goto oom;
    atomic_init(&inf->stop, 0);
    pthread_mutex_init(&inf->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cond, &ca);
    pthread_condattr_destroy(&ca);
    inf->rnd = (uint64_t)(uintptr_t)inf ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull;
    return inf;
oom:
    snprintf(err, errlen, "out of memory");
    if (inf) {
        free(inf->group);
        free(inf->version);
        free(inf->resource);
        free(inf->ns);
        free(inf->label);
        free(inf->field);
        free(inf->name);
        free(inf->test_rv);
        free(inf);
    }
    return NULL;
}

kube_store_t *kube_informer_store(kube_informer_t *inf)
{
    return inf->store;
}

int kube_informer_add_handlers(kube_informer_t *inf, const kube_informer_handlers_t *h)
{
    if (!h || inf->started || inf->nh >= MAX_HANDLERS)
        return -1;
    inf->h[inf->nh++] = *h;
    return 0;
}

bool kube_informer_has_synced(kube_informer_t *inf)
{
    bool s;
    pthread_mutex_lock(&inf->mu);
    s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

static struct timespec deadline_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

bool kube_informer_wait_synced(kube_informer_t *inf, long timeout_ms)
{
    struct timespec dl = deadline_ms(timeout_ms < 0 ? 0 : timeout_ms);
    bool s;
    pthread_mutex_lock(&inf->mu);
    while (!inf->synced && !atomic_load(&inf->stop)) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&inf->cond, &inf->mu)
                                : pthread_cond_timedwait(&inf->cond, &inf->mu, &dl);
        if (rc == ETIMEDOUT)
            break;
    }
    s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

void kube_informer_get_stats(kube_informer_t *inf, kube_informer_stats_t *out)
{
    pthread_mutex_lock(&inf->mu);
    *out = inf->st;
    pthread_mutex_unlock(&inf->mu);
}

/* Waits ms or until stopped. Returns true when stopped. */
static bool wait_or_stop(kube_informer_t *inf, long ms)
{
    struct timespec dl = deadline_ms(ms);
    bool stopped;
    pthread_mutex_lock(&inf->mu);
    while (!atomic_load(&inf->stop)) {
        if (pthread_cond_timedwait(&inf->cond, &inf->mu, &dl) == ETIMEDOUT)
            break;
    }
    stopped = atomic_load(&inf->stop) != 0;
    pthread_mutex_unlock(&inf->mu);
    return stopped;
}

static void set_rv(kube_informer_t *inf, const char *rv)
{
    if (!rv || !rv[0] || strlen(rv) >= sizeof(inf->rv))
        return;
    snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    pthread_mutex_lock(&inf->mu);
    snprintf(inf->st.resource_version, sizeof(inf->st.resource_version), "%s", rv);
    pthread_mutex_unlock(&inf->mu);
}

static const char *meta_str(json_object *o, const char *k)
{
    json_object *md = NULL, *v = NULL; /* borrowed */
    if (!o || !json_object_object_get_ex(o, "metadata", &md) || !json_object_object_get_ex(md, k, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void call_add(kube_informer_t *inf, json_object *obj)
{
    for (size_t i = 0; i < inf->nh; i++)
        if (inf->h[i].on_add)
            inf->h[i].on_add(inf->h[i].ud, obj);
}

static void call_update(kube_informer_t *inf, json_object *old, json_object *obj)
{
    for (size_t i = 0; i < inf->nh; i++)
        if (inf->h[i].on_update)
            inf->h[i].on_update(inf->h[i].ud, old, obj);
}

static void call_delete(kube_informer_t *inf, json_object *old)
{
    for (size_t i = 0; i < inf->nh; i++)
        if (inf->h[i].on_delete)
            inf->h[i].on_delete(inf->h[i].ud, old);
}

static void on_diff(void *ud, enum kube_store_change what, json_object *old, json_object *obj)
{
    kube_informer_t *inf = ud;
    switch (what) {
    case KUBE_STORE_ADDED: call_add(inf, obj); break;
    case KUBE_STORE_MODIFIED: call_update(inf, old, obj); break;
    case KUBE_STORE_DELETED: call_delete(inf, old); break;
    }
}

/* Lists everything page by page into a store batch, then commits it (handlers see the difference).
 * Returns 0 or -1. */
static int do_list(kube_informer_t *inf, bool because_gone)
{
    kube_list_opts_t lo = {.label_selector = inf->label,
                           .field_selector = inf->field,
                           .limit = inf->page_size,
                           .metadata_only = inf->metadata_only};
    kube_store_batch_t *b = NULL;
    json_object *page = NULL; /* owned */
    char *cont = NULL, rv[64] = "";
    kube_error_t e;
    char buf[768];
    int rc = -1;
    unsigned long pages = 0;

    b = kube_store_batch_new(inf->store);
    if (!b)
        goto out;
    do {
        json_object *items = NULL, *md = NULL, *ct = NULL; /* borrowed from page */
        size_t n;
        if (atomic_load(&inf->stop))
            goto out;
        lo.continue_token = cont;
        if (kube_list(inf->c, &inf->res, inf->ns, &lo, &page, &e) < 0) {
            /* An expired continue token (410) fails this attempt; the next one lists from the start. */
            LOG_WARN("informer list failed", "informer", inf->name, "error", kube_error_str(&e, buf, sizeof(buf)));
            goto out;
        }
        if (pages++ == 0) {
            /* The first page's resourceVersion is the snapshot every page is served from. */
            const char *r = meta_str(page, "resourceVersion");
            snprintf(rv, sizeof(rv), "%s", r ? r : "");
        }
        json_object_object_get_ex(page, "items", &items);
        n = json_object_array_length(items);
        for (size_t i = 0; i < n; i++)
            kube_store_batch_add(b, json_object_get(json_object_array_get_idx(items, i)));
        free(cont);
        cont = NULL;
        if (json_object_object_get_ex(page, "metadata", &md) && json_object_object_get_ex(md, "continue", &ct) &&
            json_object_is_type(ct, json_type_string) && json_object_get_string_len(ct) > 0 &&
            !(cont = strdup(json_object_get_string(ct))))
            goto out;
        json_object_put(page);
        page = NULL;
    } while (cont);
    set_rv(inf, rv);
    if (kube_store_batch_commit(b, on_diff, inf) < 0)
        LOG_WARN("informer store replace incomplete (out of memory?)", "informer", inf->name);
    b = NULL;
    pthread_mutex_lock(&inf->mu);
    inf->st.lists++;
    if (because_gone)
        inf->st.relists++;
    inf->synced = true;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->mu);
    LOG_V(2, "informer listed", "informer", inf->name, "resourceVersion", inf->rv);
    rc = 0;
out:
    kube_store_batch_free(b);
    json_object_put(page);
    free(cont);
    return rc;
}

static int on_event(void *ud, enum kube_watch_event type, json_object *obj)
{
    kube_informer_t *inf = ud;
    json_object *old = NULL, *stored = NULL; /* owned references */
    char key[512];

    if (atomic_load(&inf->stop))
        return -1;
    switch (type) {
    case KUBE_WATCH_ADDED:
    case KUBE_WATCH_MODIFIED:
        set_rv(inf, meta_str(obj, "resourceVersion"));
        /* The store edits (transform) what it keeps: give it its own copy of the event's object, which
         * belongs to the decoder. */
        if (kube_store_upsert(inf->store, json_object_get(obj), &old, &stored) < 0 && !stored)
            break;
        if (old)
            call_update(inf, old, stored);
        else
            call_add(inf, stored);
        break;
    case KUBE_WATCH_DELETED:
        set_rv(inf, meta_str(obj, "resourceVersion"));
        if (kube_store_key(obj, key, sizeof(key)) < 0)
            break;
        kube_store_delete(inf->store, key, &old);
        call_delete(inf, old ? old : obj);
        break;
    case KUBE_WATCH_BOOKMARK:
        set_rv(inf, meta_str(obj, "resourceVersion"));
        return 0;
    case KUBE_WATCH_ERROR:
        kube_error_from_status(&inf->werr, obj, 0);
        if (inf->werr.type == KUBE_ERR_GONE)
            inf->gone = true;
        else
            inf->watch_error = true;
        return -1;
    }
    json_object_put(old);
    json_object_put(stored);
    inf->watch_events++;
    pthread_mutex_lock(&inf->mu);
    inf->st.events++;
    pthread_mutex_unlock(&inf->mu);
    return 0;
}

static uint64_t next_rand(kube_informer_t *inf)
{
    uint64_t x = inf->rnd; /* xorshift64: jitter only */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    inf->rnd = x;
    return x;
}

static void *run(void *arg)
{
    kube_informer_t *inf = arg;
    long backoff = BACKOFF_MIN_MS;
    bool need_list = true, because_gone = false;
    char buf[768];

    while (!atomic_load(&inf->stop)) {
        kube_watch_opts_t wo = {0};
        kube_error_t e;
        bool by_caller = false;
        time_t started;
        long t;
        int rc;

        if (need_list) {
            if (do_list(inf, because_gone) < 0) {
                pthread_mutex_lock(&inf->mu);
                inf->st.errors++;
                pthread_mutex_unlock(&inf->mu);
                if (wait_or_stop(inf, backoff))
                    break;
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            need_list = false;
            because_gone = false;
            if (inf->test_rv) {
                set_rv(inf, inf->test_rv);
                free(inf->test_rv);
                inf->test_rv = NULL;
            }
        }
        /* Spread watch restarts of many informers (client-go randomises timeouts the same way). */
        t = inf->watch_timeout_s;
        if (t >= 10)
            t = t - t / 10 + (long)(next_rand(inf) % (uint64_t)(t / 5 + 1));
        wo.label_selector = inf->label;
        wo.field_selector = inf->field;
        wo.resource_version = inf->rv;
        wo.timeout_s = t;
        wo.allow_bookmarks = true;
        wo.metadata_only = inf->metadata_only;
        wo.stop = &inf->stop;
        inf->gone = false;
        inf->watch_error = false;
        inf->watch_events = 0;
        pthread_mutex_lock(&inf->mu);
        inf->st.watches++;
        pthread_mutex_unlock(&inf->mu);
        started = time(NULL);
        rc = kube_watch(inf->c, &inf->res, inf->ns, &wo, on_event, inf, &by_caller, &e);
        if (atomic_load(&inf->stop))
            break;
        if ((rc < 0 && e.type == KUBE_ERR_GONE) || inf->gone) {
            /* The resourceVersion was compacted away: relist (once) and diff against the store. */
            LOG_V(1, "informer watch expired, relisting", "informer", inf->name, "resourceVersion", inf->rv);
            need_list = true;
            because_gone = true;
            continue;
        }
        if (rc < 0 || inf->watch_error) {
            pthread_mutex_lock(&inf->mu);
            inf->st.errors++;
            pthread_mutex_unlock(&inf->mu);
            LOG_WARN("informer watch failed", "informer", inf->name, "error",
                     kube_error_str(rc < 0 ? &e : &inf->werr, buf, sizeof(buf)));
            if (wait_or_stop(inf, backoff))
                break;
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        /* The server ended the watch (timeout) or the connection closed: resume from the last version. */
        if (inf->watch_events > 0 || time(NULL) - started >= HEALTHY_WATCH_S) {
            backoff = BACKOFF_MIN_MS;
        } else {
            /* An immediately closing watch must not spin. */
            if (wait_or_stop(inf, backoff))
                break;
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
    }
    pthread_mutex_lock(&inf->mu);
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->mu);
    return NULL;
}

int kube_informer_start(kube_informer_t *inf)
{
    if (!inf || inf->started)
        return -1;
    if (pthread_create(&inf->thread, NULL, run, inf) != 0)
        return -1;
    inf->started = true;
    return 0;
}

void kube_informer_request_stop(kube_informer_t *inf)
{
    if (!inf)
        return;
    pthread_mutex_lock(&inf->mu);
    atomic_store(&inf->stop, 1);
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->mu);
}

void kube_informer_stop(kube_informer_t *inf)
{
    if (!inf)
        return;
    kube_informer_request_stop(inf);
    if (inf->started && !inf->joined) {
        pthread_join(inf->thread, NULL);
        inf->joined = true;
    }
}

void kube_informer_free(kube_informer_t *inf)
{
    if (!inf)
        return;
    kube_informer_stop(inf);
    kube_store_free(inf->store);
    pthread_mutex_destroy(&inf->mu);
    pthread_cond_destroy(&inf->cond);
    free(inf->group);
    free(inf->version);
    free(inf->resource);
    free(inf->ns);
    free(inf->label);
    free(inf->field);
    free(inf->name);
    free(inf->test_rv);
    free(inf);
}
