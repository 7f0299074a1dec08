/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler.h"

/* A test snapshot owns its strings. */
struct snap {
    sched_challenge_t *c;
    size_t n, cap;
};

static void snap_add(struct snap *s, const char *ns, const char *name, const char *dns, sched_type_t type,
                     int64_t created, bool processing, sched_state_t state)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->c = realloc(s->c, s->cap * sizeof(*s->c));
        assert_non_null(s->c);
    }
    s->c[s->n++] = (sched_challenge_t){
        .ns = strdup(ns),
        .name = strdup(name),
        .uid = NULL,
        .dns_name = strdup(dns),
        .created = created,
        .type = type,
        .state = state,
        .processing = processing,
    };
}

static void snap_free(struct snap *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((char *)s->c[i].ns);
        free((char *)s->c[i].name);
        free((char *)s->c[i].dns_name);
    }
    free(s->c);
    memset(s, 0, sizeof(*s));
}

/* Adds `count` in-progress challenges with distinct keys in namespace ns. */
static void add_running(struct snap *s, const char *ns, size_t count, sched_state_t state)
{
    for (size_t i = 0; i < count; i++) {
        char name[64], dns[64];
        snprintf(name, sizeof(name), "run-%s-%zu", ns, i);
        snprintf(dns, sizeof(dns), "run-%zu.%s.example", i, ns);
        snap_add(s, ns, name, dns, SCHED_TYPE_HTTP01, 10 + (int64_t)i, true, state);
    }
}

/* Adds `count` pending candidates with distinct keys, created at t0, t0+1, ... */
static void add_pending(struct snap *s, const char *ns, size_t count, int64_t t0)
{
    for (size_t i = 0; i < count; i++) {
        char name[64], dns[64];
        snprintf(name, sizeof(name), "ch-%s-%05zu", ns, i);
        snprintf(dns, sizeof(dns), "h%zu.%s.example", i, ns);
        snap_add(s, ns, name, dns, SCHED_TYPE_HTTP01, t0 + (int64_t)i, false, SCHED_STATE_PENDING);
    }
}

static size_t run(sched_t *sc, const struct snap *s, size_t max_conc, size_t per_tick, size_t *out)
{
    sched_limits_t lim = {max_conc, per_tick};
    size_t n = 12345;
    assert_int_equal(sched_pass(sc, s->c, s->n, &lim, out, &n), 0);
    assert_true(n <= per_tick);
    return n;
}

static bool picked_name(const struct snap *s, const size_t *out, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->c[out[i]].name, name) == 0)
            return true;
    return false;
}

static void test_cap(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    add_running(&s, "a", 58, SCHED_STATE_PENDING);
    add_pending(&s, "b", 10, 100);
    assert_int_equal(run(sc, &s, 60, 20, out), 2);
    sched_stats_t st;
    sched_last_stats(sc, &st);
    assert_int_equal(st.in_progress, 58);
    assert_int_equal(st.candidates, 10);
    assert_int_equal(st.picked, 2);

    add_running(&s, "c", 2, SCHED_STATE_PENDING); /* 60 in progress: nothing */
    assert_int_equal(run(sc, &s, 60, 20, out), 0);
    sched_last_stats(sc, &st);
    assert_int_equal(st.in_progress, 60);
    assert_int_equal(st.candidates, 10);

    add_running(&s, "d", 5, SCHED_STATE_PENDING); /* over the cap (flag lowered at runtime): nothing */
    assert_int_equal(run(sc, &s, 60, 20, out), 0);
    /* the defaults are 60 / 20 */
    size_t n = 99;
    assert_int_equal(sched_pass(sc, s.c, s.n, NULL, out, &n), 0);
    assert_int_equal(n, 0);
    snap_free(&s);
    sched_free(sc);
}

static void test_per_tick_limit(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    add_pending(&s, "a", 50, 100);
    assert_int_equal(run(sc, &s, 60, 20, out), 20);
    assert_int_equal(run(sc, &s, 60, 5, out), 5);
    assert_int_equal(run(sc, &s, 60, 0, out), 0);
    /* default limits */
    size_t n = 0;
    assert_int_equal(sched_pass(sc, s.c, s.n, NULL, out, &n), 0);
    assert_int_equal(n, 20);
    /* oldest first within the namespace */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(s.c[out[i]].created, 100 + (int64_t)i);
    snap_free(&s);
    sched_free(sc);
}

