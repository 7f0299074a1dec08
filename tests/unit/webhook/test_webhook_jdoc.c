/* SPDX-License-Identifier: Apache-2.0 */
/* webhook/jdoc: the arena JSON documents of the admission path. What the validators rely on: null reads as
 * absent, members by key whatever their order, the last of duplicate keys, deep equality regardless of key
 * order, the nesting cap, refusal of anything but one well-formed UTF-8 JSON text, exact re-encoding, and
 * reuse of one document across many parses (large ones give their memory back). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jdoc.h"

static const jdoc_value_t *parse(jdoc_t *d, const char *text)
{
    const jdoc_value_t *v = NULL;
    char err[256];
    if (jdoc_parse(d, text, strlen(text), 64, &v, err, sizeof(err)) != 0)
        fail_msg("parse of %s failed: %s", text, err);
    return v;
}

static char *to_json(const jdoc_value_t *v)
{
    size_t n = 0;
    char *s = jdoc_to_json(v, &n);
    assert_non_null(s);
    assert_int_equal(strlen(s), n);
    return s;
}

static void test_types_and_access(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    assert_non_null(d);
    const jdoc_value_t *v = parse(d, " {\"s\":\"x\\u00e9\\n\",\"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null,"
                                     "\"a\":[1,null,\"two\",{}],\"o\":{\"k\":[]}} \n");
    assert_true(jdoc_is(v, JDOC_OBJECT));
    assert_int_equal(jdoc_len(v), 7);
    assert_string_equal(jdoc_string(jdoc_get(v, "s")), "x\xc3\xa9\n");
    assert_int_equal(jdoc_string_len(jdoc_get(v, "s")), 4);
    assert_int_equal(jdoc_type(jdoc_get(v, "n")), JDOC_NUMBER);
    assert_null(jdoc_string(jdoc_get(v, "n")));
    assert_true(jdoc_bool(jdoc_get(v, "t")));
    assert_false(jdoc_bool(jdoc_get(v, "f")));
    assert_true(jdoc_is(jdoc_get(v, "f"), JDOC_BOOL));
    /* null reads like an absent member, as json-c's API did */
    assert_null(jdoc_get(v, "z"));
    assert_null(jdoc_get(v, "missing"));
    assert_true(jdoc_is(NULL, JDOC_NULL));
    const jdoc_value_t *a = jdoc_get(v, "a");
    assert_int_equal(jdoc_len(a), 4);
    assert_null(jdoc_at(a, 1));
    assert_string_equal(jdoc_string(jdoc_at(a, 2)), "two");
    assert_true(jdoc_is(jdoc_at(a, 3), JDOC_OBJECT));
    assert_null(jdoc_at(a, 4));
    assert_null(jdoc_get(a, "0")); /* no member lookup on arrays */
    assert_int_equal(jdoc_len(jdoc_get(jdoc_get(v, "o"), "k")), 0);
    assert_true(jdoc_is(jdoc_get(jdoc_get(v, "o"), "k"), JDOC_ARRAY));
    /* members iterate in key order */
    assert_string_equal(jdoc_key_at(v, 0, NULL), "a");
    assert_string_equal(jdoc_key_at(v, 6, NULL), "z");
    assert_null(jdoc_key_at(v, 7, NULL));
    assert_null(jdoc_key_at(a, 0, NULL));
    /* accessors take NULL */
    assert_int_equal(jdoc_len(NULL), 0);
    assert_null(jdoc_get(NULL, "x"));
    assert_null(jdoc_string(NULL));
    assert_false(jdoc_bool(NULL));
    /* scalars and null at the top */
    assert_int_equal(jdoc_type(parse(d, "\"top\"")), JDOC_STRING);
    assert_null(parse(d, "null"));
    assert_int_equal(jdoc_type(parse(d, "12345678901234567890123")), JDOC_NUMBER);
    jdoc_free(d);
}

static void test_duplicates_keep_last(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    const jdoc_value_t *v = parse(d, "{\"k\":1,\"b\":2,\"k\":\"second\",\"a\":0,\"k\":\"third\"}");
    assert_int_equal(jdoc_len(v), 3);
    assert_string_equal(jdoc_string(jdoc_get(v, "k")), "third");
    /* many keys (the sorted path above the insertion-sort size) */
    char buf[8192];
    size_t o = 0;
    buf[o++] = '{';
    for (int i = 99; i >= 0; i--)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"k%02d\":%d,", i, i);
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"k42\":\"last\"}");
    v = parse(d, buf);
    assert_int_equal(jdoc_len(v), 100);
    assert_string_equal(jdoc_string(jdoc_get(v, "k42")), "last");
    char *s = to_json(jdoc_get(v, "k07"));
    assert_string_equal(s, "7");
    free(s);
    for (size_t i = 1; i < jdoc_len(v); i++)
        assert_true(strcmp(jdoc_key_at(v, i - 1, NULL), jdoc_key_at(v, i, NULL)) < 0);
    jdoc_free(d);
}

