/*
 * classify_json.c - the batch options and the JSON of one classification; see
 * classify_json.h.
 */
#include "classify_json.h"

#include "problem.h"

#include <stdio.h>
#include <string.h>

void classify_json_options(const struct handler_context *ctx, struct classify_batch_options *opt)
{
    *opt = (struct classify_batch_options){
        .root_fd = ctx->root_fd,
        .cache = ctx->cache,
        .classify = {.max_ifds = ctx->limits->max_ifds,
                     .zarr_json_max = ctx->limits->zarr_json_max},
        .threads = ctx->limits->threads,
    };
}

/* key, then value as a JSON string, or null when it is NULL or empty. */
static void classify_json_name(struct jsonw *w, const char *key, const char *value)
{
    jsonw_lit(w, key);
    if (value == NULL || value[0] == '\0')
        jsonw_lit(w, "null");
    else if (!jsonw_string(w, value, strlen(value)))
        jsonw_lit(w, "null");
}

/* key, then v, or null when it is 0 (not known). */
static void classify_json_known(struct jsonw *w, const char *key, uint64_t v)
{
    jsonw_lit(w, key);
    if (v == 0)
        jsonw_lit(w, "null");
    else
        jsonw_u64(w, v);
}

/* The physical pixel size object, or null when nothing gave one. */
static void classify_json_physical(struct jsonw *w, const struct classify_physical *p)
{
    static const char *const axis[3] = {"x", "y", "z"};
    jsonw_lit(w, ",\"physical_size\":");
    if (p->source[0] == '\0') {
        jsonw_lit(w, "null");
        return;
    }
    jsonw_lit(w, "{");
    for (int i = 0; i < 3; i++) {
        jsonw_lit(w, i ? ",\"" : "\"");
        jsonw_lit(w, axis[i]);
        jsonw_lit(w, "\":");
        if (p->size[i] > 0)
            jsonw_double(w, p->size[i]);
        else
            jsonw_lit(w, "null");
    }
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, ",\"unit_%s\":", axis[i]);
        classify_json_name(w, key, p->size[i] > 0 ? p->unit[i] : NULL);
    }
    classify_json_name(w, ",\"source\":", p->source);
    jsonw_lit(w, "}");
}

/* An array of n unsigned integers. */
static void classify_json_uints(struct jsonw *w, const char *key, const uint64_t *v, unsigned n)
{
    jsonw_lit(w, key);
    jsonw_lit(w, "[");
    for (unsigned i = 0; i < n; i++) {
        if (i > 0)
            jsonw_lit(w, ",");
        jsonw_u64(w, v[i]);
    }
    jsonw_lit(w, "]");
}

/* A one-character setting ('C', '/') as a string, or null when it is 0. */
static void classify_json_char(struct jsonw *w, const char *key, char c)
{
    char s[2] = {c, '\0'};
    classify_json_name(w, key, s);
}

