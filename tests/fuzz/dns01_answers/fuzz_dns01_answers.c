/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes what lib/dns01 does with answers from a DNS server: the input is served as the answer to every
 * query (its ID patched to match), through the zone walk, CNAME following, an update and the check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns01/dns01.h"

typedef struct input {
    const uint8_t *data;
    size_t size;
} input_t;

static int serve(void *ud, const dns01_server_t *srv, bool tcp, unsigned timeout_ms, const uint8_t *query,
                 size_t qlen, uint8_t **answer, size_t *alen, char *err, size_t errlen)
{
    input_t *in = ud;
    (void)srv;
    (void)tcp;
    (void)timeout_ms;
    (void)err;
    (void)errlen;
    *answer = malloc(in->size > 2 ? in->size : 2);
    if (!*answer)
        return -1;
    memcpy(*answer, in->data, in->size);
    if (in->size >= 2 && qlen >= 2)
        memcpy(*answer, query, 2); /* the query's ID, so the answer gets parsed */
    *alen = in->size;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65535)
        return 0;
    input_t in = {data, size};
    dns01_client_t c = {.exchange = serve, .ud = &in, .timeout_ms = 1};
    dns01_server_t s = {.host = "192.0.2.1", .port = 53};
    char out[DNS01_MAX_NAME], err[512];
    dns01_find_zone(&c, &s, 1, "_acme-challenge.a.b.example.com.", out, sizeof out, err, sizeof err);
    dns01_follow_cname(&c, &s, 1, "_acme-challenge.a.example.com.", out, sizeof out, err, sizeof err);
    dns01_update(&c, &s, false, NULL, "example.com.", "_acme-challenge.example.com.", "v", DNS01_UPDATE_ADD, err,
                 sizeof err);
    dns01_check(&c, &s, 1, false, "_acme-challenge.example.com.", "v", err, sizeof err);
    dns01_check(&c, &s, 1, true, "_acme-challenge.example.com.", "v", err, sizeof err);
    return 0;
}
