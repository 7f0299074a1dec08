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

#include <json-c/json.h>

#include "solverpicker.h"

static const solverpicker_challenge_t offered_all[] = {
    {"http-01", "https://ca/chall/h", "tok-h"},
    {"dns-01", "https://ca/chall/d", "tok-d"},
    {"tls-alpn-01", "https://ca/chall/t", "tok-t"},
};

static json_object *parse(const char *s)
{
    json_object *o = json_tokener_parse(s);
    assert_non_null(o);
    return o;
}

/* Picks for identifier (wildcard flag) over solvers JSON and labels JSON; returns the index (-1 = none). */
static int pick_ex(const char *solvers_js, const char *labels_js, const char *identifier, bool wildcard,
                   const solverpicker_challenge_t *offered, size_t n_offered, solverpicker_result_t *res, char *err,
                   size_t errlen)
{
    json_object *solvers = parse(solvers_js);
    json_object *labels = labels_js ? parse(labels_js) : NULL;
    solverpicker_authz_t az = {identifier, wildcard, offered, n_offered};
    solverpicker_result_t r;
    int rc = solverpicker_pick(solvers, labels, &az, &r, err, errlen);
    if (rc == 0) {
        assert_true(r.index >= 0);
        assert_ptr_equal(r.solver, json_object_array_get_idx(solvers, (size_t)r.index));
        assert_non_null(r.challenge);
    } else {
        assert_int_equal(r.index, -1);
    }
    if (res)
        *res = r;
    json_object_put(solvers);
    json_object_put(labels);
    return rc == 0 ? r.index : -1;
}

static int pick(const char *solvers_js, const char *labels_js, const char *identifier)
{
    char err[256];
    return pick_ex(solvers_js, labels_js, identifier, false, offered_all, 3, NULL, err, sizeof(err));
}

#define HTTP "\"http01\":{\"ingress\":{}}"
#define DNS "\"dns01\":{\"rfc2136\":{\"nameserver\":\"1.2.3.4\"}}"

static void test_catch_all_first_wins(void **state)
{
    (void)state;
    assert_int_equal(pick("[{" HTTP "},{" DNS "}]", NULL, "example.com"), 0);
    /* a catch-all after a selected solver is never taken, even after an empty selector */
    assert_int_equal(pick("[{\"selector\":{}," HTTP "},{" DNS "}]", NULL, "example.com"), 0);
    /* an empty selector after a catch-all is not strictly better: the earlier stays */
    assert_int_equal(pick("[{" HTTP "},{\"selector\":{}," DNS "}]", NULL, "example.com"), 0);
    /* a matching selector with any score beats an earlier catch-all */
    assert_int_equal(pick("[{" HTTP "},{\"selector\":{\"dnsZones\":[\"com\"]}," DNS "}]", NULL, "example.com"), 1);
    assert_int_equal(pick("[{" HTTP "},{\"selector\":{\"matchLabels\":{\"a\":\"1\"}}," DNS "}]", "{\"a\":\"1\"}",
                          "example.com"),
                     1);
}

static void test_dns_names_beat_zones_and_labels(void **state)
{
    (void)state;
    const char *z = "{\"selector\":{\"dnsZones\":[\"www.example.com\"],\"matchLabels\":{\"a\":\"1\",\"b\":\"2\"}},"
                    HTTP "}";
    const char *nm = "{\"selector\":{\"dnsNames\":[\"www.example.com\"]}," DNS "}";
    char buf[512];
    snprintf(buf, sizeof(buf), "[%s,%s]", z, nm);
    assert_int_equal(pick(buf, "{\"a\":\"1\",\"b\":\"2\"}", "www.example.com"), 1);
    snprintf(buf, sizeof(buf), "[%s,%s]", nm, z);
    assert_int_equal(pick(buf, "{\"a\":\"1\",\"b\":\"2\"}", "www.example.com"), 0);
}

