/*
 * test_buf.c - core/buf.c: appends of every kind, growth through printf past its 256-byte
 * stack buffer, the cap (reaching it is an error and nothing is cut: the content stays what
 * it was), the sticky failure status, take / reset / cleanup, and allocation failures
 * injected through alloc_fail_nth reported as BUF_NO_MEMORY.
 */
#include "alloc.h"
#include "buf.h"
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_appends(void)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK(b.data == NULL && b.len == 0); /* nothing allocated yet */
    CHECK_INT(buf_puts(&b, "abc"), BUF_OK);
    CHECK_INT(buf_putc(&b, '-'), BUF_OK);
    CHECK_INT(buf_append(&b, "xyz", 2), BUF_OK);
    CHECK_INT(buf_append(&b, NULL, 0), BUF_OK);
    CHECK_INT(buf_printf(&b, "[%d|%s]", 42, "q"), BUF_OK);
    CHECK_STR(b.data, "abc-xy[42|q]");
    CHECK_INT(b.len, 12);
    CHECK_INT(b.data[b.len], '\0');
    buf_cleanup(&b);
    CHECK(b.data == NULL && b.len == 0);
}

static void test_printf_growth(void)
{
    /* Outputs around and past the 256-byte stack buffer, and past the first 4 KiB block. */
    static const size_t sizes[] = {0, 1, 254, 255, 256, 257, 1000, 4095, 4096, 9000};
    char *word = malloc(9001);
    for (size_t i = 0; i < 9000; i++)
        word[i] = (char)('a' + i % 26);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct buf b;
        buf_init(&b, 0);
        CHECK_INT(buf_puts(&b, "<"), BUF_OK);
        CHECK_INT(buf_printf(&b, "%.*s>%zu", (int)sizes[k], word, sizes[k]), BUF_OK);
        char tail[32];
        int tlen = snprintf(tail, sizeof tail, ">%zu", sizes[k]);
        CHECK_INT(b.len, 1 + sizes[k] + (size_t)tlen);
        CHECK(b.data[0] == '<' && memcmp(b.data + 1, word, sizes[k]) == 0);
        CHECK_STR(b.data + 1 + sizes[k], tail);
        CHECK(b.cap > b.len);
        buf_cleanup(&b);
    }
    /* Many small appends: amortised growth keeps everything. */
    struct buf b;
    buf_init(&b, 0);
    for (unsigned i = 0; i < 20000; i++)
        CHECK_INT(buf_printf(&b, "%u,", i % 10), BUF_OK);
    CHECK_INT(b.len, 40000);
    unsigned wrong = 0;
    for (unsigned i = 0; i < 20000; i++)
        wrong += b.data[2 * i] != (char)('0' + i % 10) || b.data[2 * i + 1] != ',';
    CHECK_INT(wrong, 0);
    buf_cleanup(&b);
    free(word);
}

static void test_cap(void)
{
    struct buf b;
    buf_init(&b, 10);
    CHECK_INT(buf_puts(&b, "12345678"), BUF_OK);
    CHECK_INT(buf_puts(&b, "abc"), BUF_TOO_LARGE); /* 11 > 10: refused whole, not cut */
    CHECK_STR(b.data, "12345678");
    CHECK_INT(b.len, 8);
    CHECK_INT(b.status, BUF_TOO_LARGE);
    CHECK_INT(buf_putc(&b, 'z'), BUF_TOO_LARGE); /* sticky: even what would fit */
    CHECK_INT(buf_printf(&b, "%d", 1), BUF_TOO_LARGE);
    CHECK_INT(buf_reserve(&b, 0), BUF_TOO_LARGE);
    CHECK_STR(b.data, "12345678");
    size_t len = 99;
    CHECK(buf_take(&b, &len) == NULL); /* content freed with the failure */
    CHECK_INT(len, 0);
    CHECK(b.data == NULL && b.status == BUF_OK && b.max == 10); /* empty again, same cap */

    /* Exactly the cap is fine, one more is not; printf the same. */
    CHECK_INT(buf_puts(&b, "0123456789"), BUF_OK);
    CHECK_INT(buf_putc(&b, '!'), BUF_TOO_LARGE);
    CHECK_STR(b.data, "0123456789");
    buf_reset(&b);
    CHECK_INT(b.status, BUF_OK);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.data, "");
    CHECK_INT(buf_printf(&b, "%s", "0123456789"), BUF_OK);
    buf_reset(&b);
    CHECK_INT(buf_printf(&b, "%s", "0123456789A"), BUF_TOO_LARGE);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.data, "");
    buf_cleanup(&b);

    /* A cap past the first block, reached through printf's long path. */
    buf_init(&b, 300);
    char big[400];
    memset(big, 'x', sizeof big);
    CHECK_INT(buf_printf(&b, "%.*s", 300, big), BUF_OK);
    CHECK_INT(b.len, 300);
    CHECK(b.cap <= 301); /* never more storage than the cap needs */
    buf_reset(&b);
    CHECK_INT(buf_printf(&b, "%.*s", 301, big), BUF_TOO_LARGE);
    CHECK_INT(b.len, 0);
    buf_cleanup(&b);

    /* A huge length never wraps around the cap check. */
    buf_init(&b, 0);
    CHECK_INT(buf_puts(&b, "x"), BUF_OK);
    CHECK_INT(buf_reserve(&b, SIZE_MAX), BUF_TOO_LARGE);
    CHECK_STR(b.data, "x");
    buf_cleanup(&b);
}

