/*
 * quantify_render.h - the two answers of POST /quantify: the columnar JSON document and
 * mcquant's CSV (histoCAT column layout), from a finished core/quantify_file result.
 *
 * Both are written into one capped buffer (LIMIT_MAX_ANSWER): an answer that would grow past
 * it is a 413, never cut. Doubles are written with 17 significant digits (exact round
 * trip); NaN is null in JSON and an empty field in CSV, as pandas writes it.
 */
#ifndef TESSERA_HANDLERS_QUANTIFY_RENDER_H
#define TESSERA_HANDLERS_QUANTIFY_RENDER_H

#include "quantify_file.h"
#include "request.h"

#include <stdbool.h>

/* Intensity statistics (bits of quantify_query.stats), in column order. */
enum quantify_stat {
    QUANTIFY_STAT_MEAN,
    QUANTIFY_STAT_SUM,
    QUANTIFY_STAT_MIN,
    QUANTIFY_STAT_MAX,
    QUANTIFY_STAT_STD,
    QUANTIFY_STAT_MEDIAN,
    QUANTIFY_STAT_GINI,
    QUANTIFY_STAT_COUNT
};

/* Shape features (bits of quantify_query.shape), in column order. */
enum quantify_feature {
    QUANTIFY_FEATURE_CENTROID,
    QUANTIFY_FEATURE_AREA,
    QUANTIFY_FEATURE_MAJOR,
    QUANTIFY_FEATURE_MINOR,
    QUANTIFY_FEATURE_ECCENTRICITY,
    QUANTIFY_FEATURE_SOLIDITY,
    QUANTIFY_FEATURE_EXTENT,
    QUANTIFY_FEATURE_ORIENTATION,
    QUANTIFY_FEATURE_PERIMETER,
    QUANTIFY_FEATURE_BBOX,
    QUANTIFY_FEATURE_COUNT
};

/* The request names of the statistics and features, indexed by the enums above. */
extern const char *const quantify_stat_names[QUANTIFY_STAT_COUNT];
extern const char *const quantify_feature_names[QUANTIFY_FEATURE_COUNT];

/* The answer as JSON (200), or a 413 / 503 problem: the table of r[0] when masks is NULL,
 * else {"masks": [...]} with the table of r[i] named masks[i], for i < n. */
void quantify_render_json(const struct request *req, const struct quantify_file_result *r,
                          const char *const *masks, size_t n, unsigned stats, unsigned shape,
                          struct response *resp);

/* The answer as mcquant's CSV (200 text/csv), or a 413 / 503 problem. */
void quantify_render_csv(const struct request *req, const struct quantify_file_result *r,
                         unsigned stats, unsigned shape, struct response *resp);

#endif