static void test_key_wildcard_and_case(void **state)
{
    (void)state;
    char k1[128], k2[128];
    assert_int_equal(sched_key("*.Example.COM", SCHED_TYPE_HTTP01, k1, sizeof(k1)), 0);
    assert_int_equal(sched_key("example.com", SCHED_TYPE_HTTP01, k2, sizeof(k2)), 0);
    assert_string_equal(k1, "example.com/HTTP-01");
    assert_string_equal(k1, k2);
    assert_int_equal(sched_key("example.com", SCHED_TYPE_DNS01, k2, sizeof(k2)), 0);
    assert_string_equal(k2, "example.com/DNS-01");
    assert_int_equal(sched_key("example.com", SCHED_TYPE_DNS01, k2, 10), -1);
    /* only one leading "*." is removed, and only as a prefix */
    assert_int_equal(sched_key("a.*.B", SCHED_TYPE_HTTP01, k2, sizeof(k2)), 0);
    assert_string_equal(k2, "a.*.b/HTTP-01");
    /* the hashes follow the key */
    assert_true(sched_key_hash("*.Example.COM", SCHED_TYPE_HTTP01) == sched_key_hash("example.com", SCHED_TYPE_HTTP01));
    assert_true(sched_key_hash("example.com", SCHED_TYPE_DNS01) != sched_key_hash("example.com", SCHED_TYPE_HTTP01));
    assert_true(sched_key_hash("example.org", SCHED_TYPE_HTTP01) != sched_key_hash("example.com", SCHED_TYPE_HTTP01));
    assert_true(sched_key_hash("a-very-long-name-over-eight-bytes.example.com", SCHED_TYPE_HTTP01) ==
                sched_key_hash("A-Very-Long-Name-Over-Eight-Bytes.Example.COM", SCHED_TYPE_HTTP01));
    assert_true(sched_ns_hash("team-a") != sched_ns_hash("team-b"));
    assert_true(sched_ns_hash(NULL) == sched_ns_hash(""));

    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    snap_add(&s, "a", "running", "*.Example.COM", SCHED_TYPE_HTTP01, 1, true, SCHED_STATE_PENDING);
    snap_add(&s, "b", "same-key", "example.com", SCHED_TYPE_HTTP01, 2, false, SCHED_STATE_PENDING);
    snap_add(&s, "b", "other-type", "EXAMPLE.com", SCHED_TYPE_DNS01, 3, false, SCHED_STATE_PENDING);
    snap_add(&s, "c", "same-key-upper", "EXAMPLE.COM", SCHED_TYPE_HTTP01, 4, false, SCHED_STATE_PENDING);
    snap_add(&s, "c", "sub", "www.example.com", SCHED_TYPE_HTTP01, 5, false, SCHED_STATE_PENDING);
    size_t n = run(sc, &s, 60, 20, out);
    assert_int_equal(n, 2);
    assert_true(picked_name(&s, out, n, "other-type"));
    assert_true(picked_name(&s, out, n, "sub"));
    snap_free(&s);
    sched_free(sc);
}

static void test_in_progress_final_counted(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    /* valid but still processing: holds its slot and its key */
    snap_add(&s, "a", "done-not-reset", "example.com", SCHED_TYPE_HTTP01, 1, true, SCHED_STATE_VALID);
    snap_add(&s, "a", "invalid-not-reset", "x.example.com", SCHED_TYPE_DNS01, 1, true, SCHED_STATE_INVALID);
    snap_add(&s, "b", "wants-same-key", "example.com", SCHED_TYPE_HTTP01, 2, false, SCHED_STATE_PENDING);
    snap_add(&s, "b", "free-1", "one.example.com", SCHED_TYPE_HTTP01, 3, false, SCHED_STATE_PENDING);
    snap_add(&s, "b", "free-2", "two.example.com", SCHED_TYPE_HTTP01, 4, false, SCHED_STATE_PENDING);
    snap_add(&s, "b", "free-3", "three.example.com", SCHED_TYPE_HTTP01, 5, false, SCHED_STATE_PENDING);
    size_t n = run(sc, &s, 4, 20, out); /* 2 slots left */
    assert_int_equal(n, 2);
    assert_string_equal(s.c[out[0]].name, "free-1");
    assert_string_equal(s.c[out[1]].name, "free-2");
    sched_stats_t st;
    sched_last_stats(sc, &st);
    assert_int_equal(st.in_progress, 2);
    snap_free(&s);
    sched_free(sc);
}

