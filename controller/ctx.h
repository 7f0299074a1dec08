/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_CTX_H
#define KACME_CONTROLLER_CTX_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acme/acme.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/rest.h"
#include "kube/store.h"
#include "kube/workqueue.h"
#include "ops/metrics.h"

/*
 * What every controller of kacme-controller shares, set up by main.c:
 *
 *   informers (stores)  → event handlers enqueue keys → per-controller workqueue → worker threads call the
 *   controller's reconcile(key), which reads ONLY from stores (listers), writes ONLY through the REST
 *   client, never sleeps (every wait is a requeue), and records Events through its own recorder.
 *
 * A controller is a ctrl_controller_t descriptor (see the bottom of this file): main registers its
 * informer handlers before the informers start, and runs its workers after leadership is acquired.
 */

/* The resources kacme reconciles (CRDs in crds/). */
extern const kube_resource_t CTRL_RES_ORDERS;              /* acme.cert-manager.io/v1 orders */
extern const kube_resource_t CTRL_RES_CHALLENGES;          /* acme.cert-manager.io/v1 challenges */
extern const kube_resource_t CTRL_RES_ISSUERS;             /* cert-manager.io/v1 issuers */
extern const kube_resource_t CTRL_RES_CLUSTERISSUERS;      /* cert-manager.io/v1 clusterissuers */
extern const kube_resource_t CTRL_RES_CERTIFICATEREQUESTS; /* cert-manager.io/v1 certificaterequests */

#define CTRL_FINALIZER "acme.cert-manager.io/finalizer"
#define CTRL_LEGACY_FINALIZER "finalizer.acme.cert-manager.io"

/* Flag values (cert-manager-behaviour.md §9.1; kacme-decisions.md). Owned by main; read-only after start. */
typedef struct ctrl_options {
    const char *namespace;                  /* --namespace: "" = all namespaces (ClusterIssuers only then) */
    const char *cluster_resource_namespace; /* --cluster-resource-namespace (ClusterIssuer Secrets) */
    int concurrent_workers;                 /* --concurrent-workers (5) */
    int max_concurrent_challenges;          /* --max-concurrent-challenges (60) */
    int max_challenges_per_schedule;        /* --max-challenges-per-schedule (20) */
    int64_t check_retry_period_ms;          /* --dns01-check-retry-period (10 s): self-check retry */
    bool auto_approve;                      /* --auto-approve (true) */
    /* HTTP-01 solver pods */
    const char *solver_image;               /* --acme-http01-solver-image */
    const char *solver_request_cpu, *solver_request_memory, *solver_limits_cpu, *solver_limits_memory;
    bool solver_run_as_non_root;            /* --acme-http01-solver-run-as-non-root */
    const char *solver_nameservers;         /* --acme-http01-solver-nameservers "host:port,..." or NULL */
    const char *solver_extra_labels;        /* --acme-http01-solver-extra-labels "k=v,..." or NULL */
    int selfcheck_passes;                   /* --acme-http01-self-check-passes (2) */
    int64_t selfcheck_spacing_ms;           /* --acme-http01-self-check-spacing (1 s) */
    const char *user_agent;                 /* "kacme-controller/<version>" */
} ctrl_options_t;

typedef struct ctrl_accounts ctrl_accounts_t; /* controller/accounts.h */

typedef struct ctrl_ctx {
    const ctrl_options_t *opts;
    kube_client_t *kube;
    /* Stores of the shared informers (NULL when not running, e.g. clusterissuers with --namespace). */
    kube_store_t *issuers;
    kube_store_t *clusterissuers;
    kube_store_t *certificaterequests;
    kube_store_t *orders;
    kube_store_t *challenges;
    kube_store_t *pods;       /* metadata-only, label acme.cert-manager.io/http01-solver=true */
    kube_store_t *services;   /* metadata-only, same label */
    kube_store_t *ingresses;  /* full objects, same label */
    /* Workqueues, one per controller (NULL when the controller is disabled). Keys "ns/name" or "name". */
    kube_workqueue_t *q_issuers;
    kube_workqueue_t *q_clusterissuers;
    kube_workqueue_t *q_certificaterequests;
    kube_workqueue_t *q_orders;
    kube_workqueue_t *q_challenges;
    /* Event recorders, one per controller (source.component "kacme-<controller>"). NULL-safe to use via
     * ctrl_event(). */
    kube_event_recorder_t *ev_issuers;
    kube_event_recorder_t *ev_certificaterequests;
    kube_event_recorder_t *ev_orders;
    kube_event_recorder_t *ev_challenges;
    /* issuer UID → ACME client, filled by the issuers controllers. */
    ctrl_accounts_t *accounts;
    /* Prometheus registry and the ACME request metrics (action, method, scheme, host, status). */
    metrics_registry_t *metrics;
    metrics_family_t *m_acme_requests;          /* certmanager_http_acme_client_request_count */
    metrics_family_t *m_acme_request_duration;  /* certmanager_http_acme_client_request_duration_seconds */
    metrics_family_t *m_sync_calls;             /* certmanager_controller_sync_call_count{controller} */
    metrics_family_t *m_sync_errors;            /* certmanager_controller_sync_error_count{controller} */
    /* Informers by name (main.c); use ctrl_informer(). */
    kube_informer_t *informers[8];
    const char *informer_names[8];
} ctrl_ctx_t;

/* A controller: name as in --controllers, enqueue handlers registered on the shared informers, the
 * reconcile function run by the worker pool on its queue. */
