/* SPDX-License-Identifier: Apache-2.0 */
#include "kube/leader.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "kube/events.h"
#include "kube/object.h"
#include "util/log.h"

#define DEFAULT_LEASE_MS 60000
#define DEFAULT_RENEW_MS 40000
#define DEFAULT_RETRY_MS 15000
#define DEFAULT_HEALTHZ_TIMEOUT_MS 20000 /* cert-manager's --internal-healthz-leader-election-timeout */
#define MANAGED_BY_LABEL "app.kubernetes.io/managed-by"

struct kube_leader {
    kube_client_t *client;
    char *name, *ns, *identity;
    int64_t lease_ms, renew_ms, retry_ms, healthz_timeout_ms;
    void (*on_started)(void *);
    void (*on_stopped)(void *);
    void (*on_new_leader)(void *, const char *);
    void *ud;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, leading, lost;
    int64_t last_renew_ms;
    pthread_t thread;
    uint64_t rng;

    /* elector thread only */
    kube_lease_record_t observed;
    char observed_rv[64];
    int64_t observed_ms;
    bool have_observed;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- records ---- */

static int jint(json_object *o, const char *k)
{
    json_object *v; /* borrowed */
    if (o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int))
        return json_object_get_int(v);
    return 0;
}

static json_object *jobj(json_object *o, const char *k)
{
    json_object *v; /* borrowed */
    if (o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_object))
        return v;
    return NULL;
}

void kube_lease_record_parse(json_object *lease, kube_lease_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    json_object *spec = jobj(lease, "spec"); /* borrowed */
    const char *s;
    if ((s = kube_obj_str(spec, "holderIdentity")))
        snprintf(rec->holder, sizeof(rec->holder), "%s", s);
    if ((s = kube_obj_str(spec, "acquireTime")))
        snprintf(rec->acquire_time, sizeof(rec->acquire_time), "%s", s);
    if ((s = kube_obj_str(spec, "renewTime")))
        snprintf(rec->renew_time, sizeof(rec->renew_time), "%s", s);
    rec->duration_s = jint(spec, "leaseDurationSeconds");
    rec->transitions = jint(spec, "leaseTransitions");
}

int kube_lease_record_apply(json_object *lease, const kube_lease_record_t *rec)
{
    json_object *spec = jobj(lease, "spec"); /* borrowed */
    if (!spec) {
        spec = json_object_new_object();
        if (!spec || json_object_object_add(lease, "spec", spec) != 0)
            return -1;
    }
    json_object_object_add(spec, "holderIdentity", json_object_new_string(rec->holder));
    json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(rec->duration_s));
    json_object_object_add(spec, "leaseTransitions", json_object_new_int(rec->transitions));
    if (rec->acquire_time[0])
        json_object_object_add(spec, "acquireTime", json_object_new_string(rec->acquire_time));
    if (rec->renew_time[0])
        json_object_object_add(spec, "renewTime", json_object_new_string(rec->renew_time));
    return 0;
}

bool kube_lease_can_acquire(const kube_lease_record_t *rec, const char *me, int64_t observed_ms, int64_t now_ms)
{
    if (!rec->holder[0] || strcmp(rec->holder, me) == 0)
        return true;
    return observed_ms + (int64_t)rec->duration_s * 1000 <= now_ms;
}

/* ---- one round ---- */

enum round_result { ROUND_OK, ROUND_FAIL, ROUND_HELD_BY_OTHER };

static void set_label(json_object *lease)
{
    json_object *meta = jobj(lease, "metadata"); /* borrowed */
    if (!meta)
        return;
    json_object *labels = jobj(meta, "labels"); /* borrowed */
    if (!labels) {
        labels = json_object_new_object();
        json_object_object_add(meta, "labels", labels);
    }
    if (!kube_obj_str(labels, MANAGED_BY_LABEL))
        json_object_object_add(labels, MANAGED_BY_LABEL, json_object_new_string("kacme"));
}

