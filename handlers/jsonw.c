/* jsonw.c - append-only JSON writer; see jsonw.h. */
#include "jsonw.h"

#include "alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void jsonw_init(struct jsonw *w)
{
    memset(w, 0, sizeof *w);
}

void jsonw_cleanup(struct jsonw *w)
{
    free(w->buf);
    jsonw_init(w);
}

static bool jsonw_reserve(struct jsonw *w, size_t extra)
{
    if (w->failed)
        return false;
    if (w->len + extra + 1 <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            w->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *grown = alloc_resize(w->buf, cap);
    if (grown == NULL) {
        w->failed = true;
        return false;
    }
    w->buf = grown;
    w->cap = cap;
    return true;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t len)
{
    if (!jsonw_reserve(w, len))
        return;
    memcpy(w->buf + w->len, s, len);
    w->len += len;
    w->buf[w->len] = '\0';
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
    /* Worst case every byte becomes \u00XX. */
    if (!jsonw_reserve(w, 6 * len + 2))
        return true;
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
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
    if (w->failed) {
        jsonw_cleanup(w);
        return NULL;
    }
    if (w->buf == NULL && !jsonw_reserve(w, 0))
        return NULL;
    char *out = w->buf;
    *len = w->len;
    jsonw_init(w);
    return out;
}
