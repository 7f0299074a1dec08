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

#include "challenge_metrics.h"
#include "challenges.h"
#include "http01.h"
#include "solver.h"

/* A Challenge JSON from a few knobs. */
static json_object *challenge(const char *extra_meta, const char *status)
{
    char buf[4096];
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"acme.cert-manager.io/v1\",\"kind\":\"Challenge\","
             "\"metadata\":{\"name\":\"c1\",\"namespace\":\"ns1\",\"uid\":\"u-1\",\"resourceVersion\":\"7\","
             "\"creationTimestamp\":\"2026-01-02T03:04:05Z\"%s%s},"
             "\"spec\":{\"url\":\"https://ca/chal/1\",\"authorizationURL\":\"https://ca/authz/1\","
             "\"dnsName\":\"a.example.com\",\"wildcard\":false,\"type\":\"HTTP-01\",\"token\":\"tok\","
             "\"key\":\"tok.thumb\",\"solver\":{\"http01\":{\"ingress\":{}}},\"issuerRef\":{\"name\":\"le\"}},"
             "\"status\":%s}",
             extra_meta && *extra_meta ? "," : "", extra_meta ? extra_meta : "", status ? status : "{}");
    json_object *o = json_tokener_parse(buf);
    assert_non_null(o);
    return o;
}

#define FIN "\"finalizers\":[\"acme.cert-manager.io/finalizer\"]"
#define LEGACY "\"finalizers\":[\"finalizer.acme.cert-manager.io\"]"
#define DEL "\"deletionTimestamp\":\"2026-01-02T03:05:00Z\""

static void expect_action(const char *meta, const char *status, challenges_action_t want)
{
    json_object *c = challenge(meta, status);
    challenges_action_t got = challenges_decide(c);
    if (got != want)
        fail_msg("meta=%s status=%s: got %s want %s", meta ? meta : "(none)", status ? status : "(none)",
                 challenges_action_name(got),
                 challenges_action_name(want));
    json_object_put(c);
}

static void test_decide(void **state)
{
    (void)state;
    /* not scheduled */
    expect_action("", "{\"processing\":false,\"presented\":false}", CHALLENGES_ACT_NOTHING);
    expect_action(FIN, "{\"processing\":false,\"state\":\"pending\"}", CHALLENGES_ACT_NOTHING);
    expect_action("", NULL, CHALLENGES_ACT_NOTHING);
    /* scheduled: finalizer first */
    expect_action("", "{\"processing\":true}", CHALLENGES_ACT_ADD_FINALIZER);
    expect_action(LEGACY, "{\"processing\":true,\"state\":\"pending\"}", CHALLENGES_ACT_ADD_FINALIZER);
    expect_action("\"finalizers\":[\"acme.cert-manager.io/finalizer\",\"finalizer.acme.cert-manager.io\"]",
                  "{\"processing\":true}", CHALLENGES_ACT_ADD_FINALIZER);
    /* then state "" → authz, pending → present, presented → check, processing → poll */
    expect_action(FIN, "{\"processing\":true,\"presented\":false}", CHALLENGES_ACT_SYNC_STATE);
    expect_action(FIN, "{\"processing\":true,\"state\":\"\"}", CHALLENGES_ACT_SYNC_STATE);
    expect_action(FIN, "{\"processing\":true,\"state\":\"pending\",\"presented\":false}", CHALLENGES_ACT_PRESENT);
    expect_action(FIN, "{\"processing\":true,\"state\":\"pending\",\"presented\":true}", CHALLENGES_ACT_CHECK);
    expect_action(FIN, "{\"processing\":true,\"state\":\"ready\",\"presented\":true}", CHALLENGES_ACT_CHECK);
    expect_action(FIN, "{\"processing\":true,\"state\":\"processing\",\"presented\":true}", CHALLENGES_ACT_POLL);
    /* finished: final states (kacme adds revoked/deactivated) and deletion */
    const char *finals[] = {"valid", "invalid", "expired", "errored", "revoked", "deactivated"};
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
        char st[128];
        snprintf(st, sizeof(st), "{\"processing\":true,\"presented\":true,\"state\":\"%s\"}", finals[i]);
        expect_action(FIN, st, CHALLENGES_ACT_CLEANUP);
        expect_action(LEGACY, st, CHALLENGES_ACT_CLEANUP);
        expect_action("", st, CHALLENGES_ACT_RESET);
        snprintf(st, sizeof(st), "{\"processing\":false,\"presented\":false,\"state\":\"%s\"}", finals[i]);
        expect_action("", st, CHALLENGES_ACT_NOTHING);
    }
    expect_action(FIN "," DEL, "{\"processing\":false,\"state\":\"pending\"}", CHALLENGES_ACT_CLEANUP);
    expect_action(DEL, "{\"processing\":true,\"state\":\"pending\"}", CHALLENGES_ACT_RESET);
    expect_action(DEL, "{\"processing\":false,\"presented\":false}", CHALLENGES_ACT_NOTHING);
    /* presented but not processing (reset path only when finished) */
    expect_action("", "{\"processing\":false,\"presented\":true,\"state\":\"valid\"}", CHALLENGES_ACT_RESET);
}

