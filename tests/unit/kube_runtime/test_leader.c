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

#include "fake_apiserver.h"
#include "kube/config.h"
#include "kube/leader.h"
#include "kube/rest.h"
#include "util/http.h"

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kacme-test"

/* ---- pure part ---- */

static void test_can_acquire(void **state)
{
    (void)state;
    kube_lease_record_t r = {.duration_s = 60};
    assert_true(kube_lease_can_acquire(&r, "me", 0, 0)); /* empty holder: released */
    snprintf(r.holder, sizeof(r.holder), "me");
    assert_true(kube_lease_can_acquire(&r, "me", 0, 0));
    snprintf(r.holder, sizeof(r.holder), "other");
    /* Observed at t=10 s: valid until 70 s on our clock. */
    assert_false(kube_lease_can_acquire(&r, "me", 10000, 10000));
    assert_false(kube_lease_can_acquire(&r, "me", 10000, 69999));
    assert_true(kube_lease_can_acquire(&r, "me", 10000, 70000));
    /* A released lease (duration 1) is free at once anyway through its empty holder; a short duration
     * expires early. */
    r.duration_s = 1;
    assert_true(kube_lease_can_acquire(&r, "me", 10000, 11000));
}

/* --internal-healthz-leader-election-timeout: the slack past the lease duration before /livez fails. */
static void test_renewal_overdue(void **state)
{
    (void)state;
    assert_false(kube_leader_renewal_overdue(80000, 60000, 20000));
    assert_true(kube_leader_renewal_overdue(80001, 60000, 20000));
    assert_false(kube_leader_renewal_overdue(65000, 60000, 5000));
    assert_true(kube_leader_renewal_overdue(65001, 60000, 5000));
}

static void test_record_roundtrip(void **state)
{
    (void)state;
    json_object *lease = json_tokener_parse(
        "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"l\"},"
        "\"spec\":{\"holderIdentity\":\"a_1\",\"leaseDurationSeconds\":15,\"acquireTime\":"
        "\"2026-11-29T19:00:00.000000Z\",\"renewTime\":\"2026-11-29T19:00:10.000000Z\",\"leaseTransitions\":3}}");
    kube_lease_record_t r;
    kube_lease_record_parse(lease, &r);
    assert_string_equal(r.holder, "a_1");
    assert_int_equal(r.duration_s, 15);
    assert_int_equal(r.transitions, 3);
    assert_string_equal(r.acquire_time, "2026-11-29T19:00:00.000000Z");
    assert_string_equal(r.renew_time, "2026-11-29T19:00:10.000000Z");
    r.transitions = 4;
    r.holder[0] = '\0';
    assert_int_equal(kube_lease_record_apply(lease, &r), 0);
    kube_lease_record_t back;
    kube_lease_record_parse(lease, &back);
    assert_int_equal(back.transitions, 4);
    assert_string_equal(back.holder, "");
    json_object_put(lease);

    json_object *empty = json_object_new_object();
    kube_lease_record_parse(empty, &back);
    assert_string_equal(back.holder, "");
    assert_int_equal(kube_lease_record_apply(empty, &r), 0);
    json_object_put(empty);
}

/* ---- against the fake API server ---- */

typedef struct contender {
    pthread_mutex_t mu;
    int started, stopped;
} contender_t;

static void on_started(void *ud)
{
    contender_t *c = ud;
    pthread_mutex_lock(&c->mu);
    c->started++;
    pthread_mutex_unlock(&c->mu);
}

