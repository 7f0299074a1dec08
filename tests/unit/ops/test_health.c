/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "ops/health.h"
#include "ops/metrics.h"

typedef struct reply {
    long status;
    char body[8192];
    size_t len;
    char ctype[128];
    char allow[64];
} reply_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    reply_t *r = ud;
    size_t l = sz * n;
    if (r->len + l >= sizeof(r->body))
        return 0;
    memcpy(r->body + r->len, p, l);
    r->len += l;
    r->body[r->len] = '\0';
    return l;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    reply_t *r = ud;
    size_t l = sz * n;
    if (l > 6 && strncasecmp(p, "Allow:", 6) == 0)
        snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(l - 8), p + 7);
    return l;
}

static reply_t *fetch(int port, const char *method, const char *path)
{
    static reply_t r;
    memset(&r, 0, sizeof(r));
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fprintf(stderr, "curl: %s\n", curl_easy_strerror(rc));
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r.ctype, sizeof(r.ctype), "%s", ct);
    curl_easy_cleanup(c);
    return &r;
}

static int check_ok(void *ud, char *reason, size_t len)
{
    (void)ud;
    (void)reason;
    (void)len;
    return 0;
}

static int check_flag(void *ud, char *reason, size_t len)
{
    int *healthy = ud;
    if (*healthy)
        return 0;
    snprintf(reason, len, "lease expired 25s ago\n\x01");
    return -1;
}

static int hello(void *ud, const ops_request_t *req, ops_response_t *resp)
{
    (void)ud;
    resp->body = strdup(ops_request_has_query(req, "loud") ? "HELLO\n" : "hello\n");
    resp->body_len = strlen(resp->body);
    resp->status = 200;
    return 0;
}

static void test_health_endpoints(void **state)
{
    (void)state;
    char err[256];
    int leader_ok = 1;
    ops_server_t *s = ops_server_new("127.0.0.1:0", NULL, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(ops_server_port(s), -1);
    assert_int_equal(ops_server_serve_health(s), 0);
    assert_int_equal(ops_server_add_check(s, OPS_LIVEZ | OPS_HEALTHZ, "leaderElection", check_flag, &leader_ok), 0);
    assert_int_equal(ops_server_add_check(s, OPS_ALL, "clockHealth", check_ok, NULL), 0);
    assert_int_equal(ops_server_add_check(s, OPS_LIVEZ, "clockHealth", check_ok, NULL), -1); /* duplicate */
    assert_int_equal(ops_server_add_check(s, OPS_ALL, "bad name", check_ok, NULL), -1);
    assert_int_equal(ops_server_handle(s, "/hello", hello, NULL), 0);
    assert_int_equal(ops_server_start(s, err, sizeof(err)), 0);
    int port = ops_server_port(s);
    assert_true(port > 0);
    assert_int_equal(ops_server_add_check(s, OPS_ALL, "late", check_ok, NULL), -1);

    reply_t *r = fetch(port, "GET", "/livez");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok");
    assert_non_null(strstr(r->ctype, "text/plain"));

    r = fetch(port, "GET", "/readyz?verbose");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "[+]ping ok\n[+]clockHealth ok\nreadyz check passed\n");

    leader_ok = 0;
    r = fetch(port, "GET", "/livez");
    assert_int_equal(r->status, 500);
    assert_string_equal(r->body, "[+]ping ok\n[-]leaderElection failed: reason withheld\n[+]clockHealth ok\n"
                                 "livez check failed\n");
    r = fetch(port, "GET", "/healthz?verbose=1");
    assert_int_equal(r->status, 500);
    assert_non_null(strstr(r->body, "[-]leaderElection failed: lease expired 25s ago??\n"));
    /* Not registered for readyz. */
    r = fetch(port, "GET", "/readyz");
    assert_int_equal(r->status, 200);
    /* Excluding the failing check. */
    r = fetch(port, "GET", "/livez?exclude=leaderElection");
    assert_int_equal(r->status, 200);
    /* One check by name. */
    r = fetch(port, "GET", "/livez/clockHealth");
    assert_int_equal(r->status, 200);
    r = fetch(port, "GET", "/livez/leaderElection");
    assert_int_equal(r->status, 500);
    r = fetch(port, "GET", "/readyz/leaderElection");
    assert_int_equal(r->status, 404);
    r = fetch(port, "GET", "/livez/nope");
    assert_int_equal(r->status, 404);

    r = fetch(port, "HEAD", "/livez");
    assert_int_equal(r->status, 500);
    r = fetch(port, "POST", "/livez");
    assert_int_equal(r->status, 405);
    assert_non_null(strstr(r->allow, "GET"));
    r = fetch(port, "DELETE", "/hello");
    assert_int_equal(r->status, 405);
    r = fetch(port, "GET", "/nothing");
    assert_int_equal(r->status, 404);
    r = fetch(port, "GET", "/livezz");
    assert_int_equal(r->status, 404);

    r = fetch(port, "GET", "/hello");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello\n");
    r = fetch(port, "GET", "/hello?loud");
    assert_string_equal(r->body, "HELLO\n");
    ops_server_free(s);
}

