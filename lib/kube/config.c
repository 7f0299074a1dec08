/* SPDX-License-Identifier: Apache-2.0 */
#include "kube/config.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define MAX_FILE_BYTES (4 * 1024 * 1024) /* kubeconfig / CA bundle / client cert and key */
#define MAX_TOKEN_BYTES (64 * 1024)

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Reads a whole regular file of at most max bytes into a NUL-terminated buffer. On failure returns NULL
 * with a reason (no path) in why. */
static char *read_file(const char *path, size_t max, size_t *len_out, char *why, size_t whylen)
{
    FILE *f = NULL;
    char *buf = NULL, *ret = NULL;
    size_t len = 0, cap = 0;

    f = fopen(path, "re");
    if (!f) {
        seterr(why, whylen, "%s", strerror(errno));
        goto out;
    }
    for (;;) {
        size_t n;
        if (len + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                seterr(why, whylen, "out of memory");
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > max) {
            seterr(why, whylen, "larger than %zu bytes", max);
            goto out;
        }
        if (n == 0) {
            if (ferror(f)) {
                seterr(why, whylen, "read error");
                goto out;
            }
            break;
        }
    }
    if (!buf && !(buf = malloc(1))) {
        seterr(why, whylen, "out of memory");
        goto out;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    ret = buf;
    buf = NULL;
out:
    if (f)
        fclose(f);
    free(buf);
    return ret;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void kube_config_free(kube_config_t *c)
{
    if (!c)
        return;
    free(c->server);
    free(c->ca_pem);
    free(c->client_cert_pem);
    free_secret(c->client_key_pem);
    free_secret(c->token);
    free(c->token_file);
    free(c->namespace);
    free(c->source);
    free(c);
}

static char *trim_dup(const char *s, size_t len)
{
    char *r;
    while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    r = malloc(len + 1);
    if (!r)
        return NULL;
    memcpy(r, s, len);
    r[len] = '\0';
    return r;
}

char *kube_config_read_token_file(const char *path, char *err, size_t errlen)
{
    char why[128];
    size_t len = 0;
    char *raw = read_file(path, MAX_TOKEN_BYTES, &len, why, sizeof(why));
    char *tok;

    if (!raw) {
        seterr(err, errlen, "%s: %s", path, why);
        return NULL;
    }
    tok = trim_dup(raw, len);
    free_secret(raw);
    if (!tok) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (!tok[0]) {
        seterr(err, errlen, "%s: empty token", path);
        free(tok);
        return NULL;
    }
    return tok;
}

/* ---- YAML document helpers (libyaml's document API: the whole file is small) ---- */

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* A scalar child as a borrowed NUL-terminated string (libyaml NUL-terminates scalar values). NULL when
 * absent or null ("~", "null", empty plain). Sets *bad when present but not a scalar. */
static const char *map_str(yaml_document_t *doc, yaml_node_t *map, const char *key, bool *bad)
{
    yaml_node_t *n = map_get(doc, map, key);
    const char *v;
    if (!n)
        return NULL;
    if (n->type != YAML_SCALAR_NODE) {
        *bad = true;
        return NULL;
    }
    v = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0))
        return NULL;
    return v;
}

/* Finds the entry named name in a sequence of {name, <kind>: {...}} (clusters, contexts, users). Returns
 * the inner mapping (or NULL) and its index. */
static yaml_node_t *find_named(yaml_document_t *doc, yaml_node_t *seq, const char *inner, const char *name,
                               int *index)
{
    int i = 0;
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return NULL;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++, i++) {
        yaml_node_t *e = yaml_document_get_node(doc, *it);
        bool bad = false;
        const char *n = map_str(doc, e, "name", &bad);
        if (n && strcmp(n, name) == 0) {
            *index = i;
            return map_get(doc, e, inner);
        }
    }
    return NULL;
}

static char *b64_decode(const char *in, size_t *out_len)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    size_t inlen = strlen(in);
    unsigned char *out = NULL;
    int n1 = 0, n2 = 0;

    if (!ctx || inlen > INT_MAX / 2)
        goto fail;
    out = malloc(inlen / 4 * 3 + 4);
    if (!out)
        goto fail;
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, out, &n1, (const unsigned char *)in, (int)inlen) < 0)
        goto fail;
    if (EVP_DecodeFinal(ctx, out + n1, &n2) < 0)
        goto fail;
    out[n1 + n2] = '\0';
    *out_len = (size_t)(n1 + n2);
    EVP_ENCODE_CTX_free(ctx);
    return (char *)out;
