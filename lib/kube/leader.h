/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_LEADER_H
#define KACME_KUBE_LEADER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/rest.h"

/*
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's leaderelection semantics:
 *
 *   - Acquire: create the Lease, or take it over when its holder is empty (released) or its record has not
 *     changed for leaseDurationSeconds as observed on OUR monotonic clock (no trust in other nodes' wall
 *     clocks). Taking over sets holderIdentity, leaseDurationSeconds, acquireTime, renewTime and increments
 *     leaseTransitions. Tries every retry period (with up to +20% jitter).
 *   - Renew: every retry period; if no renewal succeeded for the renew deadline, or someone else holds the
 *     Lease, leadership is lost: on_stopped_leading is called and the elector stops (the controller exits
 *     non-zero).
 *   - Optimistic concurrency: updates carry the resourceVersion read; a Conflict simply fails the round.
 *   - Release on kube_leader_stop: holderIdentity cleared and leaseDurationSeconds=1, so a contender takes
 *     over at its next try.
 *
 * The Lease is labelled app.kubernetes.io/managed-by=kacme. Identity defaults to "<hostname>_<16 hex>".
 * Runs in its own thread (timed waits are fine there). Give the elector a client whose request timeout is
 * below the renew deadline, so one hung request cannot outlive leadership unnoticed.
 */

typedef struct kube_leader kube_leader_t;

typedef struct kube_leader_opts {
    const char *name;              /* Lease name, e.g. "kacme-controller"; required */
    const char *namespace;         /* Lease namespace, e.g. "kube-system"; required */
    const char *identity;          /* NULL: "<hostname>_<random>" */
    int64_t lease_duration_ms;     /* 0: 60000 */
    int64_t renew_deadline_ms;     /* 0: 40000; must be < lease duration */
    int64_t retry_period_ms;       /* 0: 15000; must be < renew deadline */
    int64_t healthz_timeout_ms;    /* slack of kube_leader_health_check past the lease duration
                                      (--internal-healthz-leader-election-timeout); 0: 20000; < 0 invalid */
    /* Called from the elector thread; must return promptly (start threads, do not run the controllers in
     * the callback). on_stopped_leading is called only when leadership is LOST (renewal failed or taken
     * over), not on kube_leader_stop. */
    void (*on_started_leading)(void *ud);
    void (*on_stopped_leading)(void *ud);
    /* Optional: the observed holder changed (NULL/"" when none). */
    void (*on_new_leader)(void *ud, const char *identity);
    void *ud;
} kube_leader_opts_t;

/* Validates opts and starts the elector thread. client is borrowed (must outlive the elector). NULL with
 * err filled on bad options or failure. */
kube_leader_t *kube_leader_start(kube_client_t *client, const kube_leader_opts_t *opts, char *err,
                                 size_t errlen);

/* Stops the elector; if it leads, releases the Lease first (one attempt, bounded by the client's request
 * timeout). Joins the thread and frees. NULL-safe. */
void kube_leader_stop(kube_leader_t *l);

/* True while this process holds the Lease (as of its last successful renewal). */
bool kube_leader_is_leader(kube_leader_t *l);

/* True once leadership was lost (the process should exit non-zero). */
bool kube_leader_lost(kube_leader_t *l);

/* Our identity (borrowed, valid until stop). */
const char *kube_leader_identity(kube_leader_t *l);

/* A health check (the ops_check_fn shape; ud = kube_leader_t *) like cert-manager's "leaderElection"
 * livez check: fails when we lead but have not renewed for lease duration + healthz timeout (20 s by
 * default), or when leadership was lost. Not leading is healthy. */
int kube_leader_health_check(void *ud, char *reason, size_t reasonlen);

/* ---- the pure part, exposed for tests ---- */

typedef struct kube_lease_record {
    char holder[256];          /* "" when released */
    int duration_s;
    int transitions;
    char acquire_time[40];
    char renew_time[40];
} kube_lease_record_t;

/* Reads spec of a Lease (borrowed) into rec. Missing fields are zero/empty. */
void kube_lease_record_parse(json_object *lease, kube_lease_record_t *rec);

/* Writes rec into a Lease's spec (lease borrowed and modified; spec created when missing). Returns 0/-1. */
int kube_lease_record_apply(json_object *lease, const kube_lease_record_t *rec);

/* Whether we may write the Lease now. observed_ms is when (our monotonic clock) the record last changed as
 * far as we saw. True when the holder is us, empty, or the record is older than its duration. */
bool kube_lease_can_acquire(const kube_lease_record_t *rec, const char *me, int64_t observed_ms, int64_t now_ms);

/* The health check's rule: true (unhealthy) when a leader's last renewal is more than lease_ms + timeout_ms
 * old (all milliseconds, since_renew_ms on the monotonic clock). */
bool kube_leader_renewal_overdue(int64_t since_renew_ms, int64_t lease_ms, int64_t timeout_ms);

#endif
