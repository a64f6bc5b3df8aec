/*
 * load.c - the loader's parallel band streaming, whatever the input kind; see load.h.
 *
 * The kinds (core/load_tiff.c, core/load_npy.c, core/load_zarr.c) sit behind
 * core/source.h: each describes its source once and gives every worker a reader that decodes
 * bands. Work is handed out as parallel_run items of whole bands: a unit is the deeper band
 * depth of the two sources times whole rows (the taller band, repeated to cover
 * LOAD_UNIT_PIXELS when both are one slice deep). A worker keeps the last band it decoded of
 * each source, so when both have the same layout every band is decoded once; units are read
 * slice by slice, so bands that line up differently are decoded again by the units that need
 * them. A tiled page whose row of tiles is over max_alloc is decoded in pieces of whole
 * tiles (info.piece_cols columns): its units are then one band of rows by one piece of
 * columns, and the rows of a unit are counted piece segment by segment.
 */
#include "load.h"

#include "alloc.h"
#include "clock.h"
#include "limit.h"
#include "parallel.h"
#include "source.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_UNIT_PIXELS   ((uint64_t)1 << 18) /* rows handed out at once cover this many */
#define LOAD_DEFAULT_ALLOC ((size_t)1 << 30)

void load_options_init(struct load_options *options)
{
    memset(options, 0, sizeof *options);
    options->max_pixels = (uint64_t)LIMIT_MAX_PIXELS;
    options->max_ifds = (unsigned)LIMIT_MAX_IFDS;
    options->max_alloc = LOAD_DEFAULT_ALLOC;
    options->max_json = LIMIT_ZARR_JSON_MAX;
    options->threads = 1;
}

enum error_code source_check_band(const struct load_info *info, const struct load_options *opt,
                                  const char *name, const char *what, struct error_info *err)
{
    /* each factor is below 2^32 and bits / 8 at most 8: no overflow before the division */
    const uint64_t elements = (uint64_t)info->band_depth * info->band_rows;
    const uint64_t bytes = elements > UINT64_MAX / 8 / info->width
                               ? UINT64_MAX
                               : elements * info->width * (info->bits / 8u);
    if ((opt->max_alloc != 0 && bytes > opt->max_alloc) || bytes > SIZE_MAX / 2)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s: needs %llu bytes per %s, over the limit of %zu bytes "
                         "(max_decode_buffer)",
                         name, (unsigned long long)bytes, what, opt->max_alloc);
    return ERROR_OK;
}

enum error_code source_check_voxels(const struct load_info *info, const struct load_options *opt,
                                    const char *name, struct error_info *err)
{
    const uint64_t plane = (uint64_t)info->height * info->width; /* both below 2^32 */
    const bool overflow = info->depth != 0 && plane > UINT64_MAX / info->depth;
    const uint64_t voxels = overflow ? UINT64_MAX : plane * info->depth;
    if (!overflow && (opt->max_pixels == 0 || voxels <= opt->max_pixels))
        return ERROR_OK;
    if (info->depth == 1)
        return error_set(err, ERROR_TOO_LARGE,
                         "%s is %u x %u = %llu pixels, over the limit of %llu (max_pixels)", name,
                         info->height, info->width, (unsigned long long)voxels,
                         (unsigned long long)opt->max_pixels);
    return error_set(err, ERROR_TOO_LARGE,
                     "%s is %u x %u x %u = %llu voxels, over the limit of %llu (max_pixels)", name,
                     info->depth, info->height, info->width, (unsigned long long)voxels,
                     (unsigned long long)opt->max_pixels);
}

static const struct source_ops *source_ops_of(const struct load_source *src)
{
    switch (src->kind) {
    case LOAD_NPY:
        return &source_npy_ops;
    case LOAD_ZARR:
        return &source_zarr_ops;
    case LOAD_TIFF:
        break;
    }
    return &source_tiff_ops;
}

static const char *source_name(const struct load_source *src)
{
    return src->name != NULL ? src->name : "image";
}

