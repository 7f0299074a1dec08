/* SPDX-License-Identifier: Apache-2.0 */
/* Drives the real HTTPS server in-process with libcurl on an ephemeral port: the admission path, every bad
 * request (400/404/405/413, streamed oversize body), keep-alive, certificate reload from files without
 * dropping an established connection, the idle timeout and the connection cap (health: process test).
 * The serving certificate is generated here (self-signed ECDSA P-256 for IP 127.0.0.1). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "admission.h"
#include "server.h"
#include "servingcert.h"

static char dir[] = "/tmp/kacme-webhook-test-XXXXXX";
static char cert_path[300], key_path[300];
static char *ca_pem; /* current certificate, trusted by the client */
static webhook_server_t *srv;
static unsigned short port;
static const char *const creators[] = {ADMISSION_DEFAULT_CHALLENGE_CREATOR};
static const admission_policy_t policy = {.challenge_creators = creators, .n_challenge_creators = 1};

static const char *REVIEW =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"abc-123\","
    "\"kind\":{\"group\":\"acme.cert-manager.io\",\"version\":\"v1\",\"kind\":\"Challenge\"},\"operation\":\"CREATE\","
    "\"userInfo\":{\"username\":\"alice\"},\"object\":{\"kind\":\"Challenge\",\"metadata\":{\"name\":\"c1\"},"
    "\"spec\":{}}}}";

/* Writes a fresh self-signed cert/key pair to cert_path/key_path (via rename, as a Secret volume would)
 * and keeps the cert PEM in ca_pem. */
static void write_pair(const char *cn)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL) ^ (long)getpid() ^ (long)(uintptr_t)cn);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    FILE *f = fopen(tmp, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    assert_int_equal(rename(tmp, key_path), 0);
    f = fopen(tmp, "w");
    PEM_write_X509(f, x);
    fclose(f);
    assert_int_equal(rename(tmp, cert_path), 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    free(ca_pem);
    ca_pem = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(cert_path, sizeof(cert_path), "%s/tls.crt", dir);
    snprintf(key_path, sizeof(key_path), "%s/tls.key", dir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    write_pair("first");
    char err[256];
    if (servingcert_watch_files(cert_path, key_path, 50, err, sizeof(err)) < 0) {
        fprintf(stderr, "watch: %s\n", err);
        return -1;
    }
    webhook_server_config_t cfg = {.bind_address = "127.0.0.1", .port = 0, .max_connections = 8, .timeout_s = 1,
                                   .threads = 1, .policy = &policy};
    srv = webhook_server_start(&cfg, err, sizeof(err));
    if (!srv) {
        fprintf(stderr, "start: %s\n", err);
        return -1;
    }
    port = webhook_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    webhook_server_stop(srv, 1000);
    servingcert_shutdown();
    unlink(cert_path);
    unlink(key_path);
    rmdir(dir);
    free(ca_pem);
    curl_global_cleanup();
    return 0;
}

struct buf {
    char *d;
    size_t n;
};

static size_t sink(char *p, size_t sz, size_t nm, void *u)
{
    struct buf *b = u;
    size_t n = sz * nm;
    char *nd = realloc(b->d, b->n + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->n, p, n);
    b->d = nd;
    b->n += n;
    b->d[b->n] = '\0';
    return n;
}

static size_t hsink(char *p, size_t sz, size_t nm, void *u)
{
    return sink(p, sz, nm, u);
}

struct resp {
    long code;
    CURLcode rc;
    struct buf body, headers;
    long new_conns;
};

static void resp_free(struct resp *r)
{
    free(r->body.d);
    free(r->headers.d);
}

/* One request. h may be reused for keep-alive. body NULL = GET. len may exceed strlen(body). */
static bool use_expect; /* send "Expect: 100-continue" (the client then waits for the verdict on headers) */
static struct curl_slist *extra_headers; /* sent as well when not NULL (borrowed) */

static struct resp request(CURL *h, const char *method, const char *path, const char *body, size_t len)
{
    struct resp r = {0};
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", (unsigned)port, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    struct curl_blob blob = {.data = ca_pem, .len = strlen(ca_pem), .flags = CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, hsink);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    hd = curl_slist_append(hd, use_expect ? "Expect: 100-continue" : "Expect:");
    for (struct curl_slist *x = extra_headers; x; x = x->next)
        hd = curl_slist_append(hd, x->data);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    r.rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.code);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r.new_conns);
    curl_slist_free_all(hd);
    return r;
}

