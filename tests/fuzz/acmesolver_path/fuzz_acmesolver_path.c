/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the solver's request decision. Input: "METHOD\nTARGET\nHOST" (a missing third line means no Host
 * header). Invariants: status is one of 200/404/405; a 200 for the challenge carries exactly the key and
 * only for GET/HEAD on the exact challenge path; health answers have empty bodies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acmesolver.h"

static const acmesolver_config_t CFG = {
    .listen_port = 8089, .domain = "fuzz.example", .token = "tok-EN_1", .key = "tok-EN_1.key"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *method = buf;
    char *target = strchr(method, '\n');
    char *host = NULL;
    if (target) {
        *target++ = '\0';
        host = strchr(target, '\n');
        if (host)
            *host++ = '\0';
    } else {
        target = buf + size;
    }
    acmesolver_reply_t r = acmesolver_decide(&CFG, method, target, strlen(target), host);
    if (r.status != 200 && r.status != 404 && r.status != 405)
        abort();
    if (r.is_challenge) {
        if (r.status != 200 || r.body_len != strlen(CFG.key) || memcmp(r.body, CFG.key, r.body_len) != 0)
            abort();
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            abort();
        if (!strstr(target, "/.well-known/acme-challenge/tok-EN_1"))
            abort();
    } else if (r.status == 200 && r.body_len != 0) {
        abort();
    }
    const char *name;
    size_t nlen;
    if (host && acmesolver_host_name(host, &name, &nlen) && (name < host || name + nlen > host + strlen(host)))
        abort();
    free(buf);
    return 0;
}