static void test_dns_names_both_then_zones_then_labels(void **state)
{
    (void)state;
    /* both hit dnsNames: the one with a (longer) zone wins */
    assert_int_equal(pick("[{\"selector\":{\"dnsNames\":[\"a.example.com\"]}," HTTP "},"
                          "{\"selector\":{\"dnsNames\":[\"a.example.com\"],\"dnsZones\":[\"example.com\"]}," HTTP "}]",
                          NULL, "a.example.com"),
                     1);
    assert_int_equal(pick("[{\"selector\":{\"dnsNames\":[\"a.example.com\"],\"dnsZones\":[\"com\"]}," HTTP "},"
                          "{\"selector\":{\"dnsNames\":[\"a.example.com\"],\"dnsZones\":[\"example.com\"]}," HTTP "}]",
                          NULL, "a.example.com"),
                     1);
    /* same zones: more labels wins */
    assert_int_equal(pick("[{\"selector\":{\"dnsNames\":[\"a.example.com\"]}," HTTP "},"
                          "{\"selector\":{\"dnsNames\":[\"a.example.com\"],\"matchLabels\":{\"x\":\"y\"}}," HTTP "}]",
                          "{\"x\":\"y\"}", "a.example.com"),
                     1);
    /* all equal: the earlier one */
    assert_int_equal(pick("[{\"selector\":{\"dnsNames\":[\"a.example.com\",\"b\"]}," HTTP "},"
                          "{\"selector\":{\"dnsNames\":[\"a.example.com\"]}," DNS "}]",
                          NULL, "a.example.com"),
                     0);
}

static void test_zones_most_labels(void **state)
{
    (void)state;
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"example.com\"]}," HTTP "},"
                          "{\"selector\":{\"dnsZones\":[\"sub.example.com\"]}," DNS "}]",
                          NULL, "a.sub.example.com"),
                     1);
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"other.org\",\"sub.example.com\"]}," HTTP "},"
                          "{\"selector\":{\"dnsZones\":[\"example.com\"]}," DNS "}]",
                          NULL, "a.sub.example.com"),
                     0);
    /* zones beat labels */
    assert_int_equal(pick("[{\"selector\":{\"matchLabels\":{\"a\":\"1\",\"b\":\"2\"}}," HTTP "},"
                          "{\"selector\":{\"dnsZones\":[\"com\"]}," DNS "}]",
                          "{\"a\":\"1\",\"b\":\"2\"}", "example.com"),
                     1);
    /* equal zones: more labels, then the earlier */
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"example.com\"]}," HTTP "},"
                          "{\"selector\":{\"dnsZones\":[\"example.com\"],\"matchLabels\":{\"a\":\"1\"}}," DNS "}]",
                          "{\"a\":\"1\"}", "x.example.com"),
                     1);
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"example.com\"]}," HTTP "},"
                          "{\"selector\":{\"dnsZones\":[\"example.com\"]}," DNS "}]",
                          NULL, "x.example.com"),
                     0);
}

static void test_labels_count_and_subset(void **state)
{
    (void)state;
    const char *labels = "{\"team\":\"a\",\"env\":\"prod\",\"extra\":\"x\"}";
    assert_int_equal(pick("[{\"selector\":{\"matchLabels\":{\"team\":\"a\"}}," HTTP "},"
                          "{\"selector\":{\"matchLabels\":{\"team\":\"a\",\"env\":\"prod\"}}," DNS "}]",
                          labels, "example.com"),
                     1);
    /* equal counts: the earlier */
    assert_int_equal(pick("[{\"selector\":{\"matchLabels\":{\"team\":\"a\"}}," HTTP "},"
                          "{\"selector\":{\"matchLabels\":{\"env\":\"prod\"}}," DNS "}]",
                          labels, "example.com"),
                     0);
    /* every pair must be present with the same value */
    assert_int_equal(pick("[{\"selector\":{\"matchLabels\":{\"team\":\"b\"}}," HTTP "}]", labels, "example.com"), -1);
    assert_int_equal(pick("[{\"selector\":{\"matchLabels\":{\"team\":\"a\",\"missing\":\"1\"}}," HTTP "}]", labels,
                          "example.com"),
                     -1);
    assert_int_equal(pick("[{\"selector\":{\"matchLabels\":{\"team\":\"a\"}}," HTTP "}]", NULL, "example.com"), -1);
    /* an empty matchLabels matches, score 0 */
    assert_int_equal(pick("[{\"selector\":{\"matchLabels\":{}}," HTTP "}]", NULL, "example.com"), 0);
}

