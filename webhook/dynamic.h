/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_DYNAMIC_H
#define KACME_WEBHOOK_DYNAMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * Dynamic serving certificate (behaviour reference §2.7, kacme issue 3): a CA kept in a Secret
 * (ECDSA P-384, 1 year, regenerated when missing, invalid or past 2/3 of its life), an in-memory ECDSA P-384
 * leaf signed by it (renewed at 2/3 of its life, capped at the CA's notAfter) installed through
 * servingcert.h, and the caBundle of every webhook of a ValidatingWebhookConfiguration kept equal to the CA,
 * so no separate CA injector is needed. Replicas agree through the Secret: creation races end in
 * AlreadyExists, updates carry the resourceVersion (a Conflict means another replica won; re-read).
 *
 * One background thread: re-checks every 10 s (every 1 s until ready). No informer: the Secret is read by
 * name, never listed.
 */

typedef struct dynamic_config {
    const char *kubeconfig;             /* NULL: $KUBECONFIG, else in-cluster */
    const char *namespace_;             /* CA Secret namespace */
    const char *secret_name;            /* CA Secret name */
    const char *const *dns_names;       /* leaf SANs; IP literals become IP SANs */
    size_t n_dns_names;
    double leaf_seconds;                /* leaf lifetime */
    const char *webhook_configuration;  /* ValidatingWebhookConfiguration to keep in sync, or NULL */
} dynamic_config_t;

#define DYNAMIC_CA_SECONDS (365.0 * 24 * 3600)
#define DYNAMIC_CA_CN "kacme-webhook-ca"

/* Starts the CA/leaf loop in a thread. Returns 0 or -1 with err. Strings are borrowed for the process
 * lifetime. */
int dynamic_start(const dynamic_config_t *cfg, char *err, size_t errlen);

/* True when dynamic mode is off, or when the CA is published (leaf installed and, when configured, the
 * caBundle in sync). */
bool dynamic_ready(void);

/* Stops the loop; safe to call when never started. */
void dynamic_stop(void);


/* ---- pure helpers (unit-tested) ---- */

/* Checks the CA material of the Secret: all three present, ca.crt == tls.crt, the key matches, the cert is
 * a CA, and less than 2/3 of its lifetime has passed at now. Returns 0 when usable, -1 with why filled. */
int dynamic_ca_check(const char *ca_crt, size_t ca_len, const char *tls_crt, size_t crt_len, const char *tls_key,
                     size_t key_len, time_t now, char *why, size_t whylen);

/* New self-signed CA: ECDSA P-384, CN DYNAMIC_CA_CN, valid from now for DYNAMIC_CA_SECONDS, basic
 * constraints CA, key usage digitalSignature|keyEncipherment|keyCertSign. Owned PEM strings (key PKCS#8).
 * 0 or -1. */
int dynamic_new_ca(time_t now, char **cert_pem, char **key_pem);

/* Leaf for names (IP literals → IP SANs) signed by the CA: ECDSA P-384, serverAuth, from now for seconds,
 * capped at the CA's notAfter; fails when the CA has expired. Owned PEM strings; not_before and not_after
 * set. 0 or -1 with err. */
int dynamic_issue_leaf(const char *ca_cert_pem, const char *ca_key_pem, const char *const *names, size_t n,
                       double seconds, time_t now, char **cert_pem, char **key_pem, time_t *not_before,
                       time_t *not_after, char *err, size_t errlen);

#endif