/* The Zarr layout object, or null for anything that is not a Zarr store. */
static void classify_json_zarr(struct jsonw *w, const struct classify_zarr *z)
{
    jsonw_lit(w, ",\"zarr\":");
    if (z->zarr_format == 0) {
        jsonw_lit(w, "null");
        return;
    }
    jsonw_member_u64(w, "{\"zarr_format\":", z->zarr_format);
    classify_json_name(w, ",\"node_type\":", z->is_group ? "group" : "array");
    jsonw_lit(w, ",\"array\":");
    if (z->ndim == 0) {
        jsonw_lit(w, "null");
    } else {
        jsonw_lit(w, "{\"path\":");
        if (!jsonw_string(w, z->array_path, strlen(z->array_path)))
            jsonw_lit(w, "null");
        classify_json_uints(w, ",\"shape\":", z->shape, z->ndim);
        jsonw_lit(w, ",\"axes\":");
        if (z->axes[0][0] == '\0') {
            jsonw_lit(w, "null");
        } else {
            for (unsigned i = 0; i < z->ndim; i++)
                classify_json_name(w, i ? "," : "[", z->axes[i]);
            jsonw_lit(w, "]");
        }
        classify_json_uints(w, ",\"chunks\":", z->chunks, z->ndim);
        classify_json_name(w, ",\"dtype\":", z->dtype_raw);
        classify_json_char(w, ",\"order\":", z->order);
        classify_json_char(w, ",\"dimension_separator\":", z->separator);
        classify_json_name(w, ",\"chunk_key_encoding\":", z->chunk_key_encoding);
        jsonw_lit(w, ",\"fill_value\":");
        if (z->fill_value[0] == '\0' ||
            (z->fill_is_string && !jsonw_string(w, z->fill_value, strlen(z->fill_value))))
            jsonw_lit(w, "null");
        else if (!z->fill_is_string)
            jsonw_lit(w, z->fill_value);
        classify_json_name(w, ",\"codec\":", z->codec);
        jsonw_lit(w, ",\"codecs\":[");
        for (unsigned i = 0; i < z->codec_count; i++)
            classify_json_name(w, i ? "," : "", z->codecs[i]);
        jsonw_lit(w, "]");
        jsonw_lit(w, ",\"sharding\":");
        if (z->sharded)
            classify_json_uints(w, "{\"chunks\":", z->inner_chunks, z->ndim);
        jsonw_lit(w, z->sharded ? "}" : "null");
        jsonw_member_bool(w, ",\"overlap\":", z->overlap_ok);
        classify_json_name(w, ",\"overlap_detail\":", z->overlap_detail);
        jsonw_lit(w, "}");
    }
    jsonw_lit(w, ",\"levels\":[");
    for (unsigned i = 0; i < z->level_count; i++) {
        const struct classify_zarr_level *l = &z->levels[i];
        classify_json_name(w, i ? ",{\"path\":" : "{\"path\":", l->path);
        if (l->ndim == 0)
            jsonw_lit(w, ",\"shape\":null");
        else
            classify_json_uints(w, ",\"shape\":", l->shape, l->ndim);
        jsonw_lit(w, "}");
    }
    jsonw_lit(w, "],\"label_names\":[");
    for (unsigned i = 0; i < z->label_name_count; i++)
        classify_json_name(w, i ? "," : "", z->label_names[i]);
    jsonw_lit(w, "]}");
}

/* The TIFF page series and the stack object (null when the pages are not a stack). */
static void classify_json_tiff_pages(struct jsonw *w, const struct classify_result *r)
{
    jsonw_lit(w, ",\"series\":[");
    unsigned kept = r->series_count < CLASSIFY_SERIES_MAX ? r->series_count : CLASSIFY_SERIES_MAX;
    for (unsigned i = 0; i < kept; i++) {
        const struct classify_tiff_series *s = &r->series[i];
        jsonw_member_u64(w, i ? ",{\"first_page\":" : "{\"first_page\":", s->first_page);
        jsonw_member_u64(w, ",\"pages\":", s->pages);
        jsonw_member_u64(w, ",\"width\":", s->width);
        jsonw_member_u64(w, ",\"height\":", s->height);
        classify_json_name(w, ",\"dtype\":", s->dtype);
        classify_json_name(w, ",\"compression\":", s->compression);
        classify_json_name(w, ",\"layout\":", s->tiled ? "tiles" : "strips");
        classify_json_known(w, ",\"tile_width\":", s->tile_width);
        classify_json_known(w, ",\"tile_height\":", s->tile_height);
        classify_json_known(w, ",\"rows_per_strip\":", s->rows_per_strip);
        jsonw_lit(w, "}");
    }
    jsonw_member_u64(w, "],\"series_count\":", r->series_count);
    const struct classify_stack *st = &r->stack;
    jsonw_lit(w, ",\"stack\":");
    if (st->source == CLASSIFY_STACK_NONE) {
        jsonw_lit(w, "null");
        return;
    }
    classify_json_uints(w, "{\"shape\":", st->shape, 3);
    classify_json_name(w, ",\"dtype\":", st->dtype);
    classify_json_name(w, ",\"source\":", classify_stack_source_name(st->source));
    classify_json_known(w, ",\"slices\":", st->slices);
    classify_json_known(w, ",\"imagej_channels\":", st->imagej_channels);
    classify_json_known(w, ",\"imagej_frames\":", st->imagej_frames);
    jsonw_member_bool(w, ",\"overlap_volume\":", st->overlap_volume);
    classify_json_name(w, ",\"overlap_detail\":", st->overlap_detail);
    jsonw_lit(w, "}");
}

