/* SPDX-License-Identifier: Apache-2.0 */
#include "object.h"

json_object *kube_obj_get(json_object *obj, const char *key)
{
    json_object *v = NULL; /* borrowed */
    if (!obj || !json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

const char *kube_obj_str(json_object *obj, const char *key)
{
    json_object *v = kube_obj_get(obj, key); /* borrowed */
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}
