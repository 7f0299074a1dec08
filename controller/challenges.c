/* SPDX-License-Identifier: Apache-2.0 */
#include "util/err.h"
#include "challenges.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "orders.h"
#include "http01/selfcheck.h"
#include "solver.h"
#include "solverpicker.h"
#include "util/duration.h"
#include "util/log.h"

#define CHALLENGE_API_VERSION "acme.cert-manager.io/v1"
#define WAIT_ACCOUNT_MS 5000       /* the issuer's ACME account is not registered yet */
#define WAIT_CONFLICT_MS 1000      /* a write lost a race: the newer version is on its way */
#define POLL_MIN_MS 500            /* authorization poll without Retry-After */
#define POLL_MAX_MS 10000          /* cap on a Retry-After while polling an authorization */
#define QUICK_RETRY_MS 250         /* self-check retries right after presenting (pod starting) */
#define QUICK_WINDOW_S 10          /* ... during this long after presentedAt */
#define RETRY_AFTER_DEFAULT_MS 60000
#define SCHED_PERIOD_MS 1000       /* scheduler tick (§3) */
#define SCHED_MIN_GAP_MS 50        /* between passes woken early by Challenge events */
#define TRACKER_MAX_AGE_MS (30LL * 60 * 1000)
#define RECENT_MAX 256             /* scheduler: writes not yet seen through the informer */
#define RECENT_TTL_MS 30000

