/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_REST_H
#define KACME_KUBE_REST_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/config.h"
#include "kube/errors.h"

/*
 * The Kubernetes REST client (client-go's rest client + dynamic client, for JSON objects).
 *
 * Thread-safe: one kube_client_t is shared by every informer and worker thread. Connections are reused
 * (lib/util/http.h shared cache; HTTP/2 over TLS where libcurl offers it). Every request is rate-limited by
 * a client-side token bucket (qps/burst, like --kube-api-qps/--kube-api-burst; the call blocks until a
 * token is available: this is the rate limiter, not a sleep in a reconcile path), switched off once the
 * server shows API Priority & Fairness (X-Kubernetes-PF-FlowSchema-UID), as client-go does. A 429 answer is retried
 * after its Retry-After (capped at 10 s each, at most max_retries times), then returned as
 * KUBE_ERR_TOO_MANY_REQUESTS.
 *
 * Operations return 0 on success or -1 with *e filled (e may be NULL). Objects passed in are borrowed;
 * objects returned through json_object **out are owned by the caller (json_object_put). out may be NULL
 * when the caller does not need the answer.
 *
 * Names and namespaces are percent-encoded into the path; selectors and other query values are
 * percent-encoded too.
 */

/* A resource: group "" is the core group (/api/v1), others live under /apis/<group>/<version>.
 * resource is the lower-case plural ("configmaps", "orders"). Strings are borrowed (string literals). */
typedef struct kube_resource {
    const char *group;
    const char *version;
    const char *resource;
    bool namespaced;
} kube_resource_t;

/* Common resources. */
extern const kube_resource_t KUBE_RES_NAMESPACES;
extern const kube_resource_t KUBE_RES_CONFIGMAPS;
extern const kube_resource_t KUBE_RES_SECRETS;
extern const kube_resource_t KUBE_RES_PODS;
extern const kube_resource_t KUBE_RES_SERVICES;
extern const kube_resource_t KUBE_RES_EVENTS;      /* core/v1 events */
extern const kube_resource_t KUBE_RES_LEASES;      /* coordination.k8s.io/v1 */
extern const kube_resource_t KUBE_RES_INGRESSES;   /* networking.k8s.io/v1 */

/* Builds "/api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]" (or /apis/<g>/<v>/...) into
 * buf. ns is ignored for cluster-scoped resources and may be NULL/"" for "all namespaces" lists. name and
 * subresource may be NULL. Returns 0, or -1 when buf is too small or a required part is missing. */
int kube_path(char *buf, size_t len, const kube_resource_t *r, const char *ns, const char *name,
              const char *subresource);

typedef struct kube_client kube_client_t;

typedef struct kube_client_opts {
    const char *component;   /* User-Agent "kacme-<component>/<version>"; NULL: "client" */
    double qps;              /* 0: 20 */
    int burst;               /* 0: 50 */
    long timeout_ms;         /* per-request timeout (not watches); 0: 30 s */
    int max_retries;         /* retries after 429 (and Retry-After on 5xx); 0: 3; -1: none */
} kube_client_opts_t;

/* New client from cfg (copied: cfg may be freed afterwards). opts may be NULL. http_global_init() must
 * have run. NULL with err filled on failure. */
kube_client_t *kube_client_new(const kube_config_t *cfg, const kube_client_opts_t *opts, char *err,
                               size_t errlen);
void kube_client_free(kube_client_t *c);

/* The namespace of the config (context namespace or in-cluster namespace), or NULL; borrowed. */
const char *kube_client_namespace(const kube_client_t *c);

/* GET one object. */
int kube_get(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name, json_object **out,
             kube_error_t *e);

typedef struct kube_list_opts {
    const char *label_selector;    /* NULL: none */
    const char *field_selector;    /* NULL: none */
    long limit;                    /* page size; 0: no limit (kube_list) or 500 (kube_list_all) */
    const char *continue_token;    /* kube_list only: the previous page's metadata.continue */
    const char *resource_version;  /* NULL: most recent (quorum read) */
    bool metadata_only;            /* PartialObjectMetadataList: items carry only apiVersion/kind/metadata */
    long timeout_ms;               /* 0: the client's */
} kube_list_opts_t;

/* One page: *out is the List object (items, metadata.resourceVersion, metadata.continue). */
int kube_list(kube_client_t *c, const kube_resource_t *r, const char *ns, const kube_list_opts_t *o,
              json_object **out, kube_error_t *e);

/* Every page, following metadata.continue to the end: *out is one List whose "items" holds all items
 * and whose metadata.resourceVersion is the first page's (the snapshot the pages were served from). A
 * 410 while paginating (expired continue token) fails with KUBE_ERR_GONE. At most 1,000,000 items. */
int kube_list_all(kube_client_t *c, const kube_resource_t *r, const char *ns, const kube_list_opts_t *o,
                  json_object **out, kube_error_t *e);

/* POST obj into the collection (ns from the argument, not from obj). */
int kube_create(kube_client_t *c, const kube_resource_t *r, const char *ns, json_object *obj, json_object **out,
                kube_error_t *e);

/* PUT obj (must carry metadata.resourceVersion for optimistic concurrency: a stale one is
 * KUBE_ERR_CONFLICT). subresource NULL or "status". */