static void test_final_states_not_candidates(void **state)
{
    (void)state;
    static const char *const finals[] = {"valid", "invalid", "expired", "errored", "revoked", "deactivated"};
    static const char *const open[] = {"", "pending", "processing", "ready", "something-new"};
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++)
        assert_true(sched_state_is_final(sched_state_parse(finals[i])));
    for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++)
        assert_false(sched_state_is_final(sched_state_parse(open[i])));
    assert_false(sched_state_is_final(sched_state_parse(NULL)));
    assert_int_equal(sched_state_parse("revoked"), SCHED_STATE_REVOKED);
    sched_type_t t;
    assert_int_equal(sched_type_parse("DNS-01", &t), 0);
    assert_int_equal(t, SCHED_TYPE_DNS01);
    assert_int_equal(sched_type_parse("HTTP-01", &t), 0);
    assert_int_equal(t, SCHED_TYPE_HTTP01);
    assert_int_equal(sched_type_parse("http-01", &t), -1);
    assert_int_equal(sched_type_parse("TLS-ALPN-01", &t), -1);

    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
        char dns[32];
        snprintf(dns, sizeof(dns), "f%zu.example", i);
        snap_add(&s, "a", finals[i], dns, SCHED_TYPE_HTTP01, 1, false, sched_state_parse(finals[i]));
    }
    for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++) {
        char dns[32], name[32];
        snprintf(dns, sizeof(dns), "o%zu.example", i);
        snprintf(name, sizeof(name), "open-%zu", i);
        snap_add(&s, "a", name, dns, SCHED_TYPE_HTTP01, 2 + (int64_t)i, false, sched_state_parse(open[i]));
    }
    size_t n = run(sc, &s, 60, 20, out);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_true(strncmp(s.c[out[i]].name, "open-", 5) == 0);
    snap_free(&s);
    sched_free(sc);
}

static void test_same_key_only_oldest(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    snap_add(&s, "a", "newer", "example.com", SCHED_TYPE_HTTP01, 100, false, SCHED_STATE_PENDING);
    snap_add(&s, "a", "older", "*.EXAMPLE.com", SCHED_TYPE_HTTP01, 50, false, SCHED_STATE_PENDING);
    size_t n = run(sc, &s, 60, 20, out);
    assert_int_equal(n, 1);
    assert_string_equal(s.c[out[0]].name, "older");
    snap_free(&s);

    /* across namespaces too, even when the newer one's namespace would come first */
    snap_add(&s, "a", "a-newer", "example.com", SCHED_TYPE_HTTP01, 100, false, SCHED_STATE_PENDING);
    snap_add(&s, "a", "a-oldest", "a.example.com", SCHED_TYPE_HTTP01, 1, false, SCHED_STATE_PENDING);
    snap_add(&s, "b", "b-older", "example.com", SCHED_TYPE_HTTP01, 50, false, SCHED_STATE_PENDING);
    n = run(sc, &s, 60, 20, out);
    assert_int_equal(n, 2);
    assert_true(picked_name(&s, out, n, "a-oldest"));
    assert_true(picked_name(&s, out, n, "b-older"));
    assert_false(picked_name(&s, out, n, "a-newer"));
    snap_free(&s);

    /* equal timestamps: the tie-break (namespace, then name) decides, whatever the input order */
    snap_add(&s, "b", "x", "tie.example", SCHED_TYPE_DNS01, 7, false, SCHED_STATE_PENDING);
    snap_add(&s, "a", "z", "tie.example", SCHED_TYPE_DNS01, 7, false, SCHED_STATE_PENDING);
    snap_add(&s, "a", "y", "tie.example", SCHED_TYPE_DNS01, 7, false, SCHED_STATE_PENDING);
    n = run(sc, &s, 60, 20, out);
    assert_int_equal(n, 1);
    assert_string_equal(s.c[out[0]].ns, "a");
    assert_string_equal(s.c[out[0]].name, "y");
    snap_free(&s);
    sched_free(sc);
}