static bool empty(const char *s)
{
    return !s || !*s;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ======================================================================================================
 * Pure parts
 * ====================================================================================================== */

bool challenges_state_is_final(const char *s)
{
    static const char *const final[] = {"valid", "invalid", "expired", "errored", "revoked", "deactivated"};
    if (!s)
        return false;
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
        if (strcmp(s, final[i]) == 0)
            return true;
    return false;
}

static bool has_finalizer(json_object *obj, const char *name)
{
    json_object *f = ctrl_get(obj, "metadata.finalizers");
    if (!f || !json_object_is_type(f, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(f); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(f, i));
        if (s && strcmp(s, name) == 0)
            return true;
    }
    return false;
}

challenges_action_t challenges_decide(json_object *ch)
{
    const char *state = ctrl_str(ch, "status.state");
    bool processing = ctrl_bool(ch, "status.processing", false);
    bool presented = ctrl_bool(ch, "status.presented", false);
    bool ours = has_finalizer(ch, CTRL_FINALIZER), legacy = has_finalizer(ch, CTRL_LEGACY_FINALIZER);
    if (ctrl_get(ch, "metadata.deletionTimestamp") || challenges_state_is_final(state)) {
        if (ours || legacy)
            return CHALLENGES_ACT_CLEANUP;
        return (processing || presented) ? CHALLENGES_ACT_RESET : CHALLENGES_ACT_NOTHING;
    }
    if (!processing)
        return CHALLENGES_ACT_NOTHING;
    if (!ours || legacy)
        return CHALLENGES_ACT_ADD_FINALIZER;
    if (empty(state))
        return CHALLENGES_ACT_SYNC_STATE;
    if (strcmp(state, "processing") == 0)
        return CHALLENGES_ACT_POLL;
    if (!presented)
        return CHALLENGES_ACT_PRESENT;
    return CHALLENGES_ACT_CHECK;
}

const char *challenges_action_name(challenges_action_t a)
{
    switch (a) {
    case CHALLENGES_ACT_NOTHING: return "nothing";
    case CHALLENGES_ACT_CLEANUP: return "cleanup";
    case CHALLENGES_ACT_RESET: return "reset";
    case CHALLENGES_ACT_ADD_FINALIZER: return "add-finalizer";
    case CHALLENGES_ACT_SYNC_STATE: return "sync-state";
    case CHALLENGES_ACT_PRESENT: return "present";
    case CHALLENGES_ACT_CHECK: return "check";
    case CHALLENGES_ACT_POLL: return "poll";
    }
    return "unknown";
}

void challenges_classify_error(const acme_error_t *e, const char *what, challenges_err_t *out)
{
    memset(out, 0, sizeof(*out));
    char msg[1024];
    acme_error_format(e, msg, sizeof(msg));
    switch (e->kind) {
    case ACME_ERR_RETRY_AFTER:
        out->outcome = CHALLENGES_ERR_REQUEUE;
        out->after_ms = e->retry_after_ms > 0 ? e->retry_after_ms : RETRY_AFTER_DEFAULT_MS;
        return;
    case ACME_ERR_TERMINAL:
        out->outcome = CHALLENGES_ERR_FINAL;
        out->state = acme_error_is(e, "malformed") ? "expired" : "errored";
        snprintf(out->reason, sizeof(out->reason), "%s: %s", what ? what : "ACME error", msg);
        return;
    case ACME_ERR_TRANSIENT:
    case ACME_ERR_NONE:
    default:
        out->outcome = CHALLENGES_ERR_BACKOFF;
        return;
    }
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t challenges_parse_time(const char *s)
{
    int Y, M, D, h, m, sec;
    if (!s || strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
            return -1;
        off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    return (int64_t)t - off;
}

int challenges_sched_from_json(json_object *ch, sched_challenge_t *out)
{
    memset(out, 0, sizeof(*out));
    out->name = ctrl_str(ch, "metadata.name");
    if (empty(out->name) || sched_type_parse(ctrl_str(ch, "spec.type"), &out->type) != 0)
        return -1;
    out->ns = ctrl_str(ch, "metadata.namespace");
    out->uid = ctrl_str(ch, "metadata.uid");
    out->dns_name = ctrl_str(ch, "spec.dnsName");
    int64_t t = challenges_parse_time(ctrl_str(ch, "metadata.creationTimestamp"));
    out->created = t < 0 ? 0 : t;
    out->state = sched_state_parse(ctrl_str(ch, "status.state"));
    out->processing = ctrl_bool(ch, "status.processing", false);
    return 0;
}

int64_t challenges_selfcheck_retry_ms(json_object *ch, int64_t now_s, int64_t retry_period_ms)
{
    if (retry_period_ms <= 0)
        retry_period_ms = 10000;
    int64_t at = challenges_parse_time(ctrl_str(ch, "status.presentedAt"));
    if (at >= 0 && now_s >= at && now_s - at < QUICK_WINDOW_S)
        return retry_period_ms < QUICK_RETRY_MS ? retry_period_ms : QUICK_RETRY_MS;
    return retry_period_ms;
}

/* ======================================================================================================
 * Controller state shared by the workers and the scheduler thread
 * ====================================================================================================== */

typedef struct recent {
    char uid[64];
    char rv[32];   /* resourceVersion before our processing=true write */
    int64_t at_ms;
} recent_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool cv_ready;
    pthread_t thread;
    bool running;
    bool stop;
    bool kick;
    ctrl_ctx_t *ctx;
    sched_t *sched;
    recent_t recent[RECENT_MAX];
    size_t n_recent;
} g_sched = {.mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_mutex_t g_tracker_mu = PTHREAD_MUTEX_INITIALIZER;
static selfcheck_tracker_t *g_tracker;

static selfcheck_tracker_t *tracker(ctrl_ctx_t *ctx)
{
    pthread_mutex_lock(&g_tracker_mu);
    if (!g_tracker) {
        int passes = ctx->opts && ctx->opts->selfcheck_passes > 0 ? ctx->opts->selfcheck_passes : 2;
        long long spacing = ctx->opts && ctx->opts->selfcheck_spacing_ms >= 0 ? ctx->opts->selfcheck_spacing_ms : 1000;
        g_tracker = selfcheck_tracker_new((unsigned)passes, spacing);
    }
    selfcheck_tracker_t *t = g_tracker;
    pthread_mutex_unlock(&g_tracker_mu);
    return t;
}

static void tracker_forget(const char *uid)
{
    pthread_mutex_lock(&g_tracker_mu);
    if (g_tracker && uid)
        selfcheck_tracker_forget(g_tracker, uid);
    pthread_mutex_unlock(&g_tracker_mu);
}

static void sched_kick(void)
{
    pthread_mutex_lock(&g_sched.mu);
    if (g_sched.running) {
        g_sched.kick = true;
        pthread_cond_signal(&g_sched.cv);
    }
    pthread_mutex_unlock(&g_sched.mu);
}

/* ======================================================================================================
 * Reconcile
 * ====================================================================================================== */

typedef struct run {
    ctrl_ctx_t *ctx;
    const char *key;
    char ns[256], name[256];
    json_object *orig;       /* owned: the store's Challenge */
    json_object *obj;        /* owned: working copy */
    json_object *issuer;     /* owned */
    ctrl_account_t *acct;    /* borrowed registry entry */
    acme_client_t *client;   /* from acct */
    const ctrl_solver_t *solver;
    kube_reconcile_result_t res;
} run_t;

static void set_str(run_t *r, const char *k, const char *v)
{
    json_object_object_add(ctrl_status(r->obj), k, json_object_new_string(v ? v : ""));
}

static void set_bool(run_t *r, const char *k, bool v)
{
    json_object_object_add(ctrl_status(r->obj), k, json_object_new_boolean(v));
}

static void set_state(run_t *r, const char *state, const char *reason)
{
    if (!empty(state))
        set_str(r, "state", state);
    if (reason)
        set_str(r, "reason", reason);
}

/* An ObjectReference of the Challenge for events (list items may lack apiVersion/kind). Owned. */
static json_object *event_ref(json_object *ch)
{
    json_object *ref = json_object_new_object();
    json_object_object_add(ref, "apiVersion", json_object_new_string(CHALLENGE_API_VERSION));
    json_object_object_add(ref, "kind", json_object_new_string("Challenge"));
    const char *f[] = {"namespace", "name", "uid", "resourceVersion"};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "metadata.%s", f[i]);
        const char *v = ctrl_str(ch, path);
        if (v)
            json_object_object_add(ref, f[i], json_object_new_string(v));
    }
    return ref;
}

static void event(ctrl_ctx_t *ctx, json_object *ch, const char *type, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void event(ctrl_ctx_t *ctx, json_object *ch, const char *type, const char *reason, const char *fmt, ...)
{
    if (!ctx->ev_challenges)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object *ref = event_ref(ch);
    ctrl_event(ctx->ev_challenges, ref, type, reason, "%s", msg);
    json_object_put(ref);
}

/* Acts on a failed ACME call: terminal → state + reason (persisted by the caller), otherwise requeue. */
static void acme_failed(run_t *r, const acme_error_t *e, const char *what)
{
    challenges_err_t ce;
    challenges_classify_error(e, what, &ce);
    char msg[1024];
    acme_error_format(e, msg, sizeof(msg));
    switch (ce.outcome) {
    case CHALLENGES_ERR_FINAL:
        LOG_WARN("challenge failed", "challenge", r->key, "state", ce.state, "reason", ce.reason);
        set_state(r, ce.state, ce.reason);
        r->res = kube_reconcile_ok();
        break;
    case CHALLENGES_ERR_REQUEUE:
        LOG_V(1, "ACME server asks to retry later", "challenge", r->key, "step", what, "error", msg);
        r->res = kube_reconcile_requeue_after(ce.after_ms);
        break;
    case CHALLENGES_ERR_BACKOFF:
    default:
        LOG_V(1, "transient ACME error", "challenge", r->key, "step", what, "error", msg);
        r->res = kube_reconcile_error();
        break;
    }
}

/* JSON patch of metadata.finalizers guarded by a test of the resourceVersion. with_ours: the list gets
 * acme.cert-manager.io/finalizer (once); without: ours and the legacy one are removed. Others are kept.
 * *out (optional) gets the patched object. Returns 0 or -1 with *ke. */
static int patch_finalizers(run_t *r, bool with_ours, json_object **out, kube_error_t *ke)
{
    const char *rv = ctrl_str(r->orig, "metadata.resourceVersion");
    json_object *list = json_object_new_array();
    json_object *f = ctrl_get(r->orig, "metadata.finalizers");
    if (f && json_object_is_type(f, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(f); i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(f, i));
            if (!s || strcmp(s, CTRL_FINALIZER) == 0 || strcmp(s, CTRL_LEGACY_FINALIZER) == 0)
                continue;
            json_object_array_add(list, json_object_new_string(s));
        }
    }
    if (with_ours)
        json_object_array_add(list, json_object_new_string(CTRL_FINALIZER));
    json_object *patch = json_object_new_array();
    json_object *test = json_object_new_object();
    json_object_object_add(test, "op", json_object_new_string("test"));
    json_object_object_add(test, "path", json_object_new_string("/metadata/resourceVersion"));
    json_object_object_add(test, "value", json_object_new_string(rv ? rv : ""));
    json_object_array_add(patch, test);
    json_object *add = json_object_new_object();
    json_object_object_add(add, "op", json_object_new_string("add")); /* add replaces an existing member */
    json_object_object_add(add, "path", json_object_new_string("/metadata/finalizers"));
    json_object_object_add(add, "value", list);
    json_object_array_add(patch, add);
    kube_patch_opts_t po = {.type = KUBE_PATCH_JSON};
    int rc = kube_patch(r->ctx->kube, &CTRL_RES_CHALLENGES, r->ns, r->name, &po, patch, out, ke);
    json_object_put(patch);
    return rc;
}

/* what: "status" (PUT) or "finalizers" (JSON patch, whose failed test operation is answered 422 Invalid). */
static kube_reconcile_result_t write_failed(run_t *r, const kube_error_t *ke, const char *what)
{
    char buf[600];
    bool patch = strcmp(what, "finalizers") == 0;
    if (ke->type == KUBE_ERR_NOT_FOUND)
        return kube_reconcile_ok();
    if (ke->type == KUBE_ERR_CONFLICT || (patch && ke->type == KUBE_ERR_INVALID)) {
        /* a stale resourceVersion: the newer version is on its way through the informer */
        LOG_V(2, "challenge changed meanwhile, requeueing", "challenge", r->key, "write", what);
        return kube_reconcile_requeue_after(WAIT_CONFLICT_MS);
    }
    LOG_WARN("cannot write challenge", "challenge", r->key, "write", what, "error",
             kube_error_str(ke, buf, sizeof(buf)));
    return kube_reconcile_error();
}

/* ---- steps ---- */

static void step_cleanup(run_t *r)
{
    char err[1024] = "";
    const ctrl_solver_t *solver = ctrl_solver_for_type(ctrl_str(r->orig, "spec.type"));
    if (solver && solver->clean_up(r->ctx, r->orig, err, sizeof(err)) != 0) {
        LOG_WARN("challenge clean-up failed", "challenge", r->key, "error", err);
        event(r->ctx, r->orig, "Warning", "CleanUpError", "Error cleaning up challenge: %s", err);
        set_str(r, "reason", err);
        r->res = kube_reconcile_error();
        return;
    }
    tracker_forget(ctrl_str(r->orig, "metadata.uid"));
    json_object *out = NULL;
    kube_error_t ke;
    if (patch_finalizers(r, false, &out, &ke) != 0) {
        json_object_put(out);
        r->res = write_failed(r, &ke, "finalizers");
        /* nothing else to persist: the status change (if any) waits for the next pass */
        json_object_put(r->obj);
        r->obj = NULL;
        json_object_deep_copy(r->orig, &r->obj, NULL);
        return;
    }
    LOG_V(2, "challenge cleaned up", "challenge", r->key);
    /* Same pass: free the scheduler slot on the patched object (unless it is going away now). */
    if (out && !ctrl_get(out, "metadata.deletionTimestamp")) {
        json_object_put(r->orig);
        r->orig = out;
        json_object_put(r->obj);
        r->obj = NULL;
        json_object_deep_copy(out, &r->obj, NULL);
        set_bool(r, "presented", false);
        set_bool(r, "processing", false);
        out = NULL;
    } else {
        json_object_put(r->obj);
        r->obj = NULL;
        json_object_deep_copy(r->orig, &r->obj, NULL); /* nothing to write */
    }
    json_object_put(out);
    r->res = kube_reconcile_ok();
}

static void step_add_finalizer(run_t *r)
{
    kube_error_t ke;
    if (patch_finalizers(r, true, NULL, &ke) != 0) {
        r->res = write_failed(r, &ke, "finalizers");
        return;
    }
    r->res = kube_reconcile_ok(); /* the update event continues */
}

/* The challenge entry of authz whose URL is url (borrowed) or NULL. */
static const acme_challenge_t *find_challenge(const acme_authz_t *a, const char *url)
{
    for (size_t i = 0; url && i < a->n_challenges; i++)
        if (a->challenges[i].url && strcmp(a->challenges[i].url, url) == 0)
            return &a->challenges[i];
    return NULL;
}

static bool authz_dead(enum acme_status s)
{
    return s == ACME_STATUS_INVALID || s == ACME_STATUS_EXPIRED || s == ACME_STATUS_DEACTIVATED ||
           s == ACME_STATUS_REVOKED;
}

static void step_sync_state(run_t *r)
{
    const char *authz_url = ctrl_str(r->orig, "spec.authorizationURL"), *url = ctrl_str(r->orig, "spec.url");
    if (empty(authz_url) || empty(url)) {
        set_state(r, "errored", "the challenge has no spec.url or spec.authorizationURL");
        return;
    }
    acme_authz_t *a = NULL;
    acme_error_t e;
    if (acme_authz_get(r->client, authz_url, &a, &e) != 0) {
        acme_failed(r, &e, "Failed to retrieve the authorization");
        return;
    }
    const acme_challenge_t *c = find_challenge(a, url);
    if (!c) {
        set_state(r, "errored", "the challenge URL is not part of the ACME authorization");
    } else {
        char reason[1024] = "";
        const char *st = acme_status_name(c->status);
        if (c->error)
            acme_error_format(c->error, reason, sizeof(reason));
        if (!challenges_state_is_final(st) && authz_dead(a->status)) {
            st = acme_status_name(a->status);
            snprintf(reason, sizeof(reason), "the ACME authorization is %s", st);
        } else if (!challenges_state_is_final(st) && a->status == ACME_STATUS_VALID) {
            st = "valid"; /* solved through another of its challenges: nothing to present */
            snprintf(reason, sizeof(reason), "Successfully authorized domain");
        }
        if (empty(st)) {
            LOG_V(1, "ACME challenge has no known status", "challenge", r->key);
            r->res = kube_reconcile_error();
        } else {
            set_state(r, st, reason);
        }
    }
    acme_authz_free(a);
}

static void step_present(run_t *r)
{
    char err[1024] = "";
    if (r->solver->present(r->ctx, r->orig, err, sizeof(err)) != 0) {
        LOG_WARN("challenge present failed", "challenge", r->key, "error", err);
        event(r->ctx, r->orig, "Warning", "PresentError", "Error presenting challenge: %s", err);
        set_str(r, "reason", err);
        r->res = kube_reconcile_error();
        return;
    }
    set_bool(r, "presented", true);
    if (empty(ctrl_str(r->orig, "status.presentedAt"))) {
        char now[32];
        set_str(r, "presentedAt", ctrl_now_rfc3339(now, sizeof(now)));
    }
    set_str(r, "reason", "");
    event(r->ctx, r->orig, "Normal", "Presented", "Presented challenge using %s challenge mechanism",
          r->solver->type);
    r->res = kube_reconcile_ok(); /* the status update brings the self-check */
}

static void step_poll(run_t *r);

static void accept_challenge(run_t *r)
{
    enum acme_status st = ACME_STATUS_UNKNOWN;
    acme_error_t e;
    if (acme_challenge_accept(r->client, ctrl_str(r->orig, "spec.url"), &st, &e) != 0) {
        acme_failed(r, &e, "Error accepting challenge");
        return;
    }
    if (st == ACME_STATUS_VALID || st == ACME_STATUS_INVALID) {
        step_poll(r); /* decided already: the authorization has the outcome (and the error detail) */
        return;
    }
    /* "processing" marks an accepted challenge: the next passes poll instead of re-checking */
    const char *s = acme_status_name(st);
    if (st == ACME_STATUS_PENDING || st == ACME_STATUS_UNKNOWN || st == ACME_STATUS_READY)
        s = "processing";
    LOG_V(2, "challenge accepted", "challenge", r->key, "state", s);
    set_state(r, s, challenges_state_is_final(s) ? NULL : "");
    r->res = kube_reconcile_requeue_after(POLL_MIN_MS);
}

/* Accepting again a challenge the CA still shows pending after our accept. A CA may report "pending" until
 * its validation has started (Pebble does) and refuses a second accept once the challenge is decided
 * ("malformed: Cannot update challenge with status valid"): so that refusal is no verdict, the next poll
 * reads the outcome from the authorization. Other errors count as for the first accept. */
static void reaccept_challenge(run_t *r)
{
    enum acme_status st = ACME_STATUS_UNKNOWN;
    acme_error_t e;
    if (acme_challenge_accept(r->client, ctrl_str(r->orig, "spec.url"), &st, &e) != 0) {
        if (!acme_error_is(&e, "malformed")) {
            acme_failed(r, &e, "Error accepting challenge");
            return;
        }
        char msg[512];
        acme_error_format(&e, msg, sizeof(msg));
        LOG_V(2, "challenge no longer pending at the CA; polling", "challenge", r->key, "error", msg);
    }
    r->res = kube_reconcile_requeue_after(POLL_MIN_MS);
}

/* solver.waitInsteadOfSelfCheck (§1.7, §4.1 step 9): no self-check, accept once W has passed since
 * presentedAt. Returns true when it handled the step. */
static bool wait_instead_of_self_check(run_t *r)
{
    const char *w = ctrl_str(r->orig, "spec.solver.waitInsteadOfSelfCheck");
    int64_t wait_ms = 0;
    if (!w)
        return false;
    if (util_parse_duration_ms(w, &wait_ms) != 0) {
        char reason[160];
        snprintf(reason, sizeof(reason), "invalid solver.waitInsteadOfSelfCheck \"%.64s\"", w);
        set_state(r, "errored", reason);
        return true;
    }
    int64_t at = challenges_parse_time(ctrl_str(r->orig, "status.presentedAt"));
    if (at < 0) {
        char now[32];
        set_str(r, "presentedAt", ctrl_now_rfc3339(now, sizeof(now))); /* backfill, count from now */
        r->res = kube_reconcile_requeue_after(wait_ms < 10000 ? wait_ms : 10000);
        return true;
    }
    /* presentedAt has whole seconds (RFC 3339 as written): the present may have happened up to 1 s after it,
     * so W has certainly passed only at presentedAt + 1 s + W, measured against the clock in ms */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t left = (at * 1000 + 1000 + wait_ms) - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    if (left <= 0) {
        accept_challenge(r);
        return true;
    }
    char reason[160];
    snprintf(reason, sizeof(reason), "Waiting %llds before accepting the challenge (waitInsteadOfSelfCheck)",
             (long long)((left + 999) / 1000));
    set_str(r, "reason", reason);
    r->res = kube_reconcile_requeue_after(left < 10000 ? left : 10000);
    return true;
}

static void step_check(run_t *r)
{
    if (wait_instead_of_self_check(r))
        return;
    const char *uid = ctrl_str(r->orig, "metadata.uid");
    selfcheck_tracker_t *t = tracker(r->ctx);
    int64_t now = mono_ms();
    long long wait = t && uid ? selfcheck_tracker_wait_ms(t, uid, now) : 0;
    if (wait > 0) {
        r->res = kube_reconcile_requeue_after(wait);
        return;
    }
    char err[SELFCHECK_REASON_LEN] = "";
    int rc = r->solver->check(r->ctx, r->orig, err, sizeof(err));
    if (rc > 0) { /* answerable after a wait the solver knows exactly (DNS-01 settle period): not a failure */
        char reason[SELFCHECK_REASON_LEN + 64];
        snprintf(reason, sizeof(reason), "Waiting for %s challenge propagation: %s", r->solver->type, err);
        LOG_V(2, "self-check waiting", "challenge", r->key, "reason", err);
        set_str(r, "reason", reason);
        r->res = kube_reconcile_requeue_after(rc);
        return;
    }
    bool pass = rc == 0;
    long long after = 0;
    enum selfcheck_verdict v = SELFCHECK_PASSED;
    if (t && uid)
        v = selfcheck_tracker_record(t, uid, pass, mono_ms(), &after);
    else if (!pass)
        v = SELFCHECK_FAILED;
    switch (v) {
    case SELFCHECK_PENDING:
        LOG_V(3, "self-check pass recorded", "challenge", r->key);
        r->res = kube_reconcile_requeue_after(after > 0 ? after : 1);
        return;
    case SELFCHECK_FAILED: {
        char reason[SELFCHECK_REASON_LEN + 64];
        snprintf(reason, sizeof(reason), "Waiting for %s challenge propagation: %s", r->solver->type, err);
        LOG_V(2, "self-check failed", "challenge", r->key, "reason", err);
        set_str(r, "reason", reason);
        /* §6.3: present again (idempotent, from the caches when everything is there) so that a deleted
         * solver Pod/Service/Ingress comes back instead of failing the self-check forever */
        char perr[512] = "";
        if (r->solver->present(r->ctx, r->orig, perr, sizeof(perr)) != 0)
            LOG_V(1, "re-presenting after a failed self-check failed", "challenge", r->key, "error", perr);
        r->res = kube_reconcile_requeue_after(
            challenges_selfcheck_retry_ms(r->orig, (int64_t)time(NULL), r->ctx->opts->check_retry_period_ms));
        return;
    }
    case SELFCHECK_PASSED:
    default:
        LOG_V(2, "self-check passed; accepting the challenge", "challenge", r->key);
        accept_challenge(r);
        return;
    }
}

static void step_poll(run_t *r)
{
    acme_authz_t *a = NULL;
    acme_error_t e;
    const char *dns = ctrl_str(r->orig, "spec.dnsName"), *type = ctrl_str(r->orig, "spec.type");
    if (acme_authz_poll(r->client, ctrl_str(r->orig, "spec.authorizationURL"), &a, &e) != 0) {
        acme_failed(r, &e, "Failed to retrieve the authorization");
        return;
    }
    const acme_challenge_t *c = find_challenge(a, ctrl_str(r->orig, "spec.url"));
    switch (a->status) {
    case ACME_STATUS_VALID:
        set_state(r, "valid", "Successfully authorized domain");
        event(r->ctx, r->orig, "Normal", "DomainVerified", "Domain \"%s\" verified with \"%s\" validation",
              dns ? dns : "", type ? type : "");
        r->res = kube_reconcile_ok();
        break;
    case ACME_STATUS_INVALID: {
        char detail[1024] = "", reason[1200];
        if (c && c->error)
            acme_error_format(c->error, detail, sizeof(detail));
        else
            snprintf(detail, sizeof(detail), "the authorization is invalid");
        snprintf(reason, sizeof(reason), "Error accepting authorization: %s", detail);
        set_state(r, "invalid", reason);
        event(r->ctx, r->orig, "Warning", "Failed", "Accepting challenge authorization failed: %s", detail);
        r->res = kube_reconcile_ok();
        break;
    }
    case ACME_STATUS_EXPIRED:
    case ACME_STATUS_DEACTIVATED:
    case ACME_STATUS_REVOKED: {
        char reason[128];
        snprintf(reason, sizeof(reason), "the ACME authorization is %s", acme_status_name(a->status));
        set_state(r, acme_status_name(a->status), reason);
        event(r->ctx, r->orig, "Warning", "Failed", "Accepting challenge authorization failed: %s", reason);
        r->res = kube_reconcile_ok();
        break;
    }
    default: {
        /* still pending: when the CA shows our challenge pending (not processing), the accept did not take
         * (or the CA restarted): accept again, harmless per RFC 8555 §7.5.1 */
        if (c && c->status == ACME_STATUS_PENDING) {
            acme_authz_free(a);
            reaccept_challenge(r);
            return;
        }
        int64_t after = a->retry_after_ms > 0 ? a->retry_after_ms : POLL_MIN_MS;
        if (after < POLL_MIN_MS)
            after = POLL_MIN_MS;
        if (after > POLL_MAX_MS)
            after = POLL_MAX_MS;
        r->res = kube_reconcile_requeue_after(after);
        break;
    }
    }
    acme_authz_free(a);
}

/* The Order owning the Challenge (new reference from the store) or NULL. */
static json_object *owner_order(run_t *r)
{
    json_object *refs = ctrl_get(r->orig, "metadata.ownerReferences");
    if (!r->ctx->orders || !refs || !json_object_is_type(refs, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(refs); i++) {
        json_object *ref = json_object_array_get_idx(refs, i);
        const char *kind = ctrl_str(ref, "kind"), *name = ctrl_str(ref, "name");
        if (ctrl_bool(ref, "controller", false) && kind && name && strcmp(kind, "Order") == 0)
            return kube_store_get_ns(r->ctx->orders, r->ns, name);
    }
    return NULL;
}

/* Issuer, account and the solver security check. Returns 0 to go on, -1 with r->res (and maybe the status)
 * set. */
static int prepare(run_t *r)
{
    char err[512];
    bool cluster = false;
    r->issuer = ctrl_issuer_get(r->ctx, r->ns, ctrl_get(r->orig, "spec.issuerRef"), &cluster, err, sizeof(err));
    if (!r->issuer) {
        LOG_V(1, "challenge issuer not available", "challenge", r->key, "error", err);
        r->res = kube_reconcile_error();
        return -1;
    }
    /* kacme-decisions: never trust spec.solver on its own */
    json_object *order = owner_order(r);
    bool allowed = solverpicker_solver_allowed(ctrl_get(r->orig, "spec.solver"),
                                               ctrl_get(r->issuer, "spec.acme.solvers"),
                                               ctrl_get(order, "metadata.annotations"), r->ns);
    json_object_put(order);
    const char *iname = ctrl_str(r->issuer, "metadata.name");
    if (!allowed) {
        char reason[512];
        snprintf(reason, sizeof(reason), "spec.solver is not one of the solvers of %s %s",
                 cluster ? "ClusterIssuer" : "Issuer", iname ? iname : "");
        LOG_WARN("refusing challenge", "challenge", r->key, "reason", reason);
        set_state(r, "errored", reason);
        event(r->ctx, r->orig, "Warning", "Failed", "Refusing the challenge: %s", reason);
        r->res = kube_reconcile_ok();
        return -1;
    }
    r->acct = r->ctx->accounts ? ctrl_accounts_get(r->ctx->accounts, ctrl_str(r->issuer, "metadata.uid")) : NULL;
    if (!r->acct) {
        LOG_V(1, "ACME account of the issuer not registered yet", "challenge", r->key);
        r->res = kube_reconcile_requeue_after(WAIT_ACCOUNT_MS);
        return -1;
    }
    r->client = ctrl_account_client(r->acct);
    return 0;
}

static kube_reconcile_result_t challenges_reconcile(void *ud, const char *key)
{
    ctrl_ctx_t *ctx = ud;
    run_t r = {.ctx = ctx, .key = key, .res = kube_reconcile_ok()};
    if (ctrl_split_key(key, r.ns, sizeof(r.ns), r.name, sizeof(r.name)) != 0 || !ctx->challenges)
        return kube_reconcile_ok();
    r.orig = kube_store_get_ns(ctx->challenges, r.ns, r.name);
    if (!r.orig)
        return kube_reconcile_ok();
    json_object_deep_copy(r.orig, &r.obj, NULL);
    challenges_action_t act = challenges_decide(r.orig);
    LOG_V(3, "challenge step", "challenge", key, "action", challenges_action_name(act));
    switch (act) {
    case CHALLENGES_ACT_NOTHING:
        goto out;
    case CHALLENGES_ACT_RESET:
        tracker_forget(ctrl_str(r.orig, "metadata.uid"));
        set_bool(&r, "presented", false);
        set_bool(&r, "processing", false);
        break;
    case CHALLENGES_ACT_CLEANUP:
        step_cleanup(&r);
        break;
    case CHALLENGES_ACT_ADD_FINALIZER:
        step_add_finalizer(&r);
        goto out;
    default:
        r.solver = ctrl_solver_for_type(ctrl_str(r.orig, "spec.type"));
        if (prepare(&r) != 0)
            break;
        if (!r.solver) {
            char reason[160];
            snprintf(reason, sizeof(reason), "challenge type %.64s is not supported by this controller",
                     ctrl_str(r.orig, "spec.type") ?: "");
            set_state(&r, "errored", reason);
            break;
        }
        switch (act) {
        case CHALLENGES_ACT_SYNC_STATE: step_sync_state(&r); break;
        case CHALLENGES_ACT_PRESENT: step_present(&r); break;
        case CHALLENGES_ACT_CHECK: step_check(&r); break;
        case CHALLENGES_ACT_POLL: step_poll(&r); break;
        default: break;
        }
        break;
    }
    kube_error_t ke;
    int w = ctrl_update_status_if_changed(ctx, &CTRL_RES_CHALLENGES, r.orig, r.obj, &ke);
    if (w < 0) {
        r.res = write_failed(&r, &ke, "status");
    } else if (w > 0 && challenges_state_is_final(ctrl_str(r.obj, "status.state")) &&
               !challenges_state_is_final(ctrl_str(r.orig, "status.state"))) {
        LOG_INFO("challenge finished", "challenge", key, "state", ctrl_str(r.obj, "status.state"));
    }
out:
    if (r.acct)
        ctrl_account_release(r.acct);
    json_object_put(r.issuer);
    json_object_put(r.orig);
    json_object_put(r.obj);
    return r.res;
}

/* ======================================================================================================
 * Scheduler thread (§3)
 * ====================================================================================================== */

/* Caller holds g_sched.mu. */
static void recent_add(const char *uid, const char *rv, int64_t now)
{
    if (!uid || !rv)
        return;
    if (g_sched.n_recent == RECENT_MAX) {
        memmove(&g_sched.recent[0], &g_sched.recent[1], sizeof(recent_t) * (RECENT_MAX - 1));
        g_sched.n_recent--;
    }
    recent_t *e = &g_sched.recent[g_sched.n_recent++];
    snprintf(e->uid, sizeof(e->uid), "%s", uid);
    snprintf(e->rv, sizeof(e->rv), "%s", rv);
    e->at_ms = now;
}

/* True when our processing=true write for this object has not reached the store yet. */
static bool recent_pending(const char *uid, const char *rv)
{
    for (size_t i = 0; uid && rv && i < g_sched.n_recent; i++)
        if (strcmp(g_sched.recent[i].uid, uid) == 0 && strcmp(g_sched.recent[i].rv, rv) == 0)
            return true;
    return false;
}

static void recent_gc(int64_t now)
{
    size_t j = 0;
    for (size_t i = 0; i < g_sched.n_recent; i++)
        if (now - g_sched.recent[i].at_ms < RECENT_TTL_MS)
            g_sched.recent[j++] = g_sched.recent[i];
    g_sched.n_recent = j;
}

/* One scheduling pass with at most budget picks; returns how many were marked processing. */
static size_t sched_tick(ctrl_ctx_t *ctx, size_t budget)
{
    if (!g_sched.sched)
        return 0;
    json_object **all = NULL;
    size_t n = 0, marked = 0;
    if (budget == 0 || !ctx->challenges || kube_store_list(ctx->challenges, &all, &n) != 0 || n == 0) {
        kube_store_list_free(all, n);
        return 0;
    }
    sched_challenge_t *snap = calloc(n, sizeof(*snap));
    json_object **objs = calloc(n, sizeof(*objs));
    size_t *idx = calloc(budget, sizeof(*idx));
    size_t m = 0, picked = 0;
    if (!snap || !objs || !idx)
        goto out;
    int64_t now = mono_ms();
    pthread_mutex_lock(&g_sched.mu);
    recent_gc(now);
    for (size_t i = 0; i < n; i++) {
        if (challenges_sched_from_json(all[i], &snap[m]) != 0)
            continue;
        if (!snap[m].processing &&
            recent_pending(snap[m].uid, ctrl_str(all[i], "metadata.resourceVersion")))
            snap[m].processing = true;
        objs[m++] = all[i];
    }
    pthread_mutex_unlock(&g_sched.mu);
    sched_limits_t lim = {
        .max_concurrent = ctx->opts->max_concurrent_challenges > 0 ? (size_t)ctx->opts->max_concurrent_challenges
                                                                   : SCHED_DEFAULT_MAX_CONCURRENT,
        .max_per_tick = budget,
    };
    if (sched_pass(g_sched.sched, snap, m, &lim, idx, &picked) != 0)
        goto out;
    for (size_t k = 0; k < picked; k++) {
        json_object *orig = objs[idx[k]], *obj = NULL;
        json_object_deep_copy(orig, &obj, NULL);
        json_object *st = ctrl_status(obj);
        json_object_object_add(st, "processing", json_object_new_boolean(true));
        if (!json_object_object_get_ex(st, "presented", NULL))
            json_object_object_add(st, "presented", json_object_new_boolean(false));
        kube_error_t ke;
        const char *ns = ctrl_str(orig, "metadata.namespace"), *name = ctrl_str(orig, "metadata.name");
        int rc = kube_update_status(ctx->kube, &CTRL_RES_CHALLENGES, ns, name, obj, NULL, &ke);
        json_object_put(obj);
        if (rc != 0) {
            if (ke.type == KUBE_ERR_CONFLICT || ke.type == KUBE_ERR_NOT_FOUND) {
                LOG_V(2, "challenge changed before it could be scheduled; next tick", "namespace", ns, "name", name);
                continue;
            }
            char buf[600];
            LOG_WARN("cannot mark challenge as processing", "namespace", ns, "name", name, "error",
                     kube_error_str(&ke, buf, sizeof(buf)));
            break; /* §3: abort the rest of the tick */
        }
        marked++;
        pthread_mutex_lock(&g_sched.mu);
        recent_add(ctrl_str(orig, "metadata.uid"), ctrl_str(orig, "metadata.resourceVersion"), mono_ms());
        pthread_mutex_unlock(&g_sched.mu);
        LOG_V(2, "challenge scheduled", "namespace", ns, "name", name);
        event(ctx, orig, "Normal", "Started", "Challenge scheduled for processing");
    }
out:
    free(idx);
    free(objs);
    free(snap);
    kube_store_list_free(all, n);
    return marked;
}

size_t challenges_schedule_once(ctrl_ctx_t *ctx, size_t budget)
{
    pthread_mutex_lock(&g_sched.mu);
    bool running = g_sched.running;
    if (!running && !g_sched.sched)
        g_sched.sched = sched_new();
    pthread_mutex_unlock(&g_sched.mu);
    if (running)
        return 0; /* the thread owns the scheduler context */
    return sched_tick(ctx, budget);
}

static void abs_deadline(struct timespec *ts, int64_t ms_from_now)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms_from_now / 1000;
    ts->tv_nsec += (long)(ms_from_now % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *sched_main(void *arg)
{
    ctrl_ctx_t *ctx = arg;
    size_t per_tick = ctx->opts->max_challenges_per_schedule > 0 ? (size_t)ctx->opts->max_challenges_per_schedule
                                                                 : SCHED_DEFAULT_MAX_PER_TICK;
    int64_t window_start = mono_ms();
    size_t used = 0;
    int64_t last_gc = window_start;
    pthread_mutex_lock(&g_sched.mu);
    while (!g_sched.stop) {
        g_sched.kick = false;
        pthread_mutex_unlock(&g_sched.mu);
        int64_t now = mono_ms();
        if (now - window_start >= SCHED_PERIOD_MS) {
            window_start = now;
            used = 0;
        }
        used += sched_tick(ctx, per_tick > used ? per_tick - used : 0);
        if (now - last_gc > 60000) {
            pthread_mutex_lock(&g_tracker_mu);
            if (g_tracker)
                selfcheck_tracker_gc(g_tracker, now, TRACKER_MAX_AGE_MS);
            pthread_mutex_unlock(&g_tracker_mu);
            last_gc = now;
        }
        int64_t last_tick = mono_ms();
        pthread_mutex_lock(&g_sched.mu);
        /* sleep to the end of the 1 s window; a kick (a slot freed, a new candidate) wakes us early when
         * this window's budget is not used up, but passes stay SCHED_MIN_GAP_MS apart so that a burst of
         * Challenge events does not turn into a pass per event */
        for (;;) {
            if (g_sched.stop)
                break;
            int64_t now_ms = mono_ms();
            int64_t left = window_start + SCHED_PERIOD_MS - now_ms;
            if (left <= 0)
                break;
            int64_t wait = left;
            if (g_sched.kick && used < per_tick) {
                int64_t gap = last_tick + SCHED_MIN_GAP_MS - now_ms;
                if (gap <= 0)
                    break;
                wait = gap < left ? gap : left;
            }
            struct timespec ts;
            abs_deadline(&ts, wait);
            pthread_cond_timedwait(&g_sched.cv, &g_sched.mu, &ts);
        }
    }
    pthread_mutex_unlock(&g_sched.mu);
    return NULL;
}

static int challenges_start(ctrl_ctx_t *ctx, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_sched.mu);
    if (g_sched.running) {
        pthread_mutex_unlock(&g_sched.mu);
        return 0;
    }
    if (!g_sched.cv_ready) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&g_sched.cv, &ca);
        pthread_condattr_destroy(&ca);
        g_sched.cv_ready = true;
    }
    if (!g_sched.sched && !(g_sched.sched = sched_new())) {
        pthread_mutex_unlock(&g_sched.mu);
        util_seterr(err, errlen, "challenge scheduler: out of memory");
        return -1;
    }
    g_sched.ctx = ctx;
    g_sched.stop = false;
    g_sched.kick = false;
    g_sched.n_recent = 0;
    int rc = pthread_create(&g_sched.thread, NULL, sched_main, ctx);
    if (rc != 0) {
        pthread_mutex_unlock(&g_sched.mu);
        util_seterr(err, errlen, "challenge scheduler: cannot start thread: %s", strerror(rc));
        return -1;
    }
    g_sched.running = true;
    pthread_mutex_unlock(&g_sched.mu);
    char maxc[24], maxt[24];
    snprintf(maxc, sizeof(maxc), "%d", ctx->opts->max_concurrent_challenges);
    snprintf(maxt, sizeof(maxt), "%d", ctx->opts->max_challenges_per_schedule);
    LOG_INFO("challenge scheduler started", "max-concurrent-challenges", maxc, "max-challenges-per-schedule", maxt);
    return 0;
}