fail:
    EVP_ENCODE_CTX_free(ctx);
    free(out);
    return NULL;
}

/* Resolves a file named in a kubeconfig relative to the kubeconfig's directory. */
static char *resolve_path(const char *base, const char *p)
{
    const char *slash;
    char *r;
    size_t dl;
    if (p[0] == '/' || !base || !(slash = strrchr(base, '/')))
        return strdup(p);
    dl = (size_t)(slash - base);
    r = malloc(dl + 1 + strlen(p) + 1);
    if (!r)
        return NULL;
    memcpy(r, base, dl);
    r[dl] = '/';
    strcpy(r + dl + 1, p);
    return r;
}

/* Loads a PEM/credential from either a *-data field (base64) or a file field. Sets *out (owned) or leaves
 * it NULL when neither is present. Returns 0 or -1 with err naming the field. */
static int load_data_or_file(yaml_document_t *doc, yaml_node_t *map, const char *src, const char *prefix,
                             const char *data_key, const char *file_key, char **out, char *err, size_t errlen)
{
    bool bad = false;
    const char *data = map_str(doc, map, data_key, &bad);
    const char *file;
    if (bad) {
        seterr(err, errlen, "%s: %s.%s: not a string", src, prefix, data_key);
        return -1;
    }
    file = map_str(doc, map, file_key, &bad);
    if (bad) {
        seterr(err, errlen, "%s: %s.%s: not a string", src, prefix, file_key);
        return -1;
    }
    if (data) {
        size_t len = 0;
        *out = b64_decode(data, &len);
        if (!*out || len == 0) {
            free(*out);
            *out = NULL;
            seterr(err, errlen, "%s: %s.%s: invalid base64", src, prefix, data_key);
            return -1;
        }
        return 0;
    }
    if (file) {
        char why[128];
        char *path = resolve_path(src, file);
        if (!path) {
            seterr(err, errlen, "out of memory");
            return -1;
        }
        *out = read_file(path, MAX_FILE_BYTES, NULL, why, sizeof(why));
        if (!*out) {
            seterr(err, errlen, "%s: %s.%s: cannot read %s: %s", src, prefix, file_key, path, why);
            free(path);
            return -1;
        }
        free(path);
    }
    return 0;
}

static bool yaml_true(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0);
}

