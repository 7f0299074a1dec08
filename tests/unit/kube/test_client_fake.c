/* SPDX-License-Identifier: Apache-2.0 */
/* The REST client and the informer against a scripted fake API server (libmicrohttpd on an ephemeral
 * loopback port): headers, 429 + Retry-After, token rotation on 401, pagination, watch decoding and the
 * informer's 410 → relist path. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "kube/informer.h"
#include "kube/rest.h"
#include "util/http.h"

/* ---- the fake server ---- */

typedef struct fake {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    int calls_429;        /* answer 429 this many times first */
    int list_calls;
    int watch_calls;
    int relist_phase;     /* informer test: 0 first list, 1 after 410 */
    char last_auth[128];
    char last_ua[128];
    char last_accept[160];
    char last_ctype[128];
    char last_query[512];
    char last_method[16];
    char last_body[2048];
    const char *valid_token; /* Authorization must be "Bearer <valid_token>" */
} fake_t;

static fake_t F;

typedef struct upload {
    char body[2048];
    size_t len;
} upload_t;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    char *q = cls;
    size_t l = strlen(q);
    (void)kind;
    snprintf(q + l, 512 - l, "%s%s=%s", l ? "&" : "", key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body, const char *retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", retry_after);
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static const char *arg(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

#define CM(name, rv) "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"}}"

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    upload_t *u = *con_cls;
    const char *h;
    (void)cls;
    (void)version;
    if (!u) {
        *con_cls = calloc(1, sizeof(upload_t));
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size < sizeof(u->body) - 1 - u->len ? *upload_size : sizeof(u->body) - 1 - u->len;
        memcpy(u->body + u->len, upload_data, n);
        u->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&F.mu);
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(F.last_auth, sizeof(F.last_auth), "%s", h ? h : "");
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    snprintf(F.last_ua, sizeof(F.last_ua), "%s", h ? h : "");
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    snprintf(F.last_accept, sizeof(F.last_accept), "%s", h ? h : "");
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    snprintf(F.last_ctype, sizeof(F.last_ctype), "%s", h ? h : "");
    F.last_query[0] = '\0';
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, F.last_query);
    snprintf(F.last_method, sizeof(F.last_method), "%s", method);
    memcpy(F.last_body, u->body, u->len + 1);
    pthread_mutex_unlock(&F.mu);

    if (F.valid_token) {
        char want[160];
        snprintf(want, sizeof(want), "Bearer %s", F.valid_token);
        if (strcmp(F.last_auth, want) != 0)
            return reply(c, 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}", NULL);
    }
    if (strcmp(url, "/api/v1/namespaces/ns/configmaps/throttled") == 0) {
        if (F.calls_429 > 0) {
            F.calls_429--;
            return reply(c, 429, "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429}", "1");
        }
        return reply(c, 200, CM("throttled", "1"), NULL);
    }
    if (strcmp(url, "/api/v1/namespaces/ns/configmaps/missing") == 0)
        return reply(c, 404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"message\":\"not found\",\"code\":404}",
                     NULL);
    if (strncmp(url, "/api/v1/namespaces/ns/configmaps/", 33) == 0)
        return reply(c, 200, CM("x", "9"), NULL); /* echo-ish for writes */
    if (strcmp(url, "/api/v1/namespaces/ns/configmaps") == 0 && strcmp(method, "POST") == 0)
        return reply(c, 201, CM("created", "2"), NULL);
    if (strcmp(url, "/api/v1/namespaces/paged/configmaps") == 0) {
        const char *cont = arg(c, "continue");
        if (!cont)
            return reply(c, 200,
                         "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"100\",\"continue\":\"p2\"},"
                         "\"items\":[" CM("a", "1") "," CM("b", "2") "]}",
                         NULL);
        if (strcmp(cont, "p2") == 0)
            return reply(c, 200,
                         "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"100\",\"continue\":\"p3\"},"
                         "\"items\":[" CM("c", "3") "]}",
                         NULL);
        return reply(c, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"100\"},\"items\":null}",
                     NULL);
    }
    if (strcmp(url, "/api/v1/namespaces/gone/configmaps") == 0)
        return reply(c, 410,
                     "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old resource version\",\"code\":410}",
                     NULL);
    if (strcmp(url, "/api/v1/namespaces/inf/configmaps") == 0) {
        bool watch = arg(c, "watch") != NULL;
        pthread_mutex_lock(&F.mu);
        if (!watch) {
            F.list_calls++;
            pthread_mutex_unlock(&F.mu);
            if (F.relist_phase == 0)
                return reply(c, 200,
                             "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
                             CM("a", "1") "," CM("b", "2") "]}",
                             NULL);
            return reply(c, 200,
                         "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"20\"},\"items\":["
                         CM("a", "15") "," CM("c", "11") "]}",
                         NULL);
        }
        F.watch_calls++;
        if (F.relist_phase == 0) {
            F.relist_phase = 1;
            pthread_mutex_unlock(&F.mu);
            /* c added, then the watch expires (410 as an ERROR event). */
            return reply(c, 200,
                         "{\"type\":\"ADDED\",\"object\":" CM("c", "11") "}\n"
                         "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"12\"}}}\n"
                         "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n",
                         NULL);
        }
        pthread_mutex_unlock(&F.mu);
        /* Later watches: nothing new; the server ends them at once (the informer backs off). */
        return reply(c, 200, "", NULL);
    }
    if (strcmp(url, "/api/v1/namespaces/w/configmaps") == 0)
        return reply(c, 200,
                     "{\"type\":\"ADDED\",\"object\":" CM("a", "1") "}\n"
                     "{\"type\":\"DELETED\",\"object\":" CM("a", "2") "}\n",
                     NULL);
    return reply(c, 404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}", NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static kube_client_t *client(const char *token, const char *token_file)
{
    char server[64], err[256];
    kube_config_t cfg = {0};
    kube_client_opts_t o = {.component = "test", .qps = 1000, .burst = 1000};
    kube_client_t *kc;
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", F.port);
    cfg.server = server;
    cfg.token = (char *)token;
    cfg.token_file = (char *)token_file;
    kc = kube_client_new(&cfg, &o, err, sizeof(err));
    assert_non_null(kc);
    return kc;
}

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof(F));
    pthread_mutex_init(&F.mu, NULL);
    http_global_init();
    F.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, NULL,
                           MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!F.d)
        return -1;
    F.port = MHD_get_daemon_info(F.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(F.d);
    return 0;
}

