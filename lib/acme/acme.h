/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_ACME_H
#define KACME_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "acme/acme_key.h"

/*
 * RFC 8555 ACME client (plus RFC 8738 IP identifiers, RFC 9773 ARI, profiles from the directory).
 *
 * One acme_client_t per issuer account; it is thread-safe and meant to be shared by every controller
 * worker using that account: the directory is fetched once and cached, nonces are pooled under a mutex,
 * HTTP connections are reused (lib/util/http.h). HTTPS only; connect timeout 10 s, total 30 s per request;
 * JSON responses capped at 1 MiB, certificate chains at 1 MiB, at most 16 alternate chains.
 *
 * The client NEVER sleeps. The only loop is the immediate badNonce retry (at most 5 attempts in all, each
 * with the nonce from the previous error response). Every other wait is handed back to the caller:
 *   - an acme_error_t of kind ACME_ERR_RETRY_AFTER carries retry_after_ms (rateLimited / 429);
 *   - an order or authorization that is still "processing"/"pending" carries retry_after_ms from the
 *     response's Retry-After header (0 when absent: the caller picks its own poll period, e.g. 1-5 s).
 *
 * Error convention: every operation returns 0 on success or -1 and fills *e (which must not be NULL).
 * e->kind tells the caller what to do:
 *   ACME_ERR_TRANSIENT    transport error, timeout, 5xx, badNonce after 5 tries, unparsable response of a
 *                         server in trouble: keep state, back off and retry.
 *   ACME_ERR_RETRY_AFTER  rateLimited or HTTP 429: requeue after e->retry_after_ms (Retry-After seconds or
 *                         HTTP-date; 60 s when absent).
 *   ACME_ERR_TERMINAL     a problem document (e->type, e->detail, e->subproblems, e->http_status), or a
 *                         local non-retryable error (e->type == "", e.g. unknown profile, bad input).
 * Logging: URLs and problem types at --v 2..4; never JWS, keys, CSRs or key authorizations.
 *
 * Typical use by the controllers (each step one reconcile pass; any -1 → act on e->kind):
 *   issuer:    k = acme_key_from_pem(secret); c = acme_client_new(&opts, k); if status.acme.uri is known
 *              and still valid: acme_set_account_url(c, uri) else acme_account_register(c, email, eab, &acct)
 *              (then acme_account_update_contact when acct's first contact differs from the spec email).
 *   order:     acme_order_new → for each authorization URL acme_authz_get (status valid: no Challenge)
 *   challenge: acme_client_key_authorization / acme_dns01_value → present → acme_challenge_accept →
 *              poll acme_authz_poll until valid/invalid
 *   order:     acme_order_poll until ready → acme_order_finalize(csr) → acme_order_poll while processing
 *              (honour out->retry_after_ms) → acme_cert_fetch(certificate, preferredChain)
 */

/* ----- errors ---------------------------------------------------------------------------------------- */

enum acme_err_kind {
    ACME_ERR_NONE = 0,
    ACME_ERR_RETRY_AFTER, /* wait retry_after_ms then retry */
    ACME_ERR_TRANSIENT,   /* back off and retry (caller's own backoff) */
    ACME_ERR_TERMINAL     /* do not retry the same request */
};

#define ACME_MAX_SUBPROBLEMS 8

typedef struct acme_subproblem {
    char type[96];            /* full URN, e.g. "urn:ietf:params:acme:error:rejectedIdentifier" */
    char detail[256];
    char identifier_type[8];  /* "dns" / "ip" or "" */
    char identifier_value[256];
} acme_subproblem_t;

/* A plain value with fixed buffers (nothing to free, safe to copy). Strings are truncated to fit. */
typedef struct acme_error {
    enum acme_err_kind kind;
    long http_status;          /* HTTP status of the response; 0 when none arrived (transport error) */
    long retry_after_ms;       /* RETRY_AFTER: how long to wait; otherwise Retry-After if sent, else 0 */
    char type[96];             /* problem type URN (RFC 7807 "type"); "" for non-problem errors */
    char detail[512];          /* problem detail or a local error message */
    size_t n_subproblems;
    acme_subproblem_t subproblems[ACME_MAX_SUBPROBLEMS];
} acme_error_t;

#define ACME_PROBLEM_PREFIX "urn:ietf:params:acme:error:"

/* Zeroes e (NULL-safe). */
void acme_error_clear(acme_error_t *e);

