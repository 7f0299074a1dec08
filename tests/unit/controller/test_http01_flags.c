/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The controller flags that reach the HTTP-01 solver objects through ctrl_http01_set_options
 * (--acme-http01-solver-runtime-class-name, feature gate ACMEHTTP01IngressPathTypeExact): present against the
 * challenges controller's fake API server, then the created Pod / Ingress are read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "accounts.h"
#include "ctx.h"
#include "fake_kube.h"
#include "http01.h"
#include "solver.h"
#include "util/http.h"

#define CH_PATH "/apis/acme.cert-manager.io/v1/namespaces/ns1/challenges/c1"
#define PODS "/api/v1/namespaces/ns1/pods"
#define INGS "/apis/networking.k8s.io/v1/namespaces/ns1/ingresses"

typedef struct fixture {
    fake_kube_t *api;
    kube_client_t *kube;
    ctrl_options_t opts;
    ctrl_ctx_t ctx;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->api = fake_kube_start();
    assert_non_null(f->api);
    f->kube = fake_kube_client(f->api);
    assert_non_null(f->kube);
    f->opts.solver_image = "ghcr.io/kacme/acmesolver:test";
    f->opts.solver_run_as_non_root = true;
    f->opts.user_agent = "kacme-test";
    f->ctx.opts = &f->opts;
    f->ctx.kube = f->kube;
    f->ctx.pods = kube_store_new();
    f->ctx.services = kube_store_new();
    f->ctx.ingresses = kube_store_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    ctrl_http01_set_options(NULL); /* back to the defaults for the next test */
    kube_store_free(f->ctx.pods);
    kube_store_free(f->ctx.services);
    kube_store_free(f->ctx.ingresses);
    kube_client_free(f->kube);
    fake_kube_stop(f->api);
    free(f);
    return 0;
}

/* A Challenge c1 for a.example.com with solver http01.ingress <ingress> (stored; new reference). */
static json_object *add_challenge(fixture_t *f, const char *ingress)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"acme.cert-manager.io/v1\",\"kind\":\"Challenge\",\"metadata\":{\"name\":\"c1\","
             "\"namespace\":\"ns1\",\"uid\":\"uid-c1\"},\"spec\":{\"url\":\"https://ca.invalid/chal/1\","
             "\"authorizationURL\":\"https://ca.invalid/authz/1\",\"dnsName\":\"a.example.com\",\"wildcard\":false,"
             "\"type\":\"HTTP-01\",\"token\":\"tok-c1\",\"key\":\"tok-c1.thumb\",\"solver\":{\"http01\":{\"ingress\":"
             "%s}},\"issuerRef\":{\"name\":\"le\"}},\"status\":{\"processing\":true,\"state\":\"pending\"}}",
             ingress);
    json_object *c = json_tokener_parse(buf);
    assert_non_null(c);
    json_object *stored = fake_kube_put(f->api, CH_PATH, c);
    json_object_put(c);
    return stored;
}

/* The single object of the collection (new reference). */
static json_object *only(fixture_t *f, const kube_resource_t *r, const char *coll)
{
    assert_int_equal(fake_kube_count(f->api, coll), 1);
    kube_list_opts_t lo = {0};
    json_object *list = NULL;
    kube_error_t ke;
    assert_int_equal(kube_list(f->kube, r, "ns1", &lo, &list, &ke), 0);
    json_object *items = ctrl_get(list, "items");
    assert_int_equal(json_object_array_length(items), 1);
    json_object *it = json_object_get(json_object_array_get_idx(items, 0));
    json_object_put(list);
    return it;
}

static void present(fixture_t *f, json_object *c)
{
    char err[1024] = "";
    if (ctrl_http01_solver.present(&f->ctx, c, err, sizeof(err)) != 0)
        fail_msg("present: %s", err);
}

/* Defaults: no runtimeClassName on the solver pod, pathType Exact. */
static void test_defaults(void **state)
{
    fixture_t *f = *state;
    json_object *c = add_challenge(f, "{}");
    present(f, c);
    json_object *pod = only(f, &KUBE_RES_PODS, PODS "/"), *ing = only(f, &KUBE_RES_INGRESSES, INGS "/");
    assert_null(ctrl_get(pod, "spec.runtimeClassName"));
    const char *s = json_object_to_json_string_ext(ing, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(s, "\"pathType\":\"Exact\""));
    json_object_put(pod);
    json_object_put(ing);
    json_object_put(c);
}

/* --acme-http01-solver-runtime-class-name and ACMEHTTP01IngressPathTypeExact=false. */
static void test_runtime_class_and_path_type(void **state)
{
    fixture_t *f = *state;
    ctrl_http01_options_t o;
    ctrl_http01_options_init(&o);
    assert_true(o.ingress_path_type_exact);
    o.runtime_class_name = "gvisor";
    o.ingress_path_type_exact = false;
    ctrl_http01_set_options(&o);
    json_object *c = add_challenge(f, "{}");
    present(f, c);
    json_object *pod = only(f, &KUBE_RES_PODS, PODS "/"), *ing = only(f, &KUBE_RES_INGRESSES, INGS "/");
    assert_string_equal(ctrl_str(pod, "spec.runtimeClassName"), "gvisor");
    const char *s = json_object_to_json_string_ext(ing, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(s, "\"pathType\":\"ImplementationSpecific\""));
    assert_null(strstr(s, "\"Exact\""));
    json_object_put(pod);
    json_object_put(ing);
    json_object_put(c);
}

/* The gate also applies to a named Ingress edited in place. */
static void test_path_type_edit_in_place(void **state)
{
    fixture_t *f = *state;
    ctrl_http01_options_t o;
    ctrl_http01_options_init(&o);
    o.ingress_path_type_exact = false;
    ctrl_http01_set_options(&o);
    json_object *web = json_tokener_parse(
        "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\",\"namespace\":"
        "\"ns1\"},\"spec\":{\"rules\":[{\"host\":\"a.example.com\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":"
        "\"Prefix\",\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}}]}}]}}");
    json_object_put(fake_kube_put(f->api, INGS "/web", web));
    json_object_put(web);
    json_object *c = add_challenge(f, "{\"name\":\"web\"}");
    present(f, c);
    json_object *got = fake_kube_get(f->api, INGS "/web");
    const char *s = json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(s, "\"pathType\":\"ImplementationSpecific\""));
    assert_non_null(strstr(s, "\"pathType\":\"Prefix\"")); /* the user's path is untouched */
    json_object_put(got);
    json_object_put(c);
}

int main(void)
{
    http_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_class_and_path_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_type_edit_in_place, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
