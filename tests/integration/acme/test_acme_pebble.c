/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration: the ACME client against a real Pebble (Debian package) started here on loopback.
 *
 * Per scenario: a fresh temp dir with a self-made TLS CA + server cert for Pebble, pebble-challtestsrv as
 * Pebble's DNS (-defaultIPv4 127.0.0.1, its own challenge listeners off) and an in-process HTTP-01
 * responder (libmicrohttpd on 127.0.0.1:0) whose port is Pebble's httpPort. PEBBLE_VA_NOSLEEP=1. Ports are
 * picked by binding port 0; children get PR_SET_PDEATHSIG and are killed on every exit path.
 *
 * The driver behaves like a controller: TRANSIENT → retry a bounded number of times, processing/pending →
 * poll with a short bounded wait. The client itself never sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme.h"
#include "acme/acme_parse.h"
#include "util/http.h"

#define PEBBLE "/usr/bin/pebble"
#define CHALLTESTSRV "/usr/bin/pebble-challtestsrv"
#define EAB_KID "kid-1"
#define EAB_MAC "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"

/* ----- HTTP-01 responder ------------------------------------------------------------------------------- */

#define MAX_TOKENS 64
static pthread_mutex_t tok_mu = PTHREAD_MUTEX_INITIALIZER;
static char *tok_token[MAX_TOKENS], *tok_keyauth[MAX_TOKENS];
static size_t n_tok;

static void responder_put(const char *token, const char *keyauth)
{
    pthread_mutex_lock(&tok_mu);
    if (n_tok < MAX_TOKENS) {
        tok_token[n_tok] = strdup(token);
        tok_keyauth[n_tok] = strdup(keyauth);
        n_tok++;
    }
    pthread_mutex_unlock(&tok_mu);
}

static void responder_reset(void)
{
    pthread_mutex_lock(&tok_mu);
    for (size_t i = 0; i < n_tok; i++) {
        free(tok_token[i]);
        free(tok_keyauth[i]);
    }
    n_tok = 0;
    pthread_mutex_unlock(&tok_mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    static const char prefix[] = "/.well-known/acme-challenge/";
    char *body = NULL;
    if (strcmp(method, "GET") == 0 && strncmp(url, prefix, sizeof(prefix) - 1) == 0) {
        const char *token = url + sizeof(prefix) - 1;
        pthread_mutex_lock(&tok_mu);
        for (size_t i = 0; i < n_tok; i++)
            if (strcmp(tok_token[i], token) == 0)
                body = strdup(tok_keyauth[i]);
        pthread_mutex_unlock(&tok_mu);
    }
    struct MHD_Response *r;
    enum MHD_Result ret;
    if (body) {
        r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, r);
    }
    MHD_destroy_response(r);
    return ret;
}

/* ----- processes and files ----------------------------------------------------------------------------- */

typedef struct env {
    char dir[64];
    char ca_file[128];
    char dir_url[128];
    char mgmt_url[128];
    int acme_port, mgmt_port, dns_port, dns_mgmt_port, tls_port, http_port;
    pid_t pebble, challtestsrv;
    struct MHD_Daemon *mhd;
    char *const *pebble_env;
    bool eab;
} env_t;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
    close(s);
    return ntohs(a.sin_port);
}

