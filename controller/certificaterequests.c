/* SPDX-License-Identifier: Apache-2.0 */
/*
 * certificaterequests-issuer-acme (with the approver folded in): CertificateRequest → Order
 * (cert-manager-behaviour.md §5.7).
 */
#include "util/err.h"
#include "util/base64.h"
#include "certificaterequests.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "issuers.h"
#include "names.h"
#include "util/log.h"

#define READY "Ready"
#define CR_REQUEST_B64_MAX (X509_CSR_MAX_BYTES * 2)
#define CERT_CHAIN_MAX (1024 * 1024)
#define MISMATCH_REQUEUE_MS 5000 /* safety net after deleting a bad Order; its delete event re-enqueues */

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* ---- pure helpers ---- */

bool ctrl_cr_group_ok(json_object *cr)
{
    const char *g = ctrl_str(cr, "spec.issuerRef.group");
    return !g || !*g || strcmp(g, "cert-manager.io") == 0;
}

static int parse_ip(const char *s, unsigned char out[16], int *family)
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

bool ctrl_cr_cn_in_sans(const x509_csr_t *csr)
{
    const char *cn = csr->common_name;
    if (!cn || !*cn)
        return true;
    for (size_t i = 0; i < csr->n_dns; i++)
        if (strcmp(cn, csr->dns_names[i]) == 0)
            return true;
    unsigned char a[16], b[16];
    int fa = 0, fb = 0;
    if (parse_ip(cn, a, &fa) < 0)
        return false;
    for (size_t i = 0; i < csr->n_ip; i++)
        if (parse_ip(csr->ip_addresses[i], b, &fb) == 0 && fa == fb &&
            memcmp(a, b, fa == AF_INET ? 4 : 16) == 0)
            return true;
    return false;
}

bool ctrl_cr_order_failed(const char *state)
{
    static const char *const failed[] = {"errored", "invalid", "expired", "revoked", "deactivated"};
    if (!state)
        return false;
    for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++)
        if (strcmp(state, failed[i]) == 0)
            return true;
    return false;
}

