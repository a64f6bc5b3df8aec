/*
 * load_zarr.c - the Zarr kind of core/load: an array beneath the data root (core/zarr_array
 * reads its metadata) decoded one row of chunks per band; see load.h.
 *
 * The array is (z, y, x) in its last three dimensions, (y, x) in its last two; dimensions
 * before them must be 1 (NGFF label images are (t, c, z, y, x) with t = c = 1), except a
 * channel axis the source selects one index of (select_c): then that dimension is dropped,
 * the band's chunks are those of the index, and each is copied from the index's slab. A band is
 * one chunk deep and one chunk tall at the full width: its chunks are opened one by one
 * through core/confine (a chunk missing from the store is the fill value; a symlink that
 * leaves the root is refused), read whole into a buffer of at most max_alloc bytes, decoded
 * by core/zarr_codec into one chunk buffer and copied, cut to the array, into the band. So
 * a worker holds one stored chunk, one decoded chunk and one band.
 */
#include "alloc.h"
#include "confine.h"
#include "source.h"
#include "zarr_array.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct zarr_layout {
    struct zarr_array_meta meta;
    char path[CONFINE_PATH_MAX + 1]; /* the array directory beneath the root */
    int root_fd;
    uint64_t cz, cy, cx; /* chunk depth (1 for 2-D), height, width */
    uint64_t across;     /* chunks across the width */
    unsigned z_axis;     /* the depth dimension; ndim when there is none */
    bool select_c;       /* the source's select_c and c_axis */
    unsigned c_axis;
    uint64_t c_chunk;  /* select_c: the chunk index along c_axis */
    size_t c_offset;   /* select_c: elements into a decoded chunk where the index starts */
    size_t max_stored; /* bytes a stored chunk may have: max_alloc (0 = no limit) */
};

struct zarr_reader {
    struct zarr_codec_work work;
    void *chunk;       /* one decoded chunk */
    unsigned char *in; /* one stored chunk */
    size_t in_cap;
};

static enum overlap_dtype zarr_overlap_dtype(const struct npy_dtype *d)
{
    static const enum overlap_dtype u[] = {OVERLAP_U8, OVERLAP_U16, OVERLAP_U32, OVERLAP_U64};
    static const enum overlap_dtype s[] = {OVERLAP_I8, OVERLAP_I16, OVERLAP_I32, OVERLAP_I64};
    unsigned k = d->width == 1 ? 0 : d->width == 2 ? 1 : d->width == 4 ? 2 : 3;
    return d->is_signed ? s[k] : u[k];
}

static void zarr_close(void *reader)
{
    struct zarr_reader *r = reader;
    if (r == NULL)
        return;
    zarr_codec_work_cleanup(&r->work);
    free(r->chunk);
    free(r->in);
    free(r);
}

static void zarr_cleanup(struct source_layout *layout)
{
    free(layout->priv);
    layout->priv = NULL;
}

static enum error_code zarr_open(const struct load_source *src, const char *name,
                                 const struct load_options *opt, const struct source_layout *layout,
                                 void **reader, struct error_info *err)
{
    (void)src;
    (void)opt;
    const struct zarr_layout *z = layout->priv;
    struct zarr_reader *r = alloc_zeroed(1, sizeof *r);
    *reader = r;
    if (r == NULL)
        return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a Zarr reader", name);
    zarr_codec_work_init(&r->work);
    r->chunk = alloc_large(z->meta.chain.chunk_bytes);
    if (r->chunk == NULL)
        return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a chunk buffer", name);
    return ERROR_OK;
}

