/*
 * quantify_file.c - open the inputs of one /quantify request and run it; see
 * quantify_file.h.
 */
#include "quantify_file.h"

#include "alloc.h"
#include "cache.h"
#include "classify.h"
#include "confine.h"
#include "json_scan.h"
#include "limit.h"
#include "load_quantify.h"
#include "zarr_array.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The load_source of one image: opened beneath the root, or pointing at its bytes. st gets
 * the file's fstat for a path (zeroed otherwise). */
static enum error_code source_of(int root_fd, const struct quantify_file_image *img,
                                 const char *name, struct load_source *src, struct stat *st,
                                 struct error_info *err)
{
    memset(src, 0, sizeof *src);
    memset(st, 0, sizeof *st);
    src->fd = -1;
    src->page = img->page;
    src->name = name;
    if (img->path == NULL) {
        src->kind = img->npy ? LOAD_NPY : LOAD_TIFF;
        src->data = img->data;
        src->size = img->size;
        return ERROR_OK;
    }
    enum error_code rc = confine_open(root_fd, img->path, img->len, CONFINE_ANY, &src->fd, st, err);
    if (rc != ERROR_OK || !S_ISDIR(st->st_mode))
        return rc;
    close(src->fd);
    src->fd = -1;
    src->kind = LOAD_ZARR;
    src->root_fd = root_fd;
    src->path = img->path;
    src->path_len = img->len;
    src->level = img->level;
    return ERROR_OK;
}

/* The page count and OME channel names of the TIFF open in src, through the cache. */
static enum error_code classify_pages(const struct quantify_file_options *opt,
                                      const struct quantify_file_image *img,
                                      const struct load_source *src, const struct stat *st,
                                      struct classify_result *r, struct error_info *err)
{
    struct classify_options co = {.max_ifds = opt->max_ifds, .zarr_json_max = opt->zarr_json_max};
    enum error_code rc = ERROR_OK;
    if (src->kind != LOAD_TIFF || src->fd < 0)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "%s: only a TIFF file under the data root can give one channel per page",
                         src->name);
    if (opt->cache == NULL || !cache_lookup_stat(opt->cache, st, r)) {
        struct timespec seen;
        cache_now(&seen);
        rc = classify_fd_at(opt->root_fd, img->path, img->len, src->fd, st, &co, r, err);
        if (rc == ERROR_OK && opt->cache != NULL)
            (void)cache_insert(opt->cache, st, &seen, r);
    }
    if (rc == ERROR_OK && r->container != CLASSIFY_CONTAINER_TIFF &&
        r->container != CLASSIFY_CONTAINER_BIGTIFF)
        rc = error_set(err, ERROR_UNPROCESSABLE, "%s is not a TIFF file", src->name);
    return rc;
}

/* The channels of the OME-NGFF multiscale image at img (a directory): the index of its
 * "c" axis (multiscales[0].axes, names or {"name"} objects), their count in the array of
 * img->level, and the names from omero.channels[].label into names (*names, count
 * entries, the caller frees it; "" where there is none). */
static enum error_code ngff_channels(const struct quantify_file_options *opt,
                                     const struct quantify_file_image *img, unsigned *c_axis,
                                     size_t *count, char (**names)[QUANTIFY_FILE_NAME_MAX],
                                     struct error_info *err)
{
    char *text = NULL, array[CONFINE_PATH_MAX + 1];
    const char *attrs, *end;
    const size_t json_max = opt->zarr_json_max != 0 ? opt->zarr_json_max : LIMIT_ZARR_JSON_MAX;
    *names = NULL;
    enum error_code rc = zarr_array_group_attrs(opt->root_fd, img->path, img->len, json_max, &text,
                                                &attrs, &end, err);
    if (rc != ERROR_OK)
        return rc;
    const char *axes = json_scan_member(
        json_scan_index(json_scan_member(attrs, end, "multiscales"), end, 0), end, "axes");
    const size_t n_axes = json_scan_length(axes, end);
    size_t c = n_axes;
    for (size_t i = 0; i < n_axes && c == n_axes; i++) {
        const char *a = json_scan_index(axes, end, i);
        char axis[16];
        if (json_scan_string(a, end, axis, sizeof axis) ||
            json_scan_string(json_scan_member(a, end, "name"), end, axis, sizeof axis))
            c = strcmp(axis, "c") == 0 ? i : c;
    }
    struct zarr_array_meta meta;
    if (c == n_axes)
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "%.*s: the multiscale image has no \"c\" axis in multiscales[0].axes",
                       (int)img->len, img->path);
    else
        rc = zarr_array_open(opt->root_fd, img->path, img->len, img->level, json_max, true, array,
                             sizeof array, &meta, err);
    if (rc == ERROR_OK && (n_axes != meta.ndim || c + 2 >= meta.ndim))
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "%s: the array has %u dimensions but the image's axes are %zu with \"c\" "
                       "at %zu: c must come before y and x",
                       array, meta.ndim, n_axes, c);
    if (rc == ERROR_OK && opt->max_channels != 0 && meta.shape[c] > opt->max_channels)
        rc = error_set(err, ERROR_TOO_LARGE,
                       "the request has %llu channels, over the limit of %zu (max_channels)",
                       (unsigned long long)meta.shape[c], opt->max_channels);
    if (rc == ERROR_OK &&
        (*names = alloc_zeroed((size_t)meta.shape[c] + 1, sizeof **names)) == NULL)
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate %llu channel names",
                       (unsigned long long)meta.shape[c]);
    if (rc == ERROR_OK) {
        const char *list = json_scan_member(json_scan_member(attrs, end, "omero"), end, "channels");
        for (size_t i = 0; i < meta.shape[c]; i++)
            if (!json_scan_string(json_scan_member(json_scan_index(list, end, i), end, "label"),
                                  end, (*names)[i], sizeof(*names)[i]))
                (*names)[i][0] = '\0';
        *c_axis = (unsigned)c;
        *count = (size_t)meta.shape[c];
    }
    free(text);
    return rc;
}

