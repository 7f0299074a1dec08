/* SPDX-License-Identifier: Apache-2.0 */
/* lib/dns01/solver: rfc2136 and webhook present/clean-up, the check with its settle period, option and
 * config parsing — DNS through the fake exchange, Kubernetes through fake host callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns01/solver.h"
#include "fake.h"

#define KEY "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

/* ---- fake Kubernetes -------------------------------------------------------------------------------- */

typedef struct host_state {
    char ns[64], name[64], key[64]; /* last secret asked for */
    const char *secret;             /* value served, NULL: not found */
    char path[256];                 /* last POST */
    json_object *body;              /* last POSTed payload (copy) */
    const char *answer;             /* JSON answer to POSTs, NULL: transport failure */
    int posts, secrets;
} host_state_t;

static int fake_secret(void *ud, const char *ns, const char *name, const char *key, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    host_state_t *h = ud;
    h->secrets++;
    snprintf(h->ns, sizeof h->ns, "%s", ns);
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->key, sizeof h->key, "%s", key ? key : "");
    if (!h->secret) {
        snprintf(err, errlen, "secret %s/%s not found", ns, name);
        return -1;
    }
    snprintf(out, outlen, "%s", h->secret);
    return 0;
}

static int fake_post(void *ud, const char *path, json_object *body, json_object **out, char *err, size_t errlen)
{
    host_state_t *h = ud;
    h->posts++;
    snprintf(h->path, sizeof h->path, "%s", path);
    json_object_put(h->body);
    h->body = NULL;
    json_object_deep_copy(body, &h->body, NULL);
    if (!h->answer) {
        snprintf(err, errlen, "connection refused");
        return -1;
    }
    *out = json_tokener_parse(h->answer);
    return 0;
}

static json_object *challenge(const char *dns_name, const char *dns01_json)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"metadata\":{\"name\":\"c\",\"namespace\":\"team-a\",\"uid\":\"uid-1\"},"
             "\"spec\":{\"type\":\"DNS-01\",\"dnsName\":\"%s\",\"key\":\"" KEY "\",\"wildcard\":false,"
             "\"solver\":{\"dns01\":%s}}}",
             dns_name, dns01_json);
    json_object *o = json_tokener_parse(buf);
    assert_non_null(o);
    return o;
}

