/* SPDX-License-Identifier: Apache-2.0 */
/* The solver's server over real loopback sockets (port 0): framing, limits, HEAD, shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acmesolver.h"

static acmesolver_config_t cfg = {.domain = "solver.example", .token = "TOKEN_1-a", .key = "TOKEN_1-a.thumb"};

typedef struct fixture {
    acmesolver_server_t *srv;
    pthread_t th;
    int rc;
} fixture_t;

static void *run(void *arg)
{
    fixture_t *f = arg;
    f->rc = acmesolver_server_run(f->srv);
    return NULL;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char err[ACMESOLVER_ERR_LEN];
    cfg.listen_port = 0;
    f->srv = acmesolver_server_new(&cfg, true, err, sizeof(err));
    if (!f->srv) {
        fprintf(stderr, "server: %s\n", err);
        return -1;
    }
    f->rc = -2;
    pthread_create(&f->th, NULL, run, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    acmesolver_server_stop(f->srv);
    pthread_join(f->th, NULL);
    assert_int_equal(f->rc, 0);
    acmesolver_server_free(f->srv);
    free(f);
    return 0;
}

static int connect_to(fixture_t *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)acmesolver_server_port(f->srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Sends the parts (each its own write), reads the answer to EOF into a malloc'd string. */
static char *exchange(fixture_t *f, size_t nparts, ...)
{
    int fd = connect_to(f);
    va_list ap;
    va_start(ap, nparts);
    for (size_t i = 0; i < nparts; i++) {
        const char *p = va_arg(ap, const char *);
        size_t len = strlen(p), off = 0;
        while (off < len) {
            ssize_t n = send(fd, p + off, len - off, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    va_end(ap);
    size_t cap = 65536, len = 0;
    char *out = calloc(1, cap);
    for (;;) {
        ssize_t n = read(fd, out + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(fd);
    return out;
}

static void expect_status(const char *resp, int status)
{
    char want[32];
    snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
    if (strncmp(resp, want, strlen(want)) != 0)
        fail_msg("want %d, got: %.80s", status, resp);
}

static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    assert_non_null(b);
    return b + 4;
}

static void test_challenge_get_and_head(void **state)
{
    fixture_t *f = *state;
    char *r = exchange(f, 1, "GET /.well-known/acme-challenge/TOKEN_1-a HTTP/1.1\r\nHost: Solver.Example:80\r\n\r\n");
    expect_status(r, 200);
    assert_non_null(strstr(r, "\r\nContent-Type: text/plain\r\n"));
    assert_non_null(strstr(r, "\r\nCache-Control: no-cache, no-store, must-revalidate\r\n"));
    assert_non_null(strstr(r, "\r\nContent-Length: 15\r\n"));
    assert_string_equal(body_of(r), "TOKEN_1-a.thumb");
    free(r);

    r = exchange(f, 1, "HEAD /.well-known/acme-challenge/TOKEN_1-a HTTP/1.1\r\nhost: solver.example\r\n\r\n");
    expect_status(r, 200);
    assert_non_null(strstr(r, "\r\nContent-Length: 15\r\n"));
    assert_string_equal(body_of(r), "");
    free(r);

    /* split across writes, bare LF line ends, HTTP/1.0 */
    r = exchange(f, 3, "GET /.well-known/acme-", "challenge/TOKEN_1-a HTTP/1.0\nHost: solver.example\n", "\n");
    expect_status(r, 200);
    free(r);
}

static void test_health_and_errors(void **state)
{
    fixture_t *f = *state;
    char *r = exchange(f, 1, "GET /healthz HTTP/1.0\r\n\r\n");
    expect_status(r, 200);
    assert_non_null(strstr(r, "Cache-Control: no-cache, no-store, must-revalidate"));
    assert_string_equal(body_of(r), "");
    free(r);

    r = exchange(f, 1, "GET / HTTP/1.1\r\nHost: lb\r\n\r\n");
    expect_status(r, 200);
    free(r);

    r = exchange(f, 1, "GET /.well-known/acme-challenge/TOKEN_1-a HTTP/1.1\r\nHost: other.example\r\n\r\n");
    expect_status(r, 404);
    free(r);

    r = exchange(f, 1, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    expect_status(r, 405);
    assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
    free(r);

    /* HTTP/1.1 without Host, two Hosts, junk, obsolete folding, bad version */
    const char *bad[] = {
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "garbage\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: a\r\nHost: a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = exchange(f, 1, bad[i]);
        expect_status(r, 400);
        free(r);
    }
}

static void test_oversized_headers(void **state)
{
    fixture_t *f = *state;
    size_t n = ACMESOLVER_MAX_HEAD + 100;
    char *big = malloc(n + 64);
    strcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: ");
    size_t l = strlen(big);
    memset(big + l, 'a', n - l);
    big[n] = '\0';
    char *r = exchange(f, 2, big, "\r\n\r\n");
    expect_status(r, 431);
    free(r);
    free(big);
}

static void test_peer_closes_early(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 3; i++) {
        int fd = connect_to(f);
        ssize_t w = write(fd, "GET / HT", 8);
        (void)w;
        close(fd);
    }
    char *r = exchange(f, 1, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_status(r, 200);
    free(r);
}

/* stop() with a request half-read: run() returns (after at most the grace period) */
static void test_stop_with_connection_in_flight(void **state)
{
    fixture_t *f = *state;
    int fd = connect_to(f);
    ssize_t w = write(fd, "GET /healthz HTTP/1.1\r\nHost", 27);
    (void)w;
    char *r = exchange(f, 1, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"); /* the server has seen fd */
    free(r);
    acmesolver_server_stop(f->srv);
    pthread_join(f->th, NULL);
    assert_int_equal(f->rc, 0);
    close(fd);
    /* teardown stops and joins again: restart a run that returns at once */
    acmesolver_server_stop(f->srv);
    pthread_create(&f->th, NULL, run, f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_challenge_get_and_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_closes_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_connection_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
