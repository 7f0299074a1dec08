/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_X509_CSR_H
#define KACME_X509_CSR_H

#include <stdbool.h>
#include <stddef.h>

#include "x509/names.h" /* x509_dns_sets_equal, x509_ip_sets_equal (moved there; kept reachable) */

/*
 * PKCS#10 certificate signing requests (RFC 2986) with OpenSSL 3: parse PEM or DER, verify the
 * self-signature, and pull out what ACME cares about (subject CN, DNS and IP SANs from the
 * extensionRequest attribute, RFC 2985 §5.4.2). The name-set comparison helpers live in names.h (no OpenSSL).
 */

struct evp_pkey_st;

#define X509_CSR_MAX_BYTES (64 * 1024)  /* refuse larger inputs before parsing */
#define X509_CSR_MAX_NAMES 1000         /* SAN entries accepted */

typedef struct x509_csr {
    char *common_name;        /* subject CN (UTF-8) or NULL */
    char **dns_names;         /* DNS SANs in CSR order, as written (not normalised) */
    size_t n_dns;
    char **ip_addresses;      /* IP SANs as canonical text (inet_ntop) */
    size_t n_ip;
    struct evp_pkey_st *pubkey; /* owned public key (EVP_PKEY) */
} x509_csr_t;

/* Parses data (PEM "CERTIFICATE REQUEST"/"NEW CERTIFICATE REQUEST", or DER) of len bytes and verifies its
 * signature. Returns an owned CSR, or NULL with a one-line reason in err (no CSR bytes are echoed). */
x509_csr_t *x509_csr_parse(const unsigned char *data, size_t len, char *err, size_t errlen);

/* Frees csr and everything it owns; NULL-safe. */
void x509_csr_free(x509_csr_t *csr);

#endif
