/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Golden JSON of the solver Pod, Service and Ingress for several solver configurations, and the Ingress
 * edit-in-place helpers. Golden files live in golden/ and are compared as parsed JSON. To regenerate after
 * an intended change: KACME_UPDATE_GOLDEN=1 ./test_http01_resources, then review the diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http01/resources.h"

static const http01_challenge_t CH = {
    .ns = "team-a",
    .name = "example-cert-1-2345-0",
    .uid = "6f0f8f4e-1b7a-4c38-9d1c-3f1f5c1e2a77",
    .dns_name = "www.example.com",
    .token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
    .key = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ",
};

static char *golden_path(const char *name)
{
    const char *src = getenv("KACME_SOURCE_DIR");
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/tests/unit/http01/golden/%s.json", src ? src : "../..", name);
    return p;
}

/* Compares got (owned, consumed) with golden/<name>.json. */
static void check_golden(const char *name, json_object *got)
{
    char *path = golden_path(name);
    if (getenv("KACME_UPDATE_GOLDEN")) {
        json_object_to_file_ext(path, got, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                               JSON_C_TO_STRING_NOSLASHESCAPE);
        FILE *f = fopen(path, "a");
        if (f) {
            fputc('\n', f);
            fclose(f);
        }
    }
    json_object *want = json_object_from_file(path);
    if (!want)
        fail_msg("cannot read golden file %s", path);
    if (!json_object_equal(want, got))
        fail_msg("%s differs from golden:\n%s", name,
                 json_object_to_json_string_ext(got, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(want);
    json_object_put(got);
    free(path);
}

/* Builds all three objects for one configuration into {"pod":..,"service":..,"ingress":..}. */
static json_object *build_all(const http01_challenge_t *ch, const char *ingress_json, const http01_settings_t *s)
{
    char err[HTTP01_ERR_LEN];
    json_object *ing = json_tokener_parse(ingress_json);
    assert_non_null(ing);
    json_object *all = json_object_new_object();
    json_object *pod = http01_build_pod(ch, ing, s, err, sizeof(err));
    if (!pod)
        fail_msg("pod: %s", err);
    json_object *svc = http01_build_service(ch, ing, s, err, sizeof(err));
    if (!svc)
        fail_msg("service: %s", err);
    json_object *ingress = http01_build_ingress(ch, ing, s, "cm-acme-http-solver-abcde", err, sizeof(err));
    if (!ingress)
        fail_msg("ingress: %s", err);
    json_object_object_add(all, "pod", pod);
    json_object_object_add(all, "service", svc);
    json_object_object_add(all, "ingress", ingress);
    json_object_put(ing);
    return all;
}

static http01_settings_t defaults(void)
{
    http01_settings_t s;
    http01_settings_init(&s);
    s.image = "ghcr.io/kacme/acmesolver:test"; /* pinned: the default carries the build's version */
    return s;
}

static void test_adler32(void **state)
{
    (void)state;
    assert_int_equal(http01_adler32("", 0), 1);
    assert_int_equal(http01_adler32("Wikipedia", 9), 0x11E60398u);
    assert_int_equal(http01_adler32("abc", 3), 0x024d0127u);
    /* long input crosses the 5552-byte reduction boundary: compare with the textbook per-byte form */
    size_t n = 100000;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(0xff - (i * 7) % 13);
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + buf[i]) % 65521;
        b = (b + a) % 65521;
    }
    assert_int_equal(http01_adler32(buf, n), (b << 16) | a);
    free(buf);
}

static void test_identity(void **state)
{
    (void)state;
    char sel[256];
    assert_int_equal(http01_label_selector(&CH, sel, sizeof(sel)), 0);
    char want[256];
    snprintf(want, sizeof(want),
             "acme.cert-manager.io/http-domain=%u,acme.cert-manager.io/http-token=%u,"
             "acme.cert-manager.io/http01-solver=true",
             (unsigned)http01_adler32(CH.dns_name, strlen(CH.dns_name)),
             (unsigned)http01_adler32(CH.token, strlen(CH.token)));
    assert_string_equal(sel, want);
    assert_int_equal(http01_label_selector(&CH, sel, 10), -1);

    char err[HTTP01_ERR_LEN];
    http01_settings_t s = defaults();
    json_object *pod = http01_build_pod(&CH, NULL, &s, err, sizeof(err));
    assert_true(http01_owned_by(pod, CH.uid));
    assert_false(http01_owned_by(pod, "other-uid"));
    json_object_put(pod);
    assert_true(http01_is_ip("192.0.2.1"));
    assert_true(http01_is_ip("2001:db8::1"));
    assert_false(http01_is_ip("example.com"));
}

