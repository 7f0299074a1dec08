/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "names.h"

static void test_fnv1_vectors(void **state)
{
    (void)state;
    /* Published FNV-1 32-bit vectors (the same as Go's hash/fnv New32 golden values). */
    assert_int_equal(names_fnv1_32("", 0), 0x811c9dc5u);
    assert_int_equal(names_fnv1_32("a", 1), 0x050c5d7eu);
    assert_int_equal(names_fnv1_32("ab", 2), 0x70772d38u);
    assert_int_equal(names_fnv1_32("abc", 3), 0x439c2f4bu);
    /* and not FNV-1a, whose "a" is 0xe40c292c */
    assert_int_not_equal(names_fnv1_32("a", 1), 0xe40c292cu);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_shorten52(void **state)
{
    (void)state;
    char *s = repeat('a', 51);
    assert_int_equal(names_shorten52_len(s), 51);
    s[50] = '-'; /* below 52 bytes nothing is cut, not even a trailing '-' */
    assert_int_equal(names_shorten52_len(s), 51);
    free(s);

    s = repeat('a', 52);
    assert_int_equal(names_shorten52_len(s), 52);
    s[51] = '-';
    assert_int_equal(names_shorten52_len(s), 51);
    s[50] = '.';
    assert_int_equal(names_shorten52_len(s), 50);
    free(s);

    s = repeat('a', 53);
    assert_int_equal(names_shorten52_len(s), 52);
    s[51] = '-'; /* byte 52 (index 51) is the last kept; index 52 is already gone */
    assert_int_equal(names_shorten52_len(s), 51);
    s[51] = 'b';
    s[52] = '-';
    assert_int_equal(names_shorten52_len(s), 52);
    free(s);

    s = repeat('-', 60);
    assert_int_equal(names_shorten52_len(s), 0);
    free(s);
    assert_int_equal(names_shorten52_len(""), 0);
    assert_int_equal(names_shorten52_len("cr-1"), 4);
}

static void test_canonical_json_sorted_and_escaped(void **state)
{
    (void)state;
    json_object *o = json_tokener_parse(
        "{\"b\":[1,true,null,\"x\"],\"a\":{\"z\":\"q\\\"\\\\\\n\\u0001/<>&é\",\"y\":-3},\"c\":1.50}");
    assert_non_null(o);
    char *js = names_canonical_json(o);
    assert_non_null(js);
    assert_string_equal(js, "{\"a\":{\"y\":-3,\"z\":\"q\\\"\\\\\\n\\u0001/<>&é\"},\"b\":[1,true,null,\"x\"],\"c\":1.50}");
    free(js);
    json_object_put(o);

    js = names_canonical_json(NULL);
    assert_string_equal(js, "null");
    free(js);
}

static json_object *order_spec(const char *order_of_keys)
{
    /* the same spec with members in two different orders */
    const char *a = "{\"request\":\"LS0tLS1CRUdJTg==\",\"issuerRef\":{\"name\":\"le\",\"kind\":\"ClusterIssuer\"},"
                    "\"commonName\":\"example.com\",\"dnsNames\":[\"example.com\",\"*.example.com\"]}";
    const char *b = "{\"dnsNames\":[\"example.com\",\"*.example.com\"],\"commonName\":\"example.com\","
                    "\"issuerRef\":{\"kind\":\"ClusterIssuer\",\"name\":\"le\"},\"request\":\"b3RoZXI=\"}";
    json_object *o = json_tokener_parse(order_of_keys[0] == 'a' ? a : b);
    assert_non_null(o);
    return o;
}

static void test_order_name_stable(void **state)
{
    (void)state;
    char n1[NAMES_MAX], n2[NAMES_MAX], n3[NAMES_MAX];
    json_object *a = order_spec("a"), *b = order_spec("b");
    const char *before = json_object_to_json_string(a);
    char *copy = strdup(before);

    assert_int_equal(names_order("my-cert-1", a, n1, sizeof(n1)), 0);
    /* key order and the request bytes do not matter (request is hashed as null) */
    assert_int_equal(names_order("my-cert-1", b, n2, sizeof(n2)), 0);
    assert_string_equal(n1, n2);
    assert_true(strncmp(n1, "my-cert-1-", 10) == 0);
    /* the input is not modified */
    assert_string_equal(json_object_to_json_string(a), copy);

    /* the hash is FNV-1 of the canonical spec with request null */
    json_object *expect = json_tokener_parse("{\"commonName\":\"example.com\",\"dnsNames\":[\"example.com\","
                                             "\"*.example.com\"],\"issuerRef\":{\"kind\":\"ClusterIssuer\","
                                             "\"name\":\"le\"},\"request\":null}");
    char *js = names_canonical_json(expect);
    char want[NAMES_MAX];
    snprintf(want, sizeof(want), "my-cert-1-%u", (unsigned)names_fnv1_32(js, strlen(js)));
    assert_string_equal(n1, want);
    free(js);
    json_object_put(expect);

    /* a different spec gives a different name */
    json_object_object_add(b, "commonName", json_object_new_string("other.example.com"));
    assert_int_equal(names_order("my-cert-1", b, n3, sizeof(n3)), 0);
    assert_string_not_equal(n1, n3);

    free(copy);
    json_object_put(a);
    json_object_put(b);
}

static void test_order_name_long_cr(void **state)
{
    (void)state;
    /* two 60-byte CR names sharing the first 52 bytes: same prefix, different hash */
    char *cr1 = repeat('c', 60), *cr2 = repeat('c', 60);
    cr2[59] = 'd';
    json_object *spec = order_spec("a");
    char n1[NAMES_MAX], n2[NAMES_MAX];
    assert_int_equal(names_order(cr1, spec, n1, sizeof(n1)), 0);
    assert_int_equal(names_order(cr2, spec, n2, sizeof(n2)), 0);
    assert_string_not_equal(n1, n2);
    assert_true(strlen(n1) <= 63);
    assert_int_equal(strncmp(n1, cr1, 52), 0);
    assert_int_equal(n1[52], '-');

    /* the hashed object is {"certificateRequestName": cr, "spec": spec with request null} */
    json_object *w = json_object_new_object();
    json_object *sp = json_tokener_parse(json_object_to_json_string(spec));
    json_object_object_add(sp, "request", NULL);
    json_object_object_add(w, "certificateRequestName", json_object_new_string(cr1));
    json_object_object_add(w, "spec", sp);
    char want[NAMES_MAX];
    assert_int_equal(names_compute(cr1, w, want, sizeof(want)), 0);
    assert_string_equal(n1, want);
    json_object_put(w);

    /* exactly 51 bytes: no wrapping, and the prefix is kept whole */
    char *cr51 = repeat('e', 51);
    assert_int_equal(names_order(cr51, spec, n1, sizeof(n1)), 0);
    assert_int_equal(strncmp(n1, cr51, 51), 0);
    assert_int_equal(n1[51], '-');

    free(cr1);
    free(cr2);
    free(cr51);
    json_object_put(spec);
}

static void test_challenge_name(void **state)
{
    (void)state;
    json_object *spec = json_tokener_parse(
        "{\"url\":\"https://ca/chall/1\",\"authorizationURL\":\"https://ca/authz/1\",\"dnsName\":\"example.com\","
        "\"wildcard\":false,\"type\":\"HTTP-01\",\"token\":\"tok\",\"key\":\"tok.thumb\","
        "\"solver\":{\"http01\":{\"ingress\":{\"class\":\"nginx\"}}},\"issuerRef\":{\"name\":\"le\"}}");
    assert_non_null(spec);
    char n1[NAMES_MAX], n2[NAMES_MAX];
    assert_int_equal(names_challenge("my-cert-1-123", spec, n1, sizeof(n1)), 0);
    /* key is hashed as "": filling it in later does not change the name */
    json_object_object_add(spec, "key", json_object_new_string(""));
    assert_int_equal(names_challenge("my-cert-1-123", spec, n2, sizeof(n2)), 0);
    assert_string_equal(n1, n2);
    json_object_object_del(spec, "key");
    assert_int_equal(names_challenge("my-cert-1-123", spec, n2, sizeof(n2)), 0);
    assert_string_equal(n1, n2);
    assert_true(strncmp(n1, "my-cert-1-123-", 14) == 0);
    /* the solver is part of the hash */
    json_object *solver = json_object_object_get(spec, "solver");
    json_object_object_add(solver, "selector", json_object_new_object());
    assert_int_equal(names_challenge("my-cert-1-123", spec, n2, sizeof(n2)), 0);
    assert_string_not_equal(n1, n2);
    json_object_put(spec);
}

static void test_errors(void **state)
{
    (void)state;
    char small[8];
    json_object *spec = order_spec("a");
    assert_int_equal(names_order("my-cert-1", spec, small, sizeof(small)), -1);
    json_object *arr = json_object_new_array();
    char n[NAMES_MAX];
    assert_int_equal(names_order("x", arr, n, sizeof(n)), -1);
    assert_int_equal(names_challenge("x", arr, n, sizeof(n)), -1);
    assert_int_equal(names_challenge("x", NULL, n, sizeof(n)), -1);
    json_object_put(arr);
    json_object_put(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1_vectors),
        cmocka_unit_test(test_shorten52),
        cmocka_unit_test(test_canonical_json_sorted_and_escaped),
        cmocka_unit_test(test_order_name_stable),
        cmocka_unit_test(test_order_name_long_cr),
        cmocka_unit_test(test_challenge_name),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
