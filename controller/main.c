/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kacme-controller: the ACME controllers (issuers, clusterissuers, certificaterequests, orders, challenges
 * and the challenge scheduler) in one process. main wires flags, the Kubernetes client, the shared
 * informers, one workqueue + worker pool per controller, leader election, /metrics and health endpoints.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "ctx.h"
#include "dns01.h"
#include "http01.h"
#include "kube/config.h"
#include "kube/leader.h"
#include "ops/health.h"
#include "util/http.h"
#include "util/duration.h"
#include "util/log.h"
#include "util/version.h"

/* Controllers live in their own modules; weak so that a build without one still links (it is then
 * reported as unavailable). */
extern const ctrl_controller_t ctrl_issuers_controller __attribute__((weak));
extern const ctrl_controller_t ctrl_clusterissuers_controller __attribute__((weak));
extern const ctrl_controller_t ctrl_certificaterequests_acme_controller __attribute__((weak));
extern const ctrl_controller_t ctrl_orders_controller __attribute__((weak));
extern const ctrl_controller_t ctrl_challenges_controller __attribute__((weak));
int ctrl_challenge_metrics_register(ctrl_ctx_t *ctx) __attribute__((weak));

#define MAX_CONTROLLERS 8

struct flags {
    const char *kubeconfig;
    const char *controllers;
    const char *metrics_addr;
    const char *healthz_addr;
    bool leader_elect;
    const char *le_namespace;
    const char *le_name;
    int64_t le_lease_ms, le_renew_ms, le_retry_ms, le_healthz_timeout_ms;
    double qps;
    int burst;
    int verbosity;
    enum log_format log_format;
};

/* Per-controller wrapper state for the worker pool: counts sync calls and errors. */
struct running {
    const ctrl_controller_t *c;
    ctrl_ctx_t *ctx;
    kube_workers_t *workers;
    bool started;
};

static volatile sig_atomic_t leadership_lost;
static pthread_mutex_t lead_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lead_cond = PTHREAD_COND_INITIALIZER;
static bool leading;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kacme-controller [flags]\n"
            "  --kubeconfig PATH                         kubeconfig (default $KUBECONFIG, else in-cluster)\n"
            "  --namespace NS                            only this namespace (ClusterIssuers off); default all\n"
            "  --cluster-resource-namespace NS           Secrets of ClusterIssuers (default kube-system)\n"
            "  --controllers LIST                        '*' or names, '-name' disables (default '*')\n"
            "  --concurrent-workers N                    workers per controller (default 5)\n"
            "  --max-concurrent-challenges N             challenges in progress at once (default 60)\n"
            "  --max-challenges-per-schedule N           newly scheduled per second (default 20)\n"
            "  --dns01-check-retry-period DURATION       self-check retry period (default 10s)\n"
            "  --dns01-recursive-nameservers LIST        host:port,... for DNS-01 zone lookup and checks\n"
            "  --dns01-recursive-nameservers-only BOOL   check only those, not the authoritative servers (false)\n"
            "  --dns01-check-settle-period DURATION      wait after the DNS-01 check passes (default 60s)\n"
            "  --issuer-ambient-credentials BOOL         DNS-01 webhook solvers of Issuers may use ambient\n"
            "                                            credentials (allowAmbientCredentials; default false)\n"
            "  --cluster-issuer-ambient-credentials BOOL the same for ClusterIssuers (default true)\n"
            "  --auto-approve BOOL                       approve CertificateRequests for our issuers (true)\n"
            "  --acme-http01-solver-image IMAGE          solver image (default ghcr.io/kacme/acmesolver:%s)\n"
            "  --acme-http01-solver-resource-request-cpu Q (10m)  -request-memory Q (64Mi)\n"
            "  --acme-http01-solver-resource-limits-cpu Q  (100m) -limits-memory Q (64Mi)\n"
            "  --acme-http01-solver-run-as-non-root BOOL (true)\n"
            "  --acme-http01-solver-nameservers LIST     host:port,... for the self-check (split horizon)\n"
            "  --acme-http01-solver-extra-labels LIST    k=v,... added to solver resources\n"
            "  --acme-http01-solver-runtime-class-name NAME  runtimeClassName of solver pods (default none)\n"
            "  --acme-http01-self-check-passes N         consecutive passes needed (default 2)\n"
            "  --acme-http01-self-check-spacing DURATION spacing between passes (default 1s)\n"
            "  --kube-api-qps F / --kube-api-burst N     client-side rate limit (20 / 50)\n"
            "  --leader-elect BOOL                       (default true)\n"
            "  --leader-election-namespace NS            (default kube-system)\n"
            "  --leader-election-lease-duration D / -renew-deadline D / -retry-period D (60s/40s/15s)\n"
            "  --metrics-listen-address ADDR             (default 0.0.0.0:9402; '0' disables)\n"
            "  --internal-healthz-listen-address ADDR    /livez /healthz /readyz (default 0.0.0.0:9403)\n"
            "  --internal-healthz-leader-election-timeout D  /livez fails when the lease is not renewed for\n"
            "                                            lease duration + D (default 20s)\n"
            "  --feature-gates LIST                      Name=true|false,...: ACMEHTTP01IngressPathTypeExact=false\n"
            "                                            gives solver Ingress paths pathType ImplementationSpecific;\n"
            "                                            other cert-manager gates are accepted with a warning\n"
            "  Accepted for cert-manager compatibility, with a warning (kacme does not implement them):\n"
            "  --enable-gateway-api BOOL                 (gatewayHTTPRoute solvers are not supported yet)\n"
            "  --copied-annotation-prefixes LIST         (kacme has no Certificate controller)\n"
            "  --enable-profiling BOOL, --profiler-address ADDR  (no profiler)\n"
            "  --v N, --logging-format text|json, --version, --help\n",
            kacme_version());
}

