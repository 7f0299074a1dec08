/* SPDX-License-Identifier: Apache-2.0 */
#include "ops/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 10000
#define MAX_LABEL_VALUE 1024
#define MAX_LABELS 16
#define SUMMARY_RESERVOIR 512
#define SUMMARY_MAX_AGE_S 600.0

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
static const double summary_quantiles[] = {0.5, 0.9, 0.99};

struct metrics_metric {
    metrics_family_t *fam;
    char **values;       /* n_labels strings */
    char *joined;        /* values joined by '\xff', the hash key */
    uint32_t hash;
    metrics_metric_t *next;
    double value;        /* counter, gauge */
    double sum;          /* histogram, summary */
    uint64_t count;
    uint64_t *buckets;   /* histogram: per-bucket (not cumulative) counts, n_buckets + 1 (+Inf) */
    double *obs;         /* summary reservoir: value, monotonic time pairs */
    size_t obs_head, obs_len;
};

struct metrics_family {
    pthread_mutex_t mu;
    char *name, *help;
    enum metrics_type type;
    char **labels;
    size_t n_labels;
    double *bounds;
    size_t n_bounds;
    metrics_collect_fn collect;
    void *collect_ud;
    metrics_metric_t **table; /* hash of children */
    size_t n_table, n_children;
};

struct metrics_registry {
    pthread_mutex_t mu;
    metrics_family_t **fams;
    size_t n_fams, cap_fams;
};

struct metrics_sink {
    metrics_family_t *fam; /* a temporary family with the collector's shape */
};

/* ---- helpers ---- */

static bool valid_metric_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static bool valid_label_name(const char *s)
{
    if (!s || !*s || strncmp(s, "__", 2) == 0)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *metrics_format_value(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "NaN");
    else if (isinf(v))
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(int64_t)v && fabs(v) < 1e15)
        snprintf(buf, len, "%lld", (long long)v);
    else {
        /* The shortest precision that reads back to the same double. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
    return buf;
}

static void put_label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '"')
            fputs("\\\"", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void put_help(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void metric_free(metrics_metric_t *m, size_t n_labels)
{
    if (!m)
        return;
    free_strv(m->values, n_labels);
    free(m->joined);
    free(m->buckets);
    free(m->obs);
    free(m);
}

static void family_free(metrics_family_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_table; i++) {
        metrics_metric_t *m = f->table ? f->table[i] : NULL;
        while (m) {
            metrics_metric_t *next = m->next;
            metric_free(m, f->n_labels);
            m = next;
        }
    }
    free(f->table);
    free_strv(f->labels, f->n_labels);
    free(f->bounds);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* A family not yet registered (also used as the collector sink). */
static metrics_family_t *family_make(const char *name, const char *help, enum metrics_type type,
                                     const char *const *labels)
{
    if (!valid_metric_name(name))
        return NULL;
    metrics_family_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->n_table = 64;
    f->table = calloc(f->n_table, sizeof(*f->table));
    size_t n = 0;
    while (labels && labels[n])
        n++;
    if (n > MAX_LABELS)
        goto fail;
    f->labels = calloc(n + 1, sizeof(char *));
    if (!f->name || !f->help || !f->table || !f->labels)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (!valid_label_name(labels[i]) ||
            (type == METRICS_HISTOGRAM && strcmp(labels[i], "le") == 0) ||
            (type == METRICS_SUMMARY && strcmp(labels[i], "quantile") == 0))
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                goto fail;
        if (!(f->labels[i] = strdup(labels[i])))
            goto fail;
        f->n_labels = i + 1;
    }
    f->n_labels = n;
    return f;
fail:
    family_free(f);
    return NULL;
}

static int registry_add(metrics_registry_t *r, metrics_family_t *f)
{
    int rc = -1;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_fams; i++)
        if (strcmp(r->fams[i]->name, f->name) == 0)
            goto out;
    if (r->n_fams == r->cap_fams) {
        size_t ncap = r->cap_fams ? r->cap_fams * 2 : 16;
        metrics_family_t **nf = realloc(r->fams, ncap * sizeof(*nf));
        if (!nf)
            goto out;
        r->fams = nf;
        r->cap_fams = ncap;
    }
    r->fams[r->n_fams++] = f;
    rc = 0;
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static metrics_family_t *new_family(metrics_registry_t *r, const char *name, const char *help,
                                    enum metrics_type type, const char *const *labels)
{
    if (!r)
        return NULL;
    metrics_family_t *f = family_make(name, help, type, labels);
    if (f && registry_add(r, f) != 0) {
        family_free(f);
        return NULL;
    }
    return f;
}

