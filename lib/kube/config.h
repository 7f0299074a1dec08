/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_CONFIG_H
#define KACME_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * How to reach the API server: a kubeconfig file (parsed with libyaml) or the in-cluster service account.
 *
 * kubeconfig: the selected context (the current-context unless one is named) picks a cluster and a user.
 * Cluster: server, certificate-authority-data (base64 PEM) or certificate-authority (file, relative paths
 * resolved against the kubeconfig's directory), insecure-skip-tls-verify (honoured only when true).
 * User: client-certificate-data / client-certificate, client-key-data / client-key, token, tokenFile.
 * Not supported (error): exec and auth-provider plugins, username/password. KUBECONFIG: only the first file of
 * a colon-separated list is read (no merging).
 *
 * In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (IPv6 literals bracketed), CA
 * ca.crt, bearer token file token and namespace from /var/run/secrets/kubernetes.io/serviceaccount/, or
 * from $KACME_SERVICEACCOUNT_DIR when set (tests). The token file is re-read by the REST client as it
 * rotates (at most every 60 s, and at once after a 401).
 *
 * Errors name the file and the field: `/x/kubeconfig: contexts[0].context.cluster: cluster "foo" not found`.
 * Secrets (keys, tokens) are never put into error messages.
 */

#define KUBE_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct kube_config {
    char *server;            /* "https://host:port[/prefix]" without trailing '/'; never NULL */
    char *ca_pem;            /* PEM bundle to trust, or NULL for the system store */
    char *client_cert_pem;   /* client certificate PEM or NULL */
    char *client_key_pem;    /* its key PEM or NULL */
    char *token;             /* bearer token or NULL (read from token_file at load time when set) */
    char *token_file;        /* file to re-read the token from as it rotates, or NULL */
    char *namespace;         /* the context's namespace / the service account's namespace, or NULL */
    char *source;            /* the kubeconfig path, or "in-cluster" (for messages) */
    bool insecure_skip_verify;
    bool in_cluster;
} kube_config_t;

/* Parses the kubeconfig at path, selecting context (NULL: current-context). Returns an owned config or
 * NULL with err filled ("<path>: <field>: <problem>"). */
kube_config_t *kube_config_load_kubeconfig(const char *path, const char *context, char *err, size_t errlen);

/* Same from a YAML document in memory; path is used for messages and for relative file paths (may be
 * NULL: "<memory>", relative to the current directory). */
kube_config_t *kube_config_parse_kubeconfig(const char *yaml, size_t len, const char *path, const char *context,
                                            char *err, size_t errlen);

/* In-cluster config (see above). NULL with err filled when not running in a cluster or a file is missing. */
kube_config_t *kube_config_load_incluster(char *err, size_t errlen);

/* The usual choice: kubeconfig_path when non-NULL and non-empty (--kubeconfig), else the first file of
 * $KUBECONFIG, else in-cluster. context may be NULL. */
kube_config_t *kube_config_load(const char *kubeconfig_path, const char *context, char *err, size_t errlen);

/* Frees c and everything it owns (keys are wiped first); NULL-safe. */
void kube_config_free(kube_config_t *c);

/* Reads the token file (trimmed) into a new string; NULL with err filled on failure. Files over 64 KiB are
 * refused. Used for rotation. */
char *kube_config_read_token_file(const char *path, char *err, size_t errlen);

#endif