/* True when e->type is ACME_PROBLEM_PREFIX name (e.g. acme_error_is(e, "malformed")). */
bool acme_error_is(const acme_error_t *e, const char *name);

/* "type: detail" style one-line text for reasons and logs (includes subproblem details, truncated). */
void acme_error_format(const acme_error_t *e, char *buf, size_t buflen);

/* ----- resources --------------------------------------------------------------------------------------- */

enum acme_status {
    ACME_STATUS_UNKNOWN = 0,
    ACME_STATUS_PENDING,
    ACME_STATUS_READY,
    ACME_STATUS_PROCESSING,
    ACME_STATUS_VALID,
    ACME_STATUS_INVALID,
    ACME_STATUS_EXPIRED,
    ACME_STATUS_DEACTIVATED,
    ACME_STATUS_REVOKED
};

/* "pending", "ready", ... ("" for UNKNOWN): the strings cert-manager stores in Order/Challenge .state. */
const char *acme_status_name(enum acme_status s);
enum acme_status acme_status_parse(const char *s);

#define ACME_MAX_IDENTIFIERS 1000  /* orders with more identifiers or authorizations are rejected */
#define ACME_MAX_CHALLENGES 16
#define ACME_MAX_PROFILES 32

typedef struct acme_identifier {
    char type[8];     /* "dns" or "ip" */
    char value[256];  /* DNS name (without "*." for authorizations) or textual IP */
} acme_identifier_t;

typedef struct acme_profile {
    char *name;
    char *description;
} acme_profile_t;

typedef struct acme_directory {
    char *new_nonce, *new_account, *new_order, *revoke_cert, *key_change; /* required except key_change */
    char *new_authz;          /* optional (pre-authorization), NULL when absent */
    char *renewal_info;       /* RFC 9773 ARI base URL, NULL when absent */
    char *terms_of_service;   /* meta.termsOfService or NULL */
    char *website;            /* meta.website or NULL */
    bool external_account_required;
    size_t n_profiles;        /* meta.profiles (name -> description) */
    acme_profile_t *profiles;
} acme_directory_t;

typedef struct acme_order {
    char *url;                /* Location of the order (from newOrder's Location header or the URL fetched) */
    enum acme_status status;
    char *expires;            /* RFC 3339 or NULL */
    char *not_before, *not_after; /* or NULL */
    char *profile;            /* or NULL */
    char *replaces;           /* or NULL */
    size_t n_identifiers;
    acme_identifier_t *identifiers;
    size_t n_authorizations;
    char **authorizations;    /* authorization URLs */
    char *finalize;           /* finalize URL */
    char *certificate;        /* certificate URL once valid, else NULL */
    acme_error_t *error;      /* order "error" problem, or NULL */
    long retry_after_ms;      /* Retry-After header of the response that produced this (0: none) */
} acme_order_t;

typedef struct acme_challenge {
    char type[32];            /* "http-01", "dns-01", "tls-alpn-01", ... */
    char *url;
    char *token;              /* NULL for types without token */
    enum acme_status status;
    char *validated;          /* RFC 3339 or NULL */
    acme_error_t *error;      /* or NULL */
} acme_challenge_t;

typedef struct acme_authz {
    char *url;
    enum acme_status status;
    acme_identifier_t identifier;
    bool wildcard;
    char *expires;            /* or NULL */
    size_t n_challenges;
    acme_challenge_t *challenges;
    long retry_after_ms;      /* Retry-After header (0: none) */
} acme_authz_t;

typedef struct acme_account {
    char *url;                /* account URL (the JWS kid) */
    enum acme_status status;  /* valid / deactivated / revoked */
    size_t n_contacts;
    char **contacts;          /* e.g. "mailto:a@example.com" */
} acme_account_t;

typedef struct acme_renewal_info {
    time_t window_start, window_end; /* suggestedWindow, seconds since the epoch (UTC) */
    char *explanation_url;    /* or NULL */
    long retry_after_ms;      /* Retry-After header (RFC 9773 §4.3: when to poll again; 0: none) */
} acme_renewal_info_t;

void acme_directory_free(acme_directory_t *d);
void acme_order_free(acme_order_t *o);
void acme_authz_free(acme_authz_t *a);
void acme_account_free(acme_account_t *a);
void acme_renewal_info_clear(acme_renewal_info_t *ri);

/* The challenge of the given type in a ("http-01", ...), first match; borrowed; NULL if none. */
const acme_challenge_t *acme_authz_find_challenge(const acme_authz_t *a, const char *type);

/* ----- client ------------------------------------------------------------------------------------------ */

