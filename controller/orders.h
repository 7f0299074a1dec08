/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_ORDERS_H
#define KACME_CONTROLLER_ORDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "acme/acme.h"
#include "ctx.h"

/*
 * The orders controller (cert-manager-behaviour.md §5.1–§5.6, §5.9; kacme-decisions.md).
 *
 * Wiring: Order add/update/delete → the Order; Issuer/ClusterIssuer events → every Order whose issuerRef
 * names it; Challenge events → the owning Order (controller ownerReference of kind Order).
 *
 * reconcile(key) loops over orders_decide() until a step has to wait, so one pass goes as far as it can
 * (newOrder → authorizations → Challenges, or ready → finalize → certificate) instead of one step per
 * informer round trip. Every step is idempotent and derived from the API objects alone: status.url is
 * persisted before any Challenge exists, Challenge names are deterministic (names_challenge), finalize is
 * never sent twice (acme_order_finalize looks at the ACME order first), and before newOrder the Order is
 * re-read from the API server so that a stale cache never creates a second ACME order.
 *
 * The functions below are the pure parts (no I/O, no logging), exported for unit tests.
 */

extern const ctrl_controller_t ctrl_orders_controller;

/* Failure states (terminal for an Order): invalid, expired, errored, revoked, deactivated. */
bool orders_state_is_failure(const char *state);
/* Final states: valid plus the failure states. NULL/"" is not final. */
bool orders_state_is_final(const char *state);

/*
 * The ACME identifiers of an Order spec (§5.3), borrowed spec: DNS set = dnsNames plus commonName when it is a
 * valid FQDN (lower-case DNS-1123 subdomain with at least two labels, no wildcard); IP set = ipAddresses
 * (canonical text) plus commonName when it parses as an IP. Both de-duplicated and sorted byte-wise; DNS
 * identifiers first. *out is malloc'd (caller frees), *n its length. Returns 0, or -1 with err (no
 * identifiers, more than ACME_MAX_IDENTIFIERS, a value too long, a non-string entry).
 */
int orders_identifiers(json_object *spec, acme_identifier_t **out, size_t *n, char *err, size_t errlen);

/* Returns a malloc'd key authorization for token (RFC 8555 §8.1), or NULL on failure. */
typedef char *(*orders_keyauth_fn)(void *ud, const char *token);

/*
 * The Challenges an Order needs (§5.4), as a new JSON array of complete Challenge objects (apiVersion,
 * kind, metadata {name, namespace, ownerReferences → the Order (controller, blockOwnerDeletion)}, spec {url,
 * authorizationURL, dnsName, wildcard, type, token, key, solver, issuerRef}). order is borrowed (needs
 * metadata.name/namespace/uid, spec.issuerRef, status.authorizations; metadata.labels and annotations feed
 * the solver picker and the overrides); solvers is the issuer's spec.acme.solvers (borrowed, NULL = none).
 * Authorizations whose initialState is valid are skipped (authz reuse). The name is names_challenge() of
 * the spec with key "". With keyauth non-NULL, spec.key is filled (HTTP-01: the key authorization; DNS-01:
 * base64url(SHA-256(key authorization))); with NULL it stays "" (orders_challenge_fill_key later).
 * Returns 0 with *out owned by the caller, or -1 with *out NULL and err (no usable solver, a bad
 * annotation override, malformed authorization data): a configuration problem, not worth retrying.
 */
int orders_required_challenges(json_object *order, json_object *solvers, orders_keyauth_fn keyauth, void *ud,
                               json_object **out, char *err, size_t errlen);

/* Fills spec.key of challenge (a Challenge object from orders_required_challenges, modified) for its
 * spec.type and spec.token. Returns 0, or -1 with err. */
int orders_challenge_fill_key(json_object *challenge, orders_keyauth_fn keyauth, void *ud, char *err,
                              size_t errlen);

/* The required Challenges against the owned ones in the cache. */
typedef struct orders_chal_summary {
    size_t n_required; /* Challenges the Order needs */
    size_t n_missing;  /* required names without an owned Challenge */
    size_t n_leftover; /* owned Challenges not required and not already being deleted */
    size_t n_final;    /* required Challenges present in a final state */
    size_t n_failed;   /* required Challenges present in a failure state */
    const char *failed_reason;  /* status.reason of the first failed one (borrowed from owned), or NULL */
    const char *failed_name;    /* its metadata.name (borrowed), or NULL */
    const char *failed_state;   /* its status.state (borrowed), or NULL */
} orders_chal_summary_t;

/* Fills *out from required (JSON array from orders_required_challenges, borrowed) and the owned Challenges
 * (borrowed; the Challenges whose controller ownerReference is the Order). */
void orders_summarize(json_object *required, json_object *const *owned, size_t n_owned, orders_chal_summary_t *out);

