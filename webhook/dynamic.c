/* SPDX-License-Identifier: Apache-2.0 */
#include "util/base64.h"
#include "dynamic.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kube/config.h"
#include "kube/errors.h"
#include "kube/object.h"
#include "kube/rest.h"
#include "servingcert.h"
#include "util/http.h"
#include "util/log.h"
#include "validate.h"
#include "x509/names.h"

#define MAX_PEM (64 * 1024)

/* ---- OpenSSL helpers ---- */

static X509 *pem_cert(const char *pem, size_t len)
{
    if (!pem || !len || len > MAX_PEM)
        return NULL;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

static EVP_PKEY *pem_key(const char *pem, size_t len)
{
    if (!pem || !len || len > MAX_PEM)
        return NULL;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return k;
}

static char *bio_string(BIO *b)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        memcpy(s, p, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

static char *cert_to_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = b && PEM_write_bio_X509(b, x) ? bio_string(b) : NULL;
    BIO_free(b);
    return s;
}

static char *key_to_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) ? bio_string(b) : NULL;
    BIO_free(b);
    return s;
}

static time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e)
        return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

static int random_serial(X509 *x)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return -1;
    b[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = ai && X509_set_serialNumber(x, ai);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return ok ? 0 : -1;
}

int dynamic_ca_check(const char *ca_crt, size_t ca_len, const char *tls_crt, size_t crt_len, const char *tls_key,
                     size_t key_len, time_t now, char *why, size_t whylen)
{
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    int rc = -1;
    if (!ca_len || !crt_len || !key_len) {
        snprintf(why, whylen, "ca.crt, tls.crt or tls.key is missing or empty");
        goto out;
    }
    if (ca_len != crt_len || memcmp(ca_crt, tls_crt, ca_len) != 0) {
        snprintf(why, whylen, "ca.crt differs from tls.crt");
        goto out;
    }
    x = pem_cert(tls_crt, crt_len);
    k = pem_key(tls_key, key_len);
    if (!x || !k) {
        snprintf(why, whylen, "the key pair does not parse");
        goto out;
    }
    if (X509_check_private_key(x, k) != 1) {
        snprintf(why, whylen, "the key does not match the certificate");
        goto out;
    }
    if (X509_check_ca(x) < 1) {
        snprintf(why, whylen, "the certificate is not a CA");
        goto out;
    }
    time_t nb = asn1_time(X509_get0_notBefore(x)), na = asn1_time(X509_get0_notAfter(x));
    if (!nb || !na || na <= nb) {
        snprintf(why, whylen, "the certificate has no usable validity period");
        goto out;
    }
    if (now >= nb + (na - nb) * 2 / 3) {
        snprintf(why, whylen, "less than a third of the CA's lifetime remains");
        goto out;
    }
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return rc;
}

int dynamic_new_ca(time_t now, char **cert_pem, char **key_pem)
{
    int rc = -1;
    EVP_PKEY *k = EVP_EC_gen("P-384");
    X509 *x = X509_new();
    *cert_pem = *key_pem = NULL;
    if (!k || !x || !X509_set_version(x, 2) || random_serial(x) < 0)
        goto out;
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)DYNAMIC_CA_CN, -1, -1, 0);
    X509_set_issuer_name(x, n);
    if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)DYNAMIC_CA_SECONDS, &now) || !X509_set_pubkey(x, k))
        goto out;
    if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
        add_ext(x, x, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign") < 0 ||
        add_ext(x, x, NID_subject_key_identifier, "hash") < 0)
        goto out;
    if (!X509_sign(x, k, EVP_sha384()))
        goto out;
    *cert_pem = cert_to_pem(x);
    *key_pem = key_to_pem(k);
    rc = *cert_pem && *key_pem ? 0 : -1;
out:
    if (rc < 0) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
    }
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return rc;
}

