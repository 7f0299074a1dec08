/* SPDX-License-Identifier: Apache-2.0 */
#include "result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

static const char *type_text(enum admission_err_type t)
{
    switch (t) {
    case FE_REQUIRED: return "Required value";
    case FE_INVALID: return "Invalid value";
    case FE_FORBIDDEN: return "Forbidden";
    case FE_DUPLICATE: return "Duplicate value";
    case FE_NOT_SUPPORTED: return "Unsupported value";
    case FE_TOO_LONG: return "Too long";
    case FE_TOO_MANY: return "Too many";
    }
    return "Invalid value";
}

/* Messages quote user values cut to a bounded length (%.200s, %.253s), and a cut can split a multi-byte
 * character; the reply must stay valid UTF-8, so each invalid or cut sequence becomes U+FFFD, as Go's
 * encoder would write it. Takes ownership of s; returns it or its replacement (NULL when out of memory). */
static char *utf8_scrub(char *s)
{
    size_t n = strlen(s);
    if (!u8_check((const uint8_t *)s, n))
        return s;
    char *o = malloc(3 * n + 1); /* each bad byte becomes 3 */
    if (o) {
        size_t w = 0;
        for (size_t i = 0; i < n;) {
            ucs4_t uc;
            int l = u8_mbtoucr(&uc, (const uint8_t *)s + i, n - i);
            if (l > 0) {
                memcpy(o + w, s + i, (size_t)l);
                w += (size_t)l;
                i += (size_t)l;
            } else {
                memcpy(o + w, "\xef\xbf\xbd", 3);
                w += 3;
                i++;
            }
        }
        o[w] = '\0';
    }
    free(s);
    return o;
}

static void add_rendered(admission_result_t *r, const char *path, enum admission_err_type t, const char *val,
                         const char *detail)
{
    if (r->n_errors >= ADMISSION_MAX_ERRORS) {
        r->dropped_errors++;
        return;
    }
    char *s = NULL;
    int n;
    bool has_val = (t == FE_INVALID || t == FE_DUPLICATE || t == FE_NOT_SUPPORTED);
    if (!val)
        val = "null";
    if (t == FE_NOT_SUPPORTED)
        n = asprintf(&s, "%s: %s: %s%s%s", path, type_text(t), val, detail ? ": supported values: " : "",
                     detail ? detail : "");
    else if (has_val)
        n = asprintf(&s, "%s: %s: %s%s%s", path, type_text(t), val, detail ? ": " : "", detail ? detail : "");
    else
        n = asprintf(&s, "%s: %s%s%s", path, type_text(t), detail ? ": " : "", detail ? detail : "");
    if (n < 0 || !(s = utf8_scrub(s)))
        return;
    r->errors[r->n_errors++] = s;
}

/* Adds the error with the value rendered in g (NULL: no value). Values are user input, so their text is cut
 * at 200 bytes. An error whose value cannot be rendered (out of memory) is dropped. */
static void add_generated(admission_result_t *r, const char *path, enum admission_err_type t, yajl_gen g,
                          const char *detail)
{
    const unsigned char *v = NULL;
    size_t n = 0;
    char buf[256];
    if (g && yajl_gen_get_buf(g, &v, &n) != yajl_gen_status_ok)
        return;
    if (v)
        snprintf(buf, sizeof(buf), "%.*s%s", (int)(n > 200 ? 200 : n), (const char *)v, n > 200 ? "..." : "");
    add_rendered(r, path, t, v ? buf : NULL, detail);
}

void admission_err(admission_result_t *r, enum admission_err_type t, const jdoc_value_t *value, const char *detail,
                   const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    yajl_gen g = value ? yajl_gen_alloc(NULL) : NULL; /* owned */
    if (!value || (g && jdoc_gen(g, value) == 0))
        add_generated(r, path, t, g, detail);
    if (g)
        yajl_gen_free(g);
}

void admission_err_str(admission_result_t *r, enum admission_err_type t, const char *value, const char *detail,
                       const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    yajl_gen g = value ? yajl_gen_alloc(NULL) : NULL; /* owned */
    if (!value || (g && yajl_gen_string(g, (const unsigned char *)value, strlen(value)) == yajl_gen_status_ok))
        add_generated(r, path, t, g, detail);
    if (g)
        yajl_gen_free(g);
}

void admission_warn(admission_result_t *r, const char *fmt, ...)
{
    if (r->n_warnings >= ADMISSION_MAX_ERRORS)
        return;
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n >= 0 && (s = utf8_scrub(s)))
        r->warnings[r->n_warnings++] = s;
}

char *admission_result_message(const admission_result_t *r)
{
    if (r->n_errors == 0)
        return NULL;
    if (r->n_errors == 1 && !r->dropped_errors)
        return strdup(r->errors[0]);
    size_t len = 3 + 40;
    for (size_t i = 0; i < r->n_errors; i++)
        len += strlen(r->errors[i]) + 2;
    char *m = malloc(len);
    if (!m)
        return NULL;
    size_t o = 0;
    m[o++] = '[';
    for (size_t i = 0; i < r->n_errors; i++) {
        size_t l = strlen(r->errors[i]);
        if (i) {
            m[o++] = ',';
            m[o++] = ' ';
        }
        memcpy(m + o, r->errors[i], l);
        o += l;
    }
    if (r->dropped_errors)
        o += (size_t)snprintf(m + o, len - o, ", ... %zu more", r->dropped_errors);
    m[o++] = ']';
    m[o] = '\0';
    return m;
}

void admission_result_clear(admission_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_errors; i++)
        free(r->errors[i]);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    memset(r, 0, sizeof(*r));
}
