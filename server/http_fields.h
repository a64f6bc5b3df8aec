/*
 * http_fields.h - the header-field checks of a request's first call: that libmicrohttpd
 * stored the request line and the header lines exactly as they arrived, and that every
 * field is well formed. Run before the framing checks (http_framing.h), before a body
 * byte is read.
 *
 * libmicrohttpd 0.9.75 parses the request head in place and reads some malformed heads
 * differently from the HTTP software in front of it - the ground of request smuggling:
 *   - an obsolete line fold (a line starting with SP or HTAB) is glued onto the previous
 *     header's name: "Content-Lengt: 5" + " h" arrives as "Content-Length: 5", and
 *     "Transfer-Encoding:" + " chunked" as a header named "Transfer-Encodingchunked";
 *   - "Content-Length : 5" (whitespace before the colon) arrives as a header named
 *     "Content-Length " that it ignores, so the body is read as the next request;
 *   - a raw NUL byte ends a header value or the request target where it stands and the
 *     rest of the line is dropped ("Bearer <token>\0junk" arrives as "Bearer <token>");
 *   - a bare LF ends a line, a bare CR stays inside the value, two Host headers are kept.
 * No MHD_OPTION_STRICT_FOR_CLIENT level of 0.9.75 refuses these (levels 1 and 2 behave
 * alike; -1 refuses whitespace before a colon but drops the Host and target checks).
 *
 * So every request is checked here, and any of these is a 400 (the connection is closed
 * after the answer):
 *   - the head as stored is not the head as sent. Every string libmicrohttpd hands over
 *     (method, target, version, each name and value) points into the buffer the head
 *     arrived in, in order; when nothing was changed each begins where the one before it
 *     ended plus its separator - method SP target SP version CRLF, then per field
 *     name ":" OWS value CRLF, then CRLF - and the head ends exactly
 *     MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE bytes after the method. A folded line (its
 *     name is copied elsewhere), bytes behind a NUL, a bare LF or two spaces in the
 *     request line break that chain. This relies on how libmicrohttpd 0.9.75 stores the
 *     head (the build refuses another version; the framing tests in
 *     tests/integration/test_http.c pin the behaviour): a version that stored it
 *     differently would fail requests here, not let a changed one through;
 *   - a field name that is not an RFC 9110 token (whitespace before the colon, ...), or
 *     that begins with "Content-Length" or "Transfer-Encoding" without being exactly
 *     that (case-insensitive);
 *   - a control character other than HTAB in a field value (a bare CR, ...);
 *   - more than one Host header.
 * What cannot be seen here at all: a bare LF inside a chunked body's framing (read by
 * libmicrohttpd alone), and a Content-Length that is not a plain number, which
 * libmicrohttpd refuses itself before this code runs (its 400 carries its header block
 * twice). Deployments put a proxy that refuses or rewrites such requests in front
 * (docker/nginx.conf; README "Deployment"). Thread-safe.
 */
#ifndef TESSERA_SERVER_HTTP_FIELDS_H
#define TESSERA_SERVER_HTTP_FIELDS_H

#include "http_conn.h"

#include <stddef.h>

/* Check the head of the request on conn (hc: its connection state, may be NULL - the
 * request target is then not checked; method, url and version as libmicrohttpd passed
 * them to the first access-handler call). Returns 0 when it holds, or 400 with the reason
 * in detail. */
int http_fields_check(struct MHD_Connection *conn, const struct http_conn *hc, const char *method,
                      const char *url, const char *version, char *detail, size_t detail_size);

#endif
