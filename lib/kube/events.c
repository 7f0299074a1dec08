/* SPDX-License-Identifier: Apache-2.0 */
#include "kube/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

#define DEFAULT_QUEUE 1000
#define DEFAULT_BURST 25
#define DEFAULT_REFILL_MS 300000
#define DEFAULT_WINDOW_MS 600000
#define CORRELATOR_ENTRIES 4096

/* ---- time formatting ---- */

const char *kube_format_micro_time(int64_t wall_ns, char *buf, size_t len)
{
    time_t s = (time_t)(wall_ns / 1000000000);
    long us = (long)((wall_ns % 1000000000) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, us);
    return buf;
}

const char *kube_format_time(int64_t wall_ns, char *buf, size_t len)
{
    time_t s = (time_t)(wall_ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    return buf;
}

static int64_t wall_ns_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kube_event_truncate_message(const char *msg, char *out, size_t outlen)
{
    size_t max = outlen - 1 < KUBE_EVENT_MAX_MESSAGE ? outlen - 1 : KUBE_EVENT_MAX_MESSAGE;
    size_t n = strnlen(msg, max + 1);
    if (n > max) {
        n = max;
        /* Back up over continuation bytes so that no multi-byte sequence is cut. */
        while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, msg, n);
    out[n] = '\0';
}

/* ---- correlator ---- */

typedef struct corr_entry {
    char *key;           /* uid \x1f type \x1f reason \x1f message */
    char name[320];
    int count;
    int64_t first_wall_ns;
    int64_t last_ms;
} corr_entry_t;

typedef struct corr_bucket {
    char *uid;
    double tokens;
    int64_t last_ms;
} corr_bucket_t;

struct kube_event_correlator {
    int burst;
    int64_t refill_ms, window_ms;
    size_t max;
    corr_entry_t *entries;
    size_t n_entries;
    corr_bucket_t *buckets;
    size_t n_buckets;
};

kube_event_correlator_t *kube_event_correlator_new(int burst, int64_t refill_ms, int64_t window_ms,
                                                   size_t max_entries)
{
    kube_event_correlator_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->burst = burst > 0 ? burst : DEFAULT_BURST;
    c->refill_ms = refill_ms > 0 ? refill_ms : DEFAULT_REFILL_MS;
    c->window_ms = window_ms > 0 ? window_ms : DEFAULT_WINDOW_MS;
    c->max = max_entries ? max_entries : CORRELATOR_ENTRIES;
    c->entries = calloc(c->max, sizeof(*c->entries));
    c->buckets = calloc(c->max, sizeof(*c->buckets));
    if (!c->entries || !c->buckets) {
        kube_event_correlator_free(c);
        return NULL;
    }
    return c;
}

void kube_event_correlator_free(kube_event_correlator_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_entries; i++)
        free(c->entries[i].key);
    for (size_t i = 0; i < c->n_buckets; i++)
        free(c->buckets[i].uid);
    free(c->entries);
    free(c->buckets);
    free(c);
}

static char *corr_key(const char *uid, const char *type, const char *reason, const char *message)
{
    char *k = NULL;
    if (asprintf(&k, "%s\x1f%s\x1f%s\x1f%s", uid, type, reason, message) < 0)
        return NULL;
    return k;
}

/* Linear scans: the tables are bounded (4096) and events are rare next to API calls. */
static corr_entry_t *entry_find(kube_event_correlator_t *c, const char *key)
{
    for (size_t i = 0; i < c->n_entries; i++)
        if (strcmp(c->entries[i].key, key) == 0)
            return &c->entries[i];
    return NULL;
}

static void entry_remove(kube_event_correlator_t *c, corr_entry_t *e)
{
    free(e->key);
    *e = c->entries[--c->n_entries];
    memset(&c->entries[c->n_entries], 0, sizeof(*e));
}

static corr_bucket_t *bucket_get(kube_event_correlator_t *c, const char *uid, int64_t now_ms)
{
    for (size_t i = 0; i < c->n_buckets; i++)
        if (strcmp(c->buckets[i].uid, uid) == 0)
            return &c->buckets[i];
    char *u = strdup(uid);
    if (!u)
        return NULL;
    size_t slot = c->n_buckets;
    if (slot == c->max) {
        /* Evict the bucket idle longest; it would be nearly full again anyway. */
        slot = 0;
        for (size_t i = 1; i < c->n_buckets; i++)
            if (c->buckets[i].last_ms < c->buckets[slot].last_ms)
                slot = i;
        free(c->buckets[slot].uid);
    } else {
        c->n_buckets++;
    }
    c->buckets[slot] = (corr_bucket_t){u, (double)c->burst, now_ms};
    return &c->buckets[slot];
}