static void on_stopped(void *ud)
{
    contender_t *c = ud;
    pthread_mutex_lock(&c->mu);
    c->stopped++;
    pthread_mutex_unlock(&c->mu);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls pred every 10 ms for at most 20 s (a bound against hangs, not a timing assertion). */
static bool wait_for(bool (*pred)(void *), void *ud)
{
    struct timespec ts = {0, 10000000};
    for (int i = 0; i < 2000; i++) {
        if (pred(ud))
            return true;
        nanosleep(&ts, NULL);
    }
    return pred(ud);
}

typedef struct {
    kube_leader_t *a, *b;
} pair_t;

static bool one_leads(void *ud)
{
    pair_t *p = ud;
    return (p->a && kube_leader_is_leader(p->a)) || (p->b && kube_leader_is_leader(p->b));
}

static bool b_leads(void *ud)
{
    return kube_leader_is_leader(((pair_t *)ud)->b);
}

static bool a_lost(void *ud)
{
    return kube_leader_lost(((pair_t *)ud)->a);
}

/* The loss is published before the elector's thread calls on_stopped_leading: wait for the call. */
static bool stopped_once(void *ud)
{
    contender_t *c = ud;
    pthread_mutex_lock(&c->mu);
    bool once = c->stopped == 1;
    pthread_mutex_unlock(&c->mu);
    return once;
}

static kube_client_t *client_for(fake_api_t *f)
{
    kube_config_t cfg = {.server = (char *)fake_api_url(f), .source = (char *)"test"};
    kube_client_opts_t o = {.component = "leader-test", .qps = 1000, .burst = 1000, .timeout_ms = 1000};
    char err[256];
    kube_client_t *c = kube_client_new(&cfg, &o, err, sizeof(err));
    if (!c)
        fprintf(stderr, "client: %s\n", err);
    assert_non_null(c);
    return c;
}

static kube_leader_opts_t opts_for(const char *id, contender_t *c)
{
    kube_leader_opts_t o = {
        .name = "kacme-test",
        .namespace = "kube-system",
        .identity = id,
        .lease_duration_ms = 4000,
        .renew_deadline_ms = 3000,
        .retry_period_ms = 200,
        .on_started_leading = on_started,
        .on_stopped_leading = on_stopped,
        .ud = c,
    };
    return o;
}

static json_object *spec_of(fake_api_t *f)
{
    json_object *lease = fake_api_get(f, LEASE_PATH);
    assert_non_null(lease);
    return lease;
}

static void test_two_contenders_and_release(void **state)
{
    (void)state;
    fake_api_t *f = fake_api_start();
    assert_non_null(f);
    kube_client_t *cl = client_for(f);
    contender_t ca = {.mu = PTHREAD_MUTEX_INITIALIZER}, cb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[256];
    kube_leader_opts_t oa = opts_for("host-a_1", &ca), ob = opts_for("host-b_2", &cb);
    pair_t p = {0};
    p.a = kube_leader_start(cl, &oa, err, sizeof(err));
    assert_non_null(p.a);
    assert_true(wait_for(one_leads, &p));
    p.b = kube_leader_start(cl, &ob, err, sizeof(err));
    assert_non_null(p.b);
    /* b keeps trying for a while (several retry periods) without ever leading while a renews. */
    struct timespec ts = {0, 600000000};
    nanosleep(&ts, NULL);
    assert_true(kube_leader_is_leader(p.a));
    assert_false(kube_leader_is_leader(p.b));
    assert_int_equal(ca.started, 1);
    assert_int_equal(cb.started, 0);

    json_object *lease = spec_of(f);
    kube_lease_record_t r;
    kube_lease_record_parse(lease, &r);
    assert_string_equal(r.holder, "host-a_1");
    assert_int_equal(r.duration_s, 4);
    assert_int_equal(r.transitions, 0);
    json_object *meta, *labels, *v;
    assert_true(json_object_object_get_ex(lease, "metadata", &meta));
    assert_true(json_object_object_get_ex(meta, "labels", &labels));
    assert_true(json_object_object_get_ex(labels, "app.kubernetes.io/managed-by", &v));
    assert_string_equal(json_object_get_string(v), "kacme");
    json_object_put(lease);
    assert_int_equal(kube_leader_health_check(p.a, err, sizeof(err)), 0);

    /* Graceful stop releases: b takes over at its next try (well before a lease duration). */
    int64_t t0 = now_ms();
    kube_leader_stop(p.a);
    p.a = NULL;
    assert_true(wait_for(b_leads, &p));
    int64_t took = now_ms() - t0;
    (void)took; /* typically one retry period; not asserted */
    lease = spec_of(f);
    kube_lease_record_parse(lease, &r);
    json_object_put(lease);
    assert_string_equal(r.holder, "host-b_2");
    assert_int_equal(r.transitions, 1);
    assert_int_equal(ca.stopped, 0); /* stop is not a loss */
    kube_leader_stop(p.b);
    lease = spec_of(f);
    kube_lease_record_parse(lease, &r);
    json_object_put(lease);
    assert_string_equal(r.holder, "");
    assert_int_equal(r.duration_s, 1);
    assert_int_equal(cb.stopped, 0);
    kube_client_free(cl);
    fake_api_stop(f);
}

static void test_takeover_after_expiry(void **state)
{
    (void)state;
    fake_api_t *f = fake_api_start();
    kube_client_t *cl = client_for(f);
    /* A holder that never renews (a killed process). */
    json_object *ghost = json_tokener_parse(
        "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"kacme-test\","
        "\"namespace\":\"kube-system\"},\"spec\":{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":4,"
        "\"leaseTransitions\":5}}");
    fake_api_put(f, LEASE_PATH, ghost);
    json_object_put(ghost);
    contender_t cb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[256];
    kube_leader_opts_t ob = opts_for("host-b_2", &cb);
    pair_t p = {0};
    int64_t t0 = now_ms();
    p.b = kube_leader_start(cl, &ob, err, sizeof(err));
    assert_true(wait_for(b_leads, &p));
    /* Never before the ghost's lease duration has passed on our clock (a lower bound by construction). */
    assert_true(now_ms() - t0 >= 4000);
    json_object *lease = spec_of(f);
    kube_lease_record_t r;
    kube_lease_record_parse(lease, &r);
    json_object_put(lease);
    assert_string_equal(r.holder, "host-b_2");
    assert_int_equal(r.transitions, 6);
    assert_true(r.acquire_time[0] != '\0');
    kube_leader_stop(p.b);
    kube_client_free(cl);
    fake_api_stop(f);
}

static void test_lost_when_api_down(void **state)
{
    (void)state;
    fake_api_t *f = fake_api_start();
    kube_client_t *cl = client_for(f);
    contender_t ca = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[256];
    kube_leader_opts_t oa = opts_for("host-a_1", &ca);
    pair_t p = {0};
    p.a = kube_leader_start(cl, &oa, err, sizeof(err));
    assert_true(wait_for(one_leads, &p));
    fake_api_set_down(f, true);
    assert_true(wait_for(a_lost, &p));
    assert_false(kube_leader_is_leader(p.a));
    assert_true(wait_for(stopped_once, &ca));
    assert_int_equal(kube_leader_health_check(p.a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "lost"));
    kube_leader_stop(p.a);
    kube_client_free(cl);
    fake_api_stop(f);
}

static void test_lost_when_taken(void **state)
{
    (void)state;
    fake_api_t *f = fake_api_start();
    kube_client_t *cl = client_for(f);
    contender_t ca = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[256];
    kube_leader_opts_t oa = opts_for("host-a_1", &ca);
    pair_t p = {0};
    p.a = kube_leader_start(cl, &oa, err, sizeof(err));
    assert_true(wait_for(one_leads, &p));
    /* Someone else writes the Lease (e.g. an operator, or a contender after a partition). */
    json_object *lease = spec_of(f);
    kube_lease_record_t r;
    kube_lease_record_parse(lease, &r);
    snprintf(r.holder, sizeof(r.holder), "intruder");
    kube_lease_record_apply(lease, &r);
    fake_api_put(f, LEASE_PATH, lease);
    json_object_put(lease);
    assert_true(wait_for(a_lost, &p));
    assert_true(wait_for(stopped_once, &ca));
    /* Stopping after a loss does not release someone else's Lease. */
    kube_leader_stop(p.a);
    lease = spec_of(f);
    kube_lease_record_parse(lease, &r);
    json_object_put(lease);
    assert_string_equal(r.holder, "intruder");
    kube_client_free(cl);
    fake_api_stop(f);
}

static void test_bad_options(void **state)
{
    (void)state;
    fake_api_t *f = fake_api_start();
    kube_client_t *cl = client_for(f);
    char err[256];
    kube_leader_opts_t o = {.name = "x", .namespace = "y", .lease_duration_ms = 4000, .renew_deadline_ms = 5000};
    assert_null(kube_leader_start(cl, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "renew deadline"));
    o = (kube_leader_opts_t){.name = "x"};
    assert_null(kube_leader_start(cl, &o, err, sizeof(err)));
    o = (kube_leader_opts_t){.name = "x", .namespace = "y", .healthz_timeout_ms = -1};
    assert_null(kube_leader_start(cl, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "healthz timeout"));
    /* Default identity: <hostname>_<16 hex>. */
    o = (kube_leader_opts_t){.name = "x", .namespace = "y", .retry_period_ms = 14000};
    kube_leader_t *l = kube_leader_start(cl, &o, err, sizeof(err));
    assert_non_null(l);
    const char *id = kube_leader_identity(l);
    const char *us = strrchr(id, '_');
    assert_non_null(us);
    assert_int_equal(strlen(us + 1), 16);
    kube_leader_stop(l);
    kube_leader_stop(NULL);
    kube_client_free(cl);
    fake_api_stop(f);
}

int main(void)
{
    http_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_can_acquire),
        cmocka_unit_test(test_renewal_overdue),
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_two_contenders_and_release),
        cmocka_unit_test(test_takeover_after_expiry),
        cmocka_unit_test(test_lost_when_api_down),
        cmocka_unit_test(test_lost_when_taken),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
