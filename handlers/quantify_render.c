/*
 * quantify_render.c - the JSON and CSV answers of POST /quantify; see quantify_render.h.
 */
#include "quantify_render.h"

#include "buf.h"
#include "jsonw.h"
#include "limit.h"
#include "overlap.h"
#include "problem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const quantify_stat_names[QUANTIFY_STAT_COUNT] = {"mean", "sum",    "min",       "max",
                                                              "std",  "median", "gini_index"};
const char *const quantify_feature_names[QUANTIFY_FEATURE_COUNT] = {
    "centroid", "area",   "major_axis_length", "minor_axis_length", "eccentricity",
    "solidity", "extent", "orientation",       "perimeter",         "bbox"};

/* mcquant's CSV names of the features, in column order (centroid is two columns). */
static const char *const csv_feature_names[QUANTIFY_FEATURE_COUNT] = {
    "X_centroid,Y_centroid",
    "Area",
    "MajorAxisLength",
    "MinorAxisLength",
    "Eccentricity",
    "Solidity",
    "Extent",
    "Orientation",
    "Perimeter",
    "bbox-0,bbox-1,bbox-2,bbox-3"};

static double stat_of(const struct quantify_stats *s, unsigned k)
{
    switch (k) {
    case QUANTIFY_STAT_SUM:
        return s->sum;
    case QUANTIFY_STAT_MIN:
        return s->min;
    case QUANTIFY_STAT_MAX:
        return s->max;
    case QUANTIFY_STAT_STD:
        return s->std;
    case QUANTIFY_STAT_MEDIAN:
        return s->median;
    case QUANTIFY_STAT_GINI:
        return s->gini;
    default:
        return s->mean;
    }
}

/* A single-valued feature of one cell (not centroid, area or bbox). */
static double feature_of(const struct quantify_shape *s, unsigned f)
{
    switch (f) {
    case QUANTIFY_FEATURE_MAJOR:
        return s->major_axis_length;
    case QUANTIFY_FEATURE_MINOR:
        return s->minor_axis_length;
    case QUANTIFY_FEATURE_ECCENTRICITY:
        return s->eccentricity;
    case QUANTIFY_FEATURE_SOLIDITY:
        return s->solidity;
    case QUANTIFY_FEATURE_EXTENT:
        return s->extent;
    case QUANTIFY_FEATURE_ORIENTATION:
        return s->orientation;
    default:
        return s->perimeter;
    }
}

static const char *dtype_name(const struct load_info *info)
{
    if (info->floating)
        return info->bits == 32 ? "float32" : "float64";
    return overlap_dtype_name(info->dtype);
}

/* ------------------------------------------------------------------------------------------
 * JSON
 */

static void json_column_double(struct jsonw *w, const char *key, const struct quantify_table *t,
                               unsigned f)
{
    jsonw_lit(w, key);
    jsonw_lit(w, "[");
    for (size_t r = 0; r < t->labels; r++) {
        if (r)
            jsonw_lit(w, ",");
        jsonw_double(w, feature_of(&t->shape[r], f));
    }
    jsonw_lit(w, "]");
}

