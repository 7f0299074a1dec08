/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_SCHEDULER_H
#define KACME_CONTROLLER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Challenge scheduler: decides which Challenges get status.processing=true on this tick
 * (cert-manager-behaviour.md §3; kacme-decisions.md "Scheduler" wins where they differ).
 *
 * Pure: it reads a snapshot and returns indices; the caller writes the status updates. Rules:
 *  - key = (dnsName lower-cased (ASCII) without one leading "*.", type);
 *  - in progress = status.processing is true, whatever the state (a final challenge whose flag has not
 *    been reset yet still holds its slot and its key);
 *  - candidates = not processing and state not final (valid, invalid, expired, errored, revoked,
 *    deactivated); among candidates with the same key only the oldest (created, then namespace, name,
 *    uid) is eligible, and none whose key is in progress; picks never share a key;
 *  - at most max_concurrent in progress after the pass, at most max_per_tick new per pass;
 *  - fairness: each pick goes to the namespace with the fewest challenges in progress (counting this
 *    pass's picks), ties broken by the age of the namespace's oldest eligible challenge and then by the
 *    namespace name. With equal loads that is a round-robin over namespaces in oldest-first order, and a
 *    namespace with a thousand old challenges cannot starve another's single one even when only one slot
 *    frees per tick (no state is kept between passes, so a restarted controller schedules the same way);
 *  - within a namespace oldest first: (created, name, uid);
 *  - deterministic: the same set of challenges in any order yields the same picks in the same order.
 *
 * Cost: O(N) hashing and table work per pass, plus a heap over the candidates of each namespace that gives
 * more than one pick; no pairwise comparison.
 * The context keeps its buffers between passes, so steady-state passes allocate nothing.
 * Not thread-safe: one context per scheduling loop.
 */

typedef enum {
    SCHED_TYPE_HTTP01 = 0, /* "HTTP-01" */
    SCHED_TYPE_DNS01 = 1,  /* "DNS-01" */
} sched_type_t;

/* Challenge.status.state (the CRD enum plus kacme's revoked/deactivated). */
typedef enum {
    SCHED_STATE_UNKNOWN = 0, /* "" or unrecognised: not final */
    SCHED_STATE_PENDING,
    SCHED_STATE_PROCESSING,
    SCHED_STATE_READY,
    SCHED_STATE_VALID,
    SCHED_STATE_INVALID,
    SCHED_STATE_EXPIRED,
    SCHED_STATE_ERRORED,
    SCHED_STATE_REVOKED,
    SCHED_STATE_DEACTIVATED,
} sched_state_t;

/* One Challenge of the snapshot. Strings are borrowed for the duration of sched_pass(); NULL reads as "". */
typedef struct {
    const char *ns;       /* metadata.namespace */
    const char *name;     /* metadata.name */
    const char *uid;      /* metadata.uid (last tie-break only; carried for the caller's update) */
    const char *dns_name; /* spec.dnsName */
    int64_t created;      /* metadata.creationTimestamp, Unix seconds */
    sched_type_t type;    /* spec.type */
    sched_state_t state;  /* status.state */
    bool processing;      /* status.processing */
    /* Optional hashes the caller may cache per object (computed once per informer event) so that a pass
     * reads no strings: 0 means "compute here". key_hash must be sched_key_hash(dns_name, type) of this very
     * challenge (equal hashes are still confirmed by comparing names, but a wrong value can hide a
     * conflict); ns_hash must be sched_ns_hash(ns) and is trusted as the namespace's identity (a 64-bit
     * collision could only merge two namespaces' fairness accounting). */
    uint64_t key_hash;
    uint64_t ns_hash;
} sched_challenge_t;

#define SCHED_DEFAULT_MAX_CONCURRENT 60 /* --max-concurrent-challenges */
#define SCHED_DEFAULT_MAX_PER_TICK 20   /* --max-challenges-per-schedule */

typedef struct {
    size_t max_concurrent; /* cap on challenges in progress */
    size_t max_per_tick;   /* cap on new picks per pass */
} sched_limits_t;

#define SCHED_LIMITS_DEFAULT {SCHED_DEFAULT_MAX_CONCURRENT, SCHED_DEFAULT_MAX_PER_TICK}

/* Figures of the last pass (for metrics and logs). */
typedef struct {
    size_t in_progress; /* processing == true before the pass */
    size_t candidates;  /* not processing and not final */
    size_t eligible;    /* candidates that are the oldest of their key, with the key not in progress */
    size_t namespaces;  /* namespaces holding at least one eligible candidate */
    size_t picked;      /* returned by the pass */
} sched_stats_t;

/* Parses status.state; NULL, "" and unknown strings give SCHED_STATE_UNKNOWN. */
sched_state_t sched_state_parse(const char *s);

/* True for valid, invalid, expired, errored, revoked, deactivated. */
bool sched_state_is_final(sched_state_t st);

/* Parses spec.type ("HTTP-01" / "DNS-01", exact). Returns 0, or -1 for anything else. */
int sched_type_parse(const char *s, sched_type_t *out);

/* Writes the scheduling key "<lower-cased dnsName without leading *.>/<HTTP-01|DNS-01>" into buf.
 * Returns 0, or -1 when buf is too small. Two challenges conflict exactly when their keys are equal. */
int sched_key(const char *dns_name, sched_type_t type, char *buf, size_t buflen);

/* Hash of the scheduling key of (dns_name, type) as used by sched_pass(); never 0. */
uint64_t sched_key_hash(const char *dns_name, sched_type_t type);

/* Hash of a namespace name as used by sched_pass(); never 0. */
uint64_t sched_ns_hash(const char *ns);

typedef struct sched sched_t;

/* A scheduler context (owned; free with sched_free), or NULL when out of memory. */
sched_t *sched_new(void);

/* Frees the context and its buffers; accepts NULL. */
void sched_free(sched_t *s);

/*
 * One scheduling pass over all[0..n) (borrowed). lim NULL means the defaults. Writes the indices (into
 * all) of the challenges to mark processing=true, in pick order, to out_idx, which must hold at least
 * lim->max_per_tick entries, and their number to *out_n.
 * Returns 0, or -1 (no memory, n >= UINT32_MAX, NULL arguments) with *out_n = 0.
 */
int sched_pass(sched_t *s, const sched_challenge_t *all, size_t n, const sched_limits_t *lim, size_t *out_idx,
               size_t *out_n);

/* Figures of the last successful pass (zeros before the first). */
void sched_last_stats(const sched_t *s, sched_stats_t *out);

#endif
