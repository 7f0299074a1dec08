/* SPDX-License-Identifier: Apache-2.0 */
#include "version.h"

const char *kacme_version(void)
{
    return KACME_VERSION;
}
