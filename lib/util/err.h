/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_ERR_H
#define KACME_ERR_H

#include <stddef.h>

/* Formats an error message into the caller's buffer (the project's error-detail convention: low layers
 * fill a `char *err, size_t errlen` the caller provides). NULL or zero-sized buffers are ignored. */
void util_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