static void json_columns(struct jsonw *w, const struct quantify_table *t, unsigned shape)
{
    jsonw_lit(w, "\"columns\":{\"label\":[");
    for (size_t r = 0; r < t->labels; r++) {
        if (r)
            jsonw_lit(w, ",");
        jsonw_u64(w, t->label[r]);
    }
    jsonw_lit(w, "]");
    for (unsigned f = 0; f < QUANTIFY_FEATURE_COUNT; f++) {
        if (!(shape & (1u << f)))
            continue;
        if (f == QUANTIFY_FEATURE_CENTROID || f == QUANTIFY_FEATURE_AREA ||
            f == QUANTIFY_FEATURE_BBOX) {
            const unsigned parts = f == QUANTIFY_FEATURE_CENTROID ? 2
                                   : f == QUANTIFY_FEATURE_BBOX   ? 4
                                                                  : 1;
            for (unsigned p = 0; p < parts; p++) {
                char key[48];
                if (parts == 1)
                    snprintf(key, sizeof key, ",\"%s\":[", quantify_feature_names[f]);
                else
                    snprintf(key, sizeof key, ",\"%s-%u\":[", quantify_feature_names[f], p);
                jsonw_lit(w, key);
                for (size_t r = 0; r < t->labels; r++) {
                    const struct quantify_shape *s = &t->shape[r];
                    if (r)
                        jsonw_lit(w, ",");
                    if (f == QUANTIFY_FEATURE_AREA)
                        jsonw_u64(w, s->area);
                    else if (f == QUANTIFY_FEATURE_BBOX)
                        jsonw_u64(w, s->bbox[p]);
                    else
                        jsonw_double(w, p == 0 ? s->centroid_y : s->centroid_x);
                }
                jsonw_lit(w, "]");
            }
            continue;
        }
        char key[48];
        snprintf(key, sizeof key, ",\"%s\":", quantify_feature_names[f]);
        json_column_double(w, key, t, f);
    }
    jsonw_lit(w, "}");
}

/* One table as a JSON object; with mask set, its first member names the mask. */
static void json_table(struct jsonw *w, const char *mask, const struct quantify_file_result *r,
                       unsigned stats, unsigned shape)
{
    const struct quantify_table *t = &r->table;
    if (mask != NULL) {
        jsonw_lit(w, "{\"mask\":");
        if (!jsonw_string(w, mask, strlen(mask)))
            jsonw_lit(w, "null");
        jsonw_member_u64(w, ",\"labels\":", t->labels);
    } else {
        jsonw_member_u64(w, "{\"labels\":", t->labels);
    }
    jsonw_member_u64(w, ",\"height\":", r->labels.height);
    jsonw_member_u64(w, ",\"width\":", r->labels.width);
    jsonw_lit(w, ",\"label_dtype\":\"");
    jsonw_lit(w, dtype_name(&r->labels));
    jsonw_lit(w, "\",\"channels\":[");
    for (size_t c = 0; c < t->channels; c++) {
        jsonw_lit(w, c ? ",{\"name\":" : "{\"name\":");
        if (!jsonw_string(w, r->channels[c].name, strlen(r->channels[c].name)))
            jsonw_lit(w, "null");
        jsonw_lit(w, ",\"dtype\":\"");
        jsonw_lit(w, dtype_name(&r->channels[c].info));
        jsonw_member_bool(w, "\",\"level0\":", r->channels[c].level0);
        jsonw_lit(w, "}");
    }
    jsonw_lit(w, "],");
    json_columns(w, t, shape);
    jsonw_lit(w, ",\"intensity\":{");
    bool first = true;
    for (unsigned k = 0; k < QUANTIFY_STAT_COUNT; k++) {
        if (!(stats & (1u << k)))
            continue;
        char key[32];
        snprintf(key, sizeof key, "%s\"%s\":[", first ? "" : ",", quantify_stat_names[k]);
        jsonw_lit(w, key);
        first = false;
        for (size_t c = 0; c < t->channels; c++) {
            jsonw_lit(w, c ? ",[" : "[");
            for (size_t row = 0; row < t->labels; row++) {
                if (row)
                    jsonw_lit(w, ",");
                jsonw_double(w, stat_of(&t->stats[row * t->channels + c], k));
            }
            jsonw_lit(w, "]");
        }
        jsonw_lit(w, "]");
    }
    jsonw_lit(w, "}}");
}

void quantify_render_json(const struct request *req, const struct quantify_file_result *r,
                          const char *const *masks, size_t n, unsigned stats, unsigned shape,
                          struct response *resp)
{
    struct jsonw w;
    jsonw_init(&w);
    if (masks == NULL) {
        json_table(&w, NULL, &r[0], stats, shape);
    } else {
        jsonw_lit(&w, "{\"masks\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                jsonw_lit(&w, ",");
            json_table(&w, masks[i], &r[i], stats, shape);
        }
        jsonw_lit(&w, "]}");
    }
    response_jsonw(resp, req, &w);
    jsonw_cleanup(&w);
}

