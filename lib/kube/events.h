/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_EVENTS_H
#define KACME_KUBE_EVENTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/rest.h"

/*
 * Kubernetes Events (core/v1 Event, what `kubectl describe` shows), recorded asynchronously with
 * client-go's EventCorrelator behaviour:
 *
 *   - kube_event_record never blocks on the API: it formats the message, copies the object reference and
 *     pushes onto a bounded queue served by one sender thread. A full queue drops the event (counted).
 *   - Aggregation: the same (object UID, type, reason, message) seen again within 10 minutes increments the
 *     existing Event's `count` and updates `lastTimestamp` (merge PATCH) instead of creating a new Event.
 *     If that Event is gone (events expire after an hour), a new one is created.
 *   - Spam cap per object (token bucket on the object UID): burst 25, one more token every 5 minutes; events
 *     beyond it are dropped (counted), so a retry loop cannot flood the API.
 *   - Messages are capped at 1 KiB (cut at a UTF-8 boundary).
 *
 * Event names are "<object name>.<hex wall-clock nanoseconds>", namespace the object's (or "default" for
 * cluster-scoped objects, as client-go does); source.component = the controller name. RBAC: events
 * create/patch.
 */

#define KUBE_EVENT_MAX_MESSAGE 1024

typedef struct kube_event_recorder kube_event_recorder_t;

typedef struct kube_event_recorder_opts {
    const char *component;      /* source.component / reportingComponent, e.g. "kacme-challenges"; required */
    const char *host;           /* source.host / reportingInstance; NULL: none */
    size_t queue_size;          /* pending events before dropping; 0: 1000 */
    int burst;                  /* per-object token bucket size; 0: 25 */
    int64_t refill_ms;          /* one token per refill_ms; 0: 300000 (5 min) */
    int64_t aggregate_window_ms;/* identical events within this window are counted; 0: 600000 (10 min) */
} kube_event_recorder_opts_t;

/* Starts the recorder and its sender thread. client is borrowed and must outlive the recorder. NULL with err
 * filled on failure. */
kube_event_recorder_t *kube_event_recorder_new(kube_client_t *client, const kube_event_recorder_opts_t *opts,
                                               char *err, size_t errlen);

/* Stops the sender: the event being sent finishes, events still queued are dropped (call
 * kube_event_recorder_flush first to deliver them). NULL-safe. */
void kube_event_recorder_free(kube_event_recorder_t *r);

/*
 * Records an event about object (borrowed; a full object with apiVersion/kind/metadata, or an
 * ObjectReference with apiVersion/kind/namespace/name/uid at the top level). type is "Normal" or "Warning";
 * reason a CamelCase word ("Presented"); message printf-style. Never blocks on I/O; thread-safe.
 * Events without a name or uid in object are ignored (logged at --v=2).
 */
void kube_event_record(kube_event_recorder_t *r, json_object *object, const char *type, const char *reason,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Waits until the queue is empty and nothing is being sent, or timeout_ms passed. Returns 0 when idle, -1
 * on timeout. For tests and orderly shutdown. */
int kube_event_recorder_flush(kube_event_recorder_t *r, int64_t timeout_ms);

/* Counters (monotonic): events dropped because the queue was full, dropped by the per-object spam cap, and
 * failed API calls. */
typedef struct kube_event_stats {
    uint64_t queued, created, patched, dropped_queue_full, dropped_spam, failed;
} kube_event_stats_t;
void kube_event_recorder_stats(kube_event_recorder_t *r, kube_event_stats_t *out);

/* ---- the pure part, exposed for tests ---- */

typedef struct kube_event_correlator kube_event_correlator_t;

enum kube_event_action {
    KUBE_EVENT_CREATE = 0, /* create a new Event named name with count 1 */
    KUBE_EVENT_PATCH,      /* patch Event name: count, lastTimestamp */
    KUBE_EVENT_DROP        /* over the per-object spam cap */
};

typedef struct kube_event_decision {
    enum kube_event_action action;
    char name[320];              /* the Event's metadata.name */
    int count;                   /* count to write */
    int64_t first_wall_ns;       /* firstTimestamp of the aggregated Event */
} kube_event_decision_t;

/* A correlator remembering at most max_entries aggregation keys and token buckets (the least recently
 * seen are evicted). Parameters as in kube_event_recorder_opts_t (0: defaults). NULL on allocation failure. */
kube_event_correlator_t *kube_event_correlator_new(int burst, int64_t refill_ms, int64_t window_ms,
                                                   size_t max_entries);
void kube_event_correlator_free(kube_event_correlator_t *c);

/* Decides what to do with an event. now_ms is monotonic time, wall_ns wall-clock nanoseconds (for a new
 * Event's name and timestamps). Not thread-safe (the recorder calls it from its sender thread only). */
void kube_event_correlate(kube_event_correlator_t *c, const char *uid, const char *obj_name, const char *type,
                          const char *reason, const char *message, int64_t now_ms, int64_t wall_ns,
                          kube_event_decision_t *out);

/* Forgets the aggregation entry for the key (after a failed create, or a patch that found no Event), so
 * the next identical event creates a new Event. */
void kube_event_correlator_forget(kube_event_correlator_t *c, const char *uid, const char *type,
                                  const char *reason, const char *message);

/* Copies at most KUBE_EVENT_MAX_MESSAGE bytes of msg into out (size > KUBE_EVENT_MAX_MESSAGE), never cutting
 * a UTF-8 sequence. */
void kube_event_truncate_message(const char *msg, char *out, size_t outlen);

/* Formats a metav1.MicroTime "2006-01-02T15:04:05.000000Z" (RFC 3339, UTC) into buf (>= 32 bytes). */
const char *kube_format_micro_time(int64_t wall_ns, char *buf, size_t len);

/* Formats a metav1.Time "2006-01-02T15:04:05Z" into buf (>= 32 bytes). */
const char *kube_format_time(int64_t wall_ns, char *buf, size_t len);

/* Builds the core/v1 Event for a CREATE decision: owned json_object (json_object_put), NULL when object
 * has no name. ref is the involved object or its reference (borrowed). */
json_object *kube_event_build(json_object *ref, const char *component, const char *host, const char *type,
                              const char *reason, const char *message, const kube_event_decision_t *d);

#endif
