/* SPDX-License-Identifier: Apache-2.0 */
/* REST paths and the watch stream decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/rest.h"

static void test_paths(void **state)
{
    char buf[256];
    const kube_resource_t orders = {"acme.cert-manager.io", "v1", "orders", true};
    const kube_resource_t cissuers = {"cert-manager.io", "v1", "clusterissuers", false};
    (void)state;

    assert_int_equal(kube_path(buf, sizeof(buf), &KUBE_RES_CONFIGMAPS, "ns1", "cm", NULL), 0);
    assert_string_equal(buf, "/api/v1/namespaces/ns1/configmaps/cm");
    assert_int_equal(kube_path(buf, sizeof(buf), &KUBE_RES_CONFIGMAPS, NULL, NULL, NULL), 0);
    assert_string_equal(buf, "/api/v1/configmaps");
    assert_int_equal(kube_path(buf, sizeof(buf), &KUBE_RES_CONFIGMAPS, "ns1", NULL, NULL), 0);
    assert_string_equal(buf, "/api/v1/namespaces/ns1/configmaps");
    assert_int_equal(kube_path(buf, sizeof(buf), &orders, "default", "o-1", "status"), 0);
    assert_string_equal(buf, "/apis/acme.cert-manager.io/v1/namespaces/default/orders/o-1/status");
    /* Cluster-scoped: the namespace is ignored. */
    assert_int_equal(kube_path(buf, sizeof(buf), &cissuers, "ignored", "le", NULL), 0);
    assert_string_equal(buf, "/apis/cert-manager.io/v1/clusterissuers/le");
    assert_int_equal(kube_path(buf, sizeof(buf), &KUBE_RES_NAMESPACES, NULL, "kube-system", NULL), 0);
    assert_string_equal(buf, "/api/v1/namespaces/kube-system");
    assert_int_equal(kube_path(buf, sizeof(buf), &KUBE_RES_LEASES, "kacme", "kacme-controller", NULL), 0);
    assert_string_equal(buf, "/apis/coordination.k8s.io/v1/namespaces/kacme/leases/kacme-controller");
    /* Hostile names are encoded, never path-walked. */
    assert_int_equal(kube_path(buf, sizeof(buf), &KUBE_RES_CONFIGMAPS, "ns", "a/../b?x", NULL), 0);
    assert_string_equal(buf, "/api/v1/namespaces/ns/configmaps/a%2F..%2Fb%3Fx");
    assert_int_equal(kube_path(buf, sizeof(buf), &KUBE_RES_CONFIGMAPS, "ns", "..", NULL), -1);
    /* A namespaced object needs a namespace; a subresource needs a name; small buffers fail. */
    assert_int_equal(kube_path(buf, sizeof(buf), &KUBE_RES_CONFIGMAPS, NULL, "cm", NULL), -1);
    assert_int_equal(kube_path(buf, sizeof(buf), &orders, "ns", NULL, "status"), -1);
    assert_int_equal(kube_path(buf, 10, &KUBE_RES_CONFIGMAPS, "ns1", "cm", NULL), -1);
}

typedef struct seen {
    int n;
    enum kube_watch_event types[16];
    char names[16][64];
    int stop_after;
} seen_t;

static int collect(void *ud, enum kube_watch_event type, json_object *obj)
{
    seen_t *s = ud;
    json_object *md = NULL, *name = NULL;
    if (s->n < 16) {
        s->types[s->n] = type;
        if (json_object_object_get_ex(obj, "metadata", &md) && json_object_object_get_ex(md, "name", &name))
            snprintf(s->names[s->n], sizeof(s->names[0]), "%s", json_object_get_string(name));
        else if (json_object_object_get_ex(md, "resourceVersion", &name))
            snprintf(s->names[s->n], sizeof(s->names[0]), "rv=%s", json_object_get_string(name));
    }
    s->n++;
    return (s->stop_after && s->n >= s->stop_after) ? -1 : 0;
}