static void test_golden_default(void **state)
{
    (void)state;
    http01_settings_t s = defaults();
    check_golden("default", build_all(&CH, "{}", &s));
}

static void test_golden_ingress_class_name(void **state)
{
    (void)state;
    http01_settings_t s = defaults();
    check_golden("ingress_class_name", build_all(&CH, "{\"ingressClassName\":\"nginx\"}", &s));
}

static void test_golden_class(void **state)
{
    (void)state;
    http01_settings_t s = defaults();
    check_golden("class", build_all(&CH, "{\"class\":\"traefik\"}", &s));
}

static void test_golden_cluster_ip(void **state)
{
    (void)state;
    http01_settings_t s = defaults();
    check_golden("service_cluster_ip", build_all(&CH, "{\"serviceType\":\"ClusterIP\"}", &s));
}

static void test_golden_pod_template(void **state)
{
    (void)state;
    http01_settings_t s = defaults();
    const char *cfg =
        "{\"podTemplate\":{"
        "\"metadata\":{\"labels\":{\"team\":\"a\",\"acme.cert-manager.io/http01-solver\":\"true\"},"
        "\"annotations\":{\"sidecar.istio.io/inject\":\"true\",\"note\":\"x\"}},"
        "\"spec\":{\"nodeSelector\":{\"pool\":\"edge\"},"
        "\"tolerations\":[{\"key\":\"edge\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}],"
        "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":"
        "[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z1\"]}]}]}}},"
        "\"priorityClassName\":\"high\",\"serviceAccountName\":\"solver\","
        "\"imagePullSecrets\":[{\"name\":\"regcred\"}],"
        "\"securityContext\":{\"runAsNonRoot\":true,\"runAsUser\":1000,\"fsGroup\":2000,\"bogus\":1},"
        "\"resources\":{\"requests\":{\"memory\":\"32Mi\"},\"limits\":{\"cpu\":\"50m\",\"ephemeral-storage\":\"1Mi\"}}"
        "}}}";
    check_golden("pod_template", build_all(&CH, cfg, &s));
}

static void test_golden_ingress_template(void **state)
{
    (void)state;
    http01_settings_t s = defaults();
    const char *cfg = "{\"ingressClassName\":\"nginx\",\"ingressTemplate\":{\"metadata\":{"
                      "\"labels\":{\"exposed\":\"yes\"},"
                      "\"annotations\":{\"ingress.kubernetes.io/whitelist-source-range\":\"10.0.0.0/8\","
                      "\"nginx.ingress.kubernetes.io/ssl-redirect\":\"false\"}}}}";
    check_golden("ingress_template", build_all(&CH, cfg, &s));
}

static void test_golden_ip(void **state)
{
    (void)state;
    http01_settings_t s = defaults();
    http01_challenge_t ch = CH;
    ch.dns_name = "192.0.2.10";
    check_golden("ip_dns_name", build_all(&ch, "{}", &s));
}

static void test_golden_settings(void **state)
{
    (void)state;
    http01_settings_t s;
    http01_settings_init(&s);
    s.image = "registry.local/acmesolver@sha256:0123";
    s.request_cpu = "5m";
    s.request_memory = "8Mi";
    s.limit_cpu = "50m";
    s.limit_memory = "16Mi";
    s.run_as_non_root = false;
    s.runtime_class_name = "gvisor";
    s.extra_labels = json_tokener_parse("{\"app\":\"solver\",\"acme.cert-manager.io/http-token\":\"1\"}");
    check_golden("settings", build_all(&CH, "{}", &s));
    json_object_put(s.extra_labels);
}

static void test_default_image_has_version(void **state)
{
    (void)state;
    char err[HTTP01_ERR_LEN];
    json_object *pod = http01_build_pod(&CH, NULL, NULL, err, sizeof(err));
    assert_non_null(pod);
    json_object *spec, *cs, *img;
    json_object_object_get_ex(pod, "spec", &spec);
    json_object_object_get_ex(spec, "containers", &cs);
    json_object_object_get_ex(json_object_array_get_idx(cs, 0), "image", &img);
    assert_non_null(strstr(json_object_get_string(img), "ghcr.io/kacme/acmesolver:"));
    json_object_put(pod);
}

