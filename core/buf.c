/* buf.c - capped growable byte buffer; see buf.h. */
#include "buf.h"

#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_FIRST_CAP 4096u

void buf_init(struct buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max == 0 || max == SIZE_MAX ? SIZE_MAX - 1 : max;
}

void buf_cleanup(struct buf *b)
{
    size_t max = b->max;
    free(b->data);
    buf_init(b, max);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->status = BUF_OK;
    if (b->data != NULL)
        b->data[0] = '\0';
}

enum buf_status buf_reserve(struct buf *b, size_t extra)
{
    if (b->status != BUF_OK)
        return b->status;
    if (extra > b->max - b->len)
        return b->status = BUF_TOO_LARGE;
    size_t need = b->len + extra + 1; /* cannot overflow: max <= SIZE_MAX - 1 */
    if (need <= b->cap)
        return BUF_OK;
    size_t cap = b->cap != 0 ? b->cap : BUF_FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *grown = alloc_resize(b->data, cap);
    if (grown == NULL)
        return b->status = BUF_NO_MEMORY;
    b->data = grown;
    b->cap = cap;
    return BUF_OK;
}

enum buf_status buf_append(struct buf *b, const void *data, size_t len)
{
    enum buf_status st = buf_reserve(b, len);
    if (st != BUF_OK)
        return st;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return BUF_OK;
}

enum buf_status buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum buf_status buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum buf_status buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    if (b->status != BUF_OK)
        return b->status;
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    enum buf_status st = BUF_OK;
    if (n < 0) {
        st = b->status = BUF_NO_MEMORY; /* only an encoding error; treat as a failed write */
    } else if ((size_t)n < sizeof small) {
        st = buf_append(b, small, (size_t)n);
    } else if ((st = buf_reserve(b, (size_t)n)) == BUF_OK) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return st;
}

enum buf_status buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum buf_status st = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

char *buf_take(struct buf *b, size_t *len)
{
    char *out = NULL;
    size_t n = 0;
    if (b->status == BUF_OK) {
        if (b->data == NULL) {
            out = alloc_bytes(1);
            if (out != NULL)
                out[0] = '\0';
        } else {
            out = b->data;
            n = b->len;
            b->data = NULL;
        }
    }
    buf_cleanup(b);
    if (len != NULL)
        *len = n;
    return out;
}
