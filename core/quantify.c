/*
 * quantify.c - folding label rows and channel rows into per-label accumulators; see
 * quantify.h. The shape features are derived in core/quantify_shape.c.
 *
 * A row is cut into runs of one label; each run costs one hash lookup (the last label's cell
 * is cached, so a run continuing a cell from the row above costs none) and closed-form sums.
 * Channel sums are kept as double-double (Neumaier's two-sum carries the rounding error), so
 * integer channels are summed exactly up to 2^106 and float channels to ~1e-32 relative.
 */
#include "quantify.h"

#include "alloc.h"
#include "quantify_cell.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct chan_acc {
    double s, sc; /* sum, compensation */
    double q, qc; /* sum of squares, compensation */
    double min, max;
};

struct quantify_acc {
    uint32_t width, height;
    size_t channels;
    uint64_t max_labels;
    struct quantify_cell *cells;
    struct chan_acc *chan; /* cap x channels */
    size_t n, cap;
    uint32_t *slot; /* hash slots: cell index + 1, 0 = empty */
    size_t slot_mask;
    struct quantify_extent *ext;
    size_t n_ext, cap_ext;
    unsigned char *border; /* 3 rows of border flags: rows y-1, y, y+1 of row border_y */
    int64_t border_y;      /* the row whose border rows are held; -2 = none */
    size_t last;           /* cell of the previous run + 1, 0 = none */
};

/* ------------------------------------------------------------------------------------------
 * The label table: open addressing on the label, cells appended in discovery order.
 */