kube_config_t *kube_config_parse_kubeconfig(const char *yaml, size_t len, const char *path, const char *context,
                                            char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    bool parser_ok = false, doc_ok = false, bad = false;
    kube_config_t *c = NULL, *ret = NULL;
    const char *src = path ? path : "<memory>";
    yaml_node_t *root, *ctx, *cluster, *user;
    const char *ctx_name, *cluster_name, *user_name, *server, *ns, *v;
    int ctx_i = -1, cl_i = -1, us_i = -1;
    char pfx[96];

    if (len > MAX_FILE_BYTES) {
        seterr(err, errlen, "%s: larger than %d bytes", src, MAX_FILE_BYTES);
        return NULL;
    }
    if (!yaml_parser_initialize(&parser)) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    parser_ok = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        seterr(err, errlen, "%s: invalid YAML at line %zu column %zu: %s", src, parser.problem_mark.line + 1,
               parser.problem_mark.column + 1, parser.problem ? parser.problem : "parse error");
        goto out;
    }
    doc_ok = true;
    root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        seterr(err, errlen, "%s: not a kubeconfig (expected a mapping at the top)", src);
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        seterr(err, errlen, "out of memory");
        goto out;
    }

    ctx_name = context && context[0] ? context : map_str(&doc, root, "current-context", &bad);
    if (bad) {
        seterr(err, errlen, "%s: current-context: not a string", src);
        goto out;
    }
    if (!ctx_name) {
        seterr(err, errlen, "%s: current-context: not set and no context given", src);
        goto out;
    }
    ctx = find_named(&doc, map_get(&doc, root, "contexts"), "context", ctx_name, &ctx_i);
    if (!ctx || ctx->type != YAML_MAPPING_NODE) {
        if (ctx_i >= 0)
            seterr(err, errlen, "%s: contexts[%d].context: missing or not a mapping", src, ctx_i);
        else
            seterr(err, errlen, "%s: contexts: context \"%s\" not found", src, ctx_name);
        goto out;
    }
    cluster_name = map_str(&doc, ctx, "cluster", &bad);
    if (!cluster_name || bad) {
        seterr(err, errlen, "%s: contexts[%d].context.cluster: missing", src, ctx_i);
        goto out;
    }
    user_name = map_str(&doc, ctx, "user", &bad);
    if (bad) {
        seterr(err, errlen, "%s: contexts[%d].context.user: not a string", src, ctx_i);
        goto out;
    }
    ns = map_str(&doc, ctx, "namespace", &bad);
    if (ns && !(c->namespace = strdup(ns))) {
        seterr(err, errlen, "out of memory");
        goto out;
    }

    cluster = find_named(&doc, map_get(&doc, root, "clusters"), "cluster", cluster_name, &cl_i);
    if (!cluster || cluster->type != YAML_MAPPING_NODE) {
        if (cl_i >= 0)
            seterr(err, errlen, "%s: clusters[%d].cluster: missing or not a mapping", src, cl_i);
        else
            seterr(err, errlen, "%s: contexts[%d].context.cluster: cluster \"%s\" not found", src, ctx_i,
                   cluster_name);
        goto out;
    }
    snprintf(pfx, sizeof(pfx), "clusters[%d].cluster", cl_i);
    server = map_str(&doc, cluster, "server", &bad);
    if (!server || bad) {
        seterr(err, errlen, "%s: %s.server: missing", src, pfx);
        goto out;
    }
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
        seterr(err, errlen, "%s: %s.server: \"%s\" is not an http(s) URL", src, pfx, server);
        goto out;
    }
    if (!(c->server = strdup(server))) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
        c->server[strlen(c->server) - 1] = '\0';
    c->insecure_skip_verify = yaml_true(map_str(&doc, cluster, "insecure-skip-tls-verify", &bad));
    if (load_data_or_file(&doc, cluster, src, pfx, "certificate-authority-data", "certificate-authority",
                          &c->ca_pem, err, errlen) < 0)
        goto out;

    if (user_name) {
        user = find_named(&doc, map_get(&doc, root, "users"), "user", user_name, &us_i);
        if (!user) {
            if (us_i < 0) {
                seterr(err, errlen, "%s: contexts[%d].context.user: user \"%s\" not found", src, ctx_i, user_name);
                goto out;
            }
        } else if (user->type == YAML_SCALAR_NODE) {
            user = NULL; /* "user: {}" or "user:" — an anonymous user */
        } else if (user->type != YAML_MAPPING_NODE) {
            seterr(err, errlen, "%s: users[%d].user: not a mapping", src, us_i);
            goto out;
        }
        snprintf(pfx, sizeof(pfx), "users[%d].user", us_i);
        if (user) {
            static const char *const unsupported[] = {"exec", "auth-provider", "username", "password"};
            for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
                if (map_get(&doc, user, unsupported[i])) {
                    seterr(err, errlen, "%s: %s.%s: not supported (use client certificates or a token)", src, pfx,
                           unsupported[i]);
                    goto out;
                }
            }
            if (load_data_or_file(&doc, user, src, pfx, "client-certificate-data", "client-certificate",
                                  &c->client_cert_pem, err, errlen) < 0 ||
                load_data_or_file(&doc, user, src, pfx, "client-key-data", "client-key", &c->client_key_pem, err,
                                  errlen) < 0)
                goto out;
            if (!c->client_cert_pem != !c->client_key_pem) {
                seterr(err, errlen, "%s: %s: %s without %s", src, pfx,
                       c->client_cert_pem ? "client certificate" : "client key",
                       c->client_cert_pem ? "client key" : "client certificate");
                goto out;
            }
            v = map_str(&doc, user, "token", &bad);
            if (bad) {
                seterr(err, errlen, "%s: %s.token: not a string", src, pfx);
                goto out;
            }
            if (v && !(c->token = strdup(v))) {
                seterr(err, errlen, "out of memory");
                goto out;
            }
            v = map_str(&doc, user, "tokenFile", &bad);
            if (bad) {
                seterr(err, errlen, "%s: %s.tokenFile: not a string", src, pfx);
                goto out;
            }
            if (v && !c->token) {
                char why[256];
                if (!(c->token_file = resolve_path(src, v))) {
                    seterr(err, errlen, "out of memory");
                    goto out;
                }
                c->token = kube_config_read_token_file(c->token_file, why, sizeof(why));
                if (!c->token) {
                    seterr(err, errlen, "%s: %s.tokenFile: %s", src, pfx, why);
                    goto out;
                }
            }
        }
    }
    if (!(c->source = strdup(src))) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    ret = c;
    c = NULL;
