/* SPDX-License-Identifier: Apache-2.0 */
#include "accounts.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ctrl_account {
    char *uid;
    acme_client_t *client;
    char *server, *ca_bundle, *key_hash, *preferred_chain;
    bool skip_verify;
    int refs;                  /* the registry's reference + one per borrower; under the registry lock */
    ctrl_accounts_t *owner;
    struct ctrl_account *next;
};

struct ctrl_accounts {
    pthread_mutex_t lock;
    struct ctrl_account *head;
};

static void account_destroy(struct ctrl_account *a)
{
    acme_client_free(a->client);
    free(a->uid);
    free(a->server);
    free(a->ca_bundle);
    free(a->key_hash);
    free(a->preferred_chain);
    free(a);
}

/* Drops one reference; under the lock. Returns the account when it must be destroyed (outside the lock). */
static struct ctrl_account *unref_locked(struct ctrl_account *a)
{
    return --a->refs == 0 ? a : NULL;
}

ctrl_accounts_t *ctrl_accounts_new(void)
{
    ctrl_accounts_t *a = calloc(1, sizeof(*a));
    if (a)
        pthread_mutex_init(&a->lock, NULL);
    return a;
}

void ctrl_accounts_free(ctrl_accounts_t *a)
{
    if (!a)
        return;
    struct ctrl_account *e = a->head;
    while (e) {
        struct ctrl_account *next = e->next;
        if (unref_locked(e))
            account_destroy(e);
        e = next;
    }
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int ctrl_accounts_put(ctrl_accounts_t *a, const char *issuer_uid, acme_client_t *client, const char *server,
                      bool skip_verify, const char *ca_bundle, const char *key_hash, const char *preferred_chain)
{
    struct ctrl_account *e = calloc(1, sizeof(*e));
    if (!e) {
        acme_client_free(client);
        return -1;
    }
    e->uid = strdup(issuer_uid);
    e->server = dup_or_empty(server);
    e->ca_bundle = dup_or_empty(ca_bundle);
    e->key_hash = dup_or_empty(key_hash);
    e->preferred_chain = dup_or_empty(preferred_chain);
    e->client = client;
    e->skip_verify = skip_verify;
    e->refs = 1;
    e->owner = a;
    if (!e->uid || !e->server || !e->ca_bundle || !e->key_hash || !e->preferred_chain) {
        account_destroy(e);
        return -1;
    }
    struct ctrl_account *old = NULL;
    pthread_mutex_lock(&a->lock);
    for (struct ctrl_account **pp = &a->head; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->uid, issuer_uid) == 0) {
            struct ctrl_account *victim = *pp;
            *pp = victim->next;
            old = unref_locked(victim);
            break;
        }
    }
    e->next = a->head;
    a->head = e;
    pthread_mutex_unlock(&a->lock);
    if (old)
        account_destroy(old);
    return 0;
}

void ctrl_accounts_remove(ctrl_accounts_t *a, const char *issuer_uid)
{
    struct ctrl_account *old = NULL;
    pthread_mutex_lock(&a->lock);
    for (struct ctrl_account **pp = &a->head; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->uid, issuer_uid) == 0) {
            struct ctrl_account *victim = *pp;
            *pp = victim->next;
            old = unref_locked(victim);
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    if (old)
        account_destroy(old);
}

ctrl_account_t *ctrl_accounts_get(ctrl_accounts_t *a, const char *issuer_uid)
{
    ctrl_account_t *found = NULL;
    if (!issuer_uid)
        return NULL;
    pthread_mutex_lock(&a->lock);
    for (struct ctrl_account *e = a->head; e; e = e->next) {
        if (strcmp(e->uid, issuer_uid) == 0) {
            e->refs++;
            found = e;
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return found;
}

void ctrl_account_release(ctrl_account_t *acct)
{
    if (!acct)
        return;
    ctrl_accounts_t *a = acct->owner;
    pthread_mutex_lock(&a->lock);
    struct ctrl_account *dead = unref_locked(acct);
    pthread_mutex_unlock(&a->lock);
    if (dead)
        account_destroy(dead);
}

acme_client_t *ctrl_account_client(ctrl_account_t *acct)
{
    return acct->client;
}

bool ctrl_accounts_matches(ctrl_accounts_t *a, const char *issuer_uid, const char *server, bool skip_verify,
                           const char *ca_bundle, const char *key_hash)
{
    bool match = false;
    pthread_mutex_lock(&a->lock);
    for (struct ctrl_account *e = a->head; e; e = e->next) {
        if (strcmp(e->uid, issuer_uid) == 0) {
            match = strcmp(e->server, server ? server : "") == 0 && e->skip_verify == skip_verify &&
                    strcmp(e->ca_bundle, ca_bundle ? ca_bundle : "") == 0 &&
                    strcmp(e->key_hash, key_hash ? key_hash : "") == 0;
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return match;
}
