/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_ACME_PARSE_H
#define KACME_ACME_PARSE_H

#include <stddef.h>
#include <time.h>

#include "acme/acme.h"

/*
 * Pure parsers and decisions of the ACME client, without I/O: used by acme.c, the unit tests and the
 * fuzz target. Inputs are untrusted bytes (need not be NUL-terminated) of at most ACME_JSON_MAX bytes;
 * outputs are freshly allocated (free with the acme_*_free of acme.h). Parsers return 0, or -1 with a
 * short message in err that names the offending member (never echoing long peer data).
 */

#define ACME_JSON_MAX (1024 * 1024)

int acme_directory_parse(const char *json, size_t len, acme_directory_t **out, char *err, size_t errlen);
int acme_order_parse(const char *json, size_t len, acme_order_t **out, char *err, size_t errlen);
int acme_authz_parse(const char *json, size_t len, acme_authz_t **out, char *err, size_t errlen);
int acme_account_parse(const char *json, size_t len, acme_account_t **out, char *err, size_t errlen);
int acme_renewal_info_parse(const char *json, size_t len, acme_renewal_info_t *out, char *err, size_t errlen);

/* Parses an RFC 7807 problem document into e (type, detail, subproblems; kind/status untouched).
 * Returns 0, or -1 when body is not a JSON object with a string "type". */
int acme_problem_parse(const char *json, size_t len, acme_error_t *e);

/* Classifies a non-success HTTP response per kacme-decisions (see acme.h): status (0: no response),
 * body (may be NULL; parsed as a problem document when it is one), the Retry-After header value (may be
 * NULL), now for HTTP-dates. Fills e completely.
 * badNonce comes out TRANSIENT with type ...:badNonce (the client retries it itself first). */
void acme_classify_response(long status, const char *body, size_t body_len, const char *retry_after,
                            time_t now, acme_error_t *e);

/* Default wait for rateLimited/429 without a Retry-After header. */
#define ACME_DEFAULT_RETRY_AFTER_MS 60000L

/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date (IMF-fixdate; RFC 850 and asctime forms
 * accepted too). *ms = delay in milliseconds, 0 for dates in the past; capped at 24 h. 0, or -1 when the
 * value is neither. */
int acme_retry_after_parse(const char *value, time_t now, long *ms);

/* Collects the URLs of Link header values with rel="alternate" (RFC 8288; one header may hold several
 * comma-separated links). Call once per Link header; appends to *urls (malloc'd array of malloc'd
 * strings), at most max in total. Returns 0 or -1 on allocation failure. */
int acme_link_alternates(const char *link_value, char ***urls, size_t *n, size_t max);

/* Issuer CN of the top-most (last) certificate of a PEM chain into cn (""), 0 or -1 when the chain has
 * no parsable certificate. */
int acme_chain_top_issuer_cn(const char *pem, size_t len, char *cn, size_t cnlen);

/* Index of the chain whose top issuer CN equals preferred (chains[0] is the default one and is checked
 * first), or 0 when none matches or preferred is NULL/"". */
size_t acme_choose_chain(const char *const *chains, const size_t *lens, size_t n, const char *preferred);

/* Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)" into UTC seconds. 0 or -1. */
int acme_rfc3339_parse(const char *s, time_t *out);

#endif