static void name_channel(struct quantify_file_channel *c, const char *given, const char *ome,
                         size_t i)
{
    if (given != NULL)
        snprintf(c->name, sizeof c->name, "%s", given);
    else if (ome != NULL && ome[0] != '\0')
        snprintf(c->name, sizeof c->name, "%s", ome);
    else
        snprintf(c->name, sizeof c->name, "channel_%zu", i);
}

enum error_code quantify_file_run(const struct quantify_file_options *opt,
                                  const struct quantify_file_image *labels,
                                  const struct quantify_file_image *channels, size_t n,
                                  bool all_pages, struct quantify_file_result *out,
                                  struct error_info *err)
{
    struct load_source lsrc, *csrc = NULL;
    struct load_info *cinfo = NULL;
    struct classify_result *cr = NULL;
    char(*ngff_names)[QUANTIFY_FILE_NAME_MAX] = NULL;
    unsigned c_axis = 0;
    bool ngff = false;
    struct stat st;
    size_t count = n, opened = 0;
    enum error_code rc;
    memset(out, 0, sizeof *out);
    lsrc.fd = -1;
    if ((rc = source_of(opt->root_fd, labels, labels->path != NULL ? labels->path : "labels", &lsrc,
                        &st, err)) != ERROR_OK)
        goto out;
    if (all_pages) {
        struct load_source first;
        cr = alloc_zeroed(1, sizeof *cr);
        if (cr == NULL) {
            rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate a classification");
            goto out;
        }
        rc = source_of(opt->root_fd, &channels[0], channels[0].path, &first, &st, err);
        ngff = rc == ERROR_OK && first.kind == LOAD_ZARR;
        if (ngff)
            rc = ngff_channels(opt, &channels[0], &c_axis, &count, &ngff_names, err);
        else if (rc == ERROR_OK)
            rc = classify_pages(opt, &channels[0], &first, &st, cr, err);
        if (first.fd >= 0)
            close(first.fd);
        if (rc != ERROR_OK)
            goto out;
        if (!ngff)
            count = cr->pages;
    }
    if (opt->max_channels != 0 && count > opt->max_channels) {
        rc = error_set(err, ERROR_TOO_LARGE,
                       "the request has %zu channels, over the limit of %zu (max_channels)", count,
                       opt->max_channels);
        goto out;
    }
    csrc = alloc_zeroed(count + 1, sizeof *csrc);
    cinfo = alloc_zeroed(count + 1, sizeof *cinfo);
    out->channels = alloc_zeroed(count + 1, sizeof *out->channels);
    if (csrc == NULL || cinfo == NULL || out->channels == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "cannot allocate %zu channels", count);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const struct quantify_file_image *img = all_pages ? &channels[0] : &channels[i];
        const char *ome = ngff                                      ? ngff_names[i]
                          : all_pages && i < cr->channel_name_count ? cr->channel_names[i]
                                                                    : NULL;
        name_channel(&out->channels[i], ngff ? NULL : img->name, ome, i);
        if (ngff) { /* index i of the image's c axis */
            rc = source_of(opt->root_fd, img, out->channels[i].name, &csrc[i], &st, err);
            opened = i + 1;
            if (rc != ERROR_OK)
                goto out;
            csrc[i].select_c = true;
            csrc[i].c_axis = c_axis;
            csrc[i].c_index = i;
            out->channels[i].level0 = img->level == 0;
            continue;
        }
        if (all_pages && i > 0) { /* the pages share one descriptor */
            csrc[i] = csrc[0];
            csrc[i].page = (unsigned)i;
            csrc[i].name = out->channels[i].name;
            continue;
        }
        rc = source_of(opt->root_fd, img, out->channels[i].name, &csrc[i], &st, err);
        opened = i + 1;
        if (rc != ERROR_OK)
            goto out;
        out->channels[i].level0 = csrc[i].kind != LOAD_ZARR || csrc[i].level == 0;
    }
    for (size_t i = 1; all_pages && !ngff && i < count; i++)
        out->channels[i].level0 = true;
    struct load_options lo;
    load_options_init(&lo);
    lo.max_pixels = opt->max_pixels;
    lo.max_alloc = opt->max_decode_buffer;
    lo.max_ifds = opt->max_ifds;
    if (opt->zarr_json_max != 0)
        lo.max_json = opt->zarr_json_max;
    lo.threads = opt->threads;
    lo.deadline = opt->deadline;
    const struct load_quantify_options qo = {.max_labels = opt->max_labels, .values = opt->values};
    rc = load_quantify(&lsrc, csrc, count, &qo, &lo, &out->table, &out->labels, cinfo, err);
    for (size_t i = 0; i < count; i++)
        out->channels[i].info = cinfo[i];
out:
    if (lsrc.fd >= 0)
        close(lsrc.fd);
    for (size_t i = 0; csrc != NULL && i < opened; i++)
        if (csrc[i].fd >= 0)
            close(csrc[i].fd);
    free(csrc);
    free(cinfo);
    free(cr);
    free(ngff_names);
    if (rc != ERROR_OK)
        quantify_file_result_cleanup(out);
    return rc;
}

void quantify_file_result_cleanup(struct quantify_file_result *out)
{
    quantify_table_cleanup(&out->table);
    free(out->channels);
    memset(out, 0, sizeof *out);
}
