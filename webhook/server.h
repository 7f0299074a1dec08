/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_SERVER_H
#define KACME_WEBHOOK_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "ops/metrics.h"
#include "validate.h"

/*
 * The HTTPS listener (libmicrohttpd + GnuTLS) serving POST /validate and POST /mutate (admission.h;
 * health: lib/ops/health.h).
 *
 * HTTPS: certificates come from servingcert.h on every handshake (so they swap without a restart); TLS 1.2+
 * unless tls_priorities says otherwise.
 * Per request: path /validate or /mutate only (else 404), POST only (else 405 with Allow), Content-Length over 3 MiB →
 * 413 before any body byte is read, a streamed body over 3 MiB closes the connection; a connection cap and
 * an idle/read timeout bound slow clients. Responses are built completely before they are queued.
 */

typedef struct webhook_server webhook_server_t;

/* The Prometheus families the server updates per request (registered by webhook_metrics_register, owned
 * by the registry). Label values are bounded: kind is one of the five routed kinds or "other", operation
 * one of the four admission operations or "other", whatever a client sends. */
typedef struct webhook_metrics {
    metrics_family_t *requests; /* kacme_webhook_admission_requests_total{endpoint,kind,operation,allowed} */
    metrics_family_t *rejected; /* kacme_webhook_bad_requests_total{code}: 400/404/405/413/500 replies */
    metrics_family_t *duration; /* kacme_webhook_admission_duration_seconds{endpoint}: body read -> reply */
} webhook_metrics_t;

/* Registers the families in r and fills m. 0, or -1 (bad registry, duplicate, out of memory). */
int webhook_metrics_register(metrics_registry_t *r, webhook_metrics_t *m);

typedef struct webhook_server_config {
    const char *bind_address;          /* IPv4/IPv6 literal, NULL or "" = all IPv4 addresses */
    unsigned short port;               /* 0 = ephemeral (read it back with webhook_server_port) */
    unsigned max_connections;          /* connection cap (0 = 1000) */
    unsigned timeout_s;                /* idle/read timeout per connection (0 = 30) */
    unsigned threads;                  /* polling threads (0 = 2) */
    const char *tls_priorities;        /* GnuTLS priority string (tlsopts.h); NULL = TLS 1.2+ NORMAL */
    const admission_policy_t *policy;  /* borrowed; must outlive the server */
    const webhook_metrics_t *metrics;  /* borrowed, or NULL for none; must outlive the server */
} webhook_server_config_t;

/* Starts the HTTPS listener. NULL with err filled on failure. */
webhook_server_t *webhook_server_start(const webhook_server_config_t *cfg, char *err, size_t errlen);

/* The bound port. */
unsigned short webhook_server_port(const webhook_server_t *s);

/* Connections currently open (tests, diagnostics). */
unsigned webhook_server_connections(const webhook_server_t *s);

/* Stops accepting, lets in-flight requests finish for up to grace_ms, then stops and frees; NULL-safe. */
void webhook_server_stop(webhook_server_t *s, unsigned grace_ms);

/* Parses an IPv4/IPv6 literal plus port into a sockaddr_storage-sized buffer; used by both listeners.
 * Returns the address length, or 0 when addr is not an IP literal. */
size_t webhook_sockaddr(const char *addr, unsigned short port, void *out, size_t outlen);

#endif