static uint64_t hash_label(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static bool table_grow(struct quantify_acc *acc)
{
    const size_t cap = acc->cap == 0 ? 64 : acc->cap * 2;
    struct quantify_cell *cells = alloc_resize(acc->cells, cap * sizeof *cells);
    if (cells == NULL)
        return false;
    acc->cells = cells;
    if (acc->channels != 0) {
        struct chan_acc *chan = alloc_resize(acc->chan, cap * acc->channels * sizeof *chan);
        if (chan == NULL)
            return false;
        acc->chan = chan;
    }
    uint32_t *slot = alloc_zeroed(cap * 2, sizeof *slot);
    if (slot == NULL)
        return false;
    free(acc->slot);
    acc->slot = slot;
    acc->slot_mask = cap * 2 - 1;
    for (size_t i = 0; i < acc->n; i++) {
        size_t h = (size_t)hash_label(acc->cells[i].label) & acc->slot_mask;
        while (slot[h] != 0)
            h = (h + 1) & acc->slot_mask;
        slot[h] = (uint32_t)(i + 1);
    }
    acc->cap = cap;
    return true;
}

/* The cell of label v (created empty when new), or SIZE_MAX with err filled. */
static size_t table_cell(struct quantify_acc *acc, uint64_t v, struct error_info *err)
{
    if (acc->slot != NULL) {
        size_t h = (size_t)hash_label(v) & acc->slot_mask;
        for (; acc->slot[h] != 0; h = (h + 1) & acc->slot_mask)
            if (acc->cells[acc->slot[h] - 1].label == v)
                return acc->slot[h] - 1u;
    }
    if (acc->max_labels != 0 && acc->n >= acc->max_labels) {
        error_set(err, ERROR_TOO_LARGE, "the label image has more than %llu labels (max_labels)",
                  (unsigned long long)acc->max_labels);
        return SIZE_MAX;
    }
    if (acc->n >= UINT32_MAX - 1 || (acc->n == acc->cap && !table_grow(acc))) {
        error_set(err, ERROR_NO_MEMORY, "cannot grow the label table past %zu labels", acc->n);
        return SIZE_MAX;
    }
    size_t h = (size_t)hash_label(v) & acc->slot_mask;
    while (acc->slot[h] != 0)
        h = (h + 1) & acc->slot_mask;
    const size_t i = acc->n++;
    acc->slot[h] = (uint32_t)(i + 1);
    struct quantify_cell *c = &acc->cells[i];
    memset(c, 0, sizeof *c);
    c->label = v;
    c->bbox[0] = c->bbox[1] = UINT32_MAX;
    for (size_t k = 0; k < acc->channels; k++) {
        struct chan_acc *ch = &acc->chan[i * acc->channels + k];
        memset(ch, 0, sizeof *ch);
        ch->min = INFINITY;
        ch->max = -INFINITY;
    }
    return i;
}

struct quantify_acc *quantify_acc_new(uint32_t width, uint32_t height, size_t channels,
                                      uint64_t max_labels, struct error_info *err)
{
    struct quantify_acc *acc = alloc_zeroed(1, sizeof *acc);
    if (acc == NULL || width == 0 || (acc->border = alloc_bytes((size_t)width * 3)) == NULL) {
        free(acc);
        error_set(err, ERROR_NO_MEMORY, "cannot allocate a quantification accumulator");
        return NULL;
    }
    acc->width = width;
    acc->height = height;
    acc->border_y = -2;
    acc->channels = channels;
    acc->max_labels = max_labels;
    return acc;
}

void quantify_acc_free(struct quantify_acc *acc)
{
    if (acc == NULL)
        return;
    free(acc->cells);
    free(acc->chan);
    free(acc->slot);
    free(acc->ext);
    free(acc->border);
    free(acc);
}

size_t quantify_acc_labels(const struct quantify_acc *acc)
{
    return acc->n;
}

/* ------------------------------------------------------------------------------------------
 * Row extents: one per label and row, pushed when the label's open row changes.
 */

static bool extent_push(struct quantify_acc *acc, uint32_t cell, uint32_t y, uint32_t x0,
                        uint32_t x1)
{
    if (acc->n_ext == acc->cap_ext) {
        const size_t cap = acc->cap_ext == 0 ? 256 : acc->cap_ext * 2;
        struct quantify_extent *ext = alloc_resize(acc->ext, cap * sizeof *ext);
        if (ext == NULL)
            return false;
        acc->ext = ext;
        acc->cap_ext = cap;
    }
    acc->ext[acc->n_ext++] = (struct quantify_extent){cell, y, x0, x1};
    return true;
}

static enum error_code extents_flush(struct quantify_acc *acc, struct error_info *err)
{
    for (size_t i = 0; i < acc->n; i++) {
        struct quantify_cell *c = &acc->cells[i];
        if (c->row_open && !extent_push(acc, (uint32_t)i, c->row_y, c->row_x0, c->row_x1))
            return error_set(err, ERROR_NO_MEMORY, "cannot grow the row extents");
        c->row_open = false;
    }
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * Folding a row
 */

static void two_sum(double *s, double *c, double v)
{
    const double t = *s + v;
    *c += fabs(*s) >= fabs(v) ? (*s - t) + v : (v - t) + *s;
    *s = t;
}

/* Border flags of label row r (rows[r] not NULL): a labelled pixel with a 4-neighbour of
 * another value or outside the image. */
static void border_row(const struct quantify_acc *acc, const uint64_t *const rows[5], unsigned r,
                       unsigned char *out)
{
    const uint64_t *row = rows[r], *up = rows[r - 1], *down = rows[r + 1];
    const uint32_t w = acc->width;
    for (uint32_t x = 0; x < w; x++) {
        const uint64_t v = row[x];
        out[x] = v != 0 && (x == 0 || x == w - 1 || up == NULL || down == NULL || row[x - 1] != v ||
                            row[x + 1] != v || up[x] != v || down[x] != v);
    }
}

/* skimage's perimeter weights by the value 1 + 2 (4-neighbours) + 10 (diagonals) of a
 * border pixel: class 0 weighs 1, class 1 sqrt 2, class 2 (1 + sqrt 2) / 2, -1 nothing. */
static int perimeter_class(unsigned value)
{
    switch (value) {
    case 5:
    case 7:
    case 15:
    case 17:
    case 25:
    case 27:
        return 0;
    case 21:
    case 33:
        return 1;
    case 13:
    case 23:
        return 2;
    default:
        return -1;
    }
}

static void fold_border(struct quantify_acc *acc, struct quantify_cell *c,
                        const uint64_t *const rows[5], uint32_t x0, uint32_t x1)
{
    const unsigned char *b_up = acc->border, *b = acc->border + acc->width,
                        *b_down = acc->border + 2 * (size_t)acc->width;
    const uint64_t *up = rows[1], *row = rows[2], *down = rows[3];
    const uint64_t v = c->label;
    const uint32_t w = acc->width;
    for (uint32_t x = x0; x < x1; x++) {
        if (!b[x])
            continue;
        unsigned n4 = 0, nd = 0;
        if (x > 0)
            n4 += b[x - 1] && row[x - 1] == v;
        if (x + 1 < w)
            n4 += b[x + 1] && row[x + 1] == v;
        if (up != NULL) {
            n4 += b_up[x] && up[x] == v;
            if (x > 0)
                nd += b_up[x - 1] && up[x - 1] == v;
            if (x + 1 < w)
                nd += b_up[x + 1] && up[x + 1] == v;
        }
        if (down != NULL) {
            n4 += b_down[x] && down[x] == v;
            if (x > 0)
                nd += b_down[x - 1] && down[x - 1] == v;
            if (x + 1 < w)
                nd += b_down[x + 1] && down[x + 1] == v;
        }
        const int k = perimeter_class(1 + 2 * n4 + 10 * nd);
        if (k >= 0)
            c->border[k]++;
    }
}

/* sum of x^2 for x in [0, m] */
static quantify_u128 sum_squares(uint64_t m)
{
    return (quantify_u128)m * (m + 1) * (2 * (quantify_u128)m + 1) / 6;
}

static enum error_code fold_run(struct quantify_acc *acc, size_t i, uint32_t y,
                                const uint64_t *const rows[5], const double *const *channel,
                                uint32_t x0, uint32_t x1, struct error_info *err)
{
    struct quantify_cell *c = &acc->cells[i];
    const uint64_t len = x1 - x0;
    const quantify_u128 sum_x = ((quantify_u128)x0 + (x1 - 1)) * len / 2;
    c->n += len;
    c->sx += sum_x;
    c->sy += (quantify_u128)y * len;
    c->sxx += sum_squares(x1 - 1) - (x0 == 0 ? 0 : sum_squares(x0 - 1));
    c->sxy += sum_x * y;
    c->syy += (quantify_u128)y * y * len;
    if (y < c->bbox[0])
        c->bbox[0] = y;
    if (x0 < c->bbox[1])
        c->bbox[1] = x0;
    if (y + 1 > c->bbox[2])
        c->bbox[2] = y + 1;
    if (x1 > c->bbox[3])
        c->bbox[3] = x1;
    if (c->row_open && c->row_y == y) {
        c->row_x1 = x1 - 1;
    } else {
        if (c->row_open && !extent_push(acc, (uint32_t)i, c->row_y, c->row_x0, c->row_x1))
            return error_set(err, ERROR_NO_MEMORY, "cannot grow the row extents");
        c->row_open = true;
        c->row_y = y;
        c->row_x0 = x0;
        c->row_x1 = x1 - 1;
    }
    fold_border(acc, c, rows, x0, x1);
    for (size_t k = 0; k < acc->channels; k++) {
        const double *v = channel[k];
        double s = 0, q = 0, mn = v[x0], mx = v[x0];
        for (uint32_t x = x0; x < x1; x++) {
            s += v[x];
            q += v[x] * v[x];
            mn = v[x] < mn || isnan(v[x]) ? v[x] : mn; /* a NaN sticks, as numpy's min */
            mx = v[x] > mx || isnan(v[x]) ? v[x] : mx;
        }
        struct chan_acc *ch = &acc->chan[i * acc->channels + k];
        two_sum(&ch->s, &ch->sc, s);
        two_sum(&ch->q, &ch->qc, q);
        ch->min = mn < ch->min || isnan(mn) ? mn : ch->min;
        ch->max = mx > ch->max || isnan(mx) ? mx : ch->max;
    }
    return ERROR_OK;
}

enum error_code quantify_acc_row(struct quantify_acc *acc, uint32_t y,
                                 const uint64_t *const rows[5], const double *const *channel,
                                 struct error_info *err)
{
    const uint32_t w = acc->width;
    unsigned first = 1;
    if (acc->border_y == (int64_t)y - 1) { /* rows y and y + 1 were computed for row y - 1 */
        memmove(acc->border, acc->border + w, 2 * (size_t)w);
        first = 3;
    }
    for (unsigned r = first; r <= 3; r++) {
        unsigned char *out = acc->border + (size_t)(r - 1) * w;
        if (rows[r] == NULL)
            memset(out, 0, w);
        else
            border_row(acc, rows, r, out);
    }
    acc->border_y = y;
    const uint64_t *row = rows[2];
    uint32_t x = 0;
    while (x < w) {
        const uint64_t v = row[x];
        uint32_t e = x + 1;
        while (e < w && row[e] == v)
            e++;
        if (v != 0) {
            size_t i = acc->last != 0 && acc->cells[acc->last - 1].label == v
                           ? acc->last - 1
                           : table_cell(acc, v, err);
            if (i == SIZE_MAX)
                return err != NULL ? err->code : ERROR_NO_MEMORY;
            acc->last = i + 1;
            enum error_code rc = fold_run(acc, i, y, rows, channel, x, e, err);
            if (rc != ERROR_OK)
                return rc;
        }
        x = e;
    }
    return ERROR_OK;
}

/* ------------------------------------------------------------------------------------------
 * Merging and finishing
 */

enum error_code quantify_acc_merge(struct quantify_acc *into, struct quantify_acc *from,
                                   struct error_info *err)
{
    enum error_code rc = extents_flush(from, err);
    if (rc != ERROR_OK)
        return rc;
    rc = extents_flush(into, err);
    if (rc != ERROR_OK)
        return rc;
    uint32_t *map = alloc_zeroed(from->n + 1, sizeof *map);
    if (map == NULL)
        return error_set(err, ERROR_NO_MEMORY, "cannot merge label tables");
    into->last = 0;
    for (size_t j = 0; j < from->n; j++) {
        const struct quantify_cell *f = &from->cells[j];
        size_t i = table_cell(into, f->label, err);
        if (i == SIZE_MAX) {
            rc = err != NULL ? err->code : ERROR_NO_MEMORY;
            goto out;
        }
        map[j] = (uint32_t)i;
        struct quantify_cell *c = &into->cells[i];
        c->n += f->n;
        c->sx += f->sx;
        c->sy += f->sy;
        c->sxx += f->sxx;
        c->sxy += f->sxy;
        c->syy += f->syy;
        for (unsigned k = 0; k < 2; k++) {
            c->bbox[k] = f->bbox[k] < c->bbox[k] ? f->bbox[k] : c->bbox[k];
            c->bbox[k + 2] = f->bbox[k + 2] > c->bbox[k + 2] ? f->bbox[k + 2] : c->bbox[k + 2];
        }
        for (unsigned k = 0; k < 3; k++)
            c->border[k] += f->border[k];
        for (size_t k = 0; k < into->channels; k++) {
            struct chan_acc *a = &into->chan[i * into->channels + k];
            const struct chan_acc *b = &from->chan[j * from->channels + k];
            two_sum(&a->s, &a->sc, b->s);
            two_sum(&a->s, &a->sc, b->sc);
            two_sum(&a->q, &a->qc, b->q);
            two_sum(&a->q, &a->qc, b->qc);
            a->min = b->min < a->min || isnan(b->min) ? b->min : a->min;
            a->max = b->max > a->max || isnan(b->max) ? b->max : a->max;
        }
    }
    for (size_t e = 0; e < from->n_ext; e++) {
        const struct quantify_extent *x = &from->ext[e];
        if (!extent_push(into, map[x->cell], x->y, x->x0, x->x1)) {
            rc = error_set(err, ERROR_NO_MEMORY, "cannot grow the row extents");
            goto out;
        }
    }
    from->n = from->n_ext = 0;
    from->last = 0;
    if (from->slot != NULL)
        memset(from->slot, 0, (from->slot_mask + 1) * sizeof *from->slot);
out:
    free(map);
    return rc;
}

struct label_order {
    uint64_t label;
    size_t cell;
};

static int by_label(const void *a, const void *b)
{
    const uint64_t x = ((const struct label_order *)a)->label;
    const uint64_t y = ((const struct label_order *)b)->label;
    return (x > y) - (x < y);
}

static int by_row(const void *a, const void *b)
{
    const uint32_t x = ((const struct quantify_extent *)a)->y;
    const uint32_t y = ((const struct quantify_extent *)b)->y;
    return (x > y) - (x < y);
}

static void stats_of(const struct chan_acc *ch, uint64_t n, struct quantify_stats *st)
{
    const long double sum = (long double)ch->s + ch->sc;
    const long double sq = (long double)ch->q + ch->qc;
    const long double var = (sq - sum * sum / (long double)n) / (long double)n;
    st->sum = (double)sum;
    st->mean = (double)(sum / (long double)n);
    st->std = isnan(var) ? NAN : var > 0 ? (double)sqrtl(var) : 0.0; /* NaN in, NaN out */
    st->min = ch->min;
    st->max = ch->max;
    st->median = st->gini = NAN;
}

/* Sort the extents by cell (counting sort) and within a cell by row; start[i] .. start[i+1]
 * are cell i's. */
static struct quantify_extent *extents_by_cell(const struct quantify_acc *acc, size_t *start)
{
    struct quantify_extent *out = alloc_large(acc->n_ext * sizeof *out + 1);
    if (out == NULL)
        return NULL;
    memset(start, 0, (acc->n + 1) * sizeof *start);
    for (size_t e = 0; e < acc->n_ext; e++)
        start[acc->ext[e].cell + 1]++;
    for (size_t i = 0; i < acc->n; i++)
        start[i + 1] += start[i];
    size_t *fill = start; /* reused as the cursor, restored below */
    for (size_t e = 0; e < acc->n_ext; e++)
        out[fill[acc->ext[e].cell]++] = acc->ext[e];
    for (size_t i = acc->n; i > 0; i--)
        start[i] = start[i - 1];
    start[0] = 0;
    for (size_t i = 0; i < acc->n; i++)
        qsort(out + start[i], start[i + 1] - start[i], sizeof *out, by_row);
    return out;
}

enum error_code quantify_acc_finish(struct quantify_acc *acc, struct quantify_table *table,
                                    struct error_info *err)
{
    memset(table, 0, sizeof *table);
    struct label_order *order = NULL;
    size_t *start = NULL;
    struct quantify_extent *ext = NULL;
    enum error_code rc = extents_flush(acc, err);
    if (rc != ERROR_OK)
        return rc;
    const size_t n = acc->n;
    table->labels = n;
    table->channels = acc->channels;
    order = alloc_bytes(n * sizeof *order + 1);
    start = alloc_bytes((n + 1) * sizeof *start);
    table->label = alloc_large(n * sizeof *table->label + 1);
    table->shape = alloc_large(n * sizeof *table->shape + 1);
    table->stats = alloc_large_zeroed(n * acc->channels + 1, sizeof *table->stats);
    if (order == NULL || start == NULL || table->label == NULL || table->shape == NULL ||
        table->stats == NULL || (ext = extents_by_cell(acc, start)) == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate the table of %zu labels", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (struct label_order){acc->cells[i].label, i};
    qsort(order, n, sizeof *order, by_label);
    for (size_t r = 0; r < n; r++) {
        const size_t i = order[r].cell;
        table->label[r] = acc->cells[i].label;
        quantify_shape_of(&acc->cells[i], ext + start[i], start[i + 1] - start[i],
                          &table->shape[r]);
        for (size_t k = 0; k < acc->channels; k++)
            stats_of(&acc->chan[i * acc->channels + k], acc->cells[i].n,
                     &table->stats[r * acc->channels + k]);
    }
out:
    free(order);
    free(start);
    free(ext);
    if (rc != ERROR_OK)
        quantify_table_cleanup(table);
    return rc;
}

void quantify_table_cleanup(struct quantify_table *table)
{
    free(table->label);
    free(table->shape);
    free(table->stats);
    memset(table, 0, sizeof *table);
}

/* ------------------------------------------------------------------------------------------
 * Median and Gini from every value of a cell
 */

static int by_value(const void *a, const void *b) /* NaN last, as numpy sorts */
{
    const double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

void quantify_values_of(double *v, size_t n, struct quantify_stats *st)
{
    st->median = st->gini = NAN;
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, by_value);
    if (isnan(v[n - 1]))
        return;
    st->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    long double cum = 0, sum_cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += v[i];
        sum_cum += cum;
    }
    if (cum != 0)
        st->gini = (double)(((long double)n + 1 - 2 * sum_cum / cum) / (long double)n);
}
