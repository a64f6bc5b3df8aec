/* multipart.c - in-place multipart/form-data splitting; see multipart.h. */
#include "multipart.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 */

/* Copy the boundary parameter of content_type into out; false when absent or bad. */
static bool multipart_boundary(const char *content_type, char *out, size_t size)
{
    if (content_type == NULL || strncasecmp(content_type, "multipart/form-data", 19) != 0)
        return false;
    const char *p = strcasestr(content_type, "boundary=");
    if (p == NULL)
        return false;
    p += 9;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (p[n] != '\0' && p[n] != '"')
            n++;
        if (p[n] != '"')
            return false;
    } else {
        while (p[n] != '\0' && p[n] != ';' && p[n] != ' ' && p[n] != '\t')
            n++;
    }
    if (n == 0 || n > MULTIPART_BOUNDARY_MAX || n + 1 > size)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Copy the quoted value after p (which points past the opening quote) into out (size bytes,
 * truncated to fit); *len gets the full length. False when there is no closing quote. */
static bool multipart_quoted(const char *p, char *out, size_t size, size_t *len)
{
    const char *end = strchr(p, '"');
    if (end == NULL)
        return false;
    *len = (size_t)(end - p);
    size_t n = *len < size - 1 ? *len : size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* The name="..." (and filename="...") of a Content-Disposition line and the Content-Type
 * inside headers[0..hlen), into part. False when there is no name. */
static bool multipart_part_headers(const unsigned char *headers, size_t hlen,
                                   struct multipart_part *part)
{
    char block[MULTIPART_HEADER_MAX + 3]; /* the block, its closing CRLF, and a NUL */
    bool named = false;
    memcpy(block, headers, hlen);
    block[hlen] = '\0';
    part->filename[0] = part->content_type[0] = '\0';
    if (memchr(block, '\0', hlen) != NULL)
        return false;
    for (char *line = block; line != NULL && *line != '\0';) {
        char *next = strstr(line, "\r\n");
        if (next != NULL)
            *next = '\0';
        if (strncasecmp(line, "Content-Type:", 13) == 0) {
            const char *p = line + 13;
            while (*p == ' ' || *p == '\t')
                p++;
            size_t n = strcspn(p, " \t;");
            n = n < sizeof part->content_type - 1 ? n : sizeof part->content_type - 1;
            memcpy(part->content_type, p, n);
            part->content_type[n] = '\0';
        }
        if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
            const char *p = line + 20;
            while (*p != '\0') {
                while (*p == ' ' || *p == ';' || *p == '\t')
                    p++;
                size_t n;
                if (!named && strncasecmp(p, "name=\"", 6) == 0) {
                    if (!multipart_quoted(p + 6, part->name, sizeof part->name, &n) || n == 0 ||
                        n >= sizeof part->name)
                        return false;
                    named = true;
                    p += 6 + n + 1;
                    continue;
                }
                if (strncasecmp(p, "filename=\"", 10) == 0) {
                    if (!multipart_quoted(p + 10, part->filename, sizeof part->filename, &n))
                        return false;
                    p += 10 + n + 1;
                    continue;
                }
                while (*p != '\0' && *p != ';')
                    p++;
            }
        }
        line = next ? next + 2 : NULL;
    }
    return named;
}

enum error_code multipart_parse(const char *content_type, const unsigned char *body, size_t len,
                                struct multipart_part *parts, size_t max_parts, size_t *n,
                                struct error_info *err)
{
    *n = 0;
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    if (!multipart_boundary(content_type, boundary, sizeof boundary))
        return error_set(err, ERROR_INVALID,
                         "multipart/form-data needs a boundary parameter of 1-70 characters");
    char delim[MULTIPART_BOUNDARY_MAX + 5]; /* "\r\n--" + boundary */
    size_t blen = strlen(boundary);
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;

    if (len == 0) /* the server passes no buffer at all for an empty body */
        return error_set(err, ERROR_INVALID, "the multipart body is empty (no boundary found)");

    /* The first delimiter may start the body without the leading CRLF. */
    const unsigned char *p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
        p = body + dlen - 2;
    else {
        p = memmem(body, len, delim, dlen);
        if (p == NULL)
            return error_set(err, ERROR_INVALID, "no multipart boundary found in the body");
        p += dlen;
    }
    const unsigned char *end = body + len;
    for (;;) {
        /* After a delimiter: "--" closes, CRLF opens a part. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return ERROR_OK;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return error_set(err, ERROR_INVALID, "malformed multipart delimiter line");
        p += 2;
        const unsigned char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (hend == NULL)
            return error_set(err, ERROR_INVALID, "a multipart part has no end of headers");
        if ((size_t)(hend - p) > MULTIPART_HEADER_MAX)
            return error_set(err, ERROR_INVALID, "multipart part headers over %d bytes",
                             MULTIPART_HEADER_MAX);
        if (*n == max_parts)
            return error_set(err, ERROR_INVALID, "more than %zu multipart parts", max_parts);
        struct multipart_part *part = &parts[*n];
        if (!multipart_part_headers(p, (size_t)(hend - p) + 2, part))
            return error_set(err, ERROR_INVALID,
                             "multipart part %zu has no Content-Disposition name", *n + 1);
        if (multipart_find(parts, *n, part->name) != NULL)
            return error_set(err, ERROR_INVALID, "multipart part '%s' is given twice", part->name);
        part->data = hend + 4;
        const unsigned char *next = memmem(part->data, (size_t)(end - part->data), delim, dlen);
        if (next == NULL)
            return error_set(err, ERROR_INVALID,
                             "multipart part '%s' is not closed by a boundary (truncated?)",
                             part->name);
        part->len = (size_t)(next - part->data);
        (*n)++;
        p = next + dlen;
    }
}

const struct multipart_part *multipart_find(const struct multipart_part *parts, size_t n,
                                            const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(parts[i].name, name) == 0)
            return &parts[i];
    return NULL;
}
