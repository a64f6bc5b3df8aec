/*
 * overlap_file.c - open, decode and count one pair of label images; see overlap_file.h.
 */
#include "overlap_file.h"

#include "confine.h"

#include <sys/stat.h>

#include <string.h>
#include <unistd.h>

/* The load_source of one image: opened beneath the root, or pointing at its bytes. */
static enum error_code overlap_file_source(int root_fd, const struct overlap_file_image *img,
                                           struct load_source *src, struct error_info *err)
{
    memset(src, 0, sizeof *src);
    src->fd = -1;
    src->page = img->page;
    src->volume = img->volume;
    if (img->path == NULL) {
        src->kind = img->npy ? LOAD_NPY : LOAD_TIFF;
        src->data = img->data;
        src->size = img->size;
        src->name = img->name;
        return ERROR_OK;
    }
    src->name = img->path;
    struct stat st;
    enum error_code rc =
        confine_open(root_fd, img->path, img->len, CONFINE_ANY, &src->fd, &st, err);
    if (rc != ERROR_OK || !S_ISDIR(st.st_mode))
        return rc;
    /* a directory: a Zarr store, whose files load_zarr opens one by one beneath the root */
    close(src->fd);
    src->fd = -1;
    src->kind = LOAD_ZARR;
    src->root_fd = root_fd;
    src->path = img->path;
    src->path_len = img->len;
    src->level = img->level;
    return ERROR_OK;
}

enum error_code overlap_file_count(const struct overlap_file_options *opt,
                                   const struct overlap_file_image *a,
                                   const struct overlap_file_image *b,
                                   struct overlap_file_result *out, struct error_info *err)
{
    struct load_source sa, sb;
    struct overlap_counter *counter = NULL;
    struct overlap_budget budget; /* all counting threads of this pair draw from it */
    enum error_code rc;
    overlap_budget_init(&budget, opt->max_request_memory);
    memset(out, 0, sizeof *out);
    sb.fd = -1;
    if ((rc = overlap_file_source(opt->root_fd, a, &sa, err)) != ERROR_OK ||
        (rc = overlap_file_source(opt->root_fd, b, &sb, err)) != ERROR_OK)
        goto out;
    counter = overlap_counter_new_budget(opt->max_pairs, &budget, err);
    if (counter == NULL) {
        rc = err->code;
        goto out;
    }
    struct load_options lo;
    load_options_init(&lo);
    lo.max_pixels = opt->max_pixels;
    lo.max_alloc = opt->max_decode_buffer;
    lo.max_ifds = opt->max_ifds;
    if (opt->zarr_json_max != 0)
        lo.max_json = opt->zarr_json_max;
    lo.threads = opt->threads;
    lo.deadline = opt->deadline;
    if ((rc = load_overlap(&sa, &sb, &lo, counter, &out->info_a, &out->info_b, err)) != ERROR_OK)
        goto out;
    struct overlap_options finish = opt->overlap;
    finish.threads = opt->threads; /* the sort of a big table on the pair's threads too */
    if ((rc = overlap_counter_finish(counter, &finish, &out->counts, err)) != ERROR_OK)
        overlap_result_cleanup(&out->counts);
out:
    overlap_counter_free(counter);
    if (sa.fd >= 0)
        close(sa.fd);
    if (sb.fd >= 0)
        close(sb.fd);
    return rc;
}