int dynamic_issue_leaf(const char *ca_cert_pem, const char *ca_key_pem, const char *const *names, size_t n,
                       double seconds, time_t now, char **cert_pem, char **key_pem, time_t *not_before,
                       time_t *not_after, char *err, size_t errlen)
{
    int rc = -1;
    X509 *ca = pem_cert(ca_cert_pem, strlen(ca_cert_pem));
    EVP_PKEY *cak = pem_key(ca_key_pem, strlen(ca_key_pem));
    EVP_PKEY *k = EVP_EC_gen("P-384");
    X509 *x = X509_new();
    char *san = NULL;
    *cert_pem = *key_pem = NULL;
    if (!ca || !cak || !k || !x) {
        snprintf(err, errlen, "CA material does not parse");
        goto out;
    }
    time_t ca_na = asn1_time(X509_get0_notAfter(ca));
    if (ca_na <= now) {
        snprintf(err, errlen, "the CA has expired");
        goto out;
    }
    time_t na = now + (time_t)seconds;
    if (na > ca_na)
        na = ca_na;
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += strlen(names[i]) + 5;
    san = calloc(1, cap);
    if (!san || n == 0) {
        snprintf(err, errlen, "no DNS names");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char b[16];
        if (i)
            strcat(san, ",");
        strcat(san, x509_ip_parse(names[i], b) ? "IP:" : "DNS:");
        strcat(san, names[i]);
    }
    if (!X509_set_version(x, 2) || random_serial(x) < 0)
        goto fail;
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)names[0], -1,
                               -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)(na - now), &now) || !X509_set_pubkey(x, k))
        goto fail;
    if (add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
        add_ext(x, ca, NID_ext_key_usage, "serverAuth") < 0 || add_ext(x, ca, NID_subject_alt_name, san) < 0)
        goto fail;
    if (!X509_sign(x, cak, EVP_sha384()))
        goto fail;
    *cert_pem = cert_to_pem(x);
    *key_pem = key_to_pem(k);
    if (!*cert_pem || !*key_pem)
        goto fail;
    *not_before = now;
    *not_after = na;
    rc = 0;
    goto out;
fail:
    snprintf(err, errlen, "cannot build the serving certificate (bad DNS name?)");
out:
    if (rc < 0) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
    }
    free(san);
    X509_free(ca);
    X509_free(x);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return rc;
}

/* ---- the loop ---- */

static const kube_resource_t RES_VWC = {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                                        false};
static const kube_resource_t RES_MWC = {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                                        false};

static struct {
    dynamic_config_t cfg;
    kube_client_t *kc;
    pthread_t thread;
    bool running, stop;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char *ca_cert, *ca_key;   /* current CA (PEM) */
    char *prev_ca_cert;       /* the CA before the last rotation (kept in the caBundle during rotation) */
    time_t leaf_renew_at;
    atomic_bool enabled, published;
} dyn = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* Standard base64 of a PEM text, as Secret data and caBundle fields hold it. Owned, NULL when out of memory. */
static char *b64(const char *s)
{
    return util_base64_encode((const unsigned char *)s, strlen(s));
}

/* Decoded data[key] of a Secret (owned, NUL-terminated) or NULL. */
static char *secret_value(json_object *secret, const char *key, size_t *len)
{
    const char *v = kube_obj_str(kube_obj_get(secret, "data"), key);
    unsigned char *out = NULL;
    size_t l = 0;
    *len = 0;
    if (!v || util_base64_decode(v, WEBHOOK_B64_MAX, &out, &l) < 0)
        return NULL;
    char *s = realloc(out, l + 1);
    if (!s) {
        free(out);
        return NULL;
    }
    s[l] = '\0';
    *len = l;
    return s;
}

