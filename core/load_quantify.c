/*
 * load_quantify.c - the label image and every channel streamed through core/quantify; see
 * load_quantify.h.
 *
 * Source 0 is the label image, sources 1 .. n the channels, all behind core/source.h. A
 * worker keeps the last band it decoded of each source and a ring of five label rows (row y
 * and two each side, converted to uint64), so within a unit every band is decoded once and
 * rows are read in ascending order; a unit re-reads at most the band holding its two halo
 * rows above.
 */
#include "load_quantify.h"

#include "alloc.h"
#include "clock.h"
#include "parallel.h"
#include "source.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_QUANTIFY_UNIT_PIXELS ((uint64_t)1 << 18)

struct lq_worker {
    bool prepared;
    void **reader;   /* per source */
    void **band;     /* per source: the band held */
    int64_t *band_y; /* per source: the band index held, -1 = none */
    uint64_t *ring;  /* 5 label rows; row r lives in slot r % 5 */
    double *values;  /* channels x width: row y of every channel */
    struct quantify_acc *acc;
};

struct lq_job {
    size_t n; /* sources: labels + channels */
    const struct load_source **src;
    const char **name;
    const struct source_ops **ops;
    struct source_layout *layout;
    const struct load_options *opt;  /* for the label image */
    struct load_options channel_opt; /* the same with intensity set, for the channels */
    uint64_t max_labels;
    uint32_t width, height, unit_rows;
    size_t units;
    struct lq_worker *w0;
    /* A value pass (median, Gini) collects channels [c0, c1) of table rows [r0, r1): row r's
     * values of channel c0 + k go to slots[k * span + offset[r] - offset[r0] + ...], each
     * run reserving its place with cursor[r - r0]. */
    bool collect;
    size_t c0, c1, r0, r1;
    const struct quantify_table *table;
    const uint64_t *offset;
    _Atomic uint64_t *cursor;
    double *slots;
    uint64_t span;
    atomic_bool failed;
    enum error_code merge_rc;
    struct error_info merge_err;
};

static const struct source_ops *ops_of(const struct load_source *src)
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

static const struct load_options *opt_of(const struct lq_job *job, size_t i)
{
    return i == 0 ? job->opt : &job->channel_opt;
}

/* ------------------------------------------------------------------------------------------
 * Rows: conversions and the band cache
 */

static size_t band_bytes(const struct load_info *info)
{
    return (size_t)info->band_rows * info->width * (info->bits / 8u);
}

/* Row y of source i, from the band held (decoded first when another is held). */
static enum error_code hold_row(const struct lq_job *job, struct lq_worker *w, size_t i, uint32_t y,
                                const unsigned char **row, struct error_info *err)
{
    const struct load_info *info = &job->layout[i].info;
    const uint32_t by = y / info->band_rows;
    if (w->band_y[i] != (int64_t)by) {
        w->band_y[i] = -1;
        enum error_code rc = job->ops[i]->read_band(w->reader[i], &job->layout[i], job->name[i], 0,
                                                    by, w->band[i], err);
        if (rc != ERROR_OK)
            return rc;
        w->band_y[i] = by;
    }
    const size_t index = (size_t)(y - by * info->band_rows) * info->width;
    *row = (const unsigned char *)w->band[i] + index * (info->bits / 8u);
    return ERROR_OK;
}

#define LQ_CONVERT(type, out_type)                                                                 \
    do {                                                                                           \
        const type *s = (const type *)(const void *)row;                                           \
        for (uint32_t x = 0; x < width; x++)                                                       \
            out[x] = (out_type)s[x];                                                               \
    } while (0)

static void row_to_double(const unsigned char *row, const struct load_info *info, uint32_t width,
                          double *out)
{
    if (info->floating) {
        if (info->bits == 32)
            LQ_CONVERT(float, double);
        else
            LQ_CONVERT(double, double);
        return;
    }
    switch (info->dtype) {
    case OVERLAP_U8:
        LQ_CONVERT(uint8_t, double);
        break;
    case OVERLAP_U16:
        LQ_CONVERT(uint16_t, double);
        break;
    case OVERLAP_U32:
        LQ_CONVERT(uint32_t, double);
        break;
    case OVERLAP_U64:
        LQ_CONVERT(uint64_t, double);
        break;
    case OVERLAP_I8:
        LQ_CONVERT(int8_t, double);
        break;
    case OVERLAP_I16:
        LQ_CONVERT(int16_t, double);
        break;
    case OVERLAP_I32:
        LQ_CONVERT(int32_t, double);
        break;
    case OVERLAP_I64:
        LQ_CONVERT(int64_t, double);
        break;
    }
}

