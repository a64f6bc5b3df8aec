/*
 * load_quantify.h - the streaming pass of /quantify: a label image and its intensity channels
 * (any core/load source kind: TIFF page, .npy in memory, Zarr array) read band by band in
 * parallel and folded into core/quantify accumulators.
 *
 * Work is cut into units of whole rows (the tallest band of all sources, repeated to cover
 * about 2^18 pixels); each of up to options->threads workers (core/parallel) takes the next
 * unit, decodes the label rows of the unit plus two halo rows each side (for the perimeter)
 * and every channel's rows with readers of its own, and folds them into its own accumulator;
 * the accumulators are merged at the end. Memory: threads x (one band per source + the unit's
 * rows as doubles, one row per channel) + the accumulators, never the whole image.
 *
 * Inputs must be 2-D (depth 1) and share height x width, else ERROR_UNPROCESSABLE naming
 * both shapes. Channel values are converted to double (exact for every integer dtype up to
 * 32 bits; 64-bit integers above 2^53 round).
 */
#ifndef TESSERA_CORE_LOAD_QUANTIFY_H
#define TESSERA_CORE_LOAD_QUANTIFY_H

#include "error.h"
#include "load.h"
#include "quantify.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct load_quantify_options {
    uint64_t max_labels; /* distinct labels (ERROR_TOO_LARGE); 0 = no cap */
    bool values;         /* also median and Gini: a second pass, see below */
    size_t values_max;   /* bytes of cell values one value pass may hold (0 = 256 MiB) */
};

/*
 * Quantify `labels` against channels[0 .. n_channels) into *table (the caller cleans it up
 * with quantify_table_cleanup). label_info and channel_info (n_channels entries; either may
 * be NULL) receive the sources' descriptions. Fails like load_probe for any source,
 * ERROR_TOO_LARGE past qopt->max_labels, ERROR_TIMEOUT past options->deadline,
 * ERROR_NO_MEMORY. Thread-safe.
 *
 * With qopt->values, median and Gini need every value of a cell: after the streaming pass
 * (which gives every cell's area) the inputs are read again, as many times as it takes to
 * hold at most values_max bytes of values at once (8 bytes a value): one pass when
 * foreground pixels x channels x 8 fit, else groups of channels and, for one channel that
 * does not fit, ranges of labels. Each pass decodes the label image and its channels
 * in parallel as the first pass does and scatters each cell's values into its slots; one
 * cell larger than values_max is ERROR_TOO_LARGE naming it.
 */
enum error_code load_quantify(const struct load_source *labels, const struct load_source *channels,
                              size_t n_channels, const struct load_quantify_options *qopt,
                              const struct load_options *options, struct quantify_table *table,
                              struct load_info *label_info, struct load_info *channel_info,
                              struct error_info *err) ERROR_MUST_CHECK;

#endif