static void test_metrics_listener(void **state)
{
    (void)state;
    char err[256];
    metrics_registry_t *reg = metrics_registry_new();
    metrics_counter_inc(metrics_with(metrics_new_counter(reg, "x_total", "X.", NULL), NULL));
    /* Metrics on their own listener: no health endpoints there. */
    ops_server_t *s = ops_server_new(":0", NULL, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(ops_server_handle(s, "/metrics", ops_metrics_handler, reg), 0);
    assert_int_equal(ops_server_handle(s, "/metrics", ops_metrics_handler, reg), -1);
    assert_int_equal(ops_server_start(s, err, sizeof(err)), 0);
    reply_t *r = fetch(ops_server_port(s), "GET", "/metrics");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n");
    assert_string_equal(r->ctype, METRICS_CONTENT_TYPE);
    r = fetch(ops_server_port(s), "GET", "/livez");
    assert_int_equal(r->status, 404);
    ops_server_free(s);
    metrics_registry_free(reg);
}

static void test_ipv6_listener(void **state)
{
    (void)state;
    char err[256];
    ops_server_t *s = ops_server_new("[::1]:0", NULL, err, sizeof(err));
    assert_non_null(s);
    ops_server_serve_health(s);
    if (ops_server_start(s, err, sizeof(err)) != 0) {
        /* No IPv6 loopback in this environment: nothing to test. */
        ops_server_free(s);
        skip();
    }
    char url[64];
    snprintf(url, sizeof(url), "http://[::1]:%d/livez", ops_server_port(s));
    CURL *c = curl_easy_init();
    reply_t r = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    assert_int_equal(r.status, 200);
    ops_server_free(s);
}

static void test_parse_listen_address(void **state)
{
    (void)state;
    char host[64], err[128];
    int port;
    assert_int_equal(ops_parse_listen_address("0.0.0.0:9402", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 9402);
    assert_int_equal(ops_parse_listen_address(":9403", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "");
    assert_int_equal(port, 9403);
    assert_int_equal(ops_parse_listen_address("[::1]:9402", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(ops_parse_listen_address("localhost:0", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 0);
    const char *bad[] = {"", "9402", "::1:9402", "[::1]9402", "[::1", "host:", "host:65536", "host:-1",
                         "host:12a", "host: 80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ops_parse_listen_address(bad[i], host, sizeof(host), &port, err, sizeof(err)), -1);
    char tiny[4];
    assert_int_equal(ops_parse_listen_address("example.com:1", tiny, sizeof(tiny), &port, err, sizeof(err)), -1);
    assert_null(ops_server_new("nope", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "nope"));
}

static void test_port_in_use(void **state)
{
    (void)state;
    char err[256], addr[64];
    ops_server_t *a = ops_server_new("127.0.0.1:0", NULL, err, sizeof(err));
    assert_int_equal(ops_server_start(a, err, sizeof(err)), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ops_server_port(a));
    ops_server_t *b = ops_server_new(addr, NULL, err, sizeof(err));
    assert_non_null(b);
    assert_int_equal(ops_server_start(b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "listen on"));
    ops_server_free(b);
    ops_server_free(a);
    ops_server_free(NULL);
}

static void test_clock_health(void **state)
{
    (void)state;
    char reason[128];
    assert_int_equal(ops_clock_health_check(NULL, reason, sizeof(reason)), 0);
    assert_int_equal(ops_clock_health_check(NULL, reason, sizeof(reason)), 0);
    /* 1000 s of wall time in 1000 s of monotonic time: fine; +/- 301 s jump: not. */
    assert_int_equal(ops_clock_drift_check(5000, 10, 6000, 1010, 300, reason, sizeof(reason)), 0);
    assert_int_equal(ops_clock_drift_check(5000, 10, 6301, 1010, 300, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "drifted 301s"));
    assert_int_equal(ops_clock_drift_check(5000, 10, 5699, 1010, 300, reason, sizeof(reason)), -1);
    assert_int_equal(ops_clock_drift_check(5000, 10, 5701, 1010, 300, reason, sizeof(reason)), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_endpoints),    cmocka_unit_test(test_metrics_listener),
        cmocka_unit_test(test_ipv6_listener),       cmocka_unit_test(test_parse_listen_address),
        cmocka_unit_test(test_port_in_use),         cmocka_unit_test(test_clock_health),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