static void test_errors(void **state)
{
    (void)state;
    char err[HTTP01_ERR_LEN];
    json_object *both = json_tokener_parse("{\"class\":\"a\",\"ingressClassName\":\"b\"}");
    assert_null(http01_build_ingress(&CH, both, NULL, "svc", err, sizeof(err)));
    assert_non_null(strstr(err, "class"));
    json_object_put(both);
    json_object *named = json_tokener_parse("{\"name\":\"existing\"}");
    assert_null(http01_build_ingress(&CH, named, NULL, "svc", err, sizeof(err)));
    json_object_put(named);
    json_object *bad = json_tokener_parse("{\"serviceType\":\"LoadBalancer\"}");
    assert_null(http01_build_service(&CH, bad, NULL, err, sizeof(err)));
    json_object_put(bad);
    json_object *badtmpl = json_tokener_parse("{\"podTemplate\":[1]}");
    assert_null(http01_build_pod(&CH, badtmpl, NULL, err, sizeof(err)));
    json_object_put(badtmpl);
    http01_challenge_t ch = CH;
    ch.uid = NULL;
    assert_null(http01_build_pod(&ch, NULL, NULL, err, sizeof(err)));
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ch = CH;
    ch.dns_name = longname;
    assert_null(http01_build_pod(&ch, NULL, NULL, err, sizeof(err)));
    assert_null(http01_build_service(&ch, NULL, NULL, err, sizeof(err)));
}

static json_object *load_golden(const char *name)
{
    char *path = golden_path(name);
    json_object *o = json_object_from_file(path);
    if (!o)
        fail_msg("cannot read %s", path);
    free(path);
    return o;
}

static void test_edit_in_place(void **state)
{
    (void)state;
    char err[HTTP01_ERR_LEN];
    bool changed;

    /* host rule exists with another path: ours is prepended, other rules untouched */
    json_object *ing = load_golden("edit_input");
    assert_int_equal(http01_ingress_add_path(ing, &CH, NULL, "cm-acme-http-solver-abcde", &changed, err, sizeof(err)), 0);
    assert_true(changed);
    check_golden("edit_added", json_object_get(ing));
    /* again: no change */
    assert_int_equal(http01_ingress_add_path(ing, &CH, NULL, "cm-acme-http-solver-abcde", &changed, err, sizeof(err)), 0);
    assert_false(changed);
    /* another service for the same path: replaced in place */
    assert_int_equal(http01_ingress_add_path(ing, &CH, NULL, "cm-acme-http-solver-zzzzz", &changed, err, sizeof(err)), 0);
    assert_true(changed);
    assert_string_equal(http01_ingress_first_backend(ing) ? "x" : "", "x");
    check_golden("edit_replaced", json_object_get(ing));
    /* clean-up: only our path goes, the input comes back */
    assert_int_equal(http01_ingress_remove_path(ing, &CH, &changed, err, sizeof(err)), 0);
    assert_true(changed);
    check_golden("edit_input", json_object_get(ing));
    assert_int_equal(http01_ingress_remove_path(ing, &CH, &changed, err, sizeof(err)), 0);
    assert_false(changed);
    json_object_put(ing);

    /* no rule for the host: a rule is appended; removing drops the rule left empty */
    http01_challenge_t other = CH;
    other.dns_name = "new.example.com";
    ing = load_golden("edit_input");
    assert_int_equal(http01_ingress_add_path(ing, &other, NULL, "cm-acme-http-solver-abcde", &changed, err, sizeof(err)), 0);
    assert_true(changed);
    check_golden("edit_appended", json_object_get(ing));
    assert_int_equal(http01_ingress_remove_path(ing, &other, &changed, err, sizeof(err)), 0);
    assert_true(changed);
    check_golden("edit_input", json_object_get(ing));
    json_object_put(ing);

    /* an Ingress without spec or rules */
    ing = json_tokener_parse("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\"}");
    assert_int_equal(http01_ingress_add_path(ing, &CH, NULL, "svc", &changed, err, sizeof(err)), 0);
    assert_true(changed);
    assert_string_equal(http01_ingress_first_backend(ing), "svc");
    assert_int_equal(http01_ingress_remove_path(ing, &CH, &changed, err, sizeof(err)), 0);
    assert_true(changed);
    assert_null(http01_ingress_first_backend(ing));
    json_object_put(ing);
    assert_int_equal(http01_ingress_add_path(NULL, &CH, NULL, "svc", &changed, err, sizeof(err)), -1);
}

