/* SPDX-License-Identifier: Apache-2.0 */
#include "admission.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

static int text_reply(int code, const char *msg, char **out, size_t *outlen)
{
    *out = strdup(msg);
    if (!*out) {
        *outlen = 0;
        return 500;
    }
    *outlen = strlen(*out);
    return code;
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

struct route {
    const char *group;
    const char *kind;
    admission_validator_fn fn;
};

static const struct route routes[] = {
    {"acme.cert-manager.io", "Order", validate_order},
    {"acme.cert-manager.io", "Challenge", validate_challenge},
    {"cert-manager.io", "CertificateRequest", validate_certificaterequest},
    {"cert-manager.io", "Issuer", validate_issuer},
    {"cert-manager.io", "ClusterIssuer", validate_issuer},
};

/* Builds the response review. status_code 0 means allowed. Returns owned JSON text or NULL. */
static char *encode(const char *api_version, const char *uid, int status_code, const char *reason,
                    const char *message, const admission_result_t *r, const char *patch_b64, size_t *outlen)
{
    json_object *review = json_object_new_object(); /* owned; everything below is attached to it */
    json_object *resp = json_object_new_object();
    if (!review || !resp) {
        json_object_put(review);
        json_object_put(resp);
        return NULL;
    }
    json_object_object_add(review, "apiVersion", json_object_new_string(api_version));
    json_object_object_add(review, "kind", json_object_new_string("AdmissionReview"));
    json_object_object_add(review, "response", resp);
    json_object_object_add(resp, "uid", json_object_new_string(uid));
    json_object_object_add(resp, "allowed", json_object_new_boolean(status_code == 0));
    if (status_code) {
        json_object *st = json_object_new_object();
        json_object_object_add(st, "metadata", json_object_new_object());
        json_object_object_add(st, "status", json_object_new_string("Failure"));
        json_object_object_add(st, "message", json_object_new_string(message ? message : ""));
        json_object_object_add(st, "reason", json_object_new_string(reason));
        json_object_object_add(st, "code", json_object_new_int(status_code));
        json_object_object_add(resp, "status", st);
    }
    if (patch_b64) {
        json_object_object_add(resp, "patchType", json_object_new_string("JSONPatch"));
        json_object_object_add(resp, "patch", json_object_new_string(patch_b64));
    }
    if (r && r->n_warnings) {
        json_object *w = json_object_new_array();
        for (size_t i = 0; i < r->n_warnings; i++)
            json_object_array_add(w, json_object_new_string(r->warnings[i]));
        json_object_object_add(resp, "warnings", w);
    }
    size_t l = 0;
    const char *s = json_object_to_json_string_length(review, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                      &l);
    char *out = s ? malloc(l + 1) : NULL;
    if (out) {
        memcpy(out, s, l + 1);
        *outlen = l;
    }
    json_object_put(review);
    return out;
}

/* One tokener per thread, reset between documents (saves its allocations on every request); freed when
 * the thread exits. */
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

static void tok_free(void *p)
{
    json_tokener_free(p);
}

static void tok_init(void)
{
    pthread_key_create(&tok_key, tok_free);
}

static json_tokener *thread_tokener(void)
{
    pthread_once(&tok_once, tok_init);
    json_tokener *t = pthread_getspecific(tok_key);
    if (!t) {
        t = json_tokener_new_ex(ADMISSION_MAX_DEPTH);
        if (t && pthread_setspecific(tok_key, t) != 0) {
            json_tokener_free(t);
            t = NULL;
        }
    }
    return t;
}

static bool only_ws(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\n' && p[i] != '\r' && p[i] != '\t')
            return false;
    return true;
}

/* A decoded AdmissionReview: every pointer borrowed from root. */
struct review {
    json_object *root; /* owned */
    const char *api_version, *uid, *group, *kind, *operation;
    enum admission_op op;
    json_object *request, *object, *old_object, *user_info;
};

/* Parses and checks the envelope (after clearing *out, *outlen and *summary). Returns 0 with r filled
 * (r->root owned by the caller), or the HTTP status of a text reply already written to *out (400/413, or
 * 500 when out of memory). */
static int decode(const char *body, size_t len, struct review *r, char **out, size_t *outlen,
                  admission_summary_t *summary)
{
    memset(r, 0, sizeof(*r));
    memset(summary, 0, sizeof(*summary));
    *out = NULL;
    *outlen = 0;
    if (len > ADMISSION_MAX_BODY)
        return text_reply(413, "request body larger than 3 MiB", out, outlen);
    if (len == 0)
        return text_reply(400, "empty request body", out, outlen);
    json_tokener *tok = thread_tokener();
    if (!tok)
        return 500;
    json_tokener_reset(tok);
    r->root = json_tokener_parse_ex(tok, body, (int)len);
    bool whole = r->root && json_tokener_get_error(tok) == json_tokener_success &&
                 only_ws(body + json_tokener_get_parse_end(tok), len - json_tokener_get_parse_end(tok));
    json_tokener_reset(tok);
    if (!whole)
        return text_reply(400, "request body is not a single JSON document", out, outlen);
    json_object *root = r->root;
    r->api_version = vjstr(root, "apiVersion");
    const char *kind = vjstr(root, "kind");
    if (!r->api_version || !kind || strcmp(kind, "AdmissionReview") != 0 ||
        (strcmp(r->api_version, "admission.k8s.io/v1") != 0 && strcmp(r->api_version, "admission.k8s.io/v1beta1") != 0))
        return text_reply(400, "not an admission.k8s.io/v1 AdmissionReview", out, outlen);
    r->request = vjget(root, "request");
    if (!r->request || !json_object_is_type(r->request, json_type_object))
        return text_reply(400, "AdmissionReview has no request", out, outlen);
    r->uid = vjstr(r->request, "uid");
    if (!r->uid || !*r->uid)
        return text_reply(400, "AdmissionReview request has no uid", out, outlen);
    json_object *rk = vjget(r->request, "kind");
    r->group = vjstr(rk, "group");
    r->kind = vjstr(rk, "kind");
    if (!rk || !r->kind || !*r->kind)
        return text_reply(400, "AdmissionReview request has no kind", out, outlen);
    if (!r->group)
        r->group = "";
    r->operation = vjstr(r->request, "operation");
    copy(summary->uid, sizeof(summary->uid), r->uid);
    copy(summary->kind, sizeof(summary->kind), r->kind);
    copy(summary->operation, sizeof(summary->operation), r->operation);
    copy(summary->namespace_, sizeof(summary->namespace_), vjstr(r->request, "namespace"));
    copy(summary->name, sizeof(summary->name), vjstr(r->request, "name"));
    r->op = ADMISSION_OTHER;
    if (r->operation && strcmp(r->operation, "CREATE") == 0)
        r->op = ADMISSION_CREATE;
    else if (r->operation && strcmp(r->operation, "UPDATE") == 0)
        r->op = ADMISSION_UPDATE;
    r->object = vjget(r->request, "object");
    r->old_object = vjget(r->request, "oldObject");
    if (r->old_object && !json_object_is_type(r->old_object, json_type_object))
        r->old_object = NULL;
    r->user_info = vjget(r->request, "userInfo");
    if (!summary->name[0])
        copy(summary->name, sizeof(summary->name), vjstr(vjget(r->object, "metadata"), "name"));
    return 0;
}

int admission_handle(const char *body, size_t len, const admission_policy_t *policy, char **out, size_t *outlen,
                     admission_summary_t *summary)
{
    admission_summary_t dummy;
    admission_result_t res;
    struct review rv;
    int code = 500;
    char *msg = NULL;

    memset(&res, 0, sizeof(res));
    if (!summary)
        summary = &dummy;
    code = decode(body, len, &rv, out, outlen, summary);
    if (code != 0)
        goto out;
    code = 500;
    const struct route *rt = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(routes[i].group, rv.group) == 0 && strcmp(routes[i].kind, rv.kind) == 0)
            rt = &routes[i];
    int status = 0;
    const char *reason = "Forbidden";
    if (rt && rv.op != ADMISSION_OTHER) {
        json_object *obj = rv.object, *old = rv.old_object;
        const char *ok = vjstr(obj, "kind");
        if (!obj || !json_object_is_type(obj, json_type_object)) {
            status = 400;
            reason = "BadRequest";
            msg = strdup("request.object is missing or not an object");
        } else if (ok && strcmp(ok, rv.kind) != 0) {
            status = 400;
            reason = "BadRequest";
            msg = strdup("request.object kind does not match request.kind");
        } else {
            json_object *groups = vjget(rv.user_info, "groups");
            size_t ng = groups && json_object_is_type(groups, json_type_array) ? json_object_array_length(groups) : 0;
            const char **gv = ng ? calloc(ng, sizeof(*gv)) : NULL;
            if (ng && !gv)
                goto out;
            for (size_t i = 0; i < ng; i++)
            {
                json_object *g = json_object_array_get_idx(groups, i); /* borrowed */
                gv[i] = json_object_is_type(g, json_type_string) ? json_object_get_string(g) : NULL;
            }
            const char *un = vjstr(rv.user_info, "username");
            admission_user_t user = {.username = un ? un : "", .groups = gv, .n_groups = ng};
            rt->fn(rv.op, rv.op == ADMISSION_UPDATE ? old : NULL, obj, &user, policy, &res);
            free(gv);
            if (res.n_errors) {
                status = 403;
                msg = admission_result_message(&res);
                if (!msg)
                    goto out;
            }
        }
    }
    summary->allowed = status == 0;
    summary->n_errors = res.n_errors;
    summary->n_warnings = res.n_warnings;
    *out = encode(rv.api_version, rv.uid, status, reason, msg, &res, NULL, outlen);
    code = *out ? 200 : 500;
out:
    free(msg);
    admission_result_clear(&res);
    json_object_put(rv.root);
    return code;
}

