/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_NAMES_H
#define KACME_CONTROLLER_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/*
 * Deterministic object names for Orders and Challenges (cert-manager-behaviour.md §5.8):
 *
 *     name = shorten52(prefix) + "-" + decimal(FNV-1 32-bit of the canonical JSON of obj)
 *
 * The canonical JSON is kacme's own, documented at names_canonical_json(); it is NOT Go's encoding/json,
 * so names are stable (same input → same name, on every run and platform) and unique per spec, but not
 * byte-identical to the names cert-manager would compute. kacme-decisions.md accepts that ("any stable
 * unique hash is behaviourally sufficient"). Results are at most 63 bytes (a valid object name length).
 */

/* Buffer size that always fits a computed name plus its NUL. */
#define NAMES_MAX 64

/* FNV-1 (multiply, then xor; not FNV-1a), 32-bit, offset basis 2166136261, prime 16777619. */
uint32_t names_fnv1_32(const void *data, size_t len);

/* Length of the prefix kept by shorten52: strlen(s) when it is below 52; otherwise the first 52 bytes are
 * cut back to just after the last ASCII alphanumeric byte in them (0 if there is none). */
size_t names_shorten52_len(const char *s);

/*
 * Canonical JSON of obj (borrowed), newly allocated (caller frees), or NULL on allocation failure or
 * nesting deeper than 64. Form: no whitespace; object members sorted by key (byte-wise, strcmp);
 * arrays in order; strings quoted with only `"`, `\` and bytes below 0x20 escaped (\b \f \n \r \t, other
 * control bytes as \u00xx), other bytes (UTF-8 included) verbatim; numbers, booleans and null as json-c
 * writes them (a double keeps the text it was parsed from). A NULL obj encodes as `null`.
 */
char *names_canonical_json(json_object *obj);

/* Writes shorten52(prefix) + "-" + decimal(names_fnv1_32(canonical JSON of obj)) into out (outlen >=
 * NAMES_MAX is always enough). obj is borrowed. Returns 0, or -1 (out too small, or allocation failure). */
int names_compute(const char *prefix, json_object *obj, char *out, size_t outlen);

/*
 * Name of the Order for CertificateRequest cr_name (§5.7, §5.8). order_spec (borrowed, not modified) is the
 * OrderSpec as it will be created; it is hashed with "request" set to null. When strlen(cr_name) >= 52 the
 * hashed object is {"certificateRequestName": cr_name, "spec": <that spec>} so that names which shorten to
 * the same prefix still differ. Returns 0, or -1 (out too small, order_spec not an object, no memory).
 */
int names_order(const char *cr_name, json_object *order_spec, char *out, size_t outlen);

/*
 * Name of a Challenge of Order order_name (§5.4, §5.8). challenge_spec (borrowed, not modified) is the
 * ChallengeSpec including the solver after annotation overrides; it is hashed with "key" set to "" (the key
 * is filled in after naming). Returns 0, or -1 (out too small, challenge_spec not an object, no memory).
 */
int names_challenge(const char *order_name, json_object *challenge_spec, char *out, size_t outlen);

#endif
