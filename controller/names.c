/* SPDX-License-Identifier: Apache-2.0 */
#include "names.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV1_32_OFFSET 2166136261u
#define FNV1_32_PRIME 16777619u
#define SHORTEN_AT 52
#define CANON_MAX_DEPTH 64

uint32_t names_fnv1_32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t h = FNV1_32_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h *= FNV1_32_PRIME;
        h ^= p[i];
    }
    return h;
}

static bool is_alnum_ascii(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

size_t names_shorten52_len(const char *s)
{
    size_t n = strnlen(s, SHORTEN_AT);
    if (n < SHORTEN_AT)
        return n;
    while (n > 0 && !is_alnum_ascii((unsigned char)s[n - 1]))
        n--;
    return n;
}

/* Growable output buffer; on allocation failure `failed` sticks and later appends are no-ops. */
struct cbuf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void cb_put(struct cbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void cb_str(struct cbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending verbatim run */
    cb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char ubuf[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                memcpy(ubuf, "\\u00", 4);
                ubuf[4] = hex[c >> 4];
                ubuf[5] = hex[c & 0xf];
                ubuf[6] = '\0';
                esc = ubuf;
            }
        }
        if (esc) {
            cb_put(b, s + run, i - run);
            cb_put(b, esc, strlen(esc));
            run = i + 1;
        }
    }
    cb_put(b, s + run, n - run);
    cb_put(b, "\"", 1);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int canon(struct cbuf *b, json_object *o, int depth)
{
    if (depth > CANON_MAX_DEPTH)
        return -1;
    switch (json_object_get_type(o)) {
    case json_type_null:
        cb_put(b, "null", 4);
        return 0;
    case json_type_string:
        cb_str(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        return 0;
    case json_type_boolean:
    case json_type_int:
    case json_type_double: {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (!s)
            return -1;
        cb_put(b, s, strlen(s));
        return 0;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        cb_put(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                cb_put(b, ",", 1);
            if (canon(b, json_object_array_get_idx(o, i), depth + 1) < 0)
                return -1;
        }
        cb_put(b, "]", 1);
        return 0;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(o), i = 0;
        int rc = -1;
        const char **keys = NULL;
        if (n > 0) {
            keys = malloc(n * sizeof(*keys));
            if (!keys)
                return -1;
            json_object_object_foreach(o, k, v)
            {
                (void)v;
                keys[i++] = k;
            }
            qsort(keys, n, sizeof(*keys), key_cmp);
        }
        cb_put(b, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                cb_put(b, ",", 1);
            cb_str(b, keys[i], strlen(keys[i]));
            cb_put(b, ":", 1);
            if (canon(b, json_object_object_get(o, keys[i]), depth + 1) < 0)
                goto out;
        }
        cb_put(b, "}", 1);
        rc = 0;
    out:
        free(keys);
        return rc;
    }
    }
    return -1;
}

char *names_canonical_json(json_object *obj)
{
    struct cbuf b = {0};
    if (canon(&b, obj, 0) < 0 || b.failed || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int names_compute(const char *prefix, json_object *obj, char *out, size_t outlen)
{
    if (!prefix || !out)
        return -1;
    char *js = names_canonical_json(obj);
    if (!js)
        return -1;
    uint32_t h = names_fnv1_32(js, strlen(js));
    free(js);
    size_t plen = names_shorten52_len(prefix);
    int n = snprintf(out, outlen, "%.*s-%u", (int)plen, prefix, (unsigned)h);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return 0;
}

/* A new object (owned) sharing every member of src (references taken) except `key`, which is set to val
 * (ownership of val passes to the result, also on failure). */
static json_object *shallow_with(json_object *src, const char *key, json_object *val)
{
    json_object *o = json_object_new_object();
    if (!o) {
        json_object_put(val);
        return NULL;
    }
    json_object_object_foreach(src, k, v)
    {
        if (strcmp(k, key) == 0)
            continue;
        if (json_object_object_add(o, k, json_object_get(v)) < 0) {
            json_object_put(v);
            goto fail;
        }
    }
    if (json_object_object_add(o, key, val) < 0)
        goto fail; /* json-c keeps no reference on failure */
    return o;
fail:
    json_object_put(val);
    json_object_put(o);
    return NULL;
}

int names_order(const char *cr_name, json_object *order_spec, char *out, size_t outlen)
{
    int rc = -1;
    json_object *spec = NULL, *wrap = NULL;
    if (!cr_name || !json_object_is_type(order_spec, json_type_object))
        return -1;
    spec = shallow_with(order_spec, "request", NULL); /* owned */
    if (!spec)
        goto out;
    if (strlen(cr_name) >= SHORTEN_AT) {
        wrap = json_object_new_object(); /* owned; takes spec */
        json_object *n = json_object_new_string(cr_name);
        if (!wrap || !n || json_object_object_add(wrap, "certificateRequestName", n) < 0) {
            json_object_put(n);
            goto out;
        }
        if (json_object_object_add(wrap, "spec", spec) < 0)
            goto out;
        spec = NULL;
    }
    rc = names_compute(cr_name, wrap ? wrap : spec, out, outlen);
out:
    json_object_put(wrap);
    json_object_put(spec);
    return rc;
}

int names_challenge(const char *order_name, json_object *challenge_spec, char *out, size_t outlen)
{
    if (!order_name || !json_object_is_type(challenge_spec, json_type_object))
        return -1;
    json_object *empty = json_object_new_string("");
    if (!empty)
        return -1;
    json_object *spec = shallow_with(challenge_spec, "key", empty); /* owned; took empty */
    if (!spec)
        return -1;
    int rc = names_compute(order_name, spec, out, outlen);
    json_object_put(spec);
    return rc;
}
