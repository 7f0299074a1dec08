/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_X509_NAMES_H
#define KACME_X509_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * DNS name and IP identifier rules as a public CA applies them (RFC 1123 host names, RFC 5280 SANs,
 * RFC 8555 identifiers, RFC 8738 IP identifiers), so admission can deny what an ACME server would reject
 * hours later. Pure functions, no allocation, thread-safe.
 */

#define X509_DNS_NAME_MAX 253   /* RFC 1035 total length, without the trailing dot */
#define X509_DNS_LABEL_MAX 63   /* RFC 1035 label length */
#define X509_CN_MAX 64          /* RFC 5280 ub-common-name */

/* Checks one DNS identifier: lower-case LDH labels of 1..63 bytes, not starting or ending with '-',
 * total <= 253, no trailing dot, ASCII only (U-labels must be given as A-labels "xn--..."); when
 * allow_wildcard, a "*" may be the whole leftmost label (and nothing else). Returns NULL when valid, else
 * a static English sentence saying what is wrong (no name inside, the caller prints the value). */
const char *x509_dns_name_problem(const char *name, bool allow_wildcard);

/* Parses a textual IPv4 or IPv6 address (no brackets, no zone, no prefix). On success writes 16 bytes
 * (IPv4 as ::ffff:a.b.c.d) and returns the family (4 or 6); returns 0 when s is not an address. */
int x509_ip_parse(const char *s, unsigned char out[16]);

/* True when both parse as IP addresses of equal value ("::1" == "0:0::1"). */
bool x509_ip_equal(const char *a, const char *b);

/* Canonical text of an address (inet_ntop of the parsed value) into out (>= 46 bytes). -1 when not an IP. */
int x509_ip_canonical(const char *s, char *out, size_t outlen);

/* True for addresses no public CA will validate: RFC 1918, loopback, link-local, CGNAT 100.64/10,
 * unspecified, IPv6 ULA fc00::/7, documentation ranges. False for non-addresses. */
bool x509_ip_is_private(const char *s);

/* True when wildcard ("*.example.com") covers name ("a.example.com": exactly one extra leftmost label).
 * Comparison is ASCII case-insensitive. */
bool x509_wildcard_covers(const char *wildcard, const char *name);

/* True when the two lists hold the same set of DNS names (exact byte comparison; duplicates ignored). */
bool x509_dns_sets_equal(const char *const *a, size_t na, const char *const *b, size_t nb);

/* True when the two lists hold the same set of IP addresses compared by value; any unparsable entry
 * makes the result false. */
bool x509_ip_sets_equal(const char *const *a, size_t na, const char *const *b, size_t nb);

#endif
