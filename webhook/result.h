/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_WEBHOOK_RESULT_H
#define KACME_WEBHOOK_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "jdoc.h"

/*
 * The outcome of validating one object: Kubernetes-style field errors (rendered like apimachinery's
 * field.Error: `<path>: <Type>: <detail>`) and admission warnings. Validators append; the admission layer
 * renders. Caps: at most ADMISSION_MAX_ERRORS errors and as many warnings are kept (the rest counted).
 */

#define ADMISSION_MAX_ERRORS 100

enum admission_err_type {
    FE_REQUIRED,      /* `path: Required value[: detail]` */
    FE_INVALID,       /* `path: Invalid value: <value>: detail` */
    FE_FORBIDDEN,     /* `path: Forbidden: detail` */
    FE_DUPLICATE,     /* `path: Duplicate value: <value>` */
    FE_NOT_SUPPORTED, /* `path: Unsupported value: <value>: supported values: detail` */
    FE_TOO_LONG,      /* `path: Too long: detail` */
    FE_TOO_MANY,      /* `path: Too many: detail` (detail: "<n>: must have at most <max> items") */
};

typedef struct admission_result {
    char *errors[ADMISSION_MAX_ERRORS];   /* owned rendered strings */
    size_t n_errors;
    size_t dropped_errors;
    char *warnings[ADMISSION_MAX_ERRORS]; /* owned */
    size_t n_warnings;
} admission_result_t;

/* Appends an error. value is a borrowed JSON value rendered as JSON (strings quoted; null for NULL); detail
 * may be NULL. path is printf-formatted from fmt. */
void admission_err(admission_result_t *r, enum admission_err_type t, const jdoc_value_t *value, const char *detail,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Same with a C string value (rendered quoted). */
void admission_err_str(admission_result_t *r, enum admission_err_type t, const char *value, const char *detail,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Appends a printf-formatted warning. */
void admission_warn(admission_result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Renders the aggregate message: the single error, or "[e1, e2, ...]". Owned string, NULL when no errors
 * (or on OOM). */
char *admission_result_message(const admission_result_t *r);

/* Frees the strings (the struct itself is caller storage) and zeroes it; NULL-safe. */
void admission_result_clear(admission_result_t *r);

#endif