/* Label row y into out as uint64; negative labels are refused. */
static enum error_code row_to_labels(const unsigned char *row, const struct load_info *info,
                                     const char *name, uint32_t y, uint32_t width, uint64_t *out,
                                     struct error_info *err)
{
    int64_t low = 0;
    switch (info->dtype) {
    case OVERLAP_U8:
        LQ_CONVERT(uint8_t, uint64_t);
        return ERROR_OK;
    case OVERLAP_U16:
        LQ_CONVERT(uint16_t, uint64_t);
        return ERROR_OK;
    case OVERLAP_U32:
        LQ_CONVERT(uint32_t, uint64_t);
        return ERROR_OK;
    case OVERLAP_U64:
        memcpy(out, row, (size_t)width * sizeof *out);
        return ERROR_OK;
    case OVERLAP_I8:
        LQ_CONVERT(int8_t, uint64_t);
        break;
    case OVERLAP_I16:
        LQ_CONVERT(int16_t, uint64_t);
        break;
    case OVERLAP_I32:
        LQ_CONVERT(int32_t, uint64_t);
        break;
    case OVERLAP_I64:
        LQ_CONVERT(int64_t, uint64_t);
        break;
    }
    for (uint32_t x = 0; x < width; x++)
        if ((int64_t)out[x] < low)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s: negative label %lld at row %u, column %u", name,
                             (long long)(int64_t)out[x], y, x);
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * Workers
 */

