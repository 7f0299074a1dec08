/* SPDX-License-Identifier: Apache-2.0 */
/* kacme-webhook: the validating admission webhook for Orders, Challenges, CertificateRequests and Issuers.
 * Argument parsing, wiring and the signal loop only; the work is in admission.c, validate_*.c, server.c,
 * servingcert.c and dynamic.c (the latter in a module loaded on demand: dynamic_module.h). */
#include <getopt.h>
#include <malloc.h>
#ifdef KACME_WEBHOOK_MIMALLOC
#include <mimalloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamic_module.h"
#include "ops/health.h"
#include "ops/metrics.h"
#include "server.h"
#include "servingcert.h"
#include "tlsopts.h"
#include "util/duration.h"
#include "util/log.h"
#include "util/version.h"

#define MAX_LIST 64

struct opts {
    long secure_port, healthz_port;
    const char *bind_address;
    const char *cert_file, *key_file;
    const char *ca_ns, *ca_name, *webhook_config;
    const char *dns_names[MAX_LIST];
    size_t n_dns_names;
    double leaf_seconds;
    const char *creators[MAX_LIST];
    size_t n_creators;
    const char *kubeconfig;
    long verbosity;
    enum log_format format;
    long max_connections, timeout_s;
    const char *tls_min_version;
    const char *metrics_addr;
    const char *cipher_suites[MAX_LIST];
    size_t n_cipher_suites;
    char *copies[2 * MAX_LIST]; /* owned: the list flags' strings, which the lists above borrow from */
    size_t n_copies;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kacme-webhook [flags]\n"
            "  --secure-port N                         HTTPS port for /validate (default 10250)\n"
            "  --healthz-port N                        plain-HTTP /livez /healthz /readyz port (default 6080)\n"
            "  --bind-address IP                       listen address (default 0.0.0.0)\n"
            "  --tls-cert-file PATH                    static serving certificate (PEM chain); re-read on change\n"
            "  --tls-private-key-file PATH             its private key (PEM)\n"
            "  --dynamic-serving-ca-secret-namespace NS  dynamic mode: namespace of the CA Secret\n"
            "  --dynamic-serving-ca-secret-name NAME   dynamic mode: name of the CA Secret\n"
            "  --dynamic-serving-dns-names A,B         dynamic mode: leaf SANs (IP literals become IP SANs)\n"
            "  --dynamic-serving-leaf-duration D       dynamic mode: leaf lifetime (default 168h)\n"
            "  --webhook-configuration-name NAME       dynamic mode: ValidatingWebhookConfiguration whose\n"
            "                                          caBundle is kept in sync with the CA\n"
            "  --challenge-creators A,group:B          who may create Challenges (default\n"
            "                                          " ADMISSION_DEFAULT_CHALLENGE_CREATOR ")\n"
            "  --metrics-listen-address ADDR           Prometheus /metrics (default 0.0.0.0:9402; '0' disables)\n"
            "  --tls-min-version V                     VersionTLS12 (default) or VersionTLS13\n"
            "  --tls-cipher-suites A,B                 TLS 1.2 cipher suites, Go names (default: GnuTLS NORMAL)\n"
            "  --max-connections N                     connection cap (default 1000)\n"
            "  --connection-timeout-seconds N          idle/read timeout (default 30)\n"
            "  --kubeconfig PATH                       API server access (else $KUBECONFIG, else in-cluster)\n"
            "  --v N                                   log verbosity (default 0)\n"
            "  --logging-format text|json              log format (default text)\n"
            "  --version                               print the version\n");
}

static int split_into(struct opts *o, const char *arg, const char **list, size_t *n)
{
    if (o->n_copies >= sizeof(o->copies) / sizeof(o->copies[0]))
        return -1;
    char *copy = strdup(arg); /* the list borrows from it; freed at exit */
    if (!copy)
        return -1;
    o->copies[o->n_copies++] = copy;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (!*t)
            continue;
        if (*n >= MAX_LIST)
            return -1;
        list[(*n)++] = t;
    }
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

