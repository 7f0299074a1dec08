/* SPDX-License-Identifier: Apache-2.0 */
#include "dynamic_module.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static void *try_open(const char *dir, const char *rel, char *path, size_t pathlen, char *why, size_t whylen)
{
    snprintf(path, pathlen, "%s/%s%s", dir, rel, DYNAMIC_MODULE_FILE);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, whylen, "%s", e ? e : "unknown loader error");
    }
    return h;
}

int dynamic_module_load(dynamic_module_api_t *api, char *err, size_t errlen)
{
    char exe[PATH_MAX], path[PATH_MAX + 64], why1[512], why2[512];
    void *h = NULL;

    memset(api, 0, sizeof(*api));
    if (!realpath("/proc/self/exe", exe)) {
        util_seterr(err, errlen, "cannot find the executable's directory to load %s", DYNAMIC_MODULE_FILE);
        return -1;
    }
    const char *dir = dirname(exe); /* points into exe */
    h = try_open(dir, "", path, sizeof(path), why1, sizeof(why1));
    if (!h)
        h = try_open(dir, "../lib/kacme/", path, sizeof(path), why2, sizeof(why2));
    if (!h) {
        util_seterr(err, errlen, "dynamic serving mode needs %s next to the executable or in %s/../lib/kacme: %s; %s",
                    DYNAMIC_MODULE_FILE, dir, why1, why2);
        return -1;
    }
    /* POSIX: a function pointer read through a void * (dlsym's documented use) */
    *(void **)&api->start = dlsym(h, "dynamic_start");
    *(void **)&api->ready = dlsym(h, "dynamic_ready");
    *(void **)&api->stop = dlsym(h, "dynamic_stop");
    if (!api->start || !api->ready || !api->stop) {
        util_seterr(err, errlen, "%s lacks the dynamic_start/ready/stop entry points", path);
        memset(api, 0, sizeof(*api));
        dlclose(h);
        return -1;
    }
    return 0;
}
