/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_TEST_FAKE_APISERVER_H
#define KACME_TEST_FAKE_APISERVER_H

#include <json-c/json.h>
#include <stdbool.h>

/*
 * A minimal in-process stand-in for the API server (plain HTTP on 127.0.0.1, ephemeral port) that stores
 * objects by path and implements what the leader elector and the event recorder use:
 *   GET <collection>/<name>   200 object | 404 Status NotFound
 *   POST <collection>         201 (metadata.resourceVersion set) | 409 Status AlreadyExists
 *   PUT <collection>/<name>   200 | 404 | 409 Status Conflict when metadata.resourceVersion is stale
 *   PATCH <collection>/<name> merge patch of top-level fields, 200 | 404
 * Every request is counted per method. Optionally fails every request with 503 (to simulate an outage).
 */

typedef struct fake_api fake_api_t;

fake_api_t *fake_api_start(void);
void fake_api_stop(fake_api_t *f);
/* "http://127.0.0.1:<port>" */
const char *fake_api_url(fake_api_t *f);
/* The stored object at path (e.g. "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l"), a new reference
 * (json_object_put), or NULL. */
json_object *fake_api_get(fake_api_t *f, const char *path);
/* Number of stored objects whose path starts with prefix. */
int fake_api_count(fake_api_t *f, const char *prefix);
/* Requests seen with this method. */
int fake_api_requests(fake_api_t *f, const char *method);
void fake_api_set_down(fake_api_t *f, bool down);
/* Stores obj (a reference is taken; its resourceVersion is bumped) at path, replacing what was there. */
void fake_api_put(fake_api_t *f, const char *path, json_object *obj);

#endif