enum error_code load_probe(const struct load_source *source, const struct load_options *options,
                           struct load_info *info, struct error_info *err)
{
    const struct source_ops *ops = source_ops_of(source);
    struct source_layout layout;
    void *reader = NULL;
    memset(&layout, 0, sizeof layout);
    enum error_code rc = ops->describe(source, source_name(source), options, &layout, &reader, err);
    if (rc == ERROR_OK)
        *info = layout.info;
    if (ops->close != NULL)
        ops->close(reader);
    ops->cleanup(&layout);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Workers
 *
 * One job describes both sources and the unit size; the units are the items of a
 * parallel_run, so the first failing unit in raster order decides the error and a failure
 * stops the others taking new units. Worker 0 runs on the calling thread with the readers
 * that described the sources (when the kind left one); the others keep their state in their
 * parallel_run scratch, open their own readers on their first unit and count into a counter
 * of their own, merged into the caller's in done() and released there.
 */

struct load_worker {
    bool prepared; /* readers open, buffers allocated, counter made */
    void *reader[2];
    void *band[2];
    int64_t band_z[2], band_y[2], band_x[2]; /* piece held in band[i]; band_z -1 = none */
    struct overlap_counter *counter;
};

struct load_job {
    const struct load_source *src[2];
    const char *name[2];
    const struct source_ops *ops[2];
    struct source_layout layout[2];
    const struct load_options *opt;
    struct load_worker *w0; /* worker 0's state; its counter is the caller's */
    uint32_t unit_depth, unit_rows, unit_cols;
    uint32_t units_down;   /* units down one slice */
    uint32_t units_across; /* units across (1 unless a source is decoded in pieces) */
    size_t units;
    atomic_bool failed;       /* a unit failed: done() only releases */
    enum error_code merge_rc; /* the first merge failure, from done() */
    struct error_info merge_err;
};

/* Columns one decode of the source covers. */
static uint32_t piece_cols(const struct load_info *info)
{
    return info->piece_cols != 0 && info->piece_cols < info->width ? info->piece_cols : info->width;
}

static size_t band_bytes(const struct load_info *info)
{
    return (size_t)info->band_depth * info->band_rows * piece_cols(info) * (info->bits / 8u);
}

static enum error_code worker_prepare(struct load_job *job, struct load_worker *w,
                                      struct error_info *err)
{
    for (unsigned i = 0; i < 2; i++) {
        w->band_z[i] = -1;
        if (w->reader[i] == NULL) {
            enum error_code rc = job->ops[i]->open(job->src[i], job->name[i], job->opt,
                                                   &job->layout[i], &w->reader[i], err);
            if (rc != ERROR_OK)
                return rc;
        }
        if (w->band[i] == NULL)
            w->band[i] = alloc_large(band_bytes(&job->layout[i].info));
        if (w->band[i] == NULL)
            return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a band buffer",
                             job->name[i]);
    }
    if (w->counter == NULL)
        w->counter = overlap_counter_new_like(job->w0->counter, err);
    if (w->counter == NULL)
        return err != NULL ? err->code : ERROR_NO_MEMORY;
    w->prepared = true;
    return ERROR_OK;
}

/* Close the readers and free the buffers (not the counter). */
static void worker_release(const struct load_job *job, struct load_worker *w)
{
    for (unsigned i = 0; i < 2; i++) {
        if (w->reader[i] != NULL && job->ops[i] != NULL && job->ops[i]->close != NULL)
            job->ops[i]->close(w->reader[i]);
        free(w->band[i]);
        w->reader[i] = w->band[i] = NULL;
    }
}

/* Where pixel (z, y, x) of source i lies in what a worker holds. */
struct load_spot {
    const unsigned char *at; /* the pixel */
    size_t stride;           /* elements from one row to the next in the buffer */
    uint32_t stop_y, stop_x; /* the row and column after the held piece's last */
};

/* Make sure band[i] holds the piece with pixel (z, y, x) and locate that pixel. */
static enum error_code worker_hold(const struct load_job *job, struct load_worker *w, unsigned i,
                                   uint32_t z, uint32_t y, uint32_t x, struct load_spot *spot,
                                   struct error_info *err)
{
    const struct load_info *info = &job->layout[i].info;
    const uint32_t cols = piece_cols(info);
    const uint32_t bz = z / info->band_depth, by = y / info->band_rows, bx = x / cols;
    if (w->band_z[i] != (int64_t)bz || w->band_y[i] != (int64_t)by || w->band_x[i] != (int64_t)bx) {
        w->band_z[i] = -1;
        enum error_code rc =
            cols == info->width
                ? job->ops[i]->read_band(w->reader[i], &job->layout[i], job->name[i], bz, by,
                                         w->band[i], err)
                : job->ops[i]->read_piece(w->reader[i], &job->layout[i], job->name[i], bz, by, bx,
                                          w->band[i], err);
        if (rc != ERROR_OK)
            return rc;
        w->band_z[i] = bz;
        w->band_y[i] = by;
        w->band_x[i] = bx;
    }
    const uint32_t y0 = by * info->band_rows, x0 = bx * cols;
    const uint32_t rows = info->height - y0 < info->band_rows ? info->height - y0 : info->band_rows;
    const size_t index = ((size_t)(z - bz * info->band_depth) * rows + (y - y0)) * cols + (x - x0);
    spot->at = (const unsigned char *)w->band[i] + index * (info->bits / 8u);
    spot->stride = cols;
    spot->stop_y = y0 + rows;
    spot->stop_x = info->width - x0 < cols ? info->width : x0 + cols;
    return ERROR_OK;
}

