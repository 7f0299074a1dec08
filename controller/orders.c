/* SPDX-License-Identifier: Apache-2.0 */
#include "util/err.h"
#include "util/base64.h"
#include "orders.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "accounts.h"
#include "names.h"
#include "solverpicker.h"
#include "util/duration.h"
#include "util/log.h"
#include "x509/names.h"

#define ORDER_API_VERSION "acme.cert-manager.io/v1"
#define REQUEST_B64_MAX (256 * 1024) /* spec.request as base64 text */
#define CSR_DER_MAX (64 * 1024)       /* what acme_order_finalize accepts */
#define WAIT_PENDING_MS 5000          /* all Challenges final, ACME order still pending (§5.2 step 13) */
#define WAIT_ACCOUNT_MS 5000          /* issuer account not registered yet */
#define WAIT_PROCESSING_MS 2000       /* order processing without Retry-After */
#define WAIT_FINALIZED_MS 300         /* first poll after a finalize answered processing (see step_finalize) */
#define WAIT_CONFLICT_MS 1000         /* status write conflict: a newer version is on its way */
#define MAX_STEPS 16                  /* decisions per reconcile (each step changes the status) */

static bool empty(const char *s)
{
    return !s || !*s;
}

/* ======================================================================================================
 * Pure parts
 * ====================================================================================================== */

bool orders_state_is_failure(const char *s)
{
    static const char *const failure[] = {"invalid", "expired", "errored", "revoked", "deactivated"};
    if (!s)
        return false;
    for (size_t i = 0; i < sizeof(failure) / sizeof(failure[0]); i++)
        if (strcmp(s, failure[i]) == 0)
            return true;
    return false;
}

bool orders_state_is_final(const char *s)
{
    return s && (strcmp(s, "valid") == 0 || orders_state_is_failure(s));
}

/* ---- identifiers (§5.3) ---- */

static int ident_cmp(const void *a, const void *b)
{
    const acme_identifier_t *x = a, *y = b;
    bool xd = strcmp(x->type, "dns") == 0, yd = strcmp(y->type, "dns") == 0;
    if (xd != yd)
        return xd ? -1 : 1;
    return strcmp(x->value, y->value);
}

static int ident_add(acme_identifier_t *ids, size_t *n, size_t cap, const char *type, const char *value, char *err,
                     size_t errlen)
{
    if (*n >= cap) {
        util_seterr(err, errlen, "more than %d identifiers", ACME_MAX_IDENTIFIERS);
        return -1;
    }
    acme_identifier_t *id = &ids[*n];
    memset(id, 0, sizeof(*id));
    snprintf(id->type, sizeof(id->type), "%s", type);
    if (strcmp(type, "ip") == 0 && x509_ip_canonical(value, id->value, sizeof(id->value)) == 0) {
        (*n)++;
        return 0;
    }
    if (strlen(value) >= sizeof(id->value)) {
        util_seterr(err, errlen, "identifier longer than %zu bytes", sizeof(id->value) - 1);
        return -1;
    }
    snprintf(id->value, sizeof(id->value), "%s", value);
    (*n)++;
    return 0;
}

static int ident_add_list(acme_identifier_t *ids, size_t *n, size_t cap, json_object *list, const char *type,
                          const char *field, char *err, size_t errlen)
{
    if (!list)
        return 0;
    if (!json_object_is_type(list, json_type_array)) {
        util_seterr(err, errlen, "spec.%s is not a list", field);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *v = json_object_array_get_idx(list, i);
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
            util_seterr(err, errlen, "spec.%s[%zu] is not a non-empty string", field, i);
            return -1;
        }
        if (ident_add(ids, n, cap, type, json_object_get_string(v), err, errlen) != 0)
            return -1;
    }
    return 0;
}