static int parse_bool(const char *s, bool *out)
{
    if (!s || strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

static int parse_int(const char *s, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* --feature-gates: "Name=bool,..." as Kubernetes components take it (entries and both sides trimmed, empty
 * entries skipped, Go's strconv.ParseBool spellings, a later entry for the same name wins; repeated flags
 * add up). kacme acts on ACMEHTTP01IngressPathTypeExact only; every other gate is logged as not applicable. */
#define MAX_GATES 64
#define GATE_NAME_MAX 64
#define GATE_PATH_TYPE_EXACT "ACMEHTTP01IngressPathTypeExact"

struct gates {
    struct {
        char name[GATE_NAME_MAX];
        bool on;
    } g[MAX_GATES];
    size_t n;
};

static int parse_go_bool(const char *s, bool *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(s, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static char *trim_space(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* Adds the gates of one --feature-gates value to g. Returns 0, or -1 with err saying what is wrong. */
static int gates_parse(struct gates *g, const char *value, char *err, size_t errlen)
{
    char buf[4096];
    if (strlen(value) >= sizeof(buf)) {
        snprintf(err, errlen, "longer than %zu bytes", sizeof(buf) - 1);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", value);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *entry = trim_space(tok);
        if (!*entry)
            continue;
        char *eq = strchr(entry, '=');
        if (!eq) {
            snprintf(err, errlen, "\"%.100s\" is not Name=true|false", entry);
            return -1;
        }
        *eq = '\0';
        char *name = trim_space(entry), *val = trim_space(eq + 1);
        bool ok = *name && strlen(name) < GATE_NAME_MAX;
        for (const char *c = name; ok && *c; c++)
            ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
        if (!ok) {
            snprintf(err, errlen, "\"%.100s\" is not a feature gate name", name);
            return -1;
        }
        bool on;
        if (parse_go_bool(val, &on) != 0) {
            snprintf(err, errlen, "gate %s: \"%.100s\" is not true or false", name, val);
            return -1;
        }
        size_t i = 0;
        while (i < g->n && strcmp(g->g[i].name, name) != 0)
            i++;
        if (i == g->n) {
            if (g->n == MAX_GATES) {
                snprintf(err, errlen, "more than %d gates", MAX_GATES);
                return -1;
            }
            snprintf(g->g[g->n++].name, GATE_NAME_MAX, "%s", name);
        }
        g->g[i].on = on;
    }
    return 0;
}

/* --controllers: "*" enables all; names enable; "-name" disables; "*,-orders" all but orders. */
static bool controller_enabled(const char *list, const char *name)
{
    bool star = false, on = false, off = false;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (strcmp(tok, "*") == 0)
            star = true;
        else if (tok[0] == '-' && strcmp(tok + 1, name) == 0)
            off = true;
        else if (strcmp(tok, name) == 0)
            on = true;
    }
    return !off && (star || on);
}

static void on_started_leading(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&lead_lock);
    leading = true;
    pthread_cond_broadcast(&lead_cond);
    pthread_mutex_unlock(&lead_lock);
}

static void on_stopped_leading(void *ud)
{
    (void)ud;
    leadership_lost = 1;
    pthread_mutex_lock(&lead_lock);
    pthread_cond_broadcast(&lead_cond);
    pthread_mutex_unlock(&lead_lock);
}

static kube_reconcile_result_t counted_reconcile(void *ud, const char *key)
{
    struct running *r = ud;
    metrics_counter_inc(metrics_with(r->ctx->m_sync_calls, r->c->name, (char *)NULL));
    kube_reconcile_result_t res = r->c->reconcile(r->ctx, key);
    if (res.kind == KUBE_RECONCILE_ERROR)
        metrics_counter_inc(metrics_with(r->ctx->m_sync_errors, r->c->name, (char *)NULL));
    return res;
}

/* Readiness: every shared informer has synced. */
static int informers_synced_check(void *ud, char *reason, size_t reasonlen)
{
    ctrl_ctx_t *ctx = ud;
    for (size_t i = 0; i < sizeof(ctx->informers) / sizeof(ctx->informers[0]); i++) {
        if (ctx->informers[i] && !kube_informer_has_synced(ctx->informers[i])) {
            snprintf(reason, reasonlen, "informer %s not synced", ctx->informer_names[i]);
            return -1;
        }
    }
    return 0;
}

struct depth_ctx {
    ctrl_ctx_t *ctx;
    struct running *run;
    size_t n;
};

/* kacme_workqueue_depth{name} and kacme_scheduler_challenges_in_progress, computed at scrape time. */
static void collect_depth(void *ud, metrics_sink_t *sink)
{
    struct depth_ctx *d = ud;
    for (size_t i = 0; i < d->n; i++) {
        kube_workqueue_t *q = ctrl_queue(d->ctx, d->run[i].c);
        const char *v[] = {d->run[i].c->name};
        if (q)
            metrics_sink_add(sink, (double)kube_workqueue_len(q), v, 1);
    }
}

static void collect_in_progress(void *ud, metrics_sink_t *sink)
{
    ctrl_ctx_t *ctx = ud;
    json_object **all = NULL;
    size_t n = 0, busy = 0;
    if (!ctx->challenges || kube_store_list(ctx->challenges, &all, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (ctrl_bool(all[i], "status.processing", false))
            busy++;
    kube_store_list_free(all, n);
    metrics_sink_add(sink, (double)busy, NULL, 0);
}

/* certmanager_clock_time_seconds (counter) and certmanager_clock_time_seconds_gauge: the wall clock in whole
 * seconds since the Unix epoch, read at scrape time. */
static void collect_clock(void *ud, metrics_sink_t *sink)
{
    (void)ud;
    metrics_sink_add(sink, (double)time(NULL), NULL, 0);
}

static void *stop_informer_thread(void *arg)
{
    kube_informer_stop(arg);
    return NULL;
}

/* Stops every informer at once: each notices the stop within about a second even on a silent watch, so
 * doing them in parallel keeps shutdown short. */
static void stop_informers(ctrl_ctx_t *ctx)
{
    enum { N = sizeof(ctx->informers) / sizeof(ctx->informers[0]) };
    pthread_t th[N];
    bool started[N] = {false};
    for (size_t i = 0; i < N; i++)
        if (ctx->informers[i])
            started[i] = pthread_create(&th[i], NULL, stop_informer_thread, ctx->informers[i]) == 0;
    for (size_t i = 0; i < N; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            kube_informer_stop(ctx->informers[i]);
    }
}

struct informer_def {
    const char *name;
    const kube_resource_t *res;
    const char *label_selector;
    bool metadata_only;
    bool cluster_scoped;
    size_t store_offset;
};

#define SOLVER_SELECTOR "acme.cert-manager.io/http01-solver=true"

int main(int argc, char **argv)
{
    int rc = 1;
    char err[512];
    ctrl_options_t opts = {
        .namespace = "",
        .cluster_resource_namespace = "kube-system",
        .concurrent_workers = 5,
        .max_concurrent_challenges = 60,
        .max_challenges_per_schedule = 20,
        .check_retry_period_ms = 10000,
        .auto_approve = true,
        .solver_request_cpu = "10m",
        .solver_request_memory = "64Mi",
        .solver_limits_cpu = "100m",
        .solver_limits_memory = "64Mi",
        .solver_run_as_non_root = true,
        .selfcheck_passes = 2,
        .selfcheck_spacing_ms = 1000,
    };
    struct flags f = {
        .controllers = "*",
        .metrics_addr = "0.0.0.0:9402",
        .healthz_addr = "0.0.0.0:9403",
        .leader_elect = true,
        .le_namespace = "kube-system",
        .le_name = "kacme-controller",
        .le_lease_ms = 60000,
        .le_renew_ms = 40000,
        .le_retry_ms = 15000,
        .le_healthz_timeout_ms = 20000,
        .qps = 20,
        .burst = 50,
    };
    ctrl_dns01_options_t dns01;
    ctrl_dns01_options_init(&dns01);
    ctrl_http01_options_t http01;
    ctrl_http01_options_init(&http01);
    /* cert-manager flags kacme accepts but does not implement (warned about once logging is set up) */
    struct gates gates = {.n = 0};
    bool gateway_api = false, profiling = false;
    const char *copied_prefixes = NULL, *profiler_address = NULL;
    char solver_image[256], user_agent[128];
    snprintf(solver_image, sizeof(solver_image), "ghcr.io/kacme/acmesolver:%s", kacme_version());
    snprintf(user_agent, sizeof(user_agent), "kacme-controller/%s", kacme_version());
    opts.solver_image = solver_image;
    opts.user_agent = user_agent;

    enum {
        O_KUBECONFIG = 1000, O_NAMESPACE, O_CRNS, O_CONTROLLERS, O_WORKERS, O_MAXCC, O_MAXPS, O_RETRY, O_APPROVE,
        O_IMAGE, O_RQCPU, O_RQMEM, O_LMCPU, O_LMMEM, O_NONROOT, O_NS_SOLVER, O_EXTRA, O_PASSES, O_SPACING, O_QPS,
        O_BURST, O_LE, O_LENS, O_LEDUR, O_LERENEW, O_LERETRY, O_METRICS, O_HEALTHZ, O_V, O_LOGFMT, O_VERSION,
        O_HELP, O_DNS01_NS, O_DNS01_NS_ONLY, O_DNS01_SETTLE, O_RUNTIME_CLASS,
        O_AMBIENT, O_CLUSTER_AMBIENT, O_LEHEALTHZ, O_GATES, O_GATEWAY_API, O_COPIED_PREFIXES, O_PROFILING,
        O_PROFILER_ADDR
    };
    static const struct option longopts[] = {
        {"kubeconfig", required_argument, NULL, O_KUBECONFIG},
        {"namespace", required_argument, NULL, O_NAMESPACE},
        {"cluster-resource-namespace", required_argument, NULL, O_CRNS},
        {"controllers", required_argument, NULL, O_CONTROLLERS},
        {"concurrent-workers", required_argument, NULL, O_WORKERS},
        {"max-concurrent-challenges", required_argument, NULL, O_MAXCC},
        {"max-challenges-per-schedule", required_argument, NULL, O_MAXPS},
        {"dns01-check-retry-period", required_argument, NULL, O_RETRY},
        {"dns01-recursive-nameservers", required_argument, NULL, O_DNS01_NS},
        {"dns01-recursive-nameservers-only", optional_argument, NULL, O_DNS01_NS_ONLY},
        {"dns01-check-settle-period", required_argument, NULL, O_DNS01_SETTLE},
        {"issuer-ambient-credentials", optional_argument, NULL, O_AMBIENT},
        {"cluster-issuer-ambient-credentials", optional_argument, NULL, O_CLUSTER_AMBIENT},
        {"auto-approve", optional_argument, NULL, O_APPROVE},
        {"acme-http01-solver-image", required_argument, NULL, O_IMAGE},
        {"acme-http01-solver-resource-request-cpu", required_argument, NULL, O_RQCPU},
        {"acme-http01-solver-resource-request-memory", required_argument, NULL, O_RQMEM},
        {"acme-http01-solver-resource-limits-cpu", required_argument, NULL, O_LMCPU},
        {"acme-http01-solver-resource-limits-memory", required_argument, NULL, O_LMMEM},
        {"acme-http01-solver-run-as-non-root", optional_argument, NULL, O_NONROOT},
        {"acme-http01-solver-nameservers", required_argument, NULL, O_NS_SOLVER},
        {"acme-http01-solver-extra-labels", required_argument, NULL, O_EXTRA},
        {"acme-http01-solver-runtime-class-name", required_argument, NULL, O_RUNTIME_CLASS},
        {"acme-http01-self-check-passes", required_argument, NULL, O_PASSES},
        {"acme-http01-self-check-spacing", required_argument, NULL, O_SPACING},
        {"kube-api-qps", required_argument, NULL, O_QPS},
        {"kube-api-burst", required_argument, NULL, O_BURST},
        {"leader-elect", optional_argument, NULL, O_LE},
        {"leader-election-namespace", required_argument, NULL, O_LENS},
        {"leader-election-lease-duration", required_argument, NULL, O_LEDUR},
        {"leader-election-renew-deadline", required_argument, NULL, O_LERENEW},
        {"leader-election-retry-period", required_argument, NULL, O_LERETRY},
        {"metrics-listen-address", required_argument, NULL, O_METRICS},
        {"internal-healthz-listen-address", required_argument, NULL, O_HEALTHZ},
        {"internal-healthz-leader-election-timeout", required_argument, NULL, O_LEHEALTHZ},
        {"feature-gates", required_argument, NULL, O_GATES},
        {"enable-gateway-api", optional_argument, NULL, O_GATEWAY_API},
        {"copied-annotation-prefixes", required_argument, NULL, O_COPIED_PREFIXES},
        {"enable-profiling", optional_argument, NULL, O_PROFILING},
        {"profiler-address", required_argument, NULL, O_PROFILER_ADDR},
        {"v", required_argument, NULL, O_V},
        {"logging-format", required_argument, NULL, O_LOGFMT},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int o;
    opterr = 0;
    while ((o = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
        const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        bool bad = false;
        switch (o) {
        case O_KUBECONFIG: f.kubeconfig = optarg; break;
        case O_NAMESPACE: opts.namespace = optarg; break;
        case O_CRNS: opts.cluster_resource_namespace = optarg; break;
        case O_CONTROLLERS: f.controllers = optarg; break;
        case O_WORKERS: bad = parse_int(optarg, 1, 100, &opts.concurrent_workers) != 0; break;
        case O_MAXCC: bad = parse_int(optarg, 1, 100000, &opts.max_concurrent_challenges) != 0; break;
        case O_MAXPS: bad = parse_int(optarg, 1, 100000, &opts.max_challenges_per_schedule) != 0; break;
        case O_RETRY: bad = util_parse_duration_ms(optarg, &opts.check_retry_period_ms) != 0; break;
        case O_DNS01_NS: dns01.recursive_nameservers = optarg; break;
        case O_DNS01_NS_ONLY: bad = parse_bool(optarg, &dns01.recursive_nameservers_only) != 0; break;
        case O_DNS01_SETTLE: bad = util_parse_duration_ms(optarg, &dns01.check_settle_period_ms) != 0; break;
        case O_AMBIENT: bad = parse_bool(optarg, &dns01.issuer_ambient_credentials) != 0; break;
        case O_CLUSTER_AMBIENT: bad = parse_bool(optarg, &dns01.cluster_issuer_ambient_credentials) != 0; break;
        case O_APPROVE: bad = parse_bool(optarg, &opts.auto_approve) != 0; break;
        case O_IMAGE: opts.solver_image = optarg; break;
        case O_RQCPU: opts.solver_request_cpu = optarg; break;
        case O_RQMEM: opts.solver_request_memory = optarg; break;
        case O_LMCPU: opts.solver_limits_cpu = optarg; break;
        case O_LMMEM: opts.solver_limits_memory = optarg; break;
        case O_NONROOT: bad = parse_bool(optarg, &opts.solver_run_as_non_root) != 0; break;
        case O_NS_SOLVER: opts.solver_nameservers = optarg; break;
        case O_EXTRA: opts.solver_extra_labels = optarg; break;
        case O_RUNTIME_CLASS: http01.runtime_class_name = optarg; break;
        case O_PASSES: bad = parse_int(optarg, 1, 100, &opts.selfcheck_passes) != 0; break;
        case O_SPACING: bad = util_parse_duration_ms(optarg, &opts.selfcheck_spacing_ms) != 0; break;
        case O_QPS: {
            char *end;
            f.qps = strtod(optarg, &end);
            bad = *end || f.qps <= 0;
            break;
        }
        case O_BURST: bad = parse_int(optarg, 1, 100000, &f.burst) != 0; break;
        case O_LE: bad = parse_bool(optarg, &f.leader_elect) != 0; break;
        case O_LENS: f.le_namespace = optarg; break;
        case O_LEDUR: bad = util_parse_duration_ms(optarg, &f.le_lease_ms) != 0; break;
        case O_LERENEW: bad = util_parse_duration_ms(optarg, &f.le_renew_ms) != 0; break;
        case O_LERETRY: bad = util_parse_duration_ms(optarg, &f.le_retry_ms) != 0; break;
        case O_METRICS: f.metrics_addr = optarg; break;
        case O_HEALTHZ: f.healthz_addr = optarg; break;
        case O_LEHEALTHZ:
            /* 0 would mean "the library default" to kube_leader_start: refused rather than silently 20 s */
            bad = util_parse_duration_ms(optarg, &f.le_healthz_timeout_ms) != 0 || f.le_healthz_timeout_ms <= 0;
            break;
        case O_GATES:
            if (gates_parse(&gates, optarg, err, sizeof(err)) != 0) {
                fprintf(stderr, "kacme-controller: invalid value \"%s\" for --feature-gates: %s\n", optarg, err);
                return 2;
            }
            break;
        case O_GATEWAY_API: bad = parse_bool(optarg, &gateway_api) != 0; break;
        case O_COPIED_PREFIXES: copied_prefixes = optarg; break;
        case O_PROFILING: bad = parse_bool(optarg, &profiling) != 0; break;
        case O_PROFILER_ADDR: profiler_address = optarg; break;
        case O_V: bad = parse_int(optarg, 0, 10, &f.verbosity) != 0; break;
        case O_LOGFMT: bad = log_parse_format(optarg, &f.log_format) != 0; break;
        case O_VERSION: printf("kacme-controller %s\n", kacme_version()); return 0;
        case O_HELP: usage(stdout); return 0;
        default:
            fprintf(stderr, "kacme-controller: unknown or incomplete flag %s (see --help)\n", name);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "kacme-controller: invalid value \"%s\" for %s\n", optarg ? optarg : "", name);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kacme-controller: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (f.le_renew_ms >= f.le_lease_ms || f.le_retry_ms >= f.le_renew_ms) {
        fprintf(stderr, "kacme-controller: leader election needs retry-period < renew-deadline < lease-duration\n");
        return 2;
    }
    log_setup(f.verbosity, f.log_format);
    for (size_t i = 0; i < gates.n; i++) {
        if (strcmp(gates.g[i].name, GATE_PATH_TYPE_EXACT) == 0) {
            http01.ingress_path_type_exact = gates.g[i].on;
            LOG_INFO("feature gate set", "flag", "--feature-gates", "gate", gates.g[i].name, "value",
                     gates.g[i].on ? "true" : "false");
        } else
            LOG_WARN("feature gate not applicable to kacme; ignored", "flag", "--feature-gates", "gate",
                     gates.g[i].name, "value", gates.g[i].on ? "true" : "false");
    }
    if (gateway_api)
        LOG_WARN("gatewayHTTPRoute HTTP-01 solvers are not supported by kacme yet: Challenges using them fail",
                 "flag", "--enable-gateway-api");
    if (copied_prefixes)
        LOG_WARN("kacme has no Certificate controller, so there are no annotations to copy; ignored", "flag",
                 "--copied-annotation-prefixes", "value", copied_prefixes);
    if (profiling)
        LOG_WARN("profiling is not supported by kacme; ignored", "flag", "--enable-profiling");
    if (profiler_address)
        LOG_WARN("profiling is not supported by kacme; ignored", "flag", "--profiler-address", "value",
                 profiler_address);
    if (ctrl_dns01_set_options(&dns01, err, sizeof(err)) != 0) {
        fprintf(stderr, "kacme-controller: %s\n", err);
        return 2;
    }
    ctrl_http01_set_options(&http01);

    /* Signals are taken synchronously by main with sigtimedwait: block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    ctrl_ctx_t ctx = {.opts = &opts};
    kube_config_t *cfg = NULL;
    kube_leader_t *leader = NULL;
    ops_server_t *metrics_srv = NULL, *health_srv = NULL;
    struct running run[MAX_CONTROLLERS] = {0};
    size_t n_run = 0;
    struct depth_ctx depth = {0};

    if (http_global_init() != 0) {
        LOG_ERROR("cannot initialise libcurl");
        goto out;
    }
    cfg = kube_config_load(f.kubeconfig, NULL, err, sizeof(err));
    if (!cfg) {
        LOG_ERROR("cannot load Kubernetes client configuration", "error", err);
        goto out;
    }
    kube_client_opts_t kopts = {.component = "controller", .qps = f.qps, .burst = f.burst};
    ctx.kube = kube_client_new(cfg, &kopts, err, sizeof(err));
    if (!ctx.kube) {
        LOG_ERROR("cannot create the Kubernetes client", "error", err);
        goto out;
    }
    ctx.accounts = ctrl_accounts_new();
    ctx.metrics = metrics_registry_new();
    if (!ctx.accounts || !ctx.metrics)
        goto out;
    static const char *const acme_labels[] = {"scheme", "host", "action", "method", "status", NULL};
    static const char *const ctl_labels[] = {"controller", NULL};
    ctx.m_acme_requests = metrics_new_counter(ctx.metrics, "certmanager_http_acme_client_request_count",
                                              "The number of requests made by the ACME client.", acme_labels);
    ctx.m_acme_request_duration =
        metrics_new_summary(ctx.metrics, "certmanager_http_acme_client_request_duration_seconds",
                            "The HTTP request latencies in seconds for the ACME client.", acme_labels);
    ctx.m_sync_calls = metrics_new_counter(ctx.metrics, "certmanager_controller_sync_call_count",
                                           "The number of sync() calls made by a controller.", ctl_labels);
    ctx.m_sync_errors = metrics_new_counter(ctx.metrics, "certmanager_controller_sync_error_count",
                                            "The number of errors encountered during controller sync().", ctl_labels);
    /* cert-manager still exports the deprecated counter next to the gauge; dashboards may use either */
    metrics_new_collector(ctx.metrics, "certmanager_clock_time_seconds",
                          "DEPRECATED: use certmanager_clock_time_seconds_gauge. The clock time in seconds since "
                          "1970-01-01 UTC.",
                          METRICS_COUNTER, NULL, collect_clock, NULL);
    metrics_new_collector(ctx.metrics, "certmanager_clock_time_seconds_gauge",
                          "The clock time in seconds since 1970-01-01 UTC.", METRICS_GAUGE, NULL, collect_clock, NULL);
    metrics_register_process(ctx.metrics);

    /* Controllers selected by --controllers. */
    const ctrl_controller_t *all[] = {&ctrl_issuers_controller, &ctrl_clusterissuers_controller,
                                      &ctrl_certificaterequests_acme_controller, &ctrl_orders_controller,
                                      &ctrl_challenges_controller};
    static const char *const all_names[] = {"issuers", "clusterissuers", "certificaterequests-issuer-acme", "orders",
                                            "challenges"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (!controller_enabled(f.controllers, all_names[i]))
            continue;
        if (!all[i]) {
            LOG_WARN("controller not built into this binary", "controller", all_names[i]);
            continue;
        }
        if (strcmp(all_names[i], "clusterissuers") == 0 && opts.namespace[0]) {
            LOG_INFO("ClusterIssuers are not served with --namespace", "namespace", opts.namespace);
            continue;
        }
        run[n_run].c = all[i];
        run[n_run].ctx = &ctx;
        n_run++;
    }

    /* Shared informers: only what the controllers need; solver objects selected by label. */
    const struct informer_def infs[] = {
        {"issuers", &CTRL_RES_ISSUERS, NULL, false, false, offsetof(ctrl_ctx_t, issuers)},
        {"clusterissuers", &CTRL_RES_CLUSTERISSUERS, NULL, false, true, offsetof(ctrl_ctx_t, clusterissuers)},
        {"certificaterequests", &CTRL_RES_CERTIFICATEREQUESTS, NULL, false, false,
         offsetof(ctrl_ctx_t, certificaterequests)},
        {"orders", &CTRL_RES_ORDERS, NULL, false, false, offsetof(ctrl_ctx_t, orders)},
        {"challenges", &CTRL_RES_CHALLENGES, NULL, false, false, offsetof(ctrl_ctx_t, challenges)},
        {"pods", &KUBE_RES_PODS, SOLVER_SELECTOR, true, false, offsetof(ctrl_ctx_t, pods)},
        {"services", &KUBE_RES_SERVICES, SOLVER_SELECTOR, true, false, offsetof(ctrl_ctx_t, services)},
        {"ingresses", &KUBE_RES_INGRESSES, SOLVER_SELECTOR, false, false, offsetof(ctrl_ctx_t, ingresses)},
    };
    for (size_t i = 0; i < sizeof(infs) / sizeof(infs[0]); i++) {
        if (infs[i].cluster_scoped && opts.namespace[0])
            continue;
        kube_informer_opts_t io = {
            .resource = infs[i].res,
            .namespace = infs[i].cluster_scoped ? NULL : opts.namespace,
            .label_selector = infs[i].label_selector,
            .metadata_only = infs[i].metadata_only,
            .name = infs[i].name,
        };
        kube_informer_t *inf = kube_informer_new(ctx.kube, &io, err, sizeof(err));
        if (!inf) {
            LOG_ERROR("cannot create informer", "informer", infs[i].name, "error", err);
            goto out;
        }
        ctx.informers[i] = inf;
        ctx.informer_names[i] = infs[i].name;
        *(kube_store_t **)((char *)&ctx + infs[i].store_offset) = kube_informer_store(inf);
    }

    /* Queues, recorders and informer handlers. */
    for (size_t i = 0; i < n_run; i++) {
        const ctrl_controller_t *c = run[i].c;
        bool issuer_queue = strcmp(c->name, "issuers") == 0 || strcmp(c->name, "clusterissuers") == 0;
        kube_workqueue_opts_t qo = {.name = c->name, .max_delay_ms = issuer_queue ? 300000 : 0};
        kube_workqueue_t **qp = (kube_workqueue_t **)((char *)&ctx + c->queue_offset);
        if (!*qp && !(*qp = kube_workqueue_new(&qo)))
            goto out;
    }
    struct {
        const char *component;
        kube_event_recorder_t **rec;
    } recs[] = {
        {"kacme-issuers", &ctx.ev_issuers},
        {"kacme-certificaterequests", &ctx.ev_certificaterequests},
        {"kacme-orders", &ctx.ev_orders},
        {"kacme-challenges", &ctx.ev_challenges},
    };
    char host[128] = "";
    gethostname(host, sizeof(host) - 1);
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        kube_event_recorder_opts_t eo = {.component = recs[i].component, .host = host};
        *recs[i].rec = kube_event_recorder_new(ctx.kube, &eo, err, sizeof(err));
        if (!*recs[i].rec) {
            LOG_ERROR("cannot start event recorder", "error", err);
            goto out;
        }
    }
    for (size_t i = 0; i < n_run; i++) {
        if (run[i].c->setup && run[i].c->setup(&ctx, err, sizeof(err)) != 0) {
            LOG_ERROR("controller setup failed", "controller", run[i].c->name, "error", err);
            goto out;
        }
    }
    if (ctrl_challenge_metrics_register && ctrl_challenge_metrics_register(&ctx) != 0)
        LOG_WARN("cannot register certmanager_certificate_challenge_status");
    depth.ctx = &ctx;
    depth.run = run;
    depth.n = n_run;
    static const char *const q_labels[] = {"name", NULL};
    metrics_new_collector(ctx.metrics, "kacme_workqueue_depth", "Keys ready in each controller's workqueue.",
                          METRICS_GAUGE, q_labels, collect_depth, &depth);
    metrics_new_collector(ctx.metrics, "kacme_scheduler_challenges_in_progress",
                          "Challenges with status.processing=true (scheduler slots in use).", METRICS_GAUGE, NULL,
                          collect_in_progress, &ctx);

    /* Operations endpoints run regardless of leadership. */
    if (strcmp(f.metrics_addr, "0") != 0) {
        metrics_srv = ops_server_new(f.metrics_addr, NULL, err, sizeof(err));
        if (!metrics_srv || ops_server_handle(metrics_srv, "/metrics", ops_metrics_handler, ctx.metrics) != 0 ||
            ops_server_start(metrics_srv, err, sizeof(err)) != 0) {
            LOG_ERROR("cannot serve metrics", "address", f.metrics_addr, "error", err);
            goto out;
        }
        char port[16];
        snprintf(port, sizeof(port), "%d", ops_server_port(metrics_srv));
        LOG_INFO("serving metrics", "address", f.metrics_addr, "port", port);
    }
    health_srv = ops_server_new(f.healthz_addr, NULL, err, sizeof(err));
    if (!health_srv || ops_server_serve_health(health_srv) != 0) {
        LOG_ERROR("cannot set up health endpoints", "address", f.healthz_addr, "error", err);
        goto out;
    }
    ops_clock_health_check(NULL, err, sizeof(err));
    ops_server_add_check(health_srv, OPS_LIVEZ | OPS_HEALTHZ, "clockHealth", ops_clock_health_check, NULL);
    ops_server_add_check(health_srv, OPS_READYZ, "informers", informers_synced_check, &ctx);

    LOG_INFO("starting kacme-controller", "version", kacme_version(), "controllers", f.controllers,
             "namespace", opts.namespace[0] ? opts.namespace : "<all>");
    for (size_t i = 0; i < sizeof(ctx.informers) / sizeof(ctx.informers[0]); i++)
        if (ctx.informers[i] && kube_informer_start(ctx.informers[i]) != 0)
            goto out;

    if (f.leader_elect) {
        kube_leader_opts_t lo = {
            .name = f.le_name,
            .namespace = f.le_namespace,
            .lease_duration_ms = f.le_lease_ms,
            .renew_deadline_ms = f.le_renew_ms,
            .retry_period_ms = f.le_retry_ms,
            .healthz_timeout_ms = f.le_healthz_timeout_ms,
            .on_started_leading = on_started_leading,
            .on_stopped_leading = on_stopped_leading,
        };
        leader = kube_leader_start(ctx.kube, &lo, err, sizeof(err));
        if (!leader) {
            LOG_ERROR("cannot start leader election", "error", err);
            goto out;
        }
        ops_server_add_check(health_srv, OPS_LIVEZ | OPS_HEALTHZ, "leaderElection", kube_leader_health_check,
                             leader);
    } else {
        leading = true;
    }
    if (ops_server_start(health_srv, err, sizeof(err)) != 0) {
        LOG_ERROR("cannot serve health endpoints", "address", f.healthz_addr, "error", err);
        goto out;
    }

    /* Wait for leadership (or a signal), then informers, then start the controllers. */
    bool started = false, stop = false;
    while (!stop) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            LOG_INFO("shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            stop = true;
            rc = 0;
            break;
        }
        if (leadership_lost) {
            LOG_ERROR("leader election lost");
            rc = 1;
            break;
        }
        pthread_mutex_lock(&lead_lock);
        bool lead = leading;
        pthread_mutex_unlock(&lead_lock);
        if (!lead || started)
            continue;
        if (informers_synced_check(&ctx, err, sizeof(err)) != 0)
            continue;
        LOG_INFO("caches synced; starting controllers");
        for (size_t i = 0; i < n_run; i++) {
            kube_workqueue_t *q = ctrl_queue(&ctx, run[i].c);
            run[i].workers = kube_workers_start(q, opts.concurrent_workers, counted_reconcile, &run[i], err,
                                                sizeof(err));
            if (!run[i].workers) {
                LOG_ERROR("cannot start workers", "controller", run[i].c->name, "error", err);
                goto out;
            }
            if (run[i].c->start) {
                if (run[i].c->start(&ctx, err, sizeof(err)) != 0) {
                    LOG_ERROR("cannot start controller", "controller", run[i].c->name, "error", err);
                    goto out;
                }
                run[i].started = true;
            }
            LOG_INFO("controller started", "controller", run[i].c->name);
        }
        started = true;
    }

out:
    for (size_t i = 0; i < n_run; i++)
        if (run[i].started && run[i].c->stop)
            run[i].c->stop(&ctx);
    for (size_t i = 0; i < n_run; i++)
        kube_workers_stop(run[i].workers, false);
    for (size_t i = 0; i < n_run; i++) {
        kube_workqueue_t **qp = (kube_workqueue_t **)((char *)&ctx + run[i].c->queue_offset);
        if (*qp) {
            kube_workqueue_shutdown(*qp, false);
            kube_workqueue_free(*qp);
            *qp = NULL;
        }
    }
    kube_leader_stop(leader);
    stop_informers(&ctx);
    ops_server_free(health_srv);
    ops_server_free(metrics_srv);
    kube_event_recorder_t *all_recs[] = {ctx.ev_issuers, ctx.ev_certificaterequests, ctx.ev_orders,
                                         ctx.ev_challenges};
    for (size_t i = 0; i < sizeof(all_recs) / sizeof(all_recs[0]); i++) {
        if (all_recs[i])
            kube_event_recorder_flush(all_recs[i], 2000);
        kube_event_recorder_free(all_recs[i]);
    }
    for (size_t i = 0; i < sizeof(ctx.informers) / sizeof(ctx.informers[0]); i++)
        kube_informer_free(ctx.informers[i]);
    ctrl_accounts_free(ctx.accounts);
    metrics_registry_free(ctx.metrics);
    kube_client_free(ctx.kube);
    kube_config_free(cfg);
    LOG_INFO("stopped", "exit", rc == 0 ? "0" : "1");
    return rc;
}