static void test_final_states(void **state)
{
    (void)state;
    assert_true(challenges_state_is_final("valid"));
    assert_true(challenges_state_is_final("deactivated"));
    assert_true(challenges_state_is_final("revoked"));
    assert_false(challenges_state_is_final("ready"));
    assert_false(challenges_state_is_final("processing"));
    assert_false(challenges_state_is_final(""));
    assert_false(challenges_state_is_final(NULL));
}

static void test_classify(void **state)
{
    (void)state;
    acme_error_t e;
    challenges_err_t ce;

    acme_error_clear(&e);
    e.kind = ACME_ERR_TRANSIENT;
    snprintf(e.detail, sizeof(e.detail), "connection refused");
    challenges_classify_error(&e, "Error accepting challenge", &ce);
    assert_int_equal(ce.outcome, CHALLENGES_ERR_BACKOFF);

    acme_error_clear(&e);
    e.kind = ACME_ERR_RETRY_AFTER;
    e.retry_after_ms = 3000;
    challenges_classify_error(&e, "x", &ce);
    assert_int_equal(ce.outcome, CHALLENGES_ERR_REQUEUE);
    assert_int_equal(ce.after_ms, 3000);
    e.retry_after_ms = 0;
    challenges_classify_error(&e, "x", &ce);
    assert_int_equal(ce.after_ms, 60000);

    acme_error_clear(&e);
    e.kind = ACME_ERR_TERMINAL;
    e.http_status = 400;
    snprintf(e.type, sizeof(e.type), "urn:ietf:params:acme:error:malformed");
    snprintf(e.detail, sizeof(e.detail), "bad thing");
    challenges_classify_error(&e, "Error accepting challenge", &ce);
    assert_int_equal(ce.outcome, CHALLENGES_ERR_FINAL);
    assert_string_equal(ce.state, "expired");
    assert_non_null(strstr(ce.reason, "Error accepting challenge: "));
    assert_non_null(strstr(ce.reason, "bad thing"));

    snprintf(e.type, sizeof(e.type), "urn:ietf:params:acme:error:unauthorized");
    snprintf(e.detail, sizeof(e.detail), "no such account");
    challenges_classify_error(&e, "Error accepting challenge", &ce);
    assert_int_equal(ce.outcome, CHALLENGES_ERR_FINAL);
    assert_string_equal(ce.state, "errored");
    assert_non_null(strstr(ce.reason, "unauthorized"));
    assert_non_null(strstr(ce.reason, "no such account"));

    /* a local terminal error without problem type */
    acme_error_clear(&e);
    e.kind = ACME_ERR_TERMINAL;
    snprintf(e.detail, sizeof(e.detail), "bad input");
    challenges_classify_error(&e, "w", &ce);
    assert_int_equal(ce.outcome, CHALLENGES_ERR_FINAL);
    assert_string_equal(ce.state, "errored");
}

