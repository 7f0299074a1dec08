/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_DYNAMIC_MODULE_H
#define KACME_WEBHOOK_DYNAMIC_MODULE_H

#include <stdbool.h>
#include <stddef.h>

#include "dynamic.h"

/*
 * Dynamic serving mode (dynamic.c, with the Kubernetes client, libcurl, libyaml and OpenSSL) is built as a
 * loadable module, kacme-webhook-dynamic.so, and mapped only when the --dynamic-serving-* flags ask for it:
 * a webhook with static certificates needs no API server and so never loads an HTTP client and its
 * dependency tree (issue 3: RSS <= 8 MB). The module resolves logging and servingcert.h from the
 * executable, which exports its symbols for that.
 */

#define DYNAMIC_MODULE_FILE "kacme-webhook-dynamic.so"

/* The module's entry points (the functions of dynamic.h). */
typedef struct dynamic_module_api {
    int (*start)(const dynamic_config_t *cfg, char *err, size_t errlen);
    bool (*ready)(void);
    void (*stop)(void);
} dynamic_module_api_t;

/* Loads the module from the directory of the running executable, else from <that directory>/../lib/kacme
 * (the container image's layout), and fills api. The module stays loaded for the process lifetime.
 * Returns 0, or -1 with err naming the paths tried and the loader's reason. */
int dynamic_module_load(dynamic_module_api_t *api, char *err, size_t errlen);

#endif
