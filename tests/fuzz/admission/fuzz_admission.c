/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes admission_handle() and admission_mutate(): any byte string must yield 200 (a well-formed AdmissionReview response),
 * 400/413 (a one-line reason), or 500 only on allocation failure; never a crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admission.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const creators[] = {ADMISSION_DEFAULT_CHALLENGE_CREATOR, "group:kacme:controllers"};
static const admission_policy_t policy = {.challenge_creators = creators, .n_challenge_creators = 2};

/* Checks one answer of either entry point; aborts on a violated contract. */
static void check(int code, char *out)
{
    if (code == 200) {
        json_object *r = json_tokener_parse(out); /* owned */
        if (!r)
            abort();
        json_object *resp = NULL;
        if (!json_object_object_get_ex(r, "response", &resp))
            abort();
        json_object_put(r);
    } else if (code == 400 || code == 413) {
        if (!out || strchr(out, '\n'))
            abort();
    } else if (code != 500) {
        abort();
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = NULL;
    size_t outlen = 0;
    admission_summary_t sum;
    check(admission_handle((const char *)data, size, &policy, &out, &outlen, &sum), out);
    out = NULL;
    check(admission_mutate((const char *)data, size, &out, &outlen, &sum), out);
    return 0;
}
