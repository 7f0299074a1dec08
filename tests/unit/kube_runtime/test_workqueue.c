/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kube/workqueue.h"

/* The fake clock: tests move it by hand, so backoff arithmetic is checked without sleeping. */
static int64_t fake_now;
static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t fake_clock(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&fake_mu);
    int64_t t = fake_now;
    pthread_mutex_unlock(&fake_mu);
    return t;
}

static void fake_set(int64_t t)
{
    pthread_mutex_lock(&fake_mu);
    fake_now = t;
    pthread_mutex_unlock(&fake_mu);
}

static kube_workqueue_t *new_fake_queue(int64_t base, int64_t max)
{
    fake_set(0);
    kube_workqueue_opts_t o = {.name = "test", .base_delay_ms = base, .max_delay_ms = max, .clock = fake_clock};
    kube_workqueue_t *q = kube_workqueue_new(&o);
    assert_non_null(q);
    return q;
}

static void expect_get(kube_workqueue_t *q, const char *want)
{
    char *k = NULL;
    assert_int_equal(kube_workqueue_get(q, &k), 0);
    assert_string_equal(k, want);
    kube_workqueue_done(q, k);
    free(k);
}

static void test_dedup(void **state)
{
    (void)state;
    kube_workqueue_t *q = new_fake_queue(0, 0);
    assert_int_equal(kube_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(kube_workqueue_add(q, "ns/b"), 0);
    assert_int_equal(kube_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(kube_workqueue_len(q), 2);
    expect_get(q, "ns/a");
    expect_get(q, "ns/b");
    assert_int_equal(kube_workqueue_len(q), 0);
    kube_workqueue_free(q);
}

static void test_readd_while_processing(void **state)
{
    (void)state;
    kube_workqueue_t *q = new_fake_queue(0, 0);
    kube_workqueue_add(q, "ns/a");
    char *k = NULL;
    assert_int_equal(kube_workqueue_get(q, &k), 0);
    assert_string_equal(k, "ns/a");
    /* Added twice while processing: not handed out to a second worker, queued once after done. */
    kube_workqueue_add(q, "ns/a");
    kube_workqueue_add(q, "ns/a");
    assert_int_equal(kube_workqueue_len(q), 0);
    kube_workqueue_done(q, k);
    free(k);
    assert_int_equal(kube_workqueue_len(q), 1);
    expect_get(q, "ns/a");
    assert_int_equal(kube_workqueue_len(q), 0);
    kube_workqueue_free(q);
}

/* After add_rate_limited at t0 the key must be invisible at t0+d-1 and ready at t0+d. */
static void expect_delay(kube_workqueue_t *q, const char *key, int64_t d)
{
    int64_t t0 = fake_clock(NULL);
    assert_int_equal(kube_workqueue_add_rate_limited(q, key), 0);
    fake_set(t0 + d - 1);
    assert_int_equal(kube_workqueue_len(q), 0);
    assert_int_equal(kube_workqueue_delayed_len(q), 1);
    fake_set(t0 + d);
    assert_int_equal(kube_workqueue_len(q), 1);
    expect_get(q, key);
}

static void test_backoff_default(void **state)
{
    (void)state;
    kube_workqueue_t *q = new_fake_queue(0, 0); /* defaults: 5 s .. 30 min */
    const int64_t s = 1000;
    int64_t want[] = {5 * s, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 320 * s, 640 * s, 1280 * s, 1800 * s,
                      1800 * s, 1800 * s};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(kube_workqueue_num_requeues(q, "ns/a"), (int)i);
        expect_delay(q, "ns/a", want[i]);
    }
    assert_int_equal(kube_workqueue_num_requeues(q, "ns/a"), 12);
    /* Other keys have their own count. */
    assert_int_equal(kube_workqueue_num_requeues(q, "ns/b"), 0);
    expect_delay(q, "ns/b", 5 * s);
    /* forget resets. */
    kube_workqueue_forget(q, "ns/a");
    assert_int_equal(kube_workqueue_num_requeues(q, "ns/a"), 0);
    expect_delay(q, "ns/a", 5 * s);
    kube_workqueue_free(q);
}

static void test_backoff_configured(void **state)
{
    (void)state;
    kube_workqueue_t *q = new_fake_queue(100, 350);
    expect_delay(q, "k", 100);
    expect_delay(q, "k", 200);
    expect_delay(q, "k", 350);
    expect_delay(q, "k", 350);
    /* Many failures never overflow. */
    for (int i = 0; i < 200; i++)
        expect_delay(q, "k", 350);
    kube_workqueue_free(q);
}

static void test_add_after_ordering(void **state)
{
    (void)state;
    kube_workqueue_t *q = new_fake_queue(0, 0);
    kube_workqueue_add_after(q, "c", 300);
    kube_workqueue_add_after(q, "a", 100);
    kube_workqueue_add_after(q, "b", 200);
    kube_workqueue_add_after(q, "d", 500);
    kube_workqueue_add_after(q, "d", 50); /* the earlier time wins */
    kube_workqueue_add_after(q, "a", 400); /* a later time does not postpone */
    assert_int_equal(kube_workqueue_len(q), 0);
    assert_int_equal(kube_workqueue_delayed_len(q), 4);
    fake_set(99);
    assert_int_equal(kube_workqueue_len(q), 1);
    expect_get(q, "d");
    fake_set(1000);
    expect_get(q, "a");
    expect_get(q, "b");
    expect_get(q, "c");
    assert_int_equal(kube_workqueue_len(q), 0);
    assert_int_equal(kube_workqueue_delayed_len(q), 0);
    /* A delayed key that is also queued now is handed out once. */
    kube_workqueue_add_after(q, "e", 10);
    kube_workqueue_add(q, "e");
    fake_set(2000);
    assert_int_equal(kube_workqueue_len(q), 1);
    expect_get(q, "e");
    assert_int_equal(kube_workqueue_len(q), 0);
    kube_workqueue_free(q);
}

static void test_add_after_real_clock(void **state)
{
    (void)state;
    /* The real monotonic clock: a blocked getter wakes for a delayed key on its own. */
    kube_workqueue_t *q = kube_workqueue_new(NULL);
    assert_non_null(q);
    kube_workqueue_add_after(q, "later", 20);
    kube_workqueue_add_after(q, "sooner", 5);
    expect_get(q, "sooner");
    expect_get(q, "later");
    kube_workqueue_free(q);
}

static void *getter(void *arg)
{
    kube_workqueue_t *q = arg;
    char *k = NULL;
    intptr_t rc = kube_workqueue_get(q, &k);
    free(k);
    return (void *)rc;
}

static void test_shutdown_wakes_getters(void **state)
{
    (void)state;
    kube_workqueue_t *q = new_fake_queue(0, 0);
    kube_workqueue_add_after(q, "x", 1000000); /* a delayed key makes getters use the timed wait */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, getter, q), 0);
    kube_workqueue_shutdown(q, false);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_int_equal((intptr_t)rc, -1);
    }
    assert_true(kube_workqueue_shutting_down(q));
    assert_int_equal(kube_workqueue_add(q, "y"), -1);
    assert_int_equal(kube_workqueue_delayed_len(q), 0);
    kube_workqueue_free(q);
}

