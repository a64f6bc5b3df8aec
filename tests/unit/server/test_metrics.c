/*
 * test_metrics.c - the Prometheus text is whole or an error, never cut: a source that
 * writes far past the old 256 KiB buffer is rendered to its last line; a buffer capped
 * below the text fails as BUF_TOO_LARGE. Counters, the connection gauge, request series
 * and histograms appear with the values recorded.
 */
#include "check.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG_LINES 20000 /* ~600 KiB of source text */

static void big_source(struct buf *out, void *arg)
{
    const char *name = arg;
    for (unsigned i = 0; i < BIG_LINES; i++)
        buf_printf(out, "%s{line=\"%05u\"} %u\n", name, i, i);
    buf_printf(out, "%s_last 1\n", name);
}

static char *render(size_t max, enum buf_status *status, size_t *len)
{
    struct buf out;
    buf_init(&out, max);
    metrics_render(&out, "9.9.9");
    *status = out.status;
    return buf_take(&out, len);
}

int main(void)
{
    metrics_request("/scan", "GET", 200, 0.003);
    metrics_request("/scan", "GET", 200, 0.2);
    metrics_request("/scan", "POST", 400, 0.0001);
    metrics_count(METRICS_BODY_BUDGET);
    metrics_count(METRICS_BODY_BUDGET);
    CHECK_INT(metrics_connections_add(3), 3);
    CHECK_INT(metrics_connections_add(-1), 2);
    CHECK_INT(metrics_connections_open(), 2);
    metrics_add_source(metrics_confine_source, NULL);
    metrics_add_source(big_source, "tessera_test_big");

    enum buf_status status;
    size_t len = 0;
    char *text = render(METRICS_TEXT_MAX, &status, &len);
    CHECK_INT(status, BUF_OK);
    if (!CHECK(text != NULL))
        return check_finish("test_metrics");
    CHECK(len > (size_t)256 << 10); /* past the old fixed buffer */
    CHECK_INT(strlen(text), len);
    CHECK(strstr(text, "tessera_build_info{version=\"9.9.9\"} 1\n") != NULL);
    CHECK(strstr(text, "tessera_open_connections 2\n") != NULL);
    CHECK(strstr(text, "tessera_rejected_body_memory_total 2\n") != NULL);
    CHECK(strstr(text, "tessera_bodies_cut_total 0\n") != NULL);
    CHECK(strstr(text, "tessera_path_races_total 0\n") != NULL);
    CHECK(strstr(text, "tessera_requests_total{route=\"/scan\",method=\"GET\",code=\"200\"} 2\n") !=
          NULL);
    CHECK(
        strstr(text, "tessera_requests_total{route=\"/scan\",method=\"POST\",code=\"400\"} 1\n") !=
        NULL);
    CHECK(
        strstr(text, "tessera_request_duration_seconds_bucket{route=\"/scan\",le=\"0.005\"} 2\n") !=
        NULL);
    CHECK(strstr(text, "tessera_request_duration_seconds_count{route=\"/scan\"} 3\n") != NULL);
    CHECK(strstr(text, "tessera_test_big{line=\"19999\"} 19999\n") != NULL);
    const char last[] = "tessera_test_big_last 1\n";
    CHECK(len >= sizeof last - 1 && strcmp(text + len - (sizeof last - 1), last) == 0);
    free(text);

    /* A cap below the text: an error, not the first part of it. */
    text = render(64 << 10, &status, &len);
    CHECK_INT(status, BUF_TOO_LARGE);
    CHECK(text == NULL);
    free(text);
    return check_finish("test_metrics");
}