/* The shape as text for details: "(1, 2, 3)". */
static void shape_text(const uint64_t *shape, unsigned ndim, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (unsigned i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
}

static enum error_code zarr_describe(const struct load_source *src, const char *name,
                                     const struct load_options *opt, struct source_layout *layout,
                                     void **reader, struct error_info *err)
{
    *reader = NULL;
    struct zarr_layout *z = alloc_zeroed(1, sizeof *z);
    if (z == NULL)
        return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a Zarr description", name);
    layout->priv = z;
    z->root_fd = src->root_fd;
    z->max_stored = opt->max_alloc;
    const struct zarr_array_meta *m = &z->meta;
    enum error_code rc =
        zarr_array_open(src->root_fd, src->path, src->path_len, src->level, opt->max_json,
                        opt->intensity, z->path, sizeof z->path, &z->meta, err);
    if (rc != ERROR_OK)
        return rc;
    char shape[200];
    shape_text(m->shape, m->ndim, shape, sizeof shape);
    if (m->ndim < 2)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: the array has shape %s; a label image is (y, x) or (z, y, x)",
                         z->path, shape);
    const unsigned nd = m->ndim;
    if (src->select_c && (src->c_axis + 2 >= nd || src->c_index >= m->shape[src->c_axis]))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: the array has shape %s: no index %llu of a channel axis %u", z->path,
                         shape, (unsigned long long)src->c_index, src->c_axis);
    z->z_axis = nd >= 3 && !(src->select_c && src->c_axis == nd - 3) ? nd - 3 : nd;
    for (unsigned i = 0; i + 2 < m->ndim; i++)
        if (m->shape[i] != 1 && i != z->z_axis && !(src->select_c && i == src->c_axis))
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: the array has shape %s; beyond (z, y, x) every leading "
                             "dimension must be 1",
                             z->path, shape);
    z->select_c = src->select_c;
    z->c_axis = src->c_axis;
    if (src->select_c) {
        size_t stride = 1;
        for (unsigned i = src->c_axis + 1; i < nd; i++)
            stride *= (size_t)m->chunks[i];
        z->c_chunk = src->c_index / m->chunks[src->c_axis];
        z->c_offset = (size_t)(src->c_index % m->chunks[src->c_axis]) * stride;
    }
    const uint64_t depth = z->z_axis == nd ? 1 : m->shape[z->z_axis];
    const uint64_t height = m->shape[nd - 2], width = m->shape[nd - 1];
    z->cz = z->z_axis == nd ? 1 : m->chunks[z->z_axis];
    z->cy = m->chunks[nd - 2];
    z->cx = m->chunks[nd - 1];
    if (depth == 0 || height == 0 || width == 0)
        return error_set(err, ERROR_UNPROCESSABLE, "%s: the array has shape %s: no pixels", z->path,
                         shape);
    if (depth > UINT32_MAX || height > UINT32_MAX || width > UINT32_MAX)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: the array has shape %s; dimensions up to 4294967295 are read",
                         z->path, shape);
    if (opt->max_alloc != 0 && m->chain.chunk_bytes > opt->max_alloc)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: one decoded chunk is %zu bytes, over the limit of %zu bytes "
                         "(max_decode_buffer)",
                         z->path, m->chain.chunk_bytes, opt->max_alloc);
    z->across = width / z->cx + (width % z->cx != 0);
    struct load_info *info = &layout->info;
    memset(info, 0, sizeof *info);
    info->kind = LOAD_ZARR;
    info->depth = (uint32_t)depth;
    info->height = (uint32_t)height;
    info->width = (uint32_t)width;
    info->dtype = zarr_overlap_dtype(&m->dtype);
    if (m->dtype.floating) { /* options.intensity only; core/load.h: the unsigned type */
        info->floating = true;
        info->dtype = m->dtype.width == 4 ? OVERLAP_U32 : OVERLAP_U64;
    }
    info->bits = (uint16_t)(m->dtype.width * 8u);
    info->big_endian = m->dtype.big_endian;
    info->tiled = z->cx < width;
    info->band_depth = (uint32_t)(z->cz < depth ? z->cz : depth);
    info->band_rows = (uint32_t)(z->cy < height ? z->cy : height);
    info->tile_width = (uint32_t)(z->cx < width ? z->cx : width);
    info->bands = (uint32_t)(height / info->band_rows + (height % info->band_rows != 0));
    if ((rc = source_check_voxels(info, opt, z->path, err)) != ERROR_OK)
        return rc;
    return source_check_band(info, opt, z->path, "row of chunks", err);
}