static void test_shutdown_drain(void **state)
{
    (void)state;
    kube_workqueue_t *q = new_fake_queue(0, 0);
    kube_workqueue_add(q, "a");
    kube_workqueue_add(q, "b");
    kube_workqueue_shutdown(q, true);
    expect_get(q, "a");
    expect_get(q, "b");
    char *k = NULL;
    assert_int_equal(kube_workqueue_get(q, &k), -1);
    assert_null(k);
    kube_workqueue_free(q);

    q = new_fake_queue(0, 0);
    kube_workqueue_add(q, "a");
    kube_workqueue_shutdown(q, false);
    assert_int_equal(kube_workqueue_get(q, &k), -1);
    kube_workqueue_free(q);
}

/* ---- worker pool ---- */

typedef struct pool_state {
    pthread_mutex_t mu;
    int calls_ok, calls_err, calls_later, calls_poke;
    int concurrent, max_concurrent_same_key;
    bool in_flight_err;
} pool_state_t;

static kube_reconcile_result_t reconcile(void *ud, const char *key)
{
    pool_state_t *s = ud;
    kube_reconcile_result_t r = kube_reconcile_ok();
    pthread_mutex_lock(&s->mu);
    if (strcmp(key, "ns/ok") == 0) {
        s->calls_ok++;
    } else if (strcmp(key, "ns/err") == 0) {
        s->calls_err++;
        r = kube_reconcile_error();
    } else if (strcmp(key, "ns/later") == 0) {
        s->calls_later++;
        r = kube_reconcile_requeue_after(1000);
    } else {
        s->calls_poke++;
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* Waits (bounded, polling every millisecond) until pred holds; no timing is asserted. */
static bool wait_for(bool (*pred)(void *), void *ud)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 30000; i++) {
        if (pred(ud))
            return true;
        nanosleep(&ms, NULL);
    }
    return pred(ud);
}

typedef struct {
    pool_state_t *s;
    kube_workqueue_t *q;
} pool_ctx_t;

static bool first_round_done(void *ud)
{
    pool_ctx_t *c = ud;
    /* Both failing and delayed keys have been put on the delayed list by their workers. */
    return kube_workqueue_delayed_len(c->q) == 2 && kube_workqueue_num_requeues(c->q, "ns/err") == 1;
}

