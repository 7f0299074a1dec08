/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_SOLVER_H
#define KACME_CONTROLLER_SOLVER_H

#include <stddef.h>

#include <json-c/json.h>

#include "ctx.h"

/*
 * The challenge solver contract (cert-manager-behaviour.md §4.2): what the challenges controller calls for
 * a Challenge of a given spec.type. HTTP-01 lives in controller/http01.c; DNS-01 plugs in by defining
 * ctrl_dns01_solver (weak here, so a build without it still links: such Challenges then fail with an error
 * saying the type is not supported).
 *
 * Every call runs on a controller worker: it may do a bounded amount of I/O (Kubernetes REST calls, one
 * self-check attempt) but never sleeps or waits for propagation; waiting is the controller's requeue.
 * challenge is the Challenge object (borrowed, read-only: the store's copy or the working copy). Errors go
 * back as text in err (suitable for status.reason and events: never keys, tokens or key authorizations).
 */
typedef struct ctrl_solver {
    const char *type; /* Challenge spec.type served: "HTTP-01", "DNS-01" */

    /* Creates (or finds) whatever makes the challenge answerable; idempotent. Returns 0, or -1 with err. */
    int (*present)(ctrl_ctx_t *ctx, json_object *challenge, char *err, size_t errlen);

    /* One propagation check (no retry loop inside). Returns 0 when the challenge is answerable; -1 with the
     * reason in err when it is not (the controller presents again and retries after its retry period); or a
     * positive number of milliseconds when it is answerable but must not be accepted before that much time
     * has passed (the DNS-01 settle period), the reason in err: the controller checks again after exactly
     * that long, without presenting again or counting a failed self-check. */
    int (*check)(ctrl_ctx_t *ctx, json_object *challenge, char *err, size_t errlen);

    /* Removes everything present created, idempotent (nothing there is success). Returns 0 or -1 with err. */
    int (*clean_up)(ctrl_ctx_t *ctx, json_object *challenge, char *err, size_t errlen);
} ctrl_solver_t;

extern const ctrl_solver_t ctrl_http01_solver;                      /* controller/http01.c */
extern const ctrl_solver_t ctrl_dns01_solver __attribute__((weak)); /* not built yet */

/* The solver for a Challenge spec.type ("HTTP-01" / "DNS-01"), or NULL when unknown or not built in. */
const ctrl_solver_t *ctrl_solver_for_type(const char *type);

#endif
