/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_BASE64_H
#define KACME_BASE64_H

#include <stddef.h>

/*
 * Standard base64 (RFC 4648 §4), as Kubernetes writes []byte fields and Secret data: padding optional,
 * whitespace (line breaks of PEM-style wrapping) ignored, the base64url alphabet refused (acme_b64url_*
 * handles that one).
 */

/* Decodes s into a malloc'd buffer with a NUL byte appended (*out, caller frees) and its length without
 * the NUL (*outlen). Returns 0, or -1 for a character outside the alphabet, data after padding, a dangling
 * partial byte, more than two '=', a decoded size above max, or allocation failure (*out stays NULL). */
int util_base64_decode(const char *s, size_t max, unsigned char **out, size_t *outlen);

/* Encodes len bytes of data as padded standard base64, one line. Returns an owned NUL-terminated string, or
 * NULL when out of memory. */
char *util_base64_encode(const unsigned char *data, size_t len);

#endif