void kube_event_correlate(kube_event_correlator_t *c, const char *uid, const char *obj_name, const char *type,
                          const char *reason, const char *message, int64_t now_ms, int64_t wall_ns,
                          kube_event_decision_t *out)
{
    memset(out, 0, sizeof(*out));
    /* Spam filter first, as client-go does: every event about an object costs a token. */
    corr_bucket_t *b = bucket_get(c, uid, now_ms);
    if (b) {
        if (now_ms > b->last_ms) {
            b->tokens += (double)(now_ms - b->last_ms) / (double)c->refill_ms;
            if (b->tokens > c->burst)
                b->tokens = c->burst;
            b->last_ms = now_ms;
        }
        if (b->tokens < 1.0) {
            out->action = KUBE_EVENT_DROP;
            return;
        }
        b->tokens -= 1.0;
    }
    char *key = corr_key(uid, type, reason, message);
    corr_entry_t *e = key ? entry_find(c, key) : NULL;
    if (e && now_ms - e->last_ms <= c->window_ms) {
        e->count++;
        e->last_ms = now_ms;
        out->action = KUBE_EVENT_PATCH;
        snprintf(out->name, sizeof(out->name), "%s", e->name);
        out->count = e->count;
        out->first_wall_ns = e->first_wall_ns;
        free(key);
        return;
    }
    out->action = KUBE_EVENT_CREATE;
    out->count = 1;
    out->first_wall_ns = wall_ns;
    /* client-go: "<name>.<unix nanoseconds in hex>"; names are at most 253 bytes. */
    snprintf(out->name, sizeof(out->name), "%.200s.%llx", obj_name, (unsigned long long)wall_ns);
    if (!key)
        return;
    if (!e) {
        if (c->n_entries == c->max) {
            size_t old = 0;
            for (size_t i = 1; i < c->n_entries; i++)
                if (c->entries[i].last_ms < c->entries[old].last_ms)
                    old = i;
            entry_remove(c, &c->entries[old]);
        }
        e = &c->entries[c->n_entries++];
        e->key = key;
    } else {
        free(key); /* an expired entry is reused for the new Event */
    }
    snprintf(e->name, sizeof(e->name), "%s", out->name);
    e->count = 1;
    e->first_wall_ns = wall_ns;
    e->last_ms = now_ms;
}

void kube_event_correlator_forget(kube_event_correlator_t *c, const char *uid, const char *type,
                                  const char *reason, const char *message)
{
    char *key = corr_key(uid, type, reason, message);
    if (!key)
        return;
    corr_entry_t *e = entry_find(c, key);
    if (e)
        entry_remove(c, e);
    free(key);
}

/* ---- building ---- */