static void test_wildcard_domain(void **state)
{
    (void)state;
    char err[256];
    /* dnsNames must list the wildcard form */
    assert_int_equal(pick_ex("[{\"selector\":{\"dnsNames\":[\"example.com\"]}," HTTP "}]", NULL, "example.com", true,
                             offered_all, 3, NULL, err, sizeof(err)),
                     -1);
    assert_int_equal(pick_ex("[{\"selector\":{\"dnsNames\":[\"example.com\"]}," HTTP "},"
                             "{\"selector\":{\"dnsNames\":[\"*.example.com\"]}," DNS "}]",
                             NULL, "example.com", true, offered_all, 3, NULL, err, sizeof(err)),
                     1);
    /* the non-wildcard authorization of the same name picks the other */
    assert_int_equal(pick_ex("[{\"selector\":{\"dnsNames\":[\"example.com\"]}," HTTP "},"
                             "{\"selector\":{\"dnsNames\":[\"*.example.com\"]}," DNS "}]",
                             NULL, "example.com", false, offered_all, 3, NULL, err, sizeof(err)),
                     0);
    /* a zone covers the wildcard name */
    assert_int_equal(pick_ex("[{\"selector\":{\"dnsZones\":[\"example.com\"]}," DNS "}]", NULL, "example.com", true,
                             offered_all, 3, NULL, err, sizeof(err)),
                     0);
}

static void test_dns_names_case_sensitive(void **state)
{
    (void)state;
    assert_int_equal(pick("[{\"selector\":{\"dnsNames\":[\"WWW.example.com\"]}," HTTP "}]", NULL, "www.example.com"),
                     -1);
}

static void test_dns_zones_case_insensitive_labels(void **state)
{
    (void)state;
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"EXAMPLE.Com\"]}," HTTP "}]", NULL, "www.example.com"), 0);
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"example.com.\"]}," HTTP "}]", NULL, "www.example.com"), 0);
    /* whole labels only */
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"ample.com\"]}," HTTP "}]", NULL, "www.example.com"), -1);
    /* the zone apex itself is in the zone */
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"example.com\"]}," HTTP "}]", NULL, "example.com"), 0);
    /* a longer zone than the name, an empty zone, an unrelated zone */
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"a.example.com\"]}," HTTP "}]", NULL, "example.com"), -1);
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"\",\".\"]}," HTTP "}]", NULL, "example.com"), -1);
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[\"example.org\"]}," HTTP "}]", NULL, "example.com"), -1);
    /* an empty list matches with score 0 */
    assert_int_equal(pick("[{\"selector\":{\"dnsZones\":[]}," HTTP "}]", NULL, "example.com"), 0);
}

static void test_challenge_type_availability(void **state)
{
    (void)state;
    static const solverpicker_challenge_t dns_only[] = {
        {"tls-alpn-01", "https://ca/t", "t"},
        {"dns-01", "https://ca/d1", "d1"},
        {"dns-01", "https://ca/d2", "d2"},
    };
    solverpicker_result_t r;
    char err[256];
    /* the better-matching http01 solver is unusable: the dns01 one is taken, with the first dns-01 entry */
    assert_int_equal(pick_ex("[{\"selector\":{\"dnsNames\":[\"example.com\"]}," HTTP "},{" DNS "}]", NULL,
                             "example.com", false, dns_only, 3, &r, err, sizeof(err)),
                     1);
    assert_string_equal(r.challenge->url, "https://ca/d1");
    assert_string_equal(solverpicker_challenge_type(r.challenge->type), "DNS-01");
    /* the first offered entry of the solver's own type, whatever the order */
    assert_int_equal(pick_ex("[{" HTTP "}]", NULL, "example.com", false, offered_all, 3, &r, err, sizeof(err)), 0);
    assert_string_equal(r.challenge->token, "tok-h");
    assert_int_equal(pick_ex("[{" DNS "}]", NULL, "example.com", false, offered_all, 3, &r, err, sizeof(err)), 0);
    assert_string_equal(r.challenge->token, "tok-d");
    assert_null(solverpicker_challenge_type("tls-alpn-01"));
    assert_string_equal(solverpicker_challenge_type("http-01"), "HTTP-01");
}