void classify_json_write(struct jsonw *w, const struct classify_batch_item *item,
                         const struct request *req)
{
    jsonw_lit(w, "{\"path\":");
    if (!jsonw_string(w, item->path, item->path_len))
        jsonw_lit(w, "null");
    if (item->err.code != ERROR_OK) {
        jsonw_lit(w, ",\"error\":");
        problem_append(w, req, &item->err);
        jsonw_lit(w, "}");
        return;
    }
    const struct classify_result *r = &item->result;
    jsonw_member_u64(w, ",\"size\":", S_ISREG(item->st.st_mode) ? (uint64_t)item->st.st_size : 0);
    jsonw_lit(w, ",\"mtime\":");
    jsonw_time(w, item->st.st_mtim.tv_sec, item->st.st_mtim.tv_nsec);
    classify_json_name(w, ",\"container\":", classify_container_name(r->container));
    classify_json_name(w, ",\"format\":", r->format);
    jsonw_member_bool(w, ",\"is_ome\":", r->is_ome);
    jsonw_member_bool(w, ",\"is_bigtiff\":", r->is_bigtiff);
    jsonw_member_bool(w, ",\"is_imagej\":", r->is_imagej);
    classify_json_name(w, ",\"vendor\":", r->vendor);
    jsonw_member_bool(w, ",\"can_use_openslide\":", r->can_use_openslide);
    jsonw_member_bool(w, ",\"can_use_vips\":", r->can_use_vips);
    classify_json_name(w, ",\"reader\":", classify_reader_name(r->reader));
    classify_json_name(w, ",\"img_type\":", classify_img_type_name(r->img_type));
    jsonw_member_u64(w, ",\"width\":", r->width);
    jsonw_member_u64(w, ",\"height\":", r->height);
    jsonw_member_u64(w, ",\"channels\":", r->channels);
    classify_json_name(w, ",\"dtype\":", r->dtype);
    jsonw_member_bool(w, ",\"tiled\":", r->tiled);
    jsonw_member_u64(w, ",\"tile_width\":", r->tile_width);
    jsonw_member_u64(w, ",\"tile_height\":", r->tile_height);
    classify_json_name(w, ",\"compression\":", r->compression);
    jsonw_member_u64(w, ",\"pages\":", r->pages);
    jsonw_member_u64(w, ",\"levels\":", r->levels);
    classify_json_name(w, ",\"vendor_detector\":", r->vendor_detector);
    classify_json_physical(w, &r->physical);
    classify_json_known(w, ",\"size_z\":", r->size_z);
    classify_json_known(w, ",\"size_t\":", r->size_t_);
    classify_json_name(w, ",\"dimension_order\":", r->dimension_order);
    jsonw_lit(w, ",\"labels\":[");
    for (unsigned k = 0; k < r->label_count; k++) {
        const struct classify_label *l = &r->labels[k];
        char path[CLASSIFY_LABEL_NAME_LEN + 8];
        snprintf(path, sizeof path, "labels/%s", l->name);
        classify_json_name(w, k ? ",{\"name\":" : "{\"name\":", l->name);
        classify_json_name(w, ",\"path\":", path);
        jsonw_member_bool(w, ",\"image_label\":", l->image_label);
        jsonw_member_u64(w, ",\"colors\":", l->colors);
        classify_json_name(w, ",\"source\":", l->source);
        jsonw_lit(w, "}");
    }
    jsonw_lit(w, "]");
    jsonw_lit(w, ",\"channel_names\":[");
    for (unsigned k = 0; k < r->channel_name_count; k++)
        classify_json_name(w, k ? "," : "", r->channel_names[k]);
    jsonw_lit(w, "]");
    jsonw_lit(w, ",\"associated_images\":[");
    for (unsigned bit = 1, n = 0; bit <= CLASSIFY_ASSOCIATED_MACRO; bit <<= 1) {
        if ((r->associated & bit) == 0)
            continue;
        jsonw_lit(w, n++ ? ",\"" : "\"");
        jsonw_lit(w, classify_associated_name(bit));
        jsonw_lit(w, "\"");
    }
    jsonw_lit(w, "],\"warnings\":[");
    for (unsigned k = 0; k < r->warning_count; k++) {
        if (k > 0)
            jsonw_lit(w, ",");
        /* warnings are built from ASCII details; the fallback only keeps the JSON valid */
        if (!jsonw_string(w, r->warnings[k], strlen(r->warnings[k])))
            jsonw_lit(w, "\"(a warning that is not UTF-8)\"");
    }
    jsonw_lit(w, "]");
    classify_json_zarr(w, &r->zarr);
    classify_json_tiff_pages(w, r);
    jsonw_member_bool(w, ",\"cached\":", item->cached);
    jsonw_lit(w, "}");
}
