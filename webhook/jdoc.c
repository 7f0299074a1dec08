/* SPDX-License-Identifier: Apache-2.0 */
#include "jdoc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>
#include <yajl/yajl_parse.h>

/* Arena chunks grow by doubling from FIRST_CHUNK to MAX_CHUNK; a larger single allocation gets a chunk of its
 * own. jdoc_release keeps one chunk of at most KEEP_CHUNK for the next document. An AdmissionReview of a few
 * KB fits in the first chunk. */
#define FIRST_CHUNK (32u * 1024u)
#define MAX_CHUNK (1024u * 1024u)
#define KEEP_CHUNK (256u * 1024u)
#define KEEP_STACK 1024u /* scratch entries kept across documents */

struct chunk {
    struct chunk *next; /* older chunk */
    size_t cap, used;
    _Alignas(max_align_t) unsigned char data[];
};

/* An object member; ord (position in the source) only orders duplicates while the object is built. */
struct member {
    const char *key;
    uint32_t klen;
    uint32_t ord;
    const jdoc_value_t *val; /* NULL for null */
};

struct jdoc_value {
    unsigned char type; /* enum jdoc_type */
    bool b;
    uint32_t len; /* string or number bytes, array items, object members */
    union {
        const char *s;
        const jdoc_value_t **items;
        const struct member *members;
    } u;
};

/* An open array or object: where its items start on the scratch stack, and the key it will be stored under
 * in its parent (when the parent is an object). */
struct frame {
    size_t start;
    const char *key;
    uint32_t klen;
};

struct jdoc {
    struct chunk *chunks; /* newest first */
    struct member *stack; /* scratch: finished items of the open containers, then the root */
    size_t nstack, capstack;
    struct frame *frames;
    size_t nframes, capframes;
    unsigned max_depth;
    const char *key; /* pending object key */
    uint32_t klen;
    uint32_t ord;
    const char *fail; /* why a callback stopped the parse */
};

jdoc_t *jdoc_new(void)
{
    return calloc(1, sizeof(jdoc_t));
}

static void free_chunks(struct chunk *c, const struct chunk *keep)
{
    while (c) {
        struct chunk *next = c->next;
        if (c != keep)
            free(c);
        c = next;
    }
}

void jdoc_release(jdoc_t *d)
{
    if (!d)
        return;
    struct chunk *keep = NULL;
    for (struct chunk *c = d->chunks; c && !keep; c = c->next)
        if (c->cap <= KEEP_CHUNK)
            keep = c;
    free_chunks(d->chunks, keep);
    d->chunks = keep;
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    if (d->capstack > KEEP_STACK) {
        free(d->stack);
        d->stack = NULL;
        d->capstack = 0;
    }
    d->nstack = 0;
    d->nframes = 0;
}

void jdoc_free(jdoc_t *d)
{
    if (!d)
        return;
    free_chunks(d->chunks, NULL);
    free(d->stack);
    free(d->frames);
    free(d);
}

