/*
 * limit.h - every limit Tessera enforces, in one place, with its reason.
 *
 * Each value here is the default; the server's option table (server/config.c) makes every
 * one configurable by flag and environment variable and copies the result into a
 * struct limits, which handlers pass down to core calls - except LIMIT_MAX_ANSWER, a fixed
 * bound. A limit that is hit is answered with 413 (size), 422 (shape or count) or
 * 503 + Retry-After (capacity, time).
 */
#ifndef TESSERA_CORE_LIMIT_H
#define TESSERA_CORE_LIMIT_H

#include <stddef.h>
#include <stdint.h>

/* Values are plain decimal literals: the option table in server/config.c turns them into
 * its documented defaults.
 *
 * Request bodies. JSON bodies are parsed into a tree up to ~80x their size, so they are
 * capped far lower than raw binary bodies, which are used in place. */
#define LIMIT_MAX_JSON_BODY   16777216   /* 16 MiB: JSON is for small data */
#define LIMIT_MAX_BINARY_BODY 1073741824 /* 1 GiB: 10^8 float64 values, two 16k^2 u16 */

/* Values (object keys included) in one JSON body, counted before it is parsed. The parsed
 * tree costs jansson 8 (true, false, null) to 232 (an empty object) bytes a value, 40 for a
 * number, 88 + its length for a string (jansson 2.14 on glibc; REQUEST_JSON_NODE_BYTES), so
 * the body's text no longer decides the memory: 16 MiB of "{}," would be 1.3 GB, and is
 * refused here at once. 2,100,000 is two values per number of the largest /topk input
 * (LIMIT_MAX_JSON_VALUES numbers as rows of one) plus room for the rest, so every input the
 * other limits accept passes; its tree is at most ~490 MB (all empty objects), ~170 MB for
 * those rows, ~40 MB for 10^6 numbers in one array. */
#define LIMIT_MAX_JSON_NODES 2100000

/* Answers. One JSON answer (handlers/jsonw.c) holds at most this many bytes; one that would
 * grow past it is answered 413, never cut short. The largest answers the other limits allow
 * fit: a /scan of LIMIT_SCAN_MAX_ENTRIES entries with classifications (~700 bytes each), a
 * /topk of LIMIT_MAX_K values. Larger results are asked for in pieces, or in the binary
 * format where an endpoint has one (/topk: Accept: application/octet-stream). */
#define LIMIT_MAX_ANSWER 1073741824 /* 1 GiB */

/* Time. A request past its budget is stopped and answered 503 rather than hold a worker. */
#define LIMIT_REQUEST_TIMEOUT_MS 60000

/* Pixels decoded for one image (width * height): bounds memory and time of /overlap. */
#define LIMIT_MAX_PIXELS 4294967296

/* One decode buffer (a strip, or a row of tiles) of one label image. Each decoding thread
 * holds one of a and one of b, so RSS stays near 4x this with two threads even for a strip
 * that inflates 10,000x; real label TIFFs use strips of a few MB. */
#define LIMIT_MAX_DECODE_BUFFER 67108864 /* 64 MiB */

/* /topk: k and the element count of a JSON array (a JSON number costs ~24 bytes parsed). */
#define LIMIT_MAX_K           1000000
#define LIMIT_MAX_JSON_VALUES 1000000

/* /topk: results in one answer (k for values, rows x k, points x k). An answer holds 16
 * bytes per result in binary and ~30 in JSON, so k-NN with k = n - 1 would grow as n^2
 * (n = 10,000 points gave 2.4 GB): 10^7 results (10^6 points x k = 10) is 160 MB binary,
 * ~300 MB JSON. */
#define LIMIT_MAX_RESULTS 10000000

/* /scan: a deep or huge tree must not hold a worker forever. Depth is at most SCAN_DEPTH_MAX
 * (255, core/scan.h): the walk holds one open directory per level it is below, so
 * --workers scans at once hold up to workers x (depth + 1) descriptors. */
#define LIMIT_SCAN_MAX_DEPTH   64
#define LIMIT_SCAN_MAX_ENTRIES 1000000
#define LIMIT_SCAN_TIMEOUT_MS  30000

/* /classify: IFDs walked per file (a loop or a million-IFD file stops here), and the batch
 * size of one POST. */
#define LIMIT_MAX_IFDS       4096
#define LIMIT_CLASSIFY_BATCH 10000
#define LIMIT_CACHE_ENTRIES  65536

/* /classify of a Zarr store: bytes of one .zarray/.zattrs/zarr.json we read and scan. Real
 * OME-NGFF metadata is a few KiB; consolidated metadata of a big plate can reach ~1 MiB. */
#define LIMIT_ZARR_JSON_MAX 1048576

/* /overlap: distinct (a, b) pairs one counting thread may hold. Two 8192^2 segmentations
 * of 80k cells give ~350k pairs; 10^6 leaves room for that. Each decoding thread has its
 * own table (~72 bytes a pair while it grows), so peak memory is about threads x 72 MB at
 * this limit: ~150 MB with 2 threads, under the 300 MB the hostile-file test allows. */
#define LIMIT_MAX_PAIRS 1000000
#define LIMIT_MAX_BATCH 256

struct limits {
    size_t max_json_body;
    size_t max_binary_body;
    unsigned request_timeout_ms;
    uint64_t max_pixels;
    size_t max_decode_buffer;
    unsigned max_k;
    unsigned max_json_values;
    unsigned max_json_nodes;
    uint64_t max_results;
    unsigned scan_max_depth;
    unsigned scan_max_entries;
    unsigned scan_timeout_ms;
    unsigned max_ifds;
    unsigned classify_batch;
    unsigned cache_entries;
    size_t zarr_json_max;
    unsigned max_pairs;
    unsigned max_batch;
    unsigned threads; /* CPU threads one request may use for decoding / counting */
};

#endif
