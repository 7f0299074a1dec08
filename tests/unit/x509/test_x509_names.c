/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "x509/names.h"

static void ok(const char *n)
{
    const char *p = x509_dns_name_problem(n, true);
    if (p)
        fail_msg("%s: unexpected problem %s", n, p);
}

static void bad(const char *n, bool wildcard, const char *want)
{
    const char *p = x509_dns_name_problem(n, wildcard);
    if (!p)
        fail_msg("%s: accepted", n);
    if (!strstr(p, want))
        fail_msg("%s: problem [%s] lacks [%s]", n, p, want);
}

static void test_dns_names(void **state)
{
    (void)state;
    ok("example.com");
    ok("a-b.example.com");
    ok("xn--bcher-kva.example");
    ok("*.example.com");
    ok("localhost");
    ok("1.example");
    bad("", true, "empty");
    bad("example.com.", true, "dot");
    bad("Example.com", true, "lower case");
    bad("b\xc3\xbc" "cher.example", true, "A-labels");
    bad("a..b", true, "empty labels");
    bad(".example.com", true, "empty labels");
    bad("-a.example.com", true, "start and end");
    bad("a-.example.com", true, "start and end");
    bad("a_b.example.com", true, "a-z, 0-9");
    bad("a.*.example.com", true, "leftmost");
    bad("*a.example.com", true, "leftmost");
    bad("*.example.com", false, "wildcard");
    bad("*", true, "at least one label");
    char label[80];
    memset(label, 'a', 64);
    strcpy(label + 64, ".com");
    bad(label, true, "63");
    memset(label, 'a', 63);
    strcpy(label + 63, ".com");
    ok(label);
    char total[300];
    /* 4 x 63 + 3 dots = 255 > 253 */
    memset(total, 'a', sizeof(total));
    total[63] = total[127] = total[191] = '.';
    total[255] = '\0';
    bad(total, true, "253");
    total[253] = '\0'; /* 253 characters, last label 61 */
    ok(total);
}

static void test_ips(void **state)
{
    (void)state;
    unsigned char b[16];
    assert_int_equal(x509_ip_parse("192.0.2.1", b), 4);
    assert_int_equal(x509_ip_parse("::1", b), 6);
    assert_int_equal(x509_ip_parse("example.com", b), 0);
    assert_int_equal(x509_ip_parse("[::1]", b), 0);
    assert_int_equal(x509_ip_parse("fe80::1%eth0", b), 0);
    assert_true(x509_ip_equal("::1", "0:0::1"));
    assert_true(x509_ip_equal("::1", "0000:0000:0000:0000:0000:0000:0000:0001"));
    assert_true(x509_ip_equal("2001:db8::1", "2001:DB8:0::1"));
    assert_false(x509_ip_equal("::1", "::2"));
    assert_false(x509_ip_equal("1.2.3.4", "nope"));
    char c[64];
    assert_int_equal(x509_ip_canonical("2001:0DB8:0:0::1", c, sizeof(c)), 0);
    assert_string_equal(c, "2001:db8::1");
    assert_int_equal(x509_ip_canonical("x", c, sizeof(c)), -1);
    assert_true(x509_ip_is_private("10.1.2.3"));
    assert_true(x509_ip_is_private("172.16.0.1"));
    assert_false(x509_ip_is_private("172.32.0.1"));
    assert_true(x509_ip_is_private("192.168.0.1"));
    assert_true(x509_ip_is_private("127.0.0.1"));
    assert_true(x509_ip_is_private("100.64.0.1"));
    assert_true(x509_ip_is_private("::1"));
    assert_true(x509_ip_is_private("fd00::1"));
    assert_true(x509_ip_is_private("fe80::1"));
    assert_true(x509_ip_is_private("::ffff:10.0.0.1"));
    assert_false(x509_ip_is_private("8.8.8.8"));
    assert_false(x509_ip_is_private("2001:4860::8888"));
    assert_false(x509_ip_is_private("example.com"));
}

static void test_wildcard_covers(void **state)
{
    (void)state;
    assert_true(x509_wildcard_covers("*.example.com", "a.example.com"));
    assert_true(x509_wildcard_covers("*.example.com", "A.Example.com"));
    assert_false(x509_wildcard_covers("*.example.com", "example.com"));
    assert_false(x509_wildcard_covers("*.example.com", "a.b.example.com"));
    assert_false(x509_wildcard_covers("example.com", "a.example.com"));
}

/* The name-set helpers live in names.c (no OpenSSL), so the webhook links them without libcrypto. */
static void test_sets(void **state)
{
    (void)state;
    const char *a[] = {"a.example.com", "b.example.com"};
    const char *b[] = {"b.example.com", "a.example.com", "a.example.com"};
    const char *c[] = {"a.example.com"};
    assert_true(x509_dns_sets_equal(a, 2, b, 3));
    assert_false(x509_dns_sets_equal(a, 2, c, 1));
    assert_true(x509_dns_sets_equal(NULL, 0, NULL, 0));
    const char *i1[] = {"::1", "192.0.2.1"};
    const char *i2[] = {"192.0.2.1", "0:0::1"};
    const char *i3[] = {"192.0.2.1", "nope"};
    assert_true(x509_ip_sets_equal(i1, 2, i2, 2));
    assert_false(x509_ip_sets_equal(i1, 2, i3, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_names),
        cmocka_unit_test(test_ips),
        cmocka_unit_test(test_wildcard_covers),
        cmocka_unit_test(test_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
