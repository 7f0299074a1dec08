/* SPDX-License-Identifier: Apache-2.0 */
#include "challenge_metrics.h"

#include <string.h>

static const char *const STATES[] = {"ready", "valid", "errored", "expired", "invalid", "processing", "",
                                     "pending", "revoked", "deactivated"};

static const char *const LABELS[] = {"status", "domain", "reason", "processing", "name", "namespace", "type", NULL};

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

void challenge_metrics_collect_store(kube_store_t *store, metrics_sink_t *sink)
{
    json_object **all = NULL;
    size_t n = 0;
    if (!store || kube_store_list(store, &all, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        json_object *ch = all[i];
        const char *state = or_empty(ctrl_str(ch, "status.state"));
        const char *values[7] = {
            NULL,
            or_empty(ctrl_str(ch, "spec.dnsName")),
            or_empty(ctrl_str(ch, "status.reason")),
            ctrl_bool(ch, "status.processing", false) ? "true" : "false",
            or_empty(ctrl_str(ch, "metadata.name")),
            or_empty(ctrl_str(ch, "metadata.namespace")),
            or_empty(ctrl_str(ch, "spec.type")),
        };
        for (size_t s = 0; s < sizeof(STATES) / sizeof(STATES[0]); s++) {
            values[0] = STATES[s];
            metrics_sink_add(sink, strcmp(state, STATES[s]) == 0 ? 1.0 : 0.0, values, 7);
        }
    }
    kube_store_list_free(all, n);
}

static void collect(void *ud, metrics_sink_t *sink)
{
    ctrl_ctx_t *ctx = ud;
    challenge_metrics_collect_store(ctx->challenges, sink);
}

int ctrl_challenge_metrics_register(ctrl_ctx_t *ctx)
{
    if (!ctx || !ctx->metrics)
        return -1;
    metrics_family_t *f = metrics_new_collector(ctx->metrics, CHALLENGE_METRICS_NAME,
                                                "The status of certificate challenges", METRICS_GAUGE, LABELS,
                                                collect, ctx);
    return f ? 0 : -1;
}
