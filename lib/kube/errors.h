/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_ERRORS_H
#define KACME_KUBE_ERRORS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Typed Kubernetes API errors, decoded from a metav1.Status body (or from the HTTP status code alone when
 * the body is not a Status), plus transport failures. Reference: k8s.io/apimachinery/pkg/api/errors and
 * metav1.Status {status, message, reason, details{name, group, kind, causes[{reason, message, field}],
 * retryAfterSeconds}, code}.
 *
 * A kube_error_t is a plain value with fixed-size buffers: nothing to free, safe to copy. Every kube_*
 * operation that takes a kube_error_t * (NULL allowed) clears it first and fills it on failure.
 */

enum kube_err_type {
    KUBE_ERR_NONE = 0,
    KUBE_ERR_NOT_FOUND,          /* 404, reason NotFound */
    KUBE_ERR_ALREADY_EXISTS,     /* 409, reason AlreadyExists */
    KUBE_ERR_CONFLICT,           /* 409, reason Conflict (stale resourceVersion, SSA field conflict) */
    KUBE_ERR_GONE,               /* 410 (or reason Expired): resourceVersion too old, relist */
    KUBE_ERR_FORBIDDEN,          /* 403 */
    KUBE_ERR_UNAUTHORIZED,       /* 401 */
    KUBE_ERR_INVALID,            /* 422, reason Invalid; see causes[] */
    KUBE_ERR_BAD_REQUEST,        /* 400 */
    KUBE_ERR_METHOD_NOT_ALLOWED, /* 405 */
    KUBE_ERR_UNSUPPORTED_MEDIA,  /* 415 */
    KUBE_ERR_TOO_MANY_REQUESTS,  /* 429; retry_after_s set when known */
    KUBE_ERR_TIMEOUT,            /* 504, reason Timeout, or a client-side timeout */
    KUBE_ERR_SERVER,             /* 500, 502, 503 and other 5xx (reason InternalError/ServiceUnavailable) */
    KUBE_ERR_TRANSPORT,          /* no HTTP response: connection, TLS, abort, size cap */
    KUBE_ERR_DECODE,             /* a 2xx response whose body was not the expected JSON */
    KUBE_ERR_OTHER               /* any other non-2xx */
};

#define KUBE_ERR_MAX_CAUSES 8

typedef struct kube_cause {
    char reason[64];   /* e.g. "FieldValueRequired", "FieldManagerConflict" */
    char field[192];   /* e.g. "spec.dnsNames[0]", may be empty */
    char message[256];
} kube_cause_t;

typedef struct kube_error {
    enum kube_err_type type;
    long code;                        /* HTTP status; 0 for transport errors */
    char reason[64];                  /* metav1.Status reason ("NotFound", ...) or "" */
    char message[512];                /* metav1.Status message or transport error text (truncated) */
    int retry_after_s;                /* from details.retryAfterSeconds or a Retry-After header; 0: none */
    size_t n_causes;                  /* causes kept (at most KUBE_ERR_MAX_CAUSES) */
    kube_cause_t causes[KUBE_ERR_MAX_CAUSES];
} kube_error_t;

/* Zeroes e (NULL-safe). */
void kube_error_clear(kube_error_t *e);

/* Fills e from an HTTP response that was not 2xx: body may be NULL or not a Status, in which case the
 * type comes from the status code alone. retry_after is the Retry-After header value or NULL (seconds
 * form only). Never fails. */
void kube_error_from_response(kube_error_t *e, long http_status, const char *body, size_t body_len,
                              const char *retry_after);

/* Fills e from a decoded metav1.Status (borrowed), e.g. the object of a watch ERROR event. http_status is
 * used when the Status has no code. */
void kube_error_from_status(kube_error_t *e, json_object *status, long http_status);

/* Fills e as a transport error (type KUBE_ERR_TRANSPORT, or KUBE_ERR_TIMEOUT when timed_out). */
void kube_error_transport(kube_error_t *e, const char *msg, bool timed_out);

/* Fills e with the given type and message (client-side failures: decode, bad arguments). */
void kube_error_set(kube_error_t *e, enum kube_err_type type, const char *msg);

/* "NotFound", "Conflict", ... static storage. */
const char *kube_err_type_name(enum kube_err_type t);

/* One-line description for logs and messages: `Invalid (422): <message> [spec.x: msg; ...]`. Writes into
 * buf (always NUL-terminated) and returns buf. The message text comes from the server: log it quoted. */
const char *kube_error_str(const kube_error_t *e, char *buf, size_t len);

/* True when the request may succeed if simply retried later (429, 5xx, timeout, transport). */
bool kube_error_is_retryable(const kube_error_t *e);

#endif
