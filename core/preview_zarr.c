/*
 * preview_zarr.c - Zarr levels and their decoding for core/preview; see preview_zarr.h.
 *
 * The chunk grid is walked channel by channel, then by chunk row and chunk column of the one
 * (t, z) plane shown; each chunk is decoded into one buffer and its part of the plane is
 * converted to doubles. Memory: the plane, one stored and one decoded chunk.
 */
#include "preview_zarr.h"
#include "alloc.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where the axes are: -1 when the array has none of that kind. */
struct axes {
    int t, c, z, y, x;
};

static bool axes_of(unsigned ndim, struct axes *a)
{
    a->t = a->c = a->z = -1;
    a->y = (int)ndim - 2;
    a->x = (int)ndim - 1;
    switch (ndim) {
    case 2:
        return true;
    case 3:
        a->c = 0;
        return true;
    case 4:
        a->c = 0;
        a->z = 1;
        return true;
    case 5:
        a->t = 0;
        a->c = 1;
        a->z = 2;
        return true;
    default:
        return false;
    }
}

static enum error_code open_level(int root_fd, const char *path, size_t len, size_t json_max,
                                  unsigned level, struct preview_zarr_choice *c,
                                  struct error_info *err)
{
    enum error_code rc = zarr_array_open(root_fd, path, len, level, json_max, false, c->array_path,
                                         sizeof c->array_path, &c->meta, err);
    if (rc != ERROR_OK)
        return rc;
    struct axes a;
    if (!axes_of(c->meta.ndim, &a))
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: the array has %u dimensions; a preview reads (y, x), (c, y, x), "
                         "(c, z, y, x) or (t, c, z, y, x)",
                         c->array_path, c->meta.ndim);
    if (c->meta.shape[a.y] > UINT32_MAX || c->meta.shape[a.x] > UINT32_MAX)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: the array is %llu x %llu pixels; sides up to 4294967295 are read",
                         c->array_path, (unsigned long long)c->meta.shape[a.x],
                         (unsigned long long)c->meta.shape[a.y]);
    c->level = level;
    return ERROR_OK;
}

static uint64_t longest(const struct zarr_array_meta *m)
{
    uint64_t h = m->shape[m->ndim - 2], w = m->shape[m->ndim - 1];
    return h > w ? h : w;
}

enum error_code preview_zarr_locate(int root_fd, const char *path, size_t len, size_t json_max,
                                    const struct preview_options *o,
                                    struct preview_zarr_choice *choice, struct error_info *err)
{
    memset(choice, 0, sizeof *choice);
    struct preview_zarr_choice *next = NULL;
    enum error_code rc = zarr_array_group_read(root_fd, path, len, json_max, &choice->group, err);
    if (rc != ERROR_OK)
        return rc;
    const unsigned levels = choice->group.levels;
    if (o->level >= 0 && (unsigned)o->level >= levels)
        return error_set(err, ERROR_INVALID, "%.*s: level %d: the image has %u level%s", (int)len,
                         path, o->level, levels, levels == 1 ? "" : "s");
    if ((rc = open_level(root_fd, path, len, json_max, 0, choice, err)) != ERROR_OK)
        return rc;
    choice->full_height = (uint32_t)choice->meta.shape[choice->meta.ndim - 2];
    choice->full_width = (uint32_t)choice->meta.shape[choice->meta.ndim - 1];
    if (o->level > 0) {
        rc = open_level(root_fd, path, len, json_max, (unsigned)o->level, choice, err);
    } else if (o->level < 0 && longest(&choice->meta) > o->size) {
        next = alloc_zeroed(1, sizeof *next);
        if (next == NULL)
            return error_set(err, ERROR_NO_MEMORY, "out of memory locating a Zarr level");
        /* Levels shrink: take the last one still at least `size` on its longest side. */
        for (unsigned l = 1; l < levels; l++) {
            if ((rc = open_level(root_fd, path, len, json_max, l, next, err)) != ERROR_OK)
                goto out;
            if (longest(&next->meta) < o->size)
                break;
            memcpy(choice->array_path, next->array_path, sizeof choice->array_path);
            choice->meta = next->meta;
            choice->level = l;
        }
    }
    if (rc != ERROR_OK)
        goto out;
    char rel[CONFINE_PATH_MAX + 1];
    const char *file = choice->meta.zarr_format == 2 ? ".zarray" : "zarr.json";
    int n = choice->array_path[0] ? snprintf(rel, sizeof rel, "%s/%s", choice->array_path, file)
                                  : snprintf(rel, sizeof rel, "%s", file);
    if (n < 0 || (size_t)n >= sizeof rel) {
        rc = error_set(err, ERROR_UNPROCESSABLE, "%s: the path is too long", choice->array_path);
        goto out;
    }
    int fd = -1;
    if ((rc = confine_open(root_fd, rel, strlen(rel), CONFINE_FILE, &fd, &choice->meta_st, err)) !=
        ERROR_OK)
        goto out;
    close(fd);
out:
    free(next);
    return rc;
}

