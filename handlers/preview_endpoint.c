/*
 * preview_endpoint.c - GET /preview?path=&size=&level=&channel=&colors=&lo=&hi=&labels=
 * &boundaries=: parse and range-check the query, open the file beneath the root, answer 304
 * when If-None-Match names the current ETag, else make one core call (preview_tiff_render for
 * a file, preview_zarr_render for a Zarr array or multiscale group directory) and send the PNG.
 * A directory's ETag is made from the identity of the chosen level's .zarray / zarr.json.
 */
#include "preview_endpoint.h"
#include "buf.h"
#include "alloc.h"
#include "color.h"
#include "confine.h"
#include "png_encode.h"
#include "preview_tiff.h"
#include "preview_zarr.h"
#include "problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREVIEW_ETAG_SCHEME "pv1" /* changes when the rendering does */

void preview_endpoint_send_png(struct response *resp, const struct request *req, const uint8_t *rgb,
                               uint32_t width, uint32_t height)
{
    struct buf out;
    buf_init(&out, LIMIT_MAX_ANSWER);
    struct error_info err;
    error_init(&err);
    if (png_encode_rgb8(rgb, width, height, &out, &err) != ERROR_OK) {
        buf_cleanup(&out);
        problem_from_error(resp, req, &err);
        return;
    }
    size_t len;
    char *body = buf_take(&out, &len);
    if (body == NULL) {
        problem_send(resp, req, 503, "out of memory for the PNG");
        return;
    }
    response_bytes(resp, 200, "image/png", body, len);
}

/* ------------------------------------------------------------------------------------------
 * Query
 */

/* A query number in [min, max]; absent keeps *out. Answers 400 and returns false when bad. */
static bool param_double(const struct request *req, const char *key, double min, double max,
                         double *out, struct response *resp)
{
    const char *v = request_param(req, key);
    if (v == NULL)
        return true;
    char *end;
    double d = strtod(v, &end);
    if (v[0] == '\0' || *end != '\0' || !(d >= min && d <= max)) {
        problem_send(resp, req, 400,
                     "query parameter '%s' must be a number in [%g, %g], not '%.64s'", key, min,
                     max, v);
        return false;
    }
    *out = d;
    return true;
}

/* channel=0,2,5 into o->channels. */
static bool param_channels(const struct request *req, struct preview_options *o,
                           struct response *resp)
{
    const char *v = request_param(req, "channel");
    if (v == NULL)
        return true;
    const char *s = v;
    while (true) {
        char *end;
        unsigned long c = strtoul(s, &end, 10);
        if (end == s || (*end != ',' && *end != '\0') || c > 65535 || s[0] == '-' || s[0] == '+' ||
            o->n_channels == PREVIEW_MAX_CHANNELS) {
            problem_send(resp, req, 400,
                         "query parameter 'channel' must be 1 to %u channel numbers (0-65535) "
                         "separated by commas, not '%.64s'",
                         PREVIEW_MAX_CHANNELS, v);
            return false;
        }
        o->channels[o->n_channels++] = (unsigned)c;
        if (*end == '\0')
            return true;
        s = end + 1;
    }
}

/* colors=ff0000,00ff00: one per listed channel (or, without channel=, the first channels). */
static bool param_colors(const struct request *req, struct preview_options *o,
                         struct response *resp)
{
    const char *v = request_param(req, "colors");
    if (v == NULL)
        return true;
    unsigned n = 0;
    const char *s = v;
    while (true) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (n == PREVIEW_MAX_CHANNELS || !color_parse_hex(s, len, o->colors[n])) {
            problem_send(resp, req, 400,
                         "query parameter 'colors' must be 1 to %u colours rrggbb separated by "
                         "commas, not '%.64s'",
                         PREVIEW_MAX_CHANNELS, v);
            return false;
        }
        n++;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    if (o->n_channels == 0) {
        o->n_channels = n;
        for (unsigned i = 0; i < n; i++)
            o->channels[i] = i;
    } else if (n != o->n_channels) {
        problem_send(resp, req, 400, "%u colours given for %u channels", n, o->n_channels);
        return false;
    }
    o->have_colors = true;
    return true;
}

