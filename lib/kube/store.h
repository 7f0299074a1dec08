/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_STORE_H
#define KACME_KUBE_STORE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A thread-safe indexed cache of Kubernetes objects (client-go's ThreadSafeStore + Indexer), filled by an
 * informer and read by listers in reconcilers.
 *
 * Keys are "<namespace>/<name>", or "<name>" for cluster-scoped objects. Values are json-c objects.
 *
 * Threads: json-c reference counts are NOT atomic (Debian builds json-c without ENABLE_THREADING), so an object
 * must never be shared between threads by reference. Hence:
 *   - readers (kube_store_get, _get_ns, _list, _by_index) get PRIVATE deep copies, owned by the caller
 *     (json_object_put / kube_store_list_free), free to edit and to hand to the REST client;
 *   - kube_store_foreach lends the stored objects under the read lock for cheap scans: read-only accessors
 *     only (json_object_object_get_ex, json_object_get_string...; no json_object_get/put, no
 *     json_object_to_json_string, which caches into the object);
 *   - the writer (the informer thread) gets shared references back from upsert/delete/replace (old/stored,
 *     handler arguments): those stay on the writer's thread. Concurrent writers must not ask for them.
 *
 * Built-in indexes: KUBE_INDEX_NAMESPACE (metadata.namespace) and KUBE_INDEX_CONTROLLER (the UID of the
 * ownerReference with controller: true). Custom indexes are registered by name before objects are added.
 *
 * A transform runs on every object before it is stored; the default removes metadata.managedFields (large
 * and never needed by controllers), keeping the cache lean.
 */

#define KUBE_INDEX_NAMESPACE "namespace"
#define KUBE_INDEX_CONTROLLER "controller-uid"

typedef struct kube_store kube_store_t;

/* An index function reports zero or more index values of obj (borrowed) by calling emit(ectx, value) (value
 * copied). */
typedef void (*kube_index_emit_fn)(void *ectx, const char *value);
typedef void (*kube_index_fn)(void *ud, json_object *obj, kube_index_emit_fn emit, void *ectx);

/* A transform takes an owned object and returns the owned object to store (often the same, edited in place;
 * NULL drops the object). */
typedef json_object *(*kube_transform_fn)(void *ud, json_object *obj);

/* The default transform: removes metadata.managedFields in place. */
json_object *kube_transform_drop_managed_fields(void *ud, json_object *obj);

/* New empty store: compact, with the default transform. NULL on allocation failure. */
kube_store_t *kube_store_new(void);
void kube_store_free(kube_store_t *s);

/* Replaces the transform (fn NULL: store objects as given). Call before objects are added. */
void kube_store_set_transform(kube_store_t *s, kube_transform_fn fn, void *ud);

/* Compact mode, the default (change before objects are added): objects are kept serialised, ~2.1 KB per
 * ~1.3 KB Challenge instead of ~12.9 KB as a json-c tree (tests/unit/kube/test_store_memory.c). Readers pay
 * the same either way (a parse costs what a deep copy costs, ~9 us per Challenge); what compact mode costs
 * is kube_store_foreach (a parse per visited object instead of a borrowed tree) and a parse of the previous
 * object on updates. Turn it off for small caches scanned very often. */
void kube_store_set_compact(kube_store_t *s, bool compact);

/* Registers a custom index (name copied). Call before objects are added. Returns 0, or -1 when the name is
 * taken or the store is not empty. */
int kube_store_add_index(kube_store_t *s, const char *name, kube_index_fn fn, void *ud);

/* Writes the key of obj (borrowed) into buf. Returns 0, or -1 when metadata.name is missing or buf too
 * small. */
int kube_store_key(json_object *obj, char *buf, size_t len);

/* Adds or replaces the object under its key. obj's reference is STOLEN (even on failure). When non-NULL,
 * *old gets the previous object (NULL if none) and *stored the stored object (after the transform): new
 * references shared with the store (writer's thread only, see above). Returns 0, or -1 (no name,
 * allocation failure). */
int kube_store_upsert(kube_store_t *s, json_object *obj, json_object **old, json_object **stored);

/* Removes the object under key. *old (optional) gets it (new reference) or NULL. Returns 1 when removed, 0
 * when absent. */
int kube_store_delete(kube_store_t *s, const char *key, json_object **old);

/* A private copy of the object under key (owned by the caller) or NULL. */
json_object *kube_store_get(kube_store_t *s, const char *key);

/* Same by namespace and name (ns NULL or "" for cluster-scoped). */
json_object *kube_store_get_ns(kube_store_t *s, const char *ns, const char *name);

size_t kube_store_len(kube_store_t *s);

/* Every object (private copies, in no particular order) into a malloc'd array *out of *n elements (NULL
 * when empty). Returns 0 or -1 on allocation failure. Free with kube_store_list_free. */
int kube_store_list(kube_store_t *s, json_object ***out, size_t *n);

/* Objects whose index `index` has value `value`. Returns 0 (possibly none), or -1 for an unknown index or
 * allocation failure. */
int kube_store_by_index(kube_store_t *s, const char *index, const char *value, json_object ***out, size_t *n);

/* Calls fn for every object (index NULL) or every object whose index `index` has value `value`, under the
 * read lock, with the stored object BORROWED for the call (see the rules above; fn must not call the store's
 * writers). fn returns 0 to go on, non-zero to stop. Returns 0, or -1 for an unknown index. */
typedef int (*kube_store_visit_fn)(void *ud, json_object *obj);
int kube_store_foreach(kube_store_t *s, const char *index, const char *value, kube_store_visit_fn fn, void *ud);

/* Keys (malloc'd strings in a malloc'd array; free with kube_store_keys_free) of every object. */
int kube_store_keys(kube_store_t *s, char ***out, size_t *n);
void kube_store_keys_free(char **keys, size_t n);

/* Puts each reference and frees the array; NULL-safe. */
void kube_store_list_free(json_object **objs, size_t n);

/* Called by kube_store_replace for each difference, after the store changed: ADDED (old NULL), MODIFIED
 * (both) or DELETED (obj NULL). Objects are borrowed for the call. */
enum kube_store_change { KUBE_STORE_ADDED = 0, KUBE_STORE_MODIFIED, KUBE_STORE_DELETED };
typedef void (*kube_store_diff_fn)(void *ud, enum kube_store_change what, json_object *old, json_object *obj);

/* Replaces the whole content with objs (a relist): every reference in objs[0..n) is STOLEN. Objects with
 * the same key and the same metadata.resourceVersion count as unchanged (no callback); the stored one is
 * kept. diff may be NULL. Returns 0 or -1 (allocation failure: the store keeps what was done). */
int kube_store_replace(kube_store_t *s, json_object **objs, size_t n, kube_store_diff_fn diff, void *ud);

/* A relist page by page (what kube_store_replace does in one call): objects are prepared (transformed,
 * indexed, serialised) as they are added, so in compact mode a relist never holds every page's json-c trees
 * at once. add STEALS obj (returns -1 when it could not be prepared: commit then skips deletions); commit
 * applies the batch like kube_store_replace and frees it; free abandons it. */
typedef struct kube_store_batch kube_store_batch_t;
kube_store_batch_t *kube_store_batch_new(kube_store_t *s);
int kube_store_batch_add(kube_store_batch_t *b, json_object *obj);
int kube_store_batch_commit(kube_store_batch_t *b, kube_store_diff_fn diff, void *ud);
void kube_store_batch_free(kube_store_batch_t *b);

#endif
