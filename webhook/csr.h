/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_CSR_H
#define KACME_WEBHOOK_CSR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The webhook's X.509 input checks with GnuTLS, which the webhook loads anyway for TLS, so that its process
 * does not need OpenSSL's libcrypto as well (issue 3: RSS <= 8 MB). GnuTLS (libtasn1) decodes; on what
 * users send they agree with lib/x509/csr.c (OpenSSL, the controller's parser), and on malformed input
 * libtasn1's DER rules decide, which may refuse what OpenSSL's lenient decoder takes (a request without the
 * attributes field, a CN of a type X.520 does not allow): tests/unit/webhook/test_webhook_csr.c compares the
 * two parsers.
 *
 * PKCS#10 certificate requests: RFC 2986. SANs come from the subjectAltName extension (RFC 5280 §4.2.1.6)
 * inside the extensionRequest attribute (RFC 2985 §5.4.2). Limits are lib/x509/csr.h's X509_CSR_MAX_BYTES
 * (input size) and X509_CSR_MAX_NAMES (DNS plus IP SANs).
 */

typedef struct wcsr {
    char *common_name;    /* first subject CN as UTF-8, NULL when the subject has none */
    char **dns_names;     /* DNS SANs in CSR order, as written (not normalised); n_dns entries */
    size_t n_dns;
    char **ip_addresses;  /* IP SANs as canonical text (inet_ntop), in CSR order; n_ip entries */
    size_t n_ip;
} wcsr_t;

/* Parses data (PEM "CERTIFICATE REQUEST"/"NEW CERTIFICATE REQUEST", or DER) of len bytes and verifies its
 * self-signature. Returns an owned CSR (free with wcsr_free), or
 * NULL with a one-line English reason in err (truncated to errlen; no CSR bytes are echoed). */
wcsr_t *wcsr_parse(const unsigned char *data, size_t len, char *err, size_t errlen);

/* Frees csr and everything it owns; NULL-safe. */
void wcsr_free(wcsr_t *csr);

/* True when data (len bytes, need not be NUL-terminated) is a PEM bundle of X.509 certificates (RFC 5280
 * §4.1, RFC 7468 §5) that GnuTLS decodes, at least one: decodable, not verified (no signature, dates or
 * chain checks). A block that is not a certificate makes the answer false. */
bool wcsr_pem_has_cert(const unsigned char *data, size_t len);

#endif