static bool parse_options(const struct handler_context *ctx, const struct request *req,
                          struct preview_options *o, struct response *resp)
{
    preview_options_init(o);
    o->max_ifds = ctx->limits->max_ifds;
    o->max_decode = ctx->limits->preview_max_decode;
    o->deadline = req->deadline_ns;
    uint64_t size, level;
    if (!request_param_u64(req, "size", 1, ctx->limits->preview_max_size, 512, &size, resp) ||
        !request_param_u64(req, "level", 0, 31, 32, &level, resp))
        return false;
    o->size = (uint32_t)size;
    o->level = level == 32 ? -1 : (int)level;
    if (!param_channels(req, o, resp) || !param_colors(req, o, resp) ||
        !param_double(req, "lo", 0, 100, &o->lo, resp) ||
        !param_double(req, "hi", 0, 100, &o->hi, resp) ||
        !request_param_bool(req, "boundaries", false, &o->boundaries, resp))
        return false;
    if (o->lo >= o->hi) {
        problem_send(resp, req, 400, "lo (%g) must be below hi (%g)", o->lo, o->hi);
        return false;
    }
    const char *labels = request_param(req, "labels");
    if (labels == NULL || strcmp(labels, "auto") == 0) {
        o->labels = PREVIEW_LABELS_AUTO;
    } else if (strcmp(labels, "true") == 0) {
        o->labels = PREVIEW_LABELS_YES;
    } else if (strcmp(labels, "false") == 0) {
        o->labels = PREVIEW_LABELS_NO;
    } else {
        problem_send(resp, req, 400,
                     "query parameter 'labels' must be true, false or auto, not '%.64s'", labels);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------
 * ETag
 */

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The tag of (file identity, normalised options) into etag (quoted). */
static void make_etag(const struct stat *st, const struct preview_options *o, char *etag,
                      size_t size)
{
    struct buf b;
    buf_init(&b, 4096);
    buf_printf(&b, "%s|%llu|%llu|%lld|%lld.%ld|%lld.%ld|%u|%d|%.17g|%.17g|%d|%d|%d|%llu|%u|",
               PREVIEW_ETAG_SCHEME, (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
               (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
               (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, o->size, o->level, o->lo, o->hi,
               (int)o->labels, (int)o->boundaries, (int)o->have_colors,
               (unsigned long long)o->max_decode, o->max_ifds);
    for (unsigned i = 0; i < o->n_channels; i++)
        buf_printf(&b, "%u:%02x%02x%02x,", o->channels[i], o->colors[i][0], o->colors[i][1],
                   o->colors[i][2]);
    uint64_t h1 = fnv1a(0xcbf29ce484222325ull, b.data, b.len);
    uint64_t h2 = fnv1a(0x84222325cbf29ce4ull ^ h1, b.data, b.len);
    snprintf(etag, size, "\"%s-%016llx%016llx\"", PREVIEW_ETAG_SCHEME, (unsigned long long)h1,
             (unsigned long long)h2);
    buf_cleanup(&b);
}

/* If-None-Match names etag (weakly compared, RFC 9110 13.1.2) or is "*". */
static bool etag_matches(const char *header, const char *etag)
{
    if (header == NULL)
        return false;
    const char *p = header;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strcmp(p, "*") == 0)
        return true;
    return strstr(header, etag) != NULL;
}

/* ------------------------------------------------------------------------------------------
 * The handler
 */

void preview_endpoint_get(const struct handler_context *ctx, const struct request *req,
                          struct response *resp)
{
    static const char *const allowed[] = {"path", "size", "level",  "channel",    "colors",
                                          "lo",   "hi",   "labels", "boundaries", NULL};
    if (!request_params_only(req, allowed, resp))
        return;
    const char *path = request_param(req, "path");
    if (path == NULL || path[0] == '\0') {
        problem_send(resp, req, 400, "query parameter 'path' is required");
        return;
    }
    struct preview_options o;
    if (!parse_options(ctx, req, &o, resp))
        return;
    struct error_info err;
    error_init(&err);
    int fd = -1;
    struct stat st;
    struct preview_zarr_choice *zarr = NULL;
    if (confine_open(ctx->root_fd, path, strlen(path), CONFINE_ANY, &fd, &st, &err) != ERROR_OK) {
        problem_from_error(resp, req, &err);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        zarr = alloc_zeroed(1, sizeof *zarr);
        if (zarr == NULL) {
            problem_send(resp, req, 503, "out of memory for the Zarr level");
            goto out;
        }
        if (preview_zarr_locate(ctx->root_fd, path, strlen(path), ctx->limits->zarr_json_max, &o,
                                zarr, &err) != ERROR_OK) {
            problem_from_error(resp, req, &err);
            goto out;
        }
        st = zarr->meta_st;
        o.level = (int)zarr->level; /* the tag names the level decoded */
    }
    char etag[sizeof resp->etag];
    make_etag(&st, &o, etag, sizeof etag);
    if (etag_matches(req->if_none_match, etag)) {
        response_bytes(resp, 304, NULL, NULL, 0);
    } else {
        struct preview_image img;
        if ((zarr != NULL ? preview_zarr_render(ctx->root_fd, zarr, &o, &img, &err)
                          : preview_tiff_render(fd, path, &o, &img, &err)) != ERROR_OK) {
            problem_from_error(resp, req, &err);
            goto out;
        }
        preview_endpoint_send_png(resp, req, img.rgb, img.width, img.height);
        preview_image_cleanup(&img);
        if (resp->status != 200)
            goto out;
    }
    memcpy(resp->etag, etag, sizeof etag);
    resp->cache_control = "private, no-cache";
out:
    free(zarr);
    close(fd);
}
