/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_CHALLENGES_H
#define KACME_CONTROLLER_CHALLENGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "acme/acme.h"
#include "ctx.h"
#include "scheduler.h"

/*
 * The challenges controller (cert-manager-behaviour.md §3, §4; kacme-decisions.md): descriptor
 * ctrl_challenges_controller, name "challenges", queue q_challenges.
 *
 * start/stop run the scheduler thread: every second (and early when a Challenge event may have freed a
 * slot or added a candidate, within the per-second budget of --max-challenges-per-schedule) it snapshots
 * the Challenge store, runs sched_pass and marks the picks status.processing=true (PUT /status with the
 * stored resourceVersion: a Conflict skips the Challenge until the next tick), with a Normal "Started" event.
 *
 * Wiring: Challenge events → that Challenge (and a scheduler wake-up when a slot or a candidate may have
 * appeared); solver Pod events → the owning Challenge (its self-check runs when the pod starts instead of at
 * the next retry).
 *
 * reconcile(key) takes ONE step per pass (challenges_decide below); the status write it makes (or a
 * requeue) drives the next. It never blocks: the self-check is one attempt per pass, consecutive passes
 * and the authorization poll are requeues.
 *
 * Persisting: status through PUT /status with the resourceVersion read; finalizers through a JSON patch
 * (RFC 6902) whose first operation tests metadata.resourceVersion, so a finalizer list changed by someone
 * else in between is never overwritten (the failed test is answered 422/409: the newer version arrives
 * through the informer and the step is redone). Only our finalizers are removed, others are kept.
 *
 * Resuming after a restart needs nothing but the API objects: state "" → the authorization is fetched
 * again; presented=false → present (idempotent); state "processing" marks an accepted challenge (the
 * authorization is polled, and the challenge re-accepted if the CA shows it pending again).
 *
 * The functions below are the pure parts, exported for unit tests.
 */

extern const ctrl_controller_t ctrl_challenges_controller;

/* Final states: valid, invalid, expired, errored, revoked, deactivated. NULL/"" is not final. */
bool challenges_state_is_final(const char *state);

typedef enum challenges_action {
    CHALLENGES_ACT_NOTHING = 0,    /* not scheduled (processing false), or finished and already reset */
    CHALLENGES_ACT_CLEANUP,        /* finished (deleted or final) with our finalizer: clean up, drop it */
    CHALLENGES_ACT_RESET,          /* finished without our finalizer: presented=false, processing=false */
    CHALLENGES_ACT_ADD_FINALIZER,  /* processing without acme.cert-manager.io/finalizer (or with the legacy one) */
    CHALLENGES_ACT_SYNC_STATE,     /* state "": copy the challenge's status from the ACME authorization */
    CHALLENGES_ACT_PRESENT,        /* presented false: solver present */
    CHALLENGES_ACT_CHECK,          /* presented: self-check, then accept */
    CHALLENGES_ACT_POLL,           /* accepted (state "processing"): poll the authorization */
} challenges_action_t;

/* The next step for a Challenge object (borrowed), §4.1 with kacme-decisions: finished path first
 * (deletionTimestamp or final state), then processing false → nothing, finalizer, state "", presented,
 * accepted. Issuer/solver checks happen in reconcile before SYNC_STATE and later steps. */
challenges_action_t challenges_decide(json_object *challenge);

/* Lower-case name of an action for logs and tests ("cleanup", "present", ...). */
const char *challenges_action_name(challenges_action_t a);

/* What to do with a failed ACME call (§4.3 with kacme-decisions "ACME client"). */
typedef enum challenges_err_outcome {
    CHALLENGES_ERR_BACKOFF = 0, /* transient: state untouched, exponential backoff */
    CHALLENGES_ERR_REQUEUE,     /* rate limited: requeue after after_ms, state untouched */
    CHALLENGES_ERR_FINAL,       /* terminal: state (expired for malformed, else errored) with reason */
} challenges_err_outcome_t;

typedef struct challenges_err {
    challenges_err_outcome_t outcome;
    int64_t after_ms;  /* REQUEUE: the server's delay (60 s when it gave none) */
    const char *state; /* FINAL: "expired" or "errored" (static) */
    char reason[1200]; /* FINAL: "<what>: <type: detail>" */
} challenges_err_t;

/* Classifies e; what prefixes the reason ("Error accepting challenge"). */
void challenges_classify_error(const acme_error_t *e, const char *what, challenges_err_t *out);

/* Parses an RFC 3339 UTC timestamp ("2026-01-02T15:04:05Z", fractional seconds and numeric offsets
 * accepted) into Unix seconds; -1 when malformed. */
int64_t challenges_parse_time(const char *s);

/* The scheduler's view of a Challenge (borrowed; out's strings borrow from it). Returns 0, or -1 when
 * the object is unusable for scheduling (no name, unknown spec.type). */
int challenges_sched_from_json(json_object *challenge, sched_challenge_t *out);

/* How long to wait before the next self-check after a failed one: shortly (250 ms, or the retry period if
 * smaller) during the first 10 s after status.presentedAt (the solver pod is usually still starting),
 * then retry_period_ms (--dns01-check-retry-period). now_s: Unix seconds. */
int64_t challenges_selfcheck_retry_ms(json_object *challenge, int64_t now_s, int64_t retry_period_ms);

/* Tests: one scheduling pass now (marks at most budget Challenges processing, with their events), when the
 * scheduler thread is not running. Returns how many were marked. */
size_t challenges_schedule_once(ctrl_ctx_t *ctx, size_t budget);

#endif