int orders_identifiers(json_object *spec, acme_identifier_t **out, size_t *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    json_object *dns = ctrl_get(spec, "dnsNames"), *ips = ctrl_get(spec, "ipAddresses");
    const char *cn = ctrl_str(spec, "commonName");
    size_t cap = ACME_MAX_IDENTIFIERS, n = 0;
    acme_identifier_t *ids = calloc(cap, sizeof(*ids));
    if (!ids) {
        util_seterr(err, errlen, "out of memory");
        return -1;
    }
    if (ident_add_list(ids, &n, cap, dns, "dns", "dnsNames", err, errlen) != 0 ||
        ident_add_list(ids, &n, cap, ips, "ip", "ipAddresses", err, errlen) != 0)
        goto fail;
    if (!empty(cn)) {
        unsigned char raw[16];
        int rc = 0;
        if (x509_ip_parse(cn, raw) != 0)
            rc = ident_add(ids, &n, cap, "ip", cn, err, errlen);
        else if (x509_dns_name_problem(cn, false) == NULL && strchr(cn, '.') != NULL)
            rc = ident_add(ids, &n, cap, "dns", cn, err, errlen);
        /* otherwise ignored (cert-manager: only a valid FQDN or an IP joins the identifier set) */
        if (rc != 0)
            goto fail;
    }
    if (n == 0) {
        util_seterr(err, errlen, "the Order has no DNS names or IP addresses");
        goto fail;
    }
    qsort(ids, n, sizeof(*ids), ident_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (w == 0 || ident_cmp(&ids[w - 1], &ids[i]) != 0)
            ids[w++] = ids[i];
    *out = ids;
    *nout = w;
    return 0;
fail:
    free(ids);
    return -1;
}

/* ---- Go durations ---- */

/* ---- required Challenges (§5.4) ---- */

int orders_challenge_fill_key(json_object *challenge, orders_keyauth_fn keyauth, void *ud, char *err, size_t errlen)
{
    json_object *spec = ctrl_get(challenge, "spec");
    const char *type = ctrl_str(spec, "type"), *token = ctrl_str(spec, "token");
    if (!spec || empty(type) || empty(token) || !keyauth) {
        util_seterr(err, errlen, "challenge without type or token");
        return -1;
    }
    char *ka = keyauth(ud, token);
    if (!ka) {
        util_seterr(err, errlen, "cannot compute the key authorization");
        return -1;
    }
    int rc = 0;
    if (strcmp(type, "HTTP-01") == 0) {
        json_object_object_add(spec, "key", json_object_new_string(ka));
    } else if (strcmp(type, "DNS-01") == 0) {
        char v[ACME_THUMBPRINT_LEN];
        if (acme_dns01_value(ka, v) == 0) {
            json_object_object_add(spec, "key", json_object_new_string(v));
        } else {
            util_seterr(err, errlen, "cannot compute the DNS-01 record value");
            rc = -1;
        }
    } else {
        util_seterr(err, errlen, "unsupported challenge type %s", type);
        rc = -1;
    }
    free(ka);
    return rc;
}

static json_object *owner_ref(const char *name, const char *uid)
{
    json_object *ref = json_object_new_object();
    json_object_object_add(ref, "apiVersion", json_object_new_string(ORDER_API_VERSION));
    json_object_object_add(ref, "kind", json_object_new_string("Order"));
    json_object_object_add(ref, "name", json_object_new_string(name));
    json_object_object_add(ref, "uid", json_object_new_string(uid));
    json_object_object_add(ref, "controller", json_object_new_boolean(1));
    json_object_object_add(ref, "blockOwnerDeletion", json_object_new_boolean(1));
    return ref;
}

/* One Challenge for authorization a (borrowed). Returns the new object or NULL with err. */
static json_object *build_challenge(json_object *order, json_object *a, json_object *solvers, char *err,
                                    size_t errlen)
{
    const char *oname = ctrl_str(order, "metadata.name"), *ons = ctrl_str(order, "metadata.namespace");
    const char *ouid = ctrl_str(order, "metadata.uid"), *authz_url = ctrl_str(a, "url");
    json_object *issuer_ref = ctrl_get(order, "spec.issuerRef");
    if (empty(authz_url)) {
        util_seterr(err, errlen, "an authorization has no url");
        return NULL;
    }
    solverpicker_challenge_t buf[SOLVERPICKER_MAX_CHALLENGES];
    solverpicker_authz_t az;
    char e2[512];
    if (solverpicker_authz_from_json(a, buf, SOLVERPICKER_MAX_CHALLENGES, &az, e2, sizeof(e2)) != 0) {
        util_seterr(err, errlen, "authorization %s: %s", authz_url, e2);
        return NULL;
    }
    solverpicker_result_t res;
    if (solverpicker_pick(solvers, ctrl_get(order, "metadata.labels"), &az, &res, e2, sizeof(e2)) != 0) {
        util_seterr(err, errlen, "%s%s: %s", az.wildcard ? "*." : "", az.identifier, e2);
        return NULL;
    }
    const char *ctype = solverpicker_challenge_type(res.challenge->type);
    if (!ctype) {
        util_seterr(err, errlen, "%s: unsupported challenge type %s", az.identifier, res.challenge->type);
        return NULL;
    }
    json_object *solver = NULL;
    if (solverpicker_apply_overrides(res.solver, ctrl_get(order, "metadata.annotations"), ons, &solver, e2,
                                     sizeof(e2)) != 0) {
        util_seterr(err, errlen, "%s: %s", az.identifier, e2);
        return NULL;
    }
    json_object *spec = json_object_new_object();
    json_object_object_add(spec, "url", json_object_new_string(res.challenge->url));
    json_object_object_add(spec, "authorizationURL", json_object_new_string(authz_url));
    json_object_object_add(spec, "dnsName", json_object_new_string(az.identifier));
    json_object_object_add(spec, "wildcard", json_object_new_boolean(az.wildcard));
    json_object_object_add(spec, "type", json_object_new_string(ctype));
    json_object_object_add(spec, "token", json_object_new_string(res.challenge->token));
    json_object_object_add(spec, "key", json_object_new_string(""));
    json_object_object_add(spec, "solver", solver);
    json_object *ir = NULL;
    json_object_deep_copy(issuer_ref, &ir, NULL);
    json_object_object_add(spec, "issuerRef", ir);

    char name[NAMES_MAX];
    if (names_challenge(oname, spec, name, sizeof(name)) != 0) {
        util_seterr(err, errlen, "cannot compute the Challenge name");
        json_object_put(spec);
        return NULL;
    }
    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(meta, "namespace", json_object_new_string(ons));
    json_object *refs = json_object_new_array();
    json_object_array_add(refs, owner_ref(oname, ouid));
    json_object_object_add(meta, "ownerReferences", refs);
    json_object *ch = json_object_new_object();
    json_object_object_add(ch, "apiVersion", json_object_new_string(ORDER_API_VERSION));
    json_object_object_add(ch, "kind", json_object_new_string("Challenge"));
    json_object_object_add(ch, "metadata", meta);
    json_object_object_add(ch, "spec", spec);
    return ch;
}

int orders_required_challenges(json_object *order, json_object *solvers, orders_keyauth_fn keyauth, void *ud,
                               json_object **out, char *err, size_t errlen)
{
    *out = NULL;
    if (empty(ctrl_str(order, "metadata.name")) || empty(ctrl_str(order, "metadata.namespace")) ||
        empty(ctrl_str(order, "metadata.uid"))) {
        util_seterr(err, errlen, "the Order has no name, namespace or uid");
        return -1;
    }
    if (!json_object_is_type(ctrl_get(order, "spec.issuerRef"), json_type_object)) {
        util_seterr(err, errlen, "the Order has no spec.issuerRef");
        return -1;
    }
    json_object *auths = ctrl_get(order, "status.authorizations");
    size_t n = json_object_is_type(auths, json_type_array) ? json_object_array_length(auths) : 0;
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(auths, i);
        const char *init = ctrl_str(a, "initialState");
        if (init && strcmp(init, "valid") == 0)
            continue; /* authorization reuse: nothing to solve */
        json_object *ch = build_challenge(order, a, solvers, err, errlen);
        if (!ch || (keyauth && orders_challenge_fill_key(ch, keyauth, ud, err, errlen) != 0)) {
            json_object_put(ch);
            json_object_put(arr);
            return -1;
        }
        json_object_array_add(arr, ch);
    }
    *out = arr;
    return 0;
}

static json_object *find_by_name(json_object *const *objs, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++) {
        const char *on = ctrl_str(objs[i], "metadata.name");
        if (on && strcmp(on, name) == 0)
            return objs[i];
    }
    return NULL;
}

static bool required_has(json_object *required, const char *name)
{
    size_t n = json_object_is_type(required, json_type_array) ? json_object_array_length(required) : 0;
    for (size_t i = 0; name && i < n; i++) {
        const char *rn = ctrl_str(json_object_array_get_idx(required, i), "metadata.name");
        if (rn && strcmp(rn, name) == 0)
            return true;
    }
    return false;
}

void orders_summarize(json_object *required, json_object *const *owned, size_t n_owned, orders_chal_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = json_object_is_type(required, json_type_array) ? json_object_array_length(required) : 0;
    out->n_required = n;
    for (size_t i = 0; i < n; i++) {
        json_object *ch = find_by_name(owned, n_owned, ctrl_str(json_object_array_get_idx(required, i),
                                                                "metadata.name"));
        if (!ch) {
            out->n_missing++;
            continue;
        }
        const char *state = ctrl_str(ch, "status.state");
        if (orders_state_is_final(state))
            out->n_final++;
        if (orders_state_is_failure(state)) {
            if (out->n_failed++ == 0) {
                out->failed_name = ctrl_str(ch, "metadata.name");
                out->failed_reason = ctrl_str(ch, "status.reason");
                out->failed_state = state;
            }
        }
    }
    for (size_t i = 0; i < n_owned; i++) {
        if (ctrl_get(owned[i], "metadata.deletionTimestamp"))
            continue;
        if (!required_has(required, ctrl_str(owned[i], "metadata.name")))
            out->n_leftover++;
    }
}

/* ---- decision (§5.2) ---- */