static const rule_t rules[] = {
    /* the recursive server 10.0.0.53 knows example.com. and the CNAME target zone acme-dns.example.org. */
    {"10.0.0.53", "_acme-challenge.example.com.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NXDOMAIN, NULL, NULL, false, false},
    {"10.0.0.53", "example.com.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR,
     "example.com. 60 IN SOA ns1.example.com. h.example.com. 1 2 3 4 5", NULL, false, false},
    {"10.0.0.53", "_acme-challenge.cname.example.com.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR,
     "_acme-challenge.cname.example.com. 60 IN CNAME x.acme-dns.example.org.", NULL, false, false},
    {"10.0.0.53", "x.acme-dns.example.org.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NXDOMAIN, NULL, NULL, false, false},
    {"10.0.0.53", "acme-dns.example.org.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR,
     "acme-dns.example.org. 60 IN SOA ns.example.org. h.example.org. 1 2 3 4 5", NULL, false, false},
    {"10.0.0.53", "_acme-challenge.example.com.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR,
     "_acme-challenge.example.com. 60 IN TXT \"" KEY "\"", NULL, false, false},
    {"10.0.0.53", "x.acme-dns.example.org.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR,
     "x.acme-dns.example.org. 60 IN TXT \"" KEY "\"", NULL, false, false},
    /* a solver-specific nameserver that has nothing yet */
    {"10.9.9.9", "_acme-challenge.example.com.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NXDOMAIN, NULL, NULL, false, false},
};

static void opts_with_fake(dns01_solver_opts_t *o, fake_t *f, int64_t settle_ms)
{
    char err[256];
    assert_int_equal(dns01_solver_opts_init(o, "10.0.0.53:53", true, settle_ms, NULL, err, sizeof err), 0);
    o->client.exchange = fake_exchange;
    o->client.ud = f;
    o->client.timeout_ms = 1;
}

#define RFC2136                                                                                                    \
    "{\"rfc2136\":{\"nameserver\":\"[2001:db8::53]:5353\",\"tsigKeyName\":\"kacme-key.\","                       \
    "\"tsigAlgorithm\":\"hmacsha256\",\"tsigSecretSecretRef\":{\"name\":\"tsig\",\"key\":\"secret\"}}}"

/* ---- tests ------------------------------------------------------------------------------------------ */

static void test_opts(void **state)
{
    (void)state;
    dns01_solver_opts_t o;
    char err[256];
    assert_int_equal(dns01_solver_opts_init(&o, "1.1.1.1, [::1]:5353", false, 0, NULL, err, sizeof err), 0);
    assert_int_equal(o.n_recursive, 2);
    assert_int_equal(o.recursive[1].port, 5353);
    assert_null(o.settle);
    dns01_solver_opts_free(&o);
    assert_int_equal(dns01_solver_opts_init(&o, "https://dns.example/dns-query", false, 0, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "DNS-over-HTTPS"));
    assert_int_equal(dns01_solver_opts_init(&o, "1.2.3.4:0", false, 0, NULL, err, sizeof err), -1);

    char path[] = "/tmp/kacme-dns01-resolv-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *conf = "# comment\nsearch example.com\nnameserver 192.0.2.10\nnameserver 2001:db8::1\noptions ndots:5\n";
    assert_int_equal(write(fd, conf, strlen(conf)), (ssize_t)strlen(conf));
    close(fd);
    assert_int_equal(dns01_solver_opts_init(&o, "", true, 60000, path, err, sizeof err), 0);
    assert_int_equal(o.n_recursive, 2);
    assert_string_equal(o.recursive[0].host, "192.0.2.10");
    assert_int_equal(o.recursive[0].port, 53);
    assert_string_equal(o.recursive[1].host, "2001:db8::1");
    assert_true(o.recursive_only);
    assert_non_null(o.settle);
    dns01_solver_opts_free(&o);
    unlink(path);
    assert_int_equal(dns01_solver_opts_init(&o, NULL, false, 0, path, err, sizeof err), 0);
    assert_int_equal(o.n_recursive, 2);
    assert_string_equal(o.recursive[0].host, "8.8.8.8");
    assert_string_equal(o.recursive[1].host, "8.8.4.4");
    dns01_solver_opts_free(&o);
}

static void test_rfc2136_parse(void **state)
{
    (void)state;
    dns01_rfc2136_t c;
    char err[256];
    json_object *ch = challenge("example.com", RFC2136);
    json_object *r = NULL;
    json_object_object_get_ex(json_object_object_get(json_object_object_get(json_object_object_get(ch, "spec"), "solver"),
                                                     "dns01"),
                              "rfc2136", &r);
    assert_int_equal(dns01_rfc2136_parse(r, &c, err, sizeof err), 0);
    assert_string_equal(c.server.host, "2001:db8::53");
    assert_int_equal(c.server.port, 5353);
    assert_int_equal(c.alg, DNS01_TSIG_HMACSHA256);
    assert_string_equal(c.tsig_key_name, "kacme-key.");
    assert_string_equal(c.secret_name, "tsig");
    assert_string_equal(c.secret_key, "secret");
    assert_false(c.tcp);
    json_object_put(ch);

    static const struct {
        const char *json;
        const char *want; /* NULL: ok */
    } cases[] = {
        {"{\"nameserver\":\"1.2.3.4\"}", NULL},
        {"{\"nameserver\":\"1.2.3.4\",\"protocol\":\"TCP\"}", NULL},
        {"{}", "nameserver is required"},
        {"{\"nameserver\":\"1.2.3.4:99999\"}", "rfc2136.nameserver"},
        {"{\"nameserver\":\"1.2.3.4\",\"tsigAlgorithm\":\"HMACSHA384\"}", "tsigAlgorithm"},
        {"{\"nameserver\":\"1.2.3.4\",\"protocol\":\"QUIC\"}", "protocol"},
        {"{\"nameserver\":\"1.2.3.4\",\"tsigKeyName\":\"k\",\"tsigSecretSecretRef\":{\"name\":\"s\"}}", "key is required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *j = json_tokener_parse(cases[i].json);
        int rc = dns01_rfc2136_parse(j, &c, err, sizeof err);
        if (!cases[i].want) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, cases[i].want));
        }
        json_object_put(j);
    }
    json_object *p = json_tokener_parse("{\"nameserver\":\"1.2.3.4\",\"protocol\":\"TCP\"}");
    assert_int_equal(dns01_rfc2136_parse(p, &c, err, sizeof err), 0);
    assert_true(c.tcp);
    assert_int_equal(c.server.port, 53);
    json_object_put(p);
}

static void test_present_and_clean_up_rfc2136(void **state)
{
    (void)state;
    fake_t f = {.rules = rules, .nrules = sizeof rules / sizeof rules[0], .sign_answer = true};
    dns01_solver_opts_t o;
    opts_with_fake(&o, &f, 0);
    host_state_t hs = {.secret = SECRET "\n"};
    dns01_host_t h = {.secret_value = fake_secret, .post = fake_post, .ud = &hs, .resource_namespace = "team-a"};
    char err[512];

    /* a wildcard name shares the apex's record name */
    json_object *ch = challenge("*.example.com", RFC2136);
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), 0);
    assert_string_equal(hs.ns, "team-a");
    assert_string_equal(hs.name, "tsig");
    assert_string_equal(hs.key, "secret");
    assert_string_equal(f.last_update_server, "2001:db8::53");
    const ldns_pkt *u = f.last_update;
    assert_non_null(u);
    char *zone = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(u), 0)));
    assert_string_equal(zone, "example.com.");
    free(zone);
    const ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_authority(u), 0);
    char *owner = ldns_rdf2str(ldns_rr_owner(rr)), v[128];
    assert_string_equal(owner, "_acme-challenge.example.com.");
    free(owner);
    assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_IN);
    assert_true(dns01_txt_value(rr, v, sizeof v));
    assert_string_equal(v, KEY);
    assert_non_null(ldns_pkt_tsig(u));

    assert_int_equal(dns01_solver_clean_up(&o, &h, ch, err, sizeof err), 0);
    rr = ldns_rr_list_rr(ldns_pkt_authority(f.last_update), 0);
    assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_NONE);
    assert_true(dns01_txt_value(rr, v, sizeof v));
    assert_string_equal(v, KEY);

    /* the Secret is missing: the error says which, and nothing is sent */
    hs.secret = NULL;
    ldns_pkt_free(f.last_update);
    f.last_update = NULL;
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), -1);
    assert_non_null(strstr(err, "team-a/tsig"));
    assert_null(f.last_update);

    /* the server refuses: rcode named, key not leaked */
    hs.secret = SECRET;
    f.update_rcode = LDNS_RCODE_REFUSED;
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), -1);
    assert_non_null(strstr(err, "REFUSED"));
    assert_null(strstr(err, KEY));
    assert_null(strstr(err, SECRET));
    json_object_put(ch);
    ldns_pkt_free(f.last_update);
    dns01_solver_opts_free(&o);
}

