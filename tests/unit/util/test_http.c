/* SPDX-License-Identifier: Apache-2.0 */
/* lib/util/http against a libmicrohttpd server on an ephemeral loopback port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "util/http.h"

struct req_ctx {
    char body[4096];
    size_t len;
};

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct req_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof(*ctx));
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        if (ctx->len + n < sizeof(ctx->body)) {
            memcpy(ctx->body + ctx->len, upload_data, n);
            ctx->len += n;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    char buf[8192];
    unsigned status = 200;
    if (strcmp(url, "/echo") == 0) {
        snprintf(buf, sizeof(buf), "%s %.*s", method, (int)ctx->len, ctx->body);
    } else if (strcmp(url, "/big") == 0) {
        memset(buf, 'x', sizeof(buf) - 1);
        buf[sizeof(buf) - 1] = '\0';
    } else if (strcmp(url, "/empty") == 0) {
        buf[0] = '\0';
        status = 204;
    } else {
        snprintf(buf, sizeof(buf), "not found");
        status = 404;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "X-Test", "  padded  ");
    MHD_add_response_header(r, "Link", "<a>;rel=\"alternate\"");
    MHD_add_response_header(r, "Link", "<b>;rel=\"alternate\"");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    free(*con_cls);
    *con_cls = NULL;
}

struct fixture {
    struct MHD_Daemon *d;
    http_client_t *client;
    char base[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[HTTP_ERR_LEN];
    http_global_init();
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!f->d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", info->port);
    f->client = http_client_new(NULL, err, sizeof(err));
    *state = f;
    return f->client ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    http_client_free(f->client);
    MHD_stop_daemon(f->d);
    free(f);
    return 0;
}

static void test_get_and_headers(void **state)
{
    struct fixture *f = *state;
    char url[128], err[HTTP_ERR_LEN];
    snprintf(url, sizeof(url), "%s/missing", f->base);
    http_request_t req = {.url = url};
    http_response_t resp;
    assert_int_equal(http_do(f->client, &req, &resp, err, sizeof(err)), 0);
    assert_int_equal(resp.status, 404); /* the status is data, not failure */
    assert_string_equal(resp.body, "not found");
    assert_string_equal(http_response_header(&resp, "x-test"), "padded");
    http_response_clear(&resp);
    http_response_clear(&resp); /* idempotent */
}

static void count_link(void *ud, const char *v)
{
    (void)v;
    (*(int *)ud)++;
}

static void test_post_body_and_repeated_headers(void **state)
{
    struct fixture *f = *state;
    char url[128], err[HTTP_ERR_LEN];
    snprintf(url, sizeof(url), "%s/echo", f->base);
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    http_request_t req = {.method = "PATCH", .url = url, .headers = hdrs, .body = "{\"a\":1}", .body_len = 7};
    http_response_t resp;
    assert_int_equal(http_do(f->client, &req, &resp, err, sizeof(err)), 0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "PATCH {\"a\":1}");
    int links = 0;
    http_response_each_header(&resp, "Link", count_link, &links);
    assert_int_equal(links, 2);
    http_response_clear(&resp);
}

static void test_body_cap(void **state)
{
    struct fixture *f = *state;
    char url[128], err[HTTP_ERR_LEN];
    snprintf(url, sizeof(url), "%s/big", f->base);
    http_request_t req = {.url = url, .max_body = 1000};
    http_response_t resp;
    assert_int_equal(http_do(f->client, &req, &resp, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "exceeds 1000 bytes"));
}

struct stream_state {
    size_t bytes;
    int calls;
    bool abort;
};

static int on_data(void *ud, const char *data, size_t len)
{
    (void)data;
    struct stream_state *s = ud;
    s->bytes += len;
    s->calls++;
    return s->abort ? -1 : 0;
}

static void test_streaming(void **state)
{
    struct fixture *f = *state;
    char url[128], err[HTTP_ERR_LEN];
    snprintf(url, sizeof(url), "%s/big", f->base);
    struct stream_state s = {0};
    http_request_t req = {.url = url, .on_data = on_data, .on_data_ud = &s, .max_body = 10};
    http_response_t resp;
    assert_int_equal(http_do(f->client, &req, &resp, err, sizeof(err)), 0);
    assert_int_equal(s.bytes, 8191); /* streamed bodies are not capped by max_body */
    assert_null(resp.body);
    http_response_clear(&resp);

    struct stream_state a = {.abort = true};
    req.on_data_ud = &a;
    assert_int_equal(http_do(f->client, &req, &resp, err, sizeof(err)), -1);
    assert_string_equal(err, "aborted by callback");
}

static void test_https_only_and_refused(void **state)
{
    struct fixture *f = *state;
    char err[HTTP_ERR_LEN];
    http_client_opts_t o = {.https_only = true};
    http_client_t *c = http_client_new(&o, err, sizeof(err));
    assert_non_null(c);
    http_request_t req = {.url = f->base};
    http_response_t resp;
    assert_int_equal(http_do(c, &req, &resp, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "refusing non-https URL"));
    http_client_free(c);

    /* a port nobody listens on: transport error, not a status */
    http_request_t dead = {.url = "http://127.0.0.1:1/", .timeout_ms = 2000};
    assert_int_equal(http_do(f->client, &dead, &resp, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
}

static void test_cert_without_key_rejected(void **state)
{
    (void)state;
    char err[HTTP_ERR_LEN];
    http_client_opts_t o = {.client_cert_pem = "x"};
    assert_null(http_client_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "together"));
    http_client_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_headers),
        cmocka_unit_test(test_post_body_and_repeated_headers),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_https_only_and_refused),
        cmocka_unit_test(test_cert_without_key_rejected),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
