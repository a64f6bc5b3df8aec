/*
 * load_npy.c - the .npy kind of core/load: a 2-D (y, x) or 3-D (z, y, x) integer array (or,
 * with options.intensity, a 4- or 8-byte float array) held in memory, parsed by core/npy and read
 * as blocks of rows; see load.h.
 *
 * Arrays of more dimensions are accepted when every dimension before the last three is 1
 * (a (t, c, z, y, x) label image). A band is up to LOAD_NPY_BAND_PIXELS pixels of whole rows
 * of one slice, converted by npy_read_rows (a copy, a byte swap for a foreign byte order, or
 * a strided gather for Fortran order). The readers are stateless: the array is shared
 * read-only.
 */
#include "alloc.h"
#include "npy.h"
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_NPY_BAND_PIXELS ((uint64_t)1 << 18)

struct npy_layout {
    struct npy_info npy;
    const unsigned char *data; /* the first element */
};

static enum overlap_dtype npy_overlap_dtype(const struct npy_dtype *d)
{
    static const enum overlap_dtype u[] = {OVERLAP_U8, OVERLAP_U16, OVERLAP_U32, OVERLAP_U64};
    static const enum overlap_dtype s[] = {OVERLAP_I8, OVERLAP_I16, OVERLAP_I32, OVERLAP_I64};
    unsigned k = d->width == 1 ? 0 : d->width == 2 ? 1 : d->width == 4 ? 2 : 3;
    return d->is_signed ? s[k] : u[k];
}

/* The shape as text for details, as Python prints it: "(2, 3, 4)", "(10,)". */
static void npy_shape_text(const struct npy_info *n, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (unsigned i = 0; i < n->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)n->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, n->ndim == 1 ? ",)" : ")");
}

static enum error_code npy_describe(const struct load_source *src, const char *name,
                                    const struct load_options *opt, struct source_layout *layout,
                                    void **reader, struct error_info *err)
{
    *reader = NULL;
    if (src->data == NULL)
        return error_set(err, ERROR_INVALID, "%s: no .npy data", name);
    struct npy_layout *l = alloc_zeroed(1, sizeof *l);
    if (l == NULL)
        return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a .npy description", name);
    layout->priv = l;
    struct npy_info *n = &l->npy;
    enum error_code rc = opt->intensity ? npy_parse_intensity(src->data, src->size, name, n, err)
                                        : npy_parse(src->data, src->size, name, n, err);
    if (rc != ERROR_OK)
        return rc;
    l->data = (const unsigned char *)src->data + n->data_offset;
    char shape[160];
    npy_shape_text(n, shape, sizeof shape);
    if (n->ndim < 2)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: the array has shape %s; a label image is (y, x) or (z, y, x)", name,
                         shape);
    for (unsigned i = 0; i + 3 < n->ndim; i++)
        if (n->shape[i] != 1)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: the array has shape %s; beyond (z, y, x) every leading "
                             "dimension must be 1",
                             name, shape);
    const uint64_t depth = n->ndim == 2 ? 1 : n->shape[n->ndim - 3];
    const uint64_t height = n->shape[n->ndim - 2], width = n->shape[n->ndim - 1];
    if (depth == 0 || height == 0 || width == 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: the array has shape %s: no pixels", name,
                         shape);
    if (depth > UINT32_MAX || height > UINT32_MAX || width > UINT32_MAX)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: the array has shape %s; dimensions up to 4294967295 are read", name,
                         shape);
    struct load_info *info = &layout->info;
    memset(info, 0, sizeof *info);
    info->kind = LOAD_NPY;
    info->depth = (uint32_t)depth;
    info->height = (uint32_t)height;
    info->width = (uint32_t)width;
    info->dtype = npy_overlap_dtype(&n->dtype);
    if (n->dtype.floating) { /* as core/load.h says: the unsigned type of the same width */
        info->floating = true;
        info->dtype = n->dtype.width == 4 ? OVERLAP_U32 : OVERLAP_U64;
    }
    info->bits = (uint16_t)(n->dtype.width * 8u);
    info->big_endian = n->dtype.big_endian;
    info->band_depth = 1;
    uint64_t rows = LOAD_NPY_BAND_PIXELS / width;
    info->band_rows = (uint32_t)(rows == 0 ? 1 : rows > height ? height : rows);
    info->bands = (uint32_t)((height + info->band_rows - 1) / info->band_rows);
    if ((rc = source_check_voxels(info, opt, name, err)) != ERROR_OK)
        return rc;
    return source_check_band(info, opt, name, "band of rows", err);
}

static enum error_code npy_open(const struct load_source *src, const char *name,
                                const struct load_options *opt, const struct source_layout *layout,
                                void **reader, struct error_info *err)
{
    (void)src;
    (void)name;
    (void)opt;
    (void)layout;
    (void)err;
    *reader = NULL; /* nothing per worker */
    return ERROR_OK;
}

static enum error_code npy_read_band(void *reader, const struct source_layout *layout,
                                     const char *name, uint32_t bz, uint32_t by, void *dst,
                                     struct error_info *err)
{
    (void)reader;
    (void)name;
    const struct npy_layout *l = layout->priv;
    const struct load_info *info = &layout->info;
    const uint32_t y0 = by * info->band_rows;
    const uint32_t rows = info->height - y0 < info->band_rows ? info->height - y0 : info->band_rows;
    const size_t len = (size_t)rows * info->width * (info->bits / 8u);
    return npy_read_rows(&l->npy, l->data, (uint64_t)bz * info->height + y0, rows, dst, len, err);
}

static void npy_cleanup(struct source_layout *layout)
{
    free(layout->priv);
    layout->priv = NULL;
}

const struct source_ops source_npy_ops = {.describe = npy_describe,
                                          .open = npy_open,
                                          .read_band = npy_read_band,
                                          .close = NULL,
                                          .cleanup = npy_cleanup};
