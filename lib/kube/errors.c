/* SPDX-License-Identifier: Apache-2.0 */
#include "kube/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [KUBE_ERR_NONE] = "None",
    [KUBE_ERR_NOT_FOUND] = "NotFound",
    [KUBE_ERR_ALREADY_EXISTS] = "AlreadyExists",
    [KUBE_ERR_CONFLICT] = "Conflict",
    [KUBE_ERR_GONE] = "Gone",
    [KUBE_ERR_FORBIDDEN] = "Forbidden",
    [KUBE_ERR_UNAUTHORIZED] = "Unauthorized",
    [KUBE_ERR_INVALID] = "Invalid",
    [KUBE_ERR_BAD_REQUEST] = "BadRequest",
    [KUBE_ERR_METHOD_NOT_ALLOWED] = "MethodNotAllowed",
    [KUBE_ERR_UNSUPPORTED_MEDIA] = "UnsupportedMediaType",
    [KUBE_ERR_TOO_MANY_REQUESTS] = "TooManyRequests",
    [KUBE_ERR_TIMEOUT] = "Timeout",
    [KUBE_ERR_SERVER] = "ServerError",
    [KUBE_ERR_TRANSPORT] = "Transport",
    [KUBE_ERR_DECODE] = "Decode",
    [KUBE_ERR_OTHER] = "Other",
};

const char *kube_err_type_name(enum kube_err_type t)
{
    if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]) || !type_names[t])
        return "Unknown";
    return type_names[t];
}

void kube_error_clear(kube_error_t *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

static void copy_str(char *dst, size_t len, const char *src)
{
    if (!src)
        src = "";
    snprintf(dst, len, "%s", src);
}

void kube_error_set(kube_error_t *e, enum kube_err_type type, const char *msg)
{
    if (!e)
        return;
    kube_error_clear(e);
    e->type = type;
    copy_str(e->message, sizeof(e->message), msg);
}

void kube_error_transport(kube_error_t *e, const char *msg, bool timed_out)
{
    kube_error_set(e, timed_out ? KUBE_ERR_TIMEOUT : KUBE_ERR_TRANSPORT, msg);
}

/* The type from the HTTP status code alone (k8s.io/apimachinery/pkg/api/errors: NewGenericServerResponse). */
static enum kube_err_type type_from_code(long code)
{
    switch (code) {
    case 400: return KUBE_ERR_BAD_REQUEST;
    case 401: return KUBE_ERR_UNAUTHORIZED;
    case 403: return KUBE_ERR_FORBIDDEN;
    case 404: return KUBE_ERR_NOT_FOUND;
    case 405: return KUBE_ERR_METHOD_NOT_ALLOWED;
    case 409: return KUBE_ERR_CONFLICT;
    case 410: return KUBE_ERR_GONE;
    case 415: return KUBE_ERR_UNSUPPORTED_MEDIA;
    case 422: return KUBE_ERR_INVALID;
    case 429: return KUBE_ERR_TOO_MANY_REQUESTS;
    case 504: return KUBE_ERR_TIMEOUT;
    default: break;
    }
    if (code >= 500 && code <= 599)
        return KUBE_ERR_SERVER;
    return KUBE_ERR_OTHER;
}

/* metav1.StatusReason values (k8s.io/apimachinery/pkg/apis/meta/v1/types.go). The reason is more precise
 * than the code: 409 is both AlreadyExists and Conflict. */
static const struct {
    const char *reason;
    enum kube_err_type type;
} reason_map[] = {
    {"NotFound", KUBE_ERR_NOT_FOUND},
    {"AlreadyExists", KUBE_ERR_ALREADY_EXISTS},
    {"Conflict", KUBE_ERR_CONFLICT},
    {"Gone", KUBE_ERR_GONE},
    {"Expired", KUBE_ERR_GONE},
    {"Forbidden", KUBE_ERR_FORBIDDEN},
    {"Unauthorized", KUBE_ERR_UNAUTHORIZED},
    {"Invalid", KUBE_ERR_INVALID},
    {"BadRequest", KUBE_ERR_BAD_REQUEST},
    {"MethodNotAllowed", KUBE_ERR_METHOD_NOT_ALLOWED},
    {"UnsupportedMediaType", KUBE_ERR_UNSUPPORTED_MEDIA},
    {"TooManyRequests", KUBE_ERR_TOO_MANY_REQUESTS},
    {"Timeout", KUBE_ERR_TIMEOUT},
    {"ServerTimeout", KUBE_ERR_TIMEOUT},
    {"InternalError", KUBE_ERR_SERVER},
    {"ServiceUnavailable", KUBE_ERR_SERVER},
};

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = NULL; /* borrowed */
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool get_int(json_object *o, const char *key, long *out)
{
    json_object *v = NULL; /* borrowed */
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_int))
        return false;
    *out = (long)json_object_get_int64(v);
    return true;
}

static bool is_status(json_object *o)
{
    const char *kind = get_str(o, "kind");
    return kind && strcmp(kind, "Status") == 0;
}

