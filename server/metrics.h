/*
 * metrics.h - process metrics in Prometheus text format for GET /metrics.
 *
 * Request counters are keyed by (route, method, status) and a latency histogram by route;
 * series live in one fixed table under a mutex (a few hundred series at most: routes and
 * statuses are from fixed sets). Gauges are atomics. Other modules (the classification
 * cache, the worker pool, core/parallel's helper threads) contribute text through registered
 * sources.
 */
#ifndef TESSERA_SERVER_METRICS_H
#define TESSERA_SERVER_METRICS_H

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

/* A source appends its own lines to buf (at most size bytes) and returns bytes written. */
typedef size_t (*metrics_source_fn)(char *buf, size_t size, void *arg);
/* Register at start, before serving; at most 8 sources. Not thread-safe. */
void metrics_add_source(metrics_source_fn fn, void *arg);

/* A metrics source for the classification cache (arg is a struct cache *). */
size_t metrics_cache_source(char *buf, size_t size, void *cache);

/* A metrics source for core/parallel's helper threads: live, peak, and the budget (arg is
 * the const unsigned budget given to parallel_budget_set). */
size_t metrics_threads_source(char *buf, size_t size, void *budget);

/* Render everything; returns a malloc'd NUL-terminated text (caller frees) or NULL. */
char *metrics_render(const char *version, size_t *len);

#endif
