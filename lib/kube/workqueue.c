/* SPDX-License-Identifier: Apache-2.0 */
#include "kube/workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

#define WQ_DEFAULT_BASE_MS 5000
#define WQ_DEFAULT_MAX_MS (30 * 60 * 1000)
/* A blocked getter re-checks at least this often, so a clock that jumps (or an injected one) cannot
 * strand it. */
#define WQ_MAX_WAIT_MS 60000

/*
 * One entry per known key holds all of its state, so a key is looked up once per operation:
 *   dirty       queued or to be queued again when processing ends (client-go's "dirty set")
 *   processing  handed out by get, done() not yet called
 *   heap_idx    position on the delayed min-heap, -1 when not waiting
 *   failures    rate-limiter count
 * An entry is dropped when none of these hold any more.
 */
typedef struct wq_entry {
    char *key;
    uint32_t hash;
    bool dirty;
    bool processing;
    int failures;
    long heap_idx;
    int64_t ready_at;
    struct wq_entry *next; /* hash chain */
} wq_entry_t;

struct kube_workqueue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *name;
    int64_t base_ms, max_ms;
    kube_clock_fn clock;
    void *clock_ud;
    bool shutting_down, drain;

    wq_entry_t **buckets; /* chained hash table of entries */
    size_t nbuckets, nentries;

    wq_entry_t **fifo; /* ring buffer of ready entries */
    size_t fifo_cap, fifo_head, fifo_len;

    wq_entry_t **heap; /* delayed entries, min-heap on ready_at */
    size_t heap_len, heap_cap;
};

