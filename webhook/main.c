/* SPDX-License-Identifier: Apache-2.0 */
/* kacme-webhook: validating admission webhook (placeholder main until its issue lands). */
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/version.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("kacme-webhook %s\n", kacme_version());
        return 0;
    }
    LOG_INFO("starting", "component", "kacme-webhook", "version", kacme_version());
    return 0;
}
