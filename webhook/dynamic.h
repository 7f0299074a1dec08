/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_DYNAMIC_H
#define KACME_WEBHOOK_DYNAMIC_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Dynamic serving certificate (behaviour reference §2.7, kacme issue 3): a CA kept in a Secret
 * (ECDSA P-384, 1 year, regenerated when invalid or past 2/3 of its life), an in-memory ECDSA P-384 leaf
 * signed by it (renewed at 2/3 of its life) installed through servingcert.h, and the caBundle of a
 * ValidatingWebhookConfiguration kept equal to the CA. Replicas agree through the Secret.
 */

typedef struct dynamic_config {
    const char *kubeconfig;             /* NULL: $KUBECONFIG, else in-cluster */
    const char *namespace_;             /* CA Secret namespace */
    const char *secret_name;            /* CA Secret name */
    const char *const *dns_names;       /* leaf SANs; IP literals become IP SANs */
    size_t n_dns_names;
    double leaf_seconds;                /* leaf lifetime */
    const char *webhook_configuration;  /* ValidatingWebhookConfiguration to patch, or NULL */
} dynamic_config_t;

/* Starts the CA/leaf loop in a thread. Returns 0 or -1 with err. Strings are borrowed for the process
 * lifetime. */
int dynamic_start(const dynamic_config_t *cfg, char *err, size_t errlen);

/* True when dynamic mode is off, or when the CA is published (Secret and caBundle in sync). */
bool dynamic_ready(void);

/* Stops the loop; NULL-safe to call when never started. */
void dynamic_stop(void);

/* Parses a Go duration string into seconds. 0 or -1. */
int dynamic_parse_duration(const char *s, double *seconds);

#endif
