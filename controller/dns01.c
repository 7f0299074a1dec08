/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS-01 solver: controller glue over lib/dns01/solver.h (see dns01.h). */
#include "util/base64.h"
#include "dns01.h"

#include <string.h>

/* --issuer-ambient-credentials / --cluster-issuer-ambient-credentials: set once by main before the workers
 * start, read-only afterwards. */
static bool g_ambient_issuer = false, g_ambient_cluster_issuer = true;

void ctrl_dns01_options_init(ctrl_dns01_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->check_settle_period_ms = 60000;
    o->issuer_ambient_credentials = false;
    o->cluster_issuer_ambient_credentials = true;
}

bool ctrl_dns01_allow_ambient_credentials(const char *issuer_kind)
{
    return issuer_kind && strcmp(issuer_kind, "ClusterIssuer") == 0 ? g_ambient_cluster_issuer : g_ambient_issuer;
}

static void set_ambient(const ctrl_dns01_options_t *o)
{
    g_ambient_issuer = o->issuer_ambient_credentials;
    g_ambient_cluster_issuer = o->cluster_issuer_ambient_credentials;
}

#ifndef KACME_DNS01_SOLVER
/* Not enabled in this build (controller/CMakeLists.txt defines KACME_DNS01_SOLVER and links kacme_dns01):
 * no ctrl_dns01_solver, so DNS-01 Challenges fail as "not supported"; the flags are accepted and ignored. */
int ctrl_dns01_set_options(const ctrl_dns01_options_t *o, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    set_ambient(o);
    return 0;
}
#else

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dns01/solver.h"
#include "issuers.h"
#include "util/log.h"

/* Weak references (see dns01.h): NULL when kacme_dns01 is not linked into the binary. */
#pragma weak dns01_solver_opts_init
#pragma weak dns01_solver_opts_free
#pragma weak dns01_solver_present
#pragma weak dns01_solver_check
#pragma weak dns01_solver_clean_up
#pragma weak dns01_settle_new
#pragma weak dns01_settle_free
#pragma weak dns01_settle_propagated
#pragma weak dns01_settle_forget

#define DEFAULT_SETTLE_MS 60000

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static dns01_solver_opts_t g_opts; /* settle_ms 0: the settle period is kept here, see solve_check */
static bool g_ready;
/* The settle period (--dns01-check-settle-period): first-propagated times per Challenge UID. Kept here rather
 * than in lib/dns01's check so that check() can tell the controller the exact time left (a requeue after
 * it), instead of a failed check retried after --dns01-check-retry-period. */
static int64_t g_settle_ms = DEFAULT_SETTLE_MS;
static dns01_settle_t *g_settle;

static bool linked_in(void)
{
    return dns01_solver_opts_init && dns01_solver_opts_free && dns01_solver_present && dns01_solver_check &&
           dns01_solver_clean_up && dns01_settle_new && dns01_settle_free && dns01_settle_propagated &&
           dns01_settle_forget;
}

int ctrl_dns01_set_options(const ctrl_dns01_options_t *o, char *err, size_t errlen)
{
    set_ambient(o);
    if (!linked_in())
        return 0; /* nothing to configure: DNS-01 Challenges will say so */
    dns01_solver_opts_t next;
    if (dns01_solver_opts_init(&next, o->recursive_nameservers, o->recursive_nameservers_only, 0, NULL, err,
                               errlen) != 0)
        return -1;
    pthread_mutex_lock(&g_mu);
    if (g_ready)
        dns01_solver_opts_free(&g_opts);
    g_opts = next;
    g_settle_ms = o->check_settle_period_ms < 0 ? 0 : o->check_settle_period_ms;
    g_ready = true;
    pthread_mutex_unlock(&g_mu);
    return 0;
}

