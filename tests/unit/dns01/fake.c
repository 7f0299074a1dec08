/* SPDX-License-Identifier: Apache-2.0 */
/* The fake DNS exchange of the dns01 unit tests (see fake.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

void fake_push_rrs(ldns_pkt *p, ldns_pkt_section sec, const char *text)
{
    if (!text)
        return;
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        ldns_rr *rr = NULL;
        assert_int_equal(ldns_rr_new_frm_str(&rr, line, 3600, NULL, NULL), LDNS_STATUS_OK);
        assert_true(ldns_pkt_push_rr(p, sec, rr));
    }
    free(copy);
}

int fake_exchange(void *ud, const dns01_server_t *srv, bool tcp, unsigned timeout_ms, const uint8_t *query,
                         size_t qlen, uint8_t **answer, size_t *alen, char *err, size_t errlen)
{
    fake_t *f = ud;
    ldns_pkt *q = NULL, *a = NULL;
    (void)timeout_ms;
    if (tcp)
        f->tcp++;
    else
        f->udp++;
    assert_int_equal(ldns_wire2pkt(&q, query, qlen), LDNS_STATUS_OK);
    ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
    char *qn = ldns_rdf2str(ldns_rr_owner(qrr));
    for (char *c = qn; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    a = ldns_pkt_new();
    ldns_pkt_set_id(a, ldns_pkt_id(q));
    ldns_pkt_set_qr(a, true);
    ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, ldns_rr_clone(qrr));

    if (ldns_pkt_get_opcode(q) == LDNS_PACKET_UPDATE) {
        ldns_pkt_free(f->last_update);
        f->last_update = ldns_pkt_clone(q);
        snprintf(f->last_update_server, sizeof f->last_update_server, "%s", srv->host);
        ldns_pkt_set_opcode(a, LDNS_PACKET_UPDATE);
        ldns_pkt_set_rcode(a, (uint8_t)f->update_rcode);
        const ldns_rr *qt = ldns_pkt_tsig(q);
        if (qt && f->update_tsig_error) {
            ldns_pkt_set_rcode(a, LDNS_RCODE_NOTAUTH);
            /* a TSIG RR carrying the error (presentation-form TSIG is not parsed by ldns: sign, then patch) */
            assert_int_equal(ldns_pkt_tsig_sign(a, "kacme-key.", SECRET, 300, "hmac-sha256.", NULL), LDNS_STATUS_OK);
            ldns_rdf *old = ldns_rr_set_rdf(ldns_pkt_tsig(a),
                                            ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, (uint16_t)f->update_tsig_error), 5);
            ldns_rdf_deep_free(old);
        } else if (qt && f->sign_answer) {
            char *kn = ldns_rdf2str(ldns_rr_owner(qt));
            char *alg = ldns_rdf2str(ldns_rr_rdf(qt, 0));
            assert_int_equal(ldns_pkt_tsig_sign(a, kn, f->answer_secret ? f->answer_secret : SECRET, 300, alg,
                                                ldns_rr_rdf(qt, 3)),
                             LDNS_STATUS_OK);
            free(kn);
            free(alg);
        }
        goto send;
    }
    ldns_rr_type qt = ldns_rr_get_type(qrr);
    const rule_t *r = NULL;
    for (size_t i = 0; i < f->nrules && !r; i++)
        if ((!f->rules[i].server || strcmp(f->rules[i].server, srv->host) == 0) &&
            strcmp(f->rules[i].name, qn) == 0 && f->rules[i].type == qt)
            r = &f->rules[i];
    if (r && r->fail == FAKE_TRANSPORT) {
        snprintf(err, errlen, "no answer from %s within 1 ms", srv->host);
        ldns_pkt_free(q);
        ldns_pkt_free(a);
        free(qn);
        return -1;
    }
    if (r && r->fail == FAKE_WRONG_ID)
        ldns_pkt_set_id(a, (uint16_t)(ldns_pkt_id(q) + 1));
    if (r && r->fail == FAKE_WRONG_QUESTION) {
        ldns_rr *other = NULL;
        assert_int_equal(ldns_rr_new_question_frm_str(&other, "other.example. IN TXT", NULL, NULL), LDNS_STATUS_OK);
        ldns_rr_list_deep_free(ldns_pkt_question(a));
        ldns_pkt_set_question(a, ldns_rr_list_new());
        ldns_pkt_set_qdcount(a, 0);
        ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, other);
    }
    if (!r) {
        ldns_pkt_set_rcode(a, LDNS_RCODE_NXDOMAIN);
    } else {
        ldns_pkt_set_rcode(a, (uint8_t)r->rcode);
        if (r->tc_udp && !tcp) {
            ldns_pkt_set_tc(a, true);
        } else {
            fake_push_rrs(a, LDNS_SECTION_ANSWER, r->answer);
            fake_push_rrs(a, LDNS_SECTION_ADDITIONAL, r->additional);
        }
    }
send:
    assert_int_equal(ldns_pkt2wire(answer, a, alen), LDNS_STATUS_OK);
    ldns_pkt_free(q);
    ldns_pkt_free(a);
    free(qn);
    return 0;
}

