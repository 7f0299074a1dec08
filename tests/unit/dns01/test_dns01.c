/* SPDX-License-Identifier: Apache-2.0 */
/* lib/dns01 over constructed answers: a fake exchange serves ldns-built packets per (server, name, type), so
 * zone walking, CNAME following, updates (with TSIG) and the check run without any network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns01/dns01.h"

#include "fake.h"

static dns01_client_t client_of(fake_t *f)
{
    dns01_client_t c = {.exchange = fake_exchange, .ud = f, .timeout_ms = 1};
    return c;
}

static const dns01_server_t resolver = {.host = "10.0.0.53", .port = 53};

/* ---- names and parsing ------------------------------------------------------------------------------ */

static void test_record_name(void **state)
{
    (void)state;
    char out[DNS01_MAX_NAME], err[256];
    assert_int_equal(dns01_record_name("example.com", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "_acme-challenge.example.com.");
    assert_int_equal(dns01_record_name("*.Example.COM", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "_acme-challenge.example.com.");
    assert_int_equal(dns01_record_name("www.example.com.", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "_acme-challenge.www.example.com.");
    assert_int_equal(dns01_record_name("", out, sizeof out, err, sizeof err), -1);
    char longlabel[80];
    memset(longlabel, 'a', 70);
    strcpy(longlabel + 70, ".com");
    assert_int_equal(dns01_record_name(longlabel, out, sizeof out, err, sizeof err), -1);
}

static void test_parse_server(void **state)
{
    (void)state;
    dns01_server_t s;
    char err[256], txt[300];
    assert_int_equal(dns01_parse_server("1.2.3.4", 53, &s, err, sizeof err), 0);
    assert_string_equal(s.host, "1.2.3.4");
    assert_int_equal(s.port, 53);
    assert_int_equal(dns01_parse_server("1.2.3.4:5353", 53, &s, err, sizeof err), 0);
    assert_int_equal(s.port, 5353);
    assert_int_equal(dns01_parse_server("[2001:db8::1]:5353", 53, &s, err, sizeof err), 0);
    assert_string_equal(s.host, "2001:db8::1");
    assert_int_equal(s.port, 5353);
    dns01_server_format(&s, txt, sizeof txt);
    assert_string_equal(txt, "[2001:db8::1]:5353");
    assert_int_equal(dns01_parse_server("[::1]", 53, &s, err, sizeof err), 0);
    assert_int_equal(s.port, 53);
    assert_int_equal(dns01_parse_server("::1", 53, &s, err, sizeof err), 0);
    assert_string_equal(s.host, "::1");
    assert_int_equal(dns01_parse_server("ns1.example.com:53", 53, &s, err, sizeof err), 0);
    assert_string_equal(s.host, "ns1.example.com");
    assert_int_equal(dns01_parse_server("1.2.3.4:0", 53, &s, err, sizeof err), -1);
    assert_int_equal(dns01_parse_server("1.2.3.4:99999", 53, &s, err, sizeof err), -1);
    assert_int_equal(dns01_parse_server("[::1", 53, &s, err, sizeof err), -1);
    assert_int_equal(dns01_parse_server("[nothex]:53", 53, &s, err, sizeof err), -1);
    assert_int_equal(dns01_parse_server("", 53, &s, err, sizeof err), -1);
    assert_int_equal(dns01_parse_server("a b:53", 53, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "a b:53"));

    dns01_server_t list[4];
    size_t n = 9;
    assert_int_equal(dns01_parse_servers(" 1.1.1.1:53, [::1]:5353 ,8.8.8.8", 53, list, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(list[1].port, 5353);
    assert_int_equal(list[2].port, 53);
    assert_int_equal(dns01_parse_servers("", 53, list, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(dns01_parse_servers("1.1.1.1,2.2.2.2,3.3.3.3", 53, list, 2, &n, err, sizeof err), -1);
}

static void test_tsig_algorithm(void **state)
{
    (void)state;
    dns01_tsig_alg_t a = DNS01_TSIG_HMACSHA512;
    assert_int_equal(dns01_parse_tsig_algorithm(NULL, &a), 0);
    assert_int_equal(a, DNS01_TSIG_HMACMD5);
    assert_int_equal(dns01_parse_tsig_algorithm("", &a), 0);
    assert_int_equal(a, DNS01_TSIG_HMACMD5);
    assert_int_equal(dns01_parse_tsig_algorithm("hmacsha1", &a), 0);
    assert_int_equal(a, DNS01_TSIG_HMACSHA1);
    assert_int_equal(dns01_parse_tsig_algorithm("HMACSHA256", &a), 0);
    assert_int_equal(a, DNS01_TSIG_HMACSHA256);
    assert_int_equal(dns01_parse_tsig_algorithm("HmacSha512", &a), 0);
    assert_int_equal(a, DNS01_TSIG_HMACSHA512);
    assert_int_equal(dns01_parse_tsig_algorithm("HMACMD5", &a), 0);
    assert_int_equal(a, DNS01_TSIG_HMACMD5);
    assert_int_equal(dns01_parse_tsig_algorithm("HMAC-SHA256", &a), -1);
    assert_int_equal(dns01_parse_tsig_algorithm("HMACSHA384", &a), -1);
    assert_string_equal(dns01_tsig_algorithm_dname(DNS01_TSIG_HMACMD5), "hmac-md5.sig-alg.reg.int.");
    assert_string_equal(dns01_tsig_algorithm_dname(DNS01_TSIG_HMACSHA256), "hmac-sha256.");
    assert_string_equal(dns01_tsig_algorithm_dname(DNS01_TSIG_HMACSHA512), "hmac-sha512.");
}

/* ---- zone walking ----------------------------------------------------------------------------------- */

static const rule_t zone_rules[] = {
    /* _acme-challenge.www.example.com. does not exist; www is a CNAME; example.com. has the SOA */
    {NULL, "_acme-challenge.www.example.com.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NXDOMAIN, NULL, NULL, false, false},
    {NULL, "www.example.com.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR,
     "www.example.com. 300 IN CNAME lb.example.net.\nlb.example.net. 300 IN SOA ns.example.net. h.example.net. 1 2 3 4 5",
     NULL, false, false},
    {NULL, "example.com.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR,
     "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 86400 60", NULL, false, false},
    /* a NODATA answer goes up as well */
    {NULL, "_acme-challenge.sub.example.org.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR, NULL, NULL, false, false},
    {NULL, "sub.example.org.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR,
     "sub.example.org. 300 IN SOA ns1.example.org. h.example.org. 1 2 3 4 5", NULL, false, false},
    /* broken */
    {NULL, "_acme-challenge.broken.test.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NXDOMAIN, NULL, NULL, false, false},
    {NULL, "broken.test.", LDNS_RR_TYPE_SOA, LDNS_RCODE_SERVFAIL, NULL, NULL, false, false},
    /* truncated over UDP */
    {NULL, "_acme-challenge.big.example.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR,
     "_acme-challenge.big.example. 60 IN SOA ns.big.example. h.big.example. 1 2 3 4 5", NULL, true, false},
};

static void test_zone_walk(void **state)
{
    (void)state;
    fake_t f = {.rules = zone_rules, .nrules = sizeof zone_rules / sizeof zone_rules[0]};
    dns01_client_t c = client_of(&f);
    char zone[DNS01_MAX_NAME], err[512];
    assert_int_equal(dns01_find_zone(&c, &resolver, 1, "_acme-challenge.www.example.com.", zone, sizeof zone, err,
                                     sizeof err),
                     0);
    assert_string_equal(zone, "example.com.");
    assert_int_equal(f.udp, 3);
    assert_int_equal(f.tcp, 0);

    assert_int_equal(dns01_find_zone(&c, &resolver, 1, "_acme-challenge.SUB.example.org", zone, sizeof zone, err,
                                     sizeof err),
                     0);
    assert_string_equal(zone, "sub.example.org.");

    assert_int_equal(
        dns01_find_zone(&c, &resolver, 1, "_acme-challenge.broken.test.", zone, sizeof zone, err, sizeof err), -1);
    assert_non_null(strstr(err, "SERVFAIL"));
    assert_non_null(strstr(err, "broken.test."));

    /* nothing anywhere: NXDOMAIN up to the TLD, never the root */
    assert_int_equal(dns01_find_zone(&c, &resolver, 1, "_acme-challenge.nowhere.invalid.", zone, sizeof zone, err,
                                     sizeof err),
                     -1);
    assert_non_null(strstr(err, "could not find the zone"));

    /* UDP truncated: retried over TCP */
    f.udp = f.tcp = 0;
    assert_int_equal(
        dns01_find_zone(&c, &resolver, 1, "_acme-challenge.big.example.", zone, sizeof zone, err, sizeof err), 0);
    assert_string_equal(zone, "_acme-challenge.big.example.");
    assert_int_equal(f.udp, 1);
    assert_int_equal(f.tcp, 1);
}

static const rule_t failover_rules[] = {
    {"10.0.0.1", "example.com.", LDNS_RR_TYPE_SOA, 0, NULL, NULL, false, true},
    {"10.0.0.2", "example.com.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR,
     "example.com. 300 IN SOA ns1.example.com. h.example.com. 1 2 3 4 5", NULL, false, false},
};

static void test_zone_walk_server_failover(void **state)
{
    (void)state;
    fake_t f = {.rules = failover_rules, .nrules = 2};
    dns01_client_t c = client_of(&f);
    dns01_server_t two[2] = {{.host = "10.0.0.1", .port = 53}, {.host = "10.0.0.2", .port = 53}};
    char zone[DNS01_MAX_NAME], err[512];
    assert_int_equal(dns01_find_zone(&c, two, 2, "example.com.", zone, sizeof zone, err, sizeof err), 0);
    assert_string_equal(zone, "example.com.");
    assert_int_equal(dns01_find_zone(&c, two, 1, "example.com.", zone, sizeof zone, err, sizeof err), -1);
    assert_non_null(strstr(err, "10.0.0.1"));
}

static const rule_t stray_rules[] = {
    {NULL, "id.test.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR, "id.test. 1 IN SOA a. b. 1 2 3 4 5", NULL, false,
     FAKE_WRONG_ID},
    {NULL, "q.test.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR, "q.test. 1 IN SOA a. b. 1 2 3 4 5", NULL, false,
     FAKE_WRONG_QUESTION},
};

static void test_stray_answers_refused(void **state)
{
    (void)state;
    fake_t f = {.rules = stray_rules, .nrules = 2};
    dns01_client_t c = client_of(&f);
    char zone[DNS01_MAX_NAME], err[512];
    assert_int_equal(dns01_find_zone(&c, &resolver, 1, "id.test.", zone, sizeof zone, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not match the query"));
    assert_int_equal(dns01_find_zone(&c, &resolver, 1, "q.test.", zone, sizeof zone, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not match the query"));
}

/* ---- CNAME following -------------------------------------------------------------------------------- */

static const rule_t cname_rules[] = {
    {NULL, "_acme-challenge.a.example.com.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR,
     "_acme-challenge.a.example.com. 300 IN CNAME Hop.Example.NET.", NULL, false, false},
    {NULL, "hop.example.net.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR,
     "hop.example.net. 300 IN CNAME x.acme-dns.example.org.", NULL, false, false},
    {NULL, "x.acme-dns.example.org.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR, NULL, NULL, false, false},
    /* a CNAME for another owner is not ours */
    {NULL, "_acme-challenge.b.example.com.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR,
     "other.example.com. 300 IN CNAME elsewhere.example.com.", NULL, false, false},
    /* loop: l1 -> l2 -> l3 -> l1 */
    {NULL, "l1.loop.test.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR, "l1.loop.test. 1 IN CNAME l2.loop.test.", NULL,
     false, false},
    {NULL, "l2.loop.test.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR, "l2.loop.test. 1 IN CNAME l3.loop.test.", NULL,
     false, false},
    {NULL, "l3.loop.test.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR, "l3.loop.test. 1 IN CNAME L1.loop.test.", NULL,
     false, false},
    {NULL, "self.loop.test.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR, "self.loop.test. 1 IN CNAME self.loop.test.",
     NULL, false, false},
};

static void test_cname_follow(void **state)
{
    (void)state;
    fake_t f = {.rules = cname_rules, .nrules = sizeof cname_rules / sizeof cname_rules[0]};
    dns01_client_t c = client_of(&f);
    char out[DNS01_MAX_NAME], err[512];
    assert_int_equal(
        dns01_follow_cname(&c, &resolver, 1, "_acme-challenge.a.example.com.", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "x.acme-dns.example.org.");
    /* no CNAME (NXDOMAIN by default): the name itself */
    assert_int_equal(
        dns01_follow_cname(&c, &resolver, 1, "_acme-challenge.z.example.com", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "_acme-challenge.z.example.com.");
    assert_int_equal(
        dns01_follow_cname(&c, &resolver, 1, "_acme-challenge.b.example.com.", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "_acme-challenge.b.example.com.");
    assert_int_equal(dns01_follow_cname(&c, &resolver, 1, "l1.loop.test.", out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "CNAME loop"));
    assert_int_equal(dns01_follow_cname(&c, &resolver, 1, "self.loop.test.", out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "CNAME loop"));
}

static void test_cname_chain_too_long(void **state)
{
    (void)state;
    enum { N = DNS01_MAX_CNAME_HOPS + 3 };
    static char names[N][64], answers[N][160];
    static rule_t rules[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "c%d.chain.test.", i);
        snprintf(answers[i], sizeof answers[i], "c%d.chain.test. 1 IN CNAME c%d.chain.test.", i, i + 1);
        rules[i] = (rule_t){NULL, names[i], LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR, answers[i], NULL, false, false};
    }
    fake_t f = {.rules = rules, .nrules = N};
    dns01_client_t c = client_of(&f);
    char out[DNS01_MAX_NAME], err[512];
    assert_int_equal(dns01_follow_cname(&c, &resolver, 1, "c0.chain.test.", out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than"));
}

/* ---- updates ---------------------------------------------------------------------------------------- */

static void assert_update(const ldns_pkt *p, const char *zone, const char *fqdn, ldns_rr_class cls, uint32_t ttl,
                          const char *value)
{
    char buf[DNS01_MAX_VALUE + 1];
    assert_int_equal(ldns_pkt_get_opcode(p), LDNS_PACKET_UPDATE);
    assert_false(ldns_pkt_rd(p));
    /* zone section: zone SOA IN */
    assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_question(p)), 1);
    const ldns_rr *z = ldns_rr_list_rr(ldns_pkt_question(p), 0);
    char *zs = ldns_rdf2str(ldns_rr_owner(z));
    assert_string_equal(zs, zone);
    free(zs);
    assert_int_equal(ldns_rr_get_type(z), LDNS_RR_TYPE_SOA);
    assert_int_equal(ldns_rr_get_class(z), LDNS_RR_CLASS_IN);
    /* no prerequisites, exactly one update RR */
    assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 0);
    assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_authority(p)), 1);
    const ldns_rr *u = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
    char *us = ldns_rdf2str(ldns_rr_owner(u));
    assert_string_equal(us, fqdn);
    free(us);
    assert_int_equal(ldns_rr_get_type(u), LDNS_RR_TYPE_TXT);
    assert_int_equal(ldns_rr_get_class(u), cls);
    assert_int_equal(ldns_rr_ttl(u), ttl);
    assert_true(dns01_txt_value(u, buf, sizeof buf));
    assert_string_equal(buf, value);
}

static void test_update_messages(void **state)
{
    (void)state;
    char err[256];
    const char *key = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    ldns_pkt *p = dns01_build_update("kacme.test.", "_acme-challenge.kacme.test.", key, DNS01_UPDATE_ADD, err,
                                     sizeof err);
    assert_non_null(p);
    assert_update(p, "kacme.test.", "_acme-challenge.kacme.test.", LDNS_RR_CLASS_IN, 60, key);
    /* survives a wire round trip unchanged */
    uint8_t *w = NULL;
    size_t wl = 0;
    ldns_pkt *back = NULL;
    assert_int_equal(ldns_pkt2wire(&w, p, &wl), LDNS_STATUS_OK);
    assert_int_equal(ldns_wire2pkt(&back, w, wl), LDNS_STATUS_OK);
    assert_update(back, "kacme.test.", "_acme-challenge.kacme.test.", LDNS_RR_CLASS_IN, 60, key);
    free(w);
    ldns_pkt_free(back);
    ldns_pkt_free(p);

    p = dns01_build_update("kacme.test.", "_acme-challenge.a.kacme.test.", key, DNS01_UPDATE_DELETE, err, sizeof err);
    assert_non_null(p);
    assert_update(p, "kacme.test.", "_acme-challenge.a.kacme.test.", LDNS_RR_CLASS_NONE, 0, key);
    ldns_pkt_free(p);

    /* a long value is split into 255-byte strings and reads back whole */
    char big[600];
    memset(big, 'x', 599);
    big[599] = '\0';
    p = dns01_build_update("kacme.test.", "_acme-challenge.kacme.test.", big, DNS01_UPDATE_ADD, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(ldns_rr_rd_count(ldns_rr_list_rr(ldns_pkt_authority(p), 0)), 3);
    assert_update(p, "kacme.test.", "_acme-challenge.kacme.test.", LDNS_RR_CLASS_IN, 60, big);
    ldns_pkt_free(p);

    assert_null(dns01_build_update("kacme.test.", "_acme-challenge.other.test.", key, DNS01_UPDATE_ADD, err,
                                   sizeof err));
    assert_non_null(strstr(err, "not in zone"));
    assert_null(dns01_build_update("kacme.test.", "_acme-challenge.kacme.test.", "", DNS01_UPDATE_ADD, err,
                                   sizeof err));
}

static void test_update_sent_and_refused(void **state)
{
    (void)state;
    fake_t f = {.update_rcode = LDNS_RCODE_NOERROR};
    dns01_client_t c = client_of(&f);
    dns01_server_t srv = {.host = "127.0.0.1", .port = 5353};
    char err[512];

    /* unsigned */
    assert_int_equal(dns01_update(&c, &srv, false, NULL, "kacme.test.", "_acme-challenge.kacme.test.", "v1",
                                  DNS01_UPDATE_ADD, err, sizeof err),
                     0);
    assert_non_null(f.last_update);
    assert_null(ldns_pkt_tsig(f.last_update));
    assert_update(f.last_update, "kacme.test.", "_acme-challenge.kacme.test.", LDNS_RR_CLASS_IN, 60, "v1");

    /* TCP when asked */
    f.udp = f.tcp = 0;
    assert_int_equal(dns01_update(&c, &srv, true, NULL, "kacme.test.", "_acme-challenge.kacme.test.", "v1",
                                  DNS01_UPDATE_DELETE, err, sizeof err),
                     0);
    assert_int_equal(f.tcp, 1);
    assert_int_equal(f.udp, 0);
    assert_update(f.last_update, "kacme.test.", "_acme-challenge.kacme.test.", LDNS_RR_CLASS_NONE, 0, "v1");

    /* refused: the rcode is named, the value is not */
    f.update_rcode = LDNS_RCODE_REFUSED;
    assert_int_equal(dns01_update(&c, &srv, false, NULL, "kacme.test.", "_acme-challenge.kacme.test.",
                                  "secretvalue", DNS01_UPDATE_ADD, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "REFUSED"));
    assert_non_null(strstr(err, "127.0.0.1:5353"));
    assert_null(strstr(err, "secretvalue"));
    ldns_pkt_free(f.last_update);
}

static void test_update_tsig(void **state)
{
    (void)state;
    fake_t f = {.update_rcode = LDNS_RCODE_NOERROR, .sign_answer = true};
    dns01_client_t c = client_of(&f);
    dns01_server_t srv = {.host = "127.0.0.1", .port = 53};
    char err[512];
    static const dns01_tsig_alg_t algs[] = {DNS01_TSIG_HMACMD5, DNS01_TSIG_HMACSHA1, DNS01_TSIG_HMACSHA256,
                                            DNS01_TSIG_HMACSHA512};

    for (size_t i = 0; i < 4; i++) {
        dns01_tsig_t t = {.key_name = "kacme-key.", .alg = algs[i], .secret_b64 = SECRET};
        assert_int_equal(dns01_update(&c, &srv, false, &t, "kacme.test.", "_acme-challenge.kacme.test.", "v",
                                      DNS01_UPDATE_ADD, err, sizeof err),
                         0);
        const ldns_rr *qt = ldns_pkt_tsig(f.last_update);
        assert_non_null(qt);
        char *kn = ldns_rdf2str(ldns_rr_owner(qt)), *an = ldns_rdf2str(ldns_rr_rdf(qt, 0));
        assert_string_equal(kn, "kacme-key.");
        assert_string_equal(an, dns01_tsig_algorithm_dname(algs[i]));
        free(kn);
        free(an);
        assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(qt, 2)), 300); /* fudge */
    }

    /* the answer signed with another secret fails verification */
    f.answer_secret = "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==";
    dns01_tsig_t t = {.key_name = "kacme-key.", .alg = DNS01_TSIG_HMACSHA256, .secret_b64 = SECRET};
    assert_int_equal(dns01_update(&c, &srv, false, &t, "kacme.test.", "_acme-challenge.kacme.test.", "v",
                                  DNS01_UPDATE_ADD, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "TSIG verification"));

    /* an unsigned answer to a signed update is refused */
    f.sign_answer = false;
    assert_int_equal(dns01_update(&c, &srv, false, &t, "kacme.test.", "_acme-challenge.kacme.test.", "v",
                                  DNS01_UPDATE_ADD, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "not signed"));

    /* the server rejects our signature: NOTAUTH with TSIG error BADSIG */
    f.update_tsig_error = 16;
    assert_int_equal(dns01_update(&c, &srv, false, &t, "kacme.test.", "_acme-challenge.kacme.test.", "v",
                                  DNS01_UPDATE_ADD, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "NOTAUTH"));
    assert_non_null(strstr(err, "BADSIG"));
    assert_null(strstr(err, SECRET));

    /* a key name without a secret: no TSIG at all */
    f.update_tsig_error = 0;
    dns01_tsig_t nosecret = {.key_name = "kacme-key.", .alg = DNS01_TSIG_HMACSHA256, .secret_b64 = ""};
    assert_int_equal(dns01_update(&c, &srv, false, &nosecret, "kacme.test.", "_acme-challenge.kacme.test.", "v",
                                  DNS01_UPDATE_ADD, err, sizeof err),
                     0);
    assert_null(ldns_pkt_tsig(f.last_update));

    /* a secret that is not base64 */
    dns01_tsig_t bad = {.key_name = "kacme-key.", .alg = DNS01_TSIG_HMACSHA256, .secret_b64 = "!!!not base64"};
    assert_int_equal(dns01_update(&c, &srv, false, &bad, "kacme.test.", "_acme-challenge.kacme.test.", "v",
                                  DNS01_UPDATE_ADD, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "TSIG"));
    ldns_pkt_free(f.last_update);
}

/* ---- the check -------------------------------------------------------------------------------------- */

static ldns_pkt *answer(ldns_pkt_rcode rc, const char *rrs)
{
    ldns_pkt *p = ldns_pkt_new();
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_rcode(p, (uint8_t)rc);
    fake_push_rrs(p, LDNS_SECTION_ANSWER, rrs);
    return p;
}

static void test_check_decide(void **state)
{
    (void)state;
    const char *fq = "_acme-challenge.kacme.test.";
    char reason[DNS01_REASON_LEN];
    ldns_pkt *good = answer(LDNS_RCODE_NOERROR, "_acme-challenge.kacme.test. 60 IN TXT \"other\"\n"
                                                "_acme-challenge.kacme.test. 60 IN TXT \"val\" \"ue\"");
    ldns_pkt *wrong = answer(LDNS_RCODE_NOERROR, "_acme-challenge.kacme.test. 60 IN TXT \"other\"");
    ldns_pkt *nodata = answer(LDNS_RCODE_NOERROR, NULL);
    ldns_pkt *nx = answer(LDNS_RCODE_NXDOMAIN, NULL);
    ldns_pkt *servfail = answer(LDNS_RCODE_SERVFAIL, NULL);

    dns01_server_answer_t one_good[] = {{"a:53", NULL, good}};
    assert_int_equal(dns01_check_decide(one_good, 1, fq, "value", reason, sizeof reason), DNS01_PROPAGATED);

    dns01_server_answer_t good_nx[] = {{"a:53", NULL, good}, {"192.0.2.7:53", NULL, nx}};
    assert_int_equal(dns01_check_decide(good_nx, 2, fq, "value", reason, sizeof reason), DNS01_NOT_YET);
    assert_non_null(strstr(reason, "192.0.2.7:53"));
    assert_non_null(strstr(reason, "NXDOMAIN"));

    dns01_server_answer_t good_wrong[] = {{"a:53", NULL, good}, {"b:53", NULL, wrong}};
    assert_int_equal(dns01_check_decide(good_wrong, 2, fq, "value", reason, sizeof reason), DNS01_NOT_YET);
    assert_non_null(strstr(reason, "b:53"));
    assert_null(strstr(reason, "value")); /* never the value itself */

    dns01_server_answer_t nod[] = {{"c:53", NULL, nodata}};
    assert_int_equal(dns01_check_decide(nod, 1, fq, "value", reason, sizeof reason), DNS01_NOT_YET);
    assert_non_null(strstr(reason, "no TXT record"));

    dns01_server_answer_t lame[] = {{"a:53", NULL, good}, {"198.51.100.9:53", "no answer within 5000 ms", NULL}};
    assert_int_equal(dns01_check_decide(lame, 2, fq, "value", reason, sizeof reason), DNS01_NOT_YET);
    assert_non_null(strstr(reason, "198.51.100.9:53"));
    assert_non_null(strstr(reason, "no answer"));

    /* an error beats "not yet", whatever the order */
    dns01_server_answer_t mixed[] = {{"a:53", NULL, nx}, {"d:53", NULL, servfail}, {"e:53", NULL, good}};
    assert_int_equal(dns01_check_decide(mixed, 3, fq, "value", reason, sizeof reason), DNS01_CHECK_ERROR);
    assert_non_null(strstr(reason, "SERVFAIL"));
    assert_non_null(strstr(reason, "d:53"));

    assert_int_equal(dns01_check_decide(NULL, 0, fq, "value", reason, sizeof reason), DNS01_CHECK_ERROR);

    ldns_pkt_free(good);
    ldns_pkt_free(wrong);
    ldns_pkt_free(nodata);
    ldns_pkt_free(nx);
    ldns_pkt_free(servfail);
}

static const rule_t auth_rules[] = {
    {"10.0.0.53", "_acme-challenge.kacme.test.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR, NULL, NULL, false, false},
    {"10.0.0.53", "kacme.test.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR,
     "kacme.test. 60 IN SOA ns1.kacme.test. h.kacme.test. 1 2 3 4 5", NULL, false, false},
    {"10.0.0.53", "kacme.test.", LDNS_RR_TYPE_NS, LDNS_RCODE_NOERROR,
     "kacme.test. 60 IN NS ns1.kacme.test.\nkacme.test. 60 IN NS ns2.example.net.",
     "ns1.kacme.test. 60 IN A 192.0.2.1", false, false},
    {"10.0.0.53", "ns2.example.net.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, "ns2.example.net. 60 IN A 192.0.2.2", NULL,
     false, false},
    {"10.0.0.53", "ns2.example.net.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, NULL, NULL, false, false},
    {"192.0.2.1", "_acme-challenge.kacme.test.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR,
     "_acme-challenge.kacme.test. 60 IN TXT \"value\"", NULL, false, false},
    {"192.0.2.2", "_acme-challenge.kacme.test.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NXDOMAIN, NULL, NULL, false, false},
};

static void test_check_authoritative(void **state)
{
    (void)state;
    fake_t f = {.rules = auth_rules, .nrules = sizeof auth_rules / sizeof auth_rules[0]};
    dns01_client_t c = client_of(&f);
    char reason[DNS01_REASON_LEN];
    assert_int_equal(dns01_check(&c, &resolver, 1, true, "_acme-challenge.kacme.test.", "value", reason,
                                 sizeof reason),
                     DNS01_NOT_YET);
    assert_non_null(strstr(reason, "ns2.example.net.(192.0.2.2:53)"));
    assert_non_null(strstr(reason, "NXDOMAIN"));

    /* recursive-only: the resolver itself has no TXT (NXDOMAIN by default) */
    assert_int_equal(dns01_check(&c, &resolver, 1, false, "_acme-challenge.kacme.test.", "value", reason,
                                 sizeof reason),
                     DNS01_NOT_YET);
    assert_non_null(strstr(reason, "10.0.0.53:53"));

    /* recursive-only against the first authoritative server directly: propagated */
    dns01_server_t ns1 = {.host = "192.0.2.1", .port = 53};
    assert_int_equal(dns01_check(&c, &ns1, 1, false, "_acme-challenge.kacme.test.", "value", reason, sizeof reason),
                     DNS01_PROPAGATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_name),
        cmocka_unit_test(test_parse_server),
        cmocka_unit_test(test_tsig_algorithm),
        cmocka_unit_test(test_zone_walk),
        cmocka_unit_test(test_zone_walk_server_failover),
        cmocka_unit_test(test_stray_answers_refused),
        cmocka_unit_test(test_cname_follow),
        cmocka_unit_test(test_cname_chain_too_long),
        cmocka_unit_test(test_update_messages),
        cmocka_unit_test(test_update_sent_and_refused),
        cmocka_unit_test(test_update_tsig),
        cmocka_unit_test(test_check_decide),
        cmocka_unit_test(test_check_authoritative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
