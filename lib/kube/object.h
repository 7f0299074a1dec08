/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_KUBE_OBJECT_H
#define KACME_KUBE_OBJECT_H

#include <json-c/json.h>

/*
 * Reading fields of Kubernetes objects held as json-c trees (from rest.h, the informer's store). Every
 * accessor takes NULL, so paths chain: kube_obj_str(kube_obj_get(obj, "metadata"), "name").
 */

/* Member key of obj (borrowed), NULL when obj is not an object, key is absent or its value null. */
json_object *kube_obj_get(json_object *obj, const char *key);

/* The string member key of obj (borrowed), NULL when absent or not a string. */
const char *kube_obj_str(json_object *obj, const char *key);

#endif