enum {
    O_SECURE_PORT = 1000, O_HEALTHZ_PORT, O_BIND, O_CERT, O_KEY, O_CA_NS, O_CA_NAME, O_DNS, O_LEAF, O_WHC,
    O_CREATORS, O_KUBECONFIG, O_V, O_FORMAT, O_MAXCONN, O_TIMEOUT, O_VERSION, O_HELP, O_TLS_MIN, O_TLS_SUITES,
    O_METRICS,
};

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"secure-port", required_argument, NULL, O_SECURE_PORT},
        {"healthz-port", required_argument, NULL, O_HEALTHZ_PORT},
        {"bind-address", required_argument, NULL, O_BIND},
        {"tls-cert-file", required_argument, NULL, O_CERT},
        {"tls-private-key-file", required_argument, NULL, O_KEY},
        {"dynamic-serving-ca-secret-namespace", required_argument, NULL, O_CA_NS},
        {"dynamic-serving-ca-secret-name", required_argument, NULL, O_CA_NAME},
        {"dynamic-serving-dns-names", required_argument, NULL, O_DNS},
        {"dynamic-serving-leaf-duration", required_argument, NULL, O_LEAF},
        {"webhook-configuration-name", required_argument, NULL, O_WHC},
        {"challenge-creators", required_argument, NULL, O_CREATORS},
        {"kubeconfig", required_argument, NULL, O_KUBECONFIG},
        {"v", required_argument, NULL, O_V},
        {"logging-format", required_argument, NULL, O_FORMAT},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"connection-timeout-seconds", required_argument, NULL, O_TIMEOUT},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {"tls-min-version", required_argument, NULL, O_TLS_MIN},
        {"tls-cipher-suites", required_argument, NULL, O_TLS_SUITES},
        {"metrics-listen-address", required_argument, NULL, O_METRICS},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_SECURE_PORT:
            if (parse_long(optarg, 0, 65535, &o->secure_port) < 0)
                goto bad;
            break;
        case O_HEALTHZ_PORT:
            if (parse_long(optarg, 0, 65535, &o->healthz_port) < 0)
                goto bad;
            break;
        case O_BIND: o->bind_address = optarg; break;
        case O_CERT: o->cert_file = optarg; break;
        case O_KEY: o->key_file = optarg; break;
        case O_CA_NS: o->ca_ns = optarg; break;
        case O_CA_NAME: o->ca_name = optarg; break;
        case O_DNS:
            if (split_into(o, optarg, o->dns_names, &o->n_dns_names) < 0)
                goto bad;
            break;
        case O_LEAF:
            if (util_parse_duration(optarg, &o->leaf_seconds) < 0 || o->leaf_seconds < 60)
                goto bad;
            break;
        case O_WHC: o->webhook_config = optarg; break;
        case O_CREATORS:
            if (split_into(o, optarg, o->creators, &o->n_creators) < 0)
                goto bad;
            break;
        case O_KUBECONFIG: o->kubeconfig = optarg; break;
        case O_V:
            if (parse_long(optarg, 0, 10, &o->verbosity) < 0)
                goto bad;
            break;
        case O_FORMAT:
            if (log_parse_format(optarg, &o->format) < 0)
                goto bad;
            break;
        case O_MAXCONN:
            if (parse_long(optarg, 1, 100000, &o->max_connections) < 0)
                goto bad;
            break;
        case O_TIMEOUT:
            if (parse_long(optarg, 1, 3600, &o->timeout_s) < 0)
                goto bad;
            break;
        case O_TLS_MIN: o->tls_min_version = optarg; break;
        case O_METRICS: o->metrics_addr = optarg; break;
        case O_TLS_SUITES:
            if (split_into(o, optarg, o->cipher_suites, &o->n_cipher_suites) < 0)
                goto bad;
            break;
        case O_VERSION: printf("kacme-webhook %s\n", kacme_version()); exit(0);
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        continue;
    bad:
        fprintf(stderr, "kacme-webhook: invalid value for --%s: %s\n", longopts[c - O_SECURE_PORT].name, optarg);
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "kacme-webhook: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Dynamic mode's entry points; all NULL in static mode. */
static dynamic_module_api_t dyn;

