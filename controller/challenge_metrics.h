/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_CHALLENGE_METRICS_H
#define KACME_CONTROLLER_CHALLENGE_METRICS_H

#include "ctx.h"
#include "kube/store.h"
#include "ops/metrics.h"

/*
 * certmanager_certificate_challenge_status (cert-manager-behaviour.md §9.4): a gauge computed at scrape time
 * from the Challenge cache. For every Challenge, one series per status value in [ready, valid, errored,
 * expired, invalid, processing, "", pending, revoked, deactivated] (kacme adds the last two), value 1 for
 * the current status.state and 0 for the others; labels status, domain (spec.dnsName), reason
 * (status.reason), processing ("true"/"false"), name, namespace, type (spec.type).
 */

#define CHALLENGE_METRICS_NAME "certmanager_certificate_challenge_status"

/* Registers the collector on ctx->metrics reading ctx->challenges (both borrowed; they must outlive the
 * registry's use). Returns 0, or -1 (no registry, duplicate name, allocation failure). */
int ctrl_challenge_metrics_register(ctrl_ctx_t *ctx);

/* The collector itself: adds the samples of every Challenge in store (borrowed; NULL: none) to sink. */
void challenge_metrics_collect_store(kube_store_t *store, metrics_sink_t *sink);

#endif
