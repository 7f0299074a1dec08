/* SPDX-License-Identifier: Apache-2.0 */
#include "servingcert.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "util/log.h"

#define MAX_CHAIN 8
#define MAX_RETIRED 16
#define RETIRE_SECONDS 3600
#define MAX_PEM_FILE (1024 * 1024)

struct bundle {
    gnutls_pcert_st pcert[MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    time_t not_after;
    time_t retired_at;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct bundle *current;
static struct bundle *retired[MAX_RETIRED];
static size_t n_retired;
static unsigned long generation;

static void bundle_free(struct bundle *b)
{
    if (!b)
        return;
    for (unsigned i = 0; i < b->n; i++)
        gnutls_pcert_deinit(&b->pcert[i]);
    if (b->key)
        gnutls_privkey_deinit(b->key);
    free(b);
}

static void seterr(char *err, size_t errlen, const char *what, int rc)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", what, rc ? ": " : "", rc ? gnutls_strerror(rc) : "");
}

/* True when the private key belongs to the leaf's public key (compare DER SubjectPublicKeyInfo). */
static bool key_matches(gnutls_pcert_st *leaf, gnutls_privkey_t key)
{
    gnutls_pubkey_t pk = NULL;
    gnutls_datum_t a = {0}, b = {0};
    bool ok = false;
    if (gnutls_pubkey_init(&pk) < 0)
        return false;
    if (gnutls_pubkey_import_privkey(pk, key, 0, 0) < 0)
        goto out;
    if (gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &a) < 0)
        goto out;
    if (gnutls_pubkey_export2(leaf->pubkey, GNUTLS_X509_FMT_DER, &b) < 0)
        goto out;
    ok = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
out:
    gnutls_free(a.data);
    gnutls_free(b.data);
    gnutls_pubkey_deinit(pk);
    return ok;
}