void kube_error_from_status(kube_error_t *e, json_object *status, long http_status)
{
    long code = 0, ra = 0;
    const char *reason, *msg;
    json_object *details = NULL, *causes = NULL; /* borrowed */

    if (!e)
        return;
    kube_error_clear(e);
    if (!get_int(status, "code", &code) || code <= 0)
        code = http_status;
    e->code = code;
    e->type = type_from_code(code);
    reason = get_str(status, "reason");
    msg = get_str(status, "message");
    copy_str(e->reason, sizeof(e->reason), reason);
    copy_str(e->message, sizeof(e->message), msg);
    if (reason) {
        for (size_t i = 0; i < sizeof(reason_map) / sizeof(reason_map[0]); i++) {
            if (strcmp(reason, reason_map[i].reason) == 0) {
                e->type = reason_map[i].type;
                break;
            }
        }
    }
    if (status && json_object_is_type(status, json_type_object) &&
        json_object_object_get_ex(status, "details", &details) && json_object_is_type(details, json_type_object)) {
        if (get_int(details, "retryAfterSeconds", &ra) && ra > 0)
            e->retry_after_s = ra > 86400 ? 86400 : (int)ra;
        if (json_object_object_get_ex(details, "causes", &causes) && json_object_is_type(causes, json_type_array)) {
            size_t n = json_object_array_length(causes);
            for (size_t i = 0; i < n && e->n_causes < KUBE_ERR_MAX_CAUSES; i++) {
                json_object *c = json_object_array_get_idx(causes, i); /* borrowed */
                kube_cause_t *kc;
                if (!json_object_is_type(c, json_type_object))
                    continue;
                kc = &e->causes[e->n_causes++];
                copy_str(kc->reason, sizeof(kc->reason), get_str(c, "reason"));
                copy_str(kc->field, sizeof(kc->field), get_str(c, "field"));
                copy_str(kc->message, sizeof(kc->message), get_str(c, "message"));
            }
        }
    }
    if (e->type == KUBE_ERR_NONE)
        e->type = KUBE_ERR_OTHER;
}

/* Retry-After in its delta-seconds form (RFC 9110 §10.2.3); the HTTP-date form is not used by the
 * API server. */
static int parse_retry_after(const char *s)
{
    char *end = NULL;
    long v;
    if (!s)
        return 0;
    while (*s == ' ')
        s++;
    v = strtol(s, &end, 10);
    if (end == s || v <= 0)
        return 0;
    return v > 86400 ? 86400 : (int)v;
}

void kube_error_from_response(kube_error_t *e, long http_status, const char *body, size_t body_len,
                              const char *retry_after)
{
    json_object *o = NULL; /* owned */
    int ra;

    if (!e)
        return;
    if (body && body_len > 0 && body_len < 1024 * 1024) {
        json_tokener *tok = json_tokener_new();
        if (tok) {
            o = json_tokener_parse_ex(tok, body, (int)body_len);
            if (json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                o = NULL;
            }
            json_tokener_free(tok);
        }
    }
    if (o && is_status(o)) {
        kube_error_from_status(e, o, http_status);
        /* The HTTP code is the truth for the transport; the Status code normally agrees. */
        if (http_status > 0)
            e->code = http_status;
    } else {
        char msg[200];
        kube_error_clear(e);
        e->code = http_status;
        e->type = type_from_code(http_status);
        if (body && body_len > 0) {
            /* Not a Status: keep a short printable excerpt for the operator. */
            size_t j = 0;
            for (size_t i = 0; i < body_len && j + 1 < sizeof(msg); i++)
                msg[j++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
            msg[j] = '\0';
            snprintf(e->message, sizeof(e->message), "HTTP %ld: %s", http_status, msg);
        } else {
            snprintf(e->message, sizeof(e->message), "HTTP %ld", http_status);
        }
    }
    json_object_put(o);
    ra = parse_retry_after(retry_after);
    if (ra > 0 && e->retry_after_s == 0)
        e->retry_after_s = ra;
}

const char *kube_error_str(const kube_error_t *e, char *buf, size_t len)
{
    size_t off;
    int n;

    if (!buf || len == 0)
        return "";
    buf[0] = '\0';
    if (!e)
        return buf;
    if (e->code)
        n = snprintf(buf, len, "%s (%ld): %s", kube_err_type_name(e->type), e->code, e->message);
    else
        n = snprintf(buf, len, "%s: %s", kube_err_type_name(e->type), e->message);
    if (n < 0 || (size_t)n >= len)
        return buf;
    off = (size_t)n;
    for (size_t i = 0; i < e->n_causes && off < len; i++) {
        n = snprintf(buf + off, len - off, "%s%s%s%s", i == 0 ? " [" : "; ", e->causes[i].field,
                     e->causes[i].field[0] ? ": " : "", e->causes[i].message);
        if (n < 0 || (size_t)n >= len - off)
            return buf;
        off += (size_t)n;
    }
    if (e->n_causes > 0 && off + 1 < len) {
        buf[off++] = ']';
        buf[off] = '\0';
    }
    if (e->retry_after_s > 0 && off < len)
        snprintf(buf + off, len - off, " (retry after %d s)", e->retry_after_s);
    return buf;
}

bool kube_error_is_retryable(const kube_error_t *e)
{
    if (!e)
        return false;
    switch (e->type) {
    case KUBE_ERR_TOO_MANY_REQUESTS:
    case KUBE_ERR_TIMEOUT:
    case KUBE_ERR_SERVER:
    case KUBE_ERR_TRANSPORT:
        return true;
    default:
        return false;
    }
}
