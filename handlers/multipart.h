/*
 * multipart.h - split a multipart/form-data body (RFC 7578) into its named parts, in place.
 *
 * Parts point into the body: nothing is copied, so a 500 MB TIFF upload costs no second
 * buffer. Only what uploads need is read from each part's headers: the name and filename
 * from Content-Disposition, and the Content-Type. Bounded: at most max_parts parts, header blocks
 * of at most MULTIPART_HEADER_MAX bytes.
 */
#ifndef TESSERA_HANDLERS_MULTIPART_H
#define TESSERA_HANDLERS_MULTIPART_H

#include "error.h"

#include <stddef.h>

#define MULTIPART_NAME_MAX     64
#define MULTIPART_FILENAME_MAX 256
#define MULTIPART_TYPE_MAX     128
#define MULTIPART_HEADER_MAX   4096

struct multipart_part {
    char name[MULTIPART_NAME_MAX];
    char filename[MULTIPART_FILENAME_MAX]; /* filename="..." (truncated to fit); "" if none */
    char content_type[MULTIPART_TYPE_MAX]; /* the part's Content-Type (truncated); "" if none */
    const unsigned char *data;             /* points into the body */
    size_t len;
};

/*
 * Parse body (len bytes) whose Content-Type header is content_type. Fills parts[0..*n) in
 * body order. ERROR_INVALID (with a detail) when the boundary is missing, a delimiter or
 * the closing delimiter is missing, a part has no name, a name repeats, or there are more
 * than max_parts parts. Thread-safe; never allocates.
 */
enum error_code multipart_parse(const char *content_type, const unsigned char *body, size_t len,
                                struct multipart_part *parts, size_t max_parts, size_t *n,
                                struct error_info *err) ERROR_MUST_CHECK;

/* The part named name, or NULL. */
const struct multipart_part *multipart_find(const struct multipart_part *parts, size_t n,
                                            const char *name);

#endif