orders_action_t orders_decide(json_object *order, const orders_chal_summary_t *cs)
{
    const char *state = ctrl_str(order, "status.state");
    if (orders_state_is_failure(state))
        return ORDERS_ACT_NOTHING;
    if (empty(ctrl_str(order, "status.url")))
        return ORDERS_ACT_CREATE_ORDER;
    json_object *auths = ctrl_get(order, "status.authorizations");
    size_t n = json_object_is_type(auths, json_type_array) ? json_object_array_length(auths) : 0;
    if (empty(ctrl_str(order, "status.finalizeURL")) || n == 0)
        return ORDERS_ACT_GET_ORDER;
    for (size_t i = 0; i < n; i++)
        if (empty(ctrl_str(json_object_array_get_idx(auths, i), "identifier")))
            return ORDERS_ACT_FETCH_AUTHZ;
    if (state && strcmp(state, "valid") == 0)
        return empty(ctrl_str(order, "status.certificate")) ? ORDERS_ACT_FETCH_CERT : ORDERS_ACT_CLEANUP;
    if (state && strcmp(state, "ready") == 0)
        return ORDERS_ACT_FINALIZE;
    if (state && strcmp(state, "processing") == 0)
        return ORDERS_ACT_POLL;
    if (!cs)
        return ORDERS_ACT_NEED_CHALLENGES;
    if (cs->n_missing > 0 || cs->n_leftover > 0)
        return ORDERS_ACT_SYNC_CHALLENGES;
    if (cs->n_failed > 0)
        return ORDERS_ACT_CHALLENGE_FAILED;
    if (cs->n_final < cs->n_required)
        return ORDERS_ACT_WAIT;
    return ORDERS_ACT_CHECK_ACME;
}

const char *orders_action_name(orders_action_t a)
{
    switch (a) {
    case ORDERS_ACT_NOTHING: return "nothing";
    case ORDERS_ACT_CREATE_ORDER: return "create-order";
    case ORDERS_ACT_GET_ORDER: return "get-order";
    case ORDERS_ACT_FETCH_AUTHZ: return "fetch-authorizations";
    case ORDERS_ACT_FETCH_CERT: return "fetch-certificate";
    case ORDERS_ACT_CLEANUP: return "cleanup";
    case ORDERS_ACT_FINALIZE: return "finalize";
    case ORDERS_ACT_POLL: return "poll";
    case ORDERS_ACT_NEED_CHALLENGES: return "need-challenges";
    case ORDERS_ACT_SYNC_CHALLENGES: return "sync-challenges";
    case ORDERS_ACT_CHALLENGE_FAILED: return "challenge-failed";
    case ORDERS_ACT_WAIT: return "wait";
    case ORDERS_ACT_CHECK_ACME: return "check-acme";
    }
    return "unknown";
}

/* ---- base64 and the CSR ---- */

char *orders_b64_encode(const void *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    char *out = malloc((len + 2) / 3 * 4 + 1), *w = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *w++ = tbl[v >> 18];
        *w++ = tbl[(v >> 12) & 63];
        *w++ = tbl[(v >> 6) & 63];
        *w++ = tbl[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
        *w++ = tbl[v >> 18];
        *w++ = tbl[(v >> 12) & 63];
        *w++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    *w = '\0';
    return out;
}

int orders_csr_der(const char *request_b64, unsigned char **der, size_t *der_len, char *err, size_t errlen)
{
    *der = NULL;
    *der_len = 0;
    if (empty(request_b64)) {
        util_seterr(err, errlen, "spec.request is empty");
        return -1;
    }
    if (strlen(request_b64) > REQUEST_B64_MAX) {
        util_seterr(err, errlen, "spec.request is larger than %d bytes", REQUEST_B64_MAX);
        return -1;
    }
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    if (util_base64_decode(request_b64, REQUEST_B64_MAX, &raw, &rawlen) != 0 || rawlen == 0) {
        free(raw);
        util_seterr(err, errlen, "spec.request is not base64");
        return -1;
    }
    int rc = -1;
    X509_REQ *req = NULL;
    BIO *bio = NULL;
    if (memmem(raw, rawlen, "-----BEGIN", 10)) {
        bio = BIO_new_mem_buf(raw, (int)rawlen);
        req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
        if (!req) {
            util_seterr(err, errlen, "spec.request holds no PEM CERTIFICATE REQUEST");
            goto out;
        }
    } else {
        const unsigned char *p = raw;
        req = d2i_X509_REQ(NULL, &p, (long)rawlen);
        if (!req) {
            util_seterr(err, errlen, "spec.request is neither a PEM nor a DER certificate request");
            goto out;
        }
    }
    unsigned char *buf = NULL;
    int len = i2d_X509_REQ(req, &buf);
    if (len <= 0 || len > CSR_DER_MAX) {
        if (buf)
            OPENSSL_free(buf);
        util_seterr(err, errlen, "the certificate request cannot be encoded or exceeds %d bytes", CSR_DER_MAX);
        goto out;
    }
    *der = malloc((size_t)len);
    if (!*der) {
        OPENSSL_free(buf);
        util_seterr(err, errlen, "out of memory");
        goto out;
    }
    memcpy(*der, buf, (size_t)len);
    *der_len = (size_t)len;
    OPENSSL_free(buf);
    rc = 0;
out:
    X509_REQ_free(req);
    BIO_free(bio);
    free(raw);
    return rc;
}

/* Number of PEM certificates in pem (0 when none parse). */
static int count_certs(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    int n = 0;
    X509 *x;
    while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    BIO_free(bio);
    return n;
}

/* ======================================================================================================
 * The controller
 * ====================================================================================================== */

/* ---- the calls that leave the process (replaceable by tests: orders_set_ops) ---- */

static const orders_ops_t real_ops = {
    .kube_get = kube_get,
    .kube_update_status = kube_update_status,
    .kube_create = kube_create,
    .kube_delete = kube_delete,
    .order_new = acme_order_new,
    .order_get = acme_order_get,
    .order_poll = acme_order_poll,
    .order_finalize = acme_order_finalize,
    .authz_get = acme_authz_get,
    .cert_fetch = acme_cert_fetch,
    .key_authorization = acme_client_key_authorization,
};
static const orders_ops_t *ops = &real_ops;

void orders_set_ops(const orders_ops_t *o)
{
    ops = o ? o : &real_ops;
}

/* ---- stale-cache memo ----
 * After a status write, the informer delivers the new version a few milliseconds later; a reconcile that
 * runs meanwhile (triggered by a Challenge event) would redo the step from the stale copy: extra ACME calls
 * and a write that ends in a Conflict. The memo remembers, per Order key, the resourceVersions our writes
 * replaced; a store copy still at one of them is known stale and the reconcile waits for the informer
 * (whose update event enqueues the key again). Only an optimisation: losing it (restart) costs redundant,
 * idempotent work, never correctness. */
#define MEMO_SLOTS 512
#define MEMO_RVS 4

typedef struct memo_entry {
    char key[320];
    char rv[MEMO_RVS][32];
    size_t n_rv;
} memo_entry_t;

static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;
static memo_entry_t memo[MEMO_SLOTS];
static size_t memo_len;

static memo_entry_t *memo_find(const char *key)
{
    for (size_t i = 0; i < memo_len; i++)
        if (strcmp(memo[i].key, key) == 0)
            return &memo[i];
    return NULL;
}

/* Records that our write replaced resourceVersion rv of key. */
static void memo_replaced(const char *key, const char *rv)
{
    if (empty(rv) || strlen(key) >= sizeof(memo[0].key) || strlen(rv) >= sizeof(memo[0].rv[0]))
        return;
    pthread_mutex_lock(&memo_mu);
    memo_entry_t *m = memo_find(key);
    if (!m && memo_len < MEMO_SLOTS) {
        m = &memo[memo_len++];
        memset(m, 0, sizeof(*m));
        snprintf(m->key, sizeof(m->key), "%s", key);
    }
    if (m) {
        if (m->n_rv == MEMO_RVS) { /* keep the newest */
            memmove(m->rv[0], m->rv[1], sizeof(m->rv[0]) * (MEMO_RVS - 1));
            m->n_rv--;
        }
        snprintf(m->rv[m->n_rv++], sizeof(m->rv[0]), "%s", rv);
    }
    pthread_mutex_unlock(&memo_mu);
}

/* True when the store's copy of key (at resourceVersion rv) is one our own write already replaced. A copy
 * at any other version clears the entry (the informer caught up). */
static bool memo_stale(const char *key, const char *rv)
{
    bool stale = false;
    pthread_mutex_lock(&memo_mu);
    memo_entry_t *m = memo_find(key);
    if (m) {
        for (size_t i = 0; rv && i < m->n_rv; i++)
            if (strcmp(m->rv[i], rv) == 0)
                stale = true;
        if (!stale)
            *m = memo[--memo_len];
    }
    pthread_mutex_unlock(&memo_mu);
    return stale;
}

typedef enum { STEP_AGAIN, STEP_DONE } step_t;

typedef struct run {
    ctrl_ctx_t *ctx;
    const char *key;
    char ns[256], name[256];
    acme_client_t *client;  /* borrowed from the account registry entry */
    json_object *issuer;    /* owned reference from the store */
    json_object *orig;      /* owned: the Order as the API server last had it */
    json_object *obj;       /* owned: working copy */
    acme_order_t *acme;     /* owned: the latest ACME order seen in this pass, or NULL */
    bool polled;            /* POLL already fetched the order once in this pass */
    kube_reconcile_result_t res;
} run_t;

static void set_string(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

/* Sets status.state (and reason when non-NULL); failureTime is set when the Order enters a failure state. */
static void set_state(run_t *r, const char *state, const char *reason)
{
    if (empty(state))
        return; /* "" is not in the CRD's enum: leave the state as it is */
    const char *prev = ctrl_str(r->obj, "status.state");
    bool was_failure = orders_state_is_failure(prev);
    json_object *st = ctrl_status(r->obj);
    set_string(st, "state", state);
    if (reason)
        set_string(st, "reason", reason);
    if (orders_state_is_failure(state) && (!was_failure || !ctrl_get(st, "failureTime"))) {
        char now[32];
        set_string(st, "failureTime", ctrl_now_rfc3339(now, sizeof(now)));
    }
}

static void set_acme(run_t *r, acme_order_t *o)
{
    acme_order_free(r->acme);
    r->acme = o;
}

/* Handles an ACME error: TERMINAL ends the Order in errored with "<what>: <type: detail>"; RETRY_AFTER
 * requeues after the server's delay; TRANSIENT backs off with the status untouched. */
static step_t acme_failed(run_t *r, const acme_error_t *e, const char *what)
{
    char msg[1024];
    acme_error_format(e, msg, sizeof(msg));
    if (e->kind == ACME_ERR_TERMINAL) {
        char reason[1200];
        snprintf(reason, sizeof(reason), "%s: %s", what, msg);
        LOG_WARN("order failed", "order", r->key, "reason", reason);
        set_state(r, "errored", reason);
        return STEP_AGAIN;
    }
    if (e->kind == ACME_ERR_RETRY_AFTER) {
        LOG_V(1, "ACME server asks to retry later", "order", r->key, "step", what, "error", msg);
        r->res = kube_reconcile_requeue_after(e->retry_after_ms > 0 ? e->retry_after_ms : 60000);
        return STEP_DONE;
    }
    LOG_V(1, "transient ACME error", "order", r->key, "step", what, "error", msg);
    r->res = kube_reconcile_error();
    return STEP_DONE;
}

/* Copies the ACME order's state into the Order; failure_reason (or the order's error) becomes the reason
 * of a failure state. */
static void copy_acme_state(run_t *r, const acme_order_t *o, const char *failure_reason)
{
    const char *s = acme_status_name(o->status);
    if (orders_state_is_failure(s)) {
        char reason[1024] = "";
        if (!empty(failure_reason))
            snprintf(reason, sizeof(reason), "%s", failure_reason);
        else if (o->error)
            acme_error_format(o->error, reason, sizeof(reason));
        else
            snprintf(reason, sizeof(reason), "the ACME order is %s", s);
        set_state(r, s, reason);
    } else {
        set_state(r, s, NULL);
    }
}

static json_object *event_ref(json_object *order)
{
    json_object *ref = json_object_new_object();
    json_object_object_add(ref, "apiVersion", json_object_new_string(ORDER_API_VERSION));
    json_object_object_add(ref, "kind", json_object_new_string("Order"));
    const char *f[] = {"namespace", "name", "uid", "resourceVersion"};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "metadata.%s", f[i]);
        const char *v = ctrl_str(order, path);
        if (v)
            json_object_object_add(ref, f[i], json_object_new_string(v));
    }
    return ref;
}