static void test_present_follows_cname(void **state)
{
    (void)state;
    fake_t f = {.rules = rules, .nrules = sizeof rules / sizeof rules[0]};
    dns01_solver_opts_t o;
    opts_with_fake(&o, &f, 0);
    dns01_host_t h = {.resource_namespace = "team-a"};
    char err[512];
    json_object *ch = challenge("cname.example.com",
                                "{\"cnameStrategy\":\"Follow\",\"rfc2136\":{\"nameserver\":\"10.1.1.1\"}}");
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), 0);
    char *zone = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(f.last_update), 0)));
    char *owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_authority(f.last_update), 0)));
    assert_string_equal(zone, "acme-dns.example.org.");
    assert_string_equal(owner, "x.acme-dns.example.org.");
    assert_null(ldns_pkt_tsig(f.last_update)); /* no key configured: unsigned */
    free(zone);
    free(owner);
    /* the check always follows CNAMEs */
    assert_int_equal(dns01_solver_check(&o, ch, 0, err, sizeof err), 0);
    json_object_put(ch);
    ldns_pkt_free(f.last_update);
    dns01_solver_opts_free(&o);
}

static void test_webhook(void **state)
{
    (void)state;
    fake_t f = {.rules = rules, .nrules = sizeof rules / sizeof rules[0]};
    dns01_solver_opts_t o;
    opts_with_fake(&o, &f, 0);
    host_state_t hs = {.answer = "{\"apiVersion\":\"webhook.acme.cert-manager.io/v1alpha1\",\"kind\":\"ChallengePayload\","
                                 "\"response\":{\"uid\":\"\",\"success\":true}}"};
    dns01_host_t h = {.secret_value = fake_secret, .post = fake_post, .ud = &hs, .resource_namespace = "kacme-system",
                      .allow_ambient_credentials = true};
    char err[512];
    json_object *ch = challenge("example.com", "{\"webhook\":{\"groupName\":\"acme.example.com\",\"solverName\":\"bind\","
                                               "\"config\":{\"server\":\"10.1.1.1:53\",\"nested\":{\"a\":[1,2]}}}}");
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), 0);
    assert_string_equal(hs.path, "/apis/acme.example.com/v1alpha1/bind");
    json_object *req = json_object_object_get(hs.body, "request");
    assert_string_equal(json_object_get_string(json_object_object_get(hs.body, "apiVersion")),
                        "webhook.acme.cert-manager.io/v1alpha1");
    assert_string_equal(json_object_get_string(json_object_object_get(hs.body, "kind")), "ChallengePayload");
    assert_string_equal(json_object_get_string(json_object_object_get(req, "action")), "Present");
    assert_string_equal(json_object_get_string(json_object_object_get(req, "type")), "dns-01");
    assert_string_equal(json_object_get_string(json_object_object_get(req, "dnsName")), "example.com");
    assert_string_equal(json_object_get_string(json_object_object_get(req, "key")), KEY);
    assert_string_equal(json_object_get_string(json_object_object_get(req, "resourceNamespace")), "kacme-system");
    assert_string_equal(json_object_get_string(json_object_object_get(req, "resolvedFQDN")),
                        "_acme-challenge.example.com.");
    assert_string_equal(json_object_get_string(json_object_object_get(req, "resolvedZone")), "example.com.");
    assert_true(json_object_get_boolean(json_object_object_get(req, "allowAmbientCredentials")));
    assert_string_equal(json_object_to_json_string_ext(json_object_object_get(req, "config"), JSON_C_TO_STRING_PLAIN),
                        "{\"server\":\"10.1.1.1:53\",\"nested\":{\"a\":[1,2]}}");
    assert_int_equal(hs.secrets, 0);

    assert_int_equal(dns01_solver_clean_up(&o, &h, ch, err, sizeof err), 0);
    req = json_object_object_get(hs.body, "request");
    assert_string_equal(json_object_get_string(json_object_object_get(req, "action")), "CleanUp");

    hs.answer = "{\"response\":{\"success\":false,\"status\":{\"message\":\"zone example.com not managed\"}}}";
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), -1);
    assert_non_null(strstr(err, "zone example.com not managed"));
    hs.answer = "{\"kind\":\"Status\"}";
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), -1);
    assert_non_null(strstr(err, "no response"));
    hs.answer = NULL;
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), -1);
    assert_non_null(strstr(err, "connection refused"));
    json_object_put(ch);

    /* names that would escape the path */
    ch = challenge("example.com", "{\"webhook\":{\"groupName\":\"acme.example.com/../x\",\"solverName\":\"bind\"}}");
    int posts = hs.posts;
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), -1);
    assert_non_null(strstr(err, "groupName"));
    assert_int_equal(hs.posts, posts);
    json_object_put(hs.body);
    json_object_put(ch);
    dns01_solver_opts_free(&o);
}

