/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the first byte picks the parser, the rest is the input.
 *   0: kube_error_from_response (a non-2xx body, HTTP code from the second byte)
 *   1: the watch decoder, the input fed in chunks whose sizes come from the input itself
 *   2: kubeconfig YAML (in memory; relative file references resolve under /nonexistent) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/config.h"
#include "kube/errors.h"
#include "kube/rest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *ud, enum kube_watch_event t, json_object *o)
{
    kube_error_t e;
    (void)ud;
    if (t == KUBE_WATCH_ERROR)
        kube_error_from_status(&e, o, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    if (size < 2)
        return 0;
    switch (data[0] % 3) {
    case 0: {
        kube_error_t e;
        char buf[1024];
        kube_error_from_response(&e, 400 + data[1] % 200, (const char *)data + 2, size - 2, NULL);
        kube_error_str(&e, buf, sizeof(buf));
        break;
    }
    case 1: {
        kube_watch_decoder_t *d = kube_watch_decoder_new(on_event, NULL, 4096);
        size_t off = 2, chunk = 1 + data[1] % 64;
        while (d && off < size) {
            size_t n = size - off < chunk ? size - off : chunk;
            if (kube_watch_decoder_feed(d, (const char *)data + off, n, err, sizeof(err)) != 0)
                break;
            off += n;
        }
        kube_watch_decoder_free(d);
        break;
    }
    case 2: {
        kube_config_t *c = kube_config_parse_kubeconfig((const char *)data + 1, size - 1, "/nonexistent/kubeconfig",
                                                        NULL, err, sizeof(err));
        kube_config_free(c);
        break;
    }
    }
    return 0;
}
