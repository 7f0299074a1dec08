/* SPDX-License-Identifier: Apache-2.0 */
#include "kube/store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small chained hash map with string keys ---- */

typedef struct hnode {
    char *key;
    void *val;
    struct hnode *next;
} hnode_t;

typedef struct hmap {
    hnode_t **b;
    size_t nb, n;
    bool own_keys; /* keys are copied and freed by the map; otherwise borrowed from the value */
} hmap_t;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static hnode_t *hmap_find(const hmap_t *m, const char *key)
{
    if (!m->nb)
        return NULL;
    for (hnode_t *x = m->b[hash_str(key) & (m->nb - 1)]; x; x = x->next)
        if (strcmp(x->key, key) == 0)
            return x;
    return NULL;
}

static void *hmap_get(const hmap_t *m, const char *key)
{
    hnode_t *x = hmap_find(m, key);
    return x ? x->val : NULL;
}

static int hmap_grow(hmap_t *m)
{
    size_t nnb = m->nb ? m->nb * 2 : 16;
    hnode_t **nb = calloc(nnb, sizeof(*nb));
    if (!nb)
        return -1;
    for (size_t i = 0; i < m->nb; i++) {
        hnode_t *x = m->b[i];
        while (x) {
            hnode_t *next = x->next;
            size_t j = hash_str(x->key) & (nnb - 1);
            x->next = nb[j];
            nb[j] = x;
            x = next;
        }
    }
    free(m->b);
    m->b = nb;
    m->nb = nnb;
    return 0;
}

/* Inserts key (must be absent). Returns 0 or -1. */
static int hmap_put(hmap_t *m, const char *key, void *val)
{
    hnode_t *x;
    size_t j;
    if (m->n >= m->nb && hmap_grow(m) < 0)
        return -1;
    x = malloc(sizeof(*x));
    if (!x)
        return -1;
    x->key = m->own_keys ? strdup(key) : (char *)key;
    if (!x->key) {
        free(x);
        return -1;
    }
    x->val = val;
    j = hash_str(key) & (m->nb - 1);
    x->next = m->b[j];
    m->b[j] = x;
    m->n++;
    return 0;
}

/* Removes key; returns its value or NULL. */
static void *hmap_del(hmap_t *m, const char *key)
{
    hnode_t **pp;
    if (!m->nb)
        return NULL;
    for (pp = &m->b[hash_str(key) & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
        hnode_t *x = *pp;
        if (strcmp(x->key, key) == 0) {
            void *v = x->val;
            *pp = x->next;
            if (m->own_keys)
                free(x->key);
            free(x);
            m->n--;
            return v;
        }
    }
    return NULL;
}

static void hmap_clear(hmap_t *m, void (*free_val)(void *))
{
    for (size_t i = 0; i < m->nb; i++) {
        hnode_t *x = m->b[i];
        while (x) {
            hnode_t *next = x->next;
            if (free_val)
                free_val(x->val);
            if (m->own_keys)
                free(x->key);
            free(x);
            x = next;
        }
    }
    free(m->b);
    m->b = NULL;
    m->nb = m->n = 0;
}

/* ---- the store ---- */

typedef struct ivals {
    char **v;
    size_t n;
} ivals_t;

typedef struct entry {
    char *key;
    json_object *obj; /* one reference owned by the store; NULL in compact mode */
    char *json;       /* compact mode: the object serialised (exact-size allocation) */
    size_t json_len;
    char *rv;         /* metadata.resourceVersion ("" when absent) */
    ivals_t *iv;      /* per index, the values this object is filed under */
} entry_t;

typedef struct index {
    char *name;
    kube_index_fn fn;
    void *ud;
    hmap_t values; /* value (owned key) -> hmap_t * set of entry key (borrowed) -> entry_t * */
} index_t;

#define MAX_INDEXES 16

struct kube_store {
    pthread_rwlock_t lock;
    hmap_t items; /* key (borrowed from entry) -> entry_t * */
    index_t idx[MAX_INDEXES];
    size_t n_idx;
    kube_transform_fn transform;
    void *transform_ud;
    bool compact;
};

static json_object *sub(json_object *o, const char *k)
{
    json_object *v = NULL; /* borrowed */
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v))
        return NULL;
    return v;
}

