/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_apiserver.h"
#include "kube/config.h"
#include "kube/events.h"
#include "util/http.h"

#define MIN_MS (60 * 1000)

static void correlate(kube_event_correlator_t *c, const char *uid, const char *reason, const char *msg, int64_t now,
                      kube_event_decision_t *d)
{
    kube_event_correlate(c, uid, "obj", "Normal", reason, msg, now, now * 1000000 + 1700000000000000000LL, d);
}

static void test_aggregation(void **state)
{
    (void)state;
    kube_event_correlator_t *c = kube_event_correlator_new(100, 0, 0, 0);
    assert_non_null(c);
    kube_event_decision_t d, first;
    correlate(c, "uid-1", "Presented", "Presented challenge using HTTP-01", 0, &first);
    assert_int_equal(first.action, KUBE_EVENT_CREATE);
    assert_int_equal(first.count, 1);
    assert_non_null(strstr(first.name, "obj."));
    /* Same key within 10 minutes: the same Event, count 2, 3. */
    correlate(c, "uid-1", "Presented", "Presented challenge using HTTP-01", 5 * MIN_MS, &d);
    assert_int_equal(d.action, KUBE_EVENT_PATCH);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.name, first.name);
    assert_true(d.first_wall_ns == first.first_wall_ns);
    correlate(c, "uid-1", "Presented", "Presented challenge using HTTP-01", 14 * MIN_MS, &d);
    assert_int_equal(d.action, KUBE_EVENT_PATCH);
    assert_int_equal(d.count, 3);
    /* A different message, reason or object is a different Event. */
    correlate(c, "uid-1", "Presented", "other message", 14 * MIN_MS, &d);
    assert_int_equal(d.action, KUBE_EVENT_CREATE);
    correlate(c, "uid-1", "PresentError", "Presented challenge using HTTP-01", 14 * MIN_MS, &d);
    assert_int_equal(d.action, KUBE_EVENT_CREATE);
    correlate(c, "uid-2", "Presented", "Presented challenge using HTTP-01", 14 * MIN_MS, &d);
    assert_int_equal(d.action, KUBE_EVENT_CREATE);
    /* More than 10 minutes after the last one: a new Event. */
    correlate(c, "uid-1", "Presented", "Presented challenge using HTTP-01", 25 * MIN_MS, &d);
    assert_int_equal(d.action, KUBE_EVENT_CREATE);
    assert_int_equal(d.count, 1);
    assert_string_not_equal(d.name, first.name);
    correlate(c, "uid-1", "Presented", "Presented challenge using HTTP-01", 26 * MIN_MS, &d);
    assert_int_equal(d.action, KUBE_EVENT_PATCH);
    assert_int_equal(d.count, 2);
    /* Forget (the Event was gone): the next one is created again. */
    kube_event_correlator_forget(c, "uid-1", "Normal", "Presented", "Presented challenge using HTTP-01");
    correlate(c, "uid-1", "Presented", "Presented challenge using HTTP-01", 26 * MIN_MS, &d);
    assert_int_equal(d.action, KUBE_EVENT_CREATE);
    kube_event_correlator_free(c);
    kube_event_correlator_free(NULL);
}

static void test_spam_cap(void **state)
{
    (void)state;
    /* Defaults: burst 25, one token per 5 minutes. */
    kube_event_correlator_t *c = kube_event_correlator_new(0, 0, 0, 0);
    kube_event_decision_t d;
    char msg[32];
    for (int i = 0; i < 25; i++) {
        snprintf(msg, sizeof(msg), "attempt %d", i);
        correlate(c, "uid-1", "Failed", msg, 1000, &d);
        assert_int_not_equal(d.action, KUBE_EVENT_DROP);
    }
    correlate(c, "uid-1", "Failed", "attempt 25", 1000, &d);
    assert_int_equal(d.action, KUBE_EVENT_DROP);
    /* Even aggregated repeats cost a token. */
    correlate(c, "uid-1", "Failed", "attempt 0", 1000, &d);
    assert_int_equal(d.action, KUBE_EVENT_DROP);
    /* Other objects have their own bucket. */
    correlate(c, "uid-2", "Failed", "attempt 0", 1000, &d);
    assert_int_equal(d.action, KUBE_EVENT_CREATE);
    /* Just under 5 minutes: still nothing; at 5 minutes one token, one event. */
    correlate(c, "uid-1", "Failed", "x", 1000 + 5 * MIN_MS - 1, &d);
    assert_int_equal(d.action, KUBE_EVENT_DROP);
    correlate(c, "uid-1", "Failed", "x", 1000 + 5 * MIN_MS + 1, &d);
    assert_int_equal(d.action, KUBE_EVENT_CREATE);
    correlate(c, "uid-1", "Failed", "x", 1000 + 5 * MIN_MS + 2, &d);
    assert_int_equal(d.action, KUBE_EVENT_DROP);
    /* After a long quiet period the bucket is full again (capped at the burst). */
    int ok = 0;
    for (int i = 0; i < 40; i++) {
        correlate(c, "uid-1", "Failed", "y", 1000LL * 60 * 60 * 24, &d);
        ok += d.action != KUBE_EVENT_DROP;
    }
    assert_int_equal(ok, 25);
    kube_event_correlator_free(c);
}

