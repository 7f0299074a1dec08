/* SPDX-License-Identifier: Apache-2.0 */
/* TEST CODE: a small in-process API server for the challenges controller tests (plain HTTP on 127.0.0.1,
 * ephemeral port). Namespaced paths only (/api/v1/namespaces/<ns>/<res>[/<name>[/status]] and the same under
 * /apis/<g>/<v>). Implements:
 *   GET collection (labelSelector "k=v,..." equality only) | GET object
 *   POST collection (metadata.name or generateName; uid and resourceVersion assigned) → 201 | 409
 *   PUT object or object/status: resourceVersion must match (409 Conflict); /status replaces only status
 *   PATCH application/json-patch+json: ops test / add / replace / remove on object paths; a failed test → 422
 *   DELETE → 200 | 404; objects with finalizers get deletionTimestamp instead, and go once they have none.
 * Requests are logged as "METHOD path" lines for assertions. */
#ifndef KACME_TEST_CTRLCHALLENGES_FAKE_KUBE_H
#define KACME_TEST_CTRLCHALLENGES_FAKE_KUBE_H

#include <json-c/json.h>
#include <stddef.h>

#include "kube/rest.h"

typedef struct fake_kube fake_kube_t;

fake_kube_t *fake_kube_start(void);
void fake_kube_stop(fake_kube_t *f);
const char *fake_kube_url(fake_kube_t *f);
/* A REST client for f as the controller tests use it (no rate limit that matters, no retries); owned by the
 * caller (kube_client_free), NULL on failure. */
kube_client_t *fake_kube_client(fake_kube_t *f);
/* Stores obj (deep-copied; uid and resourceVersion assigned when missing / bumped) at path; returns the stored
 * copy (new reference). */
json_object *fake_kube_put(fake_kube_t *f, const char *path, json_object *obj);
/* The object at path (new reference) or NULL. */
json_object *fake_kube_get(fake_kube_t *f, const char *path);
/* Objects whose path starts with prefix. */
int fake_kube_count(fake_kube_t *f, const char *prefix);
/* Requests whose "METHOD path" line starts with prefix (e.g. "DELETE /api/v1/namespaces/ns/pods/"). */
int fake_kube_requests(fake_kube_t *f, const char *prefix);
void fake_kube_clear_log(fake_kube_t *f);

#endif