static json_object *string_array(char **v, size_t n)
{
    json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

/* A deep copy of a borrowed member (NULL when absent or on failure). */
static json_object *copy_of(json_object *v)
{
    json_object *c = NULL;
    if (!v || json_object_deep_copy(v, &c, NULL) < 0)
        return NULL;
    return c;
}

/* Annotations not copied onto the Order: the exclusions of cert-manager's default
 * --copied-annotation-prefixes (tool bookkeeping such as kubectl's last-applied-configuration, which would
 * also duplicate the whole CSR into the Order). */
static bool annotation_skipped(const char *k)
{
    static const char *const prefixes[] = {"kubectl.kubernetes.io/", "fluxcd.io/", "argocd.argoproj.io/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(k, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

json_object *ctrl_cr_build_order(json_object *cr, json_object *issuer, const x509_csr_t *csr, char *err,
                                 size_t errlen)
{
    const char *name = ctrl_str(cr, "metadata.name");
    const char *ns = ctrl_str(cr, "metadata.namespace");
    const char *uid = ctrl_str(cr, "metadata.uid");
    json_object *request = ctrl_get(cr, "spec.request");
    json_object *ref = ctrl_get(cr, "spec.issuerRef");
    if (!name || !*name || !ns || !*ns || !uid || !*uid) {
        util_seterr(err, errlen, "the CertificateRequest has no name, namespace or uid");
        return NULL;
    }
    if (!request || !json_object_is_type(request, json_type_string) || !ref) {
        util_seterr(err, errlen, "the CertificateRequest has no spec.request or spec.issuerRef");
        return NULL;
    }
    json_object *spec = json_object_new_object();
    json_object_object_add(spec, "request", json_object_get(request));
    json_object_object_add(spec, "issuerRef", copy_of(ref));
    if (csr->common_name && *csr->common_name)
        json_object_object_add(spec, "commonName", json_object_new_string(csr->common_name));
    if (csr->n_dns > 0)
        json_object_object_add(spec, "dnsNames", string_array(csr->dns_names, csr->n_dns));
    if (csr->n_ip > 0)
        json_object_object_add(spec, "ipAddresses", string_array(csr->ip_addresses, csr->n_ip));
    const char *duration = ctrl_str(cr, "spec.duration");
    if (duration && *duration && ctrl_bool(issuer, "spec.acme.enableDurationFeature", false))
        json_object_object_add(spec, "duration", json_object_new_string(duration));
    const char *profile = ctrl_str(issuer, "spec.acme.profile");
    if (profile && *profile)
        json_object_object_add(spec, "profile", json_object_new_string(profile));

    char oname[NAMES_MAX];
    if (names_order(name, spec, oname, sizeof oname) < 0) {
        json_object_put(spec);
        util_seterr(err, errlen, "cannot compute the Order name");
        return NULL;
    }

    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "name", json_object_new_string(oname));
    json_object_object_add(meta, "namespace", json_object_new_string(ns));
    json_object *labels = ctrl_get(cr, "metadata.labels"), *ann = ctrl_get(cr, "metadata.annotations");
    if (labels && json_object_is_type(labels, json_type_object) && json_object_object_length(labels) > 0)
        json_object_object_add(meta, "labels", copy_of(labels));
    if (ann && json_object_is_type(ann, json_type_object)) {
        json_object *copied = json_object_new_object();
        json_object_object_foreach(ann, k, v) {
            if (!annotation_skipped(k))
                json_object_object_add(copied, k, json_object_get(v));
        }
        if (json_object_object_length(copied) > 0)
            json_object_object_add(meta, "annotations", copied);
        else
            json_object_put(copied);
    }
    json_object *owner = json_object_new_object();
    json_object_object_add(owner, "apiVersion", json_object_new_string("cert-manager.io/v1"));
    json_object_object_add(owner, "kind", json_object_new_string("CertificateRequest"));
    json_object_object_add(owner, "name", json_object_new_string(name));
    json_object_object_add(owner, "uid", json_object_new_string(uid));
    json_object_object_add(owner, "controller", json_object_new_boolean(1));
    json_object_object_add(owner, "blockOwnerDeletion", json_object_new_boolean(1));
    json_object *owners = json_object_new_array();
    json_object_array_add(owners, owner);
    json_object_object_add(meta, "ownerReferences", owners);

    json_object *order = json_object_new_object();
    json_object_object_add(order, "apiVersion", json_object_new_string("acme.cert-manager.io/v1"));
    json_object_object_add(order, "kind", json_object_new_string("Order"));
    json_object_object_add(order, "metadata", meta);
    json_object_object_add(order, "spec", spec);
    return order;
}

bool ctrl_cr_cert_matches_csr(const unsigned char *pem, size_t len, const x509_csr_t *csr)
{
    if (!pem || len == 0 || len > CERT_CHAIN_MAX || !csr || !csr->pubkey)
        return false;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return false;
    X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!leaf)
        return false;
    EVP_PKEY *pk = X509_get0_pubkey(leaf);
    bool ok = pk && EVP_PKEY_eq(pk, (EVP_PKEY *)csr->pubkey) == 1;
    X509_free(leaf);
    return ok;
}

/* ---- condition and event helpers ---- */

static bool cond_true(json_object *obj, const char *type)
{
    json_object *c = ctrl_condition(obj, type);
    return c && strcmp(str_or_empty(ctrl_str(c, "status")), "True") == 0;
}

static const char *ready_reason(json_object *obj)
{
    json_object *c = ctrl_condition(obj, READY);
    return c ? str_or_empty(ctrl_str(c, "reason")) : "";
}

static void set_failure_time(json_object *obj)
{
    if (ctrl_str(obj, "status.failureTime"))
        return;
    json_object *status = NULL;
    if (!json_object_object_get_ex(obj, "status", &status) || !json_object_is_type(status, json_type_object)) {
        status = json_object_new_object();
        json_object_object_add(obj, "status", status);
    }
    char now[40];
    json_object_object_add(status, "failureTime", json_object_new_string(ctrl_now_rfc3339(now, sizeof now)));
}

/* Ready=False reason Pending; the Normal event `event` only when the request goes into Pending. */
static void pending(ctrl_ctx_t *ctx, json_object *orig, json_object *obj, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void pending(ctrl_ctx_t *ctx, json_object *orig, json_object *obj, const char *event, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (event && strcmp(ready_reason(orig), "Pending") != 0)
        ctrl_event(ctx->ev_certificaterequests, orig, "Normal", event, "%s", msg);
    ctrl_set_condition(obj, READY, "False", "Pending", msg);
}

/* Ready=False reason Failed with failureTime and a Warning event `event`: terminal for this request. */
static void failed(ctrl_ctx_t *ctx, json_object *orig, json_object *obj, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void failed(ctrl_ctx_t *ctx, json_object *orig, json_object *obj, const char *event, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctrl_event(ctx->ev_certificaterequests, orig, "Warning", event, "%s", msg);
    ctrl_set_condition(obj, READY, "False", "Failed", msg);
    set_failure_time(obj);
    LOG_WARN("certificate request failed", "namespace", str_or_empty(ctrl_str(orig, "metadata.namespace")), "name",
             str_or_empty(ctrl_str(orig, "metadata.name")), "reason", event, "message", msg);
}

/* The controller ownerReference's uid of obj, or NULL. */
static const char *controller_uid(json_object *obj)
{
    json_object *refs = ctrl_get(obj, "metadata.ownerReferences");
    if (!refs || !json_object_is_type(refs, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(refs); i++) {
        json_object *r = json_object_array_get_idx(refs, i);
        if (ctrl_bool(r, "controller", false))
            return ctrl_str(r, "uid");
    }
    return NULL;
}

/* ---- the sync ---- */

/* The Order part (approved request, Ready ACME issuer). Edits obj; returns the queue action. */
static kube_reconcile_result_t sign(ctrl_ctx_t *ctx, json_object *orig, json_object *obj, json_object *issuer)
{
    const char *ns = ctrl_str(orig, "metadata.namespace");
    const char *uid = ctrl_str(orig, "metadata.uid");
    const char *req = ctrl_str(orig, "spec.request");
    kube_reconcile_result_t res = kube_reconcile_ok();
    unsigned char *der = NULL, *chain = NULL;
    size_t derlen = 0, chainlen = 0;
    x509_csr_t *csr = NULL;
    json_object *order = NULL, *existing = NULL;
    char err[256] = "", eb[600];

    if (!req || util_base64_decode(req, CR_REQUEST_B64_MAX, &der, &derlen) < 0) {
        failed(ctx, orig, obj, "RequestParsingError", "Failed to decode CSR in spec.request: not valid base64");
        goto out;
    }
    csr = x509_csr_parse(der, derlen, err, sizeof err);
    if (!csr) {
        failed(ctx, orig, obj, "RequestParsingError", "Failed to decode CSR in spec.request: %s", err);
        goto out;
    }
    if (!ctrl_cr_cn_in_sans(csr)) {
        failed(ctx, orig, obj, "InvalidOrder",
               "The CSR's commonName is not among its DNS names or IP addresses, which ACME requires when a "
               "commonName is set");
        goto out;
    }
    order = ctrl_cr_build_order(orig, issuer, csr, err, sizeof err);
    if (!order) {
        failed(ctx, orig, obj, "OrderBuildingError", "Failed to build the Order: %s", err);
        goto out;
    }
    const char *oname = ctrl_str(order, "metadata.name");
    existing = ctx->orders ? kube_store_get_ns(ctx->orders, ns, oname) : NULL;
    if (!existing) {
        kube_error_t ke;
        if (kube_create(ctx->kube, &CTRL_RES_ORDERS, ns, order, NULL, &ke) < 0 &&
            ke.type != KUBE_ERR_ALREADY_EXISTS) {
            pending(ctx, orig, obj, "OrderCreatingError", "Failed to create Order %s/%s: %s", ns, oname,
                    kube_error_str(&ke, eb, sizeof eb));
            res = kube_reconcile_error();
            goto out;
        }
        ctrl_event(ctx->ev_certificaterequests, orig, "Normal", "OrderCreated", "Created Order resource %s/%s", ns,
                   oname);
        pending(ctx, orig, obj, NULL, "Created Order resource %s/%s", ns, oname);
        LOG_V(1, "created order", "namespace", ns, "order", oname);
        goto out;
    }
    const char *owner = controller_uid(existing);
    if (!owner || strcmp(owner, uid) != 0) {
        pending(ctx, orig, obj, "OrderGetError", "Order %s/%s exists but is not owned by this CertificateRequest", ns,
                oname);
        LOG_WARN("order name taken by an object not controlled by the request", "namespace", ns, "order", oname);
        res = kube_reconcile_error();
        goto out;
    }
    if (ctrl_str(existing, "metadata.deletionTimestamp")) {
        /* a mismatching Order we deleted: its delete event brings us back to create the fresh one */
        pending(ctx, orig, obj, "OrderPending", "Waiting for the deleted Order %s/%s to go away", ns, oname);
        goto out;
    }
    const char *state = str_or_empty(ctrl_str(existing, "status.state"));
    if (ctrl_cr_order_failed(state)) {
        failed(ctx, orig, obj, "OrderFailed",
               "Failed to wait for order resource \"%s\" to become ready: order is in \"%s\" state: %s", oname, state,
               str_or_empty(ctrl_str(existing, "status.reason")));
        goto out;
    }
    if (strcmp(state, "valid") != 0) {
        pending(ctx, orig, obj, "OrderPending", "Waiting on certificate issuance from order %s/%s: \"%s\"", ns, oname,
                state);
        goto out;
    }
    const char *cert = ctrl_str(existing, "status.certificate");
    if (!cert || !*cert) {
        pending(ctx, orig, obj, "OrderPending", "Waiting for order %s/%s to store its certificate", ns, oname);
        goto out;
    }
    if (util_base64_decode(cert, CERT_CHAIN_MAX, &chain, &chainlen) < 0 ||
        !ctrl_cr_cert_matches_csr(chain, chainlen, csr)) {
        /* a certificate that can't be read, or for another key, is useless: start over with a fresh Order */
        kube_delete_opts_t dopts = {.precondition_uid = ctrl_str(existing, "metadata.uid")};
        kube_error_t ke;
        if (kube_delete(ctx->kube, &CTRL_RES_ORDERS, ns, oname, &dopts, NULL, &ke) < 0 &&
            ke.type != KUBE_ERR_NOT_FOUND) {
            LOG_WARN("failed to delete an order whose certificate does not match the CSR", "namespace", ns, "order",
                     oname, "error", kube_error_str(&ke, eb, sizeof eb));
            res = kube_reconcile_error();
            goto out;
        }
        LOG_WARN("deleted an order whose certificate does not match the CSR's public key", "namespace", ns, "order",
                 oname);
        pending(ctx, orig, obj, "OrderPending",
                "The certificate of Order %s/%s does not match the CSR's public key; the Order was deleted and will be "
                "created again",
                ns, oname);
        res = kube_reconcile_requeue_after(MISMATCH_REQUEUE_MS);
        goto out;
    }
    json_object *status = NULL;
    if (!json_object_object_get_ex(obj, "status", &status) || !json_object_is_type(status, json_type_object)) {
        status = json_object_new_object();
        json_object_object_add(obj, "status", status);
    }
    json_object_object_add(status, "certificate", json_object_new_string(cert));
    ctrl_set_condition(obj, READY, "True", "Issued", CTRL_CR_ISSUED_MESSAGE);
    ctrl_event(ctx->ev_certificaterequests, orig, "Normal", "CertificateIssued", CTRL_CR_ISSUED_MESSAGE);
    LOG_INFO("certificate issued", "namespace", ns, "name", str_or_empty(ctrl_str(orig, "metadata.name")), "order",
             oname);
out:
    json_object_put(existing);
    json_object_put(order);
    x509_csr_free(csr);
    free(der);
    free(chain);
    return res;
}

kube_reconcile_result_t ctrl_cr_sync(ctrl_ctx_t *ctx, json_object *orig, json_object *obj)
{
    const char *ns = ctrl_str(orig, "metadata.namespace");
    if (cond_true(orig, "Denied")) {
        if (strcmp(ready_reason(orig), "Denied") != 0) {
            ctrl_set_condition(obj, READY, "False", "Denied",
                               "The CertificateRequest was denied by an approval controller");
            set_failure_time(obj);
        }
        return kube_reconcile_ok();
    }
    if (cond_true(orig, "InvalidRequest"))
        return kube_reconcile_ok();
    const char *rr = ready_reason(orig);
    if (strcmp(rr, "Failed") == 0 || strcmp(rr, "Issued") == 0)
        return kube_reconcile_ok();
    const char *cert = ctrl_str(orig, "status.certificate");
    if (cert && *cert)
        return kube_reconcile_ok();

    bool cluster = false;
    char err[256] = "";
    json_object *issuer = ctrl_issuer_get(ctx, ns, ctrl_get(orig, "spec.issuerRef"), &cluster, err, sizeof err);
    if (issuer && !ctrl_get(issuer, "spec.acme")) {
        json_object_put(issuer); /* another issuer type: not ours */
        return kube_reconcile_ok();
    }
    kube_reconcile_result_t res = kube_reconcile_ok();
    if (!cond_true(orig, "Approved")) {
        if (ctx->opts && ctx->opts->auto_approve && !ctrl_condition(orig, "Approved") &&
            !ctrl_condition(orig, "Denied")) {
            /* written now; the update event brings the request back for signing */
            ctrl_set_condition(obj, "Approved", "True", CTRL_CR_APPROVED_REASON, CTRL_CR_APPROVED_MESSAGE);
            LOG_V(1, "approved certificate request", "namespace", ns, "name",
                  str_or_empty(ctrl_str(orig, "metadata.name")));
        } else {
            ctrl_event(ctx->ev_certificaterequests, orig, "Normal", "WaitingForApproval",
                       "Not signing CertificateRequest until it is Approved");
        }
        goto out;
    }
    if (!issuer) {
        pending(ctx, orig, obj, "IssuerNotFound", "Referenced issuer not found: %s", err);
        goto out;
    }
    if (!cond_true(issuer, READY)) {
        pending(ctx, orig, obj, "IssuerNotReady", "Referenced issuer does not have a Ready status condition");
        goto out;
    }
    res = sign(ctx, orig, obj, issuer);
out:
    json_object_put(issuer);
    return res;
}

static kube_reconcile_result_t reconcile(void *ud, const char *key)
{
    ctrl_ctx_t *ctx = ud;
    if (!ctx->certificaterequests)
        return kube_reconcile_ok();
    json_object *orig = kube_store_get(ctx->certificaterequests, key);
    if (!orig)
        return kube_reconcile_ok();
    if (ctrl_str(orig, "metadata.deletionTimestamp") || !ctrl_cr_group_ok(orig)) {
        json_object_put(orig);
        return kube_reconcile_ok();
    }
    json_object *obj = NULL;
    if (json_object_deep_copy(orig, &obj, NULL) < 0 || !obj) {
        json_object_put(orig);
        return kube_reconcile_error();
    }
    kube_reconcile_result_t res = ctrl_cr_sync(ctx, orig, obj);
    kube_error_t ke;
    int wrc = ctrl_update_status_if_changed(ctx, &CTRL_RES_CERTIFICATEREQUESTS, orig, obj, &ke);
    json_object_put(obj);
    json_object_put(orig);
    if (wrc < 0) {
        if (ke.type == KUBE_ERR_CONFLICT || ke.type == KUBE_ERR_NOT_FOUND)
            return kube_reconcile_ok(); /* the newer version (or the deletion) comes through the informer */
        char eb[600];
        LOG_WARN("failed to update certificate request status", "key", key, "error",
                 kube_error_str(&ke, eb, sizeof eb));
        return kube_reconcile_error();
    }
    return res;
}

/* ---- informer handlers ---- */

static void cr_on_add(void *ud, json_object *obj)
{
    ctrl_ctx_t *ctx = ud;
    ctrl_enqueue(ctx->q_certificaterequests, obj);
}

static void cr_on_update(void *ud, json_object *old, json_object *obj)
{
    cr_on_add(ud, obj);
}

static void order_on_add(void *ud, json_object *obj)
{
    ctrl_ctx_t *ctx = ud;
    ctrl_enqueue_owner(ctx->q_certificaterequests, obj, "CertificateRequest");
}

static void order_on_update(void *ud, json_object *old, json_object *obj)
{
    order_on_add(ud, obj);
}

static void order_on_delete(void *ud, json_object *old)
{
    order_on_add(ud, old);
}

/* Enqueues the unfinished requests that reference issuer (borrowed). */
static void enqueue_for_issuer(ctrl_ctx_t *ctx, json_object *issuer, bool cluster)
{
    if (!ctx->certificaterequests || !ctx->q_certificaterequests)
        return;
    const char *iname = ctrl_str(issuer, "metadata.name");
    const char *ins = ctrl_str(issuer, "metadata.namespace");
    if (!iname || (!cluster && !ins))
        return;
    json_object **crs = NULL;
    size_t n = 0;
    int rc = cluster ? kube_store_list(ctx->certificaterequests, &crs, &n)
                     : kube_store_by_index(ctx->certificaterequests, KUBE_INDEX_NAMESPACE, ins, &crs, &n);
    if (rc < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        json_object *cr = crs[i];
        const char *kind = str_or_empty(ctrl_str(cr, "spec.issuerRef.kind"));
        bool is_cluster = strcmp(kind, "ClusterIssuer") == 0;
        bool is_ns = !*kind || strcmp(kind, "Issuer") == 0;
        if ((cluster ? !is_cluster : !is_ns) || !ctrl_cr_group_ok(cr) ||
            strcmp(str_or_empty(ctrl_str(cr, "spec.issuerRef.name")), iname) != 0)
            continue;
        const char *rr = ready_reason(cr);
        if (strcmp(rr, "Issued") == 0 || strcmp(rr, "Failed") == 0 || strcmp(rr, "Denied") == 0)
            continue;
        ctrl_enqueue(ctx->q_certificaterequests, cr);
    }
    kube_store_list_free(crs, n);
}

/* Issuer changes that matter to requests: appearing, disappearing, Ready flipping, spec changes. */
static bool issuer_changed(json_object *old, json_object *obj)
{
    json_object *a = ctrl_condition(old, READY), *b = ctrl_condition(obj, READY);
    const char *sa = a ? str_or_empty(ctrl_str(a, "status")) : "";
    const char *sb = b ? str_or_empty(ctrl_str(b, "status")) : "";
    if (strcmp(sa, sb) != 0)
        return true;
    json_object *ga = ctrl_get(old, "metadata.generation"), *gb = ctrl_get(obj, "metadata.generation");
    return json_object_get_int64(ga) != json_object_get_int64(gb);
}

static void iss_on_add(void *ud, json_object *obj)
{
    enqueue_for_issuer(ud, obj, false);
}

static void iss_on_update(void *ud, json_object *old, json_object *obj)
{
    if (issuer_changed(old, obj))
        enqueue_for_issuer(ud, obj, false);
}

static void iss_on_delete(void *ud, json_object *old)
{
    enqueue_for_issuer(ud, old, false);
}

static void ciss_on_add(void *ud, json_object *obj)
{
    enqueue_for_issuer(ud, obj, true);
}

static void ciss_on_update(void *ud, json_object *old, json_object *obj)
{
    if (issuer_changed(old, obj))
        enqueue_for_issuer(ud, obj, true);
}

static void ciss_on_delete(void *ud, json_object *old)
{
    enqueue_for_issuer(ud, old, true);
}

static int setup(ctrl_ctx_t *ctx, char *err, size_t errlen)
{
    kube_informer_handlers_t cr = {cr_on_add, cr_on_update, NULL, ctx};
    kube_informer_handlers_t ord = {order_on_add, order_on_update, order_on_delete, ctx};
    kube_informer_handlers_t iss = {iss_on_add, iss_on_update, iss_on_delete, ctx};
    kube_informer_handlers_t ciss = {ciss_on_add, ciss_on_update, ciss_on_delete, ctx};
    if (ctrl_add_handlers(ctx, "certificaterequests-issuer-acme", "certificaterequests", &cr, true, err, errlen) < 0 ||
        ctrl_add_handlers(ctx, "certificaterequests-issuer-acme", "orders", &ord, true, err, errlen) < 0 ||
        ctrl_add_handlers(ctx, "certificaterequests-issuer-acme", "issuers", &iss, false, err, errlen) < 0 ||
        ctrl_add_handlers(ctx, "certificaterequests-issuer-acme", "clusterissuers", &ciss, false, err, errlen) < 0)
        return -1;
    return 0;
}

const ctrl_controller_t ctrl_certificaterequests_acme_controller = {
    .name = "certificaterequests-issuer-acme",
    .setup = setup,
    .reconcile = reconcile,
    .queue_offset = offsetof(ctrl_ctx_t, q_certificaterequests),
};
