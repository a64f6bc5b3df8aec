/*
 * scan_name.h - the name side of core/scan: image suffixes and natural order, internal to
 * scan*.c (scan_match_suffix and scan_natural_compare, the public part, are declared in
 * scan.h).
 *
 * Both run once per directory entry or per comparison, so they stay branch-light and
 * locale-free: ASCII case folding, ASCII digits. Sorting a result encodes each path once
 * into a key whose memcmp order is the natural order, then sorts (key, index) pairs:
 * O(m log m) memcmp calls for m entries plus O(total path bytes) of keys.
 */
#ifndef TESSERA_CORE_SCAN_NAME_H
#define TESSERA_CORE_SCAN_NAME_H

#include "scan.h"

/* Is suffix (a scan_match_suffix_in answer, or NULL) ".zarr", the suffix of stores? */
bool scan_name_is_zarr(const char *suffix);

/* Sort res->entries, then res->errors, by scan_natural_compare of their paths. Never fails:
 * without memory for the keys, paths are compared directly (same order, slower). */
void scan_name_sort(struct scan_result *res);

#endif
