/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: Retry-After, problem classification, directory/order/authz/account/ARI parsing (incl.
 * malformed input), Link alternates, preferred-chain choice, ARI CertID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"
#include "acme/acme_parse.h"

#define S(x) (x), strlen(x)

static void test_retry_after(void **state)
{
    (void)state;
    long ms = -1;
    time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    assert_int_equal(acme_retry_after_parse("120", now, &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(acme_retry_after_parse(" 0 ", now, &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(acme_retry_after_parse("99999999999999999999", now, &ms), 0);
    assert_int_equal(ms, 86400000L); /* capped at a day */
    assert_int_equal(acme_retry_after_parse("Sun, 06 Nov 1994 08:50:07 GMT", now, &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(acme_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", now + 3600, &ms), 0);
    assert_int_equal(ms, 0); /* in the past */
    assert_int_equal(acme_retry_after_parse("Sunday, 06-Nov-94 08:49:47 GMT", now, &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(acme_retry_after_parse("Sun Nov  6 08:49:38 1994", now, &ms), 0);
    assert_int_equal(ms, 1000);
    assert_int_equal(acme_retry_after_parse("-5", now, &ms), -1);
    assert_int_equal(acme_retry_after_parse("5s", now, &ms), -1);
    assert_int_equal(acme_retry_after_parse("tomorrow", now, &ms), -1);
    assert_int_equal(acme_retry_after_parse("", now, &ms), -1);
    assert_int_equal(acme_retry_after_parse(NULL, now, &ms), -1);
    assert_int_equal(acme_retry_after_parse("Sun, 06 Nov 1994 08:50:07 GMT junk", now, &ms), -1);
}

static void test_classify(void **state)
{
    (void)state;
    acme_error_t e;
    time_t now = 784111777;
    const char *bad_nonce = "{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"JWS has an invalid "
                            "anti-replay nonce\",\"status\":400}";
    acme_classify_response(400, S(bad_nonce), NULL, now, &e);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    assert_true(acme_error_is(&e, "badNonce"));
    assert_int_equal(e.http_status, 400);

    const char *rl = "{\"type\":\"urn:ietf:params:acme:error:rateLimited\",\"detail\":\"too many certificates\"}";
    acme_classify_response(429, S(rl), "30", now, &e);
    assert_int_equal(e.kind, ACME_ERR_RETRY_AFTER);
    assert_int_equal(e.retry_after_ms, 30000);
    assert_string_equal(e.detail, "too many certificates");
    acme_classify_response(429, S(rl), "Sun, 06 Nov 1994 08:51:37 GMT", now, &e);
    assert_int_equal(e.retry_after_ms, 120000);
    acme_classify_response(403, S(rl), NULL, now, &e); /* rateLimited type wins over the status */
    assert_int_equal(e.kind, ACME_ERR_RETRY_AFTER);
    assert_int_equal(e.retry_after_ms, ACME_DEFAULT_RETRY_AFTER_MS);
    acme_classify_response(429, NULL, 0, NULL, now, &e); /* 429 without body */
    assert_int_equal(e.kind, ACME_ERR_RETRY_AFTER);
    assert_int_equal(e.retry_after_ms, ACME_DEFAULT_RETRY_AFTER_MS);
    assert_string_equal(e.type, "");

    const char *mal = "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"bad CSR\",\"subproblems\":["
                      "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"no\","
                      "\"identifier\":{\"type\":\"dns\",\"value\":\"bad.example\"}},{\"type\":5},7]}";
    acme_classify_response(400, S(mal), NULL, now, &e);
    assert_int_equal(e.kind, ACME_ERR_TERMINAL);
    assert_true(acme_error_is(&e, "malformed"));
    assert_false(acme_error_is(&e, "badNonce"));
    assert_string_equal(e.detail, "bad CSR");
    assert_int_equal(e.n_subproblems, 2); /* the non-object entry is skipped, the typeless one kept */
    assert_string_equal(e.subproblems[0].type, "urn:ietf:params:acme:error:rejectedIdentifier");
    assert_string_equal(e.subproblems[0].identifier_type, "dns");
    assert_string_equal(e.subproblems[0].identifier_value, "bad.example");
    char buf[512];
    acme_error_format(&e, buf, sizeof(buf));
    assert_non_null(strstr(buf, "urn:ietf:params:acme:error:malformed: bad CSR"));
    assert_non_null(strstr(buf, "bad.example"));
    acme_error_format(&e, buf, 10); /* truncation is safe */
    assert_int_equal(strlen(buf), 9);

    acme_classify_response(500, NULL, 0, NULL, now, &e);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    const char *si = "{\"type\":\"urn:ietf:params:acme:error:serverInternal\",\"detail\":\"oops\"}";
    acme_classify_response(503, S(si), "10", now, &e);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
    assert_int_equal(e.retry_after_ms, 10000);
    acme_classify_response(404, S("<html>not found</html>"), NULL, now, &e);
    assert_int_equal(e.kind, ACME_ERR_TERMINAL);
    assert_string_equal(e.type, "");
    assert_non_null(strstr(e.detail, "404"));
    const char *unauth = "{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"no\"}";
    acme_classify_response(403, S(unauth), NULL, now, &e);
    assert_int_equal(e.kind, ACME_ERR_TERMINAL);
    acme_classify_response(0, NULL, 0, NULL, now, &e);
    assert_int_equal(e.kind, ACME_ERR_TRANSIENT);
}

static void test_directory(void **state)
{
    (void)state;
    char err[160];
    acme_directory_t *d = NULL;
    const char *good = "{\"newNonce\":\"https://ca/nonce\",\"newAccount\":\"https://ca/acct\",\"newOrder\":\"https://"
                       "ca/order\",\"revokeCert\":\"https://ca/revoke\",\"keyChange\":\"https://ca/kc\","
                       "\"renewalInfo\":\"https://ca/ari/\",\"meta\":{\"termsOfService\":\"https://ca/tos\","
                       "\"externalAccountRequired\":true,\"profiles\":{\"classic\":\"The default\",\"shortlived\":"
                       "\"6 days\"},\"caaIdentities\":[\"ca\"]},\"xyz\":{}}";
    assert_int_equal(acme_directory_parse(S(good), &d, err, sizeof(err)), 0);
    assert_string_equal(d->new_nonce, "https://ca/nonce");
    assert_string_equal(d->new_order, "https://ca/order");
    assert_string_equal(d->renewal_info, "https://ca/ari/");
    assert_string_equal(d->terms_of_service, "https://ca/tos");
    assert_true(d->external_account_required);
    assert_int_equal(d->n_profiles, 2);
    assert_string_equal(d->profiles[0].name, "classic");
    assert_string_equal(d->profiles[1].description, "6 days");
    assert_null(d->new_authz);
    acme_directory_free(d);

    assert_int_equal(acme_directory_parse(S("{\"newAccount\":\"a\",\"newOrder\":\"b\"}"), &d, err, sizeof(err)), -1);
    assert_null(d);
    assert_non_null(strstr(err, "newNonce"));
    assert_int_equal(acme_directory_parse(S("{\"newNonce\":\"a\",\"newAccount\":\"a\",\"newOrder\":5}"), &d, err,
                                          sizeof(err)), -1);
    assert_non_null(strstr(err, "newOrder"));
    assert_int_equal(acme_directory_parse(S("{\"newNonce\":\"a\",\"newAccount\":\"a\",\"newOrder\":\"b\",\"meta\":"
                                            "{\"profiles\":[1]}}"), &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "profiles"));
    assert_int_equal(acme_directory_parse(S("{\"newNonce\":\"a\",\"newAccount\":\"a\",\"newOrder\":\"b\",\"meta\":"
                                            "{\"externalAccountRequired\":\"yes\"}}"), &d, err, sizeof(err)), -1);
    assert_int_equal(acme_directory_parse(S("[1,2]"), &d, err, sizeof(err)), -1);
    assert_int_equal(acme_directory_parse(S("{\"newNonce\":"), &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "JSON"));
    assert_int_equal(acme_directory_parse(S("{} {}"), &d, err, sizeof(err)), -1);
    assert_int_equal(acme_directory_parse("", 0, &d, err, sizeof(err)), -1);
    /* embedded NUL in a URL is refused */
    const char nul[] = "{\"newNonce\":\"a\\u0000b\",\"newAccount\":\"a\",\"newOrder\":\"b\"}";
    assert_int_equal(acme_directory_parse(nul, sizeof(nul) - 1, &d, err, sizeof(err)), -1);
    /* deep nesting is refused by the tokener depth limit */
    char deep[200];
    memset(deep, '[', 100);
    deep[100] = '\0';
    assert_int_equal(acme_directory_parse(deep, 100, &d, err, sizeof(err)), -1);
}

static void test_order(void **state)
{
    (void)state;
    char err[160];
    acme_order_t *o = NULL;
    const char *good = "{\"status\":\"pending\",\"expires\":\"2026-01-01T00:00:00Z\",\"identifiers\":[{\"type\":"
                       "\"dns\",\"value\":\"a.example\"},{\"type\":\"ip\",\"value\":\"127.0.0.1\"}],"
                       "\"authorizations\":[\"https://ca/authz/1\",\"https://ca/authz/2\"],\"finalize\":\"https://"
                       "ca/finalize/1\",\"profile\":\"classic\",\"notAfter\":\"2026-02-01T00:00:00Z\"}";
    assert_int_equal(acme_order_parse(S(good), &o, err, sizeof(err)), 0);
    assert_int_equal(o->status, ACME_STATUS_PENDING);
    assert_int_equal(o->n_identifiers, 2);
    assert_string_equal(o->identifiers[1].type, "ip");
    assert_string_equal(o->identifiers[1].value, "127.0.0.1");
    assert_int_equal(o->n_authorizations, 2);
    assert_string_equal(o->authorizations[1], "https://ca/authz/2");
    assert_string_equal(o->finalize, "https://ca/finalize/1");
    assert_null(o->certificate);
    assert_null(o->error);
    assert_string_equal(o->profile, "classic");
    assert_string_equal(o->not_after, "2026-02-01T00:00:00Z");
    acme_order_free(o);

    const char *invalid = "{\"status\":\"invalid\",\"identifiers\":[],\"authorizations\":[],\"finalize\":\"f\","
                          "\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"nope\"}}";
    assert_int_equal(acme_order_parse(S(invalid), &o, err, sizeof(err)), 0);
    assert_int_equal(o->status, ACME_STATUS_INVALID);
    assert_non_null(o->error);
    assert_true(acme_error_is(o->error, "unauthorized"));
    assert_int_equal(o->error->kind, ACME_ERR_TERMINAL);
    acme_order_free(o);

    const char *valid = "{\"status\":\"valid\",\"identifiers\":[],\"authorizations\":[],\"finalize\":\"f\","
                        "\"certificate\":\"https://ca/cert/1\"}";
    assert_int_equal(acme_order_parse(S(valid), &o, err, sizeof(err)), 0);
    assert_string_equal(o->certificate, "https://ca/cert/1");
    assert_string_equal(acme_status_name(o->status), "valid");
    acme_order_free(o);

    assert_int_equal(acme_order_parse(S("{\"status\":\"pending\",\"identifiers\":[],\"authorizations\":[]}"), &o,
                                      err, sizeof(err)), -1);
    assert_non_null(strstr(err, "finalize"));
    assert_int_equal(acme_order_parse(S("{\"status\":\"weird\",\"identifiers\":[],\"authorizations\":[],"
                                        "\"finalize\":\"f\"}"), &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "status"));
    assert_int_equal(acme_order_parse(S("{\"status\":1,\"identifiers\":[],\"authorizations\":[],\"finalize\":"
                                        "\"f\"}"), &o, err, sizeof(err)), -1);
    assert_int_equal(acme_order_parse(S("{\"status\":\"pending\",\"identifiers\":[],\"authorizations\":[1],"
                                        "\"finalize\":\"f\"}"), &o, err, sizeof(err)), -1);
    assert_int_equal(acme_order_parse(S("{\"status\":\"pending\",\"identifiers\":{},\"authorizations\":[],"
                                        "\"finalize\":\"f\"}"), &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "identifiers"));
    assert_int_equal(acme_order_parse(S("{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\"}],"
                                        "\"authorizations\":[],\"finalize\":\"f\"}"), &o, err, sizeof(err)), -1);
    assert_int_equal(acme_order_parse(S("{\"status\":\"pending\",\"identifiers\":[],\"authorizations\":[],"
                                        "\"finalize\":\"f\",\"error\":\"x\"}"), &o, err, sizeof(err)), -1);
    assert_null(o);

    /* A huge authorizations array is refused with a clear message. */
    size_t cap = 64 + 1100 * 6;
    char *huge = malloc(cap);
    size_t off = (size_t)snprintf(huge, cap, "{\"status\":\"pending\",\"identifiers\":[],\"finalize\":\"f\","
                                             "\"authorizations\":[");
    for (int i = 0; i < 1100; i++)
        off += (size_t)snprintf(huge + off, cap - off, "%s\"a\"", i ? "," : "");
    off += (size_t)snprintf(huge + off, cap - off, "]}");
    assert_int_equal(acme_order_parse(huge, off, &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too many"));
    free(huge);
}

static void test_authz(void **state)
{
    (void)state;
    char err[160];
    acme_authz_t *a = NULL;
    const char *good = "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"example.org\"},"
                       "\"wildcard\":true,\"expires\":\"2026-01-01T00:00:00Z\",\"challenges\":["
                       "{\"type\":\"http-01\",\"url\":\"https://ca/chal/1\",\"token\":\"t1\",\"status\":\"pending\"},"
                       "{\"type\":\"dns-01\",\"url\":\"https://ca/chal/2\",\"token\":\"t2\",\"status\":\"invalid\","
                       "\"error\":{\"type\":\"urn:ietf:params:acme:error:dns\",\"detail\":\"NXDOMAIN\"}},"
                       "{\"type\":\"tls-alpn-01\",\"url\":\"https://ca/chal/3\",\"token\":\"t3\",\"status\":"
                       "\"pending\"}]}";
    assert_int_equal(acme_authz_parse(S(good), &a, err, sizeof(err)), 0);
    assert_int_equal(a->status, ACME_STATUS_PENDING);
    assert_string_equal(a->identifier.value, "example.org");
    assert_true(a->wildcard);
    assert_int_equal(a->n_challenges, 3);
    const acme_challenge_t *ch = acme_authz_find_challenge(a, "dns-01");
    assert_non_null(ch);
    assert_string_equal(ch->token, "t2");
    assert_int_equal(ch->status, ACME_STATUS_INVALID);
    assert_true(acme_error_is(ch->error, "dns"));
    assert_null(acme_authz_find_challenge(a, "http-02"));
    acme_authz_free(a);

    assert_int_equal(acme_authz_parse(S("{\"status\":\"valid\",\"challenges\":[]}"), &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "identifier"));
    assert_int_equal(acme_authz_parse(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":\"x\"},"
                                        "\"challenges\":[{\"type\":\"http-01\",\"status\":\"valid\"}]}"), &a, err,
                                      sizeof(err)), -1);
    assert_non_null(strstr(err, "url"));
    assert_int_equal(acme_authz_parse(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":\"x\"},"
                                        "\"wildcard\":\"no\",\"challenges\":[]}"), &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "wildcard"));
    char big[4096];
    size_t off = (size_t)snprintf(big, sizeof(big), "{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\","
                                                    "\"value\":\"x\"},\"challenges\":[");
    for (int i = 0; i < 17; i++)
        off += (size_t)snprintf(big + off, sizeof(big) - off, "%s{\"type\":\"http-01\",\"url\":\"u\",\"status\":"
                                                              "\"valid\"}", i ? "," : "");
    off += (size_t)snprintf(big + off, sizeof(big) - off, "]}");
    assert_int_equal(acme_authz_parse(big, off, &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too many"));
}

static void test_account_and_ari_json(void **state)
{
    (void)state;
    char err[160];
    acme_account_t *a = NULL;
    assert_int_equal(acme_account_parse(S("{\"status\":\"valid\",\"contact\":[\"mailto:a@b.c\"],\"orders\":\"x\"}"),
                                        &a, err, sizeof(err)), 0);
    assert_int_equal(a->status, ACME_STATUS_VALID);
    assert_int_equal(a->n_contacts, 1);
    assert_string_equal(a->contacts[0], "mailto:a@b.c");
    acme_account_free(a);
    assert_int_equal(acme_account_parse(S("{\"status\":\"valid\",\"contact\":[1]}"), &a, err, sizeof(err)), -1);

    /* Recorded ARI response (RFC 9773 §4.2 shape); the packaged Pebble 2.4.0 has no renewalInfo. */
    acme_renewal_info_t ri;
    assert_int_equal(acme_renewal_info_parse(S("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":"
                                               "\"2025-01-03T04:00:00Z\"},\"explanationURL\":\"https://ca/why\"}"),
                                             &ri, err, sizeof(err)), 0);
    assert_int_equal(ri.window_start, 1735790400);
    assert_int_equal(ri.window_end, 1735790400 + 86400);
    assert_string_equal(ri.explanation_url, "https://ca/why");
    acme_renewal_info_clear(&ri);
    assert_int_equal(acme_renewal_info_parse(S("{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\",\"end\":"
                                               "\"2025-01-02T04:00:00Z\"}}"), &ri, err, sizeof(err)), -1);
    assert_int_equal(acme_renewal_info_parse(S("{\"suggestedWindow\":{\"start\":\"yesterday\",\"end\":"
                                               "\"2025-01-02T04:00:00Z\"}}"), &ri, err, sizeof(err)), -1);
    assert_int_equal(acme_renewal_info_parse(S("{}"), &ri, err, sizeof(err)), -1);

    time_t t;
    assert_int_equal(acme_rfc3339_parse("2025-01-02T04:00:00.123+02:00", &t), 0);
    assert_int_equal(t, 1735790400 - 7200);
    assert_int_equal(acme_rfc3339_parse("2025-01-02T04:00:00-01:30", &t), 0);
    assert_int_equal(t, 1735790400 + 5400);
    assert_int_equal(acme_rfc3339_parse("2025-01-02 04:00:00", &t), -1);
    assert_int_equal(acme_rfc3339_parse("2025-13-02T04:00:00Z", &t), -1);
}

static void test_link_alternates(void **state)
{
    (void)state;
    char **urls = NULL;
    size_t n = 0;
    assert_int_equal(acme_link_alternates("<https://ca/cert/1/1>;rel=\"alternate\", <https://ca/dir>;rel=\"index\", "
                                          "<https://ca/cert/1/2> ; rel=alternate ; title=\"x,y\"", &urls, &n, 16), 0);
    assert_int_equal(acme_link_alternates("<https://ca/cert/1/3>; rel=\"up alternate\"", &urls, &n, 16), 0);
    assert_int_equal(acme_link_alternates("garbage", &urls, &n, 16), 0);
    assert_int_equal(n, 3);
    assert_string_equal(urls[0], "https://ca/cert/1/1");
    assert_string_equal(urls[1], "https://ca/cert/1/2");
    assert_string_equal(urls[2], "https://ca/cert/1/3");
    assert_int_equal(acme_link_alternates("<https://ca/cert/1/4>;rel=\"alternate\"", &urls, &n, 3), 0);
    assert_int_equal(n, 3); /* capped */
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
}

/* A certificate with the given subject and issuer CNs (signed with k; the choice only reads names). */
static X509 *make_cert(EVP_PKEY *k, const char *subject_cn, const char *issuer_cn, long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();
    X509_NAME_add_entry_by_txt(s, "CN", MBSTRING_UTF8, (const unsigned char *)subject_cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(i, "CN", MBSTRING_UTF8, (const unsigned char *)issuer_cn, -1, -1, 0);
    X509_set_subject_name(x, s);
    X509_set_issuer_name(x, i);
    X509_NAME_free(s);
    X509_NAME_free(i);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    return x;
}

static char *chain_pem(X509 *const *certs, size_t n, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    for (size_t i = 0; i < n; i++)
        PEM_write_bio_X509(b, certs[i]);
    char *d = NULL;
    long l = BIO_get_mem_data(b, &d);
    char *s = strndup(d, (size_t)l);
    *len = (size_t)l;
    BIO_free(b);
    return s;
}

static void test_preferred_chain(void **state)
{
    (void)state;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *leaf = make_cert(k, "leaf.example", "Pebble Intermediate CA 1", 1);
    X509 *int_a = make_cert(k, "Pebble Intermediate CA 1", "Pebble Root CA A", 2);
    X509 *int_b = make_cert(k, "Pebble Intermediate CA 1", "Pebble Root CA B", 3);
    X509 *int_c = make_cert(k, "Pebble Intermediate CA 1", "Pebble Root CA C", 4);
    X509 *ca[] = {leaf, int_a}, *cb[] = {leaf, int_b}, *cc[] = {leaf, int_c};
    size_t lens[3];
    char *chains[3] = {chain_pem(ca, 2, &lens[0]), chain_pem(cb, 2, &lens[1]), chain_pem(cc, 2, &lens[2])};
    char cn[128];
    assert_int_equal(acme_chain_top_issuer_cn(chains[1], lens[1], cn, sizeof(cn)), 0);
    assert_string_equal(cn, "Pebble Root CA B");
    const char *const *cs = (const char *const *)chains;
    assert_int_equal(acme_choose_chain(cs, lens, 3, "Pebble Root CA C"), 2);
    assert_int_equal(acme_choose_chain(cs, lens, 3, "Pebble Root CA B"), 1);
    assert_int_equal(acme_choose_chain(cs, lens, 3, "Pebble Root CA A"), 0);
    assert_int_equal(acme_choose_chain(cs, lens, 3, "Nobody"), 0);       /* no match → default */
    assert_int_equal(acme_choose_chain(cs, lens, 3, NULL), 0);
    assert_int_equal(acme_choose_chain(cs, lens, 3, "Pebble Intermediate CA 1"), 0); /* top issuer, not leaf's */
    /* The default chain wins a tie. */
    const char *tie[] = {chains[1], chains[1]};
    size_t tlens[] = {lens[1], lens[1]};
    assert_int_equal(acme_choose_chain(tie, tlens, 2, "Pebble Root CA B"), 0);
    assert_int_equal(acme_chain_top_issuer_cn("junk", 4, cn, sizeof(cn)), -1);
    for (int i = 0; i < 3; i++)
        free(chains[i]);
    X509_free(leaf);
    X509_free(int_a);
    X509_free(int_b);
    X509_free(int_c);
    EVP_PKEY_free(k);
}

static void test_ari_cert_id(void **state)
{
    (void)state;
    /* RFC 9773 §4.1 example: AKI 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial
     * 0x87654321 (DER content 00 87 65 43 21) → "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE". */
    static const unsigned char aki[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                        0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = make_cert(k, "leaf", "issuer", 0x87654321L);
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    akid->keyid = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(akid->keyid, aki, sizeof(aki));
    assert_int_equal(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0), 1);
    AUTHORITY_KEYID_free(akid);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    size_t len;
    char *pem = chain_pem(&x, 1, &len);
    char *id = NULL, err[128];
    assert_int_equal(acme_ari_cert_id(pem, &id, err, sizeof(err)), 0);
    assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    free(id);
    free(pem);
    X509_free(x);
    /* Without AKI: a clear error. */
    x = make_cert(k, "leaf", "issuer", 5);
    pem = chain_pem(&x, 1, &len);
    assert_int_equal(acme_ari_cert_id(pem, &id, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "authority key identifier"));
    free(pem);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void test_status_names(void **state)
{
    (void)state;
    for (int s = ACME_STATUS_PENDING; s <= ACME_STATUS_REVOKED; s++)
        assert_int_equal(acme_status_parse(acme_status_name((enum acme_status)s)), s);
    assert_int_equal(acme_status_parse("nope"), ACME_STATUS_UNKNOWN);
    assert_string_equal(acme_status_name(ACME_STATUS_UNKNOWN), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after),      cmocka_unit_test(test_classify),
        cmocka_unit_test(test_directory),        cmocka_unit_test(test_order),
        cmocka_unit_test(test_authz),            cmocka_unit_test(test_account_and_ari_json),
        cmocka_unit_test(test_link_alternates),  cmocka_unit_test(test_preferred_chain),
        cmocka_unit_test(test_ari_cert_id),      cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