static const char *get_str(json_object *o, const char *k)
{
    json_object *v; /* borrowed */
    if (o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static void put_str(json_object *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_object_add(o, k, json_object_new_string(v));
}

/* An ObjectReference (owned) for a full object or a reference; NULL when there is no name. */
static json_object *make_ref(json_object *obj)
{
    json_object *meta = NULL; /* borrowed */
    json_object *src = obj;
    if (obj && json_object_object_get_ex(obj, "metadata", &meta) && json_object_is_type(meta, json_type_object))
        src = meta;
    const char *name = get_str(src, "name");
    if (!name || !*name)
        return NULL;
    json_object *ref = json_object_new_object();
    if (!ref)
        return NULL;
    put_str(ref, "apiVersion", get_str(obj, "apiVersion"));
    put_str(ref, "kind", get_str(obj, "kind"));
    put_str(ref, "namespace", get_str(src, "namespace"));
    put_str(ref, "name", name);
    put_str(ref, "uid", get_str(src, "uid"));
    put_str(ref, "resourceVersion", get_str(src, "resourceVersion"));
    return ref;
}

json_object *kube_event_build(json_object *refobj, const char *component, const char *host, const char *type,
                              const char *reason, const char *message, const kube_event_decision_t *d)
{
    char first[40], last[40];
    json_object *ref = make_ref(refobj); /* owned until added to ev */
    if (!ref)
        return NULL;
    const char *ns = get_str(ref, "namespace");
    json_object *ev = json_object_new_object();
    json_object *meta = json_object_new_object();
    json_object *source = json_object_new_object();
    if (!ev || !meta || !source) {
        json_object_put(ev);
        json_object_put(meta);
        json_object_put(source);
        json_object_put(ref);
        return NULL;
    }
    json_object_object_add(ev, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(ev, "kind", json_object_new_string("Event"));
    json_object_object_add(meta, "name", json_object_new_string(d->name));
    /* Events about cluster-scoped objects go to "default", like client-go. */
    json_object_object_add(meta, "namespace", json_object_new_string(ns && *ns ? ns : "default"));
    json_object_object_add(ev, "metadata", meta);
    json_object_object_add(ev, "involvedObject", ref);
    json_object_object_add(ev, "type", json_object_new_string(type));
    json_object_object_add(ev, "reason", json_object_new_string(reason));
    json_object_object_add(ev, "message", json_object_new_string(message));
    put_str(source, "component", component);
    put_str(source, "host", host);
    json_object_object_add(ev, "source", source);
    json_object_object_add(ev, "firstTimestamp",
                           json_object_new_string(kube_format_time(d->first_wall_ns, first, sizeof(first))));
    json_object_object_add(ev, "lastTimestamp",
                           json_object_new_string(kube_format_time(wall_ns_now(), last, sizeof(last))));
    json_object_object_add(ev, "count", json_object_new_int(d->count));
    put_str(ev, "reportingComponent", component);
    put_str(ev, "reportingInstance", host);
    return ev;
}

/* ---- the recorder ---- */

typedef struct pending {
    json_object *ref; /* owned ObjectReference */
    char type[16];
    char reason[128];
    char message[KUBE_EVENT_MAX_MESSAGE + 1];
} pending_t;

struct kube_event_recorder {
    kube_client_t *client;
    char *component, *host;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work arrived / stop */
    pthread_cond_t idle_cv; /* queue drained */
    pending_t *ring;
    size_t cap, head, len;
    bool busy, stop;
    pthread_t thread;
    bool thread_started;
    kube_event_correlator_t *corr;
    kube_event_stats_t stats;
};

static void send_one(kube_event_recorder_t *r, pending_t *p)
{
    const char *uid = get_str(p->ref, "uid");
    const char *name = get_str(p->ref, "name");
    const char *ns = get_str(p->ref, "namespace");
    kube_event_decision_t d;
    kube_error_t e;
    char ebuf[600];
    if (!ns || !*ns)
        ns = "default";
    for (int attempt = 0; attempt < 2; attempt++) {
        kube_event_correlate(r->corr, uid, name, p->type, p->reason, p->message, mono_ms_now(), wall_ns_now(), &d);
        if (d.action == KUBE_EVENT_DROP) {
            pthread_mutex_lock(&r->mu);
            r->stats.dropped_spam++;
            pthread_mutex_unlock(&r->mu);
            LOG_V(4, "event dropped by the per-object rate cap", "object", name, "reason", p->reason);
            return;
        }
        if (d.action == KUBE_EVENT_PATCH) {
            char ts[40];
            json_object *patch = json_object_new_object(); /* owned */
            json_object_object_add(patch, "count", json_object_new_int(d.count));
            json_object_object_add(patch, "lastTimestamp",
                                   json_object_new_string(kube_format_time(wall_ns_now(), ts, sizeof(ts))));
            kube_patch_opts_t po = {.type = KUBE_PATCH_MERGE};
            int rc = kube_patch(r->client, &KUBE_RES_EVENTS, ns, d.name, &po, patch, NULL, &e);
            json_object_put(patch);
            if (rc == 0) {
                pthread_mutex_lock(&r->mu);
                r->stats.patched++;
                pthread_mutex_unlock(&r->mu);
                return;
            }
            /* The Event expired or was deleted: start a new one. Other errors: give up on this event. */
            kube_event_correlator_forget(r->corr, uid, p->type, p->reason, p->message);
            if (e.type == KUBE_ERR_NOT_FOUND)
                continue;
            break;
        }
        json_object *ev = kube_event_build(p->ref, r->component, r->host, p->type, p->reason, p->message, &d);
        int rc = ev ? kube_create(r->client, &KUBE_RES_EVENTS, ns, ev, NULL, &e) : -1;
        json_object_put(ev);
        if (rc == 0) {
            pthread_mutex_lock(&r->mu);
            r->stats.created++;
            pthread_mutex_unlock(&r->mu);
            return;
        }
        if (!ev)
            kube_error_set(&e, KUBE_ERR_OTHER, "cannot build event");
        kube_event_correlator_forget(r->corr, uid, p->type, p->reason, p->message);
        break;
    }
    pthread_mutex_lock(&r->mu);
    r->stats.failed++;
    pthread_mutex_unlock(&r->mu);
    LOG_WARN("cannot record event", "object", name, "reason", p->reason,
             "error", kube_error_str(&e, ebuf, sizeof(ebuf)));
}

static void *sender_main(void *arg)
{
    kube_event_recorder_t *r = arg;
    pending_t p;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && r->len == 0) {
            r->busy = false;
            pthread_cond_broadcast(&r->idle_cv);
            pthread_cond_wait(&r->cv, &r->mu);
        }
        if (r->stop)
            break;
        p = r->ring[r->head];
        r->ring[r->head].ref = NULL;
        r->head = (r->head + 1) % r->cap;
        r->len--;
        r->busy = true;
        pthread_mutex_unlock(&r->mu);
        send_one(r, &p);
        json_object_put(p.ref);
        pthread_mutex_lock(&r->mu);
    }
    r->busy = false;
    pthread_cond_broadcast(&r->idle_cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

kube_event_recorder_t *kube_event_recorder_new(kube_client_t *client, const kube_event_recorder_opts_t *opts,
                                               char *err, size_t errlen)
{
    if (!client || !opts || !opts->component || !*opts->component) {
        snprintf(err, errlen, "event recorder: need a client and a component name");
        return NULL;
    }
    kube_event_recorder_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->client = client;
    r->cap = opts->queue_size ? opts->queue_size : DEFAULT_QUEUE;
    r->component = strdup(opts->component);
    r->host = opts->host ? strdup(opts->host) : NULL;
    r->ring = calloc(r->cap, sizeof(*r->ring));
    r->corr = kube_event_correlator_new(opts->burst, opts->refill_ms, opts->aggregate_window_ms, 0);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_cond_init(&r->idle_cv, NULL);
    if (!r->component || (opts->host && !r->host) || !r->ring || !r->corr) {
        snprintf(err, errlen, "out of memory");
        kube_event_recorder_free(r);
        return NULL;
    }
    int e = pthread_create(&r->thread, NULL, sender_main, r);
    if (e != 0) {
        snprintf(err, errlen, "event recorder: pthread_create: %s", strerror(e));
        kube_event_recorder_free(r);
        return NULL;
    }
    r->thread_started = true;
    return r;
}

void kube_event_recorder_free(kube_event_recorder_t *r)
{
    if (!r)
        return;
    if (r->thread_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    if (r->len)
        LOG_V(2, "event recorder stopped with events queued");
    for (size_t i = 0; r->ring && i < r->len; i++)
        json_object_put(r->ring[(r->head + i) % r->cap].ref);
    free(r->ring);
    kube_event_correlator_free(r->corr);
    free(r->component);
    free(r->host);
    pthread_cond_destroy(&r->cv);
    pthread_cond_destroy(&r->idle_cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void kube_event_record(kube_event_recorder_t *r, json_object *object, const char *type, const char *reason,
                       const char *fmt, ...)
{
    if (!r || !type || !reason || !fmt)
        return;
    json_object *ref = make_ref(object); /* owned; moves into the queue */
    if (!ref || !get_str(ref, "uid")) {
        LOG_V(2, "event not recorded: object without name or uid", "reason", reason);
        json_object_put(ref);
        return;
    }
    pending_t p = {.ref = ref};
    char full[KUBE_EVENT_MAX_MESSAGE * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(full, sizeof(full), fmt, ap);
    va_end(ap);
    kube_event_truncate_message(full, p.message, sizeof(p.message));
    snprintf(p.type, sizeof(p.type), "%s", type);
    snprintf(p.reason, sizeof(p.reason), "%s", reason);

    pthread_mutex_lock(&r->mu);
    if (r->stop || r->len == r->cap) {
        r->stats.dropped_queue_full++;
        pthread_mutex_unlock(&r->mu);
        json_object_put(ref);
        return;
    }
    r->ring[(r->head + r->len) % r->cap] = p;
    r->len++;
    r->stats.queued++;
    r->busy = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int kube_event_recorder_flush(kube_event_recorder_t *r, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    while ((r->len > 0 || r->busy) && !r->stop)
        if (pthread_cond_timedwait(&r->idle_cv, &r->mu, &ts) == ETIMEDOUT) {
            rc = (r->len > 0 || r->busy) ? -1 : 0;
            break;
        }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void kube_event_recorder_stats(kube_event_recorder_t *r, kube_event_stats_t *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
}
