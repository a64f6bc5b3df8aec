/*
 * metrics.h - process metrics in Prometheus text format for GET /metrics.
 *
 * Request counters are keyed by (route, method, status) and a latency histogram by route;
 * series live in one fixed table under a mutex (a few hundred series at most: routes and
 * statuses are from fixed sets). Gauges are atomics. Other modules (the classification
 * cache, the worker pool, core/parallel's helper threads) contribute text through registered
 * sources, which append to the same core/buf buffer as the rest: the text is whole or it is an
 * error, never cut.
 */
#ifndef TESSERA_SERVER_METRICS_H
#define TESSERA_SERVER_METRICS_H

#include "buf.h"

#include <stddef.h>

enum metrics_counter {
    METRICS_BODIES_CUT,    /* chunked bodies over the limit, connection closed */
    METRICS_REJECTED_BUSY, /* 503 because the worker queue was full */
    METRICS_CLIENT_GONE,   /* requests whose client went away before the answer */
    METRICS_CONN_REFUSED,  /* connections closed at accept: --max-connections reached */
    METRICS_BODY_BUDGET,   /* 503 because --max-body-memory was taken by other bodies */
    METRICS_LOG_DROPPED,   /* libmicrohttpd messages over the log rate, not written */
    METRICS_COUNTER_COUNT
};

/* route and method must be static strings (they are stored, not copied). Thread-safe. */
void metrics_request(const char *route, const char *method, unsigned status, double seconds);
void metrics_count(enum metrics_counter which);
/* Change the open-connection gauge; returns the new value. */
long metrics_connections_add(int delta);
long metrics_connections_open(void);

/* A source appends its own lines to out (a failed append is sticky in out; the source need
 * not check). Called from pages_metrics on a connection thread: it must be quick and
 * thread-safe. */
typedef void (*metrics_source_fn)(struct buf *out, void *arg);
/* Register at start, before serving; at most METRICS_SOURCES_MAX sources (one more stops
 * the process with a message: raise the constant). Not thread-safe. */
#define METRICS_SOURCES_MAX 8
void metrics_add_source(metrics_source_fn fn, void *arg);

/* A metrics source for the classification cache (arg is a struct cache *). */
void metrics_cache_source(struct buf *out, void *cache);

/* A metrics source for core/confine's path races (arg unused). */
void metrics_confine_source(struct buf *out, void *unused);

/* A metrics source for core/parallel's helper threads: live, peak, and the budget (arg is
 * the const unsigned budget given to parallel_budget_set). */
void metrics_threads_source(struct buf *out, void *budget);

/* The cap GET /metrics gives its buffer. The text is bounded by the fixed tables (about
 * 120 KiB with every series and histogram in use) plus a few KiB per source; a text that
 * would pass the cap is answered as an error, never sent cut. */
#define METRICS_TEXT_MAX ((size_t)4 << 20)

/* Append everything to out, sources last. Thread-safe. Check out->status afterwards. */
void metrics_render(struct buf *out, const char *version);

#endif
