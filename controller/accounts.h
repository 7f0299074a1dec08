/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_ACCOUNTS_H
#define KACME_CONTROLLER_ACCOUNTS_H

#include <stdbool.h>

#include "acme/acme.h"

/*
 * The account registry: issuer UID → the ACME client of its registered account (behaviour §8.2 "Client
 * registry"). The issuers/clusterissuers controllers put a client once the account is registered (and
 * remove it when the issuer goes away or becomes not ready); the orders and challenges controllers borrow
 * it. Clients are reference counted so a replacement never frees a client a worker is using.
 *
 * Thread-safe.
 */

typedef struct ctrl_accounts ctrl_accounts_t;
typedef struct ctrl_account ctrl_account_t; /* one registered account: a client plus what built it */

ctrl_accounts_t *ctrl_accounts_new(void);
void ctrl_accounts_free(ctrl_accounts_t *a);

/* Stores client (ownership transferred) for issuer_uid with the settings that built it (used to decide
 * whether a rebuild is needed: server URL, skip-verify, CA bundle, key hash). Replaces any previous entry;
 * the previous client is freed when its last borrower releases it. Returns 0 or -1. */
int ctrl_accounts_put(ctrl_accounts_t *a, const char *issuer_uid, acme_client_t *client, const char *server,
                      bool skip_verify, const char *ca_bundle, const char *key_hash, const char *preferred_chain);

/* Drops the entry of issuer_uid (if any). */
void ctrl_accounts_remove(ctrl_accounts_t *a, const char *issuer_uid);

/* Borrows the entry of issuer_uid: NULL when none (the issuer is not ready yet: retry later). Release
 * with ctrl_account_release. */
ctrl_account_t *ctrl_accounts_get(ctrl_accounts_t *a, const char *issuer_uid);
void ctrl_account_release(ctrl_account_t *acct);

/* The borrowed entry's client (valid until release). */
acme_client_t *ctrl_account_client(ctrl_account_t *acct);

/* True when the entry for issuer_uid was built from exactly these settings. */
bool ctrl_accounts_matches(ctrl_accounts_t *a, const char *issuer_uid, const char *server, bool skip_verify,
                           const char *ca_bundle, const char *key_hash);

#endif
