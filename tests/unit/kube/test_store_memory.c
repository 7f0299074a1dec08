/* SPDX-License-Identifier: Apache-2.0 */
/* Memory per cached object: 10,000 Challenge-sized objects (~1.5 KB of JSON each, with managedFields that
 * the default transform drops) parsed the way the informer parses them and stored; the heap growth
 * (mallinfo2) divided by the count is printed. The bound asserted is loose: it catches a regression by a
 * factor, not noise. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kube/store.h"

#define N 10000

static const char CHALLENGE[] =
    "{\"apiVersion\":\"acme.cert-manager.io/v1\",\"kind\":\"Challenge\",\"metadata\":{\"creationTimestamp\":"
    "\"2026-11-29T18:00:00Z\",\"finalizers\":[\"finalizer.acme.cert-manager.io\"],\"generation\":1,\"labels\":{"
    "\"app.kubernetes.io/managed-by\":\"kacme\"},\"name\":\"%s\",\"namespace\":\"team-%d\",\"ownerReferences\":[{"
    "\"apiVersion\":\"acme.cert-manager.io/v1\",\"blockOwnerDeletion\":true,\"controller\":true,\"kind\":\"Order\","
    "\"name\":\"www-example-com-1-2961718911\",\"uid\":\"6c1f6b4e-5a3d-4a8e-9a53-%012d\"}],\"resourceVersion\":"
    "\"%d\",\"uid\":\"0b7d3c52-9a4e-4f3b-8d6e-%012d\",\"managedFields\":[{\"apiVersion\":\"acme.cert-manager.io/v1\","
    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:finalizers\":{\".\":{},\"v:\\\"finalizer.acme.cert-"
    "manager.io\\\"\":{}},\"f:ownerReferences\":{\".\":{},\"k:{\\\"uid\\\":\\\"6c1f\\\"}\":{}}},\"f:spec\":{\".\":{},"
    "\"f:authorizationURL\":{},\"f:dnsName\":{},\"f:issuerRef\":{\".\":{},\"f:kind\":{},\"f:name\":{}},\"f:key\":{},"
    "\"f:solver\":{},\"f:token\":{},\"f:type\":{},\"f:url\":{}}},\"manager\":\"kacme-controller\",\"operation\":"
    "\"Update\",\"time\":\"2026-11-29T18:00:00Z\"}]},\"spec\":{\"authorizationURL\":\"https://acme-v02.api.letsencrypt"
    ".org/acme/authz-v3/123456789012\",\"dnsName\":\"www.example.com\",\"issuerRef\":{\"group\":\"cert-manager.io\","
    "\"kind\":\"ClusterIssuer\",\"name\":\"letsencrypt-prod\"},\"key\":\"9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI."
    "xT9nG8wPqZ3rL5kYhB2cV7dJ4sF1aE6uM0oN8iR3tWy\",\"solver\":{\"http01\":{\"ingress\":{\"ingressClassName\":"
    "\"nginx\"}}},\"token\":\"9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI\",\"type\":\"HTTP-01\",\"url\":\"https://acme-"
    "v02.api.letsencrypt.org/acme/chall-v3/123456789012/AbCdEf\",\"wildcard\":false},\"status\":{\"presented\":true,"
    "\"processing\":true,\"reason\":\"Waiting for HTTP-01 challenge propagation: wrong status code '404', expected "
    "'200'\",\"state\":\"pending\"}}";

static void test_memory_per_object(void **state)
{
    kube_store_t *s = kube_store_new();
    bool compact = *state != NULL;
    struct mallinfo2 before, after;
    char buf[4096];
    size_t json_bytes = 0, per;

    kube_store_set_compact(s, compact);
    before = mallinfo2();
    for (int i = 0; i < N; i++) {
        char name[64];
        json_object *o;
        int n;
        snprintf(name, sizeof(name), "www-example-com-1-2961718911-%d", i);
        n = snprintf(buf, sizeof(buf), CHALLENGE, name, i % 50, i, 1000 + i, i);
        assert_true(n > 0 && (size_t)n < sizeof(buf));
        json_bytes += (size_t)n;
        o = json_tokener_parse(buf);
        assert_non_null(o);
        assert_int_equal(kube_store_upsert(s, o, NULL, NULL), 0);
    }
    after = mallinfo2();
    per = (after.uordblks - before.uordblks) / N;
    printf("store memory (%s): %zu bytes per cached Challenge (JSON %zu bytes with managedFields, %d objects)\n",
           compact ? "compact" : "json-c trees", per, json_bytes / N, N);
    {
        /* The JSON the store keeps (managedFields dropped). */
        json_object *o = kube_store_get(s, "team-0/www-example-com-1-2961718911-0");
        size_t kept = 0;
        json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &kept);
        printf("store memory: kept JSON %zu bytes per object\n", kept);
        json_object_put(o);
    }
    assert_true(per < (compact ? 4 * 1024 : 32 * 1024));
    {
        /* Cost of a reader's private copy (printed only: no timing assertions). */
        struct timespec t0, t1;
        char key[96];
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < N; i++) {
            json_object *o;
            snprintf(key, sizeof(key), "team-%d/www-example-com-1-2961718911-%d", i % 50, i);
            o = kube_store_get(s, key);
            assert_non_null(o);
            json_object_put(o);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("store get (%s): %.1f us per object\n", compact ? "compact: parse" : "deep copy",
               ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / N);
    }
    kube_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_per_object),
        cmocka_unit_test_prestate(test_memory_per_object, (void *)1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
