/* SPDX-License-Identifier: Apache-2.0 */
/* The REST client against the local kube-apiserver: typed errors (NotFound, AlreadyExists, Conflict from a
 * stale resourceVersion and from a delete precondition, Invalid with causes), server-side apply field
 * conflicts reported as Conflict (and resolved by force), merge/JSON patches, the status subresource, and
 * a watch from an expired resourceVersion reported as Gone. */
#include "it_rest_common.h"

static int gone_code;

static int on_event(void *ud, enum kube_watch_event t, json_object *o)
{
    kube_error_t e;
    (void)ud;
    if (t == KUBE_WATCH_ERROR) {
        kube_error_from_status(&e, o, 0);
        gone_code = e.type == KUBE_ERR_GONE ? 410 : (int)e.code;
        return -1;
    }
    return 0;
}

int main(void)
{
    kube_client_t *c = it_client(50, 100);
    char ns[96];
    kube_error_t e;
    json_object *cm, *out = NULL, *patch;
    char rv1[64], uid[64];

    it_namespace(c, "rest", ns, sizeof(ns));

    /* create / AlreadyExists / get / NotFound */
    cm = it_configmap("cm1", NULL, "a", "1");
    CHECK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, &out, &e) == 0, "create: %s", it_estr(&e));
    snprintf(rv1, sizeof(rv1), "%s", it_meta(out, "resourceVersion"));
    snprintf(uid, sizeof(uid), "%s", it_meta(out, "uid"));
    json_object_put(out);
    CHECK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &e) == -1 && e.type == KUBE_ERR_ALREADY_EXISTS,
          "second create: %s", it_estr(&e));
    CHECK(kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "nope", &out, &e) == -1 && e.type == KUBE_ERR_NOT_FOUND && !out,
          "get missing: %s", it_estr(&e));
    json_object_put(cm);

    /* update with the current resourceVersion works; with the stale one: Conflict */
    CHECK(kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "cm1", &cm, &e) == 0, "get: %s", it_estr(&e));
    {
        json_object *data = NULL;
        json_object_object_get_ex(cm, "data", &data);
        json_object_object_add(data, "b", json_object_new_string("2"));
    }
    CHECK(kube_update(c, &KUBE_RES_CONFIGMAPS, ns, "cm1", NULL, cm, &out, &e) == 0, "update: %s", it_estr(&e));
    CHECK(strcmp(it_meta(out, "resourceVersion"), rv1) != 0, "resourceVersion unchanged");
    json_object_put(out);
    CHECK(kube_update(c, &KUBE_RES_CONFIGMAPS, ns, "cm1", NULL, cm, NULL, &e) == -1 && e.type == KUBE_ERR_CONFLICT &&
              e.code == 409,
          "stale update: %s", it_estr(&e));
    json_object_put(cm);

    /* Invalid: an upper-case name, with causes naming the field */
    cm = it_configmap("Not_Valid", NULL, "a", "1");
    CHECK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &e) == -1 && e.type == KUBE_ERR_INVALID &&
              e.code == 422 && e.n_causes >= 1 && strcmp(e.causes[0].field, "metadata.name") == 0,
          "invalid create: %s", it_estr(&e));
    json_object_put(cm);

    /* merge patch and JSON patch */
    patch = json_tokener_parse("{\"data\":{\"merged\":\"yes\"}}");
    {
        kube_patch_opts_t po = {.type = KUBE_PATCH_MERGE};
        CHECK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "cm1", &po, patch, NULL, &e) == 0, "merge patch: %s",
              it_estr(&e));
    }
    json_object_put(patch);
    patch = json_tokener_parse("[{\"op\":\"test\",\"path\":\"/data/merged\",\"value\":\"no\"}]");
    {
        kube_patch_opts_t po = {.type = KUBE_PATCH_JSON};
        CHECK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "cm1", &po, patch, NULL, &e) == -1, "failing json patch");
        fprintf(stderr, "json patch test failure is %s\n", it_estr(&e));
    }
    json_object_put(patch);

    /* server-side apply: manager a owns data.k; manager b's different value conflicts, force takes it */
    {
        kube_patch_opts_t po = {.type = KUBE_PATCH_APPLY, .field_manager = "kacme-it-a"};
        json_object *ap = it_configmap("ssa", NULL, "k", "from-a");
        CHECK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "ssa", &po, ap, NULL, &e) == 0, "apply a: %s", it_estr(&e));
        json_object_put(ap);
        ap = it_configmap("ssa", NULL, "k", "from-b");
        po.field_manager = "kacme-it-b";
        CHECK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "ssa", &po, ap, NULL, &e) == -1 && e.type == KUBE_ERR_CONFLICT &&
                  e.code == 409 && e.n_causes >= 1 && strcmp(e.causes[0].reason, "FieldManagerConflict") == 0,
              "apply b: %s", it_estr(&e));
        fprintf(stderr, "server-side apply conflict: %s\n", it_estr(&e));
        po.force = true;
        CHECK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "ssa", &po, ap, &out, &e) == 0, "forced apply: %s",
              it_estr(&e));
        {
            json_object *data = NULL, *k = NULL;
            json_object_object_get_ex(out, "data", &data);
            json_object_object_get_ex(data, "k", &k);
            CHECK(k && strcmp(json_object_get_string(k), "from-b") == 0, "forced value");
        }
        json_object_put(out);
        json_object_put(ap);
    }

    /* status subresource (a Namespace has one): PUT .../status */
    CHECK(kube_get(c, &KUBE_RES_NAMESPACES, NULL, ns, &out, &e) == 0, "get ns: %s", it_estr(&e));
    CHECK(kube_update_status(c, &KUBE_RES_NAMESPACES, NULL, ns, out, NULL, &e) == 0, "namespace status: %s",
          it_estr(&e));
    json_object_put(out);

    /* delete with a wrong UID precondition: Conflict; with the right one: gone */
    {
        kube_delete_opts_t d = {.precondition_uid = "00000000-0000-0000-0000-000000000000",
                                .propagation_policy = "Foreground"};
        CHECK(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "cm1", &d, NULL, &e) == -1 && e.type == KUBE_ERR_CONFLICT,
              "precondition: %s", it_estr(&e));
        d.precondition_uid = uid;
        CHECK(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "cm1", &d, NULL, &e) == 0, "delete: %s", it_estr(&e));
    }

    /* a watch from a resourceVersion long gone: 410, as an HTTP answer or as an ERROR event. A fresh CRD's
     * watch cache starts now (and etcd is compacted), so resourceVersion 1 is deterministically too old. */
    {
        char plural[64];
        kube_resource_t res;
        kube_watch_opts_t wo = {.resource_version = "1", .allow_bookmarks = true, .timeout_s = 10};
        bool stopped = false;
        int rc = -1;
        it_crd_create(c, plural, sizeof(plural), &res);
        it_etcd_compact();
        for (int i = 0; i < 20; i++) {
            gone_code = 0;
            rc = kube_watch(c, &res, ns, &wo, on_event, NULL, &stopped, &e);
            if (!(rc == -1 && e.type == KUBE_ERR_TOO_MANY_REQUESTS)) /* watch cache still initialising */
                break;
            usleep(500000);
        }
        CHECK((rc == -1 && e.type == KUBE_ERR_GONE) || (rc == 0 && gone_code == 410), "watch rv=1: rc=%d %s", rc,
              it_estr(&e));
        fprintf(stderr, "watch from resourceVersion 1: %s\n", rc == -1 ? it_estr(&e) : "ERROR event 410");
        it_crd_delete(c, plural);
    }

    /* A list that RBAC does not allow would be Forbidden: covered by it_config (service account). */
    it_namespace_delete(c, ns);
    kube_client_free(c);
    printf("it_rest: ok\n");
    return 0;
}
