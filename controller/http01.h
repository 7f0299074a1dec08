/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_HTTP01_H
#define KACME_CONTROLLER_HTTP01_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "solver.h"

/*
 * The HTTP-01 solver of the challenges controller (cert-manager-behaviour.md §6.2–§6.4, kacme-decisions.md
 * "Self-check (HTTP01)", "Solver pods"): ctrl_http01_solver (declared in solver.h).
 *
 *   present   ensure the solver Pod, Service and Ingress (lib/http01/resources.h builders), found by the
 *             identity labels among the objects whose controller owner is the Challenge: the informer
 *             stores first, then a REST list (so a lagging cache never leads to a duplicate); more than one
 *             → all deleted and an error (the next pass recreates one). With spec.solver.http01.ingress.name
 *             the named Ingress is edited in place instead (GET, add our path, PUT with resourceVersion).
 *             gatewayHTTPRoute is not supported (error).
 *   check     one selfcheck_run_once() pass (--acme-http01-solver-nameservers, the controller's
 *             User-Agent); the consecutive-passes rule is the controller's (selfcheck tracker).
 *   clean_up  delete the owned Pods/Services/Ingresses listed by label through the REST client (nothing is
 *             left behind when the cache lags), or remove only our path from the named Ingress (gone:
 *             fine). Errors are aggregated; NotFound counts as deleted.
 */

/* Controller flags of the HTTP-01 solver that ctrl_options_t (ctx.h) does not carry. Strings borrowed: they
 * must outlive the controller (main passes argv). */
typedef struct ctrl_http01_options {
    const char *runtime_class_name; /* --acme-http01-solver-runtime-class-name; NULL/"": no runtimeClassName */
    bool ingress_path_type_exact;   /* feature gate ACMEHTTP01IngressPathTypeExact (default true); false: the
                                       challenge path of solver Ingresses gets pathType ImplementationSpecific */
} ctrl_http01_options_t;

/* Defaults of ctrl_http01_options_t (no runtime class, pathType Exact). */
void ctrl_http01_options_init(ctrl_http01_options_t *o);

/* Sets the options above; call once from main after flag parsing, before workers start (not locked: read
 * by the workers afterwards). o is copied (its strings are not). Without a call the defaults apply. */
void ctrl_http01_set_options(const ctrl_http01_options_t *o);

/* Parses --acme-http01-solver-extra-labels "k=v,k2=v2" (spaces around entries ignored, empty entries
 * skipped) into a new JSON object {k: v} (owned). NULL/"" → an empty object. Returns 0, or -1 with err for
 * an entry without '=' or with an empty key. */
int ctrl_http01_parse_extra_labels(const char *s, json_object **out, char *err, size_t errlen);

#endif