static bool status_equal(json_object *a, json_object *b)
{
    json_object *sa = ctrl_get(a, "status"), *sb = ctrl_get(b, "status");
    return (!sa && !sb) || (sa && sb && json_object_equal(sa, sb));
}

/* Writes the working copy's status when it differs from orig (PUT /status with orig's resourceVersion). On
 * success orig and obj become the server's answer. With retry_conflict, a Conflict caused by someone
 * else's metadata change is retried once on a fresh copy whose status still equals ours-before (used after
 * newOrder so the ACME order URL is not lost). Returns 0 (written or unchanged) or -1 with *ke. */
static int persist(run_t *r, bool retry_conflict, kube_error_t *ke)
{
    kube_error_clear(ke);
    if (status_equal(r->orig, r->obj))
        return 0;
    json_object *out = NULL;
    int rc = ops->kube_update_status(r->ctx->kube, &CTRL_RES_ORDERS, r->ns, r->name, r->obj, &out, ke);
    if (rc != 0 && ke->type == KUBE_ERR_CONFLICT && retry_conflict) {
        json_object *fresh = NULL;
        kube_error_t ge;
        if (ops->kube_get(r->ctx->kube, &CTRL_RES_ORDERS, r->ns, r->name, &fresh, &ge) == 0 &&
            status_equal(fresh, r->orig) && !ctrl_get(fresh, "metadata.deletionTimestamp")) {
            json_object *st = NULL;
            json_object_deep_copy(ctrl_get(r->obj, "status"), &st, NULL);
            json_object_object_add(fresh, "status", st);
            rc = ops->kube_update_status(r->ctx->kube, &CTRL_RES_ORDERS, r->ns, r->name, fresh, &out, ke);
        }
        json_object_put(fresh);
    }
    if (rc != 0) {
        json_object_put(out);
        return -1;
    }
    if (!out) /* no body: keep going with what we sent (cannot happen with a conforming server) */
        return 0;
    memo_replaced(r->key, ctrl_str(r->orig, "metadata.resourceVersion"));
    json_object_put(r->orig);
    r->orig = out;
    json_object_put(r->obj);
    r->obj = NULL;
    json_object_deep_copy(out, &r->obj, NULL);
    return 0;
}

