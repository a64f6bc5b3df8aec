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
    jsonw_member_bool(w, ",\"cached\":", item->cached);
    jsonw_lit(w, "}");
}