/* ------------------------------------------------------------------------------------------
 * CSV
 */

/* A header field, quoted as RFC 4180 asks when it holds a comma, quote or line break. */
static void csv_name(struct buf *b, const char *name, const char *suffix)
{
    if (strpbrk(name, ",\"\r\n") == NULL) {
        (void)buf_printf(b, ",%s%s", name, suffix);
        return;
    }
    (void)buf_puts(b, ",\"");
    for (const char *p = name; *p; p++)
        (void)(*p == '"' ? buf_puts(b, "\"\"") : buf_putc(b, *p));
    (void)buf_printf(b, "%s\"", suffix);
}

/* The shortest of 15, 16 or 17 significant digits that reads back as v (as Python and
 * pandas print floats); NaN as an empty field. */
static void csv_double(struct buf *b, double v)
{
    if (isnan(v)) {
        (void)buf_putc(b, ',');
        return;
    }
    char text[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v)
            break;
    }
    (void)buf_printf(b, ",%s", text);
}

void quantify_render_csv(const struct request *req, const struct quantify_file_result *r,
                         unsigned stats, unsigned shape, struct response *resp)
{
    const struct quantify_table *t = &r->table;
    struct buf b;
    buf_init(&b, LIMIT_MAX_ANSWER);
    (void)buf_puts(&b, "CellID");
    for (unsigned k = 0; k < QUANTIFY_STAT_COUNT; k++) {
        if (!(stats & (1u << k)))
            continue;
        char suffix[32] = "";
        if (k != QUANTIFY_STAT_MEAN)
            snprintf(suffix, sizeof suffix, "%s%s", k == QUANTIFY_STAT_GINI ? "_" : "_intensity_",
                     quantify_stat_names[k]);
        for (size_t c = 0; c < t->channels; c++)
            csv_name(&b, r->channels[c].name, suffix);
    }
    for (unsigned f = 0; f < QUANTIFY_FEATURE_COUNT; f++)
        if (shape & (1u << f))
            (void)buf_printf(&b, ",%s", csv_feature_names[f]);
    (void)buf_puts(&b, "\n");
    for (size_t row = 0; row < t->labels; row++) {
        const struct quantify_shape *s = &t->shape[row];
        (void)buf_printf(&b, "%llu", (unsigned long long)t->label[row]);
        for (unsigned k = 0; k < QUANTIFY_STAT_COUNT; k++)
            for (size_t c = 0; (stats & (1u << k)) && c < t->channels; c++)
                csv_double(&b, stat_of(&t->stats[row * t->channels + c], k));
        for (unsigned f = 0; f < QUANTIFY_FEATURE_COUNT; f++) {
            if (!(shape & (1u << f)))
                continue;
            if (f == QUANTIFY_FEATURE_CENTROID) {
                csv_double(&b, s->centroid_x);
                csv_double(&b, s->centroid_y);
            } else if (f == QUANTIFY_FEATURE_AREA) {
                (void)buf_printf(&b, ",%llu", (unsigned long long)s->area);
            } else if (f == QUANTIFY_FEATURE_BBOX) {
                (void)buf_printf(&b, ",%u,%u,%u,%u", s->bbox[0], s->bbox[1], s->bbox[2],
                                 s->bbox[3]);
            } else {
                csv_double(&b, feature_of(s, f));
            }
        }
        (void)buf_puts(&b, "\n");
    }
    enum buf_status status = b.status;
    size_t len = 0;
    char *text = status == BUF_OK ? buf_take(&b, &len) : NULL;
    if (text != NULL)
        response_bytes(resp, 200, "text/csv; charset=utf-8", text, len);
    else if (status == BUF_TOO_LARGE)
        problem_send(resp, req, 413, "the CSV answer would be larger than %zu bytes",
                     (size_t)LIMIT_MAX_ANSWER);
    else
        problem_send(resp, req, 503, "out of memory rendering the answer");
    buf_cleanup(&b);
}