static void test_many_with_one_key(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    for (size_t i = 0; i < 5000; i++) {
        char ns[16], name[32];
        snprintf(ns, sizeof(ns), "ns%zu", i % 37);
        snprintf(name, sizeof(name), "c%zu", i);
        snap_add(&s, ns, name, (i % 2) ? "*.Busy.example" : "busy.example", SCHED_TYPE_DNS01,
                 (int64_t)(10000 - i), false, SCHED_STATE_PENDING);
    }
    size_t n = run(sc, &s, 60, 20, out);
    assert_int_equal(n, 1);
    assert_string_equal(s.c[out[0]].name, "c4999"); /* the oldest */
    sched_stats_t st;
    sched_last_stats(sc, &st);
    assert_int_equal(st.candidates, 5000);
    assert_int_equal(st.eligible, 1);
    assert_int_equal(st.namespaces, 1);

    /* once one of them is in progress, none is eligible */
    s.c[123].processing = true;
    assert_int_equal(run(sc, &s, 60, 20, out), 0);
    sched_last_stats(sc, &st);
    assert_int_equal(st.eligible, 0);
    snap_free(&s);
    sched_free(sc);
}

static void test_fair_across_namespaces(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    add_pending(&s, "a", 1000, 1000); /* old */
    add_pending(&s, "b", 1, 5000);    /* newer */
    size_t n = run(sc, &s, 60, 20, out);
    assert_int_equal(n, 20);
    assert_true(picked_name(&s, out, n, "ch-b-00000"));
    /* round-robin: a's oldest first (older head), then b's, then the rest of a in age order */
    assert_string_equal(s.c[out[0]].name, "ch-a-00000");
    assert_string_equal(s.c[out[1]].name, "ch-b-00000");
    assert_string_equal(s.c[out[2]].name, "ch-a-00001");

    /* one slot per tick: the namespace with fewer in progress wins, however old the other's are */
    add_running(&s, "a", 3, SCHED_STATE_PENDING);
    n = run(sc, &s, 4, 20, out);
    assert_int_equal(n, 1);
    assert_string_equal(s.c[out[0]].name, "ch-b-00000");
    snap_free(&s);
    sched_free(sc);
}

static void test_round_robin_order(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    add_pending(&s, "c", 3, 10); /* heads: c@10, a@20, b@30 → order c, a, b */
    add_pending(&s, "a", 3, 20);
    add_pending(&s, "b", 3, 30);
    size_t n = run(sc, &s, 60, 7, out);
    static const char *const want[] = {"ch-c-00000", "ch-a-00000", "ch-b-00000", "ch-c-00001",
                                       "ch-a-00001", "ch-b-00001", "ch-c-00002"};
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(s.c[out[i]].name, want[i]);
    snap_free(&s);
    sched_free(sc);
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rnd(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * 0x2545f4914f6cdd1dull;
}

static void make_random(struct snap *s, uint64_t seed, size_t n)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        char ns[16], name[32], dns[48];
        snprintf(ns, sizeof(ns), "ns%02u", (unsigned)(rnd(&st) % 12));
        snprintf(name, sizeof(name), "ch-%05zu", i);
        unsigned d = (unsigned)(rnd(&st) % 400); /* plenty of key collisions */
        snprintf(dns, sizeof(dns), "%sh%u.EXAMPLE.org", (rnd(&st) % 5 == 0) ? "*." : "", d);
        bool proc = rnd(&st) % 40 == 0;
        sched_state_t stt = (sched_state_t)(rnd(&st) % 10);
        snap_add(s, ns, name, dns, (sched_type_t)(rnd(&st) % 2), (int64_t)(rnd(&st) % 300), proc, stt);
    }
}

static void shuffle(struct snap *s, uint64_t seed)
{
    uint64_t st = seed;
    for (size_t i = s->n; i > 1; i--) {
        size_t j = (size_t)(rnd(&st) % i);
        sched_challenge_t t = s->c[i - 1];
        s->c[i - 1] = s->c[j];
        s->c[j] = t;
    }
}

static void test_deterministic_shuffled(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    struct snap s = {0};
    size_t out[64];
    make_random(&s, 42, 3000);
    size_t n0 = run(sc, &s, 200, 40, out);
    assert_true(n0 > 0);
    char names[64][40];
    for (size_t i = 0; i < n0; i++)
        snprintf(names[i], sizeof(names[i]), "%s/%s", s.c[out[i]].ns, s.c[out[i]].name);
    for (uint64_t seed = 1; seed <= 6; seed++) {
        shuffle(&s, seed * 7919);
        if (seed >= 4) {
            /* cached hashes (all, then only some) give the same answer */
            for (size_t i = 0; i < s.n; i++) {
                bool cache = seed == 4 || i % 3 == 0;
                s.c[i].key_hash = cache ? sched_key_hash(s.c[i].dns_name, s.c[i].type) : 0;
                s.c[i].ns_hash = cache ? sched_ns_hash(s.c[i].ns) : 0;
            }
        }
        size_t n = run(sc, &s, 200, 40, out);
        assert_int_equal(n, n0);
        for (size_t i = 0; i < n; i++) {
            char got[40];
            snprintf(got, sizeof(got), "%s/%s", s.c[out[i]].ns, s.c[out[i]].name);
            assert_string_equal(got, names[i]);
        }
    }
    snap_free(&s);
    sched_free(sc);
}