/* Count rows [y, y1), columns [x, x1) of slice z. Where both sources hold whole rows the
 * rows go to the counter as one chunk; else row segment by row segment. */
static enum error_code worker_count_rows(const struct load_job *job, struct load_worker *w,
                                         uint32_t z, uint32_t y, uint32_t y1, uint32_t x,
                                         uint32_t x1, struct error_info *err)
{
    const struct load_info *ia = &job->layout[0].info, *ib = &job->layout[1].info;
    const uint32_t width = ia->width;
    const size_t bps[2] = {ia->bits / 8u, ib->bits / 8u};
    for (uint32_t xs = x; xs < x1;) {
        uint32_t xe = x1;
        for (uint32_t ys = y; ys < y1;) {
            uint32_t ye = y1;
            struct load_spot spot[2];
            xe = x1;
            for (unsigned i = 0; i < 2; i++) {
                enum error_code rc = worker_hold(job, w, i, z, ys, xs, &spot[i], err);
                if (rc != ERROR_OK)
                    return rc;
                ye = spot[i].stop_y < ye ? spot[i].stop_y : ye;
                xe = spot[i].stop_x < xe ? spot[i].stop_x : xe;
            }
            const bool whole =
                xs == 0 && xe == width && spot[0].stride == width && spot[1].stride == width;
            for (uint32_t r = ys; r < ye; r = whole ? ye : r + 1) {
                const size_t off[2] = {(size_t)(r - ys) * spot[0].stride * bps[0],
                                       (size_t)(r - ys) * spot[1].stride * bps[1]};
                const size_t n = whole ? (size_t)(ye - ys) * width : (size_t)(xe - xs);
                overlap_counter_seek(w->counter, ((uint64_t)z * ia->height + r) * width + xs);
                enum error_code rc = overlap_counter_add(w->counter, spot[0].at + off[0], ia->dtype,
                                                         spot[1].at + off[1], ib->dtype, n, err);
                if (rc != ERROR_OK)
                    return rc;
            }
            ys = ye;
        }
        xs = xe;
    }
    return ERROR_OK;
}

/* Item u of the run on worker w: slices and rows of unit u, slice by slice. */
static enum error_code worker_unit(void *arg, size_t u, unsigned w, void *scratch,
                                   struct error_info *err)
{
    struct load_job *job = arg;
    struct load_worker *state = w == 0 ? job->w0 : scratch;
    const struct load_info *info = &job->layout[0].info;
    enum error_code rc = ERROR_OK;
    if (clock_passed(job->opt->deadline))
        rc = error_set(err, ERROR_TIMEOUT, "decoding ran past the request deadline");
    else if (!state->prepared)
        rc = worker_prepare(job, state, err);
    const size_t across = job->units_across, per_slice = (size_t)job->units_down * across;
    const uint32_t z0 = (uint32_t)(u / per_slice) * job->unit_depth;
    const uint32_t y = (uint32_t)(u % per_slice / across) * job->unit_rows;
    const uint32_t x = (uint32_t)(u % across) * job->unit_cols;
    const uint32_t z1 = info->depth - z0 < job->unit_depth ? info->depth : z0 + job->unit_depth;
    const uint32_t y1 = info->height - y < job->unit_rows ? info->height : y + job->unit_rows;
    const uint32_t x1 = info->width - x < job->unit_cols ? info->width : x + job->unit_cols;
    for (uint32_t z = z0; z < z1 && rc == ERROR_OK; z++)
        rc = worker_count_rows(job, state, z, y, y1, x, x1, err);
    if (rc != ERROR_OK)
        atomic_store(&job->failed, true);
    return rc;
}

/* A helper is done: merge its counts into the caller's counter (unless a unit failed), and
 * release its readers, buffers and counter. Worker 0's state is the caller's to release. */
static void worker_done(void *arg, unsigned w, void *scratch)
{
    struct load_job *job = arg;
    struct load_worker *state = scratch;
    if (w == 0)
        return;
    if (state->counter != NULL && !atomic_load(&job->failed) && job->merge_rc == ERROR_OK)
        job->merge_rc = overlap_counter_merge(job->w0->counter, state->counter, &job->merge_err);
    overlap_counter_free(state->counter);
    worker_release(job, state);
}

