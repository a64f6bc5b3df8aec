/*
 * http_framing.h - the framing checks of a request's first call, run before libmicrohttpd
 * reads a body byte: the request target, Transfer-Encoding and Content-Length.
 *
 * libmicrohttpd 0.9.75 itself refuses only some malformed requests (HTTP/1.1 without Host,
 * a Content-Length that is not a number, an unknown version). It hands the access handler,
 * without complaint, requests whose framing other HTTP software may read differently - the
 * ground of request smuggling behind a proxy - or whose target it has already changed:
 *   - a percent-encoded NUL ("%00") in the target: it decodes the path in place, so the
 *     path the handler would see ends at the NUL;
 *   - a target that is not a path (absolute form "http://host/x", or "*");
 *   - a Transfer-Encoding other than exactly "chunked" (the only coding it decodes);
 *   - Transfer-Encoding together with Content-Length, or in an HTTP/1.0 request;
 *   - more than one Content-Length (it uses only one of them).
 * Each of these is refused here (400, or 501 for an unknown transfer coding), and the
 * connection is closed after the answer. The raw target is known from the URI-log callback
 * (http_conn_uri_seen), which sees it before it is decoded. Thread-safe.
 */
#ifndef TESSERA_SERVER_HTTP_FRAMING_H
#define TESSERA_SERVER_HTTP_FRAMING_H

#include "http_conn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_framing {
    bool body_announced;     /* a Content-Length other than "0", or Transfer-Encoding */
    uint64_t content_length; /* 0 when none was sent */
};

/* Check the framing of the request on conn (hc: its connection state, may be NULL; url and
 * version as libmicrohttpd passed them). Fills *out - body_announced even when the check
 * fails - and returns 0 when the framing holds, or the status to answer with and the reason
 * in detail. */
int http_framing_check(struct MHD_Connection *conn, const struct http_conn *hc, const char *url,
                       const char *version, struct http_framing *out, char *detail,
                       size_t detail_size);

#endif