static void test_equal(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    const jdoc_value_t *v = parse(d, "[{\"a\":1,\"b\":[true,\"x\"],\"c\":{}},{\"c\":{},\"b\":[true,\"x\"],\"a\":1},"
                                     "{\"a\":1,\"b\":[\"x\",true],\"c\":{}},{\"a\":1,\"b\":[true,\"x\"]},"
                                     "{\"a\":1.0,\"b\":[true,\"x\"],\"c\":{}},{\"a\":null},{}]");
    assert_true(jdoc_equal(jdoc_at(v, 0), jdoc_at(v, 1)));  /* key order does not matter */
    assert_false(jdoc_equal(jdoc_at(v, 0), jdoc_at(v, 2))); /* item order does */
    assert_false(jdoc_equal(jdoc_at(v, 0), jdoc_at(v, 3))); /* a member fewer */
    assert_false(jdoc_equal(jdoc_at(v, 0), jdoc_at(v, 4))); /* 1 and 1.0 are different texts */
    assert_false(jdoc_equal(jdoc_at(v, 5), jdoc_at(v, 6))); /* a null member is still a member */
    assert_true(jdoc_equal(NULL, NULL));
    assert_false(jdoc_equal(jdoc_at(v, 6), NULL));
    jdoc_free(d);
}

static void test_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "{", "{\"a\":1", "{\"a\" 1}", "{\"a\":1}x", "{\"a\":1} {}", "[1,]", "{'a':1}", "tru",
        "\"\xff\"", "\"a\x01\"", "// c\n{}", "01", "{\"a\":1,}", "\"\\uZZZZ\"", "[\"unterminated]",
    };
    jdoc_t *d = jdoc_new();
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const jdoc_value_t *v = (const jdoc_value_t *)1;
        if (jdoc_parse(d, bad[i], strlen(bad[i]), 64, &v, err, sizeof(err)) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_null(v);
        assert_true(strlen(err) > 0);
    }
    /* nesting: 64 levels are fine, 65 are not; the reason says so */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    const jdoc_value_t *v = NULL;
    assert_int_equal(jdoc_parse(d, deep, 130, 64, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nesting too deep"));
    assert_int_equal(jdoc_parse(d, deep + 1, 128, 64, &v, err, sizeof(err)), 0);
    /* the document still works after errors */
    assert_string_equal(jdoc_string(jdoc_get(parse(d, "{\"x\":\"y\"}"), "x")), "y");
    /* a NUL inside the length is an error, not the end of the text */
    assert_int_equal(jdoc_parse(d, "{}\0{}", 5, 64, &v, err, sizeof(err)), -1);
    /* err may be omitted */
    assert_int_equal(jdoc_parse(d, "{", 1, 64, &v, NULL, 0), -1);
    jdoc_free(d);
}

static void test_roundtrip(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    const char *text = "{\"a\":[1,-2.5e-3,true,false,null,\"q\\\"\\\\/\\u0001\\u0000x\"],\"b\":{}}";
    const jdoc_value_t *v = parse(d, text);
    const jdoc_value_t *s = jdoc_at(jdoc_get(v, "a"), 5);
    assert_int_equal(jdoc_string_len(s), 7); /* q " \ / 0x01 0x00 x: the NUL is kept */
    char *out = to_json(v);
    /* re-parse the output: the same value */
    jdoc_t *d2 = jdoc_new();
    assert_true(jdoc_equal(v, parse(d2, out)));
    free(out);
    out = to_json(NULL);
    assert_string_equal(out, "null");
    free(out);
    jdoc_free(d2);
    jdoc_free(d);
}

static void test_reuse_and_large(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    /* a large document (several arena chunks, one oversized string), then many small ones */
    size_t n = 3u * 1024u * 1024u;
    char *big = malloc(n + 64);
    assert_non_null(big);
    size_t o = (size_t)sprintf(big, "{\"s\":\"");
    memset(big + o, 'x', 1024 * 1024);
    o += 1024 * 1024;
    o += (size_t)sprintf(big + o, "\",\"a\":[");
    while (o < n - 4) {
        big[o++] = '0';
        big[o++] = ',';
    }
    big[o++] = '0';
    big[o++] = ']';
    big[o++] = '}';
    const jdoc_value_t *v = NULL;
    char err[128];
    assert_int_equal(jdoc_parse(d, big, o, 64, &v, err, sizeof(err)), 0);
    assert_int_equal(jdoc_string_len(jdoc_get(v, "s")), 1024 * 1024);
    assert_true(jdoc_len(jdoc_get(v, "a")) > 500000);
    free(big);
    for (int i = 0; i < 10000; i++) {
        char t[64];
        snprintf(t, sizeof(t), "{\"i\":\"%d\",\"j\":[%d]}", i, i);
        v = parse(d, t);
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        assert_string_equal(jdoc_string(jdoc_get(v, "i")), want);
    }
    jdoc_release(d);
    jdoc_release(d);
    jdoc_free(d);
    jdoc_free(NULL);
    jdoc_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_access), cmocka_unit_test(test_duplicates_keep_last),
        cmocka_unit_test(test_equal),            cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_roundtrip),        cmocka_unit_test(test_reuse_and_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
