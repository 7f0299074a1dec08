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

static bool gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok;
}

static bool gen_kv(yajl_gen g, const char *k, const char *v)
{
    return gen_str(g, k) && gen_str(g, v);
}

/* Builds the response review. status_code 0 means allowed. Returns owned JSON text or NULL. */
static char *encode(const char *api_version, const char *uid, int status_code, const char *reason,
                    const char *message, const admission_result_t *r, const char *patch_b64, size_t *outlen)
{
    char *out = NULL;
    yajl_gen g = yajl_gen_alloc(NULL); /* owned */
    if (!g)
        return NULL;
    bool ok = yajl_gen_map_open(g) == yajl_gen_status_ok && gen_kv(g, "apiVersion", api_version) &&
              gen_kv(g, "kind", "AdmissionReview") && gen_str(g, "response") &&
              yajl_gen_map_open(g) == yajl_gen_status_ok && gen_kv(g, "uid", uid) && gen_str(g, "allowed") &&
              yajl_gen_bool(g, status_code == 0) == yajl_gen_status_ok;
    if (ok && status_code)
        ok = gen_str(g, "status") && yajl_gen_map_open(g) == yajl_gen_status_ok && gen_str(g, "metadata") &&
             yajl_gen_map_open(g) == yajl_gen_status_ok && yajl_gen_map_close(g) == yajl_gen_status_ok &&
             gen_kv(g, "status", "Failure") && gen_kv(g, "message", message ? message : "") &&
             gen_kv(g, "reason", reason) && gen_str(g, "code") &&
             yajl_gen_integer(g, status_code) == yajl_gen_status_ok && yajl_gen_map_close(g) == yajl_gen_status_ok;
    if (ok && patch_b64)
        ok = gen_kv(g, "patchType", "JSONPatch") && gen_kv(g, "patch", patch_b64);
    if (ok && r && r->n_warnings) {
        ok = gen_str(g, "warnings") && yajl_gen_array_open(g) == yajl_gen_status_ok;
        for (size_t i = 0; ok && i < r->n_warnings; i++)
            ok = gen_str(g, r->warnings[i]);
        ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok;
    }
    ok = ok && yajl_gen_map_close(g) == yajl_gen_status_ok && yajl_gen_map_close(g) == yajl_gen_status_ok;
    if (ok)
        out = jdoc_gen_text(g, outlen);
    yajl_gen_free(g);
    return out;
}

/* One document per thread, reused between requests (its arena is the per-request pool); freed when the
 * thread exits. */
static pthread_key_t doc_key;
static pthread_once_t doc_once = PTHREAD_ONCE_INIT;

static void doc_free(void *p)
{
    jdoc_free(p);
}

static void doc_init(void)
{
    pthread_key_create(&doc_key, doc_free);
}

static jdoc_t *thread_doc(void)
{
    pthread_once(&doc_once, doc_init);
    jdoc_t *d = pthread_getspecific(doc_key);
    if (!d) {
        d = jdoc_new();
        if (d && pthread_setspecific(doc_key, d) != 0) {
            jdoc_free(d);
            d = NULL;
        }
    }
    return d;
}

/* A decoded AdmissionReview: every pointer borrowed from doc. */
struct review {
    jdoc_t *doc; /* the thread's document: released after the reply is encoded */
    const char *api_version, *uid, *group, *kind, *operation;
    enum admission_op op;
    const jdoc_value_t *request, *object, *old_object, *user_info;
};