static int64_t mono_ms(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* ---- hash table ---- */

static wq_entry_t *entry_find(kube_workqueue_t *q, const char *key, uint32_t h)
{
    for (wq_entry_t *e = q->buckets[h & (q->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static int table_grow(kube_workqueue_t *q)
{
    size_t n = q->nbuckets * 2;
    wq_entry_t **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return -1;
    for (size_t i = 0; i < q->nbuckets; i++) {
        wq_entry_t *e = q->buckets[i];
        while (e) {
            wq_entry_t *next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(q->buckets);
    q->buckets = nb;
    q->nbuckets = n;
    return 0;
}

/* Finds or creates key's entry; NULL on allocation failure. */
static wq_entry_t *entry_get(kube_workqueue_t *q, const char *key)
{
    uint32_t h = hash_str(key);
    wq_entry_t *e = entry_find(q, key, h);
    if (e)
        return e;
    if (q->nentries >= q->nbuckets && table_grow(q) != 0)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return NULL;
    }
    e->hash = h;
    e->heap_idx = -1;
    size_t b = h & (q->nbuckets - 1);
    e->next = q->buckets[b];
    q->buckets[b] = e;
    q->nentries++;
    return e;
}

/* Drops e when it carries no state any more. */
static void entry_maybe_drop(kube_workqueue_t *q, wq_entry_t *e)
{
    if (e->dirty || e->processing || e->failures || e->heap_idx >= 0)
        return;
    wq_entry_t **pp = &q->buckets[e->hash & (q->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    q->nentries--;
    free(e->key);
    free(e);
}

/* ---- ready FIFO ---- */

static int fifo_push(kube_workqueue_t *q, wq_entry_t *e)
{
    if (q->fifo_len == q->fifo_cap) {
        size_t ncap = q->fifo_cap ? q->fifo_cap * 2 : 64;
        wq_entry_t **nf = malloc(ncap * sizeof(*nf));
        if (!nf)
            return -1;
        for (size_t i = 0; i < q->fifo_len; i++)
            nf[i] = q->fifo[(q->fifo_head + i) % q->fifo_cap];
        free(q->fifo);
        q->fifo = nf;
        q->fifo_cap = ncap;
        q->fifo_head = 0;
    }
    q->fifo[(q->fifo_head + q->fifo_len) % q->fifo_cap] = e;
    q->fifo_len++;
    return 0;
}

static wq_entry_t *fifo_pop(kube_workqueue_t *q)
{
    if (q->fifo_len == 0)
        return NULL;
    wq_entry_t *e = q->fifo[q->fifo_head];
    q->fifo_head = (q->fifo_head + 1) % q->fifo_cap;
    q->fifo_len--;
    return e;
}

/* ---- delayed heap ---- */

static void heap_set(kube_workqueue_t *q, size_t i, wq_entry_t *e)
{
    q->heap[i] = e;
    e->heap_idx = (long)i;
}

static void heap_up(kube_workqueue_t *q, size_t i)
{
    wq_entry_t *e = q->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (q->heap[p]->ready_at <= e->ready_at)
            break;
        heap_set(q, i, q->heap[p]);
        i = p;
    }
    heap_set(q, i, e);
}

static void heap_down(kube_workqueue_t *q, size_t i)
{
    wq_entry_t *e = q->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = e->ready_at;
        if (l < q->heap_len && q->heap[l]->ready_at < best) {
            m = l;
            best = q->heap[l]->ready_at;
        }
        if (l + 1 < q->heap_len && q->heap[l + 1]->ready_at < best)
            m = l + 1;
        if (m == i)
            break;
        heap_set(q, i, q->heap[m]);
        i = m;
    }
    heap_set(q, i, e);
}

static int heap_push(kube_workqueue_t *q, wq_entry_t *e)
{
    if (q->heap_len == q->heap_cap) {
        size_t ncap = q->heap_cap ? q->heap_cap * 2 : 64;
        wq_entry_t **nh = realloc(q->heap, ncap * sizeof(*nh));
        if (!nh)
            return -1;
        q->heap = nh;
        q->heap_cap = ncap;
    }
    heap_set(q, q->heap_len++, e);
    heap_up(q, q->heap_len - 1);
    return 0;
}

static wq_entry_t *heap_pop(kube_workqueue_t *q)
{
    wq_entry_t *top = q->heap[0];
    top->heap_idx = -1;
    q->heap_len--;
    if (q->heap_len > 0) {
        q->heap[0] = q->heap[q->heap_len];
        heap_down(q, 0);
    }
    return top;
}

/* ---- core (lock held) ---- */

/* client-go Add: dirty set + FIFO, unless already dirty; a key being processed waits for done(). */
static int add_locked(kube_workqueue_t *q, wq_entry_t *e)
{
    if (e->dirty)
        return 0;
    if (!e->processing && fifo_push(q, e) != 0)
        return -1;
    e->dirty = true;
    pthread_cond_signal(&q->cv);
    return 0;
}

/* Moves every delayed key whose time has come to the FIFO. */
static void promote_locked(kube_workqueue_t *q)
{
    if (q->heap_len == 0)
        return;
    int64_t now = q->clock(q->clock_ud);
    while (q->heap_len > 0 && q->heap[0]->ready_at <= now) {
        wq_entry_t *e = heap_pop(q);
        if (add_locked(q, e) != 0) {
            /* Out of memory: keep it waiting a little rather than lose it. */
            e->ready_at = now + 1000;
            if (heap_push(q, e) != 0)
                entry_maybe_drop(q, e);
            LOG_ERROR("workqueue: out of memory promoting a delayed key", "queue", q->name);
            return;
        }
    }
}

kube_workqueue_t *kube_workqueue_new(const kube_workqueue_opts_t *opts)
{
    kube_workqueue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->name = strdup(opts && opts->name ? opts->name : "workqueue");
    q->base_ms = opts && opts->base_delay_ms > 0 ? opts->base_delay_ms : WQ_DEFAULT_BASE_MS;
    q->max_ms = opts && opts->max_delay_ms > 0 ? opts->max_delay_ms : WQ_DEFAULT_MAX_MS;
    q->clock = opts && opts->clock ? opts->clock : mono_ms;
    q->clock_ud = opts ? opts->clock_ud : NULL;
    q->nbuckets = 64;
    q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
    pthread_condattr_t ca;
    bool ca_ok = pthread_condattr_init(&ca) == 0;
    if (ca_ok)
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!q->name || !q->buckets || !ca_ok || pthread_cond_init(&q->cv, &ca) != 0) {
        if (ca_ok)
            pthread_condattr_destroy(&ca);
        free(q->buckets);
        free(q->name);
        free(q);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->mu, NULL);
    return q;
}

void kube_workqueue_free(kube_workqueue_t *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nbuckets; i++) {
        wq_entry_t *e = q->buckets[i];
        while (e) {
            wq_entry_t *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(q->buckets);
    free(q->fifo);
    free(q->heap);
    free(q->name);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

int kube_workqueue_add(kube_workqueue_t *q, const char *key)
{
    return kube_workqueue_add_after(q, key, 0);
}

int kube_workqueue_add_after(kube_workqueue_t *q, const char *key, int64_t delay_ms)
{
    int rc = -1;
    pthread_mutex_lock(&q->mu);
    if (q->shutting_down)
        goto out;
    wq_entry_t *e = entry_get(q, key);
    if (!e)
        goto out;
    if (delay_ms <= 0) {
        rc = add_locked(q, e);
    } else {
        int64_t at = q->clock(q->clock_ud) + delay_ms;
        if (e->heap_idx >= 0) {
            if (at < e->ready_at) {
                e->ready_at = at;
                heap_up(q, (size_t)e->heap_idx);
            }
            rc = 0;
        } else {
            e->ready_at = at;
            rc = heap_push(q, e);
        }
        /* A getter may be waiting for a later time than this one. */
        pthread_cond_broadcast(&q->cv);
    }
    if (rc != 0)
        entry_maybe_drop(q, e);
    promote_locked(q);
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int kube_workqueue_add_rate_limited(kube_workqueue_t *q, const char *key)
{
    int64_t delay;
    pthread_mutex_lock(&q->mu);
    wq_entry_t *e = q->shutting_down ? NULL : entry_get(q, key);
    if (!e) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    /* base * 2^failures, capped; shifting stops early so the product cannot overflow. */
    delay = q->base_ms;
    for (int i = 0; i < e->failures && delay < q->max_ms; i++)
        delay *= 2;
    if (delay > q->max_ms)
        delay = q->max_ms;
    if (e->failures < 1000000)
        e->failures++;
    pthread_mutex_unlock(&q->mu);
    return kube_workqueue_add_after(q, key, delay);
}

void kube_workqueue_forget(kube_workqueue_t *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    wq_entry_t *e = entry_find(q, key, hash_str(key));
    if (e) {
        e->failures = 0;
        entry_maybe_drop(q, e);
    }
    pthread_mutex_unlock(&q->mu);
}

int kube_workqueue_num_requeues(kube_workqueue_t *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    wq_entry_t *e = entry_find(q, key, hash_str(key));
    int n = e ? e->failures : 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int kube_workqueue_get(kube_workqueue_t *q, char **key_out)
{
    int rc = -1;
    *key_out = NULL;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->shutting_down && !q->drain)
            goto out;
        promote_locked(q);
        if (q->fifo_len > 0)
            break;
        if (q->shutting_down)
            goto out;
        if (q->heap_len == 0) {
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        /* Wait until the earliest delayed key is due (or a signal comes first). */
        int64_t wait = q->heap[0]->ready_at - q->clock(q->clock_ud);
        if (wait > WQ_MAX_WAIT_MS)
            wait = WQ_MAX_WAIT_MS;
        if (wait < 1)
            wait = 1;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
    wq_entry_t *e = fifo_pop(q);
    char *k = strdup(e->key);
    if (!k) {
        /* Put it back at the end; the caller sees an error and may retry. */
        if (fifo_push(q, e) != 0) {
            e->dirty = false;
            entry_maybe_drop(q, e);
        }
        goto out;
    }
    e->processing = true;
    e->dirty = false;
    *key_out = k;
    rc = 0;
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void kube_workqueue_done(kube_workqueue_t *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    wq_entry_t *e = entry_find(q, key, hash_str(key));
    if (e && e->processing) {
        e->processing = false;
        if (e->dirty && (!q->shutting_down || q->drain)) {
            if (fifo_push(q, e) == 0)
                pthread_cond_signal(&q->cv);
            else
                e->dirty = false;
        } else {
            e->dirty = false;
        }
        entry_maybe_drop(q, e);
    }
    /* Someone may be waiting for the queue to become idle. */
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t kube_workqueue_len(kube_workqueue_t *q)
{
    pthread_mutex_lock(&q->mu);
    promote_locked(q);
    size_t n = q->fifo_len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t kube_workqueue_delayed_len(kube_workqueue_t *q)
{
    pthread_mutex_lock(&q->mu);
    promote_locked(q);
    size_t n = q->heap_len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void kube_workqueue_shutdown(kube_workqueue_t *q, bool drain)
{
    pthread_mutex_lock(&q->mu);
    if (!q->shutting_down) {
        q->shutting_down = true;
        q->drain = drain;
        /* Delayed keys are dropped: nobody will be there to process them. */
        while (q->heap_len > 0) {
            wq_entry_t *e = heap_pop(q);
            entry_maybe_drop(q, e);
        }
    } else if (!drain) {
        q->drain = false;
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

bool kube_workqueue_shutting_down(kube_workqueue_t *q)
{
    pthread_mutex_lock(&q->mu);
    bool s = q->shutting_down;
    pthread_mutex_unlock(&q->mu);
    return s;
}

/* ---- worker pool ---- */

struct kube_workers {
    kube_workqueue_t *q;
    kube_reconcile_fn fn;
    void *ud;
    int n;
    pthread_t *threads;
};

static void *worker_main(void *arg)
{
    kube_workers_t *w = arg;
    char *key;
    while (kube_workqueue_get(w->q, &key) == 0) {
        kube_reconcile_result_t r = w->fn(w->ud, key);
        switch (r.kind) {
        case KUBE_RECONCILE_OK:
            kube_workqueue_forget(w->q, key);
            break;
        case KUBE_RECONCILE_REQUEUE_AFTER:
            kube_workqueue_forget(w->q, key);
            if (!kube_workqueue_shutting_down(w->q) && kube_workqueue_add_after(w->q, key, r.after_ms) != 0)
                LOG_ERROR("workqueue: cannot requeue key", "queue", w->q->name, "key", key);
            break;
        case KUBE_RECONCILE_ERROR:
        default:
            if (!kube_workqueue_shutting_down(w->q) && kube_workqueue_add_rate_limited(w->q, key) != 0)
                LOG_ERROR("workqueue: cannot requeue key", "queue", w->q->name, "key", key);
            break;
        }
        kube_workqueue_done(w->q, key);
        free(key);
    }
    return NULL;
}

kube_workers_t *kube_workers_start(kube_workqueue_t *q, int n, kube_reconcile_fn fn, void *ud, char *err,
                                   size_t errlen)
{
    kube_workers_t *w = NULL;
    if (!q || !fn || n < 1 || n > 1024) {
        snprintf(err, errlen, "workers: need a queue, a function and 1..1024 threads (got %d)", n);
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (!w || !(w->threads = calloc((size_t)n, sizeof(pthread_t)))) {
        snprintf(err, errlen, "workers: out of memory");
        free(w);
        return NULL;
    }
    w->q = q;
    w->fn = fn;
    w->ud = ud;
    for (int i = 0; i < n; i++) {
        int e = pthread_create(&w->threads[i], NULL, worker_main, w);
        if (e != 0) {
            snprintf(err, errlen, "workers: pthread_create: %s", strerror(e));
            w->n = i;
            kube_workers_stop(w, false);
            return NULL;
        }
    }
    w->n = n;
    return w;
}

void kube_workers_stop(kube_workers_t *w, bool drain)
{
    if (!w)
        return;
    kube_workqueue_shutdown(w->q, drain);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    free(w->threads);
    free(w);
}
