/* SPDX-License-Identifier: Apache-2.0 */
/* The solver's pure parts: flag parsing and the request table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acmesolver.h"

static const acmesolver_config_t CFG = {
    .listen_port = 8089, .domain = "Example.COM", .token = "tok_-9A", .key = "tok_-9A.thumbprint"};

typedef struct row {
    const char *method, *target, *host;
    int status;
    bool key;
} row_t;

static void test_request_table(void **state)
{
    (void)state;
    static const row_t rows[] = {
        {"GET", "/.well-known/acme-challenge/tok_-9A", "example.com", 200, true},
        {"GET", "/.well-known/acme-challenge/tok_-9A", "EXAMPLE.com", 200, true},
        {"GET", "/.well-known/acme-challenge/tok_-9A", "example.com:80", 200, true},
        {"GET", "/.well-known/acme-challenge/tok_-9A", "example.com.", 200, true},
        {"HEAD", "/.well-known/acme-challenge/tok_-9A", "example.com", 200, true},
        {"GET", "/.well-known/acme-challenge/tok_-9A?x=1", "example.com", 200, true},
        {"GET", "http://example.com/.well-known/acme-challenge/tok_-9A", NULL, 200, true},
        {"GET", "http://other.com/.well-known/acme-challenge/tok_-9A", "example.com", 404, false},
        /* wrong host, wrong token, path shapes */
        {"GET", "/.well-known/acme-challenge/tok_-9A", "other.example.com", 404, false},
        {"GET", "/.well-known/acme-challenge/tok_-9A", "example.com.evil", 404, false},
        {"GET", "/.well-known/acme-challenge/tok_-9A", NULL, 404, false},
        {"GET", "/.well-known/acme-challenge/tok_-9A", "", 404, false},
        {"GET", "/.well-known/acme-challenge/tok_-9B", "example.com", 404, false},
        {"GET", "/.well-known/acme-challenge/tok_-9", "example.com", 404, false},
        {"GET", "/.well-known/acme-challenge/tok_-9AA", "example.com", 404, false},
        {"GET", "/.well-known/acme-challenge/tok_-9A/", "example.com", 404, false},
        {"GET", "/.well-known/acme-challenge/", "example.com", 404, false},
        {"GET", "/.well-known/acme-challenge", "example.com", 404, false},
        {"GET", "/.well-known/acme-challenge//tok_-9A", "example.com", 404, false},
        {"GET", "/.well-known/acme-challenge/%74ok_-9A", "example.com", 404, false},
        {"GET", "/.well-known/acme%2Dchallenge/tok_-9A", "example.com", 404, false},
        {"GET", "/x/.well-known/acme-challenge/tok_-9A", "example.com", 404, false},
        {"GET", "/.WELL-KNOWN/acme-challenge/tok_-9A", "example.com", 404, false},
        {"GET", "", "example.com", 404, false},
        {"GET", "*", "example.com", 404, false},
        /* health */
        {"GET", "/", NULL, 200, false},
        {"GET", "/healthz", "anything", 200, false},
        {"HEAD", "/healthz", "anything", 200, false},
        {"GET", "/healthz/", "anything", 404, false},
        {"GET", "/healthz?probe=1", "anything", 200, false},
        {"GET", "/index.html", "example.com", 404, false},
        /* methods */
        {"POST", "/.well-known/acme-challenge/tok_-9A", "example.com", 405, false},
        {"PUT", "/", "example.com", 405, false},
        {"OPTIONS", "/healthz", "example.com", 405, false},
        {"get", "/", "example.com", 405, false},
        {"DELETE", "/nope", "example.com", 405, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const row_t *r = &rows[i];
        acmesolver_reply_t rep = acmesolver_decide(&CFG, r->method, r->target, strlen(r->target), r->host);
        if (rep.status != r->status)
            fail_msg("row %zu (%s %s host=%s): got %d want %d", i, r->method, r->target,
                     r->host ? r->host : "(none)", rep.status, r->status);
        assert_int_equal(rep.is_challenge, r->key);
        if (r->key) {
            assert_int_equal(rep.body_len, strlen(CFG.key));
            assert_memory_equal(rep.body, CFG.key, rep.body_len);
        } else if (rep.status == 200) {
            assert_int_equal(rep.body_len, 0);
        }
    }
}