static json_object *secret_object(const char *cert, const char *key, json_object *existing)
{
    json_object *s = existing ? json_object_get(existing) : json_object_new_object(); /* owned */
    json_object *md = kube_obj_get(s, "metadata");
    if (!existing) {
        json_object_object_add(s, "apiVersion", json_object_new_string("v1"));
        json_object_object_add(s, "kind", json_object_new_string("Secret"));
        md = json_object_new_object();
        json_object_object_add(md, "name", json_object_new_string(dyn.cfg.secret_name));
        json_object_object_add(md, "namespace", json_object_new_string(dyn.cfg.namespace_));
        json_object_object_add(s, "metadata", md);
        json_object_object_add(s, "type", json_object_new_string("kubernetes.io/tls"));
    }
    json_object *labels = kube_obj_get(md, "labels");
    if (!labels) {
        labels = json_object_new_object();
        json_object_object_add(md, "labels", labels);
    }
    json_object_object_add(labels, "app.kubernetes.io/managed-by", json_object_new_string("kacme-webhook"));
    json_object *ann = kube_obj_get(md, "annotations");
    if (!ann) {
        ann = json_object_new_object();
        json_object_object_add(md, "annotations", ann);
    }
    json_object_object_add(ann, "cert-manager.io/allow-direct-injection", json_object_new_string("true"));
    json_object *data = json_object_new_object();
    char *c = b64(cert), *k = b64(key);
    json_object_object_add(data, "ca.crt", json_object_new_string(c ? c : ""));
    json_object_object_add(data, "tls.crt", json_object_new_string(c ? c : ""));
    json_object_object_add(data, "tls.key", json_object_new_string(k ? k : ""));
    free(c);
    if (k) {
        memset(k, 0, strlen(k));
        free(k);
    }
    json_object_object_add(s, "data", data);
    return s;
}

static void set_ca(char *cert, char *key)
{
    free(dyn.prev_ca_cert);
    dyn.prev_ca_cert = dyn.ca_cert;
    if (dyn.ca_key) {
        memset(dyn.ca_key, 0, strlen(dyn.ca_key));
        free(dyn.ca_key);
    }
    dyn.ca_cert = cert;
    dyn.ca_key = key;
}

/* Reads or repairs the CA Secret; on success dyn.ca_cert/ca_key hold it and *changed says whether it differs
 * from the previous one. */
static int ensure_ca(bool *changed)
{
    json_object *secret = NULL, *obj = NULL; /* owned */
    kube_error_t e;
    char why[160] = "";
    char buf[256];
    int rc = -1;
    *changed = false;
    size_t cl = 0, tl = 0, kl = 0;
    char *ca = NULL, *crt = NULL, *key = NULL;
    if (kube_get(dyn.kc, &KUBE_RES_SECRETS, dyn.cfg.namespace_, dyn.cfg.secret_name, &secret, &e) < 0 &&
        e.type != KUBE_ERR_NOT_FOUND) {
        LOG_WARN("cannot read the CA Secret", "secret", dyn.cfg.secret_name, "error", kube_error_str(&e, buf, sizeof(buf)));
        goto out;
    }
    if (secret) {
        ca = secret_value(secret, "ca.crt", &cl);
        crt = secret_value(secret, "tls.crt", &tl);
        key = secret_value(secret, "tls.key", &kl);
        if (dynamic_ca_check(ca, cl, crt, tl, key, kl, time(NULL), why, sizeof(why)) == 0) {
            *changed = !dyn.ca_cert || strcmp(dyn.ca_cert, crt) != 0;
            if (*changed) {
                set_ca(crt, key);
                crt = key = NULL;
            }
            rc = 0;
            goto out;
        }
    }
    char *ncert = NULL, *nkey = NULL;
    if (dynamic_new_ca(time(NULL), &ncert, &nkey) < 0) {
        LOG_ERROR("cannot generate a CA");
        goto out;
    }
    obj = secret_object(ncert, nkey, secret);
    int r = secret ? kube_update(dyn.kc, &KUBE_RES_SECRETS, dyn.cfg.namespace_, dyn.cfg.secret_name, NULL, obj,
                                 NULL, &e)
                   : kube_create(dyn.kc, &KUBE_RES_SECRETS, dyn.cfg.namespace_, obj, NULL, &e);
    if (r < 0) {
        free(ncert);
        memset(nkey, 0, strlen(nkey));
        free(nkey);
        if (e.type == KUBE_ERR_ALREADY_EXISTS || e.type == KUBE_ERR_CONFLICT)
            LOG_V(1, "another replica wrote the CA Secret first; re-reading", "secret", dyn.cfg.secret_name);
        else
            LOG_WARN("cannot write the CA Secret", "secret", dyn.cfg.secret_name, "error",
                     kube_error_str(&e, buf, sizeof(buf)));
        goto out;
    }
    LOG_INFO(secret ? "regenerated the webhook CA" : "created the webhook CA", "secret", dyn.cfg.secret_name,
             "reason", secret ? why : "missing");
    set_ca(ncert, nkey);
    *changed = true;
    rc = 0;
out:
    free(ca);
    free(crt);
    if (key) {
        memset(key, 0, kl);
        free(key);
    }
    json_object_put(obj);
    json_object_put(secret);
    return rc;
}