static uint32_t max_u32(uint32_t x, uint32_t y)
{
    return x > y ? x : y;
}

/* Units: the deeper band depth times the taller band's rows, repeated to cover
 * LOAD_UNIT_PIXELS when both are one slice deep and held whole-width, never past the array;
 * across, the wider piece of the two (the width unless one is decoded in pieces). */
static void job_plan(struct load_job *job)
{
    const struct load_info *ia = &job->layout[0].info, *ib = &job->layout[1].info;
    uint32_t depth = max_u32(ia->band_depth, ib->band_depth);
    uint64_t rows = max_u32(ia->band_rows, ib->band_rows);
    const uint32_t cols = max_u32(piece_cols(ia), piece_cols(ib));
    job->unit_cols = cols;
    job->units_across = (uint32_t)(((uint64_t)ia->width + cols - 1) / cols);
    if (depth == 1 && cols == ia->width) {
        uint64_t per_band = rows * ia->width;
        rows *= (LOAD_UNIT_PIXELS + per_band - 1) / per_band;
    }
    if (rows > ia->height)
        rows = ia->height;
    if (depth > ia->depth)
        depth = ia->depth;
    job->unit_depth = depth;
    job->unit_rows = (uint32_t)rows;
    job->units_down = (uint32_t)(((uint64_t)ia->height + rows - 1) / rows);
    job->units = (size_t)((ia->depth + depth - 1) / depth) * job->units_down * job->units_across;
}

/* Describe source i on worker 0's behalf. */
static enum error_code job_open_source(struct load_job *job, unsigned i, struct error_info *err)
{
    job->ops[i] = source_ops_of(job->src[i]);
    return job->ops[i]->describe(job->src[i], job->name[i], job->opt, &job->layout[i],
                                 &job->w0->reader[i], err);
}

static enum error_code job_check_shapes(const struct load_job *job, struct error_info *err)
{
    const struct load_info *ia = &job->layout[0].info, *ib = &job->layout[1].info;
    if (ia->depth == ib->depth && ia->height == ib->height && ia->width == ib->width)
        return ERROR_OK;
    if (ia->depth == 1 && ib->depth == 1)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "the label images differ in shape: %s is %u x %u, %s is %u x %u "
                         "(height x width)",
                         job->name[0], ia->height, ia->width, job->name[1], ib->height, ib->width);
    return error_set(err, ERROR_UNPROCESSABLE,
                     "the label images differ in shape: %s is %u x %u x %u, %s is %u x %u x %u "
                     "(depth x height x width)",
                     job->name[0], ia->depth, ia->height, ia->width, job->name[1], ib->depth,
                     ib->height, ib->width);
}

/* ------------------------------------------------------------------------------------------
 * Public entry point
 */

enum error_code load_overlap(const struct load_source *a, const struct load_source *b,
                             const struct load_options *options, struct overlap_counter *into,
                             struct load_info *info_a, struct load_info *info_b,
                             struct error_info *err)
{
    struct load_worker *w0 = alloc_zeroed(1, sizeof *w0);
    if (w0 == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate decoding workers");
    w0->counter = into;
    struct load_job job = {.src = {a, b},
                           .name = {source_name(a), source_name(b)},
                           .opt = options,
                           .w0 = w0,
                           .merge_rc = ERROR_OK};
    atomic_init(&job.failed, false);
    error_init(&job.merge_err);
    enum error_code rc = job_open_source(&job, 0, err);
    if (rc == ERROR_OK && info_a != NULL)
        *info_a = job.layout[0].info;
    if (rc == ERROR_OK)
        rc = job_open_source(&job, 1, err);
    if (rc == ERROR_OK && info_b != NULL)
        *info_b = job.layout[1].info;
    if (rc != ERROR_OK || (rc = job_check_shapes(&job, err)) != ERROR_OK)
        goto out;
    job_plan(&job);
    struct parallel_loop loop = {.n = job.units,
                                 .threads = options->threads,
                                 .scratch = sizeof(struct load_worker),
                                 .item = worker_unit,
                                 .done = worker_done,
                                 .arg = &job};
    rc = parallel_run(&loop, NULL, err);
    if (rc == ERROR_OK && job.merge_rc != ERROR_OK) {
        rc = job.merge_rc;
        if (err != NULL)
            *err = job.merge_err;
    }
out:
    worker_release(&job, w0);
    free(w0);
    for (unsigned i = 0; i < 2; i++)
        if (job.ops[i] != NULL)
            job.ops[i]->cleanup(&job.layout[i]);
    return rc;
}
