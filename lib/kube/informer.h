/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_INFORMER_H
#define KACME_KUBE_INFORMER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/rest.h"
#include "kube/store.h"

/*
 * An informer keeps a store in step with the API server for one resource (client-go's Reflector +
 * SharedIndexInformer, minus resync):
 *
 *   1. list (paginated) → store replaced, handlers told the differences, has_synced becomes true;
 *   2. watch from the list's resourceVersion with allowWatchBookmarks=true; ADDED/MODIFIED/DELETED update
 *      the store and call the handlers; bookmarks only advance the resourceVersion;
 *   3. when the watch ends (server timeout, EOF, idle) → watch again from the last resourceVersion seen;
 *   4. on 410 Gone (HTTP answer or an ERROR event with code 410) → relist once (diffing against the store, so
 *      handlers see exactly the adds/updates/deletes missed), then watch again;
 *   5. on any other error → retry with capped exponential backoff (200 ms doubling to 30 s, reset after a
 *      watch that delivered events or lasted 10 s).
 *
 * One thread per informer; handlers run on it, one call at a time, after the store was updated. Objects
 * given to handlers are borrowed for the call and are the store's: read-only, and never to be passed to
 * another thread by reference (json-c reference counts are not atomic): take what you need (the key) or a
 * json_object_deep_copy. Reconcilers read the store, which hands out private copies.
 *
 * Scoping keeps the cache small: namespace, label and field selectors, and metadata-only mode
 * (PartialObjectMetadata: apiVersion/kind/metadata only). An informer on Secrets without any selector is
 * refused: kacme never caches all Secrets. The store is compact by default (objects kept serialised: ~2 KB
 * instead of ~13 KB per Challenge; see kube_store_set_compact).
 *
 * Stopping: the thread notices the stop request at once while backing off, and aborts a watch stream within
 * about a second even when it is silent (http abort flag); a list in progress finishes first (bounded by the
 * client's request timeout).
 */

typedef struct kube_informer kube_informer_t;

typedef struct kube_informer_handlers {
    void (*on_add)(void *ud, json_object *obj);
    void (*on_update)(void *ud, json_object *old, json_object *obj);
    void (*on_delete)(void *ud, json_object *old);   /* old: the last state known */
    void *ud;
} kube_informer_handlers_t;

typedef struct kube_informer_opts {
    const kube_resource_t *resource;  /* required; copied */
    const char *namespace;            /* NULL/"": all namespaces */
    const char *label_selector;       /* NULL: none */
    const char *field_selector;       /* NULL: none */
    bool metadata_only;
    long page_size;                   /* list page size; 0: 500 */
    long watch_timeout_s;             /* server-side timeoutSeconds per watch; 0: 300 (randomised ±10%) */
    const char *name;                 /* for logs, e.g. "challenges"; NULL: the resource */
    const char *test_first_watch_rv;  /* tests only: the first watch starts from this resourceVersion instead
                                         of the list's (an expired one exercises the 410 → relist path) */
} kube_informer_opts_t;

/* New stopped informer using client c (borrowed: must outlive the informer). Strings are copied. NULL
 * with err filled on bad options (e.g. unselected Secrets). */
kube_informer_t *kube_informer_new(kube_client_t *c, const kube_informer_opts_t *o, char *err, size_t errlen);

/* The informer's store (borrowed; lives as long as the informer). Register custom indexes or a transform
 * on it before kube_informer_start; read it from any thread at any time. */
kube_store_t *kube_informer_store(kube_informer_t *inf);

/* Adds a handler set (copied). Before kube_informer_start only. Returns 0 or -1. */
int kube_informer_add_handlers(kube_informer_t *inf, const kube_informer_handlers_t *h);

/* Starts the informer thread. Returns 0 or -1. */
int kube_informer_start(kube_informer_t *inf);

/* True once the first list was stored and its handlers called. */
bool kube_informer_has_synced(kube_informer_t *inf);

/* Blocks until synced, stopped, or timeout_ms elapsed (-1: no limit). For startup code (main), not for
 * reconcilers. Returns true when synced. */
bool kube_informer_wait_synced(kube_informer_t *inf, long timeout_ms);

/* Asks the thread to stop and joins it (about a second while watching). Handlers are not called after this
 * returns. NULL-safe, idempotent. */
void kube_informer_stop(kube_informer_t *inf);

/* Asks the thread to stop without waiting (stop many informers: request all, then kube_informer_stop each).
 * NULL-safe. */
void kube_informer_request_stop(kube_informer_t *inf);

/* Stops (if needed) and frees; NULL-safe. */
void kube_informer_free(kube_informer_t *inf);

/* Counters for tests and metrics. */
typedef struct kube_informer_stats {
    unsigned long lists;      /* full lists done (the first one included) */
    unsigned long relists;    /* lists caused by 410 Gone */
    unsigned long watches;    /* watch requests started */
    unsigned long events;     /* ADDED/MODIFIED/DELETED events applied */
    unsigned long errors;     /* failed list/watch attempts */
    char resource_version[64];/* last resourceVersion seen */
} kube_informer_stats_t;

void kube_informer_get_stats(kube_informer_t *inf, kube_informer_stats_t *out);

#endif