metrics_registry_t *metrics_registry_new(void)
{
    metrics_registry_t *r = calloc(1, sizeof(*r));
    if (r)
        pthread_mutex_init(&r->mu, NULL);
    return r;
}

void metrics_registry_free(metrics_registry_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_fams; i++)
        family_free(r->fams[i]);
    free(r->fams);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

metrics_family_t *metrics_new_counter(metrics_registry_t *r, const char *name, const char *help,
                                      const char *const *labels)
{
    return new_family(r, name, help, METRICS_COUNTER, labels);
}

metrics_family_t *metrics_new_gauge(metrics_registry_t *r, const char *name, const char *help,
                                    const char *const *labels)
{
    return new_family(r, name, help, METRICS_GAUGE, labels);
}

metrics_family_t *metrics_new_summary(metrics_registry_t *r, const char *name, const char *help,
                                      const char *const *labels)
{
    return new_family(r, name, help, METRICS_SUMMARY, labels);
}

metrics_family_t *metrics_new_histogram(metrics_registry_t *r, const char *name, const char *help,
                                        const char *const *labels, const double *buckets, size_t n_buckets)
{
    if (!r)
        return NULL;
    if (!buckets || n_buckets == 0) {
        buckets = default_buckets;
        n_buckets = sizeof(default_buckets) / sizeof(default_buckets[0]);
    }
    for (size_t i = 0; i < n_buckets; i++)
        if (isnan(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
            return NULL;
    /* A trailing +Inf bound is implicit; drop an explicit one. */
    if (isinf(buckets[n_buckets - 1]) && buckets[n_buckets - 1] > 0)
        n_buckets--;
    metrics_family_t *f = family_make(name, help, METRICS_HISTOGRAM, labels);
    if (!f)
        return NULL;
    f->bounds = malloc((n_buckets ? n_buckets : 1) * sizeof(double));
    if (!f->bounds) {
        family_free(f);
        return NULL;
    }
    memcpy(f->bounds, buckets, n_buckets * sizeof(double));
    f->n_bounds = n_buckets;
    if (registry_add(r, f) != 0) {
        family_free(f);
        return NULL;
    }
    return f;
}

metrics_family_t *metrics_new_collector(metrics_registry_t *r, const char *name, const char *help,
                                        enum metrics_type type, const char *const *labels,
                                        metrics_collect_fn fn, void *ud)
{
    if (!fn || (type != METRICS_COUNTER && type != METRICS_GAUGE))
        return NULL;
    metrics_family_t *f = family_make(name, help, type, labels);
    if (!f)
        return NULL;
    f->collect = fn;
    f->collect_ud = ud;
    if (!r || registry_add(r, f) != 0) {
        family_free(f);
        return NULL;
    }
    return f;
}

/* ---- children ---- */

static uint32_t hash_bytes(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static void table_grow(metrics_family_t *f)
{
    size_t n = f->n_table * 2;
    metrics_metric_t **nt = calloc(n, sizeof(*nt));
    if (!nt)
        return; /* keep the longer chains */
    for (size_t i = 0; i < f->n_table; i++) {
        metrics_metric_t *m = f->table[i];
        while (m) {
            metrics_metric_t *next = m->next;
            m->next = nt[m->hash & (n - 1)];
            nt[m->hash & (n - 1)] = m;
            m = next;
        }
    }
    free(f->table);
    f->table = nt;
    f->n_table = n;
}

/* Finds or creates the child; family lock held. */
static metrics_metric_t *child_locked(metrics_family_t *f, const char *const *values, size_t n)
{
    if (n != f->n_labels)
        return NULL;
    /* Join the (truncated) values with a byte that cannot appear in UTF-8 text. */
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        if (!values[i])
            return NULL;
        size_t l = strnlen(values[i], MAX_LABEL_VALUE);
        total += l + 1;
    }
    char *joined = malloc(total);
    if (!joined)
        return NULL;
    char *p = joined;
    for (size_t i = 0; i < n; i++) {
        size_t l = strnlen(values[i], MAX_LABEL_VALUE);
        memcpy(p, values[i], l);
        p += l;
        *p++ = '\xff';
    }
    *p = '\0';
    uint32_t h = hash_bytes(joined);
    for (metrics_metric_t *m = f->table[h & (f->n_table - 1)]; m; m = m->next)
        if (m->hash == h && strcmp(m->joined, joined) == 0) {
            free(joined);
            return m;
        }
    if (f->n_children >= MAX_CHILDREN) {
        free(joined);
        return NULL;
    }
    metrics_metric_t *m = calloc(1, sizeof(*m));
    if (!m) {
        free(joined);
        return NULL;
    }
    m->fam = f;
    m->joined = joined;
    m->hash = h;
    m->values = calloc(n + 1, sizeof(char *));
    if (!m->values)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!(m->values[i] = strndup(values[i], MAX_LABEL_VALUE)))
            goto fail;
    if (f->type == METRICS_HISTOGRAM && !(m->buckets = calloc(f->n_bounds + 1, sizeof(uint64_t))))
        goto fail;
    if (f->type == METRICS_SUMMARY && !(m->obs = calloc(2 * SUMMARY_RESERVOIR, sizeof(double))))
        goto fail;
    if (f->n_children >= f->n_table)
        table_grow(f);
    m->next = f->table[h & (f->n_table - 1)];
    f->table[h & (f->n_table - 1)] = m;
    f->n_children++;
    return m;
fail:
    metric_free(m, n);
    return NULL;
}

metrics_metric_t *metrics_with_values(metrics_family_t *f, const char *const *values, size_t n)
{
    if (!f || f->collect)
        return NULL;
    pthread_mutex_lock(&f->mu);
    metrics_metric_t *m = child_locked(f, values, n);
    pthread_mutex_unlock(&f->mu);
    return m;
}

metrics_metric_t *metrics_with(metrics_family_t *f, ...)
{
    const char *vals[MAX_LABELS + 1];
    size_t n = 0;
    va_list ap;
    va_start(ap, f);
    const char *v;
    while ((v = va_arg(ap, const char *)) != NULL) {
        if (n == MAX_LABELS + 1) {
            va_end(ap);
            return NULL;
        }
        vals[n++] = v;
    }
    va_end(ap);
    return metrics_with_values(f, vals, n);
}

void metrics_counter_inc(metrics_metric_t *m)
{
    metrics_counter_add(m, 1);
}

void metrics_counter_add(metrics_metric_t *m, double v)
{
    if (!m || m->fam->type != METRICS_COUNTER || !(v >= 0))
        return;
    pthread_mutex_lock(&m->fam->mu);
    m->value += v;
    pthread_mutex_unlock(&m->fam->mu);
}

void metrics_gauge_set(metrics_metric_t *m, double v)
{
    if (!m || m->fam->type != METRICS_GAUGE)
        return;
    pthread_mutex_lock(&m->fam->mu);
    m->value = v;
    pthread_mutex_unlock(&m->fam->mu);
}

void metrics_gauge_add(metrics_metric_t *m, double v)
{
    if (!m || m->fam->type != METRICS_GAUGE)
        return;
    pthread_mutex_lock(&m->fam->mu);
    m->value += v;
    pthread_mutex_unlock(&m->fam->mu);
}

void metrics_observe(metrics_metric_t *m, double v)
{
    if (!m || isnan(v))
        return;
    metrics_family_t *f = m->fam;
    if (f->type == METRICS_HISTOGRAM) {
        size_t i = 0;
        while (i < f->n_bounds && v > f->bounds[i])
            i++;
        pthread_mutex_lock(&f->mu);
        m->buckets[i]++;
        m->sum += v;
        m->count++;
        pthread_mutex_unlock(&f->mu);
    } else if (f->type == METRICS_SUMMARY) {
        double now = mono_s();
        pthread_mutex_lock(&f->mu);
        size_t slot = (m->obs_head + m->obs_len) % SUMMARY_RESERVOIR;
        if (m->obs_len == SUMMARY_RESERVOIR) {
            slot = m->obs_head;
            m->obs_head = (m->obs_head + 1) % SUMMARY_RESERVOIR;
        } else {
            m->obs_len++;
        }
        m->obs[2 * slot] = v;
        m->obs[2 * slot + 1] = now;
        m->sum += v;
        m->count++;
        pthread_mutex_unlock(&f->mu);
    }
}

double metrics_value(metrics_metric_t *m)
{
    if (!m || (m->fam->type != METRICS_COUNTER && m->fam->type != METRICS_GAUGE))
        return NAN;
    pthread_mutex_lock(&m->fam->mu);
    double v = m->value;
    pthread_mutex_unlock(&m->fam->mu);
    return v;
}

int metrics_sink_add(metrics_sink_t *s, double value, const char *const *values, size_t n)
{
    if (!s)
        return -1;
    metrics_metric_t *m = child_locked(s->fam, values, n);
    if (!m)
        return -1;
    m->value = value;
    return 0;
}

/* ---- rendering ---- */

static int cmp_children(const void *a, const void *b)
{
    const metrics_metric_t *x = *(metrics_metric_t *const *)a, *y = *(metrics_metric_t *const *)b;
    for (size_t i = 0; i < x->fam->n_labels; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c)
            return c;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Writes name{l1="v1",...,extra_name="extra_value"} value\n. */
static void put_sample(FILE *out, const char *name, const char *suffix, const metrics_metric_t *m,
                       const char *extra_name, const char *extra_value, double v)
{
    char num[64];
    fprintf(out, "%s%s", name, suffix);
    const metrics_family_t *f = m->fam;
    if (f->n_labels || extra_name) {
        fputc('{', out);
        for (size_t i = 0; i < f->n_labels; i++) {
            fprintf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
            put_label_value(out, m->values[i]);
            fputc('"', out);
        }
        if (extra_name) {
            fprintf(out, "%s%s=\"", f->n_labels ? "," : "", extra_name);
            put_label_value(out, extra_value);
            fputc('"', out);
        }
        fputc('}', out);
    }
    fprintf(out, " %s\n", metrics_format_value(v, num, sizeof(num)));
}

static void render_child(FILE *out, const metrics_family_t *f, const metrics_metric_t *m, double now)
{
    char num[64];
    switch (f->type) {
    case METRICS_COUNTER:
    case METRICS_GAUGE:
        put_sample(out, f->name, "", m, NULL, NULL, m->value);
        break;
    case METRICS_HISTOGRAM: {
        uint64_t cum = 0;
        for (size_t i = 0; i < f->n_bounds; i++) {
            cum += m->buckets[i];
            put_sample(out, f->name, "_bucket", m, "le", metrics_format_value(f->bounds[i], num, sizeof(num)),
                       (double)cum);
        }
        cum += m->buckets[f->n_bounds];
        put_sample(out, f->name, "_bucket", m, "le", "+Inf", (double)cum);
        put_sample(out, f->name, "_sum", m, NULL, NULL, m->sum);
        put_sample(out, f->name, "_count", m, NULL, NULL, (double)m->count);
        break;
    }
    case METRICS_SUMMARY: {
        double vals[SUMMARY_RESERVOIR];
        size_t n = 0;
        for (size_t i = 0; i < m->obs_len; i++) {
            size_t slot = (m->obs_head + i) % SUMMARY_RESERVOIR;
            if (now - m->obs[2 * slot + 1] <= SUMMARY_MAX_AGE_S)
                vals[n++] = m->obs[2 * slot];
        }
        qsort(vals, n, sizeof(double), cmp_double);
        for (size_t q = 0; q < sizeof(summary_quantiles) / sizeof(summary_quantiles[0]); q++) {
            double v = NAN;
            if (n > 0) {
                /* Nearest rank: the smallest value with at least q*n values at or below it. */
                size_t rank = (size_t)ceil(summary_quantiles[q] * (double)n);
                v = vals[rank > 0 ? rank - 1 : 0];
            }
            put_sample(out, f->name, "", m, "quantile",
                       metrics_format_value(summary_quantiles[q], num, sizeof(num)), v);
        }
        put_sample(out, f->name, "_sum", m, NULL, NULL, m->sum);
        put_sample(out, f->name, "_count", m, NULL, NULL, (double)m->count);
        break;
    }
    }
}

static void render_family(FILE *out, metrics_family_t *f, double now)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram", "summary"};
    metrics_family_t *src = f;
    if (f->collect) {
        /* Collect into a fresh family of the same shape; nothing of it outlives this scrape. */
        metrics_family_t *tmp = family_make(f->name, f->help, f->type, (const char *const *)f->labels);
        if (!tmp)
            return;
        metrics_sink_t sink = {tmp};
        f->collect(f->collect_ud, &sink);
        src = tmp;
    }
    fprintf(out, "# HELP %s ", src->name);
    put_help(out, src->help);
    fprintf(out, "\n# TYPE %s %s\n", src->name, type_names[src->type]);
    pthread_mutex_lock(&src->mu);
    metrics_metric_t **kids = src->n_children ? malloc(src->n_children * sizeof(*kids)) : NULL;
    size_t n = 0;
    if (kids) {
        for (size_t i = 0; i < src->n_table; i++)
            for (metrics_metric_t *m = src->table[i]; m; m = m->next)
                kids[n++] = m;
        qsort(kids, n, sizeof(*kids), cmp_children);
        for (size_t i = 0; i < n; i++)
            render_child(out, src, kids[i], now);
    }
    pthread_mutex_unlock(&src->mu);
    free(kids);
    if (src != f)
        family_free(src);
}

static int cmp_families(const void *a, const void *b)
{
    return strcmp((*(metrics_family_t *const *)a)->name, (*(metrics_family_t *const *)b)->name);
}

char *metrics_render(metrics_registry_t *r, size_t *len)
{
    char *buf = NULL;
    size_t blen = 0;
    FILE *out = open_memstream(&buf, &blen);
    if (!out)
        return NULL;
    /* Snapshot the family list (families live as long as the registry) and render without the registry
     * lock, so collectors may take their own locks freely. */
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_fams;
    metrics_family_t **fams = n ? malloc(n * sizeof(*fams)) : NULL;
    if (fams)
        memcpy(fams, r->fams, n * sizeof(*fams));
    pthread_mutex_unlock(&r->mu);
    if (n && !fams) {
        fclose(out);
        free(buf);
        return NULL;
    }
    qsort(fams, n, sizeof(*fams), cmp_families);
    double now = mono_s();
    for (size_t i = 0; i < n; i++)
        render_family(out, fams[i], now);
    free(fams);
    if (fclose(out) != 0) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = blen;
    return buf;
}

/* ---- process metrics (Linux /proc) ---- */

typedef struct proc_stat {
    double cpu_s, start_time_s, rss_bytes, vsize_bytes;
} proc_stat_t;

static int read_proc_stat(proc_stat_t *ps)
{
    char buf[2048];
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: parse after its last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    /* Fields from 3 on: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14)
     * stime(15) cutime cstime priority nice threads itreal starttime(22) vsize(23) rss(24). */
    unsigned long long v[23] = {0};
    char *save = NULL;
    int i = 3;
    for (char *tok = strtok_r(p, " ", &save); tok && i <= 24; tok = strtok_r(NULL, " ", &save), i++)
        if (i >= 14)
            v[i - 14] = strtoull(tok, NULL, 10);
    if (i <= 24)
        return -1;
    double hz = (double)sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    ps->cpu_s = (double)(v[0] + v[1]) / hz;
    ps->vsize_bytes = (double)v[23 - 14];
    ps->rss_bytes = (double)v[24 - 14] * (double)page;
    /* starttime is in ticks since boot; btime in /proc/stat is the boot's wall-clock time. */
    double btime = 0;
    f = fopen("/proc/stat", "re");
    if (f) {
        char line[256];
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "btime ", 6) == 0) {
                btime = strtod(line + 6, NULL);
                break;
            }
        fclose(f);
    }
    ps->start_time_s = btime + (double)v[22 - 14] / hz;
    return 0;
}

