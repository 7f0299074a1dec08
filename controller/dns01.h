/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_DNS01_H
#define KACME_CONTROLLER_DNS01_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "solver.h"

/*
 * The DNS-01 solver of the challenges controller (cert-manager-behaviour.md §7): ctrl_dns01_solver (declared
 * in solver.h), glue between the challenges controller and lib/dns01/solver.h.
 *
 *   present   rfc2136: DNS UPDATE adding "<fqdn> 60 IN TXT <key>" (TSIG secret read by name from the Secret
 *             tsigSecretSecretRef in the issuer's resource namespace: the Challenge's namespace for an
 *             Issuer, --cluster-resource-namespace for a ClusterIssuer; Secrets are never listed).
 *             webhook: ChallengePayload "Present" POSTed to /apis/<groupName>/v1alpha1/<solverName> through
 *             the API server (allowAmbientCredentials: --cluster-issuer-ambient-credentials (true) for
             ClusterIssuers, --issuer-ambient-credentials (false) for Issuers).
 *   check     one propagation pass (the zone's authoritative nameservers; or every server of
 *             --dns01-recursive-nameservers with --dns01-recursive-nameservers-only; or the solver's own
 *             dns01.nameservers), then the settle period (--dns01-check-settle-period): while it runs, check
 *             returns the milliseconds left (> 0) instead of 0, with a reason that stays the same (so no
 *             status write per pass), for a requeue after exactly that long; nothing sleeps.
 *   clean_up  the same as present, deleting exactly our TXT value / "CleanUp".
 *
 * Enabled by compiling with KACME_DNS01_SOLVER defined (and linking kacme_dns01 into the binary); without it
 * only a no-op ctrl_dns01_set_options() is built. The lib/dns01 functions are referenced weakly: binaries that
 * do not link kacme_dns01 (unit tests of other controllers) still link, and DNS-01 Challenges then fail with
 * "DNS-01 support is not linked into this binary".
 */

typedef struct ctrl_dns01_options {
    const char *recursive_nameservers; /* --dns01-recursive-nameservers "host:port,..." (NULL/"": resolv.conf) */
    bool recursive_nameservers_only;   /* --dns01-recursive-nameservers-only (false) */
    int64_t check_settle_period_ms;    /* --dns01-check-settle-period (60 s; 0 in tests) */
    bool issuer_ambient_credentials;   /* --issuer-ambient-credentials (cert-manager default false) */
    bool cluster_issuer_ambient_credentials; /* --cluster-issuer-ambient-credentials (cert-manager default true) */
} ctrl_dns01_options_t;

/* ctrl_dns01_options_t with every default above (settle 60 s, ambient credentials false / true). */
void ctrl_dns01_options_init(ctrl_dns01_options_t *o);

/* Sets the DNS-01 flags; call once from main after flag parsing, before workers start. Without a call, the
 * defaults above apply. Returns 0, or -1 with err naming the bad flag value (exit 2). */
int ctrl_dns01_set_options(const ctrl_dns01_options_t *o, char *err, size_t errlen);

/* allowAmbientCredentials for a Challenge whose spec.issuerRef.kind is issuer_kind ("ClusterIssuer", else an
 * Issuer; NULL/"" is an Issuer), as set by ctrl_dns01_set_options. */
bool ctrl_dns01_allow_ambient_credentials(const char *issuer_kind);

#endif
