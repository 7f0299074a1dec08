/* SPDX-License-Identifier: Apache-2.0 */
/* Dynamic serving certificates: placeholder until the Kubernetes REST client (lib/kube/rest.h) lands.
 * Static mode does not depend on this file. */
#include "dynamic.h"

#include <stdio.h>

#include "validate.h"

int dynamic_start(const dynamic_config_t *cfg, char *err, size_t errlen)
{
    (void)cfg;
    snprintf(err, errlen, "dynamic serving certificates are not available in this build yet");
    return -1;
}

bool dynamic_ready(void)
{
    return true;
}

void dynamic_stop(void)
{
}

int dynamic_parse_duration(const char *s, double *seconds)
{
    return vparse_go_duration(s, seconds);
}
