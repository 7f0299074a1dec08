/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops/metrics.h"

static void expect_render(metrics_registry_t *r, const char *want)
{
    size_t len = 0;
    char *got = metrics_render(r, &len);
    assert_non_null(got);
    assert_int_equal(len, strlen(got));
    if (strcmp(got, want) != 0)
        fprintf(stderr, "--- got ---\n%s--- want ---\n%s", got, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_counter_gauge_golden(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    const char *sync_labels[] = {"controller", NULL};
    metrics_family_t *calls = metrics_new_counter(r, "certmanager_controller_sync_call_count",
                                                  "The number of sync() calls made by a controller.", sync_labels);
    assert_non_null(calls);
    metrics_family_t *clock = metrics_new_gauge(r, "certmanager_clock_time_seconds_gauge",
                                                "The clock time given in seconds (from 1970/01/01 UTC).", NULL);
    assert_non_null(clock);
    metrics_counter_inc(metrics_with(calls, "orders", NULL));
    metrics_counter_inc(metrics_with(calls, "challenges", NULL));
    metrics_counter_add(metrics_with(calls, "orders", NULL), 2);
    metrics_counter_add(metrics_with(calls, "orders", NULL), -5); /* ignored */
    metrics_gauge_set(metrics_with(clock, NULL), 1764441608.5);
    assert_true(metrics_value(metrics_with(calls, "orders", NULL)) == 3.0);
    expect_render(r, "# HELP certmanager_clock_time_seconds_gauge The clock time given in seconds (from 1970/01/01 UTC).\n"
                     "# TYPE certmanager_clock_time_seconds_gauge gauge\n"
                     "certmanager_clock_time_seconds_gauge 1764441608.5\n"
                     "# HELP certmanager_controller_sync_call_count The number of sync() calls made by a controller.\n"
                     "# TYPE certmanager_controller_sync_call_count counter\n"
                     "certmanager_controller_sync_call_count{controller=\"challenges\"} 1\n"
                     "certmanager_controller_sync_call_count{controller=\"orders\"} 3\n");
    metrics_registry_free(r);
}

static void test_escaping(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    const char *labels[] = {"path", "msg", NULL};
    metrics_family_t *g = metrics_new_gauge(r, "x_info", "Help with \\ backslash\nand newline \"quotes\" kept.",
                                            labels);
    assert_non_null(g);
    metrics_gauge_set(metrics_with(g, "C:\\dir", "say \"hi\"\nbye", NULL), -0.25);
    metrics_gauge_set(metrics_with(g, "", "", NULL), 1e-7);
    expect_render(r, "# HELP x_info Help with \\\\ backslash\\nand newline \"quotes\" kept.\n"
                     "# TYPE x_info gauge\n"
                     "x_info{path=\"\",msg=\"\"} 1e-07\n"
                     "x_info{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\"} -0.25\n");
    metrics_registry_free(r);
}

static void test_histogram_golden(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    const double b[] = {0.1, 0.5, 1};
    const char *labels[] = {"method", NULL};
    metrics_family_t *h = metrics_new_histogram(r, "req_seconds", "Request latency.", labels, b, 3);
    assert_non_null(h);
    metrics_metric_t *m = metrics_with(h, "GET", NULL);
    metrics_observe(m, 0.05);
    metrics_observe(m, 0.1); /* le is inclusive */
    metrics_observe(m, 0.7);
    metrics_observe(m, 3);
    expect_render(r, "# HELP req_seconds Request latency.\n"
                     "# TYPE req_seconds histogram\n"
                     "req_seconds_bucket{method=\"GET\",le=\"0.1\"} 2\n"
                     "req_seconds_bucket{method=\"GET\",le=\"0.5\"} 2\n"
                     "req_seconds_bucket{method=\"GET\",le=\"1\"} 3\n"
                     "req_seconds_bucket{method=\"GET\",le=\"+Inf\"} 4\n"
                     "req_seconds_sum{method=\"GET\"} 3.85\n"
                     "req_seconds_count{method=\"GET\"} 4\n");
    /* Default buckets, no labels. */
    metrics_family_t *d = metrics_new_histogram(r, "a_seconds", "A.", NULL, NULL, 0);
    metrics_observe(metrics_with(d, NULL), 0.02);
    char *text = metrics_render(r, NULL);
    assert_non_null(strstr(text, "a_seconds_bucket{le=\"0.01\"} 0\na_seconds_bucket{le=\"0.025\"} 1\n"));
    assert_non_null(strstr(text, "a_seconds_bucket{le=\"10\"} 1\na_seconds_bucket{le=\"+Inf\"} 1\n"));
    free(text);
    /* Bad bucket lists are refused. */
    const double bad[] = {1, 0.5};
    assert_null(metrics_new_histogram(r, "b_seconds", "B.", NULL, bad, 2));
    metrics_registry_free(r);
}

static void test_summary(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    const char *labels[] = {"scheme", "host", "action", "method", "status", NULL};
    metrics_family_t *s = metrics_new_summary(r, "certmanager_http_acme_client_request_duration_seconds",
                                              "The HTTP request latencies in seconds for the ACME client.", labels);
    assert_non_null(s);
    metrics_metric_t *m = metrics_with(s, "https", "acme.test", "get_order", "POST", "200", NULL);
    for (int i = 1; i <= 100; i++)
        metrics_observe(m, i);
    metrics_with(s, "https", "acme.test", "discover", "GET", "999", NULL); /* no observations: NaN */
    expect_render(r,
        "# HELP certmanager_http_acme_client_request_duration_seconds The HTTP request latencies in seconds for the ACME client.\n"
        "# TYPE certmanager_http_acme_client_request_duration_seconds summary\n"
        "certmanager_http_acme_client_request_duration_seconds{scheme=\"https\",host=\"acme.test\",action=\"discover\",method=\"GET\",status=\"999\",quantile=\"0.5\"} NaN\n"
        "certmanager_http_acme_client_request_duration_seconds{scheme=\"https\",host=\"acme.test\",action=\"discover\",method=\"GET\",status=\"999\",quantile=\"0.9\"} NaN\n"
        "certmanager_http_acme_client_request_duration_seconds{scheme=\"https\",host=\"acme.test\",action=\"discover\",method=\"GET\",status=\"999\",quantile=\"0.99\"} NaN\n"
        "certmanager_http_acme_client_request_duration_seconds_sum{scheme=\"https\",host=\"acme.test\",action=\"discover\",method=\"GET\",status=\"999\"} 0\n"
        "certmanager_http_acme_client_request_duration_seconds_count{scheme=\"https\",host=\"acme.test\",action=\"discover\",method=\"GET\",status=\"999\"} 0\n"
        "certmanager_http_acme_client_request_duration_seconds{scheme=\"https\",host=\"acme.test\",action=\"get_order\",method=\"POST\",status=\"200\",quantile=\"0.5\"} 50\n"
        "certmanager_http_acme_client_request_duration_seconds{scheme=\"https\",host=\"acme.test\",action=\"get_order\",method=\"POST\",status=\"200\",quantile=\"0.9\"} 90\n"
        "certmanager_http_acme_client_request_duration_seconds{scheme=\"https\",host=\"acme.test\",action=\"get_order\",method=\"POST\",status=\"200\",quantile=\"0.99\"} 99\n"
        "certmanager_http_acme_client_request_duration_seconds_sum{scheme=\"https\",host=\"acme.test\",action=\"get_order\",method=\"POST\",status=\"200\"} 5050\n"
        "certmanager_http_acme_client_request_duration_seconds_count{scheme=\"https\",host=\"acme.test\",action=\"get_order\",method=\"POST\",status=\"200\"} 100\n");
    /* The reservoir is bounded: after 1000 more observations of 1000, only those remain in the window. */
    for (int i = 0; i < 1000; i++)
        metrics_observe(m, 1000);
    char *text = metrics_render(r, NULL);
    assert_non_null(strstr(text, "status=\"200\",quantile=\"0.5\"} 1000\n"));
    assert_non_null(strstr(text, "status=\"200\"} 1100\n")); /* count is a total */
    free(text);
    metrics_registry_free(r);
}

typedef struct {
    const char *names[3];
    const char *states[3];
} challenge_cache_t;

static void collect_challenges(void *ud, metrics_sink_t *sink)
{
    challenge_cache_t *c = ud;
    static const char *statuses[] = {"valid", "pending"};
    for (int i = 0; i < 3 && c->names[i]; i++)
        for (int s = 0; s < 2; s++) {
            const char *v[] = {statuses[s], c->names[i], "ns1"};
            assert_int_equal(metrics_sink_add(sink, strcmp(statuses[s], c->states[i]) == 0 ? 1 : 0, v, 3), 0);
        }
    const char *wrong[] = {"only-one"};
    assert_int_equal(metrics_sink_add(sink, 1, wrong, 1), -1);
}

static void test_collector(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    challenge_cache_t cache = {{"b", "a", NULL}, {"valid", "pending", NULL}};
    const char *labels[] = {"status", "name", "namespace", NULL};
    assert_non_null(metrics_new_collector(r, "certmanager_certificate_challenge_status",
                                          "The status of certificate challenges", METRICS_GAUGE, labels,
                                          collect_challenges, &cache));
    const char *head = "# HELP certmanager_certificate_challenge_status The status of certificate challenges\n"
                       "# TYPE certmanager_certificate_challenge_status gauge\n";
    char want[2048];
    snprintf(want, sizeof(want),
             "%scertmanager_certificate_challenge_status{status=\"pending\",name=\"a\",namespace=\"ns1\"} 1\n"
             "certmanager_certificate_challenge_status{status=\"pending\",name=\"b\",namespace=\"ns1\"} 0\n"
             "certmanager_certificate_challenge_status{status=\"valid\",name=\"a\",namespace=\"ns1\"} 0\n"
             "certmanager_certificate_challenge_status{status=\"valid\",name=\"b\",namespace=\"ns1\"} 1\n",
             head);
    expect_render(r, want);
    /* Computed on every scrape: a deleted challenge disappears. */
    cache.names[1] = NULL;
    snprintf(want, sizeof(want),
             "%scertmanager_certificate_challenge_status{status=\"pending\",name=\"b\",namespace=\"ns1\"} 0\n"
             "certmanager_certificate_challenge_status{status=\"valid\",name=\"b\",namespace=\"ns1\"} 1\n",
             head);
    expect_render(r, want);
    metrics_registry_free(r);
}

static void test_validation(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    assert_null(metrics_new_counter(r, "1bad", "x", NULL));
    assert_null(metrics_new_counter(r, "bad-name", "x", NULL));
    const char *l1[] = {"__reserved", NULL};
    assert_null(metrics_new_counter(r, "ok_a", "x", l1));
    const char *l2[] = {"a", "a", NULL};
    assert_null(metrics_new_counter(r, "ok_b", "x", l2));
    const char *l3[] = {"le", NULL};
    assert_null(metrics_new_histogram(r, "ok_c", "x", l3, NULL, 0));
    const char *l4[] = {"a", "b", NULL};
    metrics_family_t *f = metrics_new_counter(r, "ok:d_total", "x", l4);
    assert_non_null(f);
    assert_null(metrics_new_gauge(r, "ok:d_total", "dup", NULL));
    assert_null(metrics_with(f, "one", NULL));
    assert_null(metrics_with(f, "1", "2", "3", NULL));
    metrics_metric_t *m = metrics_with(f, "1", "2", NULL);
    assert_ptr_equal(m, metrics_with(f, "1", "2", NULL));
    /* Type mismatches and NULL are no-ops. */
    metrics_gauge_set(m, 5);
    metrics_observe(m, 5);
    metrics_counter_inc(NULL);
    assert_true(metrics_value(m) == 0);
    assert_true(isnan(metrics_value(NULL)));
    metrics_registry_free(r);
    metrics_registry_free(NULL);
}

static void test_child_cap(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    const char *l[] = {"i", NULL};
    metrics_family_t *f = metrics_new_counter(r, "many_total", "x", l);
    char v[16];
    int made = 0;
    for (int i = 0; i < 10050; i++) {
        snprintf(v, sizeof(v), "%d", i);
        if (metrics_with(f, v, NULL))
            made++;
    }
    assert_int_equal(made, 10000);
    metrics_registry_free(r);
}

static void test_format_value(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(metrics_format_value(0, b, sizeof(b)), "0");
    assert_string_equal(metrics_format_value(42, b, sizeof(b)), "42");
    assert_string_equal(metrics_format_value(0.1, b, sizeof(b)), "0.1");
    assert_string_equal(metrics_format_value(1.0 / 3, b, sizeof(b)), "0.3333333333333333");
    assert_string_equal(metrics_format_value(INFINITY, b, sizeof(b)), "+Inf");
    assert_string_equal(metrics_format_value(-INFINITY, b, sizeof(b)), "-Inf");
    assert_string_equal(metrics_format_value(NAN, b, sizeof(b)), "NaN");
    assert_string_equal(metrics_format_value(1e20, b, sizeof(b)), "1e+20");
}

static void test_process_metrics(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    assert_int_equal(metrics_register_process(r), 0);
    char *text = metrics_render(r, NULL);
    assert_non_null(text);
    const char *want[] = {"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ",
                          "# TYPE process_open_fds gauge\nprocess_open_fds ",
                          "# TYPE process_max_fds gauge\nprocess_max_fds ",
                          "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
                          "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ",
                          "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes "};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *p = strstr(text, want[i]);
        assert_non_null(p);
        double v = strtod(p + strlen(want[i]), NULL);
        assert_true(v >= 0);
        if (strstr(want[i], "resident") || strstr(want[i], "start_time") || strstr(want[i], "open_fds"))
            assert_true(v > 0);
    }
    free(text);
    metrics_registry_free(r);
}

static void *hammer(void *arg)
{
    metrics_family_t *f = arg;
    for (int i = 0; i < 10000; i++)
        metrics_counter_inc(metrics_with(f, (i & 1) ? "odd" : "even", NULL));
    return NULL;
}

static void test_concurrency(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    const char *l[] = {"k", NULL};
    metrics_family_t *f = metrics_new_counter(r, "hits_total", "x", l);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, f);
    for (int i = 0; i < 4; i++) {
        char *text = metrics_render(r, NULL);
        free(text);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    expect_render(r, "# HELP hits_total x\n# TYPE hits_total counter\nhits_total{k=\"even\"} 20000\n"
                     "hits_total{k=\"odd\"} 20000\n");
    metrics_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_golden), cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram_golden),     cmocka_unit_test(test_summary),
        cmocka_unit_test(test_collector),            cmocka_unit_test(test_validation),
        cmocka_unit_test(test_child_cap),            cmocka_unit_test(test_format_value),
        cmocka_unit_test(test_process_metrics),      cmocka_unit_test(test_concurrency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