static void test_parse_time(void **state)
{
    (void)state;
    assert_int_equal(challenges_parse_time("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(challenges_parse_time("2026-01-02T03:04:05Z"), 1767323045);
    assert_int_equal(challenges_parse_time("2026-01-02T03:04:05.123456Z"), 1767323045);
    assert_int_equal(challenges_parse_time("2026-01-02T04:04:05+01:00"), 1767323045);
    assert_int_equal(challenges_parse_time("2026-01-02T03:04:05"), -1);
    assert_int_equal(challenges_parse_time("2026-13-02T03:04:05Z"), -1);
    assert_int_equal(challenges_parse_time("garbage"), -1);
    assert_int_equal(challenges_parse_time(NULL), -1);
    assert_int_equal(challenges_parse_time("2026-01-02T03:04:05Zx"), -1);
}

static void test_sched_snapshot(void **state)
{
    (void)state;
    json_object *c = challenge("", "{\"processing\":true,\"state\":\"pending\"}");
    sched_challenge_t s;
    assert_int_equal(challenges_sched_from_json(c, &s), 0);
    assert_string_equal(s.ns, "ns1");
    assert_string_equal(s.name, "c1");
    assert_string_equal(s.uid, "u-1");
    assert_string_equal(s.dns_name, "a.example.com");
    assert_int_equal(s.created, 1767323045);
    assert_int_equal(s.type, SCHED_TYPE_HTTP01);
    assert_int_equal(s.state, SCHED_STATE_PENDING);
    assert_true(s.processing);
    json_object_put(c);

    /* wildcard + upper case: same scheduling key as the plain lower-case name */
    json_object *w = json_tokener_parse(
        "{\"metadata\":{\"name\":\"w\",\"namespace\":\"n\",\"creationTimestamp\":\"bad\"},"
        "\"spec\":{\"dnsName\":\"*.A.Example.COM\",\"wildcard\":true,\"type\":\"DNS-01\"},"
        "\"status\":{\"state\":\"revoked\"}}");
    assert_int_equal(challenges_sched_from_json(w, &s), 0);
    assert_int_equal(s.type, SCHED_TYPE_DNS01);
    assert_int_equal(s.state, SCHED_STATE_REVOKED);
    assert_true(sched_state_is_final(s.state));
    assert_false(s.processing);
    assert_int_equal(s.created, 0);
    char k1[300], k2[300];
    assert_int_equal(sched_key(s.dns_name, s.type, k1, sizeof(k1)), 0);
    assert_int_equal(sched_key("a.example.com", SCHED_TYPE_DNS01, k2, sizeof(k2)), 0);
    assert_string_equal(k1, k2);
    assert_int_equal(sched_key_hash(s.dns_name, s.type), sched_key_hash("a.example.com", SCHED_TYPE_DNS01));
    json_object_put(w);

    /* unusable: unknown type, no name */
    json_object *bad = json_tokener_parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"type\":\"TLS-ALPN-01\"}}");
    assert_int_equal(challenges_sched_from_json(bad, &s), -1);
    json_object_put(bad);
    bad = json_tokener_parse("{\"metadata\":{},\"spec\":{\"type\":\"HTTP-01\"}}");
    assert_int_equal(challenges_sched_from_json(bad, &s), -1);
    json_object_put(bad);

    /* a pass over two challenges for the same name picks only the older */
    json_object *a = json_tokener_parse(
        "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"creationTimestamp\":\"2026-01-01T00:00:02Z\"},"
        "\"spec\":{\"dnsName\":\"X.example.com\",\"type\":\"HTTP-01\"},\"status\":{}}");
    json_object *b = json_tokener_parse(
        "{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\",\"creationTimestamp\":\"2026-01-01T00:00:01Z\"},"
        "\"spec\":{\"dnsName\":\"*.x.example.com\",\"type\":\"HTTP-01\"},\"status\":{\"state\":\"pending\"}}");
    sched_challenge_t snap[2];
    assert_int_equal(challenges_sched_from_json(a, &snap[0]), 0);
    assert_int_equal(challenges_sched_from_json(b, &snap[1]), 0);
    sched_t *sc = sched_new();
    size_t idx[4], n = 0;
    sched_limits_t lim = {60, 4};
    assert_int_equal(sched_pass(sc, snap, 2, &lim, idx, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 1);
    sched_free(sc);
    json_object_put(a);
    json_object_put(b);
}

static void test_selfcheck_retry(void **state)
{
    (void)state;
    json_object *c = challenge(FIN, "{\"presentedAt\":\"2026-01-02T03:04:05Z\"}");
    int64_t at = 1767323045;
    assert_int_equal(challenges_selfcheck_retry_ms(c, at + 1, 10000), 250);
    assert_int_equal(challenges_selfcheck_retry_ms(c, at + 9, 10000), 250);
    assert_int_equal(challenges_selfcheck_retry_ms(c, at + 10, 10000), 10000);
    assert_int_equal(challenges_selfcheck_retry_ms(c, at + 1, 200), 200);
    assert_int_equal(challenges_selfcheck_retry_ms(c, at - 5, 10000), 10000);
    json_object_put(c);
    c = challenge(FIN, "{}");
    assert_int_equal(challenges_selfcheck_retry_ms(c, at, 7000), 7000);
    assert_int_equal(challenges_selfcheck_retry_ms(c, at, 0), 10000);
    json_object_put(c);
}

static void test_extra_labels(void **state)
{
    (void)state;
    json_object *o = NULL;
    char err[256];
    assert_int_equal(ctrl_http01_parse_extra_labels(NULL, &o, err, sizeof(err)), 0);
    assert_int_equal(json_object_object_length(o), 0);
    json_object_put(o);
    assert_int_equal(ctrl_http01_parse_extra_labels(" team=a , env = prod,,x=", &o, err, sizeof(err)), 0);
    assert_int_equal(json_object_object_length(o), 3);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, "team", &v));
    assert_string_equal(json_object_get_string(v), "a");
    assert_true(json_object_object_get_ex(o, "env", &v));
    assert_string_equal(json_object_get_string(v), "prod");
    assert_true(json_object_object_get_ex(o, "x", &v));
    assert_string_equal(json_object_get_string(v), "");
    json_object_put(o);
    assert_int_equal(ctrl_http01_parse_extra_labels("novalue", &o, err, sizeof(err)), -1);
    assert_null(o);
    assert_non_null(strstr(err, "novalue"));
    assert_int_equal(ctrl_http01_parse_extra_labels("=v", &o, err, sizeof(err)), -1);
}

