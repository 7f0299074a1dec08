/* SPDX-License-Identifier: Apache-2.0 */
/* A fake DNS exchange for lib/dns01 tests: answers built with ldns per (server, name, type) rule; UPDATEs are
 * recorded and answered with a configurable rcode / TSIG. Test code (cmocka asserts inside). */
#ifndef KACME_TESTS_DNS01_FAKE_H
#define KACME_TESTS_DNS01_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns01/dns01.h"

#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==" /* test-only */

typedef struct rule {
    const char *server;  /* host to match, NULL: any */
    const char *name;    /* query name (lower case, trailing dot) */
    ldns_rr_type type;
    ldns_pkt_rcode rcode;
    const char *answer;     /* RRs in presentation form, '\n'-separated */
    const char *additional; /* idem */
    bool tc_udp;            /* UDP answer truncated (TCP gets the full one) */
    int fail;               /* FAKE_TRANSPORT (true): transport error; FAKE_WRONG_ID: an answer with another
                               ID (stray/spoofed); FAKE_WRONG_QUESTION: an answer to another question */
} rule_t;

enum { FAKE_TRANSPORT = 1, FAKE_WRONG_ID = 2, FAKE_WRONG_QUESTION = 3 };

typedef struct fake {
    const rule_t *rules;
    size_t nrules;
    int udp, tcp;               /* exchanges seen */
    ldns_pkt *last_update;      /* the last UPDATE received (parsed) */
    ldns_pkt_rcode update_rcode;
    unsigned update_tsig_error; /* TSIG error code to put in the answer (with rcode NOTAUTH) */
    bool sign_answer;           /* sign NOERROR answers to signed updates with the good secret */
    const char *answer_secret;  /* secret used for that (SECRET unless set) */
    char last_update_server[DNS01_MAX_NAME]; /* host the last UPDATE went to */
} fake_t;

/* Appends the '\n'-separated presentation-form RRs of text to section sec of p. */
void fake_push_rrs(ldns_pkt *p, ldns_pkt_section sec, const char *text);

/* dns01_exchange_fn over a fake_t (ud). */
int fake_exchange(void *ud, const dns01_server_t *srv, bool tcp, unsigned timeout_ms, const uint8_t *query, size_t qlen,
                  uint8_t **answer, size_t *alen, char *err, size_t errlen);

#endif
