/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_SERVINGCERT_H
#define KACME_WEBHOOK_SERVINGCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * The serving certificate of the webhook's TLS listener, swappable while serving.
 *
 * One process-wide holder (libmicrohttpd's GnuTLS certificate callback has no user pointer): every TLS
 * handshake asks servingcert_gnutls_retrieve() for the current chain and key. Replacing them never
 * disturbs handshakes or requests already in flight: old key material is retired, not freed, and only
 * released after it has been out of use for an hour (bounded list).
 *
 * Sources: static files (servingcert_watch_files: re-read when they change, kept when the new pair does
 * not parse or does not match) or the dynamic CA (dynamic.h) calling servingcert_set_pem.
 */

/* Installs a PEM chain (leaf first) and its PEM private key (PKCS#1/PKCS#8/SEC1). The key must match the
 * leaf. Returns 0, or -1 with err filled (nothing changes). Thread-safe. */
int servingcert_set_pem(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len, char *err,
                        size_t errlen);

/* True once a certificate is installed. */
bool servingcert_ready(void);

/* notAfter of the installed leaf (0 when none). */
time_t servingcert_not_after(void);

/* Loads cert_file/key_file now (0 or -1 with err), then starts a thread re-reading them every
 * interval_ms when their inode, size or mtime change. Returns 0 or -1 with err. */
int servingcert_watch_files(const char *cert_file, const char *key_file, unsigned interval_ms, char *err,
                            size_t errlen);

/* Number of successful certificate installs so far (tests, logs). */
unsigned long servingcert_generation(void);

/* Stops the watcher thread and frees all key material; call after the TLS server stopped. */
void servingcert_shutdown(void);

/* The GnuTLS retrieve callback (gnutls_certificate_retrieve_function2) handed to MHD via
 * MHD_OPTION_HTTPS_CERT_CALLBACK. Returns -1 when no certificate is installed (handshake fails). */
void *servingcert_gnutls_callback(void);

#endif