static bool second_round_done(void *ud)
{
    pool_ctx_t *c = ud;
    pthread_mutex_lock(&c->s->mu);
    bool ok = c->s->calls_later >= 2 && c->s->calls_poke >= 1;
    pthread_mutex_unlock(&c->s->mu);
    return ok;
}

static bool third_round_done(void *ud)
{
    pool_ctx_t *c = ud;
    pthread_mutex_lock(&c->s->mu);
    bool ok = c->s->calls_err >= 2;
    pthread_mutex_unlock(&c->s->mu);
    return ok && kube_workqueue_num_requeues(c->q, "ns/err") == 2;
}

static void test_worker_pool(void **state)
{
    (void)state;
    pool_state_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kube_workqueue_t *q = new_fake_queue(0, 0);
    char err[128];
    kube_workers_t *w = kube_workers_start(q, 3, reconcile, &s, err, sizeof(err));
    assert_non_null(w);
    pool_ctx_t c = {&s, q};

    kube_workqueue_add(q, "ns/ok");
    kube_workqueue_add(q, "ns/err");
    kube_workqueue_add(q, "ns/later");
    assert_true(wait_for(first_round_done, &c));
    /* ok was forgotten; err backs off 5 s; later waits 1 s without counting as a failure. */
    assert_int_equal(kube_workqueue_num_requeues(q, "ns/ok"), 0);
    assert_int_equal(kube_workqueue_num_requeues(q, "ns/later"), 0);

    /* 1 s later only "later" is due; a poke wakes a worker at once instead of its timed wait. */
    fake_set(1000);
    kube_workqueue_add(q, "ns/poke");
    assert_true(wait_for(second_round_done, &c));
    pthread_mutex_lock(&s.mu);
    assert_int_equal(s.calls_err, 1);
    pthread_mutex_unlock(&s.mu);

    /* At 5 s the failing key comes back and backs off again (10 s next). */
    fake_set(5000);
    kube_workqueue_add(q, "ns/poke2");
    assert_true(wait_for(third_round_done, &c));

    kube_workers_stop(w, false);
    pthread_mutex_lock(&s.mu);
    assert_int_equal(s.calls_ok, 1);
    pthread_mutex_unlock(&s.mu);
    kube_workqueue_free(q);
}

static void test_worker_pool_bad_args(void **state)
{
    (void)state;
    char err[128];
    kube_workqueue_t *q = new_fake_queue(0, 0);
    assert_null(kube_workers_start(q, 0, reconcile, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "threads"));
    kube_workers_stop(NULL, false);
    kube_workqueue_free(q);
    kube_workqueue_free(NULL);
}

/* Many keys through many workers: every key is processed, none twice at once. */
typedef struct {
    pthread_mutex_t mu;
    int busy[200];
    int seen[200];
    bool overlap;
} stress_t;

static kube_reconcile_result_t stress_reconcile(void *ud, const char *key)
{
    stress_t *s = ud;
    int i = atoi(key + 3);
    pthread_mutex_lock(&s->mu);
    if (s->busy[i]++)
        s->overlap = true;
    s->seen[i]++;
    pthread_mutex_unlock(&s->mu);
    sched_yield();
    pthread_mutex_lock(&s->mu);
    s->busy[i]--;
    pthread_mutex_unlock(&s->mu);
    return kube_reconcile_ok();
}

static bool stress_done(void *ud)
{
    stress_t *s = ud;
    pthread_mutex_lock(&s->mu);
    bool all = true;
    for (int i = 0; i < 200; i++)
        all = all && s->seen[i] >= 1;
    pthread_mutex_unlock(&s->mu);
    return all;
}

static void test_worker_pool_stress(void **state)
{
    (void)state;
    stress_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kube_workqueue_t *q = kube_workqueue_new(NULL);
    char err[128];
    kube_workers_t *w = kube_workers_start(q, 4, stress_reconcile, &s, err, sizeof(err));
    assert_non_null(w);
    char key[32];
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 200; i++) {
            snprintf(key, sizeof(key), "ns/%d", i);
            kube_workqueue_add(q, key);
        }
    assert_true(wait_for(stress_done, &s));
    kube_workers_stop(w, true);
    assert_false(s.overlap);
    kube_workqueue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_readd_while_processing),
        cmocka_unit_test(test_backoff_default),
        cmocka_unit_test(test_backoff_configured),
        cmocka_unit_test(test_add_after_ordering),
        cmocka_unit_test(test_add_after_real_clock),
        cmocka_unit_test(test_shutdown_wakes_getters),
        cmocka_unit_test(test_shutdown_drain),
        cmocka_unit_test(test_worker_pool),
        cmocka_unit_test(test_worker_pool_bad_args),
        cmocka_unit_test(test_worker_pool_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