static void test_ipv6_domain(void **state)
{
    (void)state;
    acmesolver_config_t cfg = CFG;
    cfg.domain = "2001:db8::1";
    const char *t = "/.well-known/acme-challenge/tok_-9A";
    assert_int_equal(acmesolver_decide(&cfg, "GET", t, strlen(t), "[2001:db8::1]:80").status, 200);
    assert_int_equal(acmesolver_decide(&cfg, "GET", t, strlen(t), "[2001:DB8::1]").status, 200);
    assert_int_equal(acmesolver_decide(&cfg, "GET", t, strlen(t), "[2001:db8::2]").status, 404);
    assert_int_equal(acmesolver_decide(&cfg, "GET", t, strlen(t), "[2001:db8::1").status, 404);
    assert_int_equal(acmesolver_decide(&cfg, "GET", t, strlen(t), "[2001:db8::1]x").status, 404);
    cfg.domain = "192.0.2.7";
    assert_int_equal(acmesolver_decide(&cfg, "GET", t, strlen(t), "192.0.2.7:8089").status, 200);
}

static int parse(acmesolver_config_t *cfg, char *err, size_t errlen, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "kacme-acmesolver";
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return acmesolver_parse_args(argc, argv, cfg, err, errlen);
}

static void test_flags(void **state)
{
    (void)state;
    acmesolver_config_t cfg;
    char err[ACMESOLVER_ERR_LEN];

    assert_int_equal(parse(&cfg, err, sizeof(err), 7, "--domain", "a.example", "--token", "T0k-_", "--key", "k.t"), 0);
    assert_int_equal(cfg.listen_port, 8089);
    assert_string_equal(cfg.domain, "a.example");
    assert_string_equal(cfg.token, "T0k-_");
    assert_string_equal(cfg.key, "k.t");
    assert_int_equal(cfg.verbosity, 0);

    assert_int_equal(parse(&cfg, err, sizeof(err), 6, "--listen-port=9000", "--domain=a", "--token=t", "--key=k",
                           "--v=2"), 0);
    assert_int_equal(cfg.listen_port, 9000);
    assert_int_equal(cfg.verbosity, 2);
    assert_int_equal(parse(&cfg, err, sizeof(err), 6, "-listen-port", "1", "--domain=a", "--token=t", "--key=k"), 0);
    assert_int_equal(cfg.listen_port, 1);

    struct {
        const char *a[4];
        const char *flag;
    } bad[] = {
        {{"--domain=a", "--token=t", "--key=k", "--listen-port=0"}, "--listen-port"},
        {{"--domain=a", "--token=t", "--key=k", "--listen-port=65536"}, "--listen-port"},
        {{"--domain=a", "--token=t", "--key=k", "--listen-port=80x"}, "--listen-port"},
        {{"--domain=a", "--token=t", "--key=k", "--listen-port=-1"}, "--listen-port"},
        {{"--domain=", "--token=t", "--key=k", "--v=1"}, "--domain"},
        {{"--v=1", "--token=t", "--key=k", "--v=1"}, "--domain"},
        {{"--domain=a", "--token=t=", "--key=k", "--v=1"}, "--token"},
        {{"--domain=a", "--token=a+b", "--key=k", "--v=1"}, "--token"},
        {{"--domain=a", "--token=a b", "--key=k", "--v=1"}, "--token"},
        {{"--domain=a", "--token=", "--key=k", "--v=1"}, "--token"},
        {{"--domain=a", "--token=t", "--key=", "--v=1"}, "--key"},
        {{"--domain=a", "--token=t", "--v=1", "--v=1"}, "--key"},
        {{"--domain=a", "--token=t", "--key=k", "--v=x"}, "--v"},
        {{"--domain=a", "--token=t", "--key=k", "--bogus=1"}, "--bogus"},
        {{"--domain=a", "--token=t", "--key=k", "--domain"}, "--domain"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = parse(&cfg, err, sizeof(err), 5, bad[i].a[0], bad[i].a[1], bad[i].a[2], bad[i].a[3]);
        if (rc != -1 || !strstr(err, bad[i].flag) || strchr(err, '\n'))
            fail_msg("case %zu: rc=%d err=%s (want flag %s)", i, rc, err, bad[i].flag);
    }
    assert_int_equal(parse(&cfg, err, sizeof(err), 2, "positional"), -1);
    assert_int_equal(parse(&cfg, err, sizeof(err), 2, "--version"), 1);
    assert_int_equal(parse(&cfg, err, sizeof(err), 2, "--help"), 1);
}

static void test_base64url(void **state)
{
    (void)state;
    assert_true(acmesolver_is_base64url("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"));
    assert_false(acmesolver_is_base64url(""));
    assert_false(acmesolver_is_base64url(NULL));
    assert_false(acmesolver_is_base64url("abc="));
    assert_false(acmesolver_is_base64url("a/b"));
    assert_false(acmesolver_is_base64url("a.b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_table),
        cmocka_unit_test(test_ipv6_domain),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_base64url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