static pid_t spawn(const char *log, char *const argv[], char *const extra_env[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        for (char *const *e = extra_env; e && *e; e++)
            putenv(*e);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

static bool port_open(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void wait_port(int port, pid_t pid)
{
    for (int i = 0; i < 300; i++) { /* ≤ 15 s */
        if (port_open(port))
            return;
        assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* child still alive */
        msleep(50);
    }
    fail_msg("port %d did not open", port);
}

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

static X509 *new_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_NAME_free(n);
    X509_set_pubkey(x, key);
    if (ca) {
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
        add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
    }
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_pem_cert(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
}

/* TLS material for Pebble's listeners: a CA (trusted by the client) and a server cert for 127.0.0.1. */
static void make_tls(env_t *e)
{
    EVP_PKEY *cak = EVP_EC_gen("P-256"), *k = EVP_EC_gen("P-256");
    X509 *ca = new_cert("kacme test CA", cak, NULL, NULL, true);
    X509 *srv = new_cert("localhost", k, ca, cak, false);
    char p[160];
    snprintf(e->ca_file, sizeof(e->ca_file), "%s/ca.pem", e->dir);
    write_pem_cert(e->ca_file, ca);
    snprintf(p, sizeof(p), "%s/cert.pem", e->dir);
    write_pem_cert(p, srv);
    snprintf(p, sizeof(p), "%s/key.pem", e->dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
}

static void start_pebble(env_t *e)
{
    char cfg[160], log[160], dns[64];
    snprintf(cfg, sizeof(cfg), "%s/pebble.json", e->dir);
    snprintf(log, sizeof(log), "%s/pebble.log", e->dir);
    snprintf(dns, sizeof(dns), "127.0.0.1:%d", e->dns_port);
    char *argv[] = {PEBBLE, "-config", cfg, "-dnsserver", dns, NULL};
    e->pebble = spawn(log, argv, e->pebble_env);
    wait_port(e->acme_port, e->pebble);
    wait_port(e->mgmt_port, e->pebble);
}

static env_t *cur_env; /* torn down by teardown() even when a test fails half-way */

static void env_up(env_t *e, char *const *pebble_env, bool eab)
{
    memset(e, 0, sizeof(*e));
    cur_env = e;
    snprintf(e->dir, sizeof(e->dir), "/tmp/kacme-acme-pebble-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    e->pebble_env = pebble_env;
    e->eab = eab;
    make_tls(e);
    responder_reset();
    e->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
                              MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET,
                                                                       .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
                              MHD_OPTION_END);
    assert_non_null(e->mhd);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(e->mhd, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    e->http_port = info->port;
    e->acme_port = free_port();
    e->mgmt_port = free_port();
    e->dns_port = free_port();
    e->dns_mgmt_port = free_port();
    e->tls_port = free_port();

    char dns[64], mgmt[64], log[160];
    snprintf(dns, sizeof(dns), "127.0.0.1:%d", e->dns_port);
    snprintf(mgmt, sizeof(mgmt), "127.0.0.1:%d", e->dns_mgmt_port);
    snprintf(log, sizeof(log), "%s/challtestsrv.log", e->dir);
    char *cargv[] = {CHALLTESTSRV, "-dns01", dns, "-http01", "", "-https01", "", "-tlsalpn01", "",
                     "-management", mgmt, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", NULL};
    e->challtestsrv = spawn(log, cargv, NULL);
    wait_port(e->dns_mgmt_port, e->challtestsrv);

    char path[160], cfg[1024];
    snprintf(path, sizeof(path), "%s/pebble.json", e->dir);
    snprintf(cfg, sizeof(cfg),
             "{\"pebble\":{\"listenAddress\":\"127.0.0.1:%d\",\"managementListenAddress\":\"127.0.0.1:%d\","
             "\"certificate\":\"%s/cert.pem\",\"privateKey\":\"%s/key.pem\",\"httpPort\":%d,\"tlsPort\":%d,"
             "\"ocspResponderURL\":\"\",\"externalAccountBindingRequired\":%s%s}}",
             e->acme_port, e->mgmt_port, e->dir, e->dir, e->http_port, e->tls_port, eab ? "true" : "false",
             eab ? ",\"externalAccountMACKeys\":{\"" EAB_KID "\":\"" EAB_MAC "\"}" : "");
    write_file(path, cfg);
    snprintf(e->dir_url, sizeof(e->dir_url), "https://127.0.0.1:%d/dir", e->acme_port);
    snprintf(e->mgmt_url, sizeof(e->mgmt_url), "https://127.0.0.1:%d", e->mgmt_port);
    start_pebble(e);
}

static void env_down(env_t *e)
{
    cur_env = NULL;
    stop(&e->pebble);
    stop(&e->challtestsrv);
    if (e->mhd)
        MHD_stop_daemon(e->mhd);
    e->mhd = NULL;
    responder_reset();
    if (e->dir[0] && !getenv("KACME_KEEP_TMP")) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", e->dir);
    }
}

/* ----- metrics hook ------------------------------------------------------------------------------------ */

typedef struct counters {
    pthread_mutex_t mu;
    int requests, status_400, status_999, discover, finalize, accept, alternates;
    char last_host[64], last_scheme[8];
} counters_t;

static void on_metric(void *ud, const char *action, const char *method, const char *scheme, const char *host,
                      int status, double seconds)
{
    counters_t *m = ud;
    (void)method;
    (void)seconds;
    pthread_mutex_lock(&m->mu);
    m->requests++;
    if (status == 400)
        m->status_400++;
    if (status == 999)
        m->status_999++;
    if (strcmp(action, "discover") == 0)
        m->discover++;
    if (strcmp(action, "create_order_cert") == 0)
        m->finalize++;
    if (strcmp(action, "accept_challenge") == 0)
        m->accept++;
    if (strcmp(action, "list_cert_alternates") == 0 && status == 200)
        m->alternates++; /* downloads, not badNonce retries */
    snprintf(m->last_host, sizeof(m->last_host), "%s", host);
    snprintf(m->last_scheme, sizeof(m->last_scheme), "%s", scheme);
    pthread_mutex_unlock(&m->mu);
}

/* ----- driver ------------------------------------------------------------------------------------------ */

static acme_client_t *new_client(env_t *e, acme_key_t *k, counters_t *m)
{
    char err[256];
    acme_client_opts_t o = {.directory_url = e->dir_url, .ca_file = e->ca_file, .metrics = m ? on_metric : NULL,
                            .metrics_ud = m, .user_agent = "kacme-test"};
    acme_client_t *c = acme_client_new(&o, k, err, sizeof(err));
    if (!c)
        fail_msg("acme_client_new: %s", err);
    return c;
}

static void fail_err(const char *what, const acme_error_t *e)
{
    char buf[1024];
    acme_error_format(e, buf, sizeof(buf));
    fail_msg("%s: kind %d status %ld: %s", what, e->kind, e->http_status, buf);
}

/* Retries an operation like a controller would on TRANSIENT (bounded); other errors fail the test. */
#define RETRYING(what, call)                                                                                   \
    do {                                                                                                       \
        int tries_ = 0;                                                                                        \
        while ((call) != 0) {                                                                                  \
            if (err_.kind != ACME_ERR_TRANSIENT || ++tries_ > 30)                                              \
                fail_err(what, &err_);                                                                         \
            msleep(20);                                                                                        \
        }                                                                                                      \
    } while (0)

/* Calls until the result is not TRANSIENT (bounded), leaving it in rc / err_. */
#define UNTIL_DEFINITE(rc, call)                                                                               \
    do {                                                                                                       \
        for (int tries_ = 0; ((rc) = (call)) != 0 && err_.kind == ACME_ERR_TRANSIENT; tries_++) {             \
            assert_true(tries_ < 30);                                                                          \
            msleep(20);                                                                                        \
        }                                                                                                      \
    } while (0)

static unsigned char *make_csr(const acme_identifier_t *ids, size_t n, size_t *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_version(req, 0);
    X509_REQ_set_pubkey(req, k);
    char san[2048] = "";
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(san + off, sizeof(san) - off, "%s%s:%s", i ? "," : "",
                                strcmp(ids[i].type, "ip") == 0 ? "IP" : "DNS", ids[i].value);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    assert_non_null(ext);
    sk_X509_EXTENSION_push(exts, ext);
    X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int l = i2d_X509_REQ(req, &der);
    assert_true(l > 0);
    unsigned char *copy = malloc((size_t)l);
    memcpy(copy, der, (size_t)l);
    OPENSSL_free(der);
    *len = (size_t)l;
    X509_REQ_free(req);
    EVP_PKEY_free(k);
    return copy;
}

/* Solves every pending authorization of order with HTTP-01; returns how many challenges were accepted. */
static int solve_authorizations(acme_client_t *c, const acme_order_t *order)
{
    acme_error_t err_;
    int accepted = 0;
    for (size_t i = 0; i < order->n_authorizations; i++) {
        acme_authz_t *a = NULL;
        RETRYING("get authz", acme_authz_get(c, order->authorizations[i], &a, &err_));
        if (a->status == ACME_STATUS_VALID) { /* reused authorization: no challenge */
            acme_authz_free(a);
            continue;
        }
        assert_int_equal(a->status, ACME_STATUS_PENDING);
        const acme_challenge_t *ch = acme_authz_find_challenge(a, "http-01");
        assert_non_null(ch);
        char *ka = acme_client_key_authorization(c, ch->token);
        responder_put(ch->token, ka);
        free(ka);
        enum acme_status st;
        RETRYING("accept", acme_challenge_accept(c, ch->url, &st, &err_));
        accepted++;
        char *url = strdup(a->url);
        acme_authz_free(a);
        for (int polls = 0;; polls++) {
            assert_true(polls < 400); /* ≤ ~20 s */
            RETRYING("poll authz", acme_authz_get(c, url, &a, &err_));
            if (a->status == ACME_STATUS_VALID)
                break;
            if (a->status == ACME_STATUS_INVALID) {
                const acme_challenge_t *f = acme_authz_find_challenge(a, "http-01");
                fail_err("authorization invalid", f && f->error ? f->error : &err_);
            }
            acme_authz_free(a);
            msleep(50);
        }
        acme_authz_free(a);
        free(url);
    }
    return accepted;
}

static acme_order_t *poll_order(acme_client_t *c, acme_order_t *o, enum acme_status want)
{
    acme_error_t err_;
    for (int polls = 0; o->status != want; polls++) {
        assert_true(polls < 400);
        if (o->status == ACME_STATUS_INVALID)
            fail_err("order invalid", o->error ? o->error : &err_);
        long wait = o->retry_after_ms > 0 && o->retry_after_ms < 1000 ? o->retry_after_ms : 50;
        char *url = strdup(o->url);
        acme_order_free(o);
        msleep(wait);
        RETRYING("poll order", acme_order_get(c, url, &o, &err_));
        free(url);
    }
    return o;
}

/* Full issuance; returns the PEM chain (caller frees). *accepted counts solved challenges. */
static char *issue(acme_client_t *c, const acme_identifier_t *ids, size_t n, const char *preferred, int *accepted)
{
    acme_error_t err_;
    acme_order_request_t req = {.identifiers = ids, .n_identifiers = n};
    acme_order_t *o = NULL;
    RETRYING("new order", acme_order_new(c, &req, &o, &err_));
    assert_non_null(o->url);
    assert_int_equal(o->n_authorizations, n);
    int acc = solve_authorizations(c, o);
    if (accepted)
        *accepted = acc;
    o = poll_order(c, o, ACME_STATUS_READY);
    size_t csr_len;
    unsigned char *csr = make_csr(ids, n, &csr_len);
    acme_order_t *f = NULL;
    RETRYING("finalize", acme_order_finalize(c, o, csr, csr_len, &f, &err_));
    free(csr);
    f = poll_order(c, f, ACME_STATUS_VALID);
    assert_non_null(f->certificate);

    /* Finalizing a valid order again must not POST to finalize: it just returns the order. */
    acme_order_t *again = NULL;
    RETRYING("finalize valid", acme_order_finalize(c, f, (const unsigned char *)"x", 1, &again, &err_));
    assert_int_equal(again->status, ACME_STATUS_VALID);
    assert_string_equal(again->certificate, f->certificate);
    acme_order_free(again);

    char *pem = NULL;
    size_t len = 0;
    RETRYING("fetch cert", acme_cert_fetch(c, f->certificate, preferred, &pem, &len, &err_));
    assert_true(len > 0);
    /* The leaf carries every identifier. */
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_non_null(leaf);
    for (size_t i = 0; i < n; i++) {
        int ok = strcmp(ids[i].type, "ip") == 0 ? X509_check_ip_asc(leaf, ids[i].value, 0)
                                                : X509_check_host(leaf, ids[i].value, 0, 0, NULL);
        assert_int_equal(ok, 1);
    }
    X509_free(leaf);
    BIO_free(bio);
    acme_order_free(o);
    acme_order_free(f);
    return pem;
}

static void register_account(acme_client_t *c, const char *email)
{
    acme_error_t err_;
    acme_account_t *a = NULL;
    RETRYING("register", acme_account_register(c, email, NULL, &a, &err_));
    assert_non_null(a->url);
    assert_int_equal(a->status, ACME_STATUS_VALID);
    acme_account_free(a);
}

/* ----- scenarios --------------------------------------------------------------------------------------- */

static char *env_default[] = {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_AUTHZREUSE=0", NULL};

static void test_issue_dns_and_ip(void **state)
{
    (void)state;
    static env_t e; /* static: teardown() still reaches it after a failed assertion */
    env_up(&e, env_default, false);
    counters_t m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[128];
    acme_key_t *k = acme_key_generate(ACME_KEY_RSA, 2048, err, sizeof(err));
    acme_client_t *c = new_client(&e, k, &m);
    acme_error_t err_;

    /* Account: new, then "already exists" (200) path, lookup, contact update. */
    register_account(c, "Admin@Example.COM");
    char url1[512], url2[512];
    assert_true(acme_get_account_url(c, url1, sizeof(url1)));
    acme_account_t *a = NULL;
    RETRYING("register again", acme_account_register(c, "admin@example.com", NULL, &a, &err_));
    assert_true(acme_get_account_url(c, url2, sizeof(url2)));
    assert_string_equal(url1, url2);
    assert_int_equal(a->n_contacts, 1);
    assert_string_equal(a->contacts[0], "mailto:admin@example.com"); /* lower-cased */
    acme_account_free(a);
    RETRYING("update contact", acme_account_update_contact(c, "other@example.com", &a, &err_));
    assert_int_equal(a->n_contacts, 1);
    assert_string_equal(a->contacts[0], "mailto:other@example.com");
    acme_account_free(a);
    acme_set_account_url(c, NULL);
    RETRYING("lookup", acme_account_lookup(c, &a, &err_));
    assert_string_equal(a->url, url1);
    acme_account_free(a);

    /* A key without account: lookup is a terminal accountDoesNotExist. */
    acme_key_t *k2 = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    acme_client_t *c2 = new_client(&e, k2, NULL);
    int rc;
    UNTIL_DEFINITE(rc, acme_account_lookup(c2, &a, &err_));
    assert_int_equal(rc, -1);
    assert_int_equal(err_.kind, ACME_ERR_TERMINAL);
    assert_true(acme_error_is(&err_, "accountDoesNotExist"));
    /* Without an account URL, kid-signed requests fail locally and terminally. */
    acme_order_t *o = NULL;
    acme_identifier_t one = {"dns", "x.kacme.test"};
    acme_order_request_t req = {.identifiers = &one, .n_identifiers = 1};
    assert_int_equal(acme_order_new(c2, &req, &o, &err_), -1);
    assert_int_equal(err_.kind, ACME_ERR_TERMINAL);
    /* An unknown profile is refused before any order is sent (Pebble 2.4.0 advertises none). */
    register_account(c2, NULL);
    req.profile = "shortlived";
    assert_int_equal(acme_order_new(c2, &req, &o, &err_), -1);
    assert_int_equal(err_.kind, ACME_ERR_TERMINAL);
    assert_non_null(strstr(err_.detail, "shortlived"));
    /* replaces without renewalInfo in the directory is dropped, the order goes through. */
    req.profile = NULL;
    req.replaces = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
    RETRYING("order with replaces", acme_order_new(c2, &req, &o, &err_));
    assert_null(o->replaces);
    acme_order_free(o);
    /* ARI is unsupported by this Pebble: a clear terminal error. */
    acme_renewal_info_t ri;
    assert_int_equal(acme_renewal_info(c2, "x", &ri, &err_), -1);
    assert_int_equal(err_.kind, ACME_ERR_TERMINAL);
    assert_non_null(strstr(err_.detail, "renewal"));

    /* Issuance: dns (RS256 account) and ip (ES256 account), and both in one order. */
    acme_identifier_t dns[] = {{"dns", "www.kacme.test"}, {"dns", "api.kacme.test"}};
    int accepted = 0;
    char *pem = issue(c, dns, 2, NULL, &accepted);
    assert_int_equal(accepted, 2);
    free(pem);
    acme_identifier_t ip[] = {{"ip", "127.0.0.1"}};
    pem = issue(c2, ip, 1, NULL, NULL);
    free(pem);
    acme_identifier_t mixed[] = {{"dns", "mixed.kacme.test"}, {"ip", "127.0.0.1"}};
    pem = issue(c2, mixed, 2, NULL, NULL);
    free(pem);

    pthread_mutex_lock(&m.mu);
    assert_int_equal(m.discover, 1); /* directory cached */
    assert_true(m.finalize >= 1);
    assert_true(m.accept >= 2);
    assert_string_equal(m.last_scheme, "https");
    char host[64];
    snprintf(host, sizeof(host), "127.0.0.1:%d", e.acme_port);
    assert_string_equal(m.last_host, host);
    pthread_mutex_unlock(&m.mu);

    acme_client_free(c);
    acme_client_free(c2);
    acme_key_free(k);
    acme_key_free(k2);
    env_down(&e);
}

/* Several workers share one client (one account) concurrently. */
typedef struct worker {
    acme_client_t *c;
    char name[64];
} worker_t;

static void *worker_run(void *ud)
{
    worker_t *w = ud;
    acme_identifier_t id = {"dns", ""};
    snprintf(id.value, sizeof(id.value), "%s", w->name);
    char *pem = issue(w->c, &id, 1, NULL, NULL);
    free(pem);
    return NULL;
}

static void test_nonce_reject_50(void **state)
{
    (void)state;
    static char *pe[] = {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=50", "PEBBLE_AUTHZREUSE=0", NULL};
    static env_t e; /* static: teardown() still reaches it after a failed assertion */
    env_up(&e, pe, false);
    counters_t m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[128];
    acme_key_t *k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    acme_client_t *c = new_client(&e, k, &m);
    register_account(c, "nonce@example.com");
    pthread_t t[3];
    worker_t w[3];
    for (int i = 0; i < 3; i++) {
        w[i].c = c;
        snprintf(w[i].name, sizeof(w[i].name), "w%d.nonce.kacme.test", i);
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_lock(&m.mu);
    print_message("nonce-reject 50%%: %d requests, %d badNonce (400) responses retried\n", m.requests, m.status_400);
    assert_true(m.status_400 > 0);
    assert_int_equal(m.discover, 1);
    pthread_mutex_unlock(&m.mu);
    acme_client_free(c);
    acme_key_free(k);
    env_down(&e);
}

static void test_authz_reuse(void **state)
{
    (void)state;
    static char *pe[] = {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_AUTHZREUSE=100", NULL};
    static env_t e; /* static: teardown() still reaches it after a failed assertion */
    env_up(&e, pe, false);
    char err[128];
    acme_key_t *k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    acme_client_t *c = new_client(&e, k, NULL);
    register_account(c, NULL);
    acme_identifier_t id[] = {{"dns", "reuse.kacme.test"}};
    int accepted = -1;
    char *pem = issue(c, id, 1, NULL, &accepted);
    assert_int_equal(accepted, 1);
    free(pem);
    /* Second order for the same name: its authorization is already valid, the order is ready at once. */
    acme_error_t err_;
    acme_order_request_t req = {.identifiers = id, .n_identifiers = 1};
    acme_order_t *o = NULL;
    RETRYING("new order", acme_order_new(c, &req, &o, &err_));
    assert_int_equal(o->status, ACME_STATUS_READY);
    acme_order_free(o);
    pem = issue(c, id, 1, NULL, &accepted);
    assert_int_equal(accepted, 0);
    free(pem);
    acme_client_free(c);
    acme_key_free(k);
    env_down(&e);
}

/* Subject CN of Pebble's root N from its management interface. */
static void root_cn(env_t *e, int n, char *cn, size_t cnlen)
{
    char err[HTTP_ERR_LEN], url[256];
    http_client_opts_t o = {.ca_file = e->ca_file, .https_only = true};
    http_client_t *h = http_client_new(&o, err, sizeof(err));
    assert_non_null(h);
    snprintf(url, sizeof(url), "%s/roots/%d", e->mgmt_url, n);
    http_request_t req = {.url = url};
    http_response_t r;
    assert_int_equal(http_do(h, &req, &r, err, sizeof(err)), 0);
    assert_int_equal(r.status, 200);
    BIO *bio = BIO_new_mem_buf(r.body, (int)r.body_len);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_non_null(x);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cnlen);
    X509_free(x);
    BIO_free(bio);
    http_response_clear(&r);
    http_client_free(h);
}

static void test_alternate_roots(void **state)
{
    (void)state;
    static char *pe[] = {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_ALTERNATE_ROOTS=2", "PEBBLE_AUTHZREUSE=100", NULL};
    static env_t e; /* static: teardown() still reaches it after a failed assertion */
    env_up(&e, pe, false);
    char cn0[128], cn2[128], top[128], err[128];
    root_cn(&e, 0, cn0, sizeof(cn0));
    root_cn(&e, 2, cn2, sizeof(cn2));
    assert_string_not_equal(cn0, cn2);
    counters_t m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    acme_key_t *k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    acme_client_t *c = new_client(&e, k, &m);
    register_account(c, NULL);
    acme_identifier_t id[] = {{"dns", "chains.kacme.test"}};

    char *pem = issue(c, id, 1, NULL, NULL); /* no preference: default chain */
    assert_int_equal(acme_chain_top_issuer_cn(pem, strlen(pem), top, sizeof(top)), 0);
    assert_string_equal(top, cn0);
    free(pem);
    pem = issue(c, id, 1, cn2, NULL); /* preferred alternate */
    assert_int_equal(acme_chain_top_issuer_cn(pem, strlen(pem), top, sizeof(top)), 0);
    assert_string_equal(top, cn2);
    free(pem);
    pem = issue(c, id, 1, cn0, NULL); /* preferred = default: no alternate fetched */
    assert_int_equal(acme_chain_top_issuer_cn(pem, strlen(pem), top, sizeof(top)), 0);
    assert_string_equal(top, cn0);
    free(pem);
    int before = m.alternates;
    pem = issue(c, id, 1, "No Such Root", NULL); /* no match: default chain after trying both */
    assert_int_equal(acme_chain_top_issuer_cn(pem, strlen(pem), top, sizeof(top)), 0);
    assert_string_equal(top, cn0);
    assert_int_equal(m.alternates - before, 2);
    free(pem);
    acme_client_free(c);
    acme_key_free(k);
    env_down(&e);
}

static void test_eab(void **state)
{
    (void)state;
    static env_t e; /* static: teardown() still reaches it after a failed assertion */
    env_up(&e, env_default, true);
    char err[128];
    acme_key_t *k = acme_key_generate(ACME_KEY_RSA, 2048, err, sizeof(err));
    acme_client_t *c = new_client(&e, k, NULL);
    acme_error_t err_;
    const acme_directory_t *d = NULL;
    RETRYING("directory", acme_directory_get(c, &d, &err_));
    assert_true(d->external_account_required);
    acme_account_t *a = NULL;
    int rc;
    /* Without EAB: terminal externalAccountRequired. */
    UNTIL_DEFINITE(rc, acme_account_register(c, "eab@example.com", NULL, &a, &err_));
    assert_int_equal(rc, -1);
    assert_int_equal(err_.kind, ACME_ERR_TERMINAL);
    assert_true(acme_error_is(&err_, "externalAccountRequired"));
    /* Wrong MAC key: terminal. */
    acme_eab_t bad = {EAB_KID, "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH"};
    UNTIL_DEFINITE(rc, acme_account_register(c, "eab@example.com", &bad, &a, &err_));
    assert_int_equal(rc, -1);
    assert_int_equal(err_.kind, ACME_ERR_TERMINAL);
    /* Right binding. */
    acme_eab_t good = {EAB_KID, EAB_MAC};
    RETRYING("register eab", acme_account_register(c, "eab@example.com", &good, &a, &err_));
    assert_non_null(a->url);
    acme_account_free(a);
    acme_identifier_t id[] = {{"dns", "eab.kacme.test"}};
    char *pem = issue(c, id, 1, NULL, NULL);
    free(pem);
    acme_client_free(c);
    acme_key_free(k);
    env_down(&e);
}

static void test_pebble_down(void **state)
{
    (void)state;
    static env_t e; /* static: teardown() still reaches it after a failed assertion */
    env_up(&e, env_default, false);
    counters_t m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char err[128];
    acme_key_t *k = acme_key_generate(ACME_KEY_EC_P256, 0, err, sizeof(err));
    acme_client_t *c = new_client(&e, k, &m);
    register_account(c, NULL);
    acme_error_t err_;
    acme_identifier_t id[] = {{"dns", "down.kacme.test"}};
    acme_order_request_t req = {.identifiers = id, .n_identifiers = 1};
    acme_order_t *o = NULL;
    RETRYING("new order", acme_order_new(c, &req, &o, &err_));

    /* Pebble dies mid-order: every call is a TRANSIENT transport error (metrics status 999). */
    stop(&e.pebble);
    acme_order_t *o2 = NULL;
    assert_int_equal(acme_order_get(c, o->url, &o2, &err_), -1);
    assert_int_equal(err_.kind, ACME_ERR_TRANSIENT);
    assert_int_equal(err_.http_status, 0);
    acme_authz_t *a = NULL;
    assert_int_equal(acme_authz_get(c, o->authorizations[0], &a, &err_), -1);
    assert_int_equal(err_.kind, ACME_ERR_TRANSIENT);
    assert_true(m.status_999 >= 2);

    /* Pebble is back (same ports, empty state: Pebble keeps everything in memory). The old order is gone
     * and the account too, so the client re-registers and a new order completes. Stale pooled nonces are
     * answered with badNonce and retried transparently. */
    start_pebble(&e);
    int rc;
    UNTIL_DEFINITE(rc, acme_order_get(c, o->url, &o2, &err_));
    assert_int_equal(rc, -1);
    assert_int_equal(err_.kind, ACME_ERR_TERMINAL); /* unknown account/order after the restart */
    acme_order_free(o);
    register_account(c, NULL);
    char *pem = issue(c, id, 1, NULL, NULL);
    free(pem);
    acme_client_free(c);
    acme_key_free(k);
    env_down(&e);
}

static int teardown(void **state)
{
    (void)state;
    if (cur_env)
        env_down(cur_env);
    return 0;
}

int main(void)
{
    if (access(PEBBLE, X_OK) != 0 || access(CHALLTESTSRV, X_OK) != 0) {
        fprintf(stderr, "pebble not installed: skipping\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    http_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_issue_dns_and_ip, teardown), cmocka_unit_test_teardown(test_nonce_reject_50, teardown),
        cmocka_unit_test_teardown(test_authz_reuse, teardown),      cmocka_unit_test_teardown(test_alternate_roots, teardown),
        cmocka_unit_test_teardown(test_eab, teardown),              cmocka_unit_test_teardown(test_pebble_down, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