typedef struct ctrl_controller {
    const char *name;
    /* Registers informer handlers (enqueueing into the controller's queue in ctx) and anything else the
     * controller needs before informers start; called once, before informers start, with the queue
     * already created. Returns 0 or -1 with err. NULL: nothing to set up. */
    int (*setup)(ctrl_ctx_t *ctx, char *err, size_t errlen);
    kube_reconcile_fn reconcile;   /* called from worker threads with ud = ctx */
    /* Which queue field of ctx this controller owns (main creates it: 5 s → 30 min backoff, or 5 s → 5 min
     * for issuers). */
    size_t queue_offset;           /* offsetof(ctrl_ctx_t, q_orders) etc. */
    /* Optional: started after leadership is acquired and the informers synced (e.g. the challenge
     * scheduler thread), stopped on shutdown before the workers. Return 0 or -1 with err. */
    int (*start)(ctrl_ctx_t *ctx, char *err, size_t errlen);
    void (*stop)(ctrl_ctx_t *ctx);
} ctrl_controller_t;

/* The queue of controller c in ctx. */
kube_workqueue_t *ctrl_queue(ctrl_ctx_t *ctx, const ctrl_controller_t *c);

/* Informers' handlers of the shared informers get registered through this (main provides it): which
 * informer serves resource r ("orders", "challenges", "issuers", "clusterissuers", "certificaterequests",
 * "pods", "services", "ingresses"). NULL when that informer is not running. */
kube_informer_t *ctrl_informer(ctrl_ctx_t *ctx, const char *name);

/* ---- shared helpers (controller/ctx.c) ---- */

/* Registers h (copied) on the shared informer named `informer` (see ctrl_informer) for controller
 * `controller` (used in messages). A missing informer is an error when required, otherwise nothing is
 * registered (e.g. clusterissuers with --namespace). Returns 0, or -1 with err filled. */
int ctrl_add_handlers(ctrl_ctx_t *ctx, const char *controller, const char *informer,
                      const kube_informer_handlers_t *h, bool required, char *err, size_t errlen);

/* The string at a dotted path ("spec.issuerRef.name"), borrowed from obj, or NULL when absent or not a
 * string. Array indexes are not supported. */
const char *ctrl_str(json_object *obj, const char *path);
/* The object at a dotted path (borrowed) or NULL. */
json_object *ctrl_get(json_object *obj, const char *path);
/* The boolean at a dotted path; def when absent. */
bool ctrl_bool(json_object *obj, const char *path, bool def);

/* True when old and obj carry the same metadata.resourceVersion (an update event that changed nothing). */
bool ctrl_same_version(json_object *old, json_object *obj);

/* Namespace/name key of obj into buf ("name" for cluster-scoped). Returns 0 or -1. */
int ctrl_key(json_object *obj, char *buf, size_t len);

/* Splits "ns/name" (or "name") into the two parts (ns "" for cluster-scoped). Returns 0 or -1. */
int ctrl_split_key(const char *key, char *ns, size_t nslen, char *name, size_t namelen);

/* Resolves an issuerRef (borrowed {name, kind, group}) seen from namespace ns: kind ""/"Issuer" → the
 * Issuer ns/name, "ClusterIssuer" → the ClusterIssuer; group must be ""/"cert-manager.io". Returns a new
 * reference from the store, or NULL with err filled ("issuer ns/name not found", "invalid value for
 * issuerRef.kind ..."). *cluster is set when it is a ClusterIssuer. */
json_object *ctrl_issuer_get(ctrl_ctx_t *ctx, const char *ns, json_object *issuer_ref, bool *cluster, char *err,
                             size_t errlen);

/* The namespace where an issuer's Secrets live: the Issuer's own, or --cluster-resource-namespace. */
const char *ctrl_issuer_resource_namespace(ctrl_ctx_t *ctx, json_object *issuer, bool cluster);

/* obj's status object (borrowed), created empty (and any non-object value replaced) when missing. */
json_object *ctrl_status(json_object *obj);

/* Sets (or replaces) the condition of `type` in obj's status.conditions (obj is modified): status
 * "True"/"False"/"Unknown", reason, message, lastTransitionTime changed only when status flips,
 * observedGeneration from metadata.generation. Returns true when anything changed. */
bool ctrl_set_condition(json_object *obj, const char *type, const char *status, const char *reason,
                        const char *message);
/* The condition of `type` (borrowed) or NULL. */
json_object *ctrl_condition(json_object *obj, const char *type);

/* RFC 3339 UTC "2006-01-02T15:04:05Z" of now into buf (>= 32 bytes); returns buf. */
const char *ctrl_now_rfc3339(char *buf, size_t len);

/* Records an event when rec is non-NULL (NULL-safe wrapper of kube_event_record). */
void ctrl_event(kube_event_recorder_t *rec, json_object *obj, const char *type, const char *reason,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Writes obj's status if it differs from orig's (both borrowed; orig is the store's copy): PUT to the status
 * subresource with obj's resourceVersion. Conflict and NotFound are returned as -1 with *e set (the caller
 * usually requeues: a Conflict means a newer version will arrive through the informer). Returns 1 when
 * written, 0 when unchanged, -1 on error. */
int ctrl_update_status_if_changed(ctrl_ctx_t *ctx, const kube_resource_t *r, json_object *orig, json_object *obj,
                                  kube_error_t *e);

/* ACME client request metrics hook (acme_metrics_fn with ud = ctx). */
void ctrl_acme_metrics(void *ud, const char *action, const char *method, const char *scheme, const char *host,
                       int status, double seconds);

/* Enqueue helpers for informer handlers: add the object's key to queue. */
void ctrl_enqueue(kube_workqueue_t *q, json_object *obj);
/* Enqueue the controller owner (ownerReference with controller=true and the given kind) of obj as
 * "ns/ownername" into q. */
void ctrl_enqueue_owner(kube_workqueue_t *q, json_object *obj, const char *owner_kind);

#endif
