/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes admission_handle(): any byte string must yield 200 (a well-formed AdmissionReview response),
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = NULL;
    size_t outlen = 0;
    admission_summary_t sum;
    int code = admission_handle((const char *)data, size, &policy, &out, &outlen, &sum);
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
    return 0;
}
