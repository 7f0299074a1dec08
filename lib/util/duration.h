/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_DURATION_H
#define KACME_DURATION_H

#include <stdint.h>

/*
 * Go duration strings (time.ParseDuration), as Kubernetes API fields and cert-manager flags write them:
 * an optional sign, then one or more decimal numbers with an optional fraction, each followed by a unit
 * ("ns", "us", "µs", "ms", "s", "m", "h"): "2160h0m0s", "1.5h", "300ms", "-10s"; "0" alone needs no unit.
 * Exponents, spaces and bare numbers other than "0" are refused.
 */

/* Parses s into *seconds (negative durations allowed). Returns 0, or -1 when s is malformed. */
int util_parse_duration(const char *s, double *seconds);

/* Parses a non-negative duration into whole milliseconds (rounded down). Returns 0, or -1 when s is
 * malformed, negative or too large for int64 milliseconds. */
int util_parse_duration_ms(const char *s, int64_t *ms);

#endif