static void challenges_stop(ctrl_ctx_t *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&g_sched.mu);
    if (!g_sched.running) {
        sched_free(g_sched.sched); /* challenges_schedule_once's context, if any */
        g_sched.sched = NULL;
        pthread_mutex_unlock(&g_sched.mu);
        return;
    }
    g_sched.stop = true;
    pthread_cond_broadcast(&g_sched.cv);
    pthread_mutex_unlock(&g_sched.mu);
    pthread_join(g_sched.thread, NULL);
    pthread_mutex_lock(&g_sched.mu);
    g_sched.running = false;
    sched_free(g_sched.sched);
    g_sched.sched = NULL;
    pthread_mutex_unlock(&g_sched.mu);
    /* the self-check tracker stays: workers still run until main stops them after this */
}

/* ======================================================================================================
 * Wiring (§4: Challenge informer only)
 * ====================================================================================================== */

/* A change that may let the scheduler pick something: a new candidate, or a slot / key freed. */
static bool sched_relevant(json_object *old, json_object *obj)
{
    bool was = old && ctrl_bool(old, "status.processing", false);
    bool is = obj && ctrl_bool(obj, "status.processing", false);
    if (was && !is)
        return true;
    return !old && obj && !is && !challenges_state_is_final(ctrl_str(obj, "status.state"));
}

