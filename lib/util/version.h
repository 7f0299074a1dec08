/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_VERSION_H
#define KACME_VERSION_H

/* The project version (CMake's PROJECT_VERSION), static storage. */
const char *kacme_version(void);

#endif