/* ---- tests ---- */

static void test_get_headers_and_errors(void **state)
{
    kube_client_t *c = client("tok-1", NULL);
    json_object *o = NULL;
    kube_error_t e;
    (void)state;
    F.valid_token = "tok-1";
    assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "x", &o, &e), 0);
    assert_non_null(o);
    json_object_put(o);
    assert_string_equal(F.last_auth, "Bearer tok-1");
    assert_non_null(strstr(F.last_ua, "kacme-test/"));
    assert_string_equal(F.last_accept, "application/json");
    assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "missing", &o, &e), -1);
    assert_null(o);
    assert_int_equal(e.type, KUBE_ERR_NOT_FOUND);
    F.valid_token = NULL;
    kube_client_free(c);
}

static void test_429_retry(void **state)
{
    kube_client_t *c = client(NULL, NULL);
    kube_error_t e;
    (void)state;
    F.calls_429 = 1;
    assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "throttled", NULL, &e), 0);
    assert_int_equal(F.calls_429, 0);
    kube_client_free(c);
    /* With retries disabled the 429 comes back typed, with its Retry-After. */
    {
        char server[64], err[256];
        kube_config_t cfg = {0};
        kube_client_opts_t o = {.max_retries = -1};
        snprintf(server, sizeof(server), "http://127.0.0.1:%d", F.port);
        cfg.server = server;
        c = kube_client_new(&cfg, &o, err, sizeof(err));
        F.calls_429 = 1;
        assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "throttled", NULL, &e), -1);
        assert_int_equal(e.type, KUBE_ERR_TOO_MANY_REQUESTS);
        assert_int_equal(e.retry_after_s, 1);
        kube_client_free(c);
    }
}

/* The client-side token bucket: after the burst, requests go at qps. Only a lower bound is checked (a bucket
 * can never be faster than its rate; a slow machine only makes it slower). */
static void test_rate_limit(void **state)
{
    char server[64], err[256];
    kube_config_t cfg = {0};
    kube_client_opts_t o = {.qps = 20, .burst = 2};
    kube_client_t *c;
    kube_error_t e;
    struct timespec t0, t1;
    double elapsed;
    (void)state;
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", F.port);
    cfg.server = server;
    c = kube_client_new(&cfg, &o, err, sizeof(err));
    assert_non_null(c);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &e), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* 8 requests, 2 from the burst, 6 at 20/s: at least 0.3 s. */
    assert_true(elapsed >= 0.29);
    kube_client_free(c);
}