/* /readyz and /healthz: a serving certificate is loaded and, in dynamic mode, its CA is published. */
static int ready_check(void *ud, char *reason, size_t reasonlen)
{
    (void)ud;
    if (!servingcert_ready()) {
        snprintf(reason, reasonlen, "no serving certificate yet");
        return -1;
    }
    if (dyn.ready && !dyn.ready()) {
        snprintf(reason, reasonlen, "the serving CA is not published yet");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.secure_port = 10250, .healthz_port = 6080, .leaf_seconds = 168 * 3600.0,
                     .max_connections = 1000, .timeout_s = 30, .metrics_addr = "0.0.0.0:9402"};
    int rc = 1;
    webhook_server_t *srv = NULL;
    ops_server_t *hl = NULL, *ms = NULL;
    metrics_registry_t *reg = NULL;
    webhook_metrics_t wm = {0};

    char err[512];

    if (parse(argc, argv, &o) < 0) {
        rc = 2;
        goto out;
    }
#ifdef KACME_WEBHOOK_MIMALLOC
    /* Footprint (issue 3: RSS <= 8 MB): give pages freed after a burst of connections back to the kernel at
     * once instead of after mimalloc's default delay. */
    mi_option_set(mi_option_decommit_delay, 0);
#else
    /* Footprint: two malloc arenas are enough for two polling threads (issue 3: RSS <= 8 MB). */
    mallopt(M_ARENA_MAX, 2);
#endif
    log_setup((int)o.verbosity, o.format);
    if (o.n_creators == 0)
        o.creators[o.n_creators++] = ADMISSION_DEFAULT_CHALLENGE_CREATOR;
    bool static_mode = o.cert_file || o.key_file;
    bool dynamic_mode = o.ca_ns || o.ca_name;
    if (static_mode && dynamic_mode) {
        fprintf(stderr, "kacme-webhook: use either --tls-cert-file/--tls-private-key-file or the "
                        "--dynamic-serving-* flags, not both\n");
        rc = 2;
        goto out;
    }
    if (static_mode && (!o.cert_file || !o.key_file)) {
        fprintf(stderr, "kacme-webhook: --tls-cert-file and --tls-private-key-file go together\n");
        rc = 2;
        goto out;
    }
    if (dynamic_mode && (!o.ca_ns || !o.ca_name || o.n_dns_names == 0)) {
        fprintf(stderr, "kacme-webhook: dynamic mode needs --dynamic-serving-ca-secret-namespace, "
                        "--dynamic-serving-ca-secret-name and --dynamic-serving-dns-names\n");
        rc = 2;
        goto out;
    }
    if (!static_mode && !dynamic_mode) {
        fprintf(stderr, "kacme-webhook: no serving certificate source: give --tls-cert-file/--tls-private-key-file "
                        "or the --dynamic-serving-* flags\n");
        rc = 2;
        goto out;
    }

    char priorities[512];
    if (tlsopts_priorities(o.tls_min_version, o.cipher_suites, o.n_cipher_suites, priorities, sizeof(priorities), err,
                           sizeof(err)) < 0) {
        fprintf(stderr, "kacme-webhook: %s\n", err);
        rc = 2;
        goto out;
    }

    /* Signals are taken synchronously by the main thread; every thread started below inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    LOG_INFO("starting", "component", "kacme-webhook", "version", kacme_version(), "mode",
             static_mode ? "static" : "dynamic");
    if (static_mode) {
        if (servingcert_watch_files(o.cert_file, o.key_file, 2000, err, sizeof(err)) < 0) {
            LOG_ERROR("cannot load the serving certificate", "error", err);
            goto out;
        }
    } else {
        dynamic_config_t dc = {.kubeconfig = o.kubeconfig, .namespace_ = o.ca_ns, .secret_name = o.ca_name,
                               .dns_names = o.dns_names, .n_dns_names = o.n_dns_names,
                               .leaf_seconds = o.leaf_seconds, .webhook_configuration = o.webhook_config};
        if (dynamic_module_load(&dyn, err, sizeof(err)) < 0) {
            LOG_ERROR("cannot load dynamic serving mode", "error", err);
            goto out;
        }
        if (dyn.start(&dc, err, sizeof(err)) < 0) {
            LOG_ERROR("cannot start the dynamic serving certificate", "error", err);
            goto out;
        }
    }
    admission_policy_t policy = {.challenge_creators = o.creators, .n_challenge_creators = o.n_creators};
    char haddr[96];
    bool v6 = o.bind_address && strchr(o.bind_address, ':');
    snprintf(haddr, sizeof(haddr), "%s%s%s:%ld", v6 ? "[" : "", o.bind_address ? o.bind_address : "", v6 ? "]" : "",
             o.healthz_port);
    ops_clock_health_check(NULL, err, sizeof(err)); /* baseline */
    hl = ops_server_new(haddr, NULL, err, sizeof(err));
    if (!hl || ops_server_serve_health(hl) < 0 ||
        ops_server_add_check(hl, OPS_READYZ | OPS_HEALTHZ, "servingCertificate", ready_check, NULL) < 0 ||
        ops_server_add_check(hl, OPS_LIVEZ, "clockHealth", ops_clock_health_check, NULL) < 0 ||
        ops_server_start(hl, err, sizeof(err)) < 0) {
        LOG_ERROR("cannot start the health listener", "error", hl ? err : "bad --healthz-port/--bind-address");
        goto out;
    }
    if (strcmp(o.metrics_addr, "0") != 0) {
        reg = metrics_registry_new();
        if (!reg || webhook_metrics_register(reg, &wm) < 0 || metrics_register_process(reg) < 0) {
            LOG_ERROR("cannot set up metrics", "error", "out of memory");
            goto out;
        }
        ms = ops_server_new(o.metrics_addr, NULL, err, sizeof(err));
        if (!ms || ops_server_handle(ms, "/metrics", ops_metrics_handler, reg) < 0 ||
            ops_server_start(ms, err, sizeof(err)) < 0) {
            LOG_ERROR("cannot serve metrics", "address", o.metrics_addr, "error", ms ? err : "bad --metrics-listen-address");
            goto out;
        }
    }
    webhook_server_config_t sc = {.bind_address = o.bind_address, .port = (unsigned short)o.secure_port,
                                  .max_connections = (unsigned)o.max_connections, .timeout_s = (unsigned)o.timeout_s,
                                  .tls_priorities = priorities, .policy = &policy,
                                  .metrics = ms ? &wm : NULL};
    srv = webhook_server_start(&sc, err, sizeof(err));
    if (!srv) {
        LOG_ERROR("cannot start the HTTPS listener", "error", err);
        goto out;
    }
    char ports[32], hports[32], mports[32] = "0";
    snprintf(ports, sizeof(ports), "%u", (unsigned)webhook_server_port(srv));
    snprintf(hports, sizeof(hports), "%d", ops_server_port(hl));
    if (ms)
        snprintf(mports, sizeof(mports), "%d", ops_server_port(ms));
    LOG_INFO("serving", "securePort", ports, "healthzPort", hports, "metricsPort", mports);
    /* Wait for SIGTERM/SIGINT; every 5 s hand memory freed after bursts of connections back to the
     * kernel (TLS sessions are freed in bulk when clients go away). */
    int sig;
    struct timespec tick = {.tv_sec = 5};
    while ((sig = sigtimedwait(&set, NULL, &tick)) < 0) {
#ifdef KACME_WEBHOOK_MIMALLOC
        mi_collect(false);
#else
        malloc_trim(0);
#endif
    }
    LOG_INFO("shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
out:
    webhook_server_stop(srv, 5000);
    ops_server_free(hl);
    ops_server_free(ms);
    metrics_registry_free(reg);
    if (dyn.stop)
        dyn.stop();
    servingcert_shutdown();
    for (size_t i = 0; i < o.n_copies; i++)
        free(o.copies[i]);
    return rc;
}