static void test_no_usable_solver(void **state)
{
    (void)state;
    static const solverpicker_challenge_t alpn_only[] = {{"tls-alpn-01", "https://ca/t", "t"}};
    char err[256];
    assert_int_equal(pick_ex("[{" HTTP "},{" DNS "}]", NULL, "example.com", false, alpn_only, 1, NULL, err,
                             sizeof(err)),
                     -1);
    assert_true(strncmp(err, SOLVERPICKER_ERR_NO_SOLVER ": ", strlen(SOLVERPICKER_ERR_NO_SOLVER) + 2) == 0);
    assert_non_null(strstr(err, "tls-alpn-01"));

    assert_int_equal(pick_ex("[{\"selector\":{\"dnsNames\":[\"other.com\"]}," HTTP "}]", NULL, "example.com", false,
                             offered_all, 3, NULL, err, sizeof(err)),
                     -1);
    assert_true(strncmp(err, SOLVERPICKER_ERR_NO_SOLVER, strlen(SOLVERPICKER_ERR_NO_SOLVER)) == 0);
    assert_non_null(strstr(err, "\"example.com\""));

    assert_int_equal(pick_ex("[]", NULL, "example.com", false, offered_all, 3, NULL, err, sizeof(err)), -1);
    assert_true(strncmp(err, SOLVERPICKER_ERR_NO_SOLVER, strlen(SOLVERPICKER_ERR_NO_SOLVER)) == 0);

    /* NULL solvers and a NULL authorization are handled */
    solverpicker_result_t r;
    solverpicker_authz_t az = {"example.com", false, offered_all, 3};
    assert_int_equal(solverpicker_pick(NULL, NULL, &az, &r, err, sizeof(err)), -1);
    assert_int_equal(solverpicker_pick(NULL, NULL, NULL, &r, err, sizeof(err)), -1);
    assert_int_equal(r.index, -1);
}

static void test_authz_from_json(void **state)
{
    (void)state;
    json_object *a = parse("{\"url\":\"https://ca/authz/1\",\"identifier\":\"example.com\",\"wildcard\":true,"
                           "\"initialState\":\"pending\",\"challenges\":[{\"url\":\"https://ca/c/1\",\"token\":\"t1\","
                           "\"type\":\"http-01\"},{\"url\":\"https://ca/c/2\",\"token\":\"t2\",\"type\":\"dns-01\"}]}");
    solverpicker_challenge_t buf[SOLVERPICKER_MAX_CHALLENGES];
    solverpicker_authz_t az;
    char err[128];
    assert_int_equal(solverpicker_authz_from_json(a, buf, SOLVERPICKER_MAX_CHALLENGES, &az, err, sizeof(err)), 0);
    assert_string_equal(az.identifier, "example.com");
    assert_true(az.wildcard);
    assert_int_equal(az.n_challenges, 2);
    assert_string_equal(az.challenges[1].token, "t2");
    assert_int_equal(solverpicker_authz_from_json(a, buf, 1, &az, err, sizeof(err)), -1);
    json_object_put(a);

    a = parse("{\"challenges\":[]}");
    assert_int_equal(solverpicker_authz_from_json(a, buf, 4, &az, err, sizeof(err)), -1);
    json_object_put(a);
    a = parse("{\"identifier\":\"x\",\"challenges\":[{\"type\":\"http-01\"}]}");
    assert_int_equal(solverpicker_authz_from_json(a, buf, 4, &az, err, sizeof(err)), -1);
    json_object_put(a);
    a = parse("{\"identifier\":\"x\"}"); /* no wildcard, no challenges */
    assert_int_equal(solverpicker_authz_from_json(a, buf, 4, &az, err, sizeof(err)), 0);
    assert_false(az.wildcard);
    assert_int_equal(az.n_challenges, 0);
    json_object_put(a);
}

static char *override_js(const char *solver_js, const char *ann_js, const char *ns, char *err, size_t errlen)
{
    json_object *s = parse(solver_js);
    json_object *ann = ann_js ? parse(ann_js) : NULL;
    char *before = strdup(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
    json_object *out = NULL;
    char *res = NULL;
    if (solverpicker_apply_overrides(s, ann, ns, &out, err, errlen) == 0) {
        assert_non_null(out);
        assert_ptr_not_equal(out, s);
        res = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    } else {
        assert_null(out);
    }
    /* the issuer's solver is never modified */
    assert_string_equal(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN), before);
    free(before);
    json_object_put(out);
    json_object_put(s);
    json_object_put(ann);
    return res;
}

