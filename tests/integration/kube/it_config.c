/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration against the local kube-apiserver:
 *   1. the environment's kubeconfig (client certificate, cluster CA) reaches /version and /api;
 *   2. in-cluster configuration from a service-account directory (KACME_SERVICEACCOUNT_DIR) with a token from
 *      the TokenRequest API: a stale token is re-read after the 401 and the request succeeds; RBAC refusals come
 *      back as Forbidden. */
#include <sys/stat.h>

#include "it_rest_common.h"

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    CHECK(f != NULL, "open %s", path);
    fputs(content, f);
    fclose(f);
}

int main(void)
{
    kube_client_t *c = it_client(50, 100);
    kube_error_t e;
    json_object *out = NULL, *v = NULL;
    char ns[96], dir[] = "/tmp/kacme-it-sa-XXXXXX", err[512], host[128] = "", port[16] = "";
    const char *ca_file = getenv("KACME_APISERVER_CA_FILE");
    char token[4096] = "";

    /* 1. kubeconfig */
    CHECK(kube_request(c, "GET", "/version", NULL, NULL, &out, &e) == 0, "/version: %s", it_estr(&e));
    CHECK(json_object_object_get_ex(out, "gitVersion", &v), "no gitVersion");
    fprintf(stderr, "API server %s\n", json_object_get_string(v));
    json_object_put(out);

    /* 2. in-cluster: a service account and a short-lived token for it */
    CHECK(ca_file != NULL, "KACME_APISERVER_CA_FILE not set (source _local/env.sh)");
    it_namespace(c, "cfg", ns, sizeof(ns));
    {
        json_object *sa = json_tokener_parse("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"it\"}}");
        const kube_resource_t sas = {"", "v1", "serviceaccounts", true};
        char path[256];
        json_object *tr = json_tokener_parse("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
                                             "\"spec\":{\"expirationSeconds\":600}}");
        json_object *status = NULL, *tok = NULL;
        CHECK(kube_create(c, &sas, ns, sa, NULL, &e) == 0, "service account: %s", it_estr(&e));
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts/it/token", ns);
        CHECK(kube_request(c, "POST", path, NULL, tr, &out, &e) == 0, "token request: %s", it_estr(&e));
        CHECK(json_object_object_get_ex(out, "status", &status) && json_object_object_get_ex(status, "token", &tok),
              "no token");
        snprintf(token, sizeof(token), "%s", json_object_get_string(tok));
        json_object_put(out);
        json_object_put(sa);
        json_object_put(tr);
    }
    {
        /* host and port from the kubeconfig's server URL https://host:port */
        kube_config_t *cfg = kube_config_load(NULL, NULL, err, sizeof(err));
        const char *p;
        CHECK(cfg != NULL, "%s", err);
        p = cfg->server + strlen("https://");
        CHECK(sscanf(p, "%127[^:]:%15[0-9]", host, port) == 2, "server %s", cfg->server);
        kube_config_free(cfg);
    }
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s/ca.crt'", ca_file, dir);
        CHECK(system(cmd) == 0, "copy CA");
    }
    write_file(dir, "token", "stale-token-from-before-rotation\n");
    write_file(dir, "namespace", ns);
    setenv("KACME_SERVICEACCOUNT_DIR", dir, 1);
    setenv("KUBERNETES_SERVICE_HOST", host, 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    {
        kube_config_t *cfg = kube_config_load_incluster(err, sizeof(err));
        kube_client_t *sc;
        kube_list_opts_t lo = {.limit = 1};
        CHECK(cfg != NULL, "in-cluster: %s", err);
        CHECK(strcmp(cfg->namespace, ns) == 0, "namespace %s", cfg->namespace);
        sc = kube_client_new(cfg, NULL, err, sizeof(err));
        CHECK(sc != NULL, "%s", err);
        kube_config_free(cfg);
        /* The token rotates on disk; the client notices through the 401. */
        write_file(dir, "token", token);
        CHECK(kube_request(sc, "GET", "/api", NULL, NULL, &out, &e) == 0, "/api with rotated token: %s", it_estr(&e));
        json_object_put(out);
        /* A service account without roles may not list Secrets. */
        CHECK(kube_list(sc, &KUBE_RES_SECRETS, ns, &lo, &out, &e) == -1 && e.type == KUBE_ERR_FORBIDDEN &&
                  e.code == 403,
              "list secrets: %s", it_estr(&e));
        fprintf(stderr, "forbidden as expected: %s\n", it_estr(&e));
        kube_client_free(sc);
        /* A wrong token (still wrong after the re-read) is Unauthorized. The running client above would keep
         * its valid token: it re-reads only after a 401 or 60 s. */
        write_file(dir, "token", "garbage");
        cfg = kube_config_load_incluster(err, sizeof(err));
        CHECK(cfg != NULL, "in-cluster: %s", err);
        sc = kube_client_new(cfg, NULL, err, sizeof(err));
        CHECK(sc != NULL, "%s", err);
        kube_config_free(cfg);
        CHECK(kube_request(sc, "GET", "/api", NULL, NULL, &out, &e) == -1 && e.type == KUBE_ERR_UNAUTHORIZED,
              "garbage token: %s", it_estr(&e));
        kube_client_free(sc);
    }
    {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: cannot remove %s\n", dir);
    }
    it_namespace_delete(c, ns);
    kube_client_free(c);
    printf("it_config: ok\n");
    return 0;
}