/* Element i of a decoded chunk (native order) as a double. */
static double element(const unsigned char *p, size_t i, const struct npy_dtype *d)
{
    switch (d->width) {
    case 1:
        return d->is_signed ? (double)((const int8_t *)p)[i] : (double)p[i];
    case 2: {
        uint16_t v;
        memcpy(&v, p + i * 2, 2);
        return d->is_signed ? (double)(int16_t)v : (double)v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p + i * 4, 4);
        return d->is_signed ? (double)(int32_t)v : (double)v;
    }
    default: {
        uint64_t v;
        memcpy(&v, p + i * 8, 8);
        return d->is_signed ? (double)(int64_t)v : (double)v;
    }
    }
}

/* Read the stored chunk rel into *in (grown as needed, at most max bytes). */
static enum error_code read_stored(int root_fd, const char *rel, size_t max, unsigned char **in,
                                   size_t *cap, size_t *len, bool *missing, struct error_info *err)
{
    int fd = -1;
    struct stat st;
    struct error_info oerr;
    error_init(&oerr);
    *missing = false;
    *len = 0;
    if (confine_open(root_fd, rel, strlen(rel), CONFINE_FILE, &fd, &st, &oerr) != ERROR_OK) {
        if (oerr.code == ERROR_NOT_FOUND || oerr.sys_errno == ENOTDIR) {
            *missing = true;
            return ERROR_OK;
        }
        *err = oerr;
        return oerr.code;
    }
    enum error_code rc = ERROR_OK;
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "%s: the stored chunk is %lld bytes, over the %zu bytes a chunk of this "
                       "array may take",
                       rel, (long long)st.st_size, max);
        goto out;
    }
    size_t want = (size_t)st.st_size;
    if (want > *cap) {
        unsigned char *grown = alloc_resize(*in, want);
        if (grown == NULL) {
            rc = error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate %zu bytes", rel, want);
            goto out;
        }
        *in = grown;
        *cap = want;
    }
    while (*len < want) {
        ssize_t n = pread(fd, *in + *len, want - *len, (off_t)*len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = error_set(err, ERROR_IO, "%s: read error: %s", rel, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        *len += (size_t)n;
    }
out:
    close(fd);
    return rc;
}

enum error_code preview_zarr_decode(int root_fd, const struct preview_zarr_choice *choice,
                                    const struct preview_options *o, struct preview_plane *plane,
                                    struct preview_options *ro, struct preview_image *facts,
                                    struct error_info *err)
{
    const struct zarr_array_meta *m = &choice->meta;
    const char *name = choice->array_path[0] ? choice->array_path : ".";
    memset(plane, 0, sizeof *plane);
    memset(facts, 0, sizeof *facts);
    *ro = *o;
    struct axes a;
    (void)axes_of(m->ndim, &a); /* checked by locate */
    const unsigned channels =
        a.c < 0 ? 1 : (unsigned)(m->shape[a.c] > 65536 ? 65536 : m->shape[a.c]);
    const uint32_t h = (uint32_t)m->shape[a.y], w = (uint32_t)m->shape[a.x];
    facts->levels = choice->group.levels;
    facts->level = choice->level;
    facts->full_width = choice->full_width;
    facts->full_height = choice->full_height;
    facts->channels = channels;
    facts->level_width = w;
    facts->stride = 1;
    facts->level_height = h;
    unsigned list[PREVIEW_MAX_CHANNELS];
    unsigned n = o->n_channels;
    if (n == 0) {
        n = channels < PREVIEW_PALETTE ? channels : PREVIEW_PALETTE;
        for (unsigned i = 0; i < n; i++)
            list[i] = i;
    } else {
        for (unsigned i = 0; i < n; i++) {
            if (o->channels[i] >= channels)
                return error_set(err, ERROR_INVALID, "%s: channel %u: the image has %u channel%s",
                                 name, o->channels[i], channels, channels == 1 ? "" : "s");
            list[i] = o->channels[i];
        }
    }
    /* Colours: the query's, else omero's when every shown channel has one. */
    bool group_colors = !o->have_colors && n > 1;
    for (unsigned i = 0; i < n && group_colors; i++)
        group_colors = list[i] < choice->group.n_colors;
    ro->n_channels = n;
    for (unsigned i = 0; i < n; i++) {
        ro->channels[i] = i;
        if (group_colors)
            memcpy(ro->colors[i], choice->group.colors[list[i]], 3);
    }
    if (group_colors)
        ro->have_colors = true;
    if (o->n_channels == 0 && !group_colors)
        ro->n_channels = 0; /* the default channels and palette, as for TIFF */
    const uint64_t samples = (uint64_t)w * h * n;
    if (samples > o->max_decode)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: level %u is %u x %u pixels with %u channel%s shown, %llu samples; "
                         "the preview decode limit is %llu samples%s",
                         name, choice->level, w, h, n, n == 1 ? "" : "s",
                         (unsigned long long)samples, (unsigned long long)o->max_decode,
                         facts->levels == 1 ? " (the image has no smaller level)" : "");
    if (m->chain.chunk_bytes / 8 > o->max_decode)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: one decoded chunk is %zu bytes, over 8 x the preview decode limit "
                         "of %llu samples",
                         name, m->chain.chunk_bytes, (unsigned long long)o->max_decode);
    enum error_code rc = ERROR_OK;
    struct zarr_codec_work work;
    zarr_codec_work_init(&work);
    unsigned char *in = NULL, *chunk = NULL;
    size_t cap = 0;
    const size_t max_stored = m->chain.chunk_bytes * 2 + 4096;
    plane->v = alloc_large((size_t)samples * sizeof *plane->v);
    chunk = alloc_large(m->chain.chunk_bytes);
    if (plane->v == NULL || chunk == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "%s: out of memory for a %u x %u level", name, w, h);
        goto out;
    }
    plane->width = w;
    plane->height = h;
    plane->channels = n;
    plane->is_integer = true;
    plane->bits = (uint16_t)(m->dtype.width * 8u);
    /* Strides of a decoded chunk (C order over the chunk shape). */
    size_t stride[ZARR_CODEC_MAX_DIMS];
    stride[m->ndim - 1] = 1;
    for (unsigned d = m->ndim - 1; d > 0; d--)
        stride[d - 1] = stride[d] * (size_t)m->chunks[d];
    uint64_t pos[ZARR_CODEC_MAX_DIMS] = {0}; /* the element wanted on t, c, z */
    if (a.z >= 0)
        pos[a.z] = m->shape[a.z] / 2;
    const uint64_t cy = m->chunks[a.y], cx = m->chunks[a.x];
    for (unsigned i = 0; i < n && rc == ERROR_OK; i++) {
        if (a.c >= 0)
            pos[a.c] = list[i];
        uint64_t idx[ZARR_CODEC_MAX_DIMS];
        size_t base = 0;
        for (unsigned d = 0; d < m->ndim; d++) {
            idx[d] = pos[d] / m->chunks[d];
            base += (size_t)(pos[d] % m->chunks[d]) * stride[d];
        }
        double *dst = plane->v + (size_t)i * w * h;
        for (uint64_t by = 0; by * cy < h && rc == ERROR_OK; by++) {
            for (uint64_t bx = 0; bx * cx < w; bx++) {
                if (clock_passed(o->deadline)) {
                    rc = error_set(err, ERROR_TIMEOUT,
                                   "%s: the request deadline passed while decoding the preview",
                                   name);
                    break;
                }
                idx[a.y] = by;
                idx[a.x] = bx;
                char key[ZARR_ARRAY_KEY_MAX], rel[CONFINE_PATH_MAX + 1];
                int k = -1;
                if (zarr_array_chunk_key(m, idx, key, sizeof key))
                    k = choice->array_path[0]
                            ? snprintf(rel, sizeof rel, "%s/%s", choice->array_path, key)
                            : snprintf(rel, sizeof rel, "%s", key);
                if (k < 0 || (size_t)k >= sizeof rel) {
                    rc = error_set(err, ERROR_UNPROCESSABLE, "%s: a chunk path is too long", name);
                    break;
                }
                size_t len;
                bool missing;
                if ((rc = read_stored(root_fd, rel, max_stored, &in, &cap, &len, &missing, err)) !=
                    ERROR_OK)
                    break;
                if (missing)
                    zarr_chunk_fill(chunk, m->chain.chunk_bytes, m->dtype.width, m->fill_bits);
                else if ((rc = zarr_chunk_decode_work(&m->chain, &work, rel, in, len, chunk,
                                                      m->chain.chunk_bytes, err)) != ERROR_OK)
                    break;
                const uint64_t y0 = by * cy, x0 = bx * cx;
                const uint64_t ny = h - y0 < cy ? h - y0 : cy, nx = w - x0 < cx ? w - x0 : cx;
                for (uint64_t yy = 0; yy < ny; yy++) {
                    size_t src = base + (size_t)yy * stride[a.y];
                    double *row = dst + (size_t)(y0 + yy) * w + x0;
                    for (uint64_t xx = 0; xx < nx; xx++)
                        row[xx] = element(chunk, src + (size_t)xx * stride[a.x], &m->dtype);
                }
            }
        }
    }
out:
    if (rc != ERROR_OK) {
        free(plane->v);
        plane->v = NULL;
    }
    free(in);
    free(chunk);
    zarr_codec_work_cleanup(&work);
    return rc;
}

enum error_code preview_zarr_render(int root_fd, const struct preview_zarr_choice *choice,
                                    const struct preview_options *o, struct preview_image *out,
                                    struct error_info *err)
{
    struct preview_plane pl;
    struct preview_options ro;
    enum error_code rc = preview_zarr_decode(root_fd, choice, o, &pl, &ro, out, err);
    if (rc != ERROR_OK)
        return rc;
    rc = preview_render(&pl, &ro, out, err);
    free(pl.v);
    if (rc != ERROR_OK)
        preview_image_cleanup(out);
    return rc;
}
