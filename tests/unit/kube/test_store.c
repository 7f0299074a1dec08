/* SPDX-License-Identifier: Apache-2.0 */
/* The indexed object store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "kube/store.h"

static json_object *mk(const char *ns, const char *name, const char *rv, const char *owner_uid, const char *issuer)
{
    json_object *o = json_object_new_object(), *md = json_object_new_object();
    json_object_object_add(o, "kind", json_object_new_string("Challenge"));
    json_object_object_add(o, "metadata", md);
    json_object_object_add(md, "name", json_object_new_string(name));
    if (ns)
        json_object_object_add(md, "namespace", json_object_new_string(ns));
    json_object_object_add(md, "resourceVersion", json_object_new_string(rv));
    json_object_object_add(md, "managedFields", json_tokener_parse("[{\"manager\":\"kubectl\"}]"));
    if (owner_uid) {
        json_object *refs = json_object_new_array(), *r1 = json_object_new_object(), *r2 = json_object_new_object();
        json_object_object_add(r1, "uid", json_object_new_string("not-the-controller"));
        json_object_object_add(r2, "uid", json_object_new_string(owner_uid));
        json_object_object_add(r2, "controller", json_object_new_boolean(1));
        json_object_array_add(refs, r1);
        json_object_array_add(refs, r2);
        json_object_object_add(md, "ownerReferences", refs);
    }
    if (issuer) {
        json_object *spec = json_object_new_object();
        json_object_object_add(spec, "issuer", json_object_new_string(issuer));
        json_object_object_add(o, "spec", spec);
    }
    return o;
}

static const char *rv(json_object *o)
{
    json_object *md = NULL, *v = NULL;
    json_object_object_get_ex(o, "metadata", &md);
    json_object_object_get_ex(md, "resourceVersion", &v);
    return json_object_get_string(v);
}

static void issuer_index(void *ud, json_object *obj, kube_index_emit_fn emit, void *ectx)
{
    json_object *spec = NULL, *v = NULL;
    (void)ud;
    if (json_object_object_get_ex(obj, "spec", &spec) && json_object_object_get_ex(spec, "issuer", &v)) {
        emit(ectx, json_object_get_string(v));
        emit(ectx, "any-issuer");
        emit(ectx, "any-issuer"); /* duplicates are filed once */
    }
}

static bool compact_mode(void **state)
{
    return *state != NULL;
}

static kube_store_t *new_store(void **state)
{
    kube_store_t *s = kube_store_new();
    assert_non_null(s);
    kube_store_set_compact(s, compact_mode(state));
    return s;
}

static int count_visit(void *ud, json_object *obj)
{
    int *n = ud;
    assert_non_null(obj);
    (*n)++;
    return 0;
}

