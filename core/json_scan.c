/*
 * json_scan.c - queries over a small JSON text by skipping, never by building; see
 * json_scan.h.
 *
 * Everything rests on json_scan_skip, which steps over one value of any kind; a member or
 * element lookup walks its container skipping the values before the one it wants, so the
 * cost of a query is bounded by the bytes before its answer.
 */
#include "json_scan.h"

#include <string.h>

static const char *json_scan_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': the pointer after the closing quote; NULL for a raw control byte or no end. */
static const char *json_scan_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            return p + 1;
        if ((unsigned char)*p < 0x20)
            return NULL;
    }
    return NULL;
}

const char *json_scan_skip(const char *p, const char *end, unsigned depth)
{
    p = json_scan_ws(p, end);
    if (p >= end || depth == 0)
        return NULL;
    if (*p == '"')
        return json_scan_skip_string(p, end);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool object = *p == '{';
        p = json_scan_ws(p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (object) {
                p = json_scan_ws(p, end);
                if (p >= end || *p != '"' || (p = json_scan_skip_string(p, end)) == NULL)
                    return NULL;
                p = json_scan_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p++;
            }
            if ((p = json_scan_skip(p, end, depth - 1)) == NULL)
                return NULL;
            p = json_scan_ws(p, end);
            if (p >= end)
                return NULL;
            if (*p == close)
                return p + 1;
            if (*p != ',')
                return NULL;
            p++;
        }
    }
    const char *start = p;
    while (p < end && (strchr("+-.0123456789eEtrufalsn", *p) != NULL))
        p++;
    return p > start ? p : NULL;
}

bool json_scan_is_object(const char *text, const char *end)
{
    const char *p = json_scan_ws(text, end);
    if (p >= end || *p != '{')
        return false;
    const char *after = json_scan_skip(p, end, JSON_SCAN_DEPTH);
    return after != NULL && json_scan_ws(after, end) == end;
}

const char *json_scan_member(const char *obj, const char *end, const char *key)
{
    if (obj == NULL)
        return NULL;
    const char *p = json_scan_ws(obj, end);
    if (p >= end || *p != '{')
        return NULL;
    size_t klen = strlen(key);
    p = json_scan_ws(p + 1, end);
    if (p < end && *p == '}')
        return NULL;
    for (;;) {
        p = json_scan_ws(p, end);
        if (p >= end || *p != '"')
            return NULL;
        const char *kend = json_scan_skip_string(p, end);
        if (kend == NULL)
            return NULL;
        bool match = (size_t)(kend - p - 2) == klen && memcmp(p + 1, key, klen) == 0;
        p = json_scan_ws(kend, end);
        if (p >= end || *p != ':')
            return NULL;
        const char *value = json_scan_ws(p + 1, end);
        if (match)
            return value;
        if ((p = json_scan_skip(value, end, JSON_SCAN_DEPTH)) == NULL)
            return NULL;
        p = json_scan_ws(p, end);
        if (p >= end || *p != ',')
            return NULL;
        p++;
    }
}

/* Element i of the array at arr (NULL if absent); *count (if not NULL) gets the number of
 * elements walked past, which is the length when i is beyond the end. */
static const char *json_scan_walk(const char *arr, const char *end, size_t i, size_t *count)
{
    if (count != NULL)
        *count = 0;
    if (arr == NULL)
        return NULL;
    const char *p = json_scan_ws(arr, end);
    if (p >= end || *p != '[')
        return NULL;
    p = json_scan_ws(p + 1, end);
    if (p < end && *p == ']')
        return NULL;
    for (size_t k = 0;; k++) {
        const char *value = json_scan_ws(p, end);
        if (k == i)
            return value;
        if ((p = json_scan_skip(value, end, JSON_SCAN_DEPTH)) == NULL)
            return NULL;
        p = json_scan_ws(p, end);
        if (count != NULL)
            *count = k + 1;
        if (p >= end || *p != ',')
            return NULL;
        p++;
    }
}

const char *json_scan_index(const char *arr, const char *end, size_t i)
{
    return json_scan_walk(arr, end, i, NULL);
}

size_t json_scan_length(const char *arr, const char *end)
{
    size_t n;
    json_scan_walk(arr, end, SIZE_MAX, &n);
    return n;
}

bool json_scan_string(const char *v, const char *end, char *buf, size_t n)
{
    if (v == NULL || v >= end || *v != '"')
        return false;
    const char *e = json_scan_skip_string(v, end);
    if (e == NULL || memchr(v + 1, '\\', (size_t)(e - v - 2)) != NULL)
        return false;
    size_t len = (size_t)(e - v - 2);
    if (len >= n)
        len = n - 1;
    memcpy(buf, v + 1, len);
    buf[len] = '\0';
    return true;
}

bool json_scan_uint(const char *v, const char *end, uint64_t *out)
{
    if (v == NULL || v >= end || *v < '0' || *v > '9')
        return false;
    uint64_t x = 0;
    for (; v < end && *v >= '0' && *v <= '9'; v++) {
        if (x > (UINT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (uint64_t)(*v - '0');
    }
    *out = x;
    return true;
}
