/* SPDX-License-Identifier: Apache-2.0 */
/* kubeconfig and in-cluster configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/config.h"

static char dir[256];

static void write_file(const char *name, const char *content)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static char *path_of(const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/kacme-kubeconfig-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n" and friends in base64. */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
#define CA_PEM "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"

static const char INLINE[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: dev\n"
    "clusters:\n"
    "- name: other\n"
    "  cluster:\n"
    "    server: https://10.0.0.1\n"
    "- name: local\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority-data: " CA_B64 "\n"
    "contexts:\n"
    "- name: prod\n"
    "  context: {cluster: other, user: admin}\n"
    "- name: dev\n"
    "  context:\n"
    "    cluster: local\n"
    "    user: admin\n"
    "    namespace: team-a\n"
    "users:\n"
    "- name: admin\n"
    "  user:\n"
    "    client-certificate-data: " CA_B64 "\n"
    "    client-key-data: " CA_B64 "\n";

static void test_inline_data(void **state)
{
    char err[512] = "";
    kube_config_t *c;
    (void)state;
    write_file("inline", INLINE);
    c = kube_config_load_kubeconfig(path_of("inline"), NULL, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->server, "https://127.0.0.1:6443");
    assert_string_equal(c->ca_pem, CA_PEM);
    assert_string_equal(c->client_cert_pem, CA_PEM);
    assert_string_equal(c->client_key_pem, CA_PEM);
    assert_string_equal(c->namespace, "team-a");
    assert_null(c->token);
    assert_false(c->insecure_skip_verify);
    assert_false(c->in_cluster);
    kube_config_free(c);

    /* An explicit context wins over current-context. */
    c = kube_config_load_kubeconfig(path_of("inline"), "prod", err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->server, "https://10.0.0.1");
    assert_null(c->ca_pem);
    assert_null(c->namespace);
    kube_config_free(c);
}

static void test_files_and_token_file(void **state)
{
    char err[512] = "";
    kube_config_t *c;
    (void)state;
    write_file("ca.pem", CA_PEM);
    write_file("tok", "  secret-token-1\n");
    write_file("files",
               "current-context: c\n"
               "clusters:\n"
               "- name: k\n"
               "  cluster:\n"
               "    server: https://[::1]:6443\n"
               "    certificate-authority: ca.pem\n"
               "    insecure-skip-tls-verify: true\n"
               "contexts:\n"
               "- name: c\n"
               "  context:\n"
               "    cluster: k\n"
               "    user: u\n"
               "users:\n"
               "- name: u\n"
               "  user:\n"
               "    tokenFile: tok\n");
    c = kube_config_load_kubeconfig(path_of("files"), NULL, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->server, "https://[::1]:6443");
    assert_string_equal(c->ca_pem, CA_PEM);
    assert_true(c->insecure_skip_verify);
    assert_string_equal(c->token, "secret-token-1");
    assert_non_null(strstr(c->token_file, "/tok"));
    assert_null(c->client_cert_pem);
    kube_config_free(c);

    /* A plain token, and KUBECONFIG's first entry. */
    write_file("token",
               "current-context: c\n"
               "clusters: [{name: k, cluster: {server: 'https://example:443'}}]\n"
               "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
               "users: [{name: u, user: {token: abc}}]\n");
    {
        char env[1200];
        snprintf(env, sizeof(env), "%s:/nonexistent/second", path_of("token"));
        setenv("KUBECONFIG", env, 1);
        c = kube_config_load(NULL, NULL, err, sizeof(err));
        unsetenv("KUBECONFIG");
    }
    assert_non_null(c);
    assert_string_equal(c->token, "abc");
    assert_string_equal(c->server, "https://example:443");
    kube_config_free(c);
}

static void expect_error(const char *file, const char *content, const char *context, const char *want)
{
    char err[512] = "";
    kube_config_t *c;
    write_file(file, content);
    c = kube_config_load_kubeconfig(path_of(file), context, err, sizeof(err));
    if (c || !strstr(err, want) || !strstr(err, path_of(file)))
        fail_msg("%s: got \"%s\", want \"%s\"", file, err, want);
}

static void test_errors_name_file_and_field(void **state)
{
    char err[512] = "";
    (void)state;
    expect_error("bad-yaml", "clusters: [\n  - : : {\n", NULL, "invalid YAML at line");
    expect_error("no-current", "clusters: []\n", NULL, "current-context: not set");
    expect_error("missing-ctx", INLINE, "nope", "contexts: context \"nope\" not found");
    expect_error("missing-cluster",
                 "current-context: c\ncontexts:\n- name: c\n  context: {cluster: foo, user: u}\n", NULL,
                 "contexts[0].context.cluster: cluster \"foo\" not found");
    expect_error("missing-user",
                 "current-context: c\nclusters: [{name: k, cluster: {server: 'https://x'}}]\n"
                 "contexts: [{name: z, context: {cluster: k}}, {name: c, context: {cluster: k, user: u}}]\n",
                 NULL, "contexts[1].context.user: user \"u\" not found");
    expect_error("no-server", "current-context: c\nclusters: [{name: k, cluster: {}}]\n"
                              "contexts: [{name: c, context: {cluster: k}}]\n",
                 NULL, "clusters[0].cluster.server: missing");
    expect_error("bad-b64",
                 "current-context: c\nclusters: [{name: k, cluster: {server: 'https://x', "
                 "certificate-authority-data: '!!!notbase64'}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
                 NULL, "clusters[0].cluster.certificate-authority-data: invalid base64");
    expect_error("missing-ca-file",
                 "current-context: c\nclusters: [{name: k, cluster: {server: 'https://x', "
                 "certificate-authority: /nonexistent/ca.pem}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
                 NULL, "clusters[0].cluster.certificate-authority: cannot read /nonexistent/ca.pem");
    expect_error("exec",
                 "current-context: c\nclusters: [{name: k, cluster: {server: 'https://x'}}]\n"
                 "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
                 "users: [{name: u, user: {exec: {command: aws}}}]\n",
                 NULL, "users[0].user.exec: not supported");
    expect_error("half-cert",
                 "current-context: c\nclusters: [{name: k, cluster: {server: 'https://x'}}]\n"
                 "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
                 "users: [{name: u, user: {client-certificate-data: " CA_B64 "}}]\n",
                 NULL, "client certificate without client key");
    expect_error("not-url",
                 "current-context: c\nclusters: [{name: k, cluster: {server: 'ftp://x'}}]\n"
                 "contexts: [{name: c, context: {cluster: k}}]\n",
                 NULL, "clusters[0].cluster.server: \"ftp://x\" is not an http(s) URL");
    expect_error("scalar-root", "just a string\n", NULL, "not a kubeconfig");
    assert_null(kube_config_load_kubeconfig("/nonexistent/kubeconfig", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/kubeconfig: "));
    /* Errors never quote credentials. */
    expect_error("tokfile",
                 "current-context: c\nclusters: [{name: k, cluster: {server: 'https://x'}}]\n"
                 "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
                 "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n",
                 NULL, "users[0].user.tokenFile: /nonexistent/token");
}

static void test_in_cluster(void **state)
{
    char err[512] = "";
    kube_config_t *c;
    (void)state;
    write_file("ca.crt", CA_PEM);
    write_file("token", "sa-token\n");
    write_file("namespace", "kacme-system");
    setenv("KACME_SERVICEACCOUNT_DIR", dir, 1);
    unsetenv("KUBECONFIG");

    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_null(kube_config_load(NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    c = kube_config_load(NULL, NULL, err, sizeof(err));
    assert_non_null(c);
    assert_true(c->in_cluster);
    assert_string_equal(c->server, "https://10.96.0.1:443");
    assert_string_equal(c->ca_pem, CA_PEM);
    assert_string_equal(c->token, "sa-token");
    assert_string_equal(c->namespace, "kacme-system");
    assert_non_null(c->token_file);
    kube_config_free(c);

    setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
    c = kube_config_load_incluster(err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->server, "https://[fd00:10:96::1]:443");
    kube_config_free(c);

    /* Rotation: the token file is re-read on demand. */
    write_file("token", "sa-token-2");
    {
        char *t = kube_config_read_token_file(path_of("token"), err, sizeof(err));
        assert_string_equal(t, "sa-token-2");
        free(t);
    }
    write_file("token", "\n");
    assert_null(kube_config_read_token_file(path_of("token"), err, sizeof(err)));

    setenv("KUBERNETES_SERVICE_PORT", "44x3", 1);
    assert_null(kube_config_load_incluster(err, sizeof(err)));
    assert_non_null(strstr(err, "KUBERNETES_SERVICE_PORT"));
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    unlink(path_of("ca.crt"));
    assert_null(kube_config_load_incluster(err, sizeof(err)));
    assert_non_null(strstr(err, "ca.crt"));
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("KACME_SERVICEACCOUNT_DIR");
}

static void test_from_memory(void **state)
{
    char err[512];
    kube_config_t *c;
    (void)state;
    c = kube_config_parse_kubeconfig(INLINE, strlen(INLINE), NULL, NULL, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->source, "<memory>");
    kube_config_free(c);
    kube_config_free(NULL);
    assert_null(kube_config_parse_kubeconfig("", 0, NULL, NULL, err, sizeof(err)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_data),
        cmocka_unit_test(test_files_and_token_file),
        cmocka_unit_test(test_errors_name_file_and_field),
        cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_from_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
