/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_TLSOPTS_H
#define KACME_WEBHOOK_TLSOPTS_H

#include <stddef.h>

/*
 * --tls-min-version and --tls-cipher-suites, spelled as cert-manager's webhook (and every Kubernetes
 * component) takes them: Go constant names, VersionTLS12/VersionTLS13 and e.g.
 * TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (behaviour reference §2.6), turned into a GnuTLS priority string.
 *
 * GnuTLS selects key exchanges, ciphers and MACs as separate sets, so a list of suites enables the union
 * of their parts (listing ECDHE_RSA with AES_128_GCM and ECDHE_ECDSA with AES_256_GCM also allows
 * ECDHE_RSA with AES_256_GCM). As in Go, TLS 1.3 suites are not configurable: the TLS 1.3 names are
 * accepted and ignored, and TLS 1.3 keeps its AEAD ciphers while it is enabled. Versions below TLS 1.2 and
 * suites without forward secrecy's modern ciphers (RC4, 3DES) are refused.
 */

#define TLSOPTS_DEFAULT_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Builds the priority string for min_version (NULL or "" = VersionTLS12) and the n_suites names of suites
 * (n_suites 0 = GnuTLS's NORMAL set) into out (outlen bytes; 512 is always enough). Returns 0, or -1 with
 * err naming the flag and the value it cannot use. */
int tlsopts_priorities(const char *min_version, const char *const *suites, size_t n_suites, char *out,
                       size_t outlen, char *err, size_t errlen);

#endif