static void test_bounded_tables(void **state)
{
    (void)state;
    kube_event_correlator_t *c = kube_event_correlator_new(5, 1000, 0, 8);
    kube_event_decision_t d;
    char uid[32];
    for (int i = 0; i < 100; i++) {
        snprintf(uid, sizeof(uid), "uid-%d", i);
        correlate(c, uid, "R", "m", i, &d);
        assert_int_equal(d.action, KUBE_EVENT_CREATE);
    }
    /* The most recent keys are still aggregated. */
    correlate(c, "uid-99", "R", "m", 200, &d);
    assert_int_equal(d.action, KUBE_EVENT_PATCH);
    kube_event_correlator_free(c);
}

static void test_truncate(void **state)
{
    (void)state;
    char out[KUBE_EVENT_MAX_MESSAGE + 1];
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kube_event_truncate_message(big, out, sizeof(out));
    assert_int_equal(strlen(out), KUBE_EVENT_MAX_MESSAGE);
    /* A two-byte character straddling the limit is dropped whole. */
    big[KUBE_EVENT_MAX_MESSAGE - 1] = (char)0xc3;
    big[KUBE_EVENT_MAX_MESSAGE] = (char)0xa9;
    kube_event_truncate_message(big, out, sizeof(out));
    assert_int_equal(strlen(out), KUBE_EVENT_MAX_MESSAGE - 1);
    kube_event_truncate_message("short", out, sizeof(out));
    assert_string_equal(out, "short");
    char small[4];
    kube_event_truncate_message("abcdef", small, sizeof(small));
    assert_string_equal(small, "abc");
}

static void test_time_format(void **state)
{
    (void)state;
    char b[40];
    int64_t t = 1764442808LL * 1000000000 + 123456789;
    assert_string_equal(kube_format_micro_time(t, b, sizeof(b)), "2025-11-29T19:00:08.123456Z");
    assert_string_equal(kube_format_time(t, b, sizeof(b)), "2025-11-29T19:00:08Z");
}

static void test_build(void **state)
{
    (void)state;
    json_object *obj = json_tokener_parse(
        "{\"apiVersion\":\"acme.cert-manager.io/v1\",\"kind\":\"Challenge\",\"metadata\":{\"name\":\"ch-1\","
        "\"namespace\":\"team-a\",\"uid\":\"u-1\",\"resourceVersion\":\"42\",\"labels\":{\"x\":\"y\"}},"
        "\"spec\":{\"dnsName\":\"a.example\"}}");
    assert_non_null(obj);
    kube_event_decision_t d = {.action = KUBE_EVENT_CREATE, .count = 1,
                               .first_wall_ns = 1764442808LL * 1000000000};
    snprintf(d.name, sizeof(d.name), "ch-1.abc");
    json_object *ev = kube_event_build(obj, "kacme-challenges", "node-1", "Normal", "Presented", "msg \"q\"", &d);
    assert_non_null(ev);
    json_object *v, *m, *io;
    assert_true(json_object_object_get_ex(ev, "metadata", &m));
    assert_true(json_object_object_get_ex(m, "name", &v));
    assert_string_equal(json_object_get_string(v), "ch-1.abc");
    assert_true(json_object_object_get_ex(m, "namespace", &v));
    assert_string_equal(json_object_get_string(v), "team-a");
    assert_true(json_object_object_get_ex(ev, "involvedObject", &io));
    assert_string_equal(json_object_to_json_string_ext(io, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                        "{\"apiVersion\":\"acme.cert-manager.io/v1\",\"kind\":\"Challenge\",\"namespace\":\"team-a\","
                        "\"name\":\"ch-1\",\"uid\":\"u-1\",\"resourceVersion\":\"42\"}");
    assert_true(json_object_object_get_ex(ev, "source", &v));
    assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                        "{\"component\":\"kacme-challenges\",\"host\":\"node-1\"}");
    assert_true(json_object_object_get_ex(ev, "count", &v));
    assert_int_equal(json_object_get_int(v), 1);
    assert_true(json_object_object_get_ex(ev, "firstTimestamp", &v));
    assert_string_equal(json_object_get_string(v), "2025-11-29T19:00:08Z");
    assert_true(json_object_object_get_ex(ev, "message", &v));
    assert_string_equal(json_object_get_string(v), "msg \"q\"");
    json_object_put(ev);
    json_object_put(obj);

    /* A cluster-scoped object: the Event lives in "default". An ObjectReference works as input too. */
    obj = json_tokener_parse("{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"ClusterIssuer\",\"name\":\"le\","
                             "\"uid\":\"u-2\"}");
    ev = kube_event_build(obj, "kacme-clusterissuers", NULL, "Warning", "ErrInitIssuer", "m", &d);
    assert_non_null(ev);
    assert_true(json_object_object_get_ex(ev, "metadata", &m));
    assert_true(json_object_object_get_ex(m, "namespace", &v));
    assert_string_equal(json_object_get_string(v), "default");
    json_object_put(ev);
    json_object_put(obj);
    /* No name: nothing. */
    obj = json_tokener_parse("{\"kind\":\"X\"}");
    assert_null(kube_event_build(obj, "c", NULL, "Normal", "R", "m", &d));
    json_object_put(obj);
}

