/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_verbosity;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static FILE *log_stream;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_setup(int verbosity, enum log_format format)
{
    log_verbosity = verbosity < 0 ? 0 : verbosity;
    log_fmt = format;
}

int log_parse_format(const char *s, enum log_format *out)
{
    if (s && strcmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (s && strcmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return -1;
    return 0;
}

bool log_enabled(int v)
{
    return v <= log_verbosity;
}

void log_set_stream(FILE *stream)
{
    pthread_mutex_lock(&log_lock);
    log_stream = stream;
    pthread_mutex_unlock(&log_lock);
}

/* Writes s quoted; bytes outside printable ASCII become escapes so a peer cannot inject lines.
 * The same escaping is valid JSON (\u00NN) and klog text (\xNN is shown as \u00NN too: one rule). */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20 || *p >= 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Keys are written bare in text form; anything but [A-Za-z0-9_.-] is replaced so keys stay tokens. */
static void put_key(FILE *f, const char *k)
{
    for (const char *p = k; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == '-';
        fputc(ok ? c : '_', f);
    }
}

void log_write(enum log_severity sev, int v, const char *file, int line, const char *msg, ...)
{
    int saved_errno = errno;
    struct timeval tv;
    struct tm tm;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);

    va_list ap;
    va_start(ap, msg);
    pthread_mutex_lock(&log_lock);
    FILE *f = log_stream ? log_stream : stderr;
    flockfile(f);
    if (log_fmt == LOG_FORMAT_JSON) {
        fprintf(f, "{\"ts\":%lld.%03ld,\"caller\":", (long long)tv.tv_sec, (long)(tv.tv_usec / 1000));
        char caller[256];
        snprintf(caller, sizeof(caller), "%s:%d", base, line);
        put_quoted(f, caller);
        fputs(",\"msg\":", f);
        put_quoted(f, msg);
        if (sev == LOG_SEV_INFO)
            fprintf(f, ",\"v\":%d", v);
        else
            fputs(sev == LOG_SEV_ERROR ? ",\"level\":\"error\"" : ",\"level\":\"warning\"", f);
        for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
            const char *val = va_arg(ap, const char *);
            fputc(',', f);
            put_quoted(f, k);
            fputc(':', f);
            put_quoted(f, val ? val : "<nil>");
        }
        fputs("}\n", f);
    } else {
        static const char sevc[] = {'I', 'W', 'E'};
        fprintf(f, "%c%02d%02d %02d:%02d:%02d.%06ld %7d %s:%d] ", sevc[sev], tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec, (int)getpid(), base, line);
        put_quoted(f, msg);
        for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
            const char *val = va_arg(ap, const char *);
            fputc(' ', f);
            put_key(f, k);
            fputc('=', f);
            put_quoted(f, val ? val : "<nil>");
        }
        fputc('\n', f);
    }
    fflush(f);
    funlockfile(f);
    pthread_mutex_unlock(&log_lock);
    va_end(ap);
    errno = saved_errno;
}
