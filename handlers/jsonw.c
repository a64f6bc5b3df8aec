/* jsonw.c - append-only JSON writer; see jsonw.h. */
#include "jsonw.h"

#include "limit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void jsonw_init(struct jsonw *w)
{
    jsonw_init_max(w, LIMIT_MAX_ANSWER);
}

void jsonw_init_max(struct jsonw *w, size_t max)
{
    buf_init(&w->out, max);
}

void jsonw_cleanup(struct jsonw *w)
{
    buf_cleanup(&w->out);
}

enum buf_status jsonw_status(const struct jsonw *w)
{
    return w->out.status;
}

size_t jsonw_max(const struct jsonw *w)
{
    return w->out.max;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t len)
{
    buf_append(&w->out, s, len);
}

void jsonw_lit(struct jsonw *w, const char *s)
{
    jsonw_raw(w, s, strlen(s));
}

bool jsonw_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) {
            if (c == 0)
                return false;
            p++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

bool jsonw_string(struct jsonw *w, const char *s, size_t len)
{
    if (!jsonw_utf8_valid(s, len))
        return false;
    /* Runs of plain bytes are appended whole, so a string with nothing to escape costs
     * three appends, and only the bytes actually written count against the cap. */
    static const char hex[] = "0123456789abcdef";
    buf_putc(&w->out, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(&w->out, s + run, i - run);
            buf_append(&w->out, esc, 2);
            run = i + 1;
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(&w->out, s + run, i - run);
            buf_append(&w->out, esc, 6);
            run = i + 1;
        }
    }
    buf_append(&w->out, s + run, len - run);
    buf_putc(&w->out, '"');
    return true;
}

void jsonw_u64(struct jsonw *w, uint64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    jsonw_raw(w, p, (size_t)(tmp + sizeof tmp - p));
}

void jsonw_i64(struct jsonw *w, int64_t v)
{
    if (v < 0) {
        jsonw_raw(w, "-", 1);
        jsonw_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        jsonw_u64(w, (uint64_t)v);
    }
}

void jsonw_double(struct jsonw *w, double v)
{
    if (!isfinite(v)) {
        jsonw_raw(w, "null", 4);
        return;
    }
    if (v == 0) {
        jsonw_raw(w, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 4 : 3);
        return;
    }
    char tmp[32];
    /* Shortest of %.15g / %.16g / %.17g that reads back exactly. */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    jsonw_raw(w, tmp, (size_t)n);
}

void jsonw_bool(struct jsonw *w, bool v)
{
    jsonw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_member_u64(struct jsonw *w, const char *key, uint64_t v)
{
    jsonw_lit(w, key);
    jsonw_u64(w, v);
}

void jsonw_member_bool(struct jsonw *w, const char *key, bool v)
{
    jsonw_lit(w, key);
    jsonw_bool(w, v);
}

void jsonw_member_double(struct jsonw *w, const char *key, double v)
{
    jsonw_lit(w, key);
    jsonw_double(w, v);
}

void jsonw_time(struct jsonw *w, int64_t sec, long nsec)
{
    time_t t = (time_t)sec;
    struct tm tm;
    char buf[64];
    if (gmtime_r(&t, &tm) == NULL) {
        jsonw_raw(w, "null", 4);
        return;
    }
    size_t n = strftime(buf, sizeof buf, "\"%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%09ldZ\"", nsec);
    jsonw_lit(w, buf);
}

char *jsonw_take(struct jsonw *w, size_t *len)
{
    return buf_take(&w->out, len);
}