static enum error_code worker_prepare(struct lq_job *job, struct lq_worker *w,
                                      struct error_info *err)
{
    const size_t channels = job->n - 1;
    if (w->reader == NULL) {
        w->reader = alloc_zeroed(job->n, sizeof *w->reader);
        if (w->reader == NULL)
            return error_set(err, ERROR_NO_MEMORY, "cannot allocate decoding workers");
    }
    w->band = alloc_zeroed(job->n, sizeof *w->band);
    w->band_y = alloc_bytes(job->n * sizeof *w->band_y);
    w->ring = alloc_bytes((size_t)5 * job->width * sizeof *w->ring);
    w->values = alloc_bytes(channels * job->width * sizeof *w->values + 1);
    if (w->band == NULL || w->band_y == NULL || w->ring == NULL || w->values == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate decoding workers");
    for (size_t i = 0; i < job->n; i++) {
        w->band_y[i] = -1;
        if (w->reader[i] == NULL) {
            enum error_code rc = job->ops[i]->open(job->src[i], job->name[i], opt_of(job, i),
                                                   &job->layout[i], &w->reader[i], err);
            if (rc != ERROR_OK)
                return rc;
        }
        w->band[i] = alloc_large(band_bytes(&job->layout[i].info));
        if (w->band[i] == NULL)
            return error_set(err, ERROR_NO_MEMORY, "%s: cannot allocate a band buffer",
                             job->name[i]);
    }
    if (w->acc == NULL)
        w->acc = quantify_acc_new(job->width, job->height, channels, job->max_labels, err);
    if (w->acc == NULL)
        return ERROR_NO_MEMORY;
    w->prepared = true;
    return ERROR_OK;
}

/* Close the readers and free the buffers (not the accumulator). */
static void worker_release(const struct lq_job *job, struct lq_worker *w)
{
    for (size_t i = 0; i < job->n; i++) {
        if (w->reader != NULL && w->reader[i] != NULL && job->ops[i] != NULL &&
            job->ops[i]->close != NULL)
            job->ops[i]->close(w->reader[i]);
        if (w->band != NULL)
            free(w->band[i]);
    }
    free(w->reader);
    free(w->band);
    free(w->band_y);
    free(w->ring);
    free(w->values);
    w->reader = w->band = NULL;
    w->band_y = NULL;
    w->ring = NULL;
    w->values = NULL;
}

static enum error_code load_label_row(const struct lq_job *job, struct lq_worker *w, uint32_t y,
                                      struct error_info *err)
{
    const unsigned char *row;
    enum error_code rc = hold_row(job, w, 0, y, &row, err);
    if (rc != ERROR_OK)
        return rc;
    return row_to_labels(row, &job->layout[0].info, job->name[0], y, job->width,
                         w->ring + (size_t)(y % 5) * job->width, err);
}

static enum error_code worker_rows(const struct lq_job *job, struct lq_worker *w, uint32_t y0,
                                   uint32_t y1, struct error_info *err)
{
    const size_t channels = job->n - 1;
    const double **chan = alloc_bytes(channels * sizeof *chan + 1);
    enum error_code rc = ERROR_OK;
    if (chan == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate channel rows");
    for (size_t c = 0; c < channels; c++)
        chan[c] = w->values + c * job->width;
    for (uint32_t y = y0 >= 2 ? y0 - 2 : 0; y < y0 + 2 && y < job->height && rc == ERROR_OK; y++)
        rc = load_label_row(job, w, y, err);
    for (uint32_t y = y0; y < y1 && rc == ERROR_OK; y++) {
        if (y + 2 < job->height && (rc = load_label_row(job, w, y + 2, err)) != ERROR_OK)
            break;
        const uint64_t *rows[5];
        for (unsigned k = 0; k < 5; k++) {
            const int64_t r = (int64_t)y - 2 + k;
            rows[k] =
                r < 0 || r >= (int64_t)job->height ? NULL : w->ring + (size_t)(r % 5) * job->width;
        }
        for (size_t c = 0; c < channels && rc == ERROR_OK; c++) {
            const unsigned char *row;
            rc = hold_row(job, w, c + 1, y, &row, err);
            if (rc == ERROR_OK)
                row_to_double(row, &job->layout[c + 1].info, job->width,
                              w->values + c * job->width);
        }
        if (rc == ERROR_OK)
            rc = quantify_acc_row(w->acc, y, rows, chan, err);
    }
    free(chan);
    return rc;
}

/* The table row of label v among rows [r0, r1), or SIZE_MAX (a label seen in the first pass is
 * always there; SIZE_MAX means another pass's range). */
static size_t table_row(const struct lq_job *job, uint64_t v)
{
    size_t lo = job->r0, hi = job->r1;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (job->table->label[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < job->r1 && job->table->label[lo] == v ? lo : SIZE_MAX;
}

/* A value pass over rows [y0, y1): scatter the values of the pass's channels. */
static enum error_code worker_collect(const struct lq_job *job, struct lq_worker *w, uint32_t y0,
                                      uint32_t y1, struct error_info *err)
{
    enum error_code rc = ERROR_OK;
    for (uint32_t y = y0; y < y1 && rc == ERROR_OK; y++) {
        if ((rc = load_label_row(job, w, y, err)) != ERROR_OK)
            break;
        for (size_t c = job->c0; c < job->c1 && rc == ERROR_OK; c++) {
            const unsigned char *row;
            rc = hold_row(job, w, c + 1, y, &row, err);
            if (rc == ERROR_OK)
                row_to_double(row, &job->layout[c + 1].info, job->width,
                              w->values + c * job->width);
        }
        const uint64_t *labels = w->ring + (size_t)(y % 5) * job->width;
        for (uint32_t x = 0; x < job->width && rc == ERROR_OK;) {
            const uint64_t v = labels[x];
            uint32_t e = x + 1;
            while (e < job->width && labels[e] == v)
                e++;
            const size_t r = v == 0 ? SIZE_MAX : table_row(job, v);
            if (r != SIZE_MAX) {
                const uint64_t at = job->offset[r] - job->offset[job->r0] +
                                    atomic_fetch_add(&job->cursor[r - job->r0], e - x);
                for (size_t c = job->c0; c < job->c1; c++)
                    memcpy(job->slots + (c - job->c0) * job->span + at,
                           w->values + c * job->width + x, (size_t)(e - x) * sizeof(double));
            }
            x = e;
        }
    }
    return rc;
}

static enum error_code worker_unit(void *arg, size_t u, unsigned wi, void *scratch,
                                   struct error_info *err)
{
    struct lq_job *job = arg;
    struct lq_worker *w = wi == 0 ? job->w0 : scratch;
    enum error_code rc = ERROR_OK;
    if (clock_passed(job->opt->deadline))
        rc = error_set(err, ERROR_TIMEOUT, "quantifying ran past the request deadline");
    else if (!w->prepared)
        rc = worker_prepare(job, w, err);
    const uint32_t y0 = (uint32_t)u * job->unit_rows;
    const uint32_t y1 = job->height - y0 < job->unit_rows ? job->height : y0 + job->unit_rows;
    if (rc == ERROR_OK)
        rc = job->collect ? worker_collect(job, w, y0, y1, err) : worker_rows(job, w, y0, y1, err);
    if (rc != ERROR_OK)
        atomic_store(&job->failed, true);
    return rc;
}

static void worker_done(void *arg, unsigned wi, void *scratch)
{
    struct lq_job *job = arg;
    struct lq_worker *w = scratch;
    if (wi == 0)
        return;
    if (w->acc != NULL && !job->collect && !atomic_load(&job->failed) && job->merge_rc == ERROR_OK)
        job->merge_rc = quantify_acc_merge(job->w0->acc, w->acc, &job->merge_err);
    quantify_acc_free(w->acc);
    worker_release(job, w);
}

/* ------------------------------------------------------------------------------------------
 * The job
 */

static enum error_code job_describe(struct lq_job *job, struct error_info *err)
{
    job->w0->reader = alloc_zeroed(job->n, sizeof *job->w0->reader);
    if (job->w0->reader == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate decoding workers");
    const struct load_info *l = &job->layout[0].info;
    for (size_t i = 0; i < job->n; i++) {
        job->ops[i] = ops_of(job->src[i]);
        enum error_code rc = job->ops[i]->describe(job->src[i], job->name[i], opt_of(job, i),
                                                   &job->layout[i], &job->w0->reader[i], err);
        if (rc != ERROR_OK)
            return rc;
        const struct load_info *c = &job->layout[i].info;
        if (c->depth != 1)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s is a volume of %u slices; quantification takes 2-D images",
                             job->name[i], c->depth);
        if (i == 0 && c->floating)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "%s holds floating-point data; labels must be integers", job->name[0]);
        if (c->height != l->height || c->width != l->width)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "the inputs differ in shape: %s is %u x %u, %s is %u x %u "
                             "(height x width)",
                             job->name[0], l->height, l->width, job->name[i], c->height, c->width);
    }
    job->width = l->width;
    job->height = l->height;
    uint64_t rows = 1;
    for (size_t i = 0; i < job->n; i++)
        if (job->layout[i].info.band_rows > rows)
            rows = job->layout[i].info.band_rows;
    const uint64_t per = rows * job->width;
    rows *= (LOAD_QUANTIFY_UNIT_PIXELS + per - 1) / per;
    if (rows > job->height)
        rows = job->height;
    job->unit_rows = (uint32_t)(rows == 0 ? 1 : rows);
    job->units = ((size_t)job->height + job->unit_rows - 1) / job->unit_rows;
    return ERROR_OK;
}

#define LOAD_QUANTIFY_VALUES_MAX ((size_t)256 << 20)

/* One value pass: channels [c0, c1) of rows [r0, r1), then their medians and Gini indices. */
static enum error_code values_pass(struct lq_job *job, struct parallel_loop *loop,
                                   struct quantify_table *table, struct error_info *err)
{
    const size_t rows = job->r1 - job->r0, chans = job->c1 - job->c0;
    job->span = job->offset[job->r1] - job->offset[job->r0];
    job->cursor = alloc_zeroed(rows, sizeof *job->cursor);
    job->slots = alloc_large((size_t)job->span * chans * sizeof(double) + 1);
    enum error_code rc = ERROR_OK;
    if (job->cursor == NULL || job->slots == NULL)
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate %llu cell values",
                       (unsigned long long)job->span * chans);
    if (rc == ERROR_OK)
        rc = parallel_run(loop, NULL, err);
    for (size_t r = job->r0; r < job->r1 && rc == ERROR_OK; r++)
        for (size_t c = job->c0; c < job->c1; c++)
            quantify_values_of(job->slots + (c - job->c0) * job->span + job->offset[r] -
                                   job->offset[job->r0],
                               table->shape[r].area, &table->stats[r * table->channels + c]);
    free(job->cursor);
    free(job->slots);
    job->cursor = NULL;
    job->slots = NULL;
    return rc;
}

/* Median and Gini of every cell and channel, in passes of at most values_max bytes. */
static enum error_code values_passes(struct lq_job *job, struct parallel_loop *loop,
                                     size_t values_max, struct quantify_table *table,
                                     struct error_info *err)
{
    const size_t n = table->labels, channels = table->channels;
    uint64_t *offset = alloc_bytes((n + 1) * sizeof *offset);
    if (offset == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot allocate the value offsets");
    offset[0] = 0;
    for (size_t r = 0; r < n; r++)
        offset[r + 1] = offset[r] + table->shape[r].area;
    const uint64_t per_channel = offset[n] * sizeof(double), budget = values_max;
    size_t group = per_channel == 0 ? channels : (size_t)(budget / per_channel);
    group = group == 0 ? 1 : group > channels ? channels : group;
    enum error_code rc = ERROR_OK;
    job->collect = true;
    job->table = table;
    job->offset = offset;
    for (size_t c0 = 0; c0 < channels && n != 0 && rc == ERROR_OK; c0 += group) {
        job->c0 = c0;
        job->c1 = c0 + group < channels ? c0 + group : channels;
        const uint64_t width = (job->c1 - job->c0) * sizeof(double);
        for (size_t r0 = 0; r0 < n && rc == ERROR_OK;) {
            size_t r1 = r0 + 1;
            if ((offset[r1] - offset[r0]) * width > budget) {
                rc = error_set(err, ERROR_TOO_LARGE,
                               "label %llu has %llu pixels: its values are over the %zu bytes "
                               "one pass may hold for median and gini_index",
                               (unsigned long long)table->label[r0],
                               (unsigned long long)table->shape[r0].area, values_max);
                break;
            }
            while (r1 < n && (offset[r1 + 1] - offset[r0]) * width <= budget)
                r1++;
            job->r0 = r0;
            job->r1 = r1;
            rc = values_pass(job, loop, table, err);
            r0 = r1;
        }
    }
    free(offset);
    return rc;
}

static const char *name_of(const struct load_source *src, size_t i)
{
    if (src->name != NULL)
        return src->name;
    return i == 0 ? "labels" : "channel";
}

enum error_code load_quantify(const struct load_source *labels, const struct load_source *channels,
                              size_t n_channels, const struct load_quantify_options *qopt,
                              const struct load_options *options, struct quantify_table *table,
                              struct load_info *label_info, struct load_info *channel_info,
                              struct error_info *err)
{
    enum error_code rc = ERROR_OK;
    struct lq_job job;
    memset(&job, 0, sizeof job);
    memset(table, 0, sizeof *table);
    job.n = n_channels + 1;
    job.opt = options;
    job.channel_opt = *options;
    job.channel_opt.intensity = true;
    job.max_labels = qopt->max_labels;
    atomic_init(&job.failed, false);
    error_init(&job.merge_err);
    job.src = alloc_zeroed(job.n, sizeof *job.src);
    job.name = alloc_zeroed(job.n, sizeof *job.name);
    job.ops = alloc_zeroed(job.n, sizeof *job.ops);
    job.layout = alloc_zeroed(job.n, sizeof *job.layout);
    job.w0 = alloc_zeroed(1, sizeof *job.w0);
    if (job.src == NULL || job.name == NULL || job.ops == NULL || job.layout == NULL ||
        job.w0 == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate the quantification job");
        goto out;
    }
    for (size_t i = 0; i < job.n; i++) {
        job.src[i] = i == 0 ? labels : &channels[i - 1];
        job.name[i] = name_of(job.src[i], i);
    }
    rc = job_describe(&job, err);
    if (label_info != NULL && job.ops[0] != NULL)
        *label_info = job.layout[0].info;
    for (size_t c = 0; channel_info != NULL && c < n_channels; c++)
        channel_info[c] = job.layout[c + 1].info;
    if (rc != ERROR_OK)
        goto out;
    struct parallel_loop loop = {.n = job.units,
                                 .threads = options->threads,
                                 .deadline = options->deadline,
                                 .scratch = sizeof(struct lq_worker),
                                 .item = worker_unit,
                                 .done = worker_done,
                                 .arg = &job};
    job.w0->acc = quantify_acc_new(job.width == 0 ? 1 : job.width, job.height, n_channels,
                                   qopt->max_labels, err);
    if (job.w0->acc == NULL)
        rc = ERROR_NO_MEMORY;
    else if (job.height != 0 && job.width != 0)
        rc = parallel_run(&loop, NULL, err);
    if (rc == ERROR_OK && job.merge_rc != ERROR_OK) {
        rc = job.merge_rc;
        if (err != NULL)
            *err = job.merge_err;
    }
    if (rc == ERROR_OK)
        rc = quantify_acc_finish(job.w0->acc, table, err);
    if (rc == ERROR_OK && qopt->values && n_channels != 0) {
        job.merge_rc = ERROR_OK;
        rc = values_passes(&job, &loop,
                           qopt->values_max ? qopt->values_max : LOAD_QUANTIFY_VALUES_MAX, table,
                           err);
        if (rc != ERROR_OK)
            quantify_table_cleanup(table);
    }
out:
    if (job.w0 != NULL) {
        worker_release(&job, job.w0);
        quantify_acc_free(job.w0->acc);
        free(job.w0);
    }
    for (size_t i = 0; job.layout != NULL && i < job.n; i++)
        if (job.ops[i] != NULL)
            job.ops[i]->cleanup(&job.layout[i]);
    free(job.src);
    free(job.name);
    free(job.ops);
    free(job.layout);
    return rc;
}
