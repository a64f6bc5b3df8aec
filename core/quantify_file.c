/*
 * quantify_file.c - open the inputs of one /quantify request and run it; see
 * quantify_file.h.
 */
#include "quantify_file.h"

#include "alloc.h"
#include "cache.h"
#include "classify.h"
#include "confine.h"
#include "load_quantify.h"

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
        if (rc == ERROR_OK)
            rc = classify_pages(opt, &channels[0], &first, &st, cr, err);
        if (first.fd >= 0)
            close(first.fd);
        if (rc != ERROR_OK)
            goto out;
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
        const char *ome = all_pages && i < cr->channel_name_count ? cr->channel_names[i] : NULL;
        name_channel(&out->channels[i], img->name, ome, i);
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
    for (size_t i = 1; all_pages && i < count; i++)
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