/* The JSON Patch (RFC 6902) that sets the requester fields of a CertificateRequest's spec from userInfo
 * (or removes ones the client wrote that userInfo lacks), so the identity recorded is the API server's,
 * never the client's claim. Returns owned base64 of the patch, or NULL when out of memory. */
static char *requester_patch(json_object *spec, json_object *user_info)
{
    static const char *const fields[] = {"username", "uid", "groups", "extra"};
    json_object *ops = json_object_new_array(); /* owned */
    char *b64 = NULL;
    if (!ops)
        return NULL;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_object *v = vjget(user_info, fields[i]); /* borrowed */
        bool has_v = v && !json_object_is_type(v, json_type_null) &&
                     !(json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0);
        bool in_spec = vjget(spec, fields[i]) != NULL;
        if (!has_v && !in_spec)
            continue;
        char path[32];
        snprintf(path, sizeof(path), "/spec/%s", fields[i]);
        json_object *op = json_object_new_object();
        if (!op || json_object_array_add(ops, op) != 0) {
            json_object_put(op);
            goto out;
        }
        json_object_object_add(op, "op", json_object_new_string(has_v ? "add" : "remove"));
        json_object_object_add(op, "path", json_object_new_string(path));
        if (has_v)
            json_object_object_add(op, "value", json_object_get(v));
    }
    size_t l = 0;
    const char *patch = json_object_to_json_string_length(ops, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &l);
    if (patch)
        b64 = util_base64_encode((const unsigned char *)patch, l);
out:
    json_object_put(ops);
    return b64;
}

int admission_mutate(const char *body, size_t len, char **out, size_t *outlen, admission_summary_t *summary)
{
    admission_summary_t dummy;
    struct review rv;
    char *patch = NULL;
    int code;

    if (!summary)
        summary = &dummy;
    code = decode(body, len, &rv, out, outlen, summary);
    if (code != 0)
        goto out;
    code = 500;
    json_object *spec = vjget(rv.object, "spec");
    if (rv.op == ADMISSION_CREATE && strcmp(rv.group, "cert-manager.io") == 0 &&
        strcmp(rv.kind, "CertificateRequest") == 0 && spec && json_object_is_type(spec, json_type_object)) {
        patch = requester_patch(spec, rv.user_info);
        if (!patch)
            goto out;
    }
    summary->allowed = true;
    *out = encode(rv.api_version, rv.uid, 0, NULL, NULL, NULL, patch, outlen);
    code = *out ? 200 : 500;
out:
    free(patch);
    json_object_put(rv.root);
    return code;
}