static void test_token_rotation_on_401(void **state)
{
    char path[] = "/tmp/kacme-token-XXXXXX";
    int fd = mkstemp(path);
    kube_client_t *c;
    kube_error_t e;
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "tok-new\n", 8), 8);
    close(fd);
    c = client("tok-old", path);
    F.valid_token = "tok-new";
    assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &e), 0);
    assert_string_equal(F.last_auth, "Bearer tok-new");
    F.valid_token = NULL;
    unlink(path);
    kube_client_free(c);
}

static void test_writes(void **state)
{
    kube_client_t *c = client(NULL, NULL);
    json_object *obj = json_tokener_parse(CM("x", "1")), *out = NULL;
    kube_patch_opts_t po = {.type = KUBE_PATCH_APPLY, .field_manager = "kacme", .force = true};
    kube_delete_opts_t dopt = {.precondition_uid = "u-1", .propagation_policy = "Background"};
    kube_error_t e;
    (void)state;
    assert_int_equal(kube_create(c, &KUBE_RES_CONFIGMAPS, "ns", obj, &out, &e), 0);
    assert_string_equal(F.last_method, "POST");
    assert_string_equal(F.last_ctype, "application/json");
    json_object_put(out);
    assert_int_equal(kube_update_status(c, &KUBE_RES_CONFIGMAPS, "ns", "x", obj, NULL, &e), 0);
    assert_string_equal(F.last_method, "PUT");
    assert_int_equal(kube_patch(c, &KUBE_RES_CONFIGMAPS, "ns", "x", &po, obj, NULL, &e), 0);
    assert_string_equal(F.last_method, "PATCH");
    assert_string_equal(F.last_ctype, "application/apply-patch+yaml");
    assert_string_equal(F.last_query, "fieldManager=kacme&force=true");
    po.type = KUBE_PATCH_APPLY;
    po.field_manager = NULL;
    assert_int_equal(kube_patch(c, &KUBE_RES_CONFIGMAPS, "ns", "x", &po, obj, NULL, &e), -1);
    assert_int_equal(e.type, KUBE_ERR_BAD_REQUEST);
    po.type = KUBE_PATCH_MERGE;
    assert_int_equal(kube_patch(c, &KUBE_RES_CONFIGMAPS, "ns", "x", &po, obj, NULL, &e), 0);
    assert_string_equal(F.last_ctype, "application/merge-patch+json");
    assert_int_equal(kube_delete(c, &KUBE_RES_CONFIGMAPS, "ns", "x", &dopt, NULL, &e), 0);
    assert_string_equal(F.last_method, "DELETE");
    assert_non_null(strstr(F.last_body, "\"preconditions\":{\"uid\":\"u-1\"}"));
    assert_non_null(strstr(F.last_body, "\"propagationPolicy\":\"Background\""));
    json_object_put(obj);
    kube_client_free(c);
}

static void test_list_all_pages(void **state)
{
    kube_client_t *c = client(NULL, NULL);
    kube_list_opts_t lo = {.label_selector = "app=kacme,tier in (a,b)", .metadata_only = true, .limit = 2};
    json_object *list = NULL, *items = NULL, *md = NULL, *cont = NULL;
    kube_error_t e;
    (void)state;
    assert_int_equal(kube_list_all(c, &KUBE_RES_CONFIGMAPS, "paged", &lo, &list, &e), 0);
    assert_true(json_object_object_get_ex(list, "items", &items));
    assert_int_equal(json_object_array_length(items), 3);
    json_object_object_get_ex(list, "metadata", &md);
    assert_false(json_object_object_get_ex(md, "continue", &cont));
    assert_string_equal(F.last_accept, "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1");
    assert_non_null(strstr(F.last_query, "labelSelector=app=kacme,tier in (a,b)"));
    assert_non_null(strstr(F.last_query, "continue=p3"));
    json_object_put(list);
    kube_client_free(c);
}

static int count_events(void *ud, enum kube_watch_event t, json_object *o)
{
    int *n = ud;
    (void)o;
    (*n) += t == KUBE_WATCH_ADDED ? 1 : 10;
    return 0;
}

