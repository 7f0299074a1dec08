/* SPDX-License-Identifier: Apache-2.0 */
#include "admission.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                    const char *message, const admission_result_t *r, size_t *outlen)
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

int admission_handle(const char *body, size_t len, const admission_policy_t *policy, char **out, size_t *outlen,
                     admission_summary_t *summary)
{
    admission_summary_t dummy;
    admission_result_t res;
    json_object *root = NULL; /* owned */
    json_tokener *tok = NULL;
    int code = 500;
    char *msg = NULL;

    memset(&res, 0, sizeof(res));
    if (!summary)
        summary = &dummy;
    memset(summary, 0, sizeof(*summary));
    *out = NULL;
    *outlen = 0;
    if (len > ADMISSION_MAX_BODY) {
        code = text_reply(413, "request body larger than 3 MiB", out, outlen);
        goto out;
    }
    if (len == 0) {
        code = text_reply(400, "empty request body", out, outlen);
        goto out;
    }
    tok = thread_tokener();
    if (!tok)
        goto out;
    json_tokener_reset(tok);
    root = json_tokener_parse_ex(tok, body, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        !only_ws(body + json_tokener_get_parse_end(tok), len - json_tokener_get_parse_end(tok))) {
        code = text_reply(400, "request body is not a single JSON document", out, outlen);
        goto out;
    }
    const char *av = vjstr(root, "apiVersion"), *kind = vjstr(root, "kind");
    if (!av || !kind || strcmp(kind, "AdmissionReview") != 0 ||
        (strcmp(av, "admission.k8s.io/v1") != 0 && strcmp(av, "admission.k8s.io/v1beta1") != 0)) {
        code = text_reply(400, "not an admission.k8s.io/v1 AdmissionReview", out, outlen);
        goto out;
    }
    json_object *req = vjget(root, "request"); /* borrowed */
    if (!req || !json_object_is_type(req, json_type_object)) {
        code = text_reply(400, "AdmissionReview has no request", out, outlen);
        goto out;
    }
    const char *uid = vjstr(req, "uid");
    if (!uid || !*uid) {
        code = text_reply(400, "AdmissionReview request has no uid", out, outlen);
        goto out;
    }
    json_object *rk = vjget(req, "kind");
    const char *group = vjstr(rk, "group"), *k = vjstr(rk, "kind");
    if (!rk || !k || !*k) {
        code = text_reply(400, "AdmissionReview request has no kind", out, outlen);
        goto out;
    }
    if (!group)
        group = "";
    const char *op = vjstr(req, "operation");
    copy(summary->uid, sizeof(summary->uid), uid);
    copy(summary->kind, sizeof(summary->kind), k);
    copy(summary->operation, sizeof(summary->operation), op);
    copy(summary->namespace_, sizeof(summary->namespace_), vjstr(req, "namespace"));
    copy(summary->name, sizeof(summary->name), vjstr(req, "name"));

    enum admission_op aop = ADMISSION_OTHER;
    if (op && strcmp(op, "CREATE") == 0)
        aop = ADMISSION_CREATE;
    else if (op && strcmp(op, "UPDATE") == 0)
        aop = ADMISSION_UPDATE;
    const struct route *rt = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(routes[i].group, group) == 0 && strcmp(routes[i].kind, k) == 0)
            rt = &routes[i];
    int status = 0;
    const char *reason = "Forbidden";
    if (rt && aop != ADMISSION_OTHER) {
        json_object *obj = vjget(req, "object"), *old = vjget(req, "oldObject");
        if (old && !json_object_is_type(old, json_type_object))
            old = NULL;
        const char *ok = vjstr(obj, "kind");
        if (!obj || !json_object_is_type(obj, json_type_object)) {
            status = 400;
            reason = "BadRequest";
            msg = strdup("request.object is missing or not an object");
        } else if (ok && strcmp(ok, k) != 0) {
            status = 400;
            reason = "BadRequest";
            msg = strdup("request.object kind does not match request.kind");
        } else {
            if (!summary->name[0])
                copy(summary->name, sizeof(summary->name), vjstr(vjget(obj, "metadata"), "name"));
            json_object *ui = vjget(req, "userInfo");
            json_object *groups = vjget(ui, "groups");
            size_t ng = groups && json_object_is_type(groups, json_type_array) ? json_object_array_length(groups) : 0;
            const char **gv = ng ? calloc(ng, sizeof(*gv)) : NULL;
            if (ng && !gv)
                goto out;
            for (size_t i = 0; i < ng; i++)
            {
                json_object *g = json_object_array_get_idx(groups, i); /* borrowed */
                gv[i] = json_object_is_type(g, json_type_string) ? json_object_get_string(g) : NULL;
            }
            const char *un = vjstr(ui, "username");
            admission_user_t user = {.username = un ? un : "", .groups = gv, .n_groups = ng};
            rt->fn(aop, aop == ADMISSION_UPDATE ? old : NULL, obj, &user, policy, &res);
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
    *out = encode(av, uid, status, reason, msg, &res, outlen);
    code = *out ? 200 : 500;
out:
    free(msg);
    admission_result_clear(&res);
    json_object_put(root);
    if (tok)
        json_tokener_reset(tok);
    return code;
}
