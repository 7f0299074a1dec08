/* SPDX-License-Identifier: Apache-2.0 */
#include "duration.h"

#include <stdbool.h>
#include <string.h>

static const struct {
    const char *suffix;
    double seconds;
} units[] = {
    {"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"\xce\xbcs", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60},
    {"h", 3600},
};

int util_parse_duration(const char *s, double *seconds)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    double sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    if (strcmp(p, "0") == 0) {
        *seconds = 0;
        return 0;
    }
    if (!*p)
        return -1;
    double total = 0;
    while (*p) {
        double v = 0, scale = 0.1;
        bool digits = false;
        for (; *p >= '0' && *p <= '9'; p++, digits = true)
            v = v * 10 + (*p - '0');
        if (*p == '.')
            for (p++; *p >= '0' && *p <= '9'; p++, digits = true, scale /= 10)
                v += (*p - '0') * scale;
        if (!digits)
            return -1;
        /* longest suffix first: "ms" before "m" */
        size_t best = 0, len = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t n = strlen(units[i].suffix);
            if (n > len && strncmp(p, units[i].suffix, n) == 0) {
                best = i;
                len = n;
            }
        }
        if (len == 0)
            return -1;
        total += v * units[best].seconds;
        p += len;
    }
    *seconds = sign * total;
    return 0;
}

int util_parse_duration_ms(const char *s, int64_t *ms)
{
    double secs;
    if (util_parse_duration(s, &secs) != 0 || secs < 0 || secs * 1000.0 >= 9.2e18)
        return -1;
    *ms = (int64_t)(secs * 1000.0);
    return 0;
}
