/*
 * http_fields.h - the header-field checks of a request's first call: that libmicrohttpd
 * stored the header lines as they arrived, and that every field name is well formed. Run
 * before the framing checks (http_framing.h), before a body byte is read.
 *
 * libmicrohttpd 0.9.75 parses the request head in place and reads some malformed heads
 * differently from the HTTP software in front of it - the ground of request smuggling:
 *   - an obsolete line fold (a line starting with SP or HTAB) is glued onto the previous
 *     header's name: "Content-Lengt: 5" + " h" arrives as "Content-Length: 5", and
 *     "Transfer-Encoding:" + " chunked" as a header named "Transfer-Encodingchunked";
 *   - "Content-Length : 5" (whitespace before the colon) arrives as a header named
 *     "Content-Length " that it ignores, so the body is read as the next request.
 * No MHD_OPTION_STRICT_FOR_CLIENT level of 0.9.75 refuses these (levels 1 and 2 behave
 * alike; -1 refuses whitespace before a colon but drops the Host and target checks).
 *
 * So every request is checked here, and any of these is a 400 (the connection is closed
 * after the answer):
 *   - a header line not stored as it was sent. Every name and value libmicrohttpd hands
 *     over points into the buffer the head arrived in, in order; when nothing was changed
 *     each name begins where the line before it ended plus its line end, and each value
 *     after its name's ":" and optional whitespace. A folded line (its name is copied
 *     elsewhere) breaks that chain. This relies on how libmicrohttpd 0.9.75 stores the
 *     head (the build refuses another version; the framing tests in
 *     tests/integration/test_http.c pin the behaviour): a version that stored it
 *     differently would fail requests here, not let a changed one through;
 *   - a field name that is not an RFC 9110 token (whitespace before the colon, ...), or
 *     that begins with "Content-Length" or "Transfer-Encoding" without being exactly
 *     that (case-insensitive).
 * Thread-safe.
 */
#ifndef TESSERA_SERVER_HTTP_FIELDS_H
#define TESSERA_SERVER_HTTP_FIELDS_H

#include "http_conn.h"

#include <stddef.h>

/* Check the header fields of the request on conn (version as libmicrohttpd passed it to the
 * first access-handler call). Returns 0 when they hold, or 400 with the reason in
 * detail. */
int http_fields_check(struct MHD_Connection *conn, const char *version, char *detail,
                      size_t detail_size);

#endif