static void expect_text(const char *method, const char *path, const char *body, long code, const char *reason)
{
    CURL *h = curl_easy_init();
    struct resp r = request(h, method, path, body, body ? strlen(body) : 0);
    if (r.rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(r.rc));
    if (r.code != code)
        fail_msg("%s %s: %ld want %ld (%s)", method, path, r.code, code, r.body.d ? r.body.d : "");
    assert_non_null(r.body.d);
    assert_non_null(strstr(r.body.d, reason));
    /* one line */
    assert_ptr_equal(strchr(r.body.d, '\n'), r.body.d + r.body.n - 1);
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_admission_roundtrip(void **state)
{
    (void)state;
    CURL *h = curl_easy_init();
    struct resp r = request(h, "POST", "/validate", REVIEW, strlen(REVIEW));
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.headers.d, "application/json"));
    assert_non_null(strstr(r.body.d, "\"uid\":\"abc-123\""));
    assert_non_null(strstr(r.body.d, "\"allowed\":false"));
    assert_non_null(strstr(r.body.d, "\"code\":403"));
    assert_non_null(strstr(r.body.d, "\"reason\":\"Forbidden\""));
    resp_free(&r);
    /* keep-alive: the second request reuses the connection */
    r = request(h, "POST", "/validate", REVIEW, strlen(REVIEW));
    assert_int_equal(r.code, 200);
    assert_int_equal(r.new_conns, 0);
    resp_free(&r);
    /* /mutate on the same connection: an Order is never mutated */
    r = request(h, "POST", "/mutate", REVIEW, strlen(REVIEW));
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.body.d, "\"allowed\":true"));
    assert_null(strstr(r.body.d, "\"patch\""));
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_bad_requests(void **state)
{
    (void)state;
    expect_text("POST", "/validate", "not json", 400, "not a single JSON document");
    expect_text("POST", "/validate", "{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}", 400, "not an admission.k8s.io/v1 AdmissionReview");
    expect_text("POST", "/validate", "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", 400,
                "has no request");
    expect_text("POST", "/validate",
                "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"kind\":{\"kind\":\"Order\"}}}",
                400, "has no uid");
    expect_text("POST", "/validate",
                "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"x\"}}", 400,
                "has no kind");
    expect_text("POST", "/validate", "", 400, "empty request body");
    expect_text("GET", "/validate", NULL, 405, "use POST");
    expect_text("PUT", "/validate", "{}", 405, "use POST");
    expect_text("POST", "/convert", REVIEW, 404, "only /validate and /mutate");
    expect_text("GET", "/", NULL, 404, "only /validate and /mutate");
    expect_text("POST", "/mutate", "not json", 400, "not a single JSON document");
    expect_text("GET", "/mutate", NULL, 405, "use POST");
    /* two different Content-Length headers (RFC 9110 §8.6); two equal ones are fine */
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", strlen(REVIEW));
    extra_headers = curl_slist_append(curl_slist_append(NULL, cl), "Content-Length: 5");
    expect_text("POST", "/validate", REVIEW, 400, "conflicting Content-Length headers");
    curl_slist_free_all(extra_headers);
    extra_headers = curl_slist_append(curl_slist_append(NULL, cl), cl);
    CURL *h2 = curl_easy_init();
    struct resp ok = request(h2, "POST", "/validate", REVIEW, strlen(REVIEW));
    assert_int_equal(ok.code, 200);
    resp_free(&ok);
    curl_easy_cleanup(h2);
    curl_slist_free_all(extra_headers);
    extra_headers = NULL;
    /* Allow header on 405 */
    CURL *h = curl_easy_init();
    struct resp r = request(h, "GET", "/validate", NULL, 0);
    assert_non_null(strstr(r.headers.d, "Allow: POST"));
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_body_limits(void **state)
{
    (void)state;
    size_t big = ADMISSION_MAX_BODY + 1;
    char *b = malloc(big);
    memset(b, ' ', big);
    /* over the cap with Content-Length: 413 on the headers alone, before the body is read (the client
     * waits for the verdict with Expect: 100-continue, else its unread upload races the reply) */
    CURL *h = curl_easy_init();
    use_expect = true;
    struct resp r = request(h, "POST", "/validate", b, big);
    use_expect = false;
    assert_int_equal(r.code, 413);
    assert_non_null(strstr(r.body.d, "larger than 3 MiB"));
    resp_free(&r);
    /* exactly at the cap: a review padded with whitespace is served */
    size_t l = strlen(REVIEW);
    memcpy(b, REVIEW, l);
    r = request(h, "POST", "/validate", b, ADMISSION_MAX_BODY);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.body.d, "abc-123"));
    resp_free(&r);
    curl_easy_cleanup(h);
    free(b);
}

