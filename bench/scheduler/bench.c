/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One scheduling pass over N challenges spread over 100 namespaces, 60 of them in progress, the rest
 * pending (every one a candidate: the worst case). Prints the median of several passes and the peak RSS
 * of this process (the snapshot included). Usage: bench <n> [max_concurrent] [passes] [cached]
 * With "cached" the snapshot carries sched_key_hash()/sched_ns_hash() values, as a caller that caches them
 * per object would pass them; otherwise every pass hashes the strings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "scheduler.h"

static uint64_t rnd(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * 0x2545f4914f6cdd1dull;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        perror("strdup");
        exit(1);
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    size_t max_conc = argc > 2 ? strtoull(argv[2], NULL, 10) : 80;
    int passes = argc > 3 ? atoi(argv[3]) : 31;
    int cached = argc > 4 && strcmp(argv[4], "cached") == 0;
    const size_t namespaces = 100, running = 60;
    uint64_t st = 0x9e3779b97f4a7c15ull;

    sched_challenge_t *all = calloc(n, sizeof(*all));
    if (!all)
        return 1;
    /* Every string separately allocated, namespaces interleaved: no help from shared pointers or order. */
    for (size_t i = 0; i < n; i++) {
        char ns[32], name[64], dns[96], uid[40];
        size_t k = (size_t)(rnd(&st) % namespaces);
        snprintf(ns, sizeof(ns), "tenant-%03zu", k);
        snprintf(name, sizeof(name), "cert-%zu-1234567890-%u", i, (unsigned)(rnd(&st) % 100000));
        /* about 1 in 20 shares its name with another challenge (wildcard + apex, or a second order) */
        size_t d = (rnd(&st) % 20 == 0) ? (size_t)(rnd(&st) % (n + 1)) : i;
        snprintf(dns, sizeof(dns), "%sapp-%zu.example.com", (rnd(&st) % 10 == 0) ? "*." : "", d);
        snprintf(uid, sizeof(uid), "%08x-0000-4000-8000-%012zx", (unsigned)rnd(&st), i);
        all[i] = (sched_challenge_t){
            .ns = xstrdup(ns),
            .name = xstrdup(name),
            .uid = xstrdup(uid),
            .dns_name = xstrdup(dns),
            .created = 1764400000 + (int64_t)(rnd(&st) % 86400),
            .type = (rnd(&st) % 4 == 0) ? SCHED_TYPE_DNS01 : SCHED_TYPE_HTTP01,
            .state = SCHED_STATE_PENDING,
            .processing = i < running,
        };
        if (cached) {
            all[i].key_hash = sched_key_hash(all[i].dns_name, all[i].type);
            all[i].ns_hash = sched_ns_hash(all[i].ns);
        }
    }

    sched_t *s = sched_new();
    sched_limits_t lim = {max_conc, SCHED_DEFAULT_MAX_PER_TICK};
    size_t out[SCHED_DEFAULT_MAX_PER_TICK], got = 0;
    double *ms = calloc((size_t)passes, sizeof(*ms));
    double *cpu = calloc((size_t)passes, sizeof(*cpu)); /* thread CPU time: insensitive to a busy machine */
    if (!s || !ms || !cpu)
        return 1;
    for (int p = 0; p < passes; p++) {
        struct timespec a, b, ca, cb;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (sched_pass(s, all, n, &lim, out, &got) < 0) {
            fprintf(stderr, "sched_pass failed\n");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
        ms[p] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        cpu[p] = (double)(cb.tv_sec - ca.tv_sec) * 1e3 + (double)(cb.tv_nsec - ca.tv_nsec) / 1e6;
    }
    qsort(ms, (size_t)passes, sizeof(*ms), cmp_double);
    qsort(cpu, (size_t)passes, sizeof(*cpu), cmp_double);
    sched_stats_t stats;
    sched_last_stats(s, &stats);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("# n=%zu max_concurrent=%zu hashes=%s in_progress=%zu candidates=%zu eligible=%zu namespaces=%zu "
           "picked=%zu min_ms=%.3f max_ms=%.3f median_cpu_ms=%.3f\n",
           n, max_conc, cached ? "cached" : "computed", stats.in_progress, stats.candidates, stats.eligible,
           stats.namespaces, got, ms[0], ms[passes - 1], cpu[passes / 2]);
    printf("challenges=%zu pass_ms=%.3f peak_rss_kb=%ld\n", n, ms[passes / 2], ru.ru_maxrss);
    sched_free(s);
    free(ms);
    free(cpu);
    for (size_t i = 0; i < n; i++) {
        free((char *)all[i].ns);
        free((char *)all[i].name);
        free((char *)all[i].uid);
        free((char *)all[i].dns_name);
    }
    free(all);
    return 0;
}
