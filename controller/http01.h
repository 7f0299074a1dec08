/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_HTTP01_H
#define KACME_CONTROLLER_HTTP01_H

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

/* Parses --acme-http01-solver-extra-labels "k=v,k2=v2" (spaces around entries ignored, empty entries
 * skipped) into a new JSON object {k: v} (owned). NULL/"" → an empty object. Returns 0, or -1 with err for
 * an entry without '=' or with an empty key. */
int ctrl_http01_parse_extra_labels(const char *s, json_object **out, char *err, size_t errlen);

#endif
