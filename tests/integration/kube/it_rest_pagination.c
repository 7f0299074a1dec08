/* SPDX-License-Identifier: Apache-2.0 */
/* 10,000 ConfigMaps listed through limit/continue pagination: created by 8 threads through one shared
 * client, then listed page by page (kube_list) and at once (kube_list_all, also metadata-only). */
#include <pthread.h>

#include "it_rest_common.h"
#include "kube/informer.h"

#define N_OBJECTS 10000
#define N_THREADS 8

static kube_client_t *C;
static char NS[96];

static void *creator(void *arg)
{
    long t = (long)arg;
    for (long i = t; i < N_OBJECTS; i += N_THREADS) {
        char name[32];
        kube_error_t e;
        json_object *cm;
        int tries = 0;
        snprintf(name, sizeof(name), "page-%05ld", i);
        cm = it_configmap(name, "page", "i", name);
        while (kube_create(C, &KUBE_RES_CONFIGMAPS, NS, cm, NULL, &e) < 0) {
            /* AlreadyExists after a retried timeout is fine; other retryable errors get 5 tries. */
            if (e.type == KUBE_ERR_ALREADY_EXISTS)
                break;
            CHECK(kube_error_is_retryable(&e) && ++tries < 5, "create %s: %s", name, it_estr(&e));
        }
        json_object_put(cm);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[N_THREADS];
    kube_list_opts_t lo = {.label_selector = "kacme-it=page", .limit = 500};
    json_object *list = NULL, *items = NULL;
    kube_error_t e;
    char *cont = NULL;
    long total = 0, pages = 0;
    double t0;
    static unsigned char seen[N_OBJECTS];

    C = it_client(2000, 2000);
    it_namespace(C, "page", NS, sizeof(NS));
    t0 = it_now();
    for (long t = 0; t < N_THREADS; t++)
        CHECK(pthread_create(&th[t], NULL, creator, (void *)t) == 0, "thread");
    for (long t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    fprintf(stderr, "created %d ConfigMaps in %.1f s\n", N_OBJECTS, it_now() - t0);

    /* Page by page. */
    t0 = it_now();
    do {
        lo.continue_token = cont;
        CHECK(kube_list(C, &KUBE_RES_CONFIGMAPS, NS, &lo, &list, &e) == 0, "list page %ld: %s", pages, it_estr(&e));
        json_object_object_get_ex(list, "items", &items);
        CHECK((long)json_object_array_length(items) <= 500, "page larger than the limit");
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            const char *name = it_meta(json_object_array_get_idx(items, i), "name");
            long k = name ? strtol(name + 5, NULL, 10) : -1;
            CHECK(k >= 0 && k < N_OBJECTS && !seen[k], "unexpected or duplicate %s", name ? name : "?");
            seen[k] = 1;
        }
        total += (long)json_object_array_length(items);
        pages++;
        free(cont);
        {
            json_object *md = NULL, *ct = NULL;
            json_object_object_get_ex(list, "metadata", &md);
            cont = json_object_object_get_ex(md, "continue", &ct) && json_object_get_string_len(ct) > 0
                       ? strdup(json_object_get_string(ct))
                       : NULL;
        }
        json_object_put(list);
    } while (cont && pages < 1000);
    CHECK(total == N_OBJECTS, "paged total %ld", total);
    CHECK(pages >= N_OBJECTS / 500, "pages %ld", pages);
    fprintf(stderr, "listed %ld objects in %ld pages in %.1f s\n", total, pages, it_now() - t0);

    /* All at once, full and metadata-only. */
    lo.continue_token = NULL;
    CHECK(kube_list_all(C, &KUBE_RES_CONFIGMAPS, NS, &lo, &list, &e) == 0, "list_all: %s", it_estr(&e));
    json_object_object_get_ex(list, "items", &items);
    CHECK(json_object_array_length(items) == N_OBJECTS, "list_all %zu", json_object_array_length(items));
    CHECK(it_meta(list, "resourceVersion") != NULL, "list resourceVersion");
    json_object_put(list);
    lo.metadata_only = true;
    lo.limit = 2000;
    CHECK(kube_list_all(C, &KUBE_RES_CONFIGMAPS, NS, &lo, &list, &e) == 0, "metadata list_all: %s", it_estr(&e));
    json_object_object_get_ex(list, "items", &items);
    CHECK(json_object_array_length(items) == N_OBJECTS, "metadata list_all %zu", json_object_array_length(items));
    {
        json_object *first = json_object_array_get_idx(items, 0), *data = NULL;
        CHECK(!json_object_object_get_ex(first, "data", &data), "metadata-only item carries data");
        CHECK(it_meta(first, "name") != NULL, "metadata-only item without name");
    }
    json_object_put(list);

    /* An informer lists the same 10,000 objects page by page into its store. */
    {
        kube_informer_opts_t io = {.resource = &KUBE_RES_CONFIGMAPS, .namespace = NS,
                                   .label_selector = "kacme-it=page", .page_size = 500};
        kube_informer_stats_t st;
        char err[256];
        kube_informer_t *inf = kube_informer_new(C, &io, err, sizeof(err));
        CHECK(inf != NULL, "%s", err);
        CHECK(kube_informer_start(inf) == 0, "start");
        CHECK(kube_informer_wait_synced(inf, 60000), "informer not synced in 60 s");
        kube_informer_get_stats(inf, &st);
        CHECK(kube_store_len(kube_informer_store(inf)) == N_OBJECTS, "informer store %zu",
              kube_store_len(kube_informer_store(inf)));
        CHECK(st.lists == 1, "lists %lu", st.lists);
        kube_informer_free(inf);
        fprintf(stderr, "informer synced %d objects\n", N_OBJECTS);
    }

    it_namespace_delete(C, NS);
    kube_client_free(C);
    printf("it_rest_pagination: ok\n");
    return 0;
}
