/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers for the issuers / certificaterequests controller tests: CSRs and certificates made with
 * OpenSSL, base64, JSON fixtures. */
#ifndef KACME_TEST_CTRLISSUERS_UTIL_H
#define KACME_TEST_CTRLISSUERS_UTIL_H

#include <stddef.h>

#include <json-c/json.h>
#include <openssl/evp.h>

/* A new P-256 key (caller EVP_PKEY_free). */
EVP_PKEY *tu_key(void);

/* PEM CSR (malloc'd) for key with subject CN cn (NULL: none) and SANs "DNS:a,IP:1.2.3.4" style (NULL: none). */
char *tu_csr_pem(EVP_PKEY *key, const char *cn, const char *sans);

/* PEM self-signed certificate (malloc'd) for key. */
char *tu_cert_pem(EVP_PKEY *key, const char *cn);

/* Standard base64 of data (malloc'd). */
char *tu_b64(const void *data, size_t len);

/* Parses JSON text (aborts the test on error). */
json_object *tu_json(const char *text);

#endif