static void test_crud_and_indexes(void **state)
{
    kube_store_t *s = new_store(state);
    json_object *old = NULL, *stored = NULL, *got, **list = NULL;
    size_t n = 0;

    assert_int_equal(kube_store_add_index(s, "issuer", issuer_index, NULL), 0);
    assert_int_equal(kube_store_add_index(s, "issuer", issuer_index, NULL), -1);
    assert_int_equal(kube_store_upsert(s, mk("ns1", "a", "1", "uid-o1", "le"), &old, &stored), 0);
    assert_null(old);
    assert_non_null(stored);
    {
        /* managedFields dropped by the default transform. */
        json_object *md = NULL, *mf = NULL;
        json_object_object_get_ex(stored, "metadata", &md);
        assert_false(json_object_object_get_ex(md, "managedFields", &mf));
    }
    json_object_put(stored);
    assert_int_equal(kube_store_upsert(s, mk("ns1", "b", "2", "uid-o1", "zerossl"), NULL, NULL), 0);
    assert_int_equal(kube_store_upsert(s, mk("ns2", "a", "3", "uid-o2", "le"), NULL, NULL), 0);
    assert_int_equal(kube_store_upsert(s, mk(NULL, "cluster-wide", "4", NULL, NULL), NULL, NULL), 0);
    assert_int_equal(kube_store_len(s), 4);
    assert_int_equal(kube_store_add_index(s, "late", issuer_index, NULL), -1); /* not empty */

    got = kube_store_get(s, "ns1/a");
    assert_non_null(got);
    assert_string_equal(rv(got), "1");
    /* A reader's copy is its own: editing it leaves the store alone. */
    json_object_object_add(got, "spec", json_object_new_string("edited"));
    json_object_put(got);
    got = kube_store_get(s, "ns1/a");
    {
        json_object *spec = NULL;
        assert_true(json_object_object_get_ex(got, "spec", &spec));
        assert_true(json_object_is_type(spec, json_type_object));
    }
    json_object_put(got);
    {
        int count = 0;
        assert_int_equal(kube_store_foreach(s, KUBE_INDEX_NAMESPACE, "ns1", count_visit, &count), 0);
        assert_int_equal(count, 2);
        count = 0;
        assert_int_equal(kube_store_foreach(s, NULL, NULL, count_visit, &count), 0);
        assert_int_equal(count, 4);
        assert_int_equal(kube_store_foreach(s, "nope", "x", count_visit, &count), -1);
    }
    got = kube_store_get_ns(s, NULL, "cluster-wide");
    assert_non_null(got);
    json_object_put(got);
    assert_null(kube_store_get(s, "ns1/zzz"));

    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_NAMESPACE, "ns1", &list, &n), 0);
    assert_int_equal(n, 2);
    kube_store_list_free(list, n);
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_CONTROLLER, "uid-o1", &list, &n), 0);
    assert_int_equal(n, 2);
    kube_store_list_free(list, n);
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_CONTROLLER, "not-the-controller", &list, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kube_store_by_index(s, "issuer", "le", &list, &n), 0);
    assert_int_equal(n, 2);
    kube_store_list_free(list, n);
    assert_int_equal(kube_store_by_index(s, "issuer", "any-issuer", &list, &n), 0);
    assert_int_equal(n, 3);
    kube_store_list_free(list, n);
    assert_int_equal(kube_store_by_index(s, "nope", "x", &list, &n), -1);

    /* Update moves the object between index values. */
    assert_int_equal(kube_store_upsert(s, mk("ns1", "a", "5", "uid-o2", "zerossl"), &old, &stored), 0);
    assert_string_equal(rv(old), "1");
    assert_string_equal(rv(stored), "5");
    json_object_put(old);
    json_object_put(stored);
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_CONTROLLER, "uid-o1", &list, &n), 0);
    assert_int_equal(n, 1);
    kube_store_list_free(list, n);
    assert_int_equal(kube_store_by_index(s, "issuer", "le", &list, &n), 0);
    assert_int_equal(n, 1);
    kube_store_list_free(list, n);

    /* A reference taken before a delete stays valid. */
    got = kube_store_get(s, "ns2/a");
    assert_int_equal(kube_store_delete(s, "ns2/a", &old), 1);
    assert_ptr_not_equal(old, got); /* readers get private copies */
    assert_string_equal(rv(old), "3");
    json_object_put(old);
    assert_string_equal(rv(got), "3");
    json_object_put(got);
    assert_int_equal(kube_store_delete(s, "ns2/a", NULL), 0);
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_NAMESPACE, "ns2", &list, &n), 0);
    assert_int_equal(n, 0);

    assert_int_equal(kube_store_list(s, &list, &n), 0);
    assert_int_equal(n, 3);
    kube_store_list_free(list, n);
    {
        char **keys;
        assert_int_equal(kube_store_keys(s, &keys, &n), 0);
        assert_int_equal(n, 3);
        kube_store_keys_free(keys, n);
    }
    /* Objects without a name are refused (and released). */
    assert_int_equal(kube_store_upsert(s, json_tokener_parse("{\"metadata\":{}}"), NULL, NULL), -1);
    kube_store_free(s);
    kube_store_free(NULL);
}

