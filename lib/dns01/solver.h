/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_DNS01_SOLVER_H
#define KACME_DNS01_SOLVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "dns01/dns01.h"

/*
 * The DNS-01 solver (cert-manager-behaviour.md §7): present / check / clean up for a Challenge whose
 * spec.solver.dns01 uses the `rfc2136` provider or an external `webhook` solver (§7.5). Kubernetes access
 * (reading a Secret by name, POSTing a ChallengePayload through the API server) comes from the caller as a
 * dns01_host_t, so this file is testable without an API server; controller/dns01.c is the glue.
 *
 * Nameservers (§7.3): the solver's dns01.nameservers when non-empty (then the check asks exactly those),
 * else --dns01-recursive-nameservers, else the nameservers of /etc/resolv.conf (port 53), else 8.8.8.8:53
 * and 8.8.4.4:53. They serve CNAME following, zone discovery and (recursive-only mode) the check itself.
 *
 * Nothing here sleeps: check() is one pass; the settle period after a successful check is reported as
 * "not yet" with the time left, and the controller requeues.
 */

#define DNS01_SOLVER_MAX_SECRET 4096 /* TSIG secret (base64 text) read from a Secret */

typedef struct dns01_settle dns01_settle_t;

typedef struct dns01_solver_opts {
    dns01_server_t recursive[DNS01_MAX_SERVERS]; /* --dns01-recursive-nameservers or the defaults above */
    size_t n_recursive;
    bool recursive_only;   /* --dns01-recursive-nameservers-only */
    int64_t settle_ms;     /* --dns01-check-settle-period (cert-manager: 60 s fixed); 0: none */
    dns01_client_t client; /* DNS transport and timeout (zero: network, 5 s); auth_port for tests */
    dns01_settle_t *settle; /* owned; created by dns01_solver_opts_init when settle_ms > 0 */
} dns01_solver_opts_t;

/* Fills o from the flag values: recursive_csv "host:port,..." (IPv6 in brackets; "" or NULL: resolv_conf's
 * nameservers — path NULL: /etc/resolv.conf — else Google's). DNS-over-HTTPS entries are refused. Returns 0,
 * or -1 with err (a flag error). Free with dns01_solver_opts_free. */
int dns01_solver_opts_init(dns01_solver_opts_t *o, const char *recursive_csv, bool recursive_only, int64_t settle_ms,
                           const char *resolv_conf, char *err, size_t errlen);
void dns01_solver_opts_free(dns01_solver_opts_t *o);

/* What the solver needs from Kubernetes. */
typedef struct dns01_host {
    /* data[key] of Secret ns/name, base64-decoded, into out (NUL-terminated). Returns 0 or -1 with err
     * ("secret ns/name not found", "key k not found in secret ns/name"). */
    int (*secret_value)(void *ud, const char *ns, const char *name, const char *key, char *out, size_t outlen,
                        char *err, size_t errlen);
    /* POSTs body (borrowed) to the API path; *out the decoded answer (owned). Returns 0 or -1 with err. */
    int (*post)(void *ud, const char *path, json_object *body, json_object **out, char *err, size_t errlen);
    void *ud;
    const char *resource_namespace; /* where the issuer's Secrets live (Issuer: its namespace; ClusterIssuer:
                                       --cluster-resource-namespace) */
    bool allow_ambient_credentials; /* ChallengeRequest.allowAmbientCredentials */
} dns01_host_t;

/* The rfc2136 block of a solver, parsed. Strings are borrowed from the JSON. */
typedef struct dns01_rfc2136 {
    dns01_server_t server;
    const char *tsig_key_name;   /* NULL or "": no TSIG */
    dns01_tsig_alg_t alg;
    const char *secret_name;     /* tsigSecretSecretRef.name, NULL: no TSIG */
    const char *secret_key;      /* tsigSecretSecretRef.key */
    bool tcp;                    /* protocol TCP */
} dns01_rfc2136_t;

/* Parses spec.solver.dns01.rfc2136 (borrowed). Returns 0, or -1 with err naming the field. */
int dns01_rfc2136_parse(json_object *rfc2136, dns01_rfc2136_t *out, char *err, size_t errlen);

/* The ChallengePayload (webhook.acme.cert-manager.io/v1alpha1) for action "Present" or "CleanUp": request
 * {uid "", action, type "dns-01", dnsName, key, resourceNamespace, resolvedFQDN, resolvedZone,
 * allowAmbientCredentials, config (a copy of the solver's webhook.config, when set)}. New object or NULL. */
json_object *dns01_webhook_payload(json_object *challenge, const char *action, const char *fqdn, const char *zone,
                                   const char *resource_namespace, bool allow_ambient);

/* "/apis/<groupName>/v1alpha1/<solverName>" for spec.solver.dns01.webhook (names checked to be DNS-like).
 * Returns 0 or -1 with err. */
int dns01_webhook_path(json_object *webhook, char *out, size_t outlen, char *err, size_t errlen);

/* The solver calls (see controller/solver.h for the contract). challenge is borrowed. now_ms is a monotonic
 * clock for the settle period. Errors never contain the key or the TSIG secret. */
int dns01_solver_present(const dns01_solver_opts_t *o, const dns01_host_t *h, json_object *challenge, char *err,
                         size_t errlen);
int dns01_solver_check(const dns01_solver_opts_t *o, json_object *challenge, int64_t now_ms, char *err,
                       size_t errlen);
int dns01_solver_clean_up(const dns01_solver_opts_t *o, const dns01_host_t *h, json_object *challenge, char *err,
                          size_t errlen);

/* ---- settle period ---------------------------------------------------------------------------------
 * First-propagated times per Challenge UID (copied), so that check() passes only settle_ms after the first
 * successful check (a failed check starts over). Thread-safe. At most 10,000 entries (oldest dropped). */
dns01_settle_t *dns01_settle_new(void);
void dns01_settle_free(dns01_settle_t *s);
/* Records a propagated check of uid at now_ms; returns the milliseconds still to wait (0: settled). */
int64_t dns01_settle_propagated(dns01_settle_t *s, const char *uid, int64_t now_ms, int64_t settle_ms);
void dns01_settle_forget(dns01_settle_t *s, const char *uid);
size_t dns01_settle_size(dns01_settle_t *s);

#endif