static void test_take(void)
{
    struct buf b;
    buf_init(&b, 0);
    size_t len = 99;
    char *s = buf_take(&b, &len); /* never appended: a new empty string */
    CHECK(s != NULL && s[0] == '\0' && len == 0);
    free(s);
    CHECK_INT(buf_puts(&b, "hello"), BUF_OK);
    s = buf_take(&b, &len);
    CHECK_STR(s, "hello");
    CHECK_INT(len, 5);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    CHECK_INT(buf_puts(&b, "again"), BUF_OK); /* the buffer is reusable */
    CHECK_STR(b.data, "again");
    char *t = buf_take(&b, NULL);
    CHECK_STR(t, "again");
    free(s);
    free(t);
    buf_cleanup(&b); /* safe on a taken buffer */
    buf_cleanup(&b);

    /* reset keeps the storage */
    CHECK_INT(buf_puts(&b, "abcdef"), BUF_OK);
    char *storage = b.data;
    size_t cap = b.cap;
    buf_reset(&b);
    CHECK(b.data == storage && b.cap == cap && b.len == 0);
    CHECK_INT(buf_puts(&b, "z"), BUF_OK);
    CHECK(b.data == storage);
    CHECK_STR(b.data, "z");
    buf_cleanup(&b);
}

static void test_no_memory(void)
{
    /* The first allocation fails. */
    struct buf b;
    buf_init(&b, 0);
    alloc_fail_nth(1);
    CHECK_INT(buf_puts(&b, "abc"), BUF_NO_MEMORY);
    CHECK(!alloc_fault_pending());
    CHECK(b.data == NULL && b.len == 0);
    CHECK_INT(buf_puts(&b, "abc"), BUF_NO_MEMORY); /* sticky */
    CHECK(buf_take(&b, NULL) == NULL);

    /* Growth fails: what was there stays, nothing of the new append is kept. */
    char chunk[4000];
    memset(chunk, 'c', sizeof chunk);
    CHECK_INT(buf_append(&b, chunk, sizeof chunk), BUF_OK);
    alloc_fail_nth(1);
    CHECK_INT(buf_append(&b, chunk, 200), BUF_NO_MEMORY);
    CHECK_INT(b.len, 4000);
    CHECK(b.data[0] == 'c' && b.data[3999] == 'c' && b.data[4000] == '\0');
    buf_reset(&b); /* clears the failure, keeps the storage */
    CHECK_INT(buf_append(&b, chunk, 10), BUF_OK);
    CHECK_INT(b.len, 10);

    /* printf's long path fails in its reserve. */
    char big[600];
    memset(big, 'p', sizeof big);
    buf_cleanup(&b);
    alloc_fail_nth(1);
    CHECK_INT(buf_printf(&b, "%.*s", 600, big), BUF_NO_MEMORY);
    CHECK_INT(b.len, 0);
    buf_cleanup(&b);

    /* take of a never-appended buffer allocates its empty string: that can fail too. */
    alloc_fail_nth(1);
    CHECK(buf_take(&b, NULL) == NULL);
    alloc_fail_nth(0);
    buf_cleanup(&b);
}

int main(void)
{
    test_appends();
    test_printf_growth();
    test_cap();
    test_take();
    test_no_memory();
    return check_finish("test_buf");
}