typedef struct diffs {
    int added, modified, deleted;
    char last_deleted[64];
} diffs_t;

static void on_diff(void *ud, enum kube_store_change what, json_object *old, json_object *obj)
{
    diffs_t *d = ud;
    switch (what) {
    case KUBE_STORE_ADDED:
        assert_null(old);
        assert_non_null(obj);
        d->added++;
        break;
    case KUBE_STORE_MODIFIED:
        assert_non_null(old);
        assert_non_null(obj);
        assert_string_not_equal(rv(old), rv(obj));
        d->modified++;
        break;
    case KUBE_STORE_DELETED: {
        json_object *md = NULL, *name = NULL;
        assert_null(obj);
        json_object_object_get_ex(old, "metadata", &md);
        json_object_object_get_ex(md, "name", &name);
        snprintf(d->last_deleted, sizeof(d->last_deleted), "%s", json_object_get_string(name));
        d->deleted++;
        break;
    }
    }
}

static void test_replace_diff(void **state)
{
    kube_store_t *s = new_store(state);
    json_object *objs[4], **list;
    diffs_t d = {0};
    size_t n;

    objs[0] = mk("ns", "a", "1", "o", NULL);
    objs[1] = mk("ns", "b", "1", "o", NULL);
    objs[2] = mk("ns", "c", "1", "o", NULL);
    assert_int_equal(kube_store_replace(s, objs, 3, on_diff, &d), 0);
    assert_int_equal(d.added, 3);
    assert_int_equal(kube_store_len(s), 3);

    /* Relist: a unchanged, b modified, c gone, d new. */
    memset(&d, 0, sizeof(d));
    objs[0] = mk("ns", "a", "1", "o", NULL);
    objs[1] = mk("ns", "b", "2", "o", NULL);
    objs[2] = mk("ns", "d", "3", "o2", NULL);
    assert_int_equal(kube_store_replace(s, objs, 3, on_diff, &d), 0);
    assert_int_equal(d.added, 1);
    assert_int_equal(d.modified, 1);
    assert_int_equal(d.deleted, 1);
    assert_string_equal(d.last_deleted, "c");
    assert_int_equal(kube_store_len(s), 3);
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_CONTROLLER, "o", &list, &n), 0);
    assert_int_equal(n, 2);
    kube_store_list_free(list, n);

    /* Duplicate keys in one list: the later wins; empty relist deletes everything. */
    memset(&d, 0, sizeof(d));
    objs[0] = mk("ns", "a", "7", "o", NULL);
    objs[1] = mk("ns", "a", "8", "o", NULL);
    assert_int_equal(kube_store_replace(s, objs, 2, on_diff, &d), 0);
    {
        json_object *a = kube_store_get(s, "ns/a");
        assert_string_equal(rv(a), "8");
        json_object_put(a);
    }
    assert_int_equal(kube_store_len(s), 1);
    memset(&d, 0, sizeof(d));
    assert_int_equal(kube_store_replace(s, NULL, 0, on_diff, &d), 0);
    assert_int_equal(d.deleted, 1);
    assert_int_equal(kube_store_len(s), 0);
    kube_store_free(s);
}

static json_object *keep_only_metadata(void *ud, json_object *obj)
{
    (void)ud;
    json_object_object_del(obj, "spec");
    return obj;
}

static json_object *drop_all(void *ud, json_object *obj)
{
    (void)ud;
    json_object_put(obj);
    return NULL;
}