static const char STREAM[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"},"
    "\"data\":{\"k\":\"v\\nw\"}}}\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"7\"}}}\r\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"8\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";

static void check_stream(seen_t *s)
{
    assert_int_equal(s->n, 5);
    assert_int_equal(s->types[0], KUBE_WATCH_ADDED);
    assert_string_equal(s->names[0], "a");
    assert_int_equal(s->types[1], KUBE_WATCH_MODIFIED);
    assert_int_equal(s->types[2], KUBE_WATCH_BOOKMARK);
    assert_string_equal(s->names[2], "rv=7");
    assert_int_equal(s->types[3], KUBE_WATCH_DELETED);
    assert_int_equal(s->types[4], KUBE_WATCH_ERROR);
}

static void test_decoder_whole_and_split(void **state)
{
    char err[160];
    size_t len = strlen(STREAM);
    (void)state;
    /* In one chunk, and split at every possible pair of boundaries (sizes 1..len). */
    for (size_t chunk = 1; chunk <= len; chunk += (chunk < 40 ? 1 : 37)) {
        seen_t s = {0};
        kube_watch_decoder_t *d = kube_watch_decoder_new(collect, &s, 0);
        assert_non_null(d);
        for (size_t off = 0; off < len; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;
            assert_int_equal(kube_watch_decoder_feed(d, STREAM + off, n, err, sizeof(err)), 0);
        }
        check_stream(&s);
        kube_watch_decoder_free(d);
    }
    {
        /* Uneven splits: a line over three chunks, two lines and a half in one. */
        seen_t s = {0};
        kube_watch_decoder_t *d = kube_watch_decoder_new(collect, &s, 0);
        size_t cuts[] = {3, 50, 51, 200, 201, 202, len};
        size_t prev = 0;
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
            assert_int_equal(kube_watch_decoder_feed(d, STREAM + prev, cuts[i] - prev, err, sizeof(err)), 0);
            prev = cuts[i];
        }
        check_stream(&s);
        kube_watch_decoder_free(d);
    }
}

static void test_decoder_errors_and_stop(void **state)
{
    char err[160];
    seen_t s = {0};
    kube_watch_decoder_t *d;
    (void)state;

    d = kube_watch_decoder_new(collect, &s, 0);
    assert_int_equal(kube_watch_decoder_feed(d, "{\"type\":\"ADDED\"\n", 16, err, sizeof(err)), -1);
    kube_watch_decoder_free(d);

    d = kube_watch_decoder_new(collect, &s, 0);
    assert_int_equal(kube_watch_decoder_feed(d, "{\"type\":\"NOPE\",\"object\":{}}\n", 29, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown"));
    kube_watch_decoder_free(d);

    d = kube_watch_decoder_new(collect, &s, 0);
    assert_int_equal(kube_watch_decoder_feed(d, "[1,2]\n", 6, err, sizeof(err)), -1);
    kube_watch_decoder_free(d);

    /* Two documents on one line are not one event. */
    d = kube_watch_decoder_new(collect, &s, 0);
    assert_int_equal(kube_watch_decoder_feed(d, "{\"type\":\"ADDED\",\"object\":{}} {}\n", 32, err, sizeof(err)),
                     -1);
    kube_watch_decoder_free(d);

    /* Oversized line, even when it arrives in small pieces. */
    d = kube_watch_decoder_new(collect, &s, 64);
    {
        char junk[40];
        memset(junk, 'x', sizeof(junk));
        assert_int_equal(kube_watch_decoder_feed(d, junk, sizeof(junk), err, sizeof(err)), 0);
        assert_int_equal(kube_watch_decoder_feed(d, junk, sizeof(junk), err, sizeof(err)), -1);
    }
    kube_watch_decoder_free(d);

    /* The callback stops the stream: 1. */
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    d = kube_watch_decoder_new(collect, &s, 0);
    assert_int_equal(kube_watch_decoder_feed(d, STREAM, strlen(STREAM), err, sizeof(err)), 1);
    assert_int_equal(s.n, 2);
    kube_watch_decoder_free(d);
    kube_watch_decoder_free(NULL);
}

static void test_event_names(void **state)
{
    enum kube_watch_event t;
    (void)state;
    assert_int_equal(kube_watch_event_parse("BOOKMARK", &t), 0);
    assert_int_equal(t, KUBE_WATCH_BOOKMARK);
    assert_int_equal(kube_watch_event_parse("added", &t), -1);
    assert_string_equal(kube_watch_event_name(KUBE_WATCH_DELETED), "DELETED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_decoder_whole_and_split),
        cmocka_unit_test(test_decoder_errors_and_stop),
        cmocka_unit_test(test_event_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
