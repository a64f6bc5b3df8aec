/*
 * classify.c - the public entry points of classification; see classify.h.
 *
 * A regular file goes to the TIFF walk (core/classify_tiff.c over a core/tiff_ifd byte
 * source), a directory to the Zarr detector (core/classify_zarr.c); anything else is refused
 * here. The names of the result's enums live here too.
 */
#include "classify.h"

#include "classify_tiff.h"
#include "classify_zarr.h"
#include "limit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ---- public entry points ------------------------------------------------------------------ */

static unsigned classify_max_ifds(const struct classify_options *opt)
{
    return opt != NULL && opt->max_ifds > 0 ? opt->max_ifds : LIMIT_MAX_IFDS;
}

enum error_code classify_fd_at(int root_fd, const char *path, size_t len, int fd,
                               const struct stat *st, const struct classify_options *opt,
                               struct classify_result *out, struct error_info *err)
{
    struct stat own;
    if (st == NULL) {
        if (fstat(fd, &own) != 0)
            return error_set_sys(err, ERROR_IO, errno, "fstat failed: %s", strerrordesc_np(errno));
        st = &own;
    }
    if (S_ISDIR(st->st_mode)) {
        size_t max =
            opt != NULL && opt->zarr_json_max > 0 ? opt->zarr_json_max : LIMIT_ZARR_JSON_MAX;
        return classify_zarr_dir(root_fd, path, len, max, out, err);
    }
    if (!S_ISREG(st->st_mode))
        return error_set(err, ERROR_UNPROCESSABLE, "not a regular file or directory");
    struct tiff_ifd_src s;
    tiff_ifd_src_fd(&s, fd, (uint64_t)st->st_size);
    return classify_tiff_read(&s, classify_max_ifds(opt), out, err);
}

enum error_code classify_fd(int fd, const struct stat *st, const struct classify_options *opt,
                            struct classify_result *out, struct error_info *err)
{
    return classify_fd_at(fd, "", 0, fd, st, opt, out, err);
}

enum error_code classify_buffer(const void *buf, size_t len, const struct classify_options *opt,
                                struct classify_result *out, struct error_info *err)
{
    struct tiff_ifd_src s;
    tiff_ifd_src_mem(&s, buf, len);
    return classify_tiff_read(&s, classify_max_ifds(opt), out, err);
}

void classify_name_copy(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n >= CLASSIFY_NAME_MAX)
        n = CLASSIFY_NAME_MAX - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void classify_warn(struct classify_result *r, const char *fmt, ...)
{
    if (r->warning_count >= CLASSIFY_WARNINGS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->warning_count], CLASSIFY_WARNING_LEN, fmt, ap);
    va_end(ap);
    r->warning_count++;
}

const char *classify_associated_name(unsigned bit)
{
    switch (bit) {
    case CLASSIFY_ASSOCIATED_THUMBNAIL:
        return "thumbnail";
    case CLASSIFY_ASSOCIATED_LABEL:
        return "label";
    case CLASSIFY_ASSOCIATED_MACRO:
        return "macro";
    default:
        return NULL;
    }
}

const char *classify_container_name(enum classify_container c)
{
    switch (c) {
    case CLASSIFY_CONTAINER_TIFF:
        return "tiff";
    case CLASSIFY_CONTAINER_BIGTIFF:
        return "bigtiff";
    case CLASSIFY_CONTAINER_ZARR:
        return "zarr";
    case CLASSIFY_CONTAINER_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *classify_reader_name(enum classify_reader r)
{
    switch (r) {
    case CLASSIFY_READER_VIPS:
        return "vips";
    case CLASSIFY_READER_OPENSLIDE:
        return "openslide";
    case CLASSIFY_READER_BIOFORMATS:
        return "bioformats";
    case CLASSIFY_READER_ZARR:
        return "zarr";
    case CLASSIFY_READER_NONE:
        break;
    }
    return NULL;
}

const char *classify_img_type_name(enum classify_img_type t)
{
    switch (t) {
    case CLASSIFY_IMG_TYPE_IMG:
        return "img";
    case CLASSIFY_IMG_TYPE_SLIDE:
        return "slide";
    case CLASSIFY_IMG_TYPE_NULL:
        break;
    }
    return NULL;
}

const char *classify_stack_source_name(enum classify_stack_source s)
{
    switch (s) {
    case CLASSIFY_STACK_IMAGEJ:
        return "imagej";
    case CLASSIFY_STACK_OME:
        return "ome";
    case CLASSIFY_STACK_PAGES:
        return "pages";
    case CLASSIFY_STACK_NONE:
        break;
    }
    return NULL;
}
