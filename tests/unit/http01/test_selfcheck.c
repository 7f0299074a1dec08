/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The self-check against local servers on ephemeral loopback ports: libmicrohttpd for HTTP, HTTPS (a
 * self-signed certificate made here) and a forward proxy, and a tiny UDP DNS server for the nameservers
 * option. Redirect targets use ephemeral ports, so the allowed-ports set is widened per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acmesolver.h"
#include "http01/selfcheck.h"

#define TOKEN "tok_EN-1"
#define KEY "tok_EN-1.thumbprint"
#define CHALLENGE_PATH "/.well-known/acme-challenge/" TOKEN

enum mode { SERVE_KEY, SERVE_KEY_NEWLINE, SERVE_EMPTY, SERVE_WRONG, SERVE_404, SERVE_REDIRECT, SERVE_REDIRECT_NEXT, PROXY };

typedef struct server {
    struct MHD_Daemon *d;
    enum mode mode;
    unsigned short port;
    char location[512];     /* SERVE_REDIRECT */
    atomic_int hits;
    char last_ua[128];
    char last_url[512];
} server_t;

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **req_cls)
{
    (void)method;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    server_t *s = cls;
    atomic_fetch_add(&s->hits, 1);
    const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
    snprintf(s->last_ua, sizeof(s->last_ua), "%s", ua ? ua : "");
    snprintf(s->last_url, sizeof(s->last_url), "%s", url);

    const char *body = "";
    unsigned status = 200;
    char loc[600] = "";
    switch (s->mode) {
    case SERVE_KEY: body = KEY; break;
    case SERVE_KEY_NEWLINE: body = KEY "\r\n \n"; break;
    case SERVE_EMPTY: body = ""; break;
    case SERVE_WRONG: body = "something else"; break;
    case SERVE_404: status = 404; body = "not found"; break;
    case SERVE_REDIRECT:
        status = 302;
        snprintf(loc, sizeof(loc), "%s", s->location);
        break;
    case SERVE_REDIRECT_NEXT: {
        /* /r<n> → /r<n+1>: an endless chain of distinct URLs */
        int n = 0;
        sscanf(url, "/r%d", &n);
        status = 301;
        snprintf(loc, sizeof(loc), "/r%d", n + 1);
        break;
    }
    case PROXY:
        /* a forward proxy sees the absolute URL; answer for the challenge only */
        if (strncmp(url, "http://", 7) == 0 && strstr(url, CHALLENGE_PATH))
            body = KEY;
        else
            status = 502;
        break;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (loc[0])
        MHD_add_response_header(r, "Location", loc);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *tls_cert_pem, *tls_key_pem;

/* A throwaway self-signed P-256 certificate for the https hop. */
static void make_cert(void)
{
    if (tls_cert_pem)
        return;
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"selfcheck.test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, pk, EVP_sha256());
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    tls_cert_pem = strndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    tls_key_pem = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static server_t *server_start(enum mode mode, bool tls, bool ipv6)
{
    server_t *s = calloc(1, sizeof(*s));
    s->mode = mode;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const struct sockaddr *sa = (const struct sockaddr *)&a4;
    if (ipv6) {
        flags |= MHD_USE_IPv6;
        sa = (const struct sockaddr *)&a6;
    }
    if (tls) {
        make_cert();
        flags |= MHD_USE_TLS;
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, sa,
                                MHD_OPTION_HTTPS_MEM_KEY, tls_key_pem, MHD_OPTION_HTTPS_MEM_CERT, tls_cert_pem,
                                MHD_OPTION_END);
    } else {
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_END);
    }
    if (!s->d) {
        free(s);
        return NULL;
    }
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return s;
}

static void server_stop(server_t *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}

/* A port nobody listens on: bound, read back, closed. */
static unsigned short closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static int run(selfcheck_opts_t *o, const char *dns_name, char *reason)
{
    return selfcheck_run_once(o, dns_name, TOKEN, KEY, reason, SELFCHECK_REASON_LEN);
}

static void expect_reason(const char *reason, const char *want)
{
    if (!strstr(reason, want))
        fail_msg("reason \"%s\" does not contain \"%s\"", reason, want);
}

static void test_pass_and_bodies(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    struct {
        enum mode mode;
        int rc;
        const char *want;
    } cases[] = {
        {SERVE_KEY, 0, ""},
        {SERVE_KEY_NEWLINE, 0, ""},
        {SERVE_EMPTY, -1, "body mismatch from 127.0.0.1:"},
        {SERVE_WRONG, -1, "body mismatch from 127.0.0.1:"},
        {SERVE_404, -1, "wrong status code 404 from 127.0.0.1:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        server_t *s = server_start(cases[i].mode, false, false);
        assert_non_null(s);
        selfcheck_opts_t o = {.port = s->port};
        reason[0] = '\0';
        int rc = run(&o, "127.0.0.1", reason);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d reason %s", i, rc, reason);
        expect_reason(reason, cases[i].want);
        if (cases[i].mode == SERVE_404)
            expect_reason(reason, "(expected 200)");
        if (cases[i].mode == SERVE_EMPTY)
            expect_reason(reason, "empty body");
        assert_int_equal(atomic_load(&s->hits), 1);
        assert_string_equal(s->last_url, CHALLENGE_PATH);
        assert_int_equal(strncmp(s->last_ua, "kacme/", 6), 0);
        server_stop(s);
    }
}

static void test_connection_refused(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    unsigned short p = closed_port();
    selfcheck_opts_t o = {.port = p};
    assert_int_equal(run(&o, "127.0.0.1", reason), -1);
    char want[64];
    snprintf(want, sizeof(want), "connection refused to 127.0.0.1:%u", p);
    expect_reason(reason, want);
}

static void test_redirect_chain_through_https(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    server_t *tls = server_start(SERVE_KEY, true, false);
    server_t *hop = server_start(SERVE_REDIRECT, false, false);
    assert_non_null(tls);
    assert_non_null(hop);
    snprintf(hop->location, sizeof(hop->location), "https://127.0.0.1:%u%s", tls->port, CHALLENGE_PATH);

    unsigned short allowed[] = {80, 443, tls->port};
    selfcheck_opts_t o = {.port = hop->port, .allowed_ports = allowed, .n_allowed_ports = 3};
    if (run(&o, "127.0.0.1", reason) != 0)
        fail_msg("redirect via https: %s", reason);
    assert_int_equal(atomic_load(&tls->hits), 1);

    /* the same chain with the default port set: the https hop's port is refused */
    selfcheck_opts_t strict = {.port = hop->port};
    assert_int_equal(run(&strict, "127.0.0.1", reason), -1);
    char want[64];
    snprintf(want, sizeof(want), "redirect to unsupported port %u", tls->port);
    expect_reason(reason, want);

    /* a wrong answer behind the redirect names the hop */
    tls->mode = SERVE_404;
    assert_int_equal(run(&o, "127.0.0.1", reason), -1);
    expect_reason(reason, "wrong status code 404");
    expect_reason(reason, "after redirect to https://127.0.0.1");

    /* unsupported scheme */
    snprintf(hop->location, sizeof(hop->location), "ftp://127.0.0.1/x");
    assert_int_equal(run(&o, "127.0.0.1", reason), -1);
    expect_reason(reason, "redirect to unsupported scheme ftp");
    server_stop(hop);
    server_stop(tls);
}

static void test_redirect_loops(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    server_t *a = server_start(SERVE_REDIRECT, false, false);
    server_t *b = server_start(SERVE_REDIRECT, false, false);
    unsigned short allowed[] = {a->port, b->port};
    selfcheck_opts_t o = {.port = a->port, .allowed_ports = allowed, .n_allowed_ports = 2};

    /* to itself */
    snprintf(a->location, sizeof(a->location), "http://127.0.0.1:%u%s", a->port, CHALLENGE_PATH);
    assert_int_equal(run(&o, "127.0.0.1", reason), -1);
    assert_string_equal(reason, "redirect loop");
    /* ping-pong a → b → a */
    snprintf(a->location, sizeof(a->location), "http://127.0.0.1:%u/elsewhere", b->port);
    snprintf(b->location, sizeof(b->location), "http://127.0.0.1:%u%s", a->port, CHALLENGE_PATH);
    assert_int_equal(run(&o, "127.0.0.1", reason), -1);
    assert_string_equal(reason, "redirect loop");
    server_stop(a);
    server_stop(b);

    /* an endless chain of new URLs (relative Locations) */
    server_t *c = server_start(SERVE_REDIRECT_NEXT, false, false);
    unsigned short allowed_c[] = {c->port};
    selfcheck_opts_t oc = {.port = c->port, .allowed_ports = allowed_c, .n_allowed_ports = 1};
    assert_int_equal(run(&oc, "127.0.0.1", reason), -1);
    assert_string_equal(reason, "too many redirects");
    assert_int_equal(atomic_load(&c->hits), SELFCHECK_MAX_REDIRECTS + 1);
    server_stop(c);
}

/* Resolve hook: hands out a fixed list of (ip, port) for any name and counts lookups. */
typedef struct fake_dns {
    selfcheck_addr_t addrs[4];
    size_t n;
    int lookups;
    char last_host[256];
} fake_dns_t;

static int fake_resolve(void *ud, const char *host, unsigned short port, selfcheck_addr_t *out, size_t max,
                        size_t *n, char *err, size_t errlen)
{
    (void)port;
    fake_dns_t *f = ud;
    f->lookups++;
    snprintf(f->last_host, sizeof(f->last_host), "%s", host);
    *n = 0;
    for (size_t i = 0; i < f->n && i < max; i++)
        out[(*n)++] = f->addrs[i];
    if (*n == 0) {
        snprintf(err, errlen, "no addresses for %s", host);
        return -1;
    }
    return 0;
}

static void test_every_address(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    server_t *good = server_start(SERVE_KEY, false, false);
    server_t *good2 = server_start(SERVE_KEY_NEWLINE, false, false);
    server_t *bad = server_start(SERVE_WRONG, false, false);
    fake_dns_t dns = {.n = 2};
    snprintf(dns.addrs[0].ip, sizeof(dns.addrs[0].ip), "127.0.0.1");
    dns.addrs[0].port = good->port;
    snprintf(dns.addrs[1].ip, sizeof(dns.addrs[1].ip), "127.0.0.1");
    dns.addrs[1].port = bad->port;
    selfcheck_opts_t o = {.resolve = fake_resolve, .resolve_ud = &dns};

    assert_int_equal(run(&o, "multi.example", reason), -1);
    char want[64];
    snprintf(want, sizeof(want), "body mismatch from 127.0.0.1:%u", bad->port);
    expect_reason(reason, want);
    assert_string_equal(dns.last_host, "multi.example");
    assert_int_equal(atomic_load(&good->hits), 1);
    assert_int_equal(atomic_load(&bad->hits), 1);

    dns.addrs[1].port = good2->port;
    if (run(&o, "multi.example", reason) != 0)
        fail_msg("two good addresses: %s", reason);
    assert_int_equal(dns.lookups, 2); /* resolved afresh on every attempt */
    assert_int_equal(atomic_load(&good->hits), 2);
    assert_int_equal(atomic_load(&good2->hits), 1);

    dns.n = 0;
    assert_int_equal(run(&o, "multi.example", reason), -1);
    expect_reason(reason, "no addresses for multi.example");
    server_stop(good);
    server_stop(good2);
    server_stop(bad);
}

static void test_ipv6_literal(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    server_t *s = server_start(SERVE_KEY, false, true);
    if (!s)
        skip(); /* no IPv6 loopback in this environment */
    selfcheck_opts_t o = {.port = s->port};
    if (run(&o, "::1", reason) != 0)
        fail_msg("ipv6: %s", reason);
    s->mode = SERVE_WRONG;
    assert_int_equal(run(&o, "::1", reason), -1);
    char want[64];
    snprintf(want, sizeof(want), "body mismatch from [::1]:%u", s->port);
    expect_reason(reason, want);
    server_stop(s);
}

static void clear_proxy_env(void)
{
    const char *vars[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                          "all_proxy",  "NO_PROXY",   "no_proxy"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static void test_proxy_env(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    server_t *proxy = server_start(PROXY, false, false);
    server_t *direct = server_start(SERVE_KEY, false, false);
    fake_dns_t dns = {.n = 1};
    snprintf(dns.addrs[0].ip, sizeof(dns.addrs[0].ip), "127.0.0.1");
    dns.addrs[0].port = direct->port;
    selfcheck_opts_t o = {.resolve = fake_resolve, .resolve_ud = &dns};
    char purl[64];
    snprintf(purl, sizeof(purl), "http://127.0.0.1:%u", proxy->port);

    clear_proxy_env();
    setenv("HTTP_PROXY", purl, 1);
    if (run(&o, "proxied.example", reason) != 0)
        fail_msg("via proxy: %s", reason);
    assert_int_equal(atomic_load(&proxy->hits), 1);
    assert_int_equal(dns.lookups, 0); /* the proxy resolves, we do not pin */
    assert_string_equal(proxy->last_url, "http://proxied.example" CHALLENGE_PATH);

    /* NO_PROXY: exact name, domain suffix, wildcard → direct, resolved and pinned */
    const char *bypass[] = {"proxied.example", "other.org, .example", "example", "*"};
    for (size_t i = 0; i < sizeof(bypass) / sizeof(bypass[0]); i++) {
        setenv("NO_PROXY", bypass[i], 1);
        if (run(&o, "proxied.example", reason) != 0)
            fail_msg("NO_PROXY=%s: %s", bypass[i], reason);
        assert_int_equal(dns.lookups, (int)i + 1);
    }
    assert_int_equal(atomic_load(&proxy->hits), 1);
    setenv("NO_PROXY", "notexample", 1);
    assert_int_equal(run(&o, "proxied.example", reason), 0);
    assert_int_equal(atomic_load(&proxy->hits), 2);
    unsetenv("NO_PROXY");

    /* lower-case name works too; loopback is never proxied */
    clear_proxy_env();
    setenv("http_proxy", purl, 1);
    selfcheck_opts_t lo = {.port = direct->port};
    assert_int_equal(run(&lo, "127.0.0.1", reason), 0);
    assert_int_equal(atomic_load(&proxy->hits), 2);
    assert_int_equal(run(&o, "proxied.example", reason), 0);
    assert_int_equal(atomic_load(&proxy->hits), 3);

    /* a proxy that answers wrongly fails the check, and the reason says it went through the proxy */
    proxy->mode = SERVE_404;
    assert_int_equal(run(&o, "proxied.example", reason), -1);
    expect_reason(reason, "wrong status code 404 from proxied.example via proxy");
    clear_proxy_env();
    server_stop(proxy);
    server_stop(direct);
}

/* ---- a tiny DNS server (UDP, A → 127.0.0.1, AAAA → no answer) for the nameservers option ------------ */

typedef struct dns_server {
    int fd;
    unsigned short port;
    pthread_t th;
    atomic_bool stop;
    atomic_int queries;
} dns_server_t;

static void *dns_loop(void *arg)
{
    dns_server_t *d = arg;
    while (!atomic_load(&d->stop)) {
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        unsigned char q[512], r[600];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(d->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        if (n < 17)
            continue;
        size_t off = 12;
        while (off < (size_t)n && q[off])
            off += q[off] + 1u;
        if (off + 5 > (size_t)n)
            continue;
        size_t qend = off + 5;
        unsigned qtype = (unsigned)(q[off + 1] << 8 | q[off + 2]);
        atomic_fetch_add(&d->queries, 1);
        memcpy(r, q, qend);
        r[2] = 0x81;
        r[3] = 0x80; /* response, recursion desired + available, NOERROR */
        r[4] = 0, r[5] = 1;
        r[6] = 0, r[7] = qtype == 1 ? 1 : 0;
        memset(r + 8, 0, 4);
        size_t len = qend;
        if (qtype == 1) {
            const unsigned char ans[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1};
            memcpy(r + len, ans, sizeof(ans));
            len += sizeof(ans);
        }
        sendto(d->fd, r, len, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static void test_nameservers(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    char err[256];
    dns_server_t d = {0};
    d.fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(d.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t l = sizeof(a);
    getsockname(d.fd, (struct sockaddr *)&a, &l);
    d.port = ntohs(a.sin_port);
    pthread_create(&d.th, NULL, dns_loop, &d);

    server_t *s = server_start(SERVE_KEY, false, false);
    char ns[64];
    snprintf(ns, sizeof(ns), "127.0.0.1:%u", d.port);
    assert_int_equal(selfcheck_validate_nameservers(ns, err, sizeof(err)), 0);

    selfcheck_opts_t o = {.nameservers = ns, .port = s->port};
    selfcheck_addr_t addrs[4];
    size_t n = 0;
    if (selfcheck_resolve(&o, "split.horizon.test", 80, addrs, 4, &n, err, sizeof(err)) != 0)
        fail_msg("resolve: %s", err);
    assert_int_equal(n, 1);
    assert_string_equal(addrs[0].ip, "127.0.0.1");
    assert_int_equal(addrs[0].port, 80);

    int before = atomic_load(&d.queries);
    if (run(&o, "split.horizon.test", reason) != 0)
        fail_msg("nameservers: %s", reason);
    assert_true(atomic_load(&d.queries) >= before + 2); /* A and AAAA, asked afresh */
    assert_int_equal(atomic_load(&s->hits), 1);

    atomic_store(&d.stop, true);
    pthread_join(d.th, NULL);
    close(d.fd);
    server_stop(s);

    const char *good[] = {"10.0.0.1:53", "[::1]:5353", "10.0.0.1:53,[2001:db8::1]:53"};
    const char *bad[] = {"", "10.0.0.1", "host.example:53", "10.0.0.1:0", "10.0.0.1:99999", "::1:53", "10.0.0.1:53,",
                         "[::1]53"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (selfcheck_validate_nameservers(good[i], err, sizeof(err)) != 0)
            fail_msg("%s rejected: %s", good[i], err);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (selfcheck_validate_nameservers(bad[i], err, sizeof(err)) != -1)
            fail_msg("%s accepted", bad[i]);
}

static void *solver_run(void *arg)
{
    acmesolver_server_run(arg);
    return NULL;
}

/* The real solver (kacme-acmesolver's server) answers the real self-check, through a host name. */
static void test_against_acmesolver(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN], err[ACMESOLVER_ERR_LEN];
    acmesolver_config_t cfg = {.listen_port = 0, .domain = "solver.example", .token = TOKEN, .key = KEY};
    acmesolver_server_t *srv = acmesolver_server_new(&cfg, true, err, sizeof(err));
    assert_non_null(srv);
    pthread_t th;
    pthread_create(&th, NULL, solver_run, srv);
    fake_dns_t dns = {.n = 1};
    snprintf(dns.addrs[0].ip, sizeof(dns.addrs[0].ip), "127.0.0.1");
    dns.addrs[0].port = (unsigned short)acmesolver_server_port(srv);
    selfcheck_opts_t o = {.resolve = fake_resolve, .resolve_ud = &dns};
    if (run(&o, "Solver.Example", reason) != 0)
        fail_msg("against acmesolver: %s", reason);
    assert_int_equal(run(&o, "other.example", reason), -1);
    expect_reason(reason, "wrong status code 404 from 127.0.0.1:");
    assert_int_equal(selfcheck_run_once(&o, "solver.example", TOKEN, KEY "x", reason, sizeof(reason)), -1);
    expect_reason(reason, "body mismatch from 127.0.0.1:");
    acmesolver_server_stop(srv);
    pthread_join(th, NULL);
    acmesolver_server_free(srv);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char reason[SELFCHECK_REASON_LEN];
    assert_int_equal(selfcheck_run_once(NULL, "", TOKEN, KEY, reason, sizeof(reason)), -1);
    assert_int_equal(selfcheck_run_once(NULL, "a.example", NULL, KEY, reason, sizeof(reason)), -1);
    assert_int_equal(selfcheck_run_once(NULL, "a.example", TOKEN, "", reason, sizeof(reason)), -1);
    assert_string_equal(reason, "invalid self-check arguments");
}

static int group_setup(void **state)
{
    (void)state;
    clear_proxy_env();
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    free(tls_cert_pem);
    free(tls_key_pem);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_and_bodies),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_redirect_chain_through_https),
        cmocka_unit_test(test_redirect_loops),
        cmocka_unit_test(test_every_address),
        cmocka_unit_test(test_ipv6_literal),
        cmocka_unit_test(test_proxy_env),
        cmocka_unit_test(test_nameservers),
        cmocka_unit_test(test_against_acmesolver),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