static void test_recorder(void **state)
{
    (void)state;
    fake_api_t *f = fake_api_start();
    assert_non_null(f);
    kube_config_t cfg = {.server = (char *)fake_api_url(f), .source = (char *)"test"};
    kube_client_opts_t co = {.component = "events-test", .qps = 1000, .burst = 1000, .timeout_ms = 2000};
    char err[256];
    kube_client_t *cl = kube_client_new(&cfg, &co, err, sizeof(err));
    assert_non_null(cl);
    kube_event_recorder_opts_t ro = {.component = "kacme-challenges", .host = "node-1"};
    assert_null(kube_event_recorder_new(cl, NULL, err, sizeof(err)));
    kube_event_recorder_t *r = kube_event_recorder_new(cl, &ro, err, sizeof(err));
    assert_non_null(r);
    json_object *obj = json_tokener_parse(
        "{\"apiVersion\":\"acme.cert-manager.io/v1\",\"kind\":\"Challenge\",\"metadata\":{\"name\":\"ch-1\","
        "\"namespace\":\"team-a\",\"uid\":\"u-1\"}}");
    for (int i = 0; i < 3; i++)
        kube_event_record(r, obj, "Warning", "PresentError", "Error presenting challenge: %s", "connection refused");
    kube_event_record(r, obj, "Normal", "Presented", "Presented challenge using %s challenge mechanism", "HTTP-01");
    json_object *nouid = json_tokener_parse("{\"kind\":\"X\",\"metadata\":{\"name\":\"n\"}}");
    kube_event_record(r, nouid, "Normal", "R", "ignored");
    json_object_put(nouid);
    assert_int_equal(kube_event_recorder_flush(r, 20000), 0);
    kube_event_stats_t st;
    kube_event_recorder_stats(r, &st);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.patched, 2);
    assert_int_equal(st.failed, 0);
    assert_int_equal(fake_api_count(f, "/api/v1/namespaces/team-a/events/ch-1."), 2);
    assert_int_equal(fake_api_requests(f, "POST"), 2);
    assert_int_equal(fake_api_requests(f, "PATCH"), 2);
    /* A message over 1 KiB is cut. */
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kube_event_record(r, obj, "Normal", "Big", "%s", big);
    assert_int_equal(kube_event_recorder_flush(r, 20000), 0);
    /* The API failing: counted, never blocking the caller. */
    fake_api_set_down(f, true);
    kube_event_record(r, obj, "Normal", "Down", "m");
    assert_int_equal(kube_event_recorder_flush(r, 20000), 0);
    kube_event_recorder_stats(r, &st);
    assert_int_equal(st.failed, 1);
    kube_event_recorder_free(r);
    kube_event_recorder_free(NULL);
    json_object_put(obj);
    kube_client_free(cl);
    fake_api_stop(f);
}

int main(void)
{
    http_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregation), cmocka_unit_test(test_spam_cap),   cmocka_unit_test(test_bounded_tables),
        cmocka_unit_test(test_truncate),    cmocka_unit_test(test_time_format), cmocka_unit_test(test_build), cmocka_unit_test(test_recorder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