static void test_unsupported_provider(void **state)
{
    (void)state;
    dns01_solver_opts_t o;
    fake_t f = {0};
    opts_with_fake(&o, &f, 0);
    dns01_host_t h = {0};
    char err[512];
    json_object *ch = challenge("example.com", "{\"cloudflare\":{\"apiTokenSecretRef\":{\"name\":\"cf\"}}}");
    assert_int_equal(dns01_solver_present(&o, &h, ch, err, sizeof err), -1);
    assert_non_null(strstr(err, "cloudflare"));
    assert_int_equal(f.udp + f.tcp, 0);
    json_object_put(ch);
    dns01_solver_opts_free(&o);
}

static void test_check_and_settle(void **state)
{
    (void)state;
    fake_t f = {.rules = rules, .nrules = sizeof rules / sizeof rules[0]};
    dns01_solver_opts_t o;
    opts_with_fake(&o, &f, 60000);
    char err[512];
    json_object *ch = challenge("example.com", "{\"rfc2136\":{\"nameserver\":\"10.1.1.1\"}}");
    assert_int_equal(dns01_solver_check(&o, ch, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "settling for 60 s"));
    assert_int_equal(dns01_solver_check(&o, ch, 31000, err, sizeof err), -1);
    assert_non_null(strstr(err, "settling for 30 s"));
    assert_int_equal(dns01_solver_check(&o, ch, 61000, err, sizeof err), 0);
    assert_int_equal(dns01_solver_check(&o, ch, 62000, err, sizeof err), 0); /* stays settled */
    assert_int_equal(dns01_settle_size(o.settle), 1);
    dns01_host_t h = {.resource_namespace = "team-a"};
    assert_int_equal(dns01_solver_clean_up(&o, &h, ch, err, sizeof err), 0);
    assert_int_equal(dns01_settle_size(o.settle), 0);
    json_object_put(ch);

    /* the solver's own nameservers win (and have nothing yet): the reason names the server */
    ch = challenge("example.com", "{\"nameservers\":[\"10.9.9.9:53\"],\"rfc2136\":{\"nameserver\":\"10.1.1.1\"}}");
    assert_int_equal(dns01_solver_check(&o, ch, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "10.9.9.9:53"));
    assert_non_null(strstr(err, "NXDOMAIN"));
    json_object_put(ch);
    ch = challenge("example.com", "{\"nameservers\":[\"https://dns.example/dns-query\"],\"rfc2136\":{\"nameserver\":\"1.1.1.1\"}}");
    assert_int_equal(dns01_solver_check(&o, ch, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "DNS-over-HTTPS"));
    json_object_put(ch);
    ldns_pkt_free(f.last_update);
    dns01_solver_opts_free(&o);
}

