/* http_framing.c - the framing checks of a request's first call; see http_framing.h. */
#include "http_framing.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct http_framing_headers {
    unsigned content_length_count;
    const char *content_length;
    unsigned transfer_encoding_count;
    const char *transfer_encoding;
};

static enum MHD_Result http_framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
    (void)kind;
    struct http_framing_headers *h = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        h->content_length_count++;
        h->content_length = value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        h->transfer_encoding_count++;
        h->transfer_encoding = value;
    }
    return MHD_YES;
}

/* Strict decimal Content-Length. */
static bool http_framing_length(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return *s == '\0';
}

int http_framing_check(struct MHD_Connection *conn, const struct http_conn *hc, const char *url,
                       const char *version, struct http_framing *out, char *detail,
                       size_t detail_size)
{
    struct http_framing_headers h = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http_framing_header, &h);
    out->content_length = 0;
    out->body_announced = h.transfer_encoding_count > 0 ||
                          (h.content_length_count > 0 && strcmp(h.content_length, "0") != 0);
    if (hc != NULL && hc->target_has_nul) {
        snprintf(detail, detail_size, "the request target contains an encoded NUL byte (%%00)");
        return 400;
    }
    if ((hc != NULL && hc->target_not_origin_form) || url[0] != '/') {
        snprintf(detail, detail_size, "the request target must be a path starting with '/'");
        return 400;
    }
    if (h.transfer_encoding_count > 0) {
        if (h.transfer_encoding_count > 1 || strcasecmp(h.transfer_encoding, "chunked") != 0) {
            snprintf(detail, detail_size,
                     "Transfer-Encoding '%.64s' is not supported; only 'chunked'",
                     h.transfer_encoding);
            return 501;
        }
        if (h.content_length_count > 0) {
            snprintf(detail, detail_size,
                     "Transfer-Encoding and Content-Length must not both be sent");
            return 400;
        }
        if (strcmp(version, MHD_HTTP_VERSION_1_0) == 0) {
            snprintf(detail, detail_size, "Transfer-Encoding is not allowed in HTTP/1.0");
            return 400;
        }
    }
    if (h.content_length_count > 1) {
        snprintf(detail, detail_size, "more than one Content-Length header");
        return 400;
    }
    if (h.content_length_count == 1 &&
        !http_framing_length(h.content_length, &out->content_length)) {
        snprintf(detail, detail_size, "Content-Length '%.32s' is not a decimal number",
                 h.content_length);
        return 400;
    }
    return 0;
}