static double count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return NAN;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* not the directory stream's own descriptor */
}

enum proc_metric { PM_CPU, PM_FDS, PM_MAX_FDS, PM_RSS, PM_VSIZE, PM_START };

static void collect_process(void *ud, metrics_sink_t *sink)
{
    enum proc_metric which = (enum proc_metric)(intptr_t)ud;
    proc_stat_t ps;
    double v = NAN;
    if (which == PM_FDS) {
        v = count_fds();
    } else if (which == PM_MAX_FDS) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            v = rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
    } else if (read_proc_stat(&ps) == 0) {
        v = which == PM_CPU ? ps.cpu_s
            : which == PM_RSS ? ps.rss_bytes
            : which == PM_VSIZE ? ps.vsize_bytes
            : ps.start_time_s;
    }
    if (!isnan(v))
        metrics_sink_add(sink, v, NULL, 0);
}

int metrics_register_process(metrics_registry_t *r)
{
    static const struct {
        const char *name, *help;
        enum metrics_type type;
        enum proc_metric which;
    } defs[] = {
        {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", METRICS_COUNTER, PM_CPU},
        {"process_open_fds", "Number of open file descriptors.", METRICS_GAUGE, PM_FDS},
        {"process_max_fds", "Maximum number of open file descriptors.", METRICS_GAUGE, PM_MAX_FDS},
        {"process_resident_memory_bytes", "Resident memory size in bytes.", METRICS_GAUGE, PM_RSS},
        {"process_virtual_memory_bytes", "Virtual memory size in bytes.", METRICS_GAUGE, PM_VSIZE},
        {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.", METRICS_GAUGE,
         PM_START},
    };
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        if (!metrics_new_collector(r, defs[i].name, defs[i].help, defs[i].type, NULL, collect_process,
                                   (void *)(intptr_t)defs[i].which))
            return -1;
    return 0;
}