int kube_update(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                const char *subresource, json_object *obj, json_object **out, kube_error_t *e);

/* PUT to the status subresource. */
int kube_update_status(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                       json_object *obj, json_object **out, kube_error_t *e);

enum kube_patch_type {
    KUBE_PATCH_MERGE = 0,    /* application/merge-patch+json (RFC 7386) */
    KUBE_PATCH_JSON,         /* application/json-patch+json (RFC 6902): patch is an array */
    KUBE_PATCH_STRATEGIC,    /* application/strategic-merge-patch+json (built-in types only) */
    KUBE_PATCH_APPLY         /* application/apply-patch+yaml: server-side apply (JSON is YAML) */
};

typedef struct kube_patch_opts {
    enum kube_patch_type type;
    const char *field_manager;   /* required for KUBE_PATCH_APPLY; optional otherwise */
    bool force;                  /* apply only: take ownership of conflicting fields */
    const char *subresource;     /* NULL or "status" */
} kube_patch_opts_t;

/* PATCH. A server-side-apply field conflict comes back as KUBE_ERR_CONFLICT with the conflicting fields in
 * causes[]. */
int kube_patch(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
               const kube_patch_opts_t *o, json_object *patch, json_object **out, kube_error_t *e);

typedef struct kube_delete_opts {
    const char *precondition_uid;               /* NULL: none */
    const char *precondition_resource_version;  /* NULL: none */
    const char *propagation_policy;             /* "Foreground", "Background", "Orphan" or NULL */
    long grace_period_s;                        /* -1 or 0 with has_grace_period false: server default */
    bool has_grace_period;
} kube_delete_opts_t;

/* DELETE with DeleteOptions (o may be NULL). A failed precondition is KUBE_ERR_CONFLICT. *out (optional)
 * is the returned object or Status. */
int kube_delete(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                const kube_delete_opts_t *o, json_object **out, kube_error_t *e);

/* Escape hatch for anything else (discovery, SubjectAccessReview...): method, an absolute API path that
 * may carry a query ("/apis/x/v1/foo?a=b", already encoded), optional content type and JSON body (borrowed),
 * *out the decoded JSON answer (owned; NULL when the body is empty). */
int kube_request(kube_client_t *c, const char *method, const char *path_and_query, const char *content_type,
                 json_object *body, json_object **out, kube_error_t *e);

/* ---- watch ---- */

enum kube_watch_event {
    KUBE_WATCH_ADDED = 0,
    KUBE_WATCH_MODIFIED,
    KUBE_WATCH_DELETED,
    KUBE_WATCH_BOOKMARK,
    KUBE_WATCH_ERROR     /* object is a metav1.Status (410 Gone: the resourceVersion is too old) */
};

/* Called for each watch event with the event's object (borrowed: take a reference with json_object_get
 * to keep it). Return 0 to go on, -1 to stop the watch. */
typedef int (*kube_watch_fn)(void *ud, enum kube_watch_event type, json_object *object);

typedef struct kube_watch_opts {
    const char *label_selector;
    const char *field_selector;
    const char *resource_version;   /* start after this version; NULL/"": start with synthetic ADDEDs */
    long timeout_s;                 /* server-side timeoutSeconds; 0: 300 */
    bool allow_bookmarks;           /* allowWatchBookmarks=true */
    bool metadata_only;             /* PartialObjectMetadata events */
    long idle_timeout_s;            /* abort when no byte arrived for this long; 0: timeout_s + 30 */
    const atomic_int *stop;         /* when non-NULL and *stop != 0, the stream is aborted within about a
                                       second, even when silent (http abort flag) */
} kube_watch_opts_t;

/* Streams a watch (newline-delimited JSON events) to fn until the server ends it (0), fn returns -1 or
 * *stop is set (0, with *stopped_by_caller true when non-NULL), or an error (-1 with e filled; an HTTP
 * 410 answer to the watch request is KUBE_ERR_GONE). ERROR events are passed to fn, not turned into -1. */
int kube_watch(kube_client_t *c, const kube_resource_t *r, const char *ns, const kube_watch_opts_t *o,
               kube_watch_fn fn, void *ud, bool *stopped_by_caller, kube_error_t *e);

/* The watch stream decoder, exposed for tests: splits chunks into lines (a line may span any number of
 * chunks), parses {"type": ..., "object": ...} and calls fn. Lines longer than max_line (0: 16 MiB) or not
 * valid events are errors. */
typedef struct kube_watch_decoder kube_watch_decoder_t;
kube_watch_decoder_t *kube_watch_decoder_new(kube_watch_fn fn, void *ud, size_t max_line);
/* Returns 0, -1 on a malformed line / oversize line (err filled), or 1 when fn asked to stop. */
int kube_watch_decoder_feed(kube_watch_decoder_t *d, const char *data, size_t len, char *err, size_t errlen);
void kube_watch_decoder_free(kube_watch_decoder_t *d);

/* Parses a watch event type name ("ADDED", ...). Returns 0 or -1. */
int kube_watch_event_parse(const char *s, enum kube_watch_event *out);
const char *kube_watch_event_name(enum kube_watch_event t);

#endif