/* Remembers what we saw; the expiry clock restarts whenever the record changes. */
static void observe(kube_leader_t *l, const kube_lease_record_t *rec, const char *rv, int64_t now)
{
    bool changed = !l->have_observed || strcmp(rec->holder, l->observed.holder) != 0 ||
                   strcmp(rec->renew_time, l->observed.renew_time) != 0 || strcmp(rv ? rv : "", l->observed_rv) != 0;
    if (!changed)
        return;
    bool new_holder = !l->have_observed || strcmp(rec->holder, l->observed.holder) != 0;
    l->observed = *rec;
    snprintf(l->observed_rv, sizeof(l->observed_rv), "%s", rv ? rv : "");
    l->observed_ms = now;
    l->have_observed = true;
    if (new_holder) {
        LOG_V(1, "lease holder observed", "lease", l->name, "holder", rec->holder);
        if (l->on_new_leader)
            l->on_new_leader(l->ud, rec->holder);
    }
}

static enum round_result try_acquire_or_renew(kube_leader_t *l)
{
    kube_error_t e;
    char ebuf[600], now_s[40];
    json_object *lease = NULL, *out = NULL; /* owned */
    enum round_result res = ROUND_FAIL;
    kube_lease_record_t rec;
    int64_t now = mono_ms();
    kube_format_micro_time(wall_ns(), now_s, sizeof(now_s));

    if (kube_get(l->client, &KUBE_RES_LEASES, l->ns, l->name, &lease, &e) != 0) {
        if (e.type != KUBE_ERR_NOT_FOUND) {
            LOG_V(1, "cannot read lease", "lease", l->name, "error", kube_error_str(&e, ebuf, sizeof(ebuf)));
            goto out;
        }
        /* No Lease yet: create it, holding it. */
        lease = json_object_new_object();
        json_object *meta = json_object_new_object(); /* moves into lease */
        if (!lease || !meta) {
            json_object_put(meta);
            goto out;
        }
        json_object_object_add(lease, "apiVersion", json_object_new_string("coordination.k8s.io/v1"));
        json_object_object_add(lease, "kind", json_object_new_string("Lease"));
        json_object_object_add(meta, "name", json_object_new_string(l->name));
        json_object_object_add(meta, "namespace", json_object_new_string(l->ns));
        json_object_object_add(lease, "metadata", meta);
        set_label(lease);
        memset(&rec, 0, sizeof(rec));
        snprintf(rec.holder, sizeof(rec.holder), "%s", l->identity);
        rec.duration_s = (int)((l->lease_ms + 999) / 1000);
        snprintf(rec.acquire_time, sizeof(rec.acquire_time), "%s", now_s);
        snprintf(rec.renew_time, sizeof(rec.renew_time), "%s", now_s);
        kube_lease_record_apply(lease, &rec);
        if (kube_create(l->client, &KUBE_RES_LEASES, l->ns, lease, &out, &e) != 0) {
            /* AlreadyExists: another contender was quicker; we will see its record next round. */
            LOG_V(1, "cannot create lease", "lease", l->name, "error", kube_error_str(&e, ebuf, sizeof(ebuf)));
            goto out;
        }
        observe(l, &rec, kube_obj_str(jobj(out, "metadata"), "resourceVersion"), now);
        res = ROUND_OK;
        goto out;
    }

    kube_lease_record_parse(lease, &rec);
    observe(l, &rec, kube_obj_str(jobj(lease, "metadata"), "resourceVersion"), now);
    if (!kube_lease_can_acquire(&rec, l->identity, l->observed_ms, now)) {
        res = ROUND_HELD_BY_OTHER;
        goto out;
    }
    kube_lease_record_t next = rec;
    snprintf(next.holder, sizeof(next.holder), "%s", l->identity);
    next.duration_s = (int)((l->lease_ms + 999) / 1000);
    snprintf(next.renew_time, sizeof(next.renew_time), "%s", now_s);
    if (strcmp(rec.holder, l->identity) != 0) {
        snprintf(next.acquire_time, sizeof(next.acquire_time), "%s", now_s);
        next.transitions = rec.transitions + 1;
    }
    set_label(lease);
    kube_lease_record_apply(lease, &next);
    /* The object still carries the resourceVersion we read: a concurrent writer makes this a Conflict. */
    if (kube_update(l->client, &KUBE_RES_LEASES, l->ns, l->name, NULL, lease, &out, &e) != 0) {
        LOG_V(1, "cannot update lease", "lease", l->name, "error", kube_error_str(&e, ebuf, sizeof(ebuf)));
        goto out;
    }
    observe(l, &next, kube_obj_str(jobj(out, "metadata"), "resourceVersion"), now);
    res = ROUND_OK;
out:
    json_object_put(lease);
    json_object_put(out);
    return res;
}