/* What reconcile does next (§5.2, first match wins). */
typedef enum orders_action {
    ORDERS_ACT_NOTHING = 0,       /* failure state: terminal, nothing to do */
    ORDERS_ACT_CREATE_ORDER,      /* no status.url: newOrder */
    ORDERS_ACT_GET_ORDER,         /* no finalizeURL: fetch the ACME order and copy it */
    ORDERS_ACT_FETCH_AUTHZ,       /* authorizations without identifier: fetch them */
    ORDERS_ACT_FETCH_CERT,        /* valid without certificate: download and store it */
    ORDERS_ACT_CLEANUP,           /* valid with certificate: delete every owned Challenge, done */
    ORDERS_ACT_FINALIZE,          /* ready: finalize with the CSR */
    ORDERS_ACT_POLL,              /* processing: fetch the ACME order and copy its state */
    ORDERS_ACT_NEED_CHALLENGES,   /* needs the Challenge summary: call again with it */
    ORDERS_ACT_SYNC_CHALLENGES,   /* create the missing required Challenges, delete leftovers */
    ORDERS_ACT_CHALLENGE_FAILED,  /* a Challenge failed: fetch the ACME order, copy state (+ reason) */
    ORDERS_ACT_WAIT,              /* Challenges still in progress: wait for their events */
    ORDERS_ACT_CHECK_ACME         /* all Challenges final: fetch the ACME order, copy (ready → finalize) */
} orders_action_t;

/*
 * The decision for order (borrowed Order object; only status is read) given the Challenge summary cs (NULL
 * when not computed yet: then any decision that needs it is ORDERS_ACT_NEED_CHALLENGES). Order of checks:
 * failure state; no url; no finalizeURL; an authorization without identifier; valid (certificate or not);
 * ready; processing; then with cs: missing or leftover Challenges; a failed Challenge; not all final; all
 * final. (cert-manager syncs Challenges before finalizing a ready Order; kacme finalizes first: a ready
 * ACME order has every authorization valid, the Challenges no longer matter.)
 */
orders_action_t orders_decide(json_object *order, const orders_chal_summary_t *cs);

/* True when order's spec.issuerRef names issuer (borrowed objects): for an Issuer (cluster false) kind
 * ""/"Issuer", same namespace and name; for a ClusterIssuer (cluster true) kind "ClusterIssuer" and the
 * name; group ""/"cert-manager.io" either way. Used to enqueue Orders on Issuer/ClusterIssuer events. */
bool orders_refers_to_issuer(json_object *order, json_object *issuer, bool cluster);

/* Lower-case name of an action for logs and tests ("create-order", ...). */
const char *orders_action_name(orders_action_t a);

/*
 * The DER CSR of an Order's spec.request (the JSON string: standard base64 of a PEM CSR, or of DER): decodes
 * base64, then PEM → DER when a PEM block is present, and checks the DER parses as a PKCS#10 request. Input
 * limited to 256 KiB of base64, the CSR to 64 KiB. *der malloc'd (caller frees). Returns 0, or -1 with err
 * (never echoing CSR bytes).
 */
int orders_csr_der(const char *request_b64, unsigned char **der, size_t *der_len, char *err, size_t errlen);

/* Standard base64 (with padding, no line breaks) of data; malloc'd, NULL on allocation failure. */
char *orders_b64_encode(const void *data, size_t len);

/*
 * Test seam: every call of the controller that leaves the process (API server, ACME server) goes through
 * this table; the defaults are the real kube_* and acme_* functions. Unit tests install scripted ones to
 * drive reconcile() against recorded ACME responses. Not thread-safe: set before any reconcile runs.
 * orders_set_ops(NULL) restores the real calls.
 */
typedef struct orders_ops {
    int (*kube_get)(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name, json_object **out,
                    kube_error_t *e);
    int (*kube_update_status)(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                              json_object *obj, json_object **out, kube_error_t *e);
    int (*kube_create)(kube_client_t *c, const kube_resource_t *r, const char *ns, json_object *obj, json_object **out,
                       kube_error_t *e);
    int (*kube_delete)(kube_client_t *c, const kube_resource_t *r, const char *ns, const char *name,
                       const kube_delete_opts_t *o, json_object **out, kube_error_t *e);
    int (*order_new)(acme_client_t *c, const acme_order_request_t *req, acme_order_t **out, acme_error_t *e);
    int (*order_get)(acme_client_t *c, const char *url, acme_order_t **out, acme_error_t *e);
    int (*order_finalize)(acme_client_t *c, const acme_order_t *order, const unsigned char *csr_der, size_t csr_len,
                          acme_order_t **out, acme_error_t *e);
    int (*authz_get)(acme_client_t *c, const char *url, acme_authz_t **out, acme_error_t *e);
    int (*cert_fetch)(acme_client_t *c, const char *cert_url, const char *preferred_chain, char **pem, size_t *pem_len,
                      acme_error_t *e);
    char *(*key_authorization)(const acme_client_t *c, const char *token);
    /* the repeated fetch of a pending or processing order (metrics action wait_order) */
    int (*order_poll)(acme_client_t *c, const char *url, acme_order_t **out, acme_error_t *e);
} orders_ops_t;

void orders_set_ops(const orders_ops_t *ops);

#endif
