/* SPDX-License-Identifier: Apache-2.0 */
#include "x509/csr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509/names.h"

static void seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static int push(char ***list, size_t *n, const char *s, size_t len)
{
    if (*n >= X509_CSR_MAX_NAMES)
        return -1;
    char **nl = realloc(*list, (*n + 1) * sizeof(**list));
    if (!nl)
        return -1;
    *list = nl;
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, s, len);
    c[len] = '\0';
    nl[(*n)++] = c;
    return 0;
}

void x509_csr_free(x509_csr_t *csr)
{
    if (!csr)
        return;
    free(csr->common_name);
    for (size_t i = 0; i < csr->n_dns; i++)
        free(csr->dns_names[i]);
    free(csr->dns_names);
    for (size_t i = 0; i < csr->n_ip; i++)
        free(csr->ip_addresses[i]);
    free(csr->ip_addresses);
    EVP_PKEY_free(csr->pubkey);
    free(csr);
}

static bool looks_pem(const unsigned char *d, size_t len)
{
    for (size_t i = 0; i + 10 < len && i < 256; i++) {
        if (memcmp(d + i, "-----BEGIN", 10) == 0)
            return true;
    }
    return false;
}

x509_csr_t *x509_csr_parse(const unsigned char *data, size_t len, char *err, size_t errlen)
{
    x509_csr_t *out = NULL, *csr = NULL;
    X509_REQ *req = NULL;
    BIO *bio = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *sans = NULL;

    if (!data || len == 0) {
        seterr(err, errlen, "empty CSR");
        goto out;
    }
    if (len > X509_CSR_MAX_BYTES) {
        seterr(err, errlen, "CSR larger than 64 KiB");
        goto out;
    }
    if (looks_pem(data, len)) {
        bio = BIO_new_mem_buf(data, (int)len);
        if (bio)
            req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    } else {
        const unsigned char *p = data;
        req = d2i_X509_REQ(NULL, &p, (long)len);
    }
    if (!req) {
        seterr(err, errlen, "not a PEM or DER PKCS#10 certificate request");
        goto out;
    }
    EVP_PKEY *pk = X509_REQ_get_pubkey(req);
    if (!pk) {
        seterr(err, errlen, "CSR public key cannot be decoded");
        goto out;
    }
    csr = calloc(1, sizeof(*csr));
    if (!csr) {
        EVP_PKEY_free(pk);
        seterr(err, errlen, "out of memory");
        goto out;
    }
    csr->pubkey = pk;
    if (X509_REQ_verify(req, pk) != 1) {
        seterr(err, errlen, "CSR signature does not verify");
        goto out;
    }
    const X509_NAME *subj = X509_REQ_get_subject_name(req);
    int idx = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
    if (idx >= 0) {
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        unsigned char *utf8 = NULL;
        int ul = ASN1_STRING_to_UTF8(&utf8, d);
        if (ul < 0) {
            seterr(err, errlen, "CSR common name is not valid text");
            goto out;
        }
        if (memchr(utf8, 0, (size_t)ul)) {
            OPENSSL_free(utf8);
            seterr(err, errlen, "CSR common name contains a NUL byte");
            goto out;
        }
        csr->common_name = strndup((const char *)utf8, (size_t)ul);
        OPENSSL_free(utf8);
        if (!csr->common_name) {
            seterr(err, errlen, "out of memory");
            goto out;
        }
    }
    exts = X509_REQ_get_extensions(req);
    if (exts) {
        int crit = 0;
        sans = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
        if (!sans && crit == -2) {
            seterr(err, errlen, "CSR has more than one subjectAltName extension");
            goto out;
        }
    }
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS) {
            const ASN1_IA5STRING *s = gn->d.dNSName;
            if (memchr(s->data, 0, (size_t)s->length)) {
                seterr(err, errlen, "CSR DNS name contains a NUL byte");
                goto out;
            }
            if (push(&csr->dns_names, &csr->n_dns, (const char *)s->data, (size_t)s->length) < 0) {
                seterr(err, errlen, "CSR has too many names");
                goto out;
            }
        } else if (gn->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *s = gn->d.iPAddress;
            char txt[64];
            if (s->length == 4)
                snprintf(txt, sizeof(txt), "%u.%u.%u.%u", s->data[0], s->data[1], s->data[2], s->data[3]);
            else if (s->length == 16) {
                char tmp[64];
                int n = 0;
                for (int k = 0; k < 16; k += 2)
                    n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, "%s%x", k ? ":" : "",
                                  (unsigned)(s->data[k] << 8 | s->data[k + 1]));
                if (x509_ip_canonical(tmp, txt, sizeof(txt)) < 0) {
                    seterr(err, errlen, "CSR IP address is malformed");
                    goto out;
                }
            } else {
                seterr(err, errlen, "CSR IP address has a bad length");
                goto out;
            }
            if (push(&csr->ip_addresses, &csr->n_ip, txt, strlen(txt)) < 0) {
                seterr(err, errlen, "CSR has too many names");
                goto out;
            }
        }
    }
    out = csr;
    csr = NULL;
out:
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    BIO_free(bio);
    x509_csr_free(csr);
    ERR_clear_error();
    return out;
}