typedef struct acme_client acme_client_t;

/* Called once per HTTP round trip (retries and nonce fetches included) for
 * certmanager_http_acme_client_request_{count,duration_seconds}. action is cert-manager's name of the
 * operation the round trip belongs to (a newNonce HEAD carries the action of the POST it is for):
 *   discover             directory GET (acme_directory_get, also on first use by any call)
 *   register_account     newAccount creating the account (acme_account_register)
 *   get_registration     newAccount with onlyReturnExisting (acme_account_lookup, and acme_account_register
 *                        after a 200 "account exists", as cert-manager's GetReg)
 *   update_registration  acme_account_update_contact
 *   authorize_order      acme_order_new
 *   get_order            acme_order_get (also acme_order_finalize's re-fetch of a finalized order)
 *   wait_order           acme_order_poll
 *   create_order_cert    acme_order_finalize
 *   fetch_cert, list_cert_alternates   acme_cert_fetch (default chain, alternate chains)
 *   get_authorization    acme_authz_get
 *   wait_authorization   acme_authz_poll
 *   accept_challenge     acme_challenge_accept
 *   get_renewal_info     acme_renewal_info
 * cert-manager's get_challenge (GET of a challenge URL) and unnamed_action are never emitted: kacme reads a
 * challenge's state from its authorization and names every request. status is the HTTP status or 999
 * without response. Called from the requesting thread; must be thread-safe and quick. */
typedef void (*acme_metrics_fn)(void *ud, const char *action, const char *method, const char *scheme,
                                const char *host, int status, double seconds);

typedef struct acme_client_opts {
    const char *directory_url;    /* required, https:// */
    const char *ca_pem;           /* PEM bundle to trust (issuer caBundle) or NULL: system store */
    const char *ca_file;          /* PEM bundle file (tests) or NULL; ca_pem wins */
    bool insecure_skip_verify;    /* issuer skipTLSVerify */
    const char *user_agent;       /* NULL: "kacme/<version>" */
    acme_metrics_fn metrics;      /* NULL: none */
    void *metrics_ud;
    long connect_timeout_ms;      /* 0: 10 s */
    long timeout_ms;              /* per request, 0: 30 s */
} acme_client_opts_t;

/* New client for the account key k (a reference is taken; the caller keeps its own). No network I/O
 * happens here. NULL with err on bad options. */
acme_client_t *acme_client_new(const acme_client_opts_t *opts, acme_key_t *k, char *err, size_t errlen);
void acme_client_free(acme_client_t *c);

/* The account key (borrowed, valid for the client's lifetime). */
const acme_key_t *acme_client_key(const acme_client_t *c);

/* Sets the account URL used as JWS kid (status.acme.uri from an earlier registration), or NULL to
 * forget it. Thread-safe. */
void acme_set_account_url(acme_client_t *c, const char *url);

/* Copies the current account URL into buf; returns false (buf = "") when none is known. */
bool acme_get_account_url(acme_client_t *c, char *buf, size_t buflen);

/* The directory (fetched on first use, then cached; action "discover"). *out is borrowed, valid for the
 * client's lifetime. */
int acme_directory_get(acme_client_t *c, const acme_directory_t **out, acme_error_t *e);

typedef struct acme_eab {
    const char *kid;              /* externalAccountBinding.keyID */
    const char *mac_key_b64url;   /* the Secret value: base64url MAC key (HS256) */
} acme_eab_t;

/* newAccount (RFC 8555 §7.3): contact ["mailto:<lower-cased email>"] unless email is NULL/"",
 * termsOfServiceAgreed true when the directory has termsOfService, EAB when eab != NULL.
 * 201 → new account; 200 → the key already has an account, which is then fetched with
 * onlyReturnExisting (so its current contacts come back). On success the account URL becomes the
 * client's kid and *out (caller frees, may be NULL) describes the account. */
int acme_account_register(acme_client_t *c, const char *email, const acme_eab_t *eab, acme_account_t **out,
                          acme_error_t *e);

/* newAccount with onlyReturnExisting (§7.3.1, action "get_registration"): the existing account for this key,
 * sets the kid. No account → TERMINAL with type accountDoesNotExist. */
int acme_account_lookup(acme_client_t *c, acme_account_t **out, acme_error_t *e);

/* Updates the account's contact (§7.3.2) to ["mailto:<lower-cased email>"] or [] when email is NULL/"".
 * Needs the account URL (register/lookup/set first). *out may be NULL. */