static void test_transforms(void **state)
{
    kube_store_t *s = kube_store_new();
    json_object *stored = NULL, *spec = NULL, *md = NULL, *mf = NULL;
    (void)state;
    kube_store_set_transform(s, keep_only_metadata, NULL);
    assert_int_equal(kube_store_upsert(s, mk("ns", "a", "1", NULL, "le"), NULL, &stored), 0);
    assert_false(json_object_object_get_ex(stored, "spec", &spec));
    /* A custom transform replaces the default: managedFields stay. */
    json_object_object_get_ex(stored, "metadata", &md);
    assert_true(json_object_object_get_ex(md, "managedFields", &mf));
    json_object_put(stored);
    kube_store_set_transform(s, drop_all, NULL);
    assert_int_equal(kube_store_upsert(s, mk("ns", "b", "1", NULL, NULL), NULL, NULL), -1);
    assert_int_equal(kube_store_len(s), 1);
    kube_store_free(s);
}

static void test_many(void **state)
{
    kube_store_t *s = new_store(state);
    json_object **list;
    size_t n;
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "obj-%d", i);
        assert_int_equal(kube_store_upsert(s, mk(i % 2 ? "odd" : "even", name, "1", NULL, NULL), NULL, NULL), 0);
    }
    assert_int_equal(kube_store_len(s), 5000);
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_NAMESPACE, "odd", &list, &n), 0);
    assert_int_equal(n, 2500);
    kube_store_list_free(list, n);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(name, sizeof(name), "even/obj-%d", i);
        assert_int_equal(kube_store_delete(s, name, NULL), 1);
    }
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_NAMESPACE, "even", &list, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kube_store_len(s), 2500);
    kube_store_free(s);
}

typedef struct stress {
    kube_store_t *s;
    int id;
} stress_t;

/* Writers upsert/delete their own keys; readers list and look up meanwhile. */
static void *stress_thread(void *arg)
{
    stress_t *t = arg;
    char name[32], key[64];
    for (int round = 0; round < 300; round++) {
        if (t->id < 2) {
            snprintf(name, sizeof(name), "w%d-%d", t->id, round % 50);
            kube_store_upsert(t->s, mk("ns", name, round % 2 ? "1" : "2", t->id ? "o1" : "o2", "le"), NULL, NULL);
            if (round % 3 == 0) {
                snprintf(key, sizeof(key), "ns/w%d-%d", t->id, (round + 7) % 50);
                kube_store_delete(t->s, key, NULL);
            }
        } else {
            json_object **list = NULL, *o;
            size_t n = 0;
            if (kube_store_by_index(t->s, KUBE_INDEX_CONTROLLER, "o1", &list, &n) == 0)
                kube_store_list_free(list, n);
            if (kube_store_list(t->s, &list, &n) == 0)
                kube_store_list_free(list, n);
            o = kube_store_get(t->s, "ns/w0-1");
            json_object_put(o);
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    kube_store_t *s = new_store(state);
    pthread_t th[4];
    stress_t args[4];
    json_object **list = NULL;
    size_t n = 0, m = 0;
    for (int i = 0; i < 4; i++) {
        args[i].s = s;
        args[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, stress_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* Indexes agree with the content. */
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_NAMESPACE, "ns", &list, &n), 0);
    kube_store_list_free(list, n);
    assert_int_equal(n, kube_store_len(s));
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_CONTROLLER, "o1", &list, &m), 0);
    kube_store_list_free(list, m);
    assert_int_equal(kube_store_by_index(s, KUBE_INDEX_CONTROLLER, "o2", &list, &n), 0);
    kube_store_list_free(list, n);
    assert_int_equal(n + m, kube_store_len(s));
    kube_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud_and_indexes),
        cmocka_unit_test(test_replace_diff),
        cmocka_unit_test(test_transforms),
        cmocka_unit_test(test_many),
        cmocka_unit_test_prestate(test_crud_and_indexes, (void *)1),
        cmocka_unit_test_prestate(test_replace_diff, (void *)1),
        cmocka_unit_test_prestate(test_many, (void *)1),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test_prestate(test_concurrent, (void *)1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