/* Parses and checks the envelope (after clearing *out, *outlen and *summary). Returns 0 with r filled
 * (r->doc to be released by the caller), or the HTTP status of a text reply already written to *out (400/413, or
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
    r->doc = thread_doc();
    if (!r->doc)
        return 500;
    const jdoc_value_t *root = NULL;
    char err[256], msg[320];
    if (jdoc_parse(r->doc, body, len, ADMISSION_MAX_DEPTH, &root, err, sizeof(err)) != 0) {
        snprintf(msg, sizeof(msg), "request body is not a single JSON document: %s", err);
        return text_reply(400, msg, out, outlen);
    }
    r->api_version = vjstr(root, "apiVersion");
    const char *kind = vjstr(root, "kind");
    if (!r->api_version || !kind || strcmp(kind, "AdmissionReview") != 0 ||
        (strcmp(r->api_version, "admission.k8s.io/v1") != 0 && strcmp(r->api_version, "admission.k8s.io/v1beta1") != 0))
        return text_reply(400, "not an admission.k8s.io/v1 AdmissionReview", out, outlen);
    r->request = jdoc_get(root, "request");
    if (!r->request || !jdoc_is(r->request, JDOC_OBJECT))
        return text_reply(400, "AdmissionReview has no request", out, outlen);
    r->uid = vjstr(r->request, "uid");
    if (!r->uid || !*r->uid)
        return text_reply(400, "AdmissionReview request has no uid", out, outlen);
    const jdoc_value_t *rk = jdoc_get(r->request, "kind");
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
    r->object = jdoc_get(r->request, "object");
    r->old_object = jdoc_get(r->request, "oldObject");
    if (r->old_object && !jdoc_is(r->old_object, JDOC_OBJECT))
        r->old_object = NULL;
    r->user_info = jdoc_get(r->request, "userInfo");
    if (!summary->name[0])
        copy(summary->name, sizeof(summary->name), vjstr(jdoc_get(r->object, "metadata"), "name"));
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
        const jdoc_value_t *obj = rv.object, *old = rv.old_object;
        const char *ok = vjstr(obj, "kind");
        if (!obj || !jdoc_is(obj, JDOC_OBJECT)) {
            status = 400;
            reason = "BadRequest";
            msg = strdup("request.object is missing or not an object");
        } else if (ok && strcmp(ok, rv.kind) != 0) {
            status = 400;
            reason = "BadRequest";
            msg = strdup("request.object kind does not match request.kind");
        } else {
            const jdoc_value_t *groups = jdoc_get(rv.user_info, "groups");
            size_t ng = groups && jdoc_is(groups, JDOC_ARRAY) ? jdoc_len(groups) : 0;
            const char **gv = ng ? calloc(ng, sizeof(*gv)) : NULL;
            if (ng && !gv)
                goto out;
            for (size_t i = 0; i < ng; i++)
            {
                const jdoc_value_t *g = jdoc_at(groups, i); /* borrowed */
                gv[i] = jdoc_is(g, JDOC_STRING) ? jdoc_string(g) : NULL;
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
    jdoc_release(rv.doc);
    return code;
}

/* The JSON Patch (RFC 6902) that sets the requester fields of a CertificateRequest's spec from userInfo
 * (or removes ones the client wrote that userInfo lacks), so the identity recorded is the API server's,
 * never the client's claim. Returns owned base64 of the patch, or NULL when out of memory. */
static char *requester_patch(const jdoc_value_t *spec, const jdoc_value_t *user_info)
{
    static const char *const fields[] = {"username", "uid", "groups", "extra"};
    char *b64 = NULL, *patch = NULL;
    size_t l = 0;
    yajl_gen g = yajl_gen_alloc(NULL); /* owned */
    if (!g)
        return NULL;
    bool ok = yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (size_t i = 0; ok && i < sizeof(fields) / sizeof(fields[0]); i++) {
        const jdoc_value_t *v = jdoc_get(user_info, fields[i]); /* borrowed */
        bool has_v = v && !(jdoc_is(v, JDOC_STRING) && jdoc_string_len(v) == 0);
        bool in_spec = jdoc_get(spec, fields[i]) != NULL;
        if (!has_v && !in_spec)
            continue;
        char path[32];
        snprintf(path, sizeof(path), "/spec/%s", fields[i]);
        ok = yajl_gen_map_open(g) == yajl_gen_status_ok && gen_kv(g, "op", has_v ? "add" : "remove") &&
             gen_kv(g, "path", path) && (!has_v || (gen_str(g, "value") && jdoc_gen(g, v) == 0)) &&
             yajl_gen_map_close(g) == yajl_gen_status_ok;
    }
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok;
    if (ok && (patch = jdoc_gen_text(g, &l)))
        b64 = util_base64_encode((const unsigned char *)patch, l);
    free(patch);
    yajl_gen_free(g);
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
    const jdoc_value_t *spec = jdoc_get(rv.object, "spec");
    if (rv.op == ADMISSION_CREATE && strcmp(rv.group, "cert-manager.io") == 0 &&
        strcmp(rv.kind, "CertificateRequest") == 0 && spec && jdoc_is(spec, JDOC_OBJECT)) {
        patch = requester_patch(spec, rv.user_info);
        if (!patch)
            goto out;
    }
    summary->allowed = true;
    *out = encode(rv.api_version, rv.uid, 0, NULL, NULL, NULL, patch, outlen);
    code = *out ? 200 : 500;
out:
    free(patch);
    jdoc_release(rv.doc);
    return code;
}
