/* http_fields.c - the header-field checks of a request's first call; see http_fields.h. */
#include "http_fields.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#if MHD_VERSION != 0x00097500
#error "http_fields.c reads the request head as libmicrohttpd 0.9.75 stores it; check the \
framing tests (tests/integration/test_http.c) against this version before allowing it"
#endif

/* A walk over the header fields in the order they arrived. Positions are compared as
 * integers: they point into libmicrohttpd's read buffer, except a name it copied. */
struct http_fields_walk {
    uintptr_t line;     /* where the current line must begin */
    bool moved;         /* a name or value is not where its line put it */
    const char *bad;    /* the first name that is not acceptable, or NULL */
    const char *reason; /* why */
};

/* RFC 9110 tchar. */
static bool http_fields_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Why name is not acceptable, or NULL. */
static const char *http_fields_name_problem(const char *name, size_t len)
{
    if (len == 0)
        return "is empty";
    for (size_t i = 0; i < len; i++)
        if (!http_fields_tchar((unsigned char)name[i]))
            return name[i] == ' ' || name[i] == '\t' ? "has whitespace before its colon"
                                                     : "is not a token";
    static const char *const framing[] = {MHD_HTTP_HEADER_CONTENT_LENGTH,
                                          MHD_HTTP_HEADER_TRANSFER_ENCODING};
    for (size_t i = 0; i < sizeof framing / sizeof framing[0]; i++) {
        size_t n = strlen(framing[i]);
        if (len > n && strncasecmp(name, framing[i], n) == 0)
            return "is not a framing header but begins like one";
    }
    return NULL;
}

/* Is the line that begins at line the line of this field: the name first, then ":" (which
 * libmicrohttpd overwrote), optional SP / HTAB, the value? Reads only bytes between the
 * name and the value, after checking both are in that line. */
static bool http_fields_in_place(uintptr_t line, const char *key, size_t key_len, const char *value)
{
    uintptr_t k = (uintptr_t)key, v = (uintptr_t)value;
    if (k != line || v <= k + key_len)
        return false;
    for (const char *p = key + key_len + 1; p < value; p++)
        if (*p != ' ' && *p != '\t')
            return false;
    return true;
}

static enum MHD_Result http_fields_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                         size_t key_len, const char *value, size_t value_len)
{
    (void)kind;
    struct http_fields_walk *w = cls;
    /* The line before ended with CRLF or LF (libmicrohttpd overwrote both). */
    if (!http_fields_in_place(w->line + 2, key, key_len, value) &&
        !http_fields_in_place(w->line + 1, key, key_len, value)) {
        w->moved = true;
        return MHD_NO;
    }
    w->line = (uintptr_t)value + value_len;
    const char *why = http_fields_name_problem(key, key_len);
    if (why != NULL) {
        w->bad = key;
        w->reason = why;
        return MHD_NO;
    }
    return MHD_YES;
}

int http_fields_check(struct MHD_Connection *conn, const char *version, char *detail,
                      size_t detail_size)
{
    struct http_fields_walk w = {.line = (uintptr_t)version + strlen(version)};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, http_fields_field, &w);
    if (w.moved) {
        snprintf(detail, detail_size,
                 "a header line is folded (continued on a line starting with whitespace) or "
                 "holds a NUL byte; send each header on one line of visible characters");
        return 400;
    }
    if (w.bad != NULL) {
        snprintf(detail, detail_size, "header name '%.64s' %s", w.bad, w.reason);
        return 400;
    }
    return 0;
}