/* Checks every rule against a brute-force reading of the same snapshot. */
static void check_invariants(const struct snap *s, const size_t *out, size_t n, size_t max_conc, size_t per_tick)
{
    size_t inprog = 0, eligible = 0;
    char ka[300], kb[300];
    for (size_t i = 0; i < s->n; i++)
        inprog += s->c[i].processing;
    /* eligible: candidates that are the oldest of their key and whose key is not in progress */
    for (size_t i = 0; i < s->n; i++) {
        const sched_challenge_t *c = &s->c[i];
        if (c->processing || sched_state_is_final(c->state))
            continue;
        assert_int_equal(sched_key(c->dns_name, c->type, ka, sizeof(ka)), 0);
        bool ok = true;
        for (size_t j = 0; j < s->n && ok; j++) {
            const sched_challenge_t *d = &s->c[j];
            if (j == i)
                continue;
            assert_int_equal(sched_key(d->dns_name, d->type, kb, sizeof(kb)), 0);
            if (strcmp(ka, kb) != 0)
                continue;
            if (d->processing)
                ok = false;
            else if (!sched_state_is_final(d->state)) {
                int r = d->created < c->created ? -1 : d->created > c->created ? 1 : strcmp(d->ns, c->ns);
                if (!r)
                    r = strcmp(d->name, c->name);
                if (r < 0)
                    ok = false;
            }
        }
        eligible += ok;
        bool is_picked = false;
        for (size_t k = 0; k < n; k++)
            is_picked |= out[k] == i;
        if (is_picked)
            assert_true(ok);
    }
    size_t slots = inprog >= max_conc ? 0 : max_conc - inprog;
    if (slots > per_tick)
        slots = per_tick;
    assert_int_equal(n, eligible < slots ? eligible : slots);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            assert_int_not_equal(out[a], out[b]);
            sched_key(s->c[out[a]].dns_name, s->c[out[a]].type, ka, sizeof(ka));
            sched_key(s->c[out[b]].dns_name, s->c[out[b]].type, kb, sizeof(kb));
            assert_string_not_equal(ka, kb);
        }
}

static void test_invariants_random(void **state)
{
    (void)state;
    sched_t *sc = sched_new(); /* one context across differently sized passes */
    size_t out[64];
    for (uint64_t seed = 1; seed <= 12; seed++) {
        struct snap s = {0};
        make_random(&s, seed, 200 + (size_t)seed * 150);
        size_t conc = 30 + (size_t)seed * 10, tick = 5 + (size_t)seed * 4;
        size_t n = run(sc, &s, conc, tick, out);
        check_invariants(&s, out, n, conc, tick);
        snap_free(&s);
    }
    sched_free(sc);
}

static void test_empty_and_errors(void **state)
{
    (void)state;
    sched_t *sc = sched_new();
    size_t out[4], n = 7;
    assert_int_equal(sched_pass(sc, NULL, 0, NULL, out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sched_pass(NULL, NULL, 0, NULL, out, &n), -1);
    assert_int_equal(sched_pass(sc, NULL, 3, NULL, out, &n), -1);
    sched_challenge_t one = {.ns = NULL, .name = "x", .dns_name = NULL, .state = SCHED_STATE_UNKNOWN};
    assert_int_equal(sched_pass(sc, &one, 1, NULL, NULL, &n), -1); /* out_idx required */
    assert_int_equal(sched_pass(sc, &one, 1, NULL, out, &n), 0);   /* NULL strings read as "" */
    assert_int_equal(n, 1);
    sched_free(sc);
    sched_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_per_tick_limit),
        cmocka_unit_test(test_key_wildcard_and_case),
        cmocka_unit_test(test_in_progress_final_counted),
        cmocka_unit_test(test_final_states_not_candidates),
        cmocka_unit_test(test_same_key_only_oldest),
        cmocka_unit_test(test_many_with_one_key),
        cmocka_unit_test(test_fair_across_namespaces),
        cmocka_unit_test(test_round_robin_order),
        cmocka_unit_test(test_deterministic_shuffled),
        cmocka_unit_test(test_invariants_random),
        cmocka_unit_test(test_empty_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