/* Gives the Lease up so that a contender takes over at once. One attempt. */
static void release(kube_leader_t *l)
{
    kube_error_t e;
    char ebuf[600], now_s[40];
    json_object *lease = NULL; /* owned */
    kube_lease_record_t rec;
    if (kube_get(l->client, &KUBE_RES_LEASES, l->ns, l->name, &lease, &e) != 0) {
        LOG_WARN("cannot release lease", "lease", l->name, "error", kube_error_str(&e, ebuf, sizeof(ebuf)));
        return;
    }
    kube_lease_record_parse(lease, &rec);
    if (strcmp(rec.holder, l->identity) == 0) {
        kube_format_micro_time(wall_ns(), now_s, sizeof(now_s));
        rec.holder[0] = '\0';
        rec.duration_s = 1;
        snprintf(rec.acquire_time, sizeof(rec.acquire_time), "%s", now_s);
        snprintf(rec.renew_time, sizeof(rec.renew_time), "%s", now_s);
        kube_lease_record_apply(lease, &rec);
        if (kube_update(l->client, &KUBE_RES_LEASES, l->ns, l->name, NULL, lease, NULL, &e) != 0)
            LOG_WARN("cannot release lease", "lease", l->name, "error", kube_error_str(&e, ebuf, sizeof(ebuf)));
        else
            LOG_INFO("released leader lease", "lease", l->name, "identity", l->identity);
    }
    json_object_put(lease);
}

/* Waits up to ms or until stop; returns true when stopping. */
static bool wait_or_stop(kube_leader_t *l, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&l->mu);
    while (!l->stop)
        if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT)
            break;
    bool s = l->stop;
    pthread_mutex_unlock(&l->mu);
    return s;
}

static int64_t jittered(kube_leader_t *l, int64_t ms)
{
    /* xorshift64: jitter only needs to de-synchronise contenders. */
    l->rng ^= l->rng << 13;
    l->rng ^= l->rng >> 7;
    l->rng ^= l->rng << 17;
    return ms + (int64_t)(l->rng % (uint64_t)(ms / 5 + 1));
}

static void *elector_main(void *arg)
{
    kube_leader_t *l = arg;
    bool leading = false;
    LOG_INFO("attempting to acquire leader lease", "lease", l->name, "namespace", l->ns, "identity", l->identity);
    for (;;) {
        pthread_mutex_lock(&l->mu);
        bool stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        enum round_result r = try_acquire_or_renew(l);
        int64_t now = mono_ms();
        if (!leading) {
            if (r == ROUND_OK) {
                leading = true;
                pthread_mutex_lock(&l->mu);
                l->leading = true;
                l->last_renew_ms = now;
                pthread_mutex_unlock(&l->mu);
                LOG_INFO("successfully acquired lease", "lease", l->name, "identity", l->identity);
                if (l->on_started)
                    l->on_started(l->ud);
                if (wait_or_stop(l, l->retry_ms))
                    break;
            } else if (wait_or_stop(l, jittered(l, l->retry_ms))) {
                break;
            }
            continue;
        }
        pthread_mutex_lock(&l->mu);
        if (r == ROUND_OK)
            l->last_renew_ms = now;
        bool lost = r == ROUND_HELD_BY_OTHER || now - l->last_renew_ms >= l->renew_ms;
        if (lost) {
            l->leading = false;
            l->lost = true;
        }
        pthread_mutex_unlock(&l->mu);
        if (lost) {
            LOG_ERROR("leader election lost", "lease", l->name, "identity", l->identity,
                      "reason", r == ROUND_HELD_BY_OTHER ? "held by another" : "renew deadline passed");
            leading = false;
            if (l->on_stopped)
                l->on_stopped(l->ud);
            return NULL;
        }
        /* After a failed renewal retry sooner, so the deadline gets several tries. */
        if (wait_or_stop(l, r == ROUND_OK ? l->retry_ms : (l->retry_ms + 1) / 2))
            break;
    }
    if (leading) {
        release(l);
        pthread_mutex_lock(&l->mu);
        l->leading = false;
        pthread_mutex_unlock(&l->mu);
    }
    return NULL;
}

