/* metrics.c - counters, gauges and histograms rendered as Prometheus text; see metrics.h. */
#include "metrics.h"
#include "cache.h"
#include "confine.h"
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SERIES_MAX 512
#define METRICS_ROUTES_MAX 32

static const double metrics_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,   1,    2.5,   5,    10};
#define METRICS_N_BUCKETS (sizeof metrics_buckets / sizeof metrics_buckets[0])

struct metrics_series {
    const char *route;
    const char *method;
    unsigned status;
    uint64_t count;
};

struct metrics_histogram {
    const char *route;
    uint64_t buckets[METRICS_N_BUCKETS];
    uint64_t count;
    double sum;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_series metrics_series[METRICS_SERIES_MAX];
static size_t metrics_n_series;
static uint64_t metrics_overflow;
static struct metrics_histogram metrics_hist[METRICS_ROUTES_MAX];
static size_t metrics_n_hist;
static atomic_long metrics_open_connections;
static atomic_ullong metrics_counters[METRICS_COUNTER_COUNT];

static struct {
    metrics_source_fn fn;
    void *arg;
} metrics_sources[METRICS_SOURCES_MAX];
static size_t metrics_n_sources;

void metrics_request(const char *route, const char *method, unsigned status, double seconds)
{
    pthread_mutex_lock(&metrics_lock);
    size_t i;
    for (i = 0; i < metrics_n_series; i++) {
        struct metrics_series *s = &metrics_series[i];
        if (s->status == status && strcmp(s->route, route) == 0 && strcmp(s->method, method) == 0)
            break;
    }
    if (i == metrics_n_series && i < METRICS_SERIES_MAX) {
        metrics_series[i] = (struct metrics_series){route, method, status, 0};
        metrics_n_series++;
    }
    if (i < metrics_n_series)
        metrics_series[i].count++;
    else
        metrics_overflow++;

    for (i = 0; i < metrics_n_hist; i++)
        if (strcmp(metrics_hist[i].route, route) == 0)
            break;
    if (i == metrics_n_hist && i < METRICS_ROUTES_MAX) {
        memset(&metrics_hist[i], 0, sizeof metrics_hist[i]);
        metrics_hist[i].route = route;
        metrics_n_hist++;
    }
    if (i < metrics_n_hist) {
        struct metrics_histogram *h = &metrics_hist[i];
        for (size_t b = 0; b < METRICS_N_BUCKETS; b++)
            if (seconds <= metrics_buckets[b])
                h->buckets[b]++;
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_count(enum metrics_counter which)
{
    atomic_fetch_add(&metrics_counters[which], 1);
}

long metrics_connections_add(int delta)
{
    return atomic_fetch_add(&metrics_open_connections, delta) + delta;
}

long metrics_connections_open(void)
{
    return atomic_load(&metrics_open_connections);
}

void metrics_add_source(metrics_source_fn fn, void *arg)
{
    if (metrics_n_sources == METRICS_SOURCES_MAX) {
        /* Registration is code run once at start, never input: a build that registers more
         * sources than the table holds is stopped before it serves anything. */
        fprintf(stderr, "tessera: more than %d metrics sources; raise METRICS_SOURCES_MAX\n",
                METRICS_SOURCES_MAX);
        abort();
    }
    metrics_sources[metrics_n_sources].fn = fn;
    metrics_sources[metrics_n_sources].arg = arg;
    metrics_n_sources++;
}

void metrics_cache_source(struct buf *out, void *cache)
{
    struct cache_stats st;
    cache_get_stats(cache, &st);
    buf_printf(out,
               "# HELP tessera_classify_cache_hits_total Classifications served from the cache.\n"
               "# TYPE tessera_classify_cache_hits_total counter\n"
               "tessera_classify_cache_hits_total %llu\n"
               "# HELP tessera_classify_cache_misses_total Lookups that had to read the "
               "file (stale entries included).\n"
               "# TYPE tessera_classify_cache_misses_total counter\n"
               "tessera_classify_cache_misses_total %llu\n"
               "# HELP tessera_classify_cache_stale_total Misses caused by a changed file.\n"
               "# TYPE tessera_classify_cache_stale_total counter\n"
               "tessera_classify_cache_stale_total %llu\n"
               "# HELP tessera_classify_cache_evictions_total Entries pushed out by the "
               "size bound.\n"
               "# TYPE tessera_classify_cache_evictions_total counter\n"
               "tessera_classify_cache_evictions_total %llu\n"
               "# HELP tessera_classify_cache_entries Entries held now.\n"
               "# TYPE tessera_classify_cache_entries gauge\n"
               "tessera_classify_cache_entries %llu\n"
               "# HELP tessera_classify_cache_capacity Most entries held.\n"
               "# TYPE tessera_classify_cache_capacity gauge\n"
               "tessera_classify_cache_capacity %llu\n"
               "# HELP tessera_classify_cache_racy_total Classifications not cached because the "
               "file changed within the timestamp tick before it was read.\n"
               "# TYPE tessera_classify_cache_racy_total counter\n"
               "tessera_classify_cache_racy_total %llu\n",
               (unsigned long long)st.hits, (unsigned long long)st.misses,
               (unsigned long long)st.stale, (unsigned long long)st.evictions,
               (unsigned long long)st.entries, (unsigned long long)st.capacity,
               (unsigned long long)st.racy);
}

void metrics_confine_source(struct buf *out, void *unused)
{
    (void)unused;
    buf_printf(out,
               "# HELP tessera_path_races_total Paths that changed type while they were being "
               "resolved (a client racing its own request; answered 404).\n"
               "# TYPE tessera_path_races_total counter\n"
               "tessera_path_races_total %lu\n",
               confine_races());
}

void metrics_threads_source(struct buf *out, void *budget)
{
    buf_printf(out,
               "# HELP tessera_helper_threads Helper threads computing for requests now "
               "(besides the workers).\n"
               "# TYPE tessera_helper_threads gauge\n"
               "tessera_helper_threads %u\n"
               "# HELP tessera_helper_threads_peak Most helper threads alive at once since "
               "start.\n"
               "# TYPE tessera_helper_threads_peak gauge\n"
               "tessera_helper_threads_peak %u\n"
               "# HELP tessera_thread_budget Helper threads allowed at once "
               "(--thread-budget).\n"
               "# TYPE tessera_thread_budget gauge\n"
               "tessera_thread_budget %u\n",
               parallel_threads_live(), parallel_threads_peak(), *(const unsigned *)budget);
}

void metrics_render(struct buf *out, const char *version)
{
    buf_printf(out,
               "# HELP tessera_build_info Build information.\n"
               "# TYPE tessera_build_info gauge\n"
               "tessera_build_info{version=\"%s\"} 1\n"
               "# HELP tessera_open_connections Connections currently open.\n"
               "# TYPE tessera_open_connections gauge\n"
               "tessera_open_connections %ld\n",
               version, metrics_connections_open());
    static const char *const counter_names[METRICS_COUNTER_COUNT][2] = {
        [METRICS_BODIES_CUT] = {"tessera_bodies_cut_total",
                                "Chunked request bodies cut off at the size limit."},
        [METRICS_REJECTED_BUSY] = {"tessera_rejected_busy_total",
                                   "Heavy requests refused with 503 because the queue was full."},
        [METRICS_CLIENT_GONE] = {"tessera_client_gone_total",
                                 "Requests whose client disconnected before the answer."},
        [METRICS_CONN_REFUSED] = {"tessera_connections_refused_total",
                                  "Connections closed at accept because --max-connections "
                                  "were open."},
        [METRICS_BODY_BUDGET] = {"tessera_rejected_body_memory_total",
                                 "Requests refused with 503 because --max-body-memory was "
                                 "taken by bodies being received."},
        [METRICS_LOG_DROPPED] = {"tessera_log_dropped_total",
                                 "libmicrohttpd messages over the log rate limit, not written."},
    };
    for (int c = 0; c < METRICS_COUNTER_COUNT; c++)
        buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counter_names[c][0],
                   counter_names[c][1], counter_names[c][0], counter_names[c][0],
                   (unsigned long long)atomic_load(&metrics_counters[c]));

    pthread_mutex_lock(&metrics_lock);
    buf_printf(out,
               "# HELP tessera_requests_total Requests answered, by route, method and status.\n"
               "# TYPE tessera_requests_total counter\n");
    for (size_t i = 0; i < metrics_n_series; i++) {
        const struct metrics_series *s = &metrics_series[i];
        buf_printf(out, "tessera_requests_total{route=\"%s\",method=\"%s\",code=\"%u\"} %llu\n",
                   s->route, s->method, s->status, (unsigned long long)s->count);
    }
    if (metrics_overflow)
        buf_printf(out, "tessera_requests_total{route=\"other\"} %llu\n",
                   (unsigned long long)metrics_overflow);
    buf_printf(out, "# HELP tessera_request_duration_seconds Time from request to answer.\n"
                    "# TYPE tessera_request_duration_seconds histogram\n");
    for (size_t i = 0; i < metrics_n_hist; i++) {
        const struct metrics_histogram *h = &metrics_hist[i];
        for (size_t b = 0; b < METRICS_N_BUCKETS; b++)
            buf_printf(out,
                       "tessera_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                       h->route, metrics_buckets[b], (unsigned long long)h->buckets[b]);
        buf_printf(out,
                   "tessera_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                   "tessera_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                   "tessera_request_duration_seconds_count{route=\"%s\"} %llu\n",
                   h->route, (unsigned long long)h->count, h->route, h->sum, h->route,
                   (unsigned long long)h->count);
    }
    pthread_mutex_unlock(&metrics_lock);

    for (size_t i = 0; i < metrics_n_sources; i++)
        metrics_sources[i].fn(out, metrics_sources[i].arg);
}