static kube_reconcile_result_t persist_failed(run_t *r, const kube_error_t *ke)
{
    char buf[600];
    if (ke->type == KUBE_ERR_NOT_FOUND)
        return kube_reconcile_ok();
    if (ke->type == KUBE_ERR_CONFLICT) {
        LOG_V(2, "order status write conflict, requeueing", "order", r->key);
        return kube_reconcile_requeue_after(WAIT_CONFLICT_MS);
    }
    LOG_WARN("cannot write order status", "order", r->key, "error", kube_error_str(ke, buf, sizeof(buf)));
    return kube_reconcile_error();
}

/* ---- steps ---- */

static step_t step_create_order(run_t *r)
{
    /* The one non-idempotent ACME call: make sure the cache was not stale (a status written by an earlier
     * pass may not have reached the informer yet). */
    json_object *fresh = NULL;
    kube_error_t ke;
    if (ops->kube_get(r->ctx->kube, &CTRL_RES_ORDERS, r->ns, r->name, &fresh, &ke) != 0) {
        char buf[600];
        if (ke.type == KUBE_ERR_NOT_FOUND) {
            r->res = kube_reconcile_ok();
        } else {
            LOG_V(1, "cannot read order", "order", r->key, "error", kube_error_str(&ke, buf, sizeof(buf)));
            r->res = kube_reconcile_error();
        }
        return STEP_DONE;
    }
    if (ctrl_get(fresh, "metadata.deletionTimestamp")) {
        json_object_put(fresh);
        r->res = kube_reconcile_ok();
        return STEP_DONE;
    }
    /* Continue on the fresh copy (its resourceVersion is the one to write against). When its status differs
     * from what this pass started from (an earlier pass's write that the cache has not seen yet), decide
     * again on the fresh status instead of creating a second ACME order. */
    bool same = status_equal(fresh, r->obj);
    json_object_put(r->orig);
    r->orig = fresh;
    json_object_put(r->obj);
    r->obj = NULL;
    json_object_deep_copy(fresh, &r->obj, NULL);
    if (!same || !empty(ctrl_str(fresh, "status.url")))
        return STEP_AGAIN;

    json_object *spec = ctrl_get(r->obj, "spec");
    acme_identifier_t *ids = NULL;
    size_t n = 0;
    char err[512], reason[700];
    if (orders_identifiers(spec, &ids, &n, err, sizeof(err)) != 0) {
        snprintf(reason, sizeof(reason), "Failed to create Order: %s", err);
        set_state(r, "errored", reason);
        return STEP_AGAIN;
    }
    acme_order_request_t req = {.identifiers = ids, .n_identifiers = n};
    char not_after[32];
    const char *duration = ctrl_str(spec, "duration");
    if (!empty(duration)) {
        int64_t ms;
        if (util_parse_duration_ms(duration, &ms) != 0) {
            free(ids);
            snprintf(reason, sizeof(reason), "Failed to create Order: invalid spec.duration %.64s", duration);
            set_state(r, "errored", reason);
            return STEP_AGAIN;
        }
        time_t t = time(NULL) + (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(not_after, sizeof(not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
        req.not_after = not_after;
    }
    const char *profile = ctrl_str(spec, "profile");
    if (!empty(profile))
        req.profile = profile;
    const char *replaces = ctrl_str(spec, "replaces");
    const char *ris = ctrl_str(r->issuer, "spec.acme.renewalInformationSource");
    if (!empty(replaces) && !(ris && strcmp(ris, "None") == 0))
        req.replaces = replaces;

    acme_order_t *o = NULL;
    acme_error_t e;
    int rc = ops->order_new(r->client, &req, &o, &e);
    free(ids);
    if (rc != 0)
        return acme_failed(r, &e, "Failed to create Order");
    if (empty(o->url) || empty(o->finalize) || o->n_authorizations == 0) {
        acme_order_free(o);
        set_state(r, "errored", "Failed to create Order: the ACME server's order lacks its URL, finalize URL or "
                                "authorizations");
        return STEP_AGAIN;
    }
    LOG_V(2, "ACME order created", "order", r->key, "url", o->url, "status", acme_status_name(o->status));
    json_object *st = ctrl_status(r->obj);
    set_string(st, "url", o->url);
    set_string(st, "finalizeURL", o->finalize);
    json_object *auths = json_object_new_array();
    for (size_t i = 0; i < o->n_authorizations; i++) {
        json_object *a = json_object_new_object();
        set_string(a, "url", o->authorizations[i]);
        json_object_array_add(auths, a);
    }
    json_object_object_add(st, "authorizations", auths);
    copy_acme_state(r, o, NULL);
    set_acme(r, o);
    return STEP_AGAIN;
}

static step_t step_get_order(run_t *r)
{
    acme_order_t *o = NULL;
    acme_error_t e;
    if (ops->order_get(r->client, ctrl_str(r->obj, "status.url"), &o, &e) != 0)
        return acme_failed(r, &e, "Failed to retrieve Order resource");
    json_object *st = ctrl_status(r->obj);
    if (!empty(o->finalize))
        set_string(st, "finalizeURL", o->finalize);
    json_object *auths = ctrl_get(st, "authorizations");
    if (!json_object_is_type(auths, json_type_array) || json_object_array_length(auths) == 0) {
        auths = json_object_new_array();
        for (size_t i = 0; i < o->n_authorizations; i++) {
            json_object *a = json_object_new_object();
            set_string(a, "url", o->authorizations[i]);
            json_object_array_add(auths, a);
        }
        json_object_object_add(st, "authorizations", auths);
    }
    if (empty(o->finalize) || o->n_authorizations == 0) {
        acme_order_free(o);
        set_state(r, "errored", "Failed to retrieve Order resource: the ACME order lacks its finalize URL or "
                                "authorizations");
        return STEP_AGAIN;
    }
    copy_acme_state(r, o, NULL);
    set_acme(r, o);
    return STEP_AGAIN;
}

static step_t step_fetch_authz(run_t *r)
{
    json_object *auths = ctrl_get(r->obj, "status.authorizations");
    size_t n = json_object_array_length(auths);
    for (size_t i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(auths, i);
        if (!empty(ctrl_str(a, "identifier")))
            continue;
        const char *url = ctrl_str(a, "url");
        if (empty(url)) {
            set_state(r, "errored", "Failed to fetch authorization: an authorization has no url");
            return STEP_AGAIN;
        }
        acme_authz_t *az = NULL;
        acme_error_t e;
        if (ops->authz_get(r->client, url, &az, &e) != 0)
            return acme_failed(r, &e, "Failed to fetch authorization");
        if (empty(az->identifier.value)) {
            acme_authz_free(az);
            set_state(r, "errored", "Failed to fetch authorization: the ACME authorization has no identifier");
            return STEP_AGAIN;
        }
        const char *init = acme_status_name(az->status);
        if (!empty(init))
            set_string(a, "initialState", init);
        set_string(a, "identifier", az->identifier.value);
        json_object_object_add(a, "wildcard", json_object_new_boolean(az->wildcard));
        json_object *chs = json_object_new_array();
        for (size_t k = 0; k < az->n_challenges; k++) {
            const acme_challenge_t *c = &az->challenges[k];
            if (empty(c->url) || empty(c->token) || !c->type[0])
                continue; /* the CRD requires url, token and type */
            json_object *cj = json_object_new_object();
            set_string(cj, "url", c->url);
            set_string(cj, "token", c->token);
            set_string(cj, "type", c->type);
            json_object_array_add(chs, cj);
        }
        json_object_object_add(a, "challenges", chs);
        acme_authz_free(az);
    }
    return STEP_AGAIN;
}

static step_t step_fetch_cert(run_t *r)
{
    if (!r->acme || r->acme->status != ACME_STATUS_VALID || empty(r->acme->certificate)) {
        acme_order_t *o = NULL;
        acme_error_t e;
        if (ops->order_get(r->client, ctrl_str(r->obj, "status.url"), &o, &e) != 0)
            return acme_failed(r, &e, "Failed to retrieve Order resource");
        set_acme(r, o);
    }
    const acme_order_t *o = r->acme;
    if (o->status != ACME_STATUS_VALID) {
        copy_acme_state(r, o, NULL);
        if (o->status == ACME_STATUS_PROCESSING || o->status == ACME_STATUS_UNKNOWN) {
            r->res = kube_reconcile_requeue_after(o->retry_after_ms > 0 ? o->retry_after_ms : WAIT_PROCESSING_MS);
            return STEP_DONE;
        }
        return STEP_AGAIN;
    }
    if (empty(o->certificate)) {
        set_state(r, "errored", "Failed to retrieve certificate: the valid ACME order has no certificate URL");
        return STEP_AGAIN;
    }
    char *pem = NULL;
    size_t pem_len = 0;
    acme_error_t e;
    if (ops->cert_fetch(r->client, o->certificate, ctrl_str(r->issuer, "spec.acme.preferredChain"), &pem, &pem_len,
                        &e) != 0)
        return acme_failed(r, &e, "Failed to retrieve certificate");
    if (pem_len == 0 || pem_len > INT32_MAX || count_certs(pem, pem_len) == 0) {
        free(pem);
        set_state(r, "errored", "Failed to retrieve certificate: invalid certificate data");
        return STEP_AGAIN;
    }
    char *b64 = orders_b64_encode(pem, pem_len);
    free(pem);
    if (!b64) {
        r->res = kube_reconcile_error();
        return STEP_DONE;
    }
    json_object *st = ctrl_status(r->obj);
    set_string(st, "certificate", b64);
    free(b64);
    set_state(r, "valid", NULL);
    LOG_V(1, "order certificate stored", "order", r->key);
    return STEP_AGAIN;
}

/* Owned Challenges of the Order (new references; free with kube_store_list_free). */
static int owned_challenges(run_t *r, json_object ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char *uid = ctrl_str(r->obj, "metadata.uid");
    if (!r->ctx->challenges || empty(uid))
        return 0;
    return kube_store_by_index(r->ctx->challenges, KUBE_INDEX_CONTROLLER, uid, out, n);
}

static int delete_challenge(run_t *r, json_object *ch)
{
    const char *name = ctrl_str(ch, "metadata.name");
    kube_delete_opts_t o = {.precondition_uid = ctrl_str(ch, "metadata.uid")};
    kube_error_t ke;
    if (ops->kube_delete(r->ctx->kube, &CTRL_RES_CHALLENGES, r->ns, name, &o, NULL, &ke) != 0 &&
        ke.type != KUBE_ERR_NOT_FOUND && ke.type != KUBE_ERR_CONFLICT) {
        char buf[600];
        LOG_WARN("cannot delete challenge", "order", r->key, "challenge", name, "error",
                 kube_error_str(&ke, buf, sizeof(buf)));
        return -1;
    }
    LOG_V(2, "challenge deleted", "order", r->key, "challenge", name);
    return 0;
}

static step_t step_cleanup(run_t *r)
{
    kube_error_t ke;
    if (persist(r, false, &ke) != 0) {
        r->res = persist_failed(r, &ke);
        return STEP_DONE;
    }
    json_object **owned = NULL;
    size_t n = 0;
    owned_challenges(r, &owned, &n);
    bool failed = false;
    for (size_t i = 0; i < n; i++)
        if (!ctrl_get(owned[i], "metadata.deletionTimestamp") && delete_challenge(r, owned[i]) != 0)
            failed = true;
    kube_store_list_free(owned, n);
    r->res = failed ? kube_reconcile_error() : kube_reconcile_ok();
    return STEP_DONE;
}

static step_t step_finalize(run_t *r)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    char err[512], reason[700];
    if (orders_csr_der(ctrl_str(r->obj, "spec.request"), &der, &der_len, err, sizeof(err)) != 0) {
        snprintf(reason, sizeof(reason), "Failed to finalize Order: %s", err);
        set_state(r, "errored", reason);
        return STEP_AGAIN;
    }
    acme_order_t tmp = {0};
    const acme_order_t *cur = r->acme;
    if (!cur || cur->status != ACME_STATUS_READY || empty(cur->finalize)) {
        tmp.url = strdup(ctrl_str(r->obj, "status.url"));
        tmp.finalize = strdup(ctrl_str(r->obj, "status.finalizeURL"));
        tmp.status = ACME_STATUS_READY;
        cur = &tmp;
    }
    acme_order_t *o = NULL;
    acme_error_t e;
    int rc = (cur->url && cur->finalize) ? ops->order_finalize(r->client, cur, der, der_len, &o, &e) : -1;
    if (cur == &tmp && (!tmp.url || !tmp.finalize)) {
        acme_error_clear(&e);
        e.kind = ACME_ERR_TRANSIENT;
        snprintf(e.detail, sizeof(e.detail), "out of memory");
    }
    free(tmp.url);
    free(tmp.finalize);
    free(der);
    if (rc != 0)
        return acme_failed(r, &e, "Failed to finalize Order");
    LOG_V(2, "ACME order finalized", "order", r->key, "status", acme_status_name(o->status));
    copy_acme_state(r, o, NULL);
    bool processing = o->status == ACME_STATUS_PROCESSING;
    long ra = o->retry_after_ms;
    set_acme(r, o);
    if (processing) {
        /* RFC 8555 §7.4: poll after Retry-After, or shortly. Not in this pass: a CA is issuing right now,
         * and Pebble 2.4's order handler deadlocks when a poll meets the end of issuance (it read-locks the
         * order twice while the issuer waits for the write lock), hanging every later request. */
        r->res = kube_reconcile_requeue_after(ra > 0 ? ra : WAIT_FINALIZED_MS);
        return STEP_DONE;
    }
    return STEP_AGAIN;
}

static step_t step_poll(run_t *r)
{
    if (r->polled) {
        long ra = r->acme ? r->acme->retry_after_ms : 0;
        r->res = kube_reconcile_requeue_after(ra > 0 ? ra : WAIT_PROCESSING_MS);
        return STEP_DONE;
    }
    r->polled = true;
    acme_order_t *o = NULL;
    acme_error_t e;
    if (ops->order_poll(r->client, ctrl_str(r->obj, "status.url"), &o, &e) != 0)
        return acme_failed(r, &e, "Failed to retrieve Order resource");
    copy_acme_state(r, o, NULL);
    set_acme(r, o);
    return STEP_AGAIN;
}

static char *client_keyauth(void *ud, const char *token)
{
    return ops->key_authorization(ud, token);
}

static step_t step_sync_challenges(run_t *r, json_object *required, json_object *const *owned, size_t n_owned)
{
    /* The authorizations the Challenges derive from must be stored before any Challenge exists. */
    kube_error_t ke;
    if (persist(r, false, &ke) != 0) {
        r->res = persist_failed(r, &ke);
        return STEP_DONE;
    }
    bool failed = false;
    size_t n = json_object_array_length(required);
    json_object *ref = NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *ch = json_object_array_get_idx(required, i);
        const char *cname = ctrl_str(ch, "metadata.name");
        if (find_by_name(owned, n_owned, cname))
            continue;
        char err[256];
        if (orders_challenge_fill_key(ch, client_keyauth, r->client, err, sizeof(err)) != 0) {
            LOG_WARN("cannot compute the challenge key", "order", r->key, "challenge", cname, "error", err);
            failed = true;
            continue;
        }
        if (ops->kube_create(r->ctx->kube, &CTRL_RES_CHALLENGES, r->ns, ch, NULL, &ke) != 0) {
            if (ke.type == KUBE_ERR_ALREADY_EXISTS)
                continue;
            char buf[600];
            LOG_WARN("cannot create challenge", "order", r->key, "challenge", cname, "error",
                     kube_error_str(&ke, buf, sizeof(buf)));
            failed = true;
            continue;
        }
        const char *dns = ctrl_str(ch, "spec.dnsName");
        bool wc = ctrl_bool(ch, "spec.wildcard", false);
        LOG_V(1, "challenge created", "order", r->key, "challenge", cname, "dnsName", dns);
        if (!ref)
            ref = event_ref(r->orig);
        ctrl_event(r->ctx->ev_orders, ref, "Normal", "Created", "Created Challenge resource \"%s\" for domain \"%s%s\"",
                   cname, wc ? "*." : "", dns ? dns : "");
    }
    json_object_put(ref);
    for (size_t i = 0; i < n_owned; i++) {
        if (ctrl_get(owned[i], "metadata.deletionTimestamp") ||
            required_has(required, ctrl_str(owned[i], "metadata.name")))
            continue;
        if (delete_challenge(r, owned[i]) != 0)
            failed = true;
    }
    /* The new Challenges' events bring the Order back. */
    r->res = failed ? kube_reconcile_error() : kube_reconcile_ok();
    return STEP_DONE;
}

static step_t step_challenge_failed(run_t *r, const orders_chal_summary_t *cs)
{
    acme_order_t *o = NULL;
    acme_error_t e;
    if (ops->order_get(r->client, ctrl_str(r->obj, "status.url"), &o, &e) != 0)
        return acme_failed(r, &e, "Failed to retrieve Order resource");
    char reason[1024];
    if (!empty(cs->failed_reason))
        snprintf(reason, sizeof(reason), "%s", cs->failed_reason);
    else
        snprintf(reason, sizeof(reason), "Challenge %s is %s", cs->failed_name ? cs->failed_name : "",
                 cs->failed_state ? cs->failed_state : "failed");
    if (o->status == ACME_STATUS_PENDING || o->status == ACME_STATUS_UNKNOWN) {
        /* The CA has not failed the order but the Challenge is terminal: nothing will ever move it, so the
         * Order fails now (cert-manager leaves it pending forever). */
        set_state(r, "errored", reason);
    } else {
        copy_acme_state(r, o, reason);
    }
    set_acme(r, o);
    return STEP_AGAIN;
}

static step_t step_check_acme(run_t *r)
{
    acme_order_t *o = NULL;
    acme_error_t e;
    if (ops->order_poll(r->client, ctrl_str(r->obj, "status.url"), &o, &e) != 0)
        return acme_failed(r, &e, "Failed to retrieve Order resource");
    copy_acme_state(r, o, NULL);
    bool pending = o->status == ACME_STATUS_PENDING;
    set_acme(r, o);
    if (pending) {
        r->res = kube_reconcile_requeue_after(WAIT_PENDING_MS);
        return STEP_DONE;
    }
    return STEP_AGAIN;
}

/* One decision and its step. */
static step_t step(run_t *r)
{
    orders_action_t act = orders_decide(r->obj, NULL);
    if (act != ORDERS_ACT_NEED_CHALLENGES) {
        LOG_V(3, "order step", "order", r->key, "action", orders_action_name(act));
        switch (act) {
        case ORDERS_ACT_NOTHING: r->res = kube_reconcile_ok(); return STEP_DONE;
        case ORDERS_ACT_CREATE_ORDER: return step_create_order(r);
        case ORDERS_ACT_GET_ORDER: return step_get_order(r);
        case ORDERS_ACT_FETCH_AUTHZ: return step_fetch_authz(r);
        case ORDERS_ACT_FETCH_CERT: return step_fetch_cert(r);
        case ORDERS_ACT_CLEANUP: return step_cleanup(r);
        case ORDERS_ACT_FINALIZE: return step_finalize(r);
        case ORDERS_ACT_POLL: return step_poll(r);
        default: r->res = kube_reconcile_ok(); return STEP_DONE;
        }
    }
    json_object *required = NULL;
    char err[1024];
    if (orders_required_challenges(r->obj, ctrl_get(r->issuer, "spec.acme.solvers"), NULL, NULL, &required, err,
                                   sizeof(err)) != 0) {
        LOG_WARN("no usable solver for order", "order", r->key, "error", err);
        json_object *ref = event_ref(r->orig);
        ctrl_event(r->ctx->ev_orders, ref, "Warning", "Solver",
                   "Failed to determine a valid solver configuration for the set of domains on the Order: %s", err);
        json_object_put(ref);
        r->res = kube_reconcile_ok(); /* no retry: an Issuer change re-enqueues the Order */
        return STEP_DONE;
    }
    json_object **owned = NULL;
    size_t n_owned = 0;
    owned_challenges(r, &owned, &n_owned);
    orders_chal_summary_t cs;
    orders_summarize(required, owned, n_owned, &cs);
    act = orders_decide(r->obj, &cs);
    LOG_V(3, "order step", "order", r->key, "action", orders_action_name(act));
    step_t s;
    switch (act) {
    case ORDERS_ACT_SYNC_CHALLENGES: s = step_sync_challenges(r, required, owned, n_owned); break;
    case ORDERS_ACT_CHALLENGE_FAILED: s = step_challenge_failed(r, &cs); break;
    case ORDERS_ACT_CHECK_ACME: s = step_check_acme(r); break;
    case ORDERS_ACT_WAIT:
    default: r->res = kube_reconcile_ok(); s = STEP_DONE; break;
    }
    kube_store_list_free(owned, n_owned);
    json_object_put(required);
    return s;
}

static kube_reconcile_result_t orders_reconcile(void *ud, const char *key)
{
    ctrl_ctx_t *ctx = ud;
    run_t r = {.ctx = ctx, .key = key, .res = kube_reconcile_ok()};
    if (ctrl_split_key(key, r.ns, sizeof(r.ns), r.name, sizeof(r.name)) != 0 || !ctx->orders)
        return kube_reconcile_ok();
    r.orig = kube_store_get_ns(ctx->orders, r.ns, r.name);
    if (!r.orig || ctrl_get(r.orig, "metadata.deletionTimestamp") ||
        orders_state_is_failure(ctrl_str(r.orig, "status.state"))) {
        json_object_put(r.orig);
        return kube_reconcile_ok(); /* gone, going (GC + the challenge finalizer), or terminal */
    }
    if (memo_stale(key, ctrl_str(r.orig, "metadata.resourceVersion"))) {
        LOG_V(3, "order cache older than our last write; waiting for the informer", "order", key);
        json_object_put(r.orig);
        return kube_reconcile_requeue_after(WAIT_CONFLICT_MS); /* backstop: the update event comes first */
    }
    ctrl_account_t *acct = NULL;
    char err[512];
    bool cluster = false;
    json_object_deep_copy(r.orig, &r.obj, NULL);
    if (orders_decide(r.orig, NULL) == ORDERS_ACT_CLEANUP) {
        step_cleanup(&r); /* needs neither the issuer nor the ACME account */
        goto out;
    }
    r.issuer = ctrl_issuer_get(ctx, r.ns, ctrl_get(r.orig, "spec.issuerRef"), &cluster, err, sizeof(err));
    if (!r.issuer) {
        LOG_V(1, "order issuer not available", "order", key, "error", err);
        r.res = kube_reconcile_error(); /* the Issuer's events re-enqueue the Order too */
        goto out;
    }
    acct = ctx->accounts ? ctrl_accounts_get(ctx->accounts, ctrl_str(r.issuer, "metadata.uid")) : NULL;
    if (!acct) {
        LOG_V(1, "ACME account of the issuer not registered yet", "order", key);
        r.res = kube_reconcile_requeue_after(WAIT_ACCOUNT_MS);
        goto out;
    }
    r.client = ctrl_account_client(acct);
    bool had_url = !empty(ctrl_str(r.orig, "status.url"));
    bool had_cert = !empty(ctrl_str(r.orig, "status.certificate"));
    int i = 0;
    while (i++ < MAX_STEPS && step(&r) == STEP_AGAIN) {
    }
    if (i > MAX_STEPS) {
        LOG_WARN("order reconcile did not settle", "order", key);
        r.res = kube_reconcile_requeue_after(WAIT_CONFLICT_MS);
    }
    kube_error_t ke;
    bool retry_conflict = !had_url && !empty(ctrl_str(r.obj, "status.url"));
    if (persist(&r, retry_conflict, &ke) != 0) {
        r.res = persist_failed(&r, &ke);
        goto out;
    }
    if (!had_cert && !empty(ctrl_str(r.orig, "status.certificate"))) {
        json_object *ref = event_ref(r.orig);
        ctrl_event(ctx->ev_orders, ref, "Normal", "Complete", "Order completed successfully");
        json_object_put(ref);
    }
out:
    acme_order_free(r.acme);
    if (acct)
        ctrl_account_release(acct);
    json_object_put(r.issuer);
    json_object_put(r.orig);
    json_object_put(r.obj);
    return r.res;
}

/* ---- wiring (§5.1) ---- */

static kube_workqueue_t *queue_of(void *ud)
{
    return ((ctrl_ctx_t *)ud)->q_orders;
}

static void on_order_add(void *ud, json_object *obj)
{
    ctrl_enqueue(queue_of(ud), obj);
}

static void on_order_update(void *ud, json_object *old, json_object *obj)
{
    if (!ctrl_same_version(old, obj))
        ctrl_enqueue(queue_of(ud), obj);
}

static void on_challenge_add(void *ud, json_object *obj)
{
    ctrl_enqueue_owner(queue_of(ud), obj, "Order");
}

static void on_challenge_update(void *ud, json_object *old, json_object *obj)
{
    if (!ctrl_same_version(old, obj))
        ctrl_enqueue_owner(queue_of(ud), obj, "Order");
}

bool orders_refers_to_issuer(json_object *order, json_object *issuer, bool cluster)
{
    const char *iname = ctrl_str(issuer, "metadata.name"), *ins = ctrl_str(issuer, "metadata.namespace");
    const char *name = ctrl_str(order, "spec.issuerRef.name"), *kind = ctrl_str(order, "spec.issuerRef.kind");
    const char *group = ctrl_str(order, "spec.issuerRef.group");
    if (empty(iname) || !name || strcmp(name, iname) != 0 || (!empty(group) && strcmp(group, "cert-manager.io") != 0))
        return false;
    if (cluster)
        return kind && strcmp(kind, "ClusterIssuer") == 0;
    const char *ons = ctrl_str(order, "metadata.namespace");
    return (empty(kind) || strcmp(kind, "Issuer") == 0) && !empty(ins) && ons && strcmp(ons, ins) == 0;
}

/* Enqueues the Orders referring to issuer obj (an Issuer, or a ClusterIssuer when cluster) that may still
 * need it: not failed, no certificate yet. */
static void enqueue_for_issuer(ctrl_ctx_t *ctx, json_object *obj, bool cluster)
{
    json_object **orders = NULL;
    size_t n = 0;
    if (!ctx->orders || !ctx->q_orders || kube_store_list(ctx->orders, &orders, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        json_object *o = orders[i];
        if (orders_state_is_failure(ctrl_str(o, "status.state")) || !empty(ctrl_str(o, "status.certificate")))
            continue;
        if (orders_refers_to_issuer(o, obj, cluster))
            ctrl_enqueue(ctx->q_orders, o);
    }
    kube_store_list_free(orders, n);
}

static void on_issuer_add(void *ud, json_object *obj)
{
    enqueue_for_issuer(ud, obj, false);
}

static void on_issuer_update(void *ud, json_object *old, json_object *obj)
{
    if (!ctrl_same_version(old, obj))
        enqueue_for_issuer(ud, obj, false);
}

static void on_clusterissuer_add(void *ud, json_object *obj)
{
    enqueue_for_issuer(ud, obj, true);
}

static void on_clusterissuer_update(void *ud, json_object *old, json_object *obj)
{
    if (!ctrl_same_version(old, obj))
        enqueue_for_issuer(ud, obj, true);
}

static int orders_setup(ctrl_ctx_t *ctx, char *err, size_t errlen)
{
    if (!ctx->q_orders) {
        util_seterr(err, errlen, "orders controller: the orders queue is missing");
        return -1;
    }
    /* delete: the key is enqueued and reconcile finds nothing (GC and finalizers handle the Challenges) */
    kube_informer_handlers_t h = {on_order_add, on_order_update, on_order_add, ctx};
    kube_informer_handlers_t hc = {on_challenge_add, on_challenge_update, on_challenge_add, ctx};
    kube_informer_handlers_t hi = {on_issuer_add, on_issuer_update, on_issuer_add, ctx};
    kube_informer_handlers_t hci = {on_clusterissuer_add, on_clusterissuer_update, on_clusterissuer_add, ctx};
    if (ctrl_add_handlers(ctx, "orders", "orders", &h, true, err, errlen) != 0 ||
        ctrl_add_handlers(ctx, "orders", "challenges", &hc, false, err, errlen) != 0 ||
        ctrl_add_handlers(ctx, "orders", "issuers", &hi, false, err, errlen) != 0 ||
        ctrl_add_handlers(ctx, "orders", "clusterissuers", &hci, false, err, errlen) != 0)
        return -1;
    return 0;
}

const ctrl_controller_t ctrl_orders_controller = {
    .name = "orders",
    .setup = orders_setup,
    .reconcile = orders_reconcile,
    .queue_offset = offsetof(ctrl_ctx_t, q_orders),
    .start = NULL,
    .stop = NULL,
};