static void test_override_ingress(void **state)
{
    (void)state;
    const char *solver = "{\"http01\":{\"ingress\":{\"class\":\"nginx\",\"serviceType\":\"ClusterIP\"}}}";
    char err[256];
    char *r = override_js(solver, "{\"acme.cert-manager.io/http01-override-ingress-name\":\"my-ing\",\"x\":\"y\"}",
                          "ns", err, sizeof(err));
    assert_string_equal(r, "{\"http01\":{\"ingress\":{\"serviceType\":\"ClusterIP\",\"name\":\"my-ing\"}}}");
    free(r);
    r = override_js(solver, "{\"acme.cert-manager.io/http01-override-ingress-class\":\"traefik\"}", "ns", err,
                    sizeof(err));
    assert_string_equal(r, "{\"http01\":{\"ingress\":{\"serviceType\":\"ClusterIP\",\"class\":\"traefik\"}}}");
    free(r);
    r = override_js(solver, "{\"acme.cert-manager.io/http01-override-ingress-ingressclassname\":\"haproxy\"}", "ns",
                    err, sizeof(err));
    assert_string_equal(r,
                        "{\"http01\":{\"ingress\":{\"serviceType\":\"ClusterIP\",\"ingressClassName\":\"haproxy\"}}}");
    free(r);
    /* no override annotation: an unchanged copy */
    r = override_js(solver, "{\"other\":\"1\"}", "ns", err, sizeof(err));
    assert_string_equal(r, solver);
    free(r);
    r = override_js(solver, NULL, "ns", err, sizeof(err));
    assert_string_equal(r, solver);
    free(r);
    /* overrides only touch ingress solvers */
    r = override_js("{\"dns01\":{\"webhook\":{\"groupName\":\"x\"}}}",
                    "{\"acme.cert-manager.io/http01-override-ingress-name\":\"my-ing\"}", "ns", err, sizeof(err));
    assert_string_equal(r, "{\"dns01\":{\"webhook\":{\"groupName\":\"x\"}}}");
    free(r);
}

static void test_override_ingress_more_than_one(void **state)
{
    (void)state;
    char err[256] = "";
    char *r = override_js("{\"http01\":{\"ingress\":{}}}",
                          "{\"acme.cert-manager.io/http01-override-ingress-name\":\"a\","
                          "\"acme.cert-manager.io/http01-override-ingress-class\":\"b\"}",
                          "ns", err, sizeof(err));
    assert_null(r);
    assert_string_equal(err, "may not specify more than one of: name, class, ingressClassName override annotations");
    r = override_js("{\"http01\":{\"ingress\":{}}}",
                    "{\"acme.cert-manager.io/http01-override-ingress-class\":\"b\","
                    "\"acme.cert-manager.io/http01-override-ingress-ingressclassname\":\"c\"}",
                    "ns", err, sizeof(err));
    assert_null(r);
}

