/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A leader-election contender for the integration test (leader_it.sh): contends for a Lease with short
 * durations and reports on stdout, one line each, flushed:
 *   LEADING <identity>     became leader (then records a "LeaderElection" event on the Lease three times,
 *                          which the event recorder aggregates into one Event with count 3)
 *   EVENTS <created> <patched> <failed>
 *   LOST <identity>        leadership lost → exit 1
 *   RELEASED <identity>    SIGTERM/SIGINT: stopped, Lease released → exit 0
 *
 * usage: leader_contender NAMESPACE LEASE IDENTITY [LEASE_MS RENEW_MS RETRY_MS]
 * KUBECONFIG selects the cluster.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/config.h"
#include "kube/events.h"
#include "kube/leader.h"
#include "kube/rest.h"
#include "util/http.h"
#include "util/log.h"

static void on_started(void *ud)
{
    (void)ud;
    kill(getpid(), SIGUSR2); /* handled by main's sigwait: no API work on the elector thread */
}

static void on_stopped(void *ud)
{
    (void)ud;
    kill(getpid(), SIGUSR1);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 7) {
        fprintf(stderr, "usage: %s NAMESPACE LEASE IDENTITY [LEASE_MS RENEW_MS RETRY_MS]\n", argv[0]);
        return 2;
    }
    log_setup(1, LOG_FORMAT_TEXT);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread: all of them inherit the mask */

    char err[512];
    if (http_global_init() != 0)
        return 2;
    kube_config_t *cfg = kube_config_load(NULL, NULL, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "config: %s\n", err);
        return 2;
    }
    long renew = argc == 7 ? atol(argv[5]) : 3000;
    /* Requests time out well inside the renew deadline. */
    kube_client_opts_t co = {.component = "leader-contender", .timeout_ms = renew / 2 > 0 ? renew / 2 : 1000};
    kube_client_t *client = kube_client_new(cfg, &co, err, sizeof(err));
    kube_config_free(cfg);
    if (!client) {
        fprintf(stderr, "client: %s\n", err);
        return 2;
    }
    kube_event_recorder_opts_t ro = {.component = "kacme-leader-contender", .host = argv[3]};
    kube_event_recorder_t *rec = kube_event_recorder_new(client, &ro, err, sizeof(err));
    kube_leader_opts_t lo = {
        .namespace = argv[1],
        .name = argv[2],
        .identity = argv[3],
        .lease_duration_ms = argc == 7 ? atol(argv[4]) : 4000,
        .renew_deadline_ms = renew,
        .retry_period_ms = argc == 7 ? atol(argv[6]) : 1000,
        .on_started_leading = on_started,
        .on_stopped_leading = on_stopped,
    };
    kube_leader_t *l = rec ? kube_leader_start(client, &lo, err, sizeof(err)) : NULL;
    if (!l) {
        fprintf(stderr, "leader: %s\n", err);
        kube_event_recorder_free(rec);
        kube_client_free(client);
        return 2;
    }
    int rc = 0;
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGUSR2) {
            printf("LEADING %s\n", argv[3]);
            fflush(stdout);
            json_object *lease = NULL; /* owned */
            kube_error_t e;
            if (kube_get(client, &KUBE_RES_LEASES, argv[1], argv[2], &lease, &e) == 0) {
                for (int i = 0; i < 3; i++)
                    kube_event_record(rec, lease, "Normal", "LeaderElection", "%s became leader", argv[3]);
                kube_event_recorder_flush(rec, 10000);
                kube_event_stats_t st;
                kube_event_recorder_stats(rec, &st);
                printf("EVENTS %llu %llu %llu\n", (unsigned long long)st.created, (unsigned long long)st.patched,
                       (unsigned long long)st.failed);
                fflush(stdout);
            }
            json_object_put(lease);
            continue;
        }
        if (sig == SIGUSR1) {
            printf("LOST %s\n", argv[3]);
            rc = 1;
        } else {
            kube_leader_stop(l); /* releases the Lease when we hold it */
            l = NULL;
            printf("RELEASED %s\n", argv[3]);
        }
        fflush(stdout);
        break;
    }
    kube_leader_stop(l);
    kube_event_recorder_free(rec);
    kube_client_free(client);
    return rc;
}
