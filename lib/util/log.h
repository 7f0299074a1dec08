/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_LOG_H
#define KACME_LOG_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Structured logging, klog-like text by default or one JSON object per line.
 *
 * Messages are constant strings; details travel as key/value pairs of C strings terminated by NULL:
 *
 *     LOG_INFO("challenge presented", "challenge", "ns/name", "type", "HTTP-01");
 *
 * Text:  I1129 18:46:48.123456   4242 challenges.c:88] "challenge presented" challenge="ns/name" type="HTTP-01"
 * JSON:  {"ts":1764441608.123,"caller":"challenges.c:88","msg":"challenge presented","v":0,"challenge":"ns/name",...}
 *
 * Values are quoted and escaped (control and non-ASCII bytes as \xNN), so peer data cannot forge lines.
 * Never pass keys, tokens, CSRs, key authorizations or Secret data. Thread-safe; errno is preserved.
 */

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };
enum log_severity { LOG_SEV_INFO = 0, LOG_SEV_WARNING = 1, LOG_SEV_ERROR = 2 };

/* Sets verbosity (--v, >= 0) and format; call once from main before threads start. */
void log_setup(int verbosity, enum log_format format);

/* Parses a --logging-format value ("text" or "json"). Returns 0, or -1 for anything else. */
int log_parse_format(const char *s, enum log_format *out);

/* True when messages at verbosity v are written (v == 0 always). */
bool log_enabled(int v);

/* Writes one record to stderr; use the LOG_* macros instead. The variadic list is key, value, ...,
 * NULL; a NULL value is written as "<nil>". */
void log_write(enum log_severity sev, int v, const char *file, int line, const char *msg, ...);

/* Redirects output (tests); NULL restores stderr. */
void log_set_stream(FILE *stream);

#define LOG_INFO(msg, ...) log_write(LOG_SEV_INFO, 0, __FILE__, __LINE__, (msg), ##__VA_ARGS__, (char *)0)
#define LOG_WARN(msg, ...) log_write(LOG_SEV_WARNING, 0, __FILE__, __LINE__, (msg), ##__VA_ARGS__, (char *)0)
#define LOG_ERROR(msg, ...) log_write(LOG_SEV_ERROR, 0, __FILE__, __LINE__, (msg), ##__VA_ARGS__, (char *)0)
/* Verbose info: arguments are not evaluated when level v is off. */
#define LOG_V(v, msg, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(v))                                                                        \
            log_write(LOG_SEV_INFO, (v), __FILE__, __LINE__, (msg), ##__VA_ARGS__, (char *)0);     \
    } while (0)

#endif