static void test_settle_table(void **state)
{
    (void)state;
    dns01_settle_t *s = dns01_settle_new();
    assert_int_equal(dns01_settle_propagated(s, "a", 0, 1000), 1000);
    assert_int_equal(dns01_settle_propagated(s, "b", 500, 1000), 1000);
    assert_int_equal(dns01_settle_propagated(s, "a", 600, 1000), 400);
    assert_int_equal(dns01_settle_propagated(s, "a", 5000, 1000), 0);
    assert_int_equal(dns01_settle_size(s), 2);
    dns01_settle_forget(s, "a");
    dns01_settle_forget(s, "zzz");
    assert_int_equal(dns01_settle_size(s), 1);
    assert_int_equal(dns01_settle_propagated(s, "a", 6000, 1000), 1000); /* starts over */
    assert_int_equal(dns01_settle_propagated(s, "a", 6000, 0), 0);
    dns01_settle_free(s);
    dns01_settle_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts),
        cmocka_unit_test(test_rfc2136_parse),
        cmocka_unit_test(test_present_and_clean_up_rfc2136),
        cmocka_unit_test(test_present_follows_cname),
        cmocka_unit_test(test_webhook),
        cmocka_unit_test(test_unsupported_provider),
        cmocka_unit_test(test_check_and_settle),
        cmocka_unit_test(test_settle_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