int servingcert_set_pem(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len, char *err,
                        size_t errlen)
{
    struct bundle *b = calloc(1, sizeof(*b));
    gnutls_x509_crt_t crt = NULL;
    int rc;
    if (!b) {
        seterr(err, errlen, "out of memory", 0);
        return -1;
    }
    gnutls_datum_t cd = {.data = (unsigned char *)cert_pem, .size = (unsigned)cert_len};
    gnutls_datum_t kd = {.data = (unsigned char *)key_pem, .size = (unsigned)key_len};
    b->n = MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(b->pcert, &b->n, &cd, GNUTLS_X509_FMT_PEM,
                                           GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED);
    if (rc < 0 || b->n == 0) {
        b->n = 0;
        seterr(err, errlen, "certificate file: no usable PEM certificate chain", rc < 0 ? rc : 0);
        goto fail;
    }
    if ((rc = gnutls_privkey_init(&b->key)) < 0) {
        seterr(err, errlen, "private key", rc);
        goto fail;
    }
    if ((rc = gnutls_privkey_import_x509_raw(b->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        seterr(err, errlen, "private key file: not a PEM private key", rc);
        goto fail;
    }
    if (!key_matches(&b->pcert[0], b->key)) {
        seterr(err, errlen, "private key does not match the certificate", 0);
        goto fail;
    }
    if (gnutls_x509_crt_init(&crt) == 0 && gnutls_x509_crt_import(crt, &b->pcert[0].cert, GNUTLS_X509_FMT_DER) == 0)
        b->not_after = gnutls_x509_crt_get_expiration_time(crt);
    if (crt)
        gnutls_x509_crt_deinit(crt);

    time_t now = time(NULL);
    pthread_mutex_lock(&mu);
    struct bundle *old = current;
    current = b;
    generation++;
    /* Release retired bundles nobody can still be using, then retire the old one. */
    size_t w = 0;
    for (size_t i = 0; i < n_retired; i++) {
        if (now - retired[i]->retired_at > RETIRE_SECONDS)
            bundle_free(retired[i]);
        else
            retired[w++] = retired[i];
    }
    n_retired = w;
    if (old) {
        if (n_retired == MAX_RETIRED) {
            bundle_free(retired[0]);
            memmove(retired, retired + 1, (MAX_RETIRED - 1) * sizeof(retired[0]));
            n_retired--;
        }
        old->retired_at = now;
        retired[n_retired++] = old;
    }
    pthread_mutex_unlock(&mu);
    return 0;
fail:
    bundle_free(b);
    return -1;
}

bool servingcert_ready(void)
{
    pthread_mutex_lock(&mu);
    bool r = current != NULL;
    pthread_mutex_unlock(&mu);
    return r;
}

time_t servingcert_not_after(void)
{
    pthread_mutex_lock(&mu);
    time_t t = current ? current->not_after : 0;
    pthread_mutex_unlock(&mu);
    return t;
}

unsigned long servingcert_generation(void)
{
    pthread_mutex_lock(&mu);
    unsigned long g = generation;
    pthread_mutex_unlock(&mu);
    return g;
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    pthread_mutex_lock(&mu);
    struct bundle *b = current;
    if (b) {
        *pcert = b->pcert;
        *pcert_length = b->n;
        *privkey = b->key;
    }
    pthread_mutex_unlock(&mu);
    return b ? 0 : -1;
}

void *servingcert_gnutls_callback(void)
{
    gnutls_certificate_retrieve_function2 *fn = retrieve;
    return (void *)fn;
}

/* ---- static files ---- */

static struct {
    pthread_t thread;
    bool running;
    bool stop;
    pthread_cond_t cond;
    char *cert_file, *key_file;
    unsigned interval_ms;
    struct stat cst, kst;
} watch = {.cond = PTHREAD_COND_INITIALIZER};

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_PEM_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM_FILE + 1, f) : 0;
    fclose(f);
    if (!buf || n > MAX_PEM_FILE || n == 0) {
        snprintf(err, errlen, "%s: %s", path, !buf ? "out of memory" : n ? "larger than 1 MiB" : "empty");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int load_files(char *err, size_t errlen)
{
    size_t cl = 0, kl = 0;
    int rc = -1;
    char *c = read_file(watch.cert_file, &cl, err, errlen);
    char *k = c ? read_file(watch.key_file, &kl, err, errlen) : NULL;
    if (c && k)
        rc = servingcert_set_pem(c, cl, k, kl, err, errlen);
    free(c);
    if (k) {
        memset(k, 0, kl); /* key material */
        free(k);
    }
    return rc;
}

static bool changed(const char *path, struct stat *prev)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    bool ch = st.st_ino != prev->st_ino || st.st_size != prev->st_size || st.st_mtim.tv_sec != prev->st_mtim.tv_sec ||
              st.st_mtim.tv_nsec != prev->st_mtim.tv_nsec || st.st_ctim.tv_sec != prev->st_ctim.tv_sec ||
              st.st_ctim.tv_nsec != prev->st_ctim.tv_nsec;
    *prev = st;
    return ch;
}

static void *watch_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!watch.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += watch.interval_ms / 1000;
        ts.tv_nsec += (long)(watch.interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&watch.cond, &mu, &ts);
        if (watch.stop)
            break;
        pthread_mutex_unlock(&mu);
        bool c1 = changed(watch.cert_file, &watch.cst);
        bool c2 = changed(watch.key_file, &watch.kst);
        if (c1 || c2) {
            char err[256];
            if (load_files(err, sizeof(err)) == 0)
                LOG_INFO("serving certificate reloaded", "cert", watch.cert_file);
            else {
                LOG_WARN("serving certificate reload failed; keeping the previous one", "error", err);
                /* retry on the next tick even if the files do not change again */
                memset(&watch.cst, 0, sizeof(watch.cst));
            }
        }
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int servingcert_watch_files(const char *cert_file, const char *key_file, unsigned interval_ms, char *err,
                            size_t errlen)
{
    if (watch.running) {
        snprintf(err, errlen, "already watching");
        return -1;
    }
    free(watch.cert_file);
    free(watch.key_file);
    watch.cert_file = strdup(cert_file);
    watch.key_file = strdup(key_file);
    watch.interval_ms = interval_ms ? interval_ms : 2000;
    if (!watch.cert_file || !watch.key_file) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    changed(cert_file, &watch.cst);
    changed(key_file, &watch.kst);
    if (load_files(err, errlen) < 0)
        return -1;
    watch.stop = false;
    if (pthread_create(&watch.thread, NULL, watch_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the certificate watcher");
        return -1;
    }
    watch.running = true;
    return 0;
}

void servingcert_shutdown(void)
{
    if (watch.running) {
        pthread_mutex_lock(&mu);
        watch.stop = true;
        pthread_cond_signal(&watch.cond);
        pthread_mutex_unlock(&mu);
        pthread_join(watch.thread, NULL);
        watch.running = false;
    }
    free(watch.cert_file);
    free(watch.key_file);
    watch.cert_file = watch.key_file = NULL;
    pthread_mutex_lock(&mu);
    bundle_free(current);
    current = NULL;
    for (size_t i = 0; i < n_retired; i++)
        bundle_free(retired[i]);
    n_retired = 0;
    pthread_mutex_unlock(&mu);
}