out:
    kube_config_free(c);
    if (doc_ok)
        yaml_document_delete(&doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    return ret;
}

kube_config_t *kube_config_load_kubeconfig(const char *path, const char *context, char *err, size_t errlen)
{
    char why[128];
    size_t len = 0;
    char *buf = read_file(path, MAX_FILE_BYTES, &len, why, sizeof(why));
    kube_config_t *c;
    if (!buf) {
        seterr(err, errlen, "%s: %s", path, why);
        return NULL;
    }
    c = kube_config_parse_kubeconfig(buf, len, path, context, err, errlen);
    free_secret(buf);
    return c;
}

kube_config_t *kube_config_load_incluster(char *err, size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = getenv("KACME_SERVICEACCOUNT_DIR");
    kube_config_t *c = NULL, *ret = NULL;
    char path[PATH_MAX], why[256];
    char *nsbuf = NULL;
    size_t need;
    size_t nslen = 0;

    if (!dir || !dir[0])
        dir = KUBE_SERVICEACCOUNT_DIR;
    if (!host || !host[0] || !port || !port[0]) {
        seterr(err, errlen, "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                            "must be set (or give --kubeconfig / KUBECONFIG)");
        return NULL;
    }
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9' || p - port > 5) {
            seterr(err, errlen, "KUBERNETES_SERVICE_PORT: \"%s\" is not a port number", port);
            return NULL;
        }
    }
    if (strpbrk(host, "/?#@ ")) {
        seterr(err, errlen, "KUBERNETES_SERVICE_HOST: \"%s\" is not a host", host);
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        goto oom;
    c->in_cluster = true;
    need = strlen(host) + strlen(port) + 16;
    if (!(c->server = malloc(need)))
        goto oom;
    /* An IPv6 literal needs brackets in a URL (RFC 3986 §3.2.2). */
    if (strchr(host, ':') && host[0] != '[')
        snprintf(c->server, need, "https://[%s]:%s", host, port);
    else
        snprintf(c->server, need, "https://%s:%s", host, port);

    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    c->ca_pem = read_file(path, MAX_FILE_BYTES, NULL, why, sizeof(why));
    if (!c->ca_pem) {
        seterr(err, errlen, "%s: %s", path, why);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/token", dir);
    if (!(c->token_file = strdup(path)))
        goto oom;
    c->token = kube_config_read_token_file(path, err, errlen);
    if (!c->token)
        goto out;
    snprintf(path, sizeof(path), "%s/namespace", dir);
    nsbuf = read_file(path, 4096, &nslen, why, sizeof(why));
    if (nsbuf) {
        c->namespace = trim_dup(nsbuf, nslen);
        if (!c->namespace)
            goto oom;
        if (!c->namespace[0]) {
            free(c->namespace);
            c->namespace = NULL;
        }
    }
    if (!(c->source = strdup("in-cluster")))
        goto oom;
    ret = c;
    c = NULL;
    goto out;
oom:
    seterr(err, errlen, "out of memory");
out:
    free(nsbuf);
    kube_config_free(c);
    return ret;
}

kube_config_t *kube_config_load(const char *kubeconfig_path, const char *context, char *err, size_t errlen)
{
    const char *env = getenv("KUBECONFIG");
    if (kubeconfig_path && kubeconfig_path[0])
        return kube_config_load_kubeconfig(kubeconfig_path, context, err, errlen);
    if (env && env[0]) {
        /* Only the first file of a KUBECONFIG list is read: kacme does not merge kubeconfigs. */
        const char *colon = strchr(env, ':');
        size_t n = colon ? (size_t)(colon - env) : strlen(env);
        char path[PATH_MAX];
        if (n == 0 || n >= sizeof(path)) {
            seterr(err, errlen, "KUBECONFIG: invalid first path");
            return NULL;
        }
        memcpy(path, env, n);
        path[n] = '\0';
        return kube_config_load_kubeconfig(path, context, err, errlen);
    }
    return kube_config_load_incluster(err, errlen);
}