int acme_account_update_contact(acme_client_t *c, const char *email, acme_account_t **out, acme_error_t *e);

typedef struct acme_order_request {
    const acme_identifier_t *identifiers; /* dns/ip, in the order to send (cert-manager: DNS then IP) */
    size_t n_identifiers;
    const char *not_before;   /* RFC 3339 or NULL */
    const char *not_after;    /* RFC 3339 or NULL (issuer enableDurationFeature) */
    const char *profile;      /* or NULL; must be in the directory's meta.profiles, else TERMINAL
                                 (detail lists the advertised profiles) */
    const char *replaces;     /* ARI CertID (acme_ari_cert_id) or NULL; dropped when the directory has no
                                 renewalInfo; when the server rejects it (alreadyReplaced, or malformed
                                 mentioning "replaces") the order is retried once without it */
} acme_order_request_t;

/* newOrder (§7.4), action "authorize_order". *out (caller frees) has url = Location. */
int acme_order_new(acme_client_t *c, const acme_order_request_t *req, acme_order_t **out, acme_error_t *e);

/* POST-as-GET of an order (action "get_order"). */
int acme_order_get(acme_client_t *c, const char *url, acme_order_t **out, acme_error_t *e);

/* The same request as acme_order_get, labelled "wait_order" as cert-manager labels its polls of an order
 * waiting to become ready/valid: use it for the repeated fetches while an order is pending or processing.
 * One round trip, never sleeps (out->retry_after_ms says when to poll again). */
int acme_order_poll(acme_client_t *c, const char *url, acme_order_t **out, acme_error_t *e);

/* Finalizes order (§7.4, action "create_order_cert") with the CSR in DER. If order->status is already
 * valid or processing, no finalize is sent: the order is fetched again (action "get_order") and returned
 * (fetch its certificate when valid). If the server answers
 * 403 orderNotReady the order is fetched again and returned when it is valid or processing (an earlier
 * finalize went through). *out is the order after finalization: "valid" (certificate URL set) or
 * "processing" (poll acme_order_poll after out->retry_after_ms, or your own period when 0). */
int acme_order_finalize(acme_client_t *c, const acme_order_t *order, const unsigned char *csr_der,
                        size_t csr_len, acme_order_t **out, acme_error_t *e);

/* POST-as-GET of an authorization (action "get_authorization"). */
int acme_authz_get(acme_client_t *c, const char *url, acme_authz_t **out, acme_error_t *e);

/* The same request as acme_authz_get, labelled "wait_authorization" as cert-manager labels its polls of an
 * authorization after accepting a challenge: use it for those polls. One round trip, never sleeps
 * (out->retry_after_ms says when to poll again). */
int acme_authz_poll(acme_client_t *c, const char *url, acme_authz_t **out, acme_error_t *e);

/* Tells the server to validate a challenge: POST {} to its URL (§7.5.1, action "accept_challenge").
 * *status_out (may be NULL) gets the challenge status from the response. */
int acme_challenge_accept(acme_client_t *c, const char *url, enum acme_status *status_out, acme_error_t *e);

/* Key authorization / DNS-01 value for this client's key (see acme_key.h). */
char *acme_client_key_authorization(const acme_client_t *c, const char *token);

/* Downloads the certificate chain (§7.4.2, action "fetch_cert"; alternates: "list_cert_alternates").
 * With preferred_chain set (issuer spec.acme.preferredChain), the default chain is checked first, then
 * each Link rel="alternate" chain in order; the first whose top-most certificate's issuer CN equals
 * preferred_chain wins; none → the default chain. *pem (caller frees) is the PEM chain, leaf first. */
int acme_cert_fetch(acme_client_t *c, const char *cert_url, const char *preferred_chain, char **pem,
                    size_t *pem_len, acme_error_t *e);

/* RFC 9773 ARI: GET <renewalInfo>/<CertID> for the leaf certificate (first PEM block of cert_pem),
 * action "get_renewal_info". Directory without renewalInfo → TERMINAL, type "" and detail saying so. */
int acme_renewal_info(acme_client_t *c, const char *cert_pem, acme_renewal_info_t *out, acme_error_t *e);

/* RFC 9773 §4.1 CertID of the leaf (first PEM block): base64url(AKI keyIdentifier) "." base64url(serial
 * DER content bytes). *out malloc'd. 0, or -1 with err (no AKI, bad PEM). */
int acme_ari_cert_id(const char *cert_pem, char **out, char *err, size_t errlen);

#endif