/* spec.rules[0].http.paths[0].pathType of an Ingress (borrowed) or NULL. */
static const char *first_path_type(json_object *ing)
{
    json_object *spec, *rules, *http, *paths, *pt;
    if (!json_object_object_get_ex(ing, "spec", &spec) || !json_object_object_get_ex(spec, "rules", &rules) ||
        !json_object_object_get_ex(json_object_array_get_idx(rules, 0), "http", &http) ||
        !json_object_object_get_ex(http, "paths", &paths) ||
        !json_object_object_get_ex(json_object_array_get_idx(paths, 0), "pathType", &pt))
        return NULL;
    return json_object_get_string(pt);
}

/* --acme-http01-solver-runtime-class-name: spec.runtimeClassName only when given. */
static void test_runtime_class(void **state)
{
    (void)state;
    char err[HTTP01_ERR_LEN];
    http01_settings_t s = defaults();
    json_object *spec, *v;
    json_object *pod = http01_build_pod(&CH, NULL, &s, err, sizeof(err));
    assert_non_null(pod);
    assert_true(json_object_object_get_ex(pod, "spec", &spec));
    assert_false(json_object_object_get_ex(spec, "runtimeClassName", &v));
    json_object_put(pod);
    s.runtime_class_name = "";
    pod = http01_build_pod(&CH, NULL, &s, err, sizeof(err));
    assert_true(json_object_object_get_ex(pod, "spec", &spec));
    assert_false(json_object_object_get_ex(spec, "runtimeClassName", &v));
    json_object_put(pod);
    s.runtime_class_name = "gvisor";
    pod = http01_build_pod(&CH, NULL, &s, err, sizeof(err));
    assert_true(json_object_object_get_ex(pod, "spec", &spec));
    assert_true(json_object_object_get_ex(spec, "runtimeClassName", &v));
    assert_string_equal(json_object_get_string(v), "gvisor");
    json_object_put(pod);
}

/* Feature gate ACMEHTTP01IngressPathTypeExact=false: ImplementationSpecific, for generated and edited Ingresses. */
static void test_path_type(void **state)
{
    (void)state;
    char err[HTTP01_ERR_LEN];
    bool changed;
    http01_settings_t s = defaults();
    json_object *ing = http01_build_ingress(&CH, NULL, &s, "svc", err, sizeof(err));
    assert_non_null(ing);
    assert_string_equal(first_path_type(ing), "Exact");
    json_object_put(ing);
    s.path_type_implementation_specific = true;
    ing = http01_build_ingress(&CH, NULL, &s, "svc", err, sizeof(err));
    assert_non_null(ing);
    assert_string_equal(first_path_type(ing), "ImplementationSpecific");
    json_object_put(ing);

    ing = json_tokener_parse("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\"}");
    assert_int_equal(http01_ingress_add_path(ing, &CH, &s, "svc", &changed, err, sizeof(err)), 0);
    assert_true(changed);
    assert_string_equal(first_path_type(ing), "ImplementationSpecific");
    json_object_put(ing);
    ing = json_tokener_parse("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\"}");
    assert_int_equal(http01_ingress_add_path(ing, &CH, NULL, "svc", &changed, err, sizeof(err)), 0);
    assert_string_equal(first_path_type(ing), "Exact");
    json_object_put(ing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adler32),
        cmocka_unit_test(test_runtime_class),
        cmocka_unit_test(test_path_type),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_golden_default),
        cmocka_unit_test(test_golden_ingress_class_name),
        cmocka_unit_test(test_golden_class),
        cmocka_unit_test(test_golden_cluster_ip),
        cmocka_unit_test(test_golden_pod_template),
        cmocka_unit_test(test_golden_ingress_template),
        cmocka_unit_test(test_golden_ip),
        cmocka_unit_test(test_golden_settings),
        cmocka_unit_test(test_default_image_has_version),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_edit_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
