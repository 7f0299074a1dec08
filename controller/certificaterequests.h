/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_CERTIFICATEREQUESTS_H
#define KACME_CONTROLLER_CERTIFICATEREQUESTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"
#include "x509/csr.h"

/*
 * The certificaterequests-issuer-acme controller (cert-manager-behaviour.md §5.7): turns an approved
 * CertificateRequest whose issuer is a Ready ACME Issuer/ClusterIssuer into an Order and, once the Order is
 * valid, copies its certificate into the request.
 *
 * It also does the approver's job (one descriptor, one queue: two descriptors on q_certificaterequests
 * would hand the same key to two different reconcile functions at random): with --auto-approve
 * (opts->auto_approve) a request without Approved/Denied condition whose issuerRef group is
 * ""/cert-manager.io and whose issuer is an ACME issuer (or does not exist yet) gets Approved=True, reason
 * "cert-manager.io", message "Certificate request has been approved by cert-manager.io".
 *
 * Ready condition (type Ready) reasons: Pending, Failed, Issued, Denied. Events: WaitingForApproval,
 * IssuerNotFound, IssuerNotReady, OrderPending, OrderCreatingError, OrderGetError (Normal, emitted when the
 * request goes into Pending), OrderCreated (Normal, whenever an Order is created), RequestParsingError,
 * InvalidOrder, OrderBuildingError, OrderFailed (Warning, with status.failureTime), CertificateIssued
 * (Normal).
 *
 * Enqueued by: CertificateRequest add/update; Order add/update/delete (its controller owner of kind
 * CertificateRequest); Issuer/ClusterIssuer add and Ready changes (every request referencing it).
 */

extern const ctrl_controller_t ctrl_certificaterequests_acme_controller; /* "certificaterequests-issuer-acme" */

#define CTRL_CR_APPROVED_REASON "cert-manager.io"
#define CTRL_CR_APPROVED_MESSAGE "Certificate request has been approved by cert-manager.io"
#define CTRL_CR_ISSUED_MESSAGE "Certificate fetched from issuer successfully"

/* One sync of the request orig (borrowed, the store's copy) applied to obj (a private deep copy whose status
 * is edited in place; events are recorded against orig): what the reconciler does before writing obj's
 * status. May create or delete the Order through the API. Returns the queue action. Exposed for tests. */
kube_reconcile_result_t ctrl_cr_sync(ctrl_ctx_t *ctx, json_object *orig, json_object *obj);

/* ---- pure parts, exposed for tests ---- */

/* True when issuerRef (borrowed, may be NULL) names a cert-manager.io issuer (group "" or absent too). */
bool ctrl_cr_group_ok(json_object *cr);

/* True when the CSR's common name is empty or equal to one of its DNS SANs (exact) or IP SANs (by value). */
bool ctrl_cr_cn_in_sans(const x509_csr_t *csr);

/* True for the Order states that are final failures: errored, invalid, expired, revoked, deactivated. */
bool ctrl_cr_order_failed(const char *state);

/* Builds the Order (apiVersion acme.cert-manager.io/v1, kind Order) for CertificateRequest cr (borrowed)
 * signed by ACME issuer issuer (borrowed) with the parsed csr: namespace = cr's, labels copied, annotations
 * copied except those under kubectl.kubernetes.io/, fluxcd.io/ and argocd.argoproj.io/ (cert-manager's
 * default --copied-annotation-prefixes exclusions), one controller ownerReference to cr, spec {request (cr's
 * spec.request verbatim), issuerRef, commonName, dnsNames, ipAddresses, duration (only with issuer
 * spec.acme.enableDurationFeature), profile (issuer spec.acme.profile)}; empty fields are omitted.
 * metadata.name = names_order(cr name, spec). Returns a new object (caller owns) or NULL with err. */
json_object *ctrl_cr_build_order(json_object *cr, json_object *issuer, const x509_csr_t *csr, char *err,
                                 size_t errlen);

/* True when the first certificate of pem (a PEM chain, len bytes) carries the same public key as csr.
 * False when it does not, or when pem holds no decodable certificate. */
bool ctrl_cr_cert_matches_csr(const unsigned char *pem, size_t len, const x509_csr_t *csr);

#endif