/* The options (defaults on first use without ctrl_dns01_set_options). Read-only once set. */
static const dns01_solver_opts_t *options(char *err, size_t errlen)
{
    if (!linked_in()) {
        snprintf(err, errlen, "DNS-01 support is not linked into this binary");
        return NULL;
    }
    pthread_mutex_lock(&g_mu);
    if (!g_ready) {
        if (dns01_solver_opts_init(&g_opts, NULL, false, 0, NULL, err, errlen) == 0)
            g_ready = true;
    }
    if (g_ready && !g_settle && !(g_settle = dns01_settle_new()))
        snprintf(err, errlen, "out of memory");
    bool ok = g_ready && g_settle;
    pthread_mutex_unlock(&g_mu);
    return ok ? &g_opts : NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Kubernetes access for lib/dns01 ---------------------------------------------------------------- */

static int secret_value(void *ud, const char *ns, const char *name, const char *key, char *out, size_t outlen,
                        char *err, size_t errlen)
{
    ctrl_ctx_t *ctx = ud;
    json_object *s = NULL, *v = NULL;
    kube_error_t ke;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = -1;

    if (kube_get(ctx->kube, &KUBE_RES_SECRETS, ns, name, &s, &ke) != 0) {
        char eb[256];
        if (ke.type == KUBE_ERR_NOT_FOUND)
            snprintf(err, errlen, "secret %s/%s not found", ns, name);
        else
            snprintf(err, errlen, "cannot read secret %s/%s: %s", ns, name, kube_error_str(&ke, eb, sizeof eb));
        return -1;
    }
    json_object *data = ctrl_get(s, "data");
    if (!data || !json_object_object_get_ex(data, key, &v) || !json_object_is_type(v, json_type_string)) {
        snprintf(err, errlen, "key \"%s\" not found in secret %s/%s", key, ns, name);
        goto out;
    }
    if (util_base64_decode(json_object_get_string(v), outlen - 1, &buf, &len) != 0 || len >= outlen) {
        snprintf(err, errlen, "key \"%s\" of secret %s/%s is not valid base64 data", key, ns, name);
        goto out;
    }
    memcpy(out, buf, len);
    out[len] = '\0';
    rc = 0;
out:
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
    json_object_put(s);
    return rc;
}

static int post(void *ud, const char *path, json_object *body, json_object **out, char *err, size_t errlen)
{
    ctrl_ctx_t *ctx = ud;
    kube_error_t ke;
    *out = NULL;
    if (kube_request(ctx->kube, "POST", path, "application/json", body, out, &ke) != 0) {
        char eb[512];
        snprintf(err, errlen, "%s", kube_error_str(&ke, eb, sizeof eb));
        json_object_put(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* The issuer's resource namespace, from spec.issuerRef alone (clean-up must work when the issuer is gone). */
static void host_for(ctrl_ctx_t *ctx, json_object *ch, dns01_host_t *h)
{
    const char *kind = ctrl_str(ch, "spec.issuerRef.kind");
    bool cluster = kind && strcmp(kind, "ClusterIssuer") == 0;
    memset(h, 0, sizeof *h);
    h->secret_value = secret_value;
    h->post = post;
    h->ud = ctx;
    h->resource_namespace = cluster ? ctx->opts->cluster_resource_namespace : ctrl_str(ch, "metadata.namespace");
    h->allow_ambient_credentials = ctrl_dns01_allow_ambient_credentials(kind);
}

/* ---- the solver ------------------------------------------------------------------------------------- */

static int solve_present(ctrl_ctx_t *ctx, json_object *ch, char *err, size_t errlen)
{
    const dns01_solver_opts_t *o = options(err, errlen);
    dns01_host_t h;
    if (!o)
        return -1;
    host_for(ctx, ch, &h);
    return dns01_solver_present(o, &h, ch, err, errlen);
}

/* One propagation pass, then the settle period. Returns 0 once settled; -1 when not propagated (the settle
 * period starts over at the next success); while settling, the milliseconds left (> 0) so that the challenges
 * controller checks again after exactly that long (one that only knows 0 / -1 takes it for "not yet" and
 * retries after --dns01-check-retry-period). */
static int solve_check(ctrl_ctx_t *ctx, json_object *ch, char *err, size_t errlen)
{
    (void)ctx;
    const dns01_solver_opts_t *o = options(err, errlen);
    if (!o)
        return -1;
    const char *uid = ctrl_str(ch, "metadata.uid");
    if (dns01_solver_check(o, ch, mono_ms(), err, errlen) != 0) {
        if (uid)
            dns01_settle_forget(g_settle, uid);
        return -1;
    }
    if (g_settle_ms <= 0 || !uid)
        return 0;
    int64_t left = dns01_settle_propagated(g_settle, uid, mono_ms(), g_settle_ms);
    if (left <= 0)
        return 0;
    if (left > INT_MAX)
        left = INT_MAX;
    /* the same text during the whole period: a reason that counted down would mean a status write, and so
     * another reconcile, at every pass */
    snprintf(err, errlen, "TXT record propagated; waiting %lld ms (--dns01-check-settle-period)",
             (long long)g_settle_ms);
    return (int)left;
}

static int solve_clean_up(ctrl_ctx_t *ctx, json_object *ch, char *err, size_t errlen)
{
    const dns01_solver_opts_t *o = options(err, errlen);
    dns01_host_t h;
    if (!o)
        return -1;
    const char *uid = ctrl_str(ch, "metadata.uid");
    if (uid)
        dns01_settle_forget(g_settle, uid);
    host_for(ctx, ch, &h);
    return dns01_solver_clean_up(o, &h, ch, err, errlen);
}

const ctrl_solver_t ctrl_dns01_solver = {
    .type = "DNS-01",
    .present = solve_present,
    .check = solve_check,
    .clean_up = solve_clean_up,
};

#endif /* KACME_DNS01_SOLVER */