static void on_add(void *ud, json_object *obj)
{
    ctrl_ctx_t *ctx = ud;
    ctrl_enqueue(ctx->q_challenges, obj);
    if (sched_relevant(NULL, obj))
        sched_kick();
}

static void on_update(void *ud, json_object *old, json_object *obj)
{
    ctrl_ctx_t *ctx = ud;
    if (ctrl_same_version(old, obj))
        return;
    ctrl_enqueue(ctx->q_challenges, obj);
    if (sched_relevant(old, obj))
        sched_kick();
}

static void on_delete(void *ud, json_object *old)
{
    ctrl_ctx_t *ctx = ud;
    ctrl_enqueue(ctx->q_challenges, old);
    tracker_forget(ctrl_str(old, "metadata.uid"));
    if (ctrl_bool(old, "status.processing", false))
        sched_kick();
}

/* Solver pod events (metadata-only: the resourceVersion moves when the pod starts or becomes ready) bring the
 * owning Challenge's self-check forward instead of waiting for its retry. */
static void on_pod_add(void *ud, json_object *obj)
{
    ctrl_ctx_t *ctx = ud;
    ctrl_enqueue_owner(ctx->q_challenges, obj, "Challenge");
}

static void on_pod_update(void *ud, json_object *old, json_object *obj)
{
    if (!ctrl_same_version(old, obj))
        on_pod_add(ud, obj);
}

static int challenges_setup(ctrl_ctx_t *ctx, char *err, size_t errlen)
{
    if (!ctx->q_challenges) {
        util_seterr(err, errlen, "challenges controller: the challenges queue is missing");
        return -1;
    }
    kube_informer_handlers_t h = {on_add, on_update, on_delete, ctx};
    kube_informer_handlers_t hp = {on_pod_add, on_pod_update, NULL, ctx};
    if (ctrl_add_handlers(ctx, "challenges", "challenges", &h, true, err, errlen) != 0 ||
        ctrl_add_handlers(ctx, "challenges", "pods", &hp, false, err, errlen) != 0)
        return -1;
    if (!tracker(ctx)) {
        util_seterr(err, errlen, "challenges controller: out of memory");
        return -1;
    }
    return 0;
}

const ctrl_controller_t ctrl_challenges_controller = {
    .name = "challenges",
    .setup = challenges_setup,
    .reconcile = challenges_reconcile,
    .queue_offset = offsetof(ctrl_ctx_t, q_challenges),
    .start = challenges_start,
    .stop = challenges_stop,
};