static void test_override_gateway(void **state)
{
    (void)state;
    const char *solver = "{\"http01\":{\"gatewayHTTPRoute\":{\"parentRefs\":["
                         "{\"name\":\"gw\",\"namespace\":\"ns1\"},"
                         "{\"name\":\"gw\",\"namespace\":\"other\",\"kind\":\"Gateway\"},"
                         "{\"name\":\"gw2\",\"namespace\":\"ns1\",\"kind\":\"Gateway\"}]}}}";
    char err[256];
    /* the kind-less ns1/gw entry is replaced; namespace defaults to the Order's */
    char *r = override_js(solver,
                          "{\"acme.cert-manager.io/http01-parentrefname\":\"gw\","
                          "\"acme.cert-manager.io/http01-parentrefkind\":\"Gateway\"}",
                          "ns1", err, sizeof(err));
    assert_string_equal(r, "{\"http01\":{\"gatewayHTTPRoute\":{\"parentRefs\":["
                           "{\"name\":\"gw\",\"namespace\":\"other\",\"kind\":\"Gateway\"},"
                           "{\"name\":\"gw2\",\"namespace\":\"ns1\",\"kind\":\"Gateway\"},"
                           "{\"name\":\"gw\",\"namespace\":\"ns1\",\"kind\":\"Gateway\"}]}}}");
    free(r);
    /* explicit namespace annotation */
    r = override_js(solver,
                    "{\"acme.cert-manager.io/http01-parentrefname\":\"gw\","
                    "\"acme.cert-manager.io/http01-parentrefkind\":\"Gateway\","
                    "\"acme.cert-manager.io/http01-parentrefnamespace\":\"other\"}",
                    "ns1", err, sizeof(err));
    assert_string_equal(r, "{\"http01\":{\"gatewayHTTPRoute\":{\"parentRefs\":["
                           "{\"name\":\"gw\",\"namespace\":\"ns1\"},"
                           "{\"name\":\"gw2\",\"namespace\":\"ns1\",\"kind\":\"Gateway\"},"
                           "{\"name\":\"gw\",\"namespace\":\"other\",\"kind\":\"Gateway\"}]}}}");
    free(r);
    /* only one of name/kind */
    r = override_js(solver, "{\"acme.cert-manager.io/http01-parentrefname\":\"gw\"}", "ns1", err, sizeof(err));
    assert_null(r);
    assert_string_equal(err, "cannot specify only one of parentRefName, parentRefKind override annotations");
    /* no parentRefs anywhere */
    r = override_js("{\"http01\":{\"gatewayHTTPRoute\":{}}}", "{}", "ns1", err, sizeof(err));
    assert_null(r);
    assert_string_equal(err, "must specify parentRefs either through annotations or solver config");
    /* ...unless the annotations give one */
    r = override_js("{\"http01\":{\"gatewayHTTPRoute\":{}}}",
                    "{\"acme.cert-manager.io/http01-parentrefname\":\"gw\","
                    "\"acme.cert-manager.io/http01-parentrefkind\":\"Gateway\"}",
                    "ns1", err, sizeof(err));
    assert_string_equal(
        r, "{\"http01\":{\"gatewayHTTPRoute\":{\"parentRefs\":[{\"name\":\"gw\",\"namespace\":\"ns1\",\"kind\":\"Gateway\"}]}}}");
    free(r);
}

static void test_solver_allowed(void **state)
{
    (void)state;
    json_object *solvers = parse("[{\"http01\":{\"ingress\":{\"class\":\"nginx\"}}},{" DNS "}]");
    json_object *ann = parse("{\"acme.cert-manager.io/http01-override-ingress-name\":\"ing\"}");
    json_object *as_is = parse("{\"http01\":{\"ingress\":{\"class\":\"nginx\"}}}");
    json_object *overridden = parse("{\"http01\":{\"ingress\":{\"name\":\"ing\"}}}");
    json_object *forged = parse("{\"http01\":{\"ingress\":{\"class\":\"evil\"}}}");
    json_object *dns = parse("{" DNS "}");
    assert_true(solverpicker_solver_allowed(as_is, solvers, NULL, "ns"));
    assert_true(solverpicker_solver_allowed(dns, solvers, NULL, "ns"));
    assert_true(solverpicker_solver_allowed(overridden, solvers, ann, "ns"));
    assert_false(solverpicker_solver_allowed(overridden, solvers, NULL, "ns"));
    assert_false(solverpicker_solver_allowed(forged, solvers, ann, "ns"));
    assert_false(solverpicker_solver_allowed(NULL, solvers, ann, "ns"));
    assert_false(solverpicker_solver_allowed(as_is, NULL, ann, "ns"));
    json_object_put(solvers);
    json_object_put(ann);
    json_object_put(as_is);
    json_object_put(overridden);
    json_object_put(forged);
    json_object_put(dns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catch_all_first_wins),
        cmocka_unit_test(test_dns_names_beat_zones_and_labels),
        cmocka_unit_test(test_dns_names_both_then_zones_then_labels),
        cmocka_unit_test(test_zones_most_labels),
        cmocka_unit_test(test_labels_count_and_subset),
        cmocka_unit_test(test_wildcard_domain),
        cmocka_unit_test(test_dns_names_case_sensitive),
        cmocka_unit_test(test_dns_zones_case_insensitive_labels),
        cmocka_unit_test(test_challenge_type_availability),
        cmocka_unit_test(test_no_usable_solver),
        cmocka_unit_test(test_authz_from_json),
        cmocka_unit_test(test_override_ingress),
        cmocka_unit_test(test_override_ingress_more_than_one),
        cmocka_unit_test(test_override_gateway),
        cmocka_unit_test(test_solver_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