/* Read the stored chunk rel into r->in; *len 0 and *missing when the store lacks it. */
static enum error_code zarr_read_chunk(const struct zarr_layout *z, struct zarr_reader *r,
                                       const char *rel, size_t max, size_t *len, bool *missing,
                                       struct error_info *err)
{
    int fd = -1;
    struct stat st;
    struct error_info oerr;
    error_init(&oerr);
    *missing = false;
    *len = 0;
    if (confine_open(z->root_fd, rel, strlen(rel), CONFINE_FILE, &fd, &st, &oerr) != ERROR_OK) {
        if (oerr.code == ERROR_NOT_FOUND || oerr.sys_errno == ENOTDIR) {
            *missing = true;
            return ERROR_OK;
        }
        *err = oerr;
        return oerr.code;
    }
    enum error_code rc = ERROR_OK;
    if (st.st_size < 0 || (max != 0 && (uint64_t)st.st_size > max)) {
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "%s: the stored chunk is %lld bytes, over the limit of %zu bytes "
                       "(max_decode_buffer)",
                       rel, (long long)st.st_size, max);
        goto out;
    }
    size_t want = (size_t)st.st_size;
    if (want > r->in_cap) {
        unsigned char *grown = alloc_resize(r->in, want);
        if (grown == NULL) {
            rc = error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate %zu bytes", rel, want);
            goto out;
        }
        r->in = grown;
        r->in_cap = want;
    }
    size_t done = 0;
    while (done < want) {
        ssize_t n = pread(fd, r->in + done, want - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = error_set(err, ERROR_IO, "%s: read error: %s", rel, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *len = done;
out:
    close(fd);
    return rc;
}

static enum error_code zarr_read_band(void *reader, const struct source_layout *layout,
                                      const char *name, uint32_t bz, uint32_t by, void *dst,
                                      struct error_info *err)
{
    (void)name;
    struct zarr_reader *r = reader;
    const struct zarr_layout *z = layout->priv;
    const struct zarr_array_meta *m = &z->meta;
    const struct load_info *info = &layout->info;
    const size_t w = m->dtype.width, nd = m->ndim;
    const uint64_t z0 = (uint64_t)bz * info->band_depth, y0 = (uint64_t)by * info->band_rows;
    const uint64_t dz = info->depth - z0 < info->band_depth ? info->depth - z0 : info->band_depth;
    const uint64_t dy = info->height - y0 < info->band_rows ? info->height - y0 : info->band_rows;
    uint64_t idx[ZARR_CODEC_MAX_DIMS] = {0};
    if (z->z_axis < nd)
        idx[z->z_axis] = bz;
    if (z->select_c)
        idx[z->c_axis] = z->c_chunk;
    idx[nd - 2] = by;
    for (uint64_t c = 0; c < z->across; c++) {
        idx[nd - 1] = c;
        char key[ZARR_ARRAY_KEY_MAX], rel[CONFINE_PATH_MAX + 1];
        int n = -1;
        if (zarr_array_chunk_key(m, idx, key, sizeof key))
            n = z->path[0] != '\0' ? snprintf(rel, sizeof rel, "%s/%s", z->path, key)
                                   : snprintf(rel, sizeof rel, "%s", key);
        if (n < 0 || (size_t)n >= sizeof rel)
            return error_set(err, ERROR_UNPROCESSABLE, "%s: a chunk path is too long", z->path);
        size_t len;
        bool missing;
        enum error_code rc = zarr_read_chunk(z, r, rel, z->max_stored, &len, &missing, err);
        if (rc != ERROR_OK)
            return rc;
        if (missing)
            zarr_chunk_fill(r->chunk, m->chain.chunk_bytes, (unsigned)w, m->fill_bits);
        else if ((rc = zarr_chunk_decode_work(&m->chain, &r->work, rel, r->in, len, r->chunk,
                                              m->chain.chunk_bytes, err)) != ERROR_OK)
            return rc;
        const uint64_t x0 = c * z->cx;
        const size_t cols = (size_t)(info->width - x0 < z->cx ? info->width - x0 : z->cx) * w;
        for (uint64_t iz = 0; iz < dz; iz++)
            for (uint64_t iy = 0; iy < dy; iy++)
                memcpy((unsigned char *)dst + ((iz * dy + iy) * info->width + x0) * w,
                       (const unsigned char *)r->chunk +
                           (z->c_offset + (iz * z->cy + iy) * z->cx) * w,
                       cols);
    }
    return ERROR_OK;
}

const struct source_ops source_zarr_ops = {.describe = zarr_describe,
                                           .open = zarr_open,
                                           .read_band = zarr_read_band,
                                           .close = zarr_close,
                                           .cleanup = zarr_cleanup};
