/* SPDX-License-Identifier: Apache-2.0 */
/* Challenge admission: whole spec immutable; CREATE only by the controller identity (kacme-decisions.md). */
#include "validate.h"

#include <stdio.h>
#include <string.h>

static bool may_create(const admission_user_t *user, const admission_policy_t *policy)
{
    for (size_t i = 0; i < policy->n_challenge_creators; i++) {
        const char *c = policy->challenge_creators[i];
        if (strncmp(c, "group:", 6) == 0) {
            for (size_t g = 0; g < user->n_groups; g++)
                if (user->groups[g] && strcmp(user->groups[g], c + 6) == 0)
                    return true;
        } else if (user->username && strcmp(user->username, c) == 0) {
            return true;
        }
    }
    return false;
}

void validate_challenge(enum admission_op op, const jdoc_value_t *oldobj, const jdoc_value_t *newobj,
                        const admission_user_t *user, const admission_policy_t *policy, admission_result_t *r)
{
    if (op == ADMISSION_UPDATE) {
        if (oldobj)
            validate_spec_immutable(r, oldobj, newobj, "Challenge");
        return;
    }
    if (op != ADMISSION_CREATE)
        return;
    if (!may_create(user, policy)) {
        char detail[400];
        VPATH(detail,
                 "Challenges are created by the kacme controller only; user \"%.200s\" is not among the challenge "
                 "creators (create or fix the Certificate, CertificateRequest or Order instead)",
                 user->username ? user->username : "");
        admission_err(r, FE_FORBIDDEN, NULL, detail, "metadata");
    }
}