static const char *sub_str(json_object *o, const char *k)
{
    json_object *v = sub(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *kube_transform_drop_managed_fields(void *ud, json_object *obj)
{
    json_object *md = sub(obj, "metadata");
    if (md && json_object_is_type(md, json_type_object))
        json_object_object_del(md, "managedFields");
    return obj;
}

static void index_namespace(void *ud, json_object *obj, kube_index_emit_fn emit, void *ectx)
{
    const char *ns = sub_str(sub(obj, "metadata"), "namespace");
    if (ns && ns[0])
        emit(ectx, ns);
}

static void index_controller(void *ud, json_object *obj, kube_index_emit_fn emit, void *ectx)
{
    json_object *refs = sub(sub(obj, "metadata"), "ownerReferences");
    size_t n;
    if (!refs || !json_object_is_type(refs, json_type_array))
        return;
    n = json_object_array_length(refs);
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(refs, i); /* borrowed */
        json_object *ctl = sub(r, "controller");
        const char *uid = sub_str(r, "uid");
        if (ctl && json_object_is_type(ctl, json_type_boolean) && json_object_get_boolean(ctl) && uid) {
            emit(ectx, uid);
            return; /* at most one controller */
        }
    }
}

kube_store_t *kube_store_new(void)
{
    kube_store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (pthread_rwlock_init(&s->lock, NULL) != 0) {
        free(s);
        return NULL;
    }
    s->transform = kube_transform_drop_managed_fields;
    s->compact = true;
    if (kube_store_add_index(s, KUBE_INDEX_NAMESPACE, index_namespace, NULL) < 0 ||
        kube_store_add_index(s, KUBE_INDEX_CONTROLLER, index_controller, NULL) < 0) {
        kube_store_free(s);
        return NULL;
    }
    return s;
}

static void ivals_clear(ivals_t *iv)
{
    for (size_t i = 0; i < iv->n; i++)
        free(iv->v[i]);
    free(iv->v);
    iv->v = NULL;
    iv->n = 0;
}

static void entry_free(kube_store_t *s, entry_t *e)
{
    if (!e)
        return;
    if (e->iv) {
        for (size_t i = 0; i < s->n_idx; i++)
            ivals_clear(&e->iv[i]);
        free(e->iv);
    }
    json_object_put(e->obj);
    free(e->json);
    free(e->rv);
    free(e->key);
    free(e);
}

/* A new reference to the entry's object for the writer's side (old/stored objects for handlers): shared in
 * normal mode, freshly parsed in compact mode. */
static json_object *entry_ref(const entry_t *e)
{
    json_tokener *tok;
    json_object *o = NULL;
    if (e->obj)
        return json_object_get(e->obj);
    if (!e->json || e->json_len > 0x7fffffff || !(tok = json_tokener_new()))
        return NULL;
    o = json_tokener_parse_ex(tok, e->json, (int)e->json_len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* A private copy of the entry's object for readers. json-c reference counts are not atomic (Debian builds it
 * without ENABLE_THREADING), so readers on other threads must never share an object with the store: they get
 * a deep copy (taken under the read lock; copying reads the source without touching its reference count). */
static json_object *entry_copy(const entry_t *e)
{
    json_object *copy = NULL;
    if (!e->obj)
        return entry_ref(e);
    if (json_object_deep_copy(e->obj, &copy, NULL) < 0) {
        json_object_put(copy);
        return NULL;
    }
    return copy;
}

static void set_free(void *v)
{
    hmap_t *set = v;
    hmap_clear(set, NULL);
    free(set);
}

void kube_store_free(kube_store_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->items.nb; i++)
        for (hnode_t *x = s->items.b[i]; x; x = x->next)
            entry_free(s, x->val); /* the node key is the entry's: the map does not own it */
    hmap_clear(&s->items, NULL);
    for (size_t i = 0; i < s->n_idx; i++) {
        hmap_clear(&s->idx[i].values, set_free);
        free(s->idx[i].name);
    }
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

void kube_store_set_compact(kube_store_t *s, bool compact)
{
    pthread_rwlock_wrlock(&s->lock);
    if (s->items.n == 0)
        s->compact = compact;
    pthread_rwlock_unlock(&s->lock);
}

void kube_store_set_transform(kube_store_t *s, kube_transform_fn fn, void *ud)
{
    pthread_rwlock_wrlock(&s->lock);
    s->transform = fn;
    s->transform_ud = ud;
    pthread_rwlock_unlock(&s->lock);
}

int kube_store_add_index(kube_store_t *s, const char *name, kube_index_fn fn, void *ud)
{
    int rc = -1;
    pthread_rwlock_wrlock(&s->lock);
    if (s->items.n > 0 || s->n_idx >= MAX_INDEXES || !name || !fn)
        goto out;
    for (size_t i = 0; i < s->n_idx; i++)
        if (strcmp(s->idx[i].name, name) == 0)
            goto out;
    if (!(s->idx[s->n_idx].name = strdup(name)))
        goto out;
    s->idx[s->n_idx].fn = fn;
    s->idx[s->n_idx].ud = ud;
    s->idx[s->n_idx].values.own_keys = true;
    s->n_idx++;
    rc = 0;
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int kube_store_key(json_object *obj, char *buf, size_t len)
{
    json_object *md = sub(obj, "metadata");
    const char *name = sub_str(md, "name"), *ns = sub_str(md, "namespace");
    int n;
    if (!name || !name[0] || !buf)
        return -1;
    if (ns && ns[0])
        n = snprintf(buf, len, "%s/%s", ns, name);
    else
        n = snprintf(buf, len, "%s", name);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static void emit_value(void *ectx, const char *value)
{
    ivals_t *iv = ectx;
    char **nv;
    char *dup;
    if (!value)
        return;
    for (size_t i = 0; i < iv->n; i++)
        if (strcmp(iv->v[i], value) == 0)
            return;
    dup = strdup(value);
    nv = dup ? realloc(iv->v, (iv->n + 1) * sizeof(*nv)) : NULL;
    if (!nv) {
        free(dup); /* out of memory: the value is not indexed */
        return;
    }
    iv->v = nv;
    iv->v[iv->n++] = dup;
}

/* Computes the index values of obj for every index (called without the lock: index functions are pure). */
static ivals_t *compute_ivals(kube_store_t *s, size_t n_idx, json_object *obj)
{
    ivals_t *iv = calloc(n_idx ? n_idx : 1, sizeof(*iv));
    if (!iv)
        return NULL;
    for (size_t i = 0; i < n_idx; i++)
        s->idx[i].fn(s->idx[i].ud, obj, emit_value, &iv[i]);
    return iv;
}

static void index_remove(kube_store_t *s, entry_t *e)
{
    for (size_t i = 0; i < s->n_idx; i++) {
        for (size_t j = 0; j < e->iv[i].n; j++) {
            hmap_t *set = hmap_get(&s->idx[i].values, e->iv[i].v[j]);
            if (!set)
                continue;
            hmap_del(set, e->key);
            if (set->n == 0)
                set_free(hmap_del(&s->idx[i].values, e->iv[i].v[j]));
        }
    }
}

static int index_insert(kube_store_t *s, entry_t *e)
{
    for (size_t i = 0; i < s->n_idx; i++) {
        for (size_t j = 0; j < e->iv[i].n; j++) {
            hmap_t *set = hmap_get(&s->idx[i].values, e->iv[i].v[j]);
            if (!set) {
                set = calloc(1, sizeof(*set));
                if (!set || hmap_put(&s->idx[i].values, e->iv[i].v[j], set) < 0) {
                    free(set);
                    return -1;
                }
            }
            if (!hmap_find(set, e->key) && hmap_put(set, e->key, e) < 0)
                return -1;
        }
    }
    return 0;
}

/* Prepares obj (stolen) for storing: transform, key, index values, and in compact mode the serialised
 * form. Returns a detached entry, and in *parsed a new reference to the transformed object (for handlers),
 * or NULL (obj released). */
static entry_t *prepare(kube_store_t *s, json_object *obj, json_object **parsed)
{
    char key[512];
    entry_t *e = NULL;
    kube_transform_fn tf;
    void *tud;
    size_t n_idx;
    bool compact;
    const char *rv;

    *parsed = NULL;
    pthread_rwlock_rdlock(&s->lock);
    tf = s->transform;
    tud = s->transform_ud;
    n_idx = s->n_idx;
    compact = s->compact;
    pthread_rwlock_unlock(&s->lock);
    if (tf && obj)
        obj = tf(tud, obj);
    if (!obj || kube_store_key(obj, key, sizeof(key)) < 0)
        goto fail;
    e = calloc(1, sizeof(*e));
    if (!e || !(e->key = strdup(key)) || !(e->iv = compute_ivals(s, n_idx, obj)))
        goto fail;
    rv = sub_str(sub(obj, "metadata"), "resourceVersion");
    if (!(e->rv = strdup(rv ? rv : "")))
        goto fail;
    if (compact) {
        size_t len = 0;
        const char *js = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
        if (!js || !(e->json = malloc(len + 1)))
            goto fail;
        memcpy(e->json, js, len + 1);
        e->json_len = len;
        *parsed = obj; /* handed to the caller; the store keeps the string */
    } else {
        e->obj = obj;
        *parsed = json_object_get(obj);
    }
    return e;
fail:
    if (e) {
        if (e->iv) {
            for (size_t i = 0; i < n_idx; i++)
                ivals_clear(&e->iv[i]);
            free(e->iv);
        }
        free(e->json);
        free(e->rv);
        free(e->key);
        free(e);
    }
    json_object_put(obj);
    return NULL;
}

/* Puts e under its key, replacing any entry there (returned, detached, or NULL). Write lock held.
 * *inserted tells whether e is now in the map (when not, the caller still owns e); *failed is set on any
 * allocation failure (an entry may then be stored but not fully indexed). */
static entry_t *install(kube_store_t *s, entry_t *e, bool *inserted, bool *failed)
{
    entry_t *prev = hmap_get(&s->items, e->key);
    *failed = false;
    *inserted = false;
    if (prev) {
        index_remove(s, prev);
        hmap_del(&s->items, prev->key);
    }
    if (hmap_put(&s->items, e->key, e) < 0) {
        *failed = true;
        return prev;
    }
    *inserted = true;
    if (index_insert(s, e) < 0)
        *failed = true;
    return prev;
}

int kube_store_upsert(kube_store_t *s, json_object *obj, json_object **old, json_object **stored)
{
    entry_t *e, *prev;
    bool failed, inserted;
    json_object *kept = NULL;

    if (old)
        *old = NULL;
    if (stored)
        *stored = NULL;
    e = prepare(s, obj, &kept);
    if (!e)
        return -1;
    pthread_rwlock_wrlock(&s->lock);
    prev = install(s, e, &inserted, &failed);
    pthread_rwlock_unlock(&s->lock);
    if (!inserted)
        entry_free(s, e);
    if (prev) {
        if (old)
            *old = entry_ref(prev);
        entry_free(s, prev);
    }
    if (stored)
        *stored = kept;
    else
        json_object_put(kept);
    return failed ? -1 : 0;
}

int kube_store_delete(kube_store_t *s, const char *key, json_object **old)
{
    entry_t *e;
    if (old)
        *old = NULL;
    pthread_rwlock_wrlock(&s->lock);
    e = hmap_get(&s->items, key);
    if (e) {
        index_remove(s, e);
        hmap_del(&s->items, e->key);
    }
    pthread_rwlock_unlock(&s->lock);
    if (!e)
        return 0;
    if (old)
        *old = entry_ref(e);
    entry_free(s, e);
    return 1;
}

json_object *kube_store_get(kube_store_t *s, const char *key)
{
    entry_t *e;
    json_object *o = NULL;
    if (!key)
        return NULL;
    pthread_rwlock_rdlock(&s->lock);
    e = hmap_get(&s->items, key);
    if (e)
        o = entry_copy(e);
    pthread_rwlock_unlock(&s->lock);
    return o;
}

json_object *kube_store_get_ns(kube_store_t *s, const char *ns, const char *name)
{
    char key[512];
    int n;
    if (!name)
        return NULL;
    if (ns && ns[0])
        n = snprintf(key, sizeof(key), "%s/%s", ns, name);
    else
        n = snprintf(key, sizeof(key), "%s", name);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    return kube_store_get(s, key);
}

size_t kube_store_len(kube_store_t *s)
{
    size_t n;
    pthread_rwlock_rdlock(&s->lock);
    n = s->items.n;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

/* Collects the entries of a map (items or an index set) as new references. Lock held. */
static int collect(const hmap_t *m, json_object ***out, size_t *n)
{
    json_object **arr;
    size_t k = 0;
    *out = NULL;
    *n = 0;
    if (m->n == 0)
        return 0;
    arr = malloc(m->n * sizeof(*arr));
    if (!arr)
        return -1;
    for (size_t i = 0; i < m->nb; i++)
        for (hnode_t *x = m->b[i]; x; x = x->next)
            if ((arr[k] = entry_copy(x->val)) != NULL)
                k++;
    *out = arr;
    *n = k;
    return 0;
}

int kube_store_list(kube_store_t *s, json_object ***out, size_t *n)
{
    int rc;
    pthread_rwlock_rdlock(&s->lock);
    rc = collect(&s->items, out, n);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int kube_store_by_index(kube_store_t *s, const char *index, const char *value, json_object ***out, size_t *n)
{
    int rc = -1;
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->n_idx; i++) {
        if (strcmp(s->idx[i].name, index) == 0) {
            hmap_t *set = value ? hmap_get(&s->idx[i].values, value) : NULL;
            rc = set ? collect(set, out, n) : 0;
            break;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int kube_store_keys(kube_store_t *s, char ***out, size_t *n)
{
    char **arr = NULL;
    size_t k = 0;
    int rc = -1;
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&s->lock);
    if (s->items.n == 0) {
        rc = 0;
        goto out;
    }
    arr = calloc(s->items.n, sizeof(*arr));
    if (!arr)
        goto out;
    for (size_t i = 0; i < s->items.nb; i++) {
        for (hnode_t *x = s->items.b[i]; x; x = x->next) {
            if (!(arr[k] = strdup(x->key)))
                goto out;
            k++;
        }
    }
    *out = arr;
    *n = k;
    arr = NULL;
    rc = 0;
out:
    pthread_rwlock_unlock(&s->lock);
    kube_store_keys_free(arr, k);
    return rc;
}

int kube_store_foreach(kube_store_t *s, const char *index, const char *value, kube_store_visit_fn fn, void *ud)
{
    const hmap_t *m = NULL;
    int rc = 0;
    pthread_rwlock_rdlock(&s->lock);
    if (!index) {
        m = &s->items;
    } else {
        rc = -1;
        for (size_t i = 0; i < s->n_idx; i++) {
            if (strcmp(s->idx[i].name, index) == 0) {
                m = value ? hmap_get(&s->idx[i].values, value) : NULL;
                rc = 0;
                break;
            }
        }
    }
    for (size_t i = 0; m && i < m->nb; i++) {
        for (hnode_t *x = m->b[i]; x; x = x->next) {
            entry_t *e = x->val;
            json_object *tmp = e->obj ? NULL : entry_ref(e); /* compact mode: a temporary parse */
            int stop = fn(ud, e->obj ? e->obj : tmp);
            json_object_put(tmp);
            if (stop) {
                m = NULL;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

void kube_store_keys_free(char **keys, size_t n)
{
    if (!keys)
        return;
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

void kube_store_list_free(json_object **objs, size_t n)
{
    if (!objs)
        return;
    for (size_t i = 0; i < n; i++)
        json_object_put(objs[i]);
    free(objs);
}

typedef struct change {
    enum kube_store_change what;
    json_object *old, *obj; /* owned references (tree mode) */
    char *old_json, *obj_json; /* owned serialised forms (compact mode) */
    size_t old_len, obj_len;
} change_t;

struct kube_store_batch {
    kube_store_t *s;
    entry_t **e; /* prepared entries, in list order */
    size_t n, cap;
    bool failed; /* an object could not be prepared: deletions are skipped at commit */
};

kube_store_batch_t *kube_store_batch_new(kube_store_t *s)
{
    kube_store_batch_t *b = calloc(1, sizeof(*b));
    if (b)
        b->s = s;
    return b;
}

void kube_store_batch_free(kube_store_batch_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        entry_free(b->s, b->e[i]);
    free(b->e);
    free(b);
}

int kube_store_batch_add(kube_store_batch_t *b, json_object *obj)
{
    json_object *parsed = NULL;
    entry_t *e;
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        entry_t **ne = realloc(b->e, ncap * sizeof(*ne));
        if (!ne) {
            json_object_put(obj);
            b->failed = true;
            return -1;
        }
        b->e = ne;
        b->cap = ncap;
    }
    e = prepare(b->s, obj, &parsed);
    /* In compact mode this frees the tree now: a relist holds serialised objects only, not every page's
     * json-c trees at once. */
    json_object_put(parsed);
    if (!e) {
        b->failed = true;
        return -1;
    }
    b->e[b->n++] = e;
    return 0;
}

/* Copies an entry's serialised form for a change record (compact mode). */
static char *dup_json(const entry_t *e, size_t *len)
{
    char *j = malloc(e->json_len + 1);
    if (j) {
        memcpy(j, e->json, e->json_len + 1);
        *len = e->json_len;
    }
    return j;
}

/* Fills the old side of a change from prev, which the caller frees next (its JSON is stolen). */
static void change_old(change_t *c, entry_t *prev)
{
    if (prev->obj) {
        c->old = json_object_get(prev->obj);
    } else {
        c->old_json = prev->json;
        c->old_len = prev->json_len;
        prev->json = NULL;
    }
}

static json_object *parse_len(const char *js, size_t len)
{
    json_tokener *tok;
    json_object *o = NULL;
    if (!js || len > 0x7fffffff || !(tok = json_tokener_new()))
        return NULL;
    o = json_tokener_parse_ex(tok, js, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

int kube_store_batch_commit(kube_store_batch_t *b, kube_store_diff_fn diff, void *ud)
{
    kube_store_t *s = b->s;
    change_t *ch = NULL;
    size_t nch = 0, cap;
    hmap_t seen = {.own_keys = false};
    int rc = b->failed ? -1 : 0;

    pthread_rwlock_wrlock(&s->lock);
    cap = b->n + s->items.n + 1;
    ch = calloc(cap, sizeof(*ch));
    if (!ch) {
        rc = -1;
        goto unlock;
    }
    for (size_t i = 0; i < b->n; i++) {
        entry_t *e = b->e[i], *prev;
        bool failed, inserted;
        b->e[i] = NULL;
        hmap_del(&seen, e->key); /* a duplicate key in the list: the later object wins */
        prev = hmap_get(&s->items, e->key);
        if (prev && e->rv[0] && strcmp(e->rv, prev->rv) == 0) {
            /* Unchanged since we last saw it: keep the stored object, no event. */
            if (hmap_put(&seen, prev->key, prev) < 0)
                rc = -1;
            entry_free(s, e);
            continue;
        }
        prev = install(s, e, &inserted, &failed);
        if (failed)
            rc = -1;
        if (!inserted) {
            entry_free(s, e);
            if (prev) {
                /* Lost from the map; report it deleted so handlers stay consistent with the store. */
                ch[nch].what = KUBE_STORE_DELETED;
                change_old(&ch[nch], prev);
                nch++;
                entry_free(s, prev);
            }
            continue;
        }
        if (hmap_put(&seen, e->key, e) < 0)
            rc = -1;
        ch[nch].what = prev ? KUBE_STORE_MODIFIED : KUBE_STORE_ADDED;
        if (prev)
            change_old(&ch[nch], prev);
        if (e->obj)
            ch[nch].obj = json_object_get(e->obj);
        else if (!(ch[nch].obj_json = dup_json(e, &ch[nch].obj_len)))
            rc = -1;
        nch++;
        if (prev)
            entry_free(s, prev);
    }
    b->n = 0;
    if (rc == 0) {
        /* Everything stored that the list did not return is gone. (Skipped when something failed above:
         * deleting on partial knowledge would be wrong.) */
        entry_t **gone = calloc(s->items.n + 1, sizeof(*gone));
        size_t ng = 0;
        if (!gone) {
            rc = -1;
            goto unlock;
        }
        for (size_t i = 0; i < s->items.nb; i++)
            for (hnode_t *x = s->items.b[i]; x; x = x->next)
                if (!hmap_find(&seen, x->key))
                    gone[ng++] = x->val;
        for (size_t i = 0; i < ng && nch < cap; i++) {
            index_remove(s, gone[i]);
            hmap_del(&s->items, gone[i]->key);
            ch[nch].what = KUBE_STORE_DELETED;
            change_old(&ch[nch], gone[i]);
            nch++;
            entry_free(s, gone[i]);
        }
        free(gone);
    }
unlock:
    pthread_rwlock_unlock(&s->lock);
    hmap_clear(&seen, NULL);
    kube_store_batch_free(b);
    /* Handlers run without the lock (they may read the store), one change materialised at a time. */
    for (size_t i = 0; i < nch; i++) {
        json_object *old = ch[i].old ? ch[i].old : parse_len(ch[i].old_json, ch[i].old_len);
        json_object *obj = ch[i].obj ? ch[i].obj : parse_len(ch[i].obj_json, ch[i].obj_len);
        if (diff && (ch[i].what == KUBE_STORE_ADDED ? obj != NULL
                     : ch[i].what == KUBE_STORE_DELETED ? old != NULL
                                                         : (old && obj)))
            diff(ud, ch[i].what, old, obj);
        json_object_put(old);
        json_object_put(obj);
        free(ch[i].old_json);
        free(ch[i].obj_json);
    }
    free(ch);
    return rc;
}

int kube_store_replace(kube_store_t *s, json_object **objs, size_t n, kube_store_diff_fn diff, void *ud)
{
    kube_store_batch_t *b = kube_store_batch_new(s);
    if (!b) {
        for (size_t i = 0; i < n; i++) {
            json_object_put(objs[i]);
            objs[i] = NULL;
        }
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        kube_store_batch_add(b, objs[i]);
        objs[i] = NULL;
    }
    return kube_store_batch_commit(b, diff, ud);
}