static void test_watch(void **state)
{
    kube_client_t *c = client(NULL, NULL);
    kube_watch_opts_t wo = {.resource_version = "5", .allow_bookmarks = true, .timeout_s = 7, .metadata_only = true};
    kube_error_t e;
    bool stopped;
    int n = 0;
    (void)state;
    assert_int_equal(kube_watch(c, &KUBE_RES_CONFIGMAPS, "w", &wo, count_events, &n, &stopped, &e), 0);
    assert_int_equal(n, 11);
    assert_false(stopped);
    assert_non_null(strstr(F.last_query, "watch=true"));
    assert_non_null(strstr(F.last_query, "resourceVersion=5"));
    assert_non_null(strstr(F.last_query, "allowWatchBookmarks=true"));
    assert_non_null(strstr(F.last_query, "timeoutSeconds=7"));
    assert_string_equal(F.last_accept, "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1");
    /* A 410 answer to the watch request itself. */
    assert_int_equal(kube_watch(c, &KUBE_RES_CONFIGMAPS, "gone", &wo, count_events, &n, &stopped, &e), -1);
    assert_int_equal(e.type, KUBE_ERR_GONE);
    assert_int_equal(e.code, 410);
    kube_client_free(c);
}

typedef struct log {
    pthread_mutex_t mu;
    char lines[32][64];
    int n;
} evlog_t;

static void logf_(evlog_t *l, const char *what, json_object *o)
{
    json_object *md = NULL, *name = NULL, *rv = NULL;
    json_object_object_get_ex(o, "metadata", &md);
    json_object_object_get_ex(md, "name", &name);
    json_object_object_get_ex(md, "resourceVersion", &rv);
    pthread_mutex_lock(&l->mu);
    if (l->n < 32)
        snprintf(l->lines[l->n++], 64, "%s %s %s", what, json_object_get_string(name), json_object_get_string(rv));
    pthread_mutex_unlock(&l->mu);
}

static void on_add(void *ud, json_object *o)
{
    logf_(ud, "add", o);
}

static void on_update(void *ud, json_object *old, json_object *o)
{
    (void)old;
    logf_(ud, "update", o);
}

static void on_delete(void *ud, json_object *o)
{
    logf_(ud, "delete", o);
}

static void test_informer_relist_on_410(void **state)
{
    kube_client_t *c = client(NULL, NULL);
    kube_informer_opts_t io = {.resource = &KUBE_RES_CONFIGMAPS, .namespace = "inf", .watch_timeout_s = 5};
    evlog_t log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kube_informer_handlers_t h = {on_add, on_update, on_delete, &log};
    kube_informer_stats_t st;
    kube_informer_t *inf;
    char err[256];
    (void)state;

    inf = kube_informer_new(c, &io, err, sizeof(err));
    assert_non_null(inf);
    assert_int_equal(kube_informer_add_handlers(inf, &h), 0);
    assert_int_equal(kube_informer_start(inf), 0);
    assert_true(kube_informer_wait_synced(inf, 10000));
    /* Wait (bounded) until the relist happened. */
    for (int i = 0; i < 200; i++) {
        kube_informer_get_stats(inf, &st);
        if (st.lists >= 2 && st.watches >= 2)
            break;
        usleep(50000);
    }
    kube_informer_stop(inf);
    kube_informer_get_stats(inf, &st);
    assert_int_equal(st.lists, 2);
    assert_int_equal(st.relists, 1);
    /* First list: a, b; watch: c; relist: a modified, b deleted, c unchanged (same resourceVersion). */
    assert_int_equal(log.n, 5);
    assert_string_equal(log.lines[0], "add a 1");
    assert_string_equal(log.lines[1], "add b 2");
    assert_string_equal(log.lines[2], "add c 11");
    /* The relist's order of changes: updates/adds first, then deletes. */
    assert_string_equal(log.lines[3], "update a 15");
    assert_string_equal(log.lines[4], "delete b 2");
    assert_int_equal(kube_store_len(kube_informer_store(inf)), 2);
    assert_string_equal(st.resource_version, "20");
    kube_informer_free(inf);
    kube_client_free(c);
}

static void test_informer_refuses_all_secrets(void **state)
{
    kube_client_t *c = client(NULL, NULL);
    kube_informer_opts_t io = {.resource = &KUBE_RES_SECRETS};
    char err[256];
    kube_informer_t *inf;
    (void)state;
    assert_null(kube_informer_new(c, &io, err, sizeof(err)));
    assert_non_null(strstr(err, "Secrets"));
    io.label_selector = "kacme.io/owned=true";
    inf = kube_informer_new(c, &io, err, sizeof(err));
    assert_non_null(inf);
    kube_informer_free(inf);
    kube_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_headers_and_errors),
        cmocka_unit_test(test_429_retry),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_token_rotation_on_401),
        cmocka_unit_test(test_writes),
        cmocka_unit_test(test_list_all_pages),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_informer_relist_on_410),
        cmocka_unit_test(test_informer_refuses_all_secrets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
