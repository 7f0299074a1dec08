/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_ACME_KEY_H
#define KACME_ACME_KEY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * ACME account keys and the JOSE pieces built on them (OpenSSL 3 EVP only):
 *   - keys: RSA (RS256) and P-256 (ES256), loaded from PEM (PKCS#1 "RSA PRIVATE KEY" as cert-manager writes
 *     account Secrets, PKCS#8 "PRIVATE KEY", SEC1 "EC PRIVATE KEY") or generated;
 *   - JWK (RFC 7517) and its RFC 7638 thumbprint;
 *   - JWS in flattened JSON serialization (RFC 7515 §7.2.2) as RFC 8555 §6.2 wants it;
 *   - External Account Binding JWS (RFC 8555 §7.3.4, HS256);
 *   - key authorizations (RFC 8555 §8.1) and the DNS-01 TXT value (§8.4);
 *   - base64url without padding (RFC 4648 §5).
 *
 * An acme_key_t is immutable after creation and reference counted: safe to share between threads.
 * Nothing here logs key material.
 */

typedef struct acme_key acme_key_t;

enum acme_key_type {
    ACME_KEY_RSA = 1, /* RS256 */
    ACME_KEY_EC_P256  /* ES256 */
};

/* Max PEM input accepted by acme_key_from_pem (bytes). */
#define ACME_KEY_PEM_MAX (64 * 1024)

/* Loads the first private key in pem (len bytes, need not be NUL-terminated). Accepts PKCS#1 RSA, PKCS#8
 * (RSA or EC) and SEC1 EC. RSA keys must be 2048..8192 bits; EC keys must be P-256. NULL with err filled
 * otherwise (the message never quotes the input). */
acme_key_t *acme_key_from_pem(const char *pem, size_t len, char *err, size_t errlen);

/* Generates a new key: RSA with bits (0: 2048) or P-256 (bits ignored). NULL with err on failure. */
acme_key_t *acme_key_generate(enum acme_key_type type, int bits, char *err, size_t errlen);

/* Another reference to k (NULL-safe); release each with acme_key_free. */
acme_key_t *acme_key_ref(acme_key_t *k);
void acme_key_free(acme_key_t *k);

enum acme_key_type acme_key_get_type(const acme_key_t *k);

/* "RS256" or "ES256" (static string). */
const char *acme_key_alg(const acme_key_t *k);

/* PEM of the private key, compatible with cert-manager's account Secrets: RSA as PKCS#1
 * ("RSA PRIVATE KEY"), EC as SEC1 ("EC PRIVATE KEY"). *out is malloc'd and NUL-terminated (caller frees),
 * *outlen its length without the NUL (outlen may be NULL). Returns 0 or -1. */
int acme_key_to_pem(const acme_key_t *k, char **out, size_t *outlen);

/* The value cert-manager stores in status.acme.lastPrivateKeyHash (behaviour §8.2 step 6):
 * base64 standard (padded) of SHA-256 over the PKCS#1 DER of the RSA private key. For EC keys, the same
 * over the SEC1 DER of the private key. out needs ACME_KEY_HASH_LEN bytes (44 chars + NUL). 0 or -1. */
#define ACME_KEY_HASH_LEN 45
int acme_key_hash(const acme_key_t *k, char out[ACME_KEY_HASH_LEN]);

/* The public JWK as a new json_object (caller owns, json_object_put): {"e","kty","n"} for RSA,
 * {"crv","kty","x","y"} for EC (members in lexicographic order, the RFC 7638 required set). NULL on error. */
json_object *acme_key_jwk(const acme_key_t *k);

/* RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)). out needs ACME_THUMBPRINT_LEN (43 + NUL). */
#define ACME_THUMBPRINT_LEN 44
int acme_key_thumbprint(const acme_key_t *k, char out[ACME_THUMBPRINT_LEN]);

/* RFC 7638 thumbprint of any public JWK object (borrowed): only the required members are hashed (RSA: e,
 * kty, n; EC: crv, kty, x, y), in lexicographic order without whitespace. 0, or -1 when kty is unknown or
 * a required member is missing / not a string. */
int acme_jwk_thumbprint(json_object *jwk, char out[ACME_THUMBPRINT_LEN]);

/* Signs a request body for url (RFC 8555 §6.2). Protected header: alg, nonce (omitted when NULL),
 * url, and either kid (when kid != NULL) or jwk. payload is the JSON text of the payload, or NULL for
 * POST-as-GET (empty payload, §6.3). Returns the flattened JWS JSON text (malloc'd, caller frees) or NULL
 * with err. */
char *acme_jws_sign(const acme_key_t *k, const char *url, const char *nonce, const char *kid,
                    const char *payload, char *err, size_t errlen);

/* The externalAccountBinding member of a newAccount payload (RFC 8555 §7.3.4): a flattened JWS with
 * protected {alg:"HS256", kid:eab_kid, url:new_account_url} over the account's public JWK, MACed with
 * the base64url-decoded mac_key_b64url (padding tolerated, '+' and '/' rejected). New json_object
 * (caller owns) or NULL with err. */
json_object *acme_eab_jws(const acme_key_t *k, const char *eab_kid, const char *mac_key_b64url,
                          const char *new_account_url, char *err, size_t errlen);

/* Key authorization (RFC 8555 §8.1): token "." thumbprint; malloc'd string or NULL. Never log it. */
char *acme_key_authorization(const acme_key_t *k, const char *token);

/* DNS-01 TXT record value (RFC 8555 §8.4): base64url(SHA-256(key_authorization)); out needs 44 bytes. */
int acme_dns01_value(const char *key_authorization, char out[ACME_THUMBPRINT_LEN]);

/* base64url without padding; malloc'd NUL-terminated string or NULL on allocation failure. */
char *acme_b64url_encode(const void *data, size_t len);

/* Decodes base64url; trailing '=' padding is tolerated, anything outside [A-Za-z0-9_-] (including '+'
 * and '/') or a bad length fails. *out malloc'd (caller frees; one extra NUL byte appended), *outlen set.
 * Returns 0 or -1. */
int acme_b64url_decode(const char *s, size_t len, uint8_t **out, size_t *outlen);

#endif