static void *arena_alloc(jdoc_t *d, size_t n)
{
    n = (n + 7u) & ~(size_t)7u;
    struct chunk *c = d->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = c ? c->cap * 2 : FIRST_CHUNK;
        if (cap > MAX_CHUNK)
            cap = MAX_CHUNK;
        if (cap < n)
            cap = n;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = d->chunks;
        d->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static const char *arena_strndup(jdoc_t *d, const unsigned char *s, size_t n)
{
    char *p = arena_alloc(d, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- building the tree from yajl's events ---- */

static int oom(jdoc_t *d)
{
    d->fail = "out of memory";
    return 0;
}

/* Appends a finished value (NULL for null) to the open container, or as the root. */
static int emit(jdoc_t *d, const jdoc_value_t *v)
{
    if (d->nstack == d->capstack) {
        size_t cap = d->capstack ? d->capstack * 2 : 64;
        struct member *s = realloc(d->stack, cap * sizeof(*s));
        if (!s)
            return oom(d);
        d->stack = s;
        d->capstack = cap;
    }
    d->stack[d->nstack++] = (struct member){.key = d->key, .klen = d->klen, .ord = d->ord++, .val = v};
    d->key = NULL;
    d->klen = 0;
    return 1;
}

static jdoc_value_t *node(jdoc_t *d, enum jdoc_type t)
{
    jdoc_value_t *v = arena_alloc(d, sizeof(*v));
    if (v) {
        memset(v, 0, sizeof(*v));
        v->type = (unsigned char)t;
    }
    return v;
}

static int on_null(void *ctx)
{
    return emit(ctx, NULL);
}

static int on_boolean(void *ctx, int b)
{
    jdoc_value_t *v = node(ctx, JDOC_BOOL);
    if (!v)
        return oom(ctx);
    v->b = b != 0;
    return emit(ctx, v);
}

/* Strings reach the reply (uid, values in messages), which must be valid UTF-8 as the API server's own
 * JSON is. yajl decodes \u escapes of lone surrogates into invalid bytes, which this catches too. */
static int check_utf8(jdoc_t *d, const unsigned char *s, size_t n)
{
    if (u8_check(s, n) == NULL)
        return 1;
    d->fail = "invalid UTF-8 in a string";
    return 0;
}

static int text_value(jdoc_t *d, enum jdoc_type t, const unsigned char *s, size_t n)
{
    if (t == JDOC_STRING && !check_utf8(d, s, n))
        return 0;
    jdoc_value_t *v = node(d, t);
    if (!v || !(v->u.s = arena_strndup(d, s, n)))
        return oom(d);
    v->len = (uint32_t)n;
    return emit(d, v);
}

static int on_number(void *ctx, const char *s, size_t n)
{
    return text_value(ctx, JDOC_NUMBER, (const unsigned char *)s, n);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    return text_value(ctx, JDOC_STRING, s, n);
}

static int on_map_key(void *ctx, const unsigned char *k, size_t n)
{
    jdoc_t *d = ctx;
    if (!check_utf8(d, k, n))
        return 0;
    if (!(d->key = arena_strndup(d, k, n)))
        return oom(d);
    d->klen = (uint32_t)n;
    return 1;
}

static int open_container(void *ctx)
{
    jdoc_t *d = ctx;
    if (d->nframes >= d->max_depth) {
        d->fail = "nesting too deep";
        return 0;
    }
    d->frames[d->nframes++] = (struct frame){.start = d->nstack, .key = d->key, .klen = d->klen};
    d->key = NULL;
    d->klen = 0;
    return 1;
}

/* Byte order of two keys. Kubernetes field names are short, so a plain loop beats a call to memcmp. */
static int key_cmp(const struct member *a, const struct member *b)
{
    uint32_t n = a->klen < b->klen ? a->klen : b->klen;
    const unsigned char *x = (const unsigned char *)a->key, *y = (const unsigned char *)b->key;
    for (uint32_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return a->klen < b->klen ? -1 : a->klen > b->klen;
}

static int member_cmp(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    int c = key_cmp(a, b);
    return c ? c : (a->ord < b->ord ? -1 : a->ord > b->ord);
}

/* Sorts members by key, source order among equal keys, then keeps the last of each run of equal keys.
 * Returns the new count. */
static size_t sort_members(struct member *m, size_t n)
{
    if (n > 16) {
        qsort(m, n, sizeof(*m), member_cmp);
    } else {
        for (size_t i = 1; i < n; i++) { /* insertion sort: stable, fast for the usual few keys */
            struct member x = m[i];
            size_t j = i;
            for (; j > 0 && key_cmp(&m[j - 1], &x) > 0; j--)
                m[j] = m[j - 1];
            m[j] = x;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && key_cmp(&m[i], &m[i + 1]) == 0)
            continue; /* a later duplicate follows */
        m[o++] = m[i];
    }
    return o;
}

static int close_container(jdoc_t *d, enum jdoc_type t)
{
    struct frame f = d->frames[--d->nframes];
    size_t n = d->nstack - f.start;
    jdoc_value_t *v = node(d, t);
    if (!v)
        return oom(d);
    if (t == JDOC_OBJECT) {
        struct member *m = n ? arena_alloc(d, n * sizeof(*m)) : NULL;
        if (n && !m)
            return oom(d);
        if (n)
            memcpy(m, d->stack + f.start, n * sizeof(*m));
        n = sort_members(m, n);
        v->u.members = m;
    } else {
        const jdoc_value_t **items = n ? arena_alloc(d, n * sizeof(*items)) : NULL;
        if (n && !items)
            return oom(d);
        for (size_t i = 0; i < n; i++)
            items[i] = d->stack[f.start + i].val;
        v->u.items = items;
    }
    v->len = (uint32_t)n;
    d->nstack = f.start;
    d->key = f.key;
    d->klen = f.klen;
    return emit(d, v);
}

static int on_end_map(void *ctx)
{
    return close_container(ctx, JDOC_OBJECT);
}

static int on_end_array(void *ctx)
{
    return close_container(ctx, JDOC_ARRAY);
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number, /* raw text: no integer/double conversion */
    .yajl_string = on_string,
    .yajl_start_map = open_container,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = open_container,
    .yajl_end_array = on_end_array,
};

static void set_err(char *err, size_t errlen, yajl_handle h, const jdoc_t *d, const char *text, size_t len)
{
    if (!err || !errlen)
        return;
    size_t at = yajl_get_bytes_consumed(h);
    if (d->fail) {
        snprintf(err, errlen, "%s at byte %zu", d->fail, at);
        return;
    }
    unsigned char *m = yajl_get_error(h, 0, (const unsigned char *)text, len);
    const char *s = m ? (const char *)m : "invalid JSON";
    size_t n = strcspn(s, "\n");
    while (n && (s[n - 1] == '.' || s[n - 1] == ' ')) /* yajl ends some messages with ". " */
        n--;
    snprintf(err, errlen, "%.*s at byte %zu", (int)(n < 200 ? n : 200), s, at);
    if (m)
        yajl_free_error(h, m);
}

int jdoc_parse(jdoc_t *d, const char *text, size_t len, unsigned max_depth, const jdoc_value_t **root, char *err,
               size_t errlen)
{
    int rc = -1;
    yajl_handle h = NULL;

    *root = NULL;
    if (err && errlen)
        err[0] = '\0';
    jdoc_release(d);
    d->key = NULL;
    d->klen = 0;
    d->ord = 0;
    d->fail = NULL;
    if (len > UINT32_MAX / 2) { /* lengths are kept in 32 bits */
        d->fail = "document too large";
        if (err && errlen)
            snprintf(err, errlen, "document too large");
        goto out;
    }
    if (d->capframes < max_depth) {
        struct frame *f = realloc(d->frames, max_depth * sizeof(*f));
        if (!f) {
            if (err && errlen)
                snprintf(err, errlen, "out of memory");
            goto out;
        }
        d->frames = f;
        d->capframes = max_depth;
    }
    d->max_depth = max_depth;
    h = yajl_alloc(&callbacks, NULL, d);
    if (!h) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (yajl_parse(h, (const unsigned char *)text, len) != yajl_status_ok ||
        yajl_complete_parse(h) != yajl_status_ok) {
        set_err(err, errlen, h, d, text, len);
        goto out;
    }
    if (d->nstack != 1) { /* yajl reports an empty text as complete */
        if (err && errlen)
            snprintf(err, errlen, "no JSON value");
        goto out;
    }
    *root = d->stack[0].val;
    rc = 0;
out:
    if (h)
        yajl_free(h);
    if (rc != 0)
        jdoc_release(d);
    return rc;
}

/* ---- accessors ---- */

enum jdoc_type jdoc_type(const jdoc_value_t *v)
{
    return v ? (enum jdoc_type)v->type : JDOC_NULL;
}

bool jdoc_is(const jdoc_value_t *v, enum jdoc_type t)
{
    return jdoc_type(v) == t;
}

const jdoc_value_t *jdoc_get(const jdoc_value_t *obj, const char *key)
{
    return key ? jdoc_getn(obj, key, strlen(key)) : NULL;
}

const jdoc_value_t *jdoc_getn(const jdoc_value_t *obj, const char *key, size_t klen)
{
    if (!obj || obj->type != JDOC_OBJECT || !key || klen > UINT32_MAX)
        return NULL;
    struct member k = {.key = key, .klen = (uint32_t)klen};
    size_t lo = 0, hi = obj->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(&obj->u.members[mid], &k);
        if (c == 0)
            return obj->u.members[mid].val;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *jdoc_string(const jdoc_value_t *v)
{
    return v && v->type == JDOC_STRING ? v->u.s : NULL;
}

size_t jdoc_string_len(const jdoc_value_t *v)
{
    return v && v->type == JDOC_STRING ? v->len : 0;
}

bool jdoc_bool(const jdoc_value_t *v)
{
    return v && v->type == JDOC_BOOL && v->b;
}

size_t jdoc_len(const jdoc_value_t *v)
{
    return v && (v->type == JDOC_ARRAY || v->type == JDOC_OBJECT) ? v->len : 0;
}

const jdoc_value_t *jdoc_at(const jdoc_value_t *v, size_t i)
{
    if (i >= jdoc_len(v))
        return NULL;
    return v->type == JDOC_ARRAY ? v->u.items[i] : v->u.members[i].val;
}

const char *jdoc_key_at(const jdoc_value_t *v, size_t i, size_t *klen)
{
    bool ok = v && v->type == JDOC_OBJECT && i < v->len;
    if (klen)
        *klen = ok ? v->u.members[i].klen : 0;
    return ok ? v->u.members[i].key : NULL;
}

bool jdoc_equal(const jdoc_value_t *a, const jdoc_value_t *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->type != b->type)
        return false;
    switch ((enum jdoc_type)a->type) {
    case JDOC_NULL: return true;
    case JDOC_BOOL: return a->b == b->b;
    case JDOC_NUMBER:
    case JDOC_STRING: return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    case JDOC_ARRAY:
        if (a->len != b->len)
            return false;
        for (size_t i = 0; i < a->len; i++)
            if (!jdoc_equal(a->u.items[i], b->u.items[i]))
                return false;
        return true;
    case JDOC_OBJECT:
        if (a->len != b->len)
            return false;
        for (size_t i = 0; i < a->len; i++) /* both sorted by key: one merge walk */
            if (key_cmp(&a->u.members[i], &b->u.members[i]) != 0 ||
                !jdoc_equal(a->u.members[i].val, b->u.members[i].val))
                return false;
        return true;
    }
    return false;
}

int jdoc_gen(yajl_gen g, const jdoc_value_t *v)
{
    yajl_gen_status s = yajl_gen_status_ok;
    switch (jdoc_type(v)) {
    case JDOC_NULL: s = yajl_gen_null(g); break;
    case JDOC_BOOL: s = yajl_gen_bool(g, v->b); break;
    case JDOC_NUMBER: s = yajl_gen_number(g, v->u.s, v->len); break;
    case JDOC_STRING: s = yajl_gen_string(g, (const unsigned char *)v->u.s, v->len); break;
    case JDOC_ARRAY:
        if ((s = yajl_gen_array_open(g)) != yajl_gen_status_ok)
            break;
        for (size_t i = 0; i < v->len; i++)
            if (jdoc_gen(g, v->u.items[i]) != 0)
                return -1;
        s = yajl_gen_array_close(g);
        break;
    case JDOC_OBJECT:
        if ((s = yajl_gen_map_open(g)) != yajl_gen_status_ok)
            break;
        for (size_t i = 0; i < v->len; i++) {
            const struct member *m = &v->u.members[i];
            if (yajl_gen_string(g, (const unsigned char *)m->key, m->klen) != yajl_gen_status_ok ||
                jdoc_gen(g, m->val) != 0)
                return -1;
        }
        s = yajl_gen_map_close(g);
        break;
    }
    return s == yajl_gen_status_ok ? 0 : -1;
}

char *jdoc_gen_text(yajl_gen g, size_t *len)
{
    const unsigned char *buf;
    size_t n;
    char *out = NULL;
    if (yajl_gen_get_buf(g, &buf, &n) == yajl_gen_status_ok && (out = malloc(n + 1))) {
        memcpy(out, buf, n);
        out[n] = '\0';
        if (len)
            *len = n;
    }
    return out;
}

char *jdoc_to_json(const jdoc_value_t *v, size_t *len)
{
    char *out = NULL;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g && jdoc_gen(g, v) == 0)
        out = jdoc_gen_text(g, len);
    if (g)
        yajl_gen_free(g);
    return out;
}