static void test_solver_for_type(void **state)
{
    (void)state;
    assert_ptr_equal(ctrl_solver_for_type("HTTP-01"), &ctrl_http01_solver);
    assert_string_equal(ctrl_http01_solver.type, "HTTP-01");
    assert_null(ctrl_solver_for_type("http-01"));
    assert_null(ctrl_solver_for_type(NULL));
    assert_ptr_equal(ctrl_solver_for_type("DNS-01"), &ctrl_dns01_solver);
    assert_string_equal(ctrl_dns01_solver.type, "DNS-01");
}

static void test_metrics(void **state)
{
    (void)state;
    ctrl_options_t opts = {0};
    ctrl_ctx_t ctx = {.opts = &opts};
    ctx.metrics = metrics_registry_new();
    ctx.challenges = kube_store_new();
    assert_non_null(ctx.metrics);
    assert_non_null(ctx.challenges);
    assert_int_equal(ctrl_challenge_metrics_register(&ctx), 0);
    /* a second registration of the same family is refused */
    assert_int_equal(ctrl_challenge_metrics_register(&ctx), -1);

    size_t len = 0;
    char *text = metrics_render(ctx.metrics, &len);
    assert_non_null(text);
    assert_null(strstr(text, "certmanager_certificate_challenge_status{"));
    free(text);

    assert_int_equal(kube_store_upsert(ctx.challenges,
                                       challenge("", "{\"processing\":true,\"state\":\"pending\",\"reason\":\"r\\\"q\"}"),
                                       NULL, NULL),
                     0);
    json_object *other = json_tokener_parse(
        "{\"metadata\":{\"name\":\"c2\",\"namespace\":\"ns2\"},\"spec\":{\"dnsName\":\"b.example.com\","
        "\"type\":\"DNS-01\"},\"status\":{\"processing\":false}}");
    assert_int_equal(kube_store_upsert(ctx.challenges, other, NULL, NULL), 0);
    text = metrics_render(ctx.metrics, &len);
    assert_non_null(text);
    const char *want[] = {
        "certmanager_certificate_challenge_status{status=\"pending\",domain=\"a.example.com\",reason=\"r\\\"q\","
        "processing=\"true\",name=\"c1\",namespace=\"ns1\",type=\"HTTP-01\"} 1\n",
        "certmanager_certificate_challenge_status{status=\"valid\",domain=\"a.example.com\",reason=\"r\\\"q\","
        "processing=\"true\",name=\"c1\",namespace=\"ns1\",type=\"HTTP-01\"} 0\n",
        "certmanager_certificate_challenge_status{status=\"deactivated\",domain=\"a.example.com\",reason=\"r\\\"q\","
        "processing=\"true\",name=\"c1\",namespace=\"ns1\",type=\"HTTP-01\"} 0\n",
        "certmanager_certificate_challenge_status{status=\"\",domain=\"b.example.com\",reason=\"\","
        "processing=\"false\",name=\"c2\",namespace=\"ns2\",type=\"DNS-01\"} 1\n",
        "certmanager_certificate_challenge_status{status=\"pending\",domain=\"b.example.com\",reason=\"\","
        "processing=\"false\",name=\"c2\",namespace=\"ns2\",type=\"DNS-01\"} 0\n",
        "# TYPE certmanager_certificate_challenge_status gauge\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            fail_msg("missing %s in:\n%s", want[i], text);
    /* 10 series per challenge, exactly one of them 1 */
    size_t series = 0, ones = 0;
    for (const char *p = text; (p = strstr(p, "certmanager_certificate_challenge_status{")); p++) {
        series++;
        const char *eol = strchr(p, '\n');
        if (eol && eol[-1] == '1' && eol[-2] == ' ')
            ones++;
    }
    assert_int_equal(series, 20);
    assert_int_equal(ones, 2);
    free(text);

    /* state changes show up at the next scrape */
    assert_int_equal(kube_store_upsert(ctx.challenges, challenge("", "{\"processing\":false,\"state\":\"valid\"}"),
                                       NULL, NULL),
                     0);
    text = metrics_render(ctx.metrics, &len);
    assert_non_null(strstr(text, "{status=\"valid\",domain=\"a.example.com\",reason=\"\",processing=\"false\",name="
                                 "\"c1\",namespace=\"ns1\",type=\"HTTP-01\"} 1\n"));
    free(text);
    metrics_registry_free(ctx.metrics);
    kube_store_free(ctx.challenges);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),       cmocka_unit_test(test_final_states),
        cmocka_unit_test(test_classify),     cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_sched_snapshot), cmocka_unit_test(test_selfcheck_retry),
        cmocka_unit_test(test_extra_labels), cmocka_unit_test(test_solver_for_type),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
