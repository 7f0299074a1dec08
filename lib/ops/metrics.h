/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_OPS_METRICS_H
#define KACME_OPS_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A thread-safe Prometheus metrics registry rendered in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * A family has a name, HELP text, a type and a fixed list of label names; its children are the label-value
 * tuples, created on first use and kept until the registry is freed (so pointers to them stay valid and
 * callers may cache them). Output is deterministic: families sorted by name, children by label values
 * (byte order), HELP and TYPE lines first. Label values are escaped per the format (\\, \", \n); HELP text
 * escapes \\ and \n.
 *
 * Summaries: count and sum are totals since start; the quantiles 0.5, 0.9 and 0.99 are computed at scrape
 * time over a bounded reservoir: the most recent 512 observations that are at most 10 minutes old
 * (nearest-rank method). With no such observation the quantile is NaN, as in the Go client.
 *
 * Collectors: a family whose samples are computed at scrape time by a callback (e.g.
 * certmanager_certificate_challenge_status from the Challenge cache); the callback adds samples to a sink.
 *
 * Limits: at most 10,000 children per family (more are refused: metrics_with returns NULL, and the update
 * functions accept NULL and do nothing, so a cardinality bug costs metrics, not memory); label values longer
 * than 1 KiB are truncated.
 */

typedef struct metrics_registry metrics_registry_t;
typedef struct metrics_family metrics_family_t;
typedef struct metrics_metric metrics_metric_t;
typedef struct metrics_sink metrics_sink_t;

enum metrics_type { METRICS_COUNTER = 0, METRICS_GAUGE, METRICS_HISTOGRAM, METRICS_SUMMARY };

/* New empty registry; NULL on allocation failure. */
metrics_registry_t *metrics_registry_new(void);
/* Frees the registry with every family and child. No other thread may use it any more. NULL-safe. */
void metrics_registry_free(metrics_registry_t *r);

/*
 * Family constructors. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unique in the registry; labels is
 * a NULL-terminated list of label names ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", "le" and
 * "quantile" reserved where the type uses them) or NULL for none. Strings are copied. Returns the family
 * (owned by the registry) or NULL on a bad name, duplicate or allocation failure.
 */
metrics_family_t *metrics_new_counter(metrics_registry_t *r, const char *name, const char *help,
                                      const char *const *labels);
metrics_family_t *metrics_new_gauge(metrics_registry_t *r, const char *name, const char *help,
                                    const char *const *labels);
/* buckets: strictly increasing upper bounds (the +Inf bucket is implicit); NULL/0 for the Go client's
 * defaults .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10. */
metrics_family_t *metrics_new_histogram(metrics_registry_t *r, const char *name, const char *help,
                                        const char *const *labels, const double *buckets, size_t n_buckets);
metrics_family_t *metrics_new_summary(metrics_registry_t *r, const char *name, const char *help,
                                      const char *const *labels);

/* The child for the given label values (as many as the family has label names), created on first use.
 * Variadic form: values then a terminating NULL. NULL on a wrong count, the child cap or allocation
 * failure. The child is owned by the registry. */
metrics_metric_t *metrics_with(metrics_family_t *f, ...);
metrics_metric_t *metrics_with_values(metrics_family_t *f, const char *const *values, size_t n);

/* Updates; every function accepts m == NULL (no-op) and ignores calls that do not fit the type. */
void metrics_counter_inc(metrics_metric_t *m);
void metrics_counter_add(metrics_metric_t *m, double v);   /* v < 0 is ignored (counters only go up) */
void metrics_gauge_set(metrics_metric_t *m, double v);
void metrics_gauge_add(metrics_metric_t *m, double v);
void metrics_observe(metrics_metric_t *m, double v);       /* histogram or summary */

/* Current value of a counter or gauge child (tests); NaN for other types or NULL. */
double metrics_value(metrics_metric_t *m);

/* Collect-time family: fn is called on every scrape (from the scraping thread, without registry locks
 * held) and adds its samples with metrics_sink_add. type is METRICS_COUNTER or METRICS_GAUGE. */
typedef void (*metrics_collect_fn)(void *ud, metrics_sink_t *sink);
metrics_family_t *metrics_new_collector(metrics_registry_t *r, const char *name, const char *help,
                                        enum metrics_type type, const char *const *labels,
                                        metrics_collect_fn fn, void *ud);

/* Adds one sample to the family being collected; values as in metrics_with_values (copied). Returns 0,
 * or -1 on a wrong count, the child cap or allocation failure. Duplicate label tuples are kept once
 * (the last value wins). */
int metrics_sink_add(metrics_sink_t *s, double value, const char *const *values, size_t n);

/* Registers process_cpu_seconds_total, process_open_fds, process_max_fds, process_resident_memory_bytes,
 * process_virtual_memory_bytes and process_start_time_seconds, read from /proc at scrape time (Linux).
 * Returns 0 or -1. */
int metrics_register_process(metrics_registry_t *r);

/* Renders the whole registry. Returns a NUL-terminated string owned by the caller (free()), length in
 * *len when len is non-NULL; NULL on allocation failure. */
char *metrics_render(metrics_registry_t *r, size_t *len);

/* The Content-Type to serve metrics_render's output with. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Formats v the way the exposition format expects (shortest round-trip form, "+Inf", "-Inf", "NaN") into
 * buf (>= 32 bytes). Returns buf. */
const char *metrics_format_value(double v, char *buf, size_t len);

#endif
