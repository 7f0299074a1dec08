/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_JDOC_H
#define KACME_WEBHOOK_JDOC_H

#include <stdbool.h>
#include <stddef.h>

#include <yajl/yajl_gen.h>

/*
 * Read-only JSON documents for the admission path: yajl's parser (RFC 8259, no comments, no trailing
 * garbage; strings and keys must be well-formed UTF-8 per RFC 3629, checked with libunistring because yajl
 * lets overlong forms and surrogates through) fills a tree whose nodes, strings and arrays all live in one arena owned by the jdoc_t.
 * Parsing a document releases the previous one, so a jdoc_t per thread serves every request without an
 * allocation per node or a free per node (json-c spent two thirds of the webhook's CPU time per request
 * there; bench/webhook). This is the per-request pool of c-conventions.md item 8.
 *
 * Semantics follow the json-c API the validators were written against: a JSON null is a NULL value pointer,
 * so a null member reads like an absent one; every accessor takes NULL. Object members are kept sorted by
 * key (bytes) with duplicate keys collapsed to the last one, as Go's encoding/json and json-c keep it, so a
 * lookup is a binary search and comparing two objects is one merge walk. Numbers keep their source text.
 */

typedef struct jdoc jdoc_t;
typedef struct jdoc_value jdoc_value_t;

enum jdoc_type { JDOC_NULL, JDOC_BOOL, JDOC_NUMBER, JDOC_STRING, JDOC_ARRAY, JDOC_OBJECT };

/* An empty document (constructor: NULL when out of memory). */
jdoc_t *jdoc_new(void);

/* Frees the document and every value of it; NULL-safe. */
void jdoc_free(jdoc_t *d);

/* Parses text[0..len) (one JSON text, surrounding whitespace allowed) nesting at most max_depth arrays and
 * objects, releasing the values of the previous parse. Returns 0 with *root set (NULL when the text is
 * `null`; borrowed from d, valid until the next parse, jdoc_release or jdoc_free), or -1 with a one-line
 * reason in err (errlen bytes, may be 0). */
int jdoc_parse(jdoc_t *d, const char *text, size_t len, unsigned max_depth, const jdoc_value_t **root, char *err,
               size_t errlen);

/* Drops the values of the last parse, keeping a small arena for the next (large documents give their memory
 * back here). NULL-safe. */
void jdoc_release(jdoc_t *d);

/* Type of v; JDOC_NULL for NULL. */
enum jdoc_type jdoc_type(const jdoc_value_t *v);

/* True when v has type t (NULL is JDOC_NULL). */
bool jdoc_is(const jdoc_value_t *v, enum jdoc_type t);

/* Member key of object obj (borrowed), NULL when obj is not an object, key is absent or its value null. */
const jdoc_value_t *jdoc_get(const jdoc_value_t *obj, const char *key);

/* Same with a key of klen bytes, which may hold NULs (a key from jdoc_key_at). */
const jdoc_value_t *jdoc_getn(const jdoc_value_t *obj, const char *key, size_t klen);

/* NUL-terminated text of a string (may hold embedded NULs from \u0000; see jdoc_string_len), NULL for any
 * other type. Borrowed. */
const char *jdoc_string(const jdoc_value_t *v);

/* Bytes of a string, 0 for any other type. */
size_t jdoc_string_len(const jdoc_value_t *v);

/* Value of a boolean; false for any other type. */
bool jdoc_bool(const jdoc_value_t *v);

/* Items of an array or members of an object; 0 for any other type. */
size_t jdoc_len(const jdoc_value_t *v);

/* Item i of an array or value of member i of an object (in key order); NULL when out of range or null. */
const jdoc_value_t *jdoc_at(const jdoc_value_t *v, size_t i);

/* Key of member i of an object (borrowed, NUL-terminated), NULL when out of range or v is no object. A key
 * may hold NULs (\u0000): compare keys by the length stored in *klen (may be NULL). */
const char *jdoc_key_at(const jdoc_value_t *v, size_t i, size_t *klen);

/* Deep equality: same type and value; objects by key regardless of order, numbers by text (values from
 * the API server are canonical); NULL equals NULL. */
bool jdoc_equal(const jdoc_value_t *a, const jdoc_value_t *b);

/* Writes v to a yajl generator. Returns 0, or -1 when the generator refuses (out of memory). */
int jdoc_gen(yajl_gen g, const jdoc_value_t *v);

/* The text a generator holds so far, as an owned NUL-terminated string (free() it); its length in *len
 * (may be NULL). NULL when out of memory. */
char *jdoc_gen_text(yajl_gen g, size_t *len);

/* Compact JSON text of v (`null` for NULL). Owned, free() it; NULL when out of memory. */
char *jdoc_to_json(const jdoc_value_t *v, size_t *len);

#endif
