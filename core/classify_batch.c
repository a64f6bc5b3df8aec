/*
 * classify_batch.c - open, look up, classify and remember many paths in parallel; see
 * classify_batch.h.
 */
#include "classify_batch.h"

#include "confine.h"
#include "parallel.h"

#include <unistd.h>

struct classify_batch {
    const struct classify_batch_options *opt;
    struct classify_batch_item *items;
};

static void classify_batch_one(void *arg, size_t i)
{
    const struct classify_batch *batch = arg;
    const struct classify_batch_options *opt = batch->opt;
    struct classify_batch_item *item = &batch->items[i];
    error_init(&item->err);
    item->cached = false;
    int fd;
    struct timespec seen; /* before the fstat: the cache's racy-ctime rule needs it */
    cache_now(&seen);
    if (confine_open(opt->root_fd, item->path, item->path_len, CONFINE_ANY, &fd, &item->st,
                     &item->err) != ERROR_OK)
        return;
    item->cached = opt->cache != NULL && cache_lookup_stat(opt->cache, &item->st, &item->result);
    if (!item->cached &&
        classify_fd_at(opt->root_fd, item->path, item->path_len, fd, &item->st, &opt->classify,
                       &item->result, &item->err) == ERROR_OK &&
        opt->cache != NULL)
        cache_insert(opt->cache, &item->st, &seen, &item->result);
    close(fd);
}

void classify_batch_run(const struct classify_batch_options *opt, struct classify_batch_item *items,
                        size_t n)
{
    struct classify_batch batch = {opt, items};
    parallel_for(n, opt->threads, classify_batch_one, &batch);
}