static int issue_leaf(void)
{
    char *cert = NULL, *key = NULL;
    char err[160];
    time_t nb, na;
    if (dynamic_issue_leaf(dyn.ca_cert, dyn.ca_key, dyn.cfg.dns_names, dyn.cfg.n_dns_names, dyn.cfg.leaf_seconds,
                           time(NULL), &cert, &key, &nb, &na, err, sizeof(err)) < 0) {
        LOG_ERROR("cannot issue the serving certificate", "error", err);
        return -1;
    }
    int rc = servingcert_set_pem(cert, strlen(cert), key, strlen(key), err, sizeof(err));
    memset(key, 0, strlen(key));
    free(key);
    free(cert);
    if (rc < 0) {
        LOG_ERROR("cannot install the serving certificate", "error", err);
        return -1;
    }
    dyn.leaf_renew_at = nb + (na - nb) * 2 / 3;
    LOG_INFO("serving certificate issued by the webhook CA");
    return 0;
}

/* True when the base64 caBundle have contains the PEM certificate pem. */
static bool bundle_has(const char *have, const char *pem)
{
    unsigned char *d = NULL;
    size_t l = 0;
    if (!have || util_base64_decode(have, WEBHOOK_B64_MAX, &d, &l) < 0)
        return false;
    bool found = memmem(d, l, pem, strlen(pem)) != NULL;
    free(d);
    return found;
}

/* Makes every webhook's clientConfig.caBundle in the configuration res named by --webhook-configuration-name
 * contain the CA (want: the base64 bundle to write). When it does not, the bundle becomes the CA followed by
 * the previous CA (if any): replicas still serving a leaf of the previous CA stay trusted until they pick up
 * the new one (next tick), so a rotation never breaks calls. A missing configuration is an error unless
 * optional. 0 when in sync. */
static int sync_config(const kube_resource_t *res, const char *what, const char *want, bool optional)
{
    json_object *cfg = NULL; /* owned */
    kube_error_t e;
    char buf[256];
    int rc = -1;
    if (kube_get(dyn.kc, res, NULL, dyn.cfg.webhook_configuration, &cfg, &e) < 0) {
        if (optional && e.type == KUBE_ERR_NOT_FOUND)
            return 0;
        LOG_WARN("cannot read the webhook configuration", "kind", what, "name", dyn.cfg.webhook_configuration,
                 "error", kube_error_str(&e, buf, sizeof(buf)));
        goto out;
    }
    json_object *hooks = kube_obj_get(cfg, "webhooks");
    bool dirty = false;
    for (size_t i = 0; hooks && json_object_is_type(hooks, json_type_array) && i < json_object_array_length(hooks);
         i++) {
        json_object *cc = kube_obj_get(json_object_array_get_idx(hooks, i), "clientConfig");
        if (!cc)
            continue;
        const char *have = kube_obj_str(cc, "caBundle");
        if (!bundle_has(have, dyn.ca_cert)) {
            json_object_object_add(cc, "caBundle", json_object_new_string(want));
            dirty = true;
        }
    }
    if (dirty) {
        if (kube_update(dyn.kc, res, NULL, dyn.cfg.webhook_configuration, NULL, cfg, NULL, &e) < 0) {
            LOG_WARN("cannot update the caBundle", "kind", what, "name", dyn.cfg.webhook_configuration, "error",
                     kube_error_str(&e, buf, sizeof(buf)));
            goto out;
        }
        LOG_INFO("caBundle updated", "kind", what, "name", dyn.cfg.webhook_configuration);
    }
    rc = 0;
out:
    json_object_put(cfg);
    return rc;
}