static char *default_identity(void)
{
    char host[256] = "unknown";
    unsigned char rnd[8];
    char *id = NULL;
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        uint64_t t = (uint64_t)wall_ns() ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &t, sizeof(rnd));
    }
    if (asprintf(&id, "%.200s_%02x%02x%02x%02x%02x%02x%02x%02x", host, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                 rnd[5], rnd[6], rnd[7]) < 0)
        return NULL;
    return id;
}

kube_leader_t *kube_leader_start(kube_client_t *client, const kube_leader_opts_t *o, char *err, size_t errlen)
{
    if (!client || !o || !o->name || !*o->name || !o->namespace || !*o->namespace) {
        snprintf(err, errlen, "leader election: need a client, a lease name and a namespace");
        return NULL;
    }
    int64_t lease = o->lease_duration_ms > 0 ? o->lease_duration_ms : DEFAULT_LEASE_MS;
    int64_t renew = o->renew_deadline_ms > 0 ? o->renew_deadline_ms : DEFAULT_RENEW_MS;
    int64_t retry = o->retry_period_ms > 0 ? o->retry_period_ms : DEFAULT_RETRY_MS;
    if (o->healthz_timeout_ms < 0) {
        snprintf(err, errlen, "leader election: negative healthz timeout (%lld ms)", (long long)o->healthz_timeout_ms);
        return NULL;
    }
    int64_t healthz = o->healthz_timeout_ms > 0 ? o->healthz_timeout_ms : DEFAULT_HEALTHZ_TIMEOUT_MS;
    if (!(renew < lease) || !(retry < renew) || lease < 1000) {
        snprintf(err, errlen,
                 "leader election: need retry period (%lld ms) < renew deadline (%lld ms) < lease duration "
                 "(%lld ms), lease >= 1 s",
                 (long long)retry, (long long)renew, (long long)lease);
        return NULL;
    }
    kube_leader_t *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->client = client;
    l->name = strdup(o->name);
    l->ns = strdup(o->namespace);
    l->identity = o->identity && *o->identity ? strdup(o->identity) : default_identity();
    l->lease_ms = lease;
    l->renew_ms = renew;
    l->retry_ms = retry;
    l->healthz_timeout_ms = healthz;
    l->on_started = o->on_started_leading;
    l->on_stopped = o->on_stopped_leading;
    l->on_new_leader = o->on_new_leader;
    l->ud = o->ud;
    l->rng = (uint64_t)wall_ns() | 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!l->name || !l->ns || !l->identity) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    int e = pthread_create(&l->thread, NULL, elector_main, l);
    if (e != 0) {
        snprintf(err, errlen, "leader election: pthread_create: %s", strerror(e));
        goto fail;
    }
    return l;
fail:
    free(l->name);
    free(l->ns);
    free(l->identity);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return NULL;
}

void kube_leader_stop(kube_leader_t *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    free(l->name);
    free(l->ns);
    free(l->identity);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

bool kube_leader_is_leader(kube_leader_t *l)
{
    pthread_mutex_lock(&l->mu);
    bool v = l->leading;
    pthread_mutex_unlock(&l->mu);
    return v;
}

bool kube_leader_lost(kube_leader_t *l)
{
    pthread_mutex_lock(&l->mu);
    bool v = l->lost;
    pthread_mutex_unlock(&l->mu);
    return v;
}

const char *kube_leader_identity(kube_leader_t *l)
{
    return l->identity;
}

bool kube_leader_renewal_overdue(int64_t since_renew_ms, int64_t lease_ms, int64_t timeout_ms)
{
    return since_renew_ms > lease_ms + timeout_ms;
}

int kube_leader_health_check(void *ud, char *reason, size_t reasonlen)
{
    kube_leader_t *l = ud;
    if (!l)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    int64_t since = mono_ms() - l->last_renew_ms;
    if (l->lost) {
        snprintf(reason, reasonlen, "leadership lost");
        rc = -1;
    } else if (l->leading && kube_leader_renewal_overdue(since, l->lease_ms, l->healthz_timeout_ms)) {
        snprintf(reason, reasonlen, "lease not renewed for %llds", (long long)(since / 1000));
        rc = -1;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}
