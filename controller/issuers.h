/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_ISSUERS_H
#define KACME_CONTROLLER_ISSUERS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"

/*
 * The issuers and clusterissuers controllers (cert-manager-behaviour.md §8.2): for every Issuer /
 * ClusterIssuer with spec.acme, load (or generate) the account key from the Secret named by
 * spec.acme.privateKeySecretRef (read by name, never listed), register the ACME account (EAB when
 * configured), reconcile the contact email, write status.acme.{uri,lastRegisteredEmail,lastPrivateKeyHash}
 * and the Ready condition, and put the client into the account registry (ctx->accounts) under the issuer's
 * UID. Issuers without spec.acme are ignored; a deleted issuer (or one whose spec.acme went away) is
 * dropped from the registry.
 *
 * Before any ACME call every Secret referenced by a DNS-01 solver (rfc2136 tsigSecretSecretRef, and the
 * secret references of the other providers of the schema) must exist in the issuer's resource namespace and
 * hold the referenced key, else Ready=False InvalidSolver listing every problem ("; "-joined).
 *
 * Ready reasons: ACMEAccountRegistered (True); InvalidConfig, InvalidURL, InvalidSolver, ErrVerifyACMEAccount,
 * ErrRegisterACMEAccount, ErrUpdateACMEAccount (False). Events: Warning ErrInitIssuer on every setup
 * error (one sentence saying what is wrong), plus Warning InvalidURL / ErrRegisterACMEAccount /
 * ErrUpdateACMEAccount where §8.2 records them.
 *
 * Retries: permanent problems (bad config, ACME problem documents, invalid key data) are written to the
 * Ready condition and not retried (the next issuer or Secret change re-runs the sync); transient ones (API
 * errors, unreachable ACME server, 5xx) are written too and retried with the issuer queue's backoff
 * (5 s → 5 min); rateLimited / 429 requeue after Retry-After. Secrets are not watched, so Secret problems
 * are re-checked every 5 minutes and a Ready issuer is re-synced every 10 minutes (one Secret GET; the
 * fast path makes no ACME call) to notice a replaced or deleted account key.
 */

extern const ctrl_controller_t ctrl_issuers_controller;        /* "issuers", q_issuers */
extern const ctrl_controller_t ctrl_clusterissuers_controller; /* "clusterissuers", q_clusterissuers */

/* Label put on generated account key Secrets. kacme keeps cert-manager's value so that tooling selecting on
 * it (and Secrets created by cert-manager before a migration) keep working. */
#define CTRL_ISSUER_MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define CTRL_ISSUER_MANAGED_BY_VALUE "cert-manager"

/* One sync of the issuer orig (borrowed, the store's copy) applied to obj (a private deep copy whose status
 * and Ready condition are edited in place; Warning events are recorded against orig): what the reconciler
 * does before writing obj's status. Makes the API calls for Secrets and the ACME calls, and updates the
 * account registry. Returns the queue action. Exposed for tests. */
kube_reconcile_result_t ctrl_issuers_sync(ctrl_ctx_t *ctx, json_object *orig, json_object *obj, bool cluster);

/* ---- pure parts, exposed for tests ---- */

/* When server (spec.acme.server) is a Let's Encrypt ACME v1 directory URL (production or staging, with or
 * without a trailing slash), returns the v2 URL to suggest (static string); otherwise NULL. */
const char *ctrl_issuers_le_v1_replacement(const char *server);

/* Host (with port, lower-cased) of an http(s) URL into buf. Returns 0, or -1 when url is not an absolute
 * http:// or https:// URL with a non-empty host (buf then ""). */
int ctrl_issuers_url_host(const char *url, char *buf, size_t len);

/* The §8.2 step 6 fast path: true when issuer (borrowed) already has Ready=True, status.acme.uri set with
 * the same host as spec.acme.server, lastRegisteredEmail equal to spec.acme.email (absent = "") and
 * lastPrivateKeyHash equal to key_hash. Then the account needs no ACME call. */
bool ctrl_issuers_fast_path(json_object *issuer, const char *key_hash);

#endif
