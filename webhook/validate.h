/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_VALIDATE_H
#define KACME_WEBHOOK_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "jdoc.h"
#include "result.h"

/*
 * Validators: pure functions of (operation, old object, new object, user, policy) that append field errors
 * and warnings to an admission_result_t. Objects are borrowed jdoc trees of the raw Kubernetes JSON (no
 * defaulting). old is NULL on CREATE. Rules: cert-manager-behaviour.md §2 and kacme-decisions.md
 * ("Immutability", "Admission catches what CAs would reject later").
 */

enum admission_op { ADMISSION_CREATE, ADMISSION_UPDATE, ADMISSION_OTHER };

typedef struct admission_user {
    const char *username;       /* request.userInfo.username, "" when absent */
    const char *const *groups;  /* request.userInfo.groups */
    size_t n_groups;
} admission_user_t;

typedef struct admission_policy {
    /* --challenge-creators: usernames, or "group:<name>" entries; borrowed. */
    const char *const *challenge_creators;
    size_t n_challenge_creators;
} admission_policy_t;

/* The default --challenge-creators entry: the chart's controller ServiceAccount. */
#define ADMISSION_DEFAULT_CHALLENGE_CREATOR "system:serviceaccount:kacme:kacme-controller"

typedef void (*admission_validator_fn)(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj,
                                       const admission_user_t *user, const admission_policy_t *policy,
                                       admission_result_t *r);

/* acme.cert-manager.io/v1 Order: whole spec immutable, set-once status, CREATE checks CSR vs names. */
void validate_order(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj, const admission_user_t *user,
                    const admission_policy_t *policy, admission_result_t *r);

/* acme.cert-manager.io/v1 Challenge: whole spec immutable, CREATE only by the challenge creators. */
void validate_challenge(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj,
                        const admission_user_t *user, const admission_policy_t *policy, admission_result_t *r);

/* cert-manager.io/v1 CertificateRequest: CSR and names on CREATE; spec and Approved/Denied immutable. */
void validate_certificaterequest(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj,
                                 const admission_user_t *user, const admission_policy_t *policy,
                                 admission_result_t *r);

/* cert-manager.io/v1 Issuer and ClusterIssuer (same rules, §2.3). */
void validate_issuer(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj, const admission_user_t *user,
                     const admission_policy_t *policy, admission_result_t *r);

/* ---- helpers shared by the validators (validate_common.c) ---- */

/* Borrowed member of obj (NULL when obj is not an object, key absent or its value null). */
const jdoc_value_t *vjget(const jdoc_value_t *obj, const char *key);
/* String member or NULL when absent / not a string. */
const char *vjstr(const jdoc_value_t *obj, const char *key);
/* True when member is absent, null, "" , empty array or empty object. */
bool vjempty(const jdoc_value_t *obj, const char *key);

/* Decoded size cap for base64 fields (CSRs, caBundles, Secret data): no AdmissionReview body exceeds it. */
#define WEBHOOK_B64_MAX (3u * 1024u * 1024u)

/* Identifiers (DNS names plus IP addresses) accepted in one certificate. No CA issues more (Let's Encrypt
 * takes 100), and the per-name checks compare pairs, so this also bounds their cost. */
#define WEBHOOK_MAX_IDENTIFIERS 1000

/* The CA-footgun checks over one set of identifiers: DNS name syntax, duplicates (IPs by value), CN over
 * 64 bytes, CN not among the SANs, nothing at all, more than WEBHOOK_MAX_IDENTIFIERS (then the per-name
 * checks are skipped); warnings for wildcard overlap and private IPs. Paths are bases like "spec.dnsNames"
 * (indexed as base[i]). */
void validate_identifiers(admission_result_t *r, const char *dns_path, const jdoc_value_t *dns, const char *ip_path,
                          const jdoc_value_t *ips, const char *cn_path, const char *cn, const char *none_path);

/* Same with C string arrays (from a parsed CSR). */
void validate_identifiers_c(admission_result_t *r, const char *dns_path, char *const *dns, size_t ndns,
                            const char *ip_path, char *const *ips, size_t nips, const char *cn_path, const char *cn,
                            const char *none_path);

/* spec immutability: one Forbidden error per top-level key of spec that differs ("spec.<key>"). */
void validate_spec_immutable(admission_result_t *r, const jdoc_value_t *oldobj, const jdoc_value_t *newobj, const char *kind);

/* snprintf into a char array whose truncation is acceptable (paths are bounded; a cut path is still
 * useful); the result is used so the compiler knows truncation was considered. */
#define VPATH(buf, ...)                                                                            \
    do {                                                                                           \
        if (snprintf((buf), sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf))                         \
            (buf)[sizeof(buf) - 1] = '\0';                                                         \
    } while (0)

#endif
