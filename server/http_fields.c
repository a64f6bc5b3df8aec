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
    uintptr_t head_end; /* one past the head's last byte */
    uintptr_t line;     /* where the previous line's content ended */
    bool moved;         /* a string is not where the head as sent would put it */
    unsigned hosts;
    const char *bad;    /* the name of the first field that is not acceptable, or NULL */
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

/* Why value is not acceptable (RFC 9110 field-value: no control character but HTAB), or
 * NULL. */
static const char *http_fields_value_problem(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return c == '\r' ? "holds a bare CR" : "holds a control character";
    }
    return NULL;
}

/* Is this field stored as sent: its name right after the previous line's CRLF, then ":"
 * (which libmicrohttpd overwrote), optional SP / HTAB, the value, all inside the head?
 * Reads only bytes between the name and the value, after checking both are in the head. */
static bool http_fields_in_place(const struct http_fields_walk *w, const char *key, size_t key_len,
                                 const char *value, size_t value_len)
{
    uintptr_t k = (uintptr_t)key, v = (uintptr_t)value;
    if (k != w->line + 2 || v <= k + key_len || v + value_len > w->head_end)
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
    if (!http_fields_in_place(w, key, key_len, value, value_len)) {
        w->moved = true;
        return MHD_NO;
    }
    w->line = (uintptr_t)value + value_len;
    const char *why = http_fields_name_problem(key, key_len);
    if (why == NULL)
        why = http_fields_value_problem(value, value_len);
    if (why == NULL && strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0 && ++w->hosts > 1)
        why = "is sent more than once";
    if (why != NULL) {
        w->bad = key;
        w->reason = why;
        return MHD_NO;
    }
    return MHD_YES;
}

/* Is the request line stored as sent: method SP target SP version, the target as long as
 * the URI-log callback saw it (a NUL would have cut it there)? Without hc only the version
 * is located. Sets w->line to the end of the version. */
static bool http_fields_request_line(struct http_fields_walk *w, const struct http_conn *hc,
                                     const char *method, const char *url, const char *version)
{
    uintptr_t m = (uintptr_t)method, u = (uintptr_t)url, v = (uintptr_t)version;
    w->line = v + strlen(version);
    if (hc == NULL)
        return v > m && w->line <= w->head_end;
    return u == m + strlen(method) + 1 && v == u + hc->target_len + 1 && w->line <= w->head_end;
}

int http_fields_check(struct MHD_Connection *conn, const struct http_conn *hc, const char *method,
                      const char *url, const char *version, char *detail, size_t detail_size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    struct http_fields_walk w = {.head_end = (uintptr_t)method + (ci ? ci->header_size : 0)};
    if (!http_fields_request_line(&w, hc, method, url, version)) {
        snprintf(detail, detail_size,
                 "the request line holds a NUL byte or more than one space between its parts");
        return 400;
    }
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, http_fields_field, &w);
    /* The last field's CRLF and the empty line's CRLF end the head. */
    if (w.moved || (w.bad == NULL && w.line + 4 != w.head_end)) {
        snprintf(detail, detail_size,
                 "a header line is folded (continued on a line starting with whitespace), "
                 "holds a NUL byte or does not end in CRLF; send each header on one line of "
                 "visible characters ended by CRLF");
        return 400;
    }
    if (w.bad != NULL) {
        snprintf(detail, detail_size, "header '%.64s' %s", w.bad, w.reason);
        return 400;
    }
    return 0;
}
