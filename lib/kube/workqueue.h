/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_WORKQUEUE_H
#define KACME_KUBE_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A rate-limited work queue with client-go's semantics (k8s.io/client-go/util/workqueue), keyed by strings
 * such as "namespace/name":
 *
 *   - De-duplication: a key that is already queued is not queued twice.
 *   - A key being processed (handed out by get, not yet done) is never handed to a second worker; adding it
 *     meanwhile marks it dirty and it is queued again when done() is called.
 *   - add_after(key, ms) puts the key on a delayed list; it becomes ready at now + ms. Adding a key that is
 *     already waiting keeps the earlier ready time.
 *   - Per-key exponential backoff: add_rate_limited(key) waits base * 2^n (n = failures so far), capped at
 *     max; forget(key) resets n; num_requeues(key) reads n. Defaults 5 s and 30 min (cert-manager's order and
 *     challenge queues).
 *   - shutdown() wakes every getter; adds after shutdown are ignored.
 *
 * Time comes from a monotonic clock in milliseconds (injectable for tests, so backoff arithmetic is tested
 * without sleeping). Delayed keys are promoted by get/len/add themselves: there is no timer thread; a
 * blocked getter waits on a condition variable with a timeout that ends at the earliest ready time.
 *
 * Thread-safe: every function may be called from any thread. Keys are copied; strings returned by get are
 * owned by the caller.
 */

typedef struct kube_workqueue kube_workqueue_t;

/* Monotonic time source in milliseconds. */
typedef int64_t (*kube_clock_fn)(void *ud);

typedef struct kube_workqueue_opts {
    const char *name;        /* for logs; copied; NULL: "workqueue" */
    int64_t base_delay_ms;   /* first backoff step; 0: 5000 */
    int64_t max_delay_ms;    /* backoff cap; 0: 1800000 (30 min) */
    kube_clock_fn clock;     /* NULL: CLOCK_MONOTONIC */
    void *clock_ud;
} kube_workqueue_opts_t;

/* New queue; opts may be NULL for the defaults. NULL on allocation failure. */
kube_workqueue_t *kube_workqueue_new(const kube_workqueue_opts_t *opts);

/* Frees the queue. Call only when no thread uses it any more (after shutdown and joining workers).
 * NULL-safe. */
void kube_workqueue_free(kube_workqueue_t *q);

/* Queues key now (de-duplicated). Returns 0, or -1 on allocation failure or after shutdown. */
int kube_workqueue_add(kube_workqueue_t *q, const char *key);

/* Queues key once delay_ms has passed (delay_ms <= 0: add now). If key is already waiting, the earlier of
 * the two ready times wins. Returns 0 or -1 (allocation failure, shut down). */
int kube_workqueue_add_after(kube_workqueue_t *q, const char *key, int64_t delay_ms);

/* add_after(key, backoff) where backoff = base * 2^failures (capped), then failures++. Returns 0 or -1. */
int kube_workqueue_add_rate_limited(kube_workqueue_t *q, const char *key);

/* Resets key's failure count (call after a successful reconcile). */
void kube_workqueue_forget(kube_workqueue_t *q, const char *key);

/* Number of add_rate_limited calls for key since it was last forgotten. */
int kube_workqueue_num_requeues(kube_workqueue_t *q, const char *key);

/* Blocks until a key is ready or the queue is shut down. Returns 0 with *key_out set (owned by the caller:
 * pass it to done(), then free() it), or -1 once the queue is shut down (and, with drain, empty). */
int kube_workqueue_get(kube_workqueue_t *q, char **key_out);

/* Marks key as no longer being processed; if it was added meanwhile it is queued again. */
void kube_workqueue_done(kube_workqueue_t *q, const char *key);

/* Keys ready to be handed out (the queue depth metric; processing and delayed keys not counted). */
size_t kube_workqueue_len(kube_workqueue_t *q);

/* Keys waiting on the delayed list (not yet ready). */
size_t kube_workqueue_delayed_len(kube_workqueue_t *q);

/* Stops the queue and wakes every getter. drain=false: getters return -1 at once (keys being processed
 * finish normally). drain=true: ready keys are still handed out, then getters return -1. Delayed keys are
 * dropped either way. Idempotent. */
void kube_workqueue_shutdown(kube_workqueue_t *q, bool drain);

/* True once shutdown was called. */
bool kube_workqueue_shutting_down(kube_workqueue_t *q);

/*
 * Worker pool: N threads each looping get → reconcile(key) → act on the result → done.
 *   OK            → forget(key)
 *   ERROR         → add_rate_limited(key)     (exponential backoff)
 *   REQUEUE_AFTER → forget(key), add_after(key, after_ms)   (a planned wait, not a failure)
 * Reconcilers never sleep: every wait is a REQUEUE_AFTER.
 */
typedef enum kube_reconcile_kind {
    KUBE_RECONCILE_OK = 0,
    KUBE_RECONCILE_ERROR = 1,
    KUBE_RECONCILE_REQUEUE_AFTER = 2,
} kube_reconcile_kind_t;

typedef struct kube_reconcile_result {
    kube_reconcile_kind_t kind;
    int64_t after_ms; /* REQUEUE_AFTER only */
} kube_reconcile_result_t;

/* Called from worker threads, concurrently for different keys (never for the same key at once). key is
 * borrowed for the call. */
typedef kube_reconcile_result_t (*kube_reconcile_fn)(void *ud, const char *key);

typedef struct kube_workers kube_workers_t;

/* Starts n (>= 1) worker threads on q. Returns the pool, or NULL with err filled. The queue must outlive
 * the pool. */
kube_workers_t *kube_workers_start(kube_workqueue_t *q, int n, kube_reconcile_fn fn, void *ud, char *err,
                                   size_t errlen);

/* Shuts the queue down (see kube_workqueue_shutdown for drain), waits for every worker to finish its
 * current reconcile, joins them and frees the pool. NULL-safe. */
void kube_workers_stop(kube_workers_t *w, bool drain);

/* Convenience constructors for results. */
static inline kube_reconcile_result_t kube_reconcile_ok(void)
{
    return (kube_reconcile_result_t){KUBE_RECONCILE_OK, 0};
}
static inline kube_reconcile_result_t kube_reconcile_error(void)
{
    return (kube_reconcile_result_t){KUBE_RECONCILE_ERROR, 0};
}
static inline kube_reconcile_result_t kube_reconcile_requeue_after(int64_t ms)
{
    return (kube_reconcile_result_t){KUBE_RECONCILE_REQUEUE_AFTER, ms};
}

#endif