struct chunked {
    size_t left;
};

static size_t chunk_reader(char *buf, size_t sz, size_t nm, void *u)
{
    struct chunked *c = u;
    size_t n = sz * nm;
    if (n > c->left)
        n = c->left;
    memset(buf, ' ', n);
    c->left -= n;
    return n;
}

static void test_streamed_oversize(void **state)
{
    (void)state;
    /* chunked, no Content-Length, 8 MiB: the server drops the connection instead of reading it all */
    CURL *h = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/validate", (unsigned)port);
    struct chunked c = {.left = 8u * 1024 * 1024};
    struct buf body = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    struct curl_blob blob = {.data = ca_pem, .len = strlen(ca_pem), .flags = CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, chunk_reader);
    curl_easy_setopt(h, CURLOPT_READDATA, &c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    struct curl_slist *hd = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    assert_true(rc != CURLE_OK || code != 200);
    assert_true(c.left > 0); /* it did not swallow all 8 MiB */
    curl_slist_free_all(hd);
    free(body.d);
    curl_easy_cleanup(h);
}

static void test_cert_reload(void **state)
{
    (void)state;
    CURL *h = curl_easy_init();
    struct resp r = request(h, "POST", "/validate", REVIEW, strlen(REVIEW));
    assert_int_equal(r.code, 200);
    resp_free(&r);
    char *old_pem = strdup(ca_pem);
    unsigned long gen = servingcert_generation();
    write_pair("second");
    for (int i = 0; i < 400 && servingcert_generation() == gen; i++) {
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(servingcert_generation() > gen);
    /* the established keep-alive connection survives the swap */
    char *new_pem = ca_pem;
    ca_pem = old_pem;
    r = request(h, "POST", "/validate", REVIEW, strlen(REVIEW));
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.new_conns, 0);
    resp_free(&r);
    curl_easy_cleanup(h);
    /* a new connection trusting only the old certificate fails; trusting the new one works */
    h = curl_easy_init();
    r = request(h, "POST", "/validate", REVIEW, strlen(REVIEW));
    assert_int_not_equal(r.rc, CURLE_OK);
    resp_free(&r);
    curl_easy_cleanup(h);
    free(old_pem);
    ca_pem = new_pem;
    h = curl_easy_init();
    r = request(h, "POST", "/validate", REVIEW, strlen(REVIEW));
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 200);
    resp_free(&r);
    curl_easy_cleanup(h);
    /* a broken pair on disk is ignored: the server keeps serving the last good one */
    FILE *f = fopen(key_path, "w");
    fputs("not a key\n", f);
    fclose(f);
    h = curl_easy_init();
    r = request(h, "POST", "/validate", REVIEW, strlen(REVIEW));
    assert_int_equal(r.code, 200);
    resp_free(&r);
    curl_easy_cleanup(h);
    write_pair("third");
    for (int i = 0; i < 400 && servingcert_generation() == gen + 1; i++) {
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(servingcert_generation() >= gen + 2);
}

static int raw_connect(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = 15};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return s;
}

/* True when the server closes s (EOF or reset) before the 15 s receive timeout. */
static bool closed_by_server(int s)
{
    char c[64];
    for (int i = 0; i < 64; i++) { /* a TLS alert may come first; then EOF */
        ssize_t n = recv(s, c, sizeof(c), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return true;
        if (n < 0)
            return false;
    }
    return false;
}

static void test_slow_client_timeout(void **state)
{
    (void)state;
    /* connects and sends half a TLS record, then stalls: closed after the 1 s idle timeout */
    int s = raw_connect();
    assert_int_equal(send(s, "\x16\x03\x01", 3, 0), 3);
    assert_true(closed_by_server(s));
    close(s);
}

static void test_connection_cap(void **state)
{
    (void)state;
    int socks[8];
    for (int i = 0; i < 8; i++)
        socks[i] = raw_connect();
    /* the ninth connection is over the cap: the server never holds more than 8, and the extra one is
     * closed (at once, or after it got its turn and idled out) */
    int extra = raw_connect();
    assert_true(webhook_server_connections(srv) <= 8);
    assert_true(closed_by_server(extra));
    assert_true(webhook_server_connections(srv) <= 8);
    close(extra);
    for (int i = 0; i < 8; i++)
        close(socks[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admission_roundtrip),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_streamed_oversize),
        cmocka_unit_test(test_cert_reload),
        cmocka_unit_test(test_slow_client_timeout),
        cmocka_unit_test(test_connection_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
