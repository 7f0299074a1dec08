/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_ADMISSION_H
#define KACME_WEBHOOK_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>

#include "validate.h"

/*
 * AdmissionReview (admission.k8s.io/v1) decode → validator for (group, kind, operation) → encode; and the
 * one mutation (admission_mutate).
 * A pure function of the request body and the policy: no I/O, no globals, thread-safe (fuzz target).
 *
 * Routing is by request.kind: acme.cert-manager.io Order/Challenge, cert-manager.io
 * CertificateRequest/Issuer/ClusterIssuer; any other kind, and operations other than CREATE/UPDATE, are
 * allowed. A denial is allowed:false with status {code 403, reason Forbidden, message = field errors}.
 */

#define ADMISSION_MAX_BODY (3u * 1024u * 1024u)  /* bytes accepted per request (413 above) */
#define ADMISSION_MAX_DEPTH 64                   /* JSON nesting accepted */

/* What the server may log about a request: names only, never object contents. */
typedef struct admission_summary {
    char uid[64];
    char kind[64];
    char operation[16];
    char namespace_[64];
    char name[254];
    bool allowed;
    size_t n_errors;
    size_t n_warnings;
} admission_summary_t;

/* Handles one POST body of len bytes (need not be NUL-terminated). Returns the HTTP status to send:
 * 200 with *out = the AdmissionReview response JSON, or 400 with *out = a one-line reason (text/plain).
 * *out is owned by the caller (free()); on allocation failure returns 500 with *out NULL. summary may be
 * NULL. */
int admission_handle(const char *body, size_t len, const admission_policy_t *policy, char **out, size_t *outlen,
                     admission_summary_t *summary);

/* The mutating side (POST /mutate; behaviour reference §2.5): a CertificateRequest CREATE gets a JSON Patch
 * (RFC 6902, base64 in response.patch, patchType JSONPatch) setting spec.username, uid, groups and extra
 * from request.userInfo, and removing any of them the client set that userInfo lacks, so a request's
 * recorded requester cannot be forged. Every other request is allowed unchanged. Never denies. Same
 * return convention, body limits and 400 replies as admission_handle. */
int admission_mutate(const char *body, size_t len, char **out, size_t *outlen, admission_summary_t *summary);

#endif