/* The ValidatingWebhookConfiguration, and the MutatingWebhookConfiguration of the same name when there is
 * one (the chart's /mutate for CertificateRequests; cert-manager uses one name for both). */
static int sync_ca_bundle(void)
{
    if (!dyn.cfg.webhook_configuration)
        return 0;
    char *pair = NULL;
    if (asprintf(&pair, "%s%s", dyn.ca_cert, dyn.prev_ca_cert ? dyn.prev_ca_cert : "") < 0)
        return -1;
    char *want = b64(pair);
    free(pair);
    if (!want)
        return -1;
    int rc = sync_config(&RES_VWC, "ValidatingWebhookConfiguration", want, false);
    if (sync_config(&RES_MWC, "MutatingWebhookConfiguration", want, true) < 0)
        rc = -1;
    free(want);
    return rc;
}

static void tick(void)
{
    bool changed = false;
    if (ensure_ca(&changed) < 0) {
        atomic_store(&dyn.published, false);
        return;
    }
    if (changed || !servingcert_ready() || time(NULL) >= dyn.leaf_renew_at) {
        /* publish the new CA before serving a leaf it signed, so callers trust it when it arrives */
        if (changed)
            sync_ca_bundle();
        if (issue_leaf() < 0) {
            atomic_store(&dyn.published, false);
            return;
        }
    }
    atomic_store(&dyn.published, sync_ca_bundle() == 0 && servingcert_ready());
}

static void *loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&dyn.mu);
    while (!dyn.stop) {
        pthread_mutex_unlock(&dyn.mu);
        tick();
        pthread_mutex_lock(&dyn.mu);
        if (dyn.stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += atomic_load(&dyn.published) ? 10 : 1;
        pthread_cond_timedwait(&dyn.cond, &dyn.mu, &ts);
    }
    pthread_mutex_unlock(&dyn.mu);
    return NULL;
}

int dynamic_start(const dynamic_config_t *cfg, char *err, size_t errlen)
{
    dyn.cfg = *cfg;
    if (http_global_init() < 0) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    kube_config_t *kcfg = kube_config_load(cfg->kubeconfig, NULL, err, errlen);
    if (!kcfg)
        return -1;
    kube_client_opts_t o = {.component = "webhook", .timeout_ms = 10000};
    dyn.kc = kube_client_new(kcfg, &o, err, errlen);
    kube_config_free(kcfg);
    if (!dyn.kc)
        return -1;
    atomic_store(&dyn.enabled, true);
    dyn.stop = false;
    if (pthread_create(&dyn.thread, NULL, loop, NULL) != 0) {
        snprintf(err, errlen, "cannot start the dynamic certificate thread");
        kube_client_free(dyn.kc);
        dyn.kc = NULL;
        return -1;
    }
    dyn.running = true;
    return 0;
}

bool dynamic_ready(void)
{
    return !atomic_load(&dyn.enabled) || atomic_load(&dyn.published);
}

void dynamic_stop(void)
{
    if (dyn.running) {
        pthread_mutex_lock(&dyn.mu);
        dyn.stop = true;
        pthread_cond_signal(&dyn.cond);
        pthread_mutex_unlock(&dyn.mu);
        pthread_join(dyn.thread, NULL);
        dyn.running = false;
    }
    kube_client_free(dyn.kc);
    dyn.kc = NULL;
    set_ca(NULL, NULL);
    free(dyn.prev_ca_cert);
    dyn.prev_ca_cert = NULL;
}
