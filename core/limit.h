/*
 * limit.h - every limit Tessera enforces, in one place, with its reason.
 *
 * Configurable limits: each value is the default; the server's option table
 * (server/config.c) makes it configurable by flag and environment variable and copies the
 * result into a struct limits, which handlers read from their context. Fixed limits
 * (LIMIT_MAX_ANSWER, and the section at the end) are not options.
 *
 * Each group says who enforces it. "Core": a core routine checks the value it is given in
 * its options (and takes the LIMIT_ value as the default for 0); the handler copies it from
 * struct limits into those options. "Service": the server or a handler checks it before any
 * core call, and core never sees it. Core never reads struct limits itself. A limit that is
 * hit is an ERROR_TOO_LARGE (size), ERROR_UNPROCESSABLE (shape or count) or ERROR_BUSY /
 * ERROR_TIMEOUT (capacity, time); handlers/problem.c maps those to HTTP statuses.
 */
#ifndef TESSERA_CORE_LIMIT_H
#define TESSERA_CORE_LIMIT_H

#include "scan.h"

#include <stddef.h>
#include <stdint.h>

/* Values are plain decimal literals: the option table in server/config.c turns them into
 * its documented defaults.
 *
 * Service (server/http.c): request bodies. JSON bodies are parsed into a tree up to ~80x their
 * size, so they are capped far lower than raw binary bodies, which are used in place. */
#define LIMIT_MAX_JSON_BODY   16777216   /* 16 MiB: JSON is for small data */
#define LIMIT_MAX_BINARY_BODY 1073741824 /* 1 GiB: 10^8 float64 values, two 16k^2 u16 */

/* Service (handlers/request.c): values (object keys included) in one JSON body, counted
 * before it is parsed. The parsed tree costs jansson 8 (true, false, null) to 232 (an empty
 * object) bytes a value, 40 for a number, 88 + its length for a string (jansson 2.14 on glibc;
 * REQUEST_JSON_NODE_BYTES), so the body's text no longer decides the memory: 16 MiB of "{},"
 * would be 1.3 GB, and is refused here at once. 2,100,000 is two values per number of the
 * largest /topk input (LIMIT_MAX_JSON_VALUES numbers as rows of one) plus room for the rest,
 * so every input the other limits accept passes; its tree is at most ~490 MB (all empty
 * objects), ~170 MB for those rows, ~40 MB for 10^6 numbers in one array. */
#define LIMIT_MAX_JSON_NODES 2100000

/* Service (handlers/jsonw.c), fixed: answers. One JSON answer holds at most this many bytes;
 * one that would grow past it is answered 413, never cut short. The largest answers the other
 * limits allow fit: a /scan of LIMIT_SCAN_MAX_ENTRIES entries with classifications (~700
 * bytes each), a /topk of LIMIT_MAX_K values. Larger results are asked for in pieces, or in
 * the binary format where an endpoint has one (/topk: Accept: application/octet-stream). */
#define LIMIT_MAX_ANSWER 1073741824 /* 1 GiB */

/* Service (server/http.c): time. A request past its budget is stopped and answered 503 rather than
 * hold a worker. */
#define LIMIT_REQUEST_TIMEOUT_MS 60000

/* Core (core/load): pixels decoded for one image (width * height): bounds memory and time of
 * /overlap. */
#define LIMIT_MAX_PIXELS 4294967296

/* Core (core/load): one decode buffer (a strip, or a row of tiles) of one label image. Each
 * decoding thread holds one of a and one of b, so RSS stays near 4x this with two threads even for
 * a strip that inflates 10,000x; real label TIFFs use strips of a few MB. */
#define LIMIT_MAX_DECODE_BUFFER 67108864 /* 64 MiB */

/* Service and core (core/preview): a preview is at most PREVIEW_MAX_SIZE pixels on its longest
 * side (the ?size= cap), and the level it is made from at most PREVIEW_MAX_DECODE samples
 * (pixels x shown channels), held as doubles: 16 Mi samples is 128 MiB, a 4096^2 channel.
 * A pyramid's level near 512 pixels is far below it; a huge single-level image is a 413. */
#define LIMIT_PREVIEW_MAX_SIZE   2048
#define LIMIT_PREVIEW_MAX_DECODE 16777216

/* Service (handlers/topk_endpoint.c): k and the element count of a JSON array (a JSON number costs
 * ~24 bytes parsed). */
#define LIMIT_MAX_K           1000000
#define LIMIT_MAX_JSON_VALUES 1000000

/* Service (handlers/topk_endpoint.c): results in one answer (k for values, rows x k, points x k).
 * An answer holds 16 bytes per result in binary and ~30 in JSON, so k-NN with k = n - 1 would grow
 * as n^2 (n = 10,000 points gave 2.4 GB): 10^7 results (10^6 points x k = 10) is 160 MB binary,
 * ~300 MB JSON. */
#define LIMIT_MAX_RESULTS 10000000

/* /scan: a deep or huge tree must not hold a worker forever. Core (core/scan): depth and
 * entries; depth is at most SCAN_DEPTH_MAX (255, core/scan.h): the walk holds one open
 * directory per level it is below, so --workers scans at once hold up to workers x (depth + 1)
 * descriptors. Service (handlers/scan_endpoint.c): the time, handed to core/scan as a deadline.
 */
#define LIMIT_SCAN_MAX_DEPTH   64
#define LIMIT_SCAN_MAX_ENTRIES 1000000
#define LIMIT_SCAN_TIMEOUT_MS  30000

/* Core (core/classify, core/load): IFDs walked per file (a loop or a million-IFD file stops
 * here). Service: the paths of one POST /classify (handlers/classify_endpoint.c), and the
 * entries of the classification cache (server/main.c sizes core/cache with it; an entry holds
 * one struct classify_result, about 3.2 KB with its warnings, channel names, labels, Zarr
 * layout and TIFF series, so a full default cache is about 210 MB, touched only as it
 * fills). */
#define LIMIT_MAX_IFDS       4096
#define LIMIT_CLASSIFY_BATCH 10000
#define LIMIT_CACHE_ENTRIES  65536

/* Core (core/classify): for a Zarr store, the bytes of one .zarray/.zattrs/zarr.json we read and
 * scan. Real OME-NGFF metadata is a few KiB; consolidated metadata of a big plate can reach ~1 MiB.
 */
#define LIMIT_ZARR_JSON_MAX 1048576

/* Core (core/overlap): bytes the counting of one /overlap pair may hold, all its threads
 * together (struct overlap_budget: pair tables, sort space, the finished columns). A whole
 * slide, 40,960^2 with 1.6 M cells and ~5.5 M distinct pairs, needs ~0.9 GB at the peak of
 * finishing; 1 GiB admits it, and no request, however small its bytes, makes the counting
 * hold more. */
#define LIMIT_MAX_REQUEST_MEMORY 1073741824
/* Core (core/overlap): distinct (a, b) pairs one counting thread may hold; 0 = no cap. Kept
 * for deployments that set it; the memory budget above is the limit by default. */
#define LIMIT_MAX_PAIRS 0
/* Service (handlers/overlap_endpoint.c): pairs in one batch /overlap. */
#define LIMIT_MAX_BATCH 256

/* /quantify. Service (handlers/quantify_endpoint.c, through core/quantify_file): channels of
 * one request; each decoding thread holds one band of every channel. Core (core/quantify):
 * distinct labels, ~100 bytes each plus 48 per channel in every decoding thread's table, so
 * 10^6 labels x 40 channels is ~2 GB a thread: the default 200,000 (2.5x an 8192^2 slide of
 * 80k cells) is ~400 MB a thread at 40 channels. */
#define LIMIT_MAX_CHANNELS 256
#define LIMIT_MAX_LABELS   200000

/* Core (core/evaluate): overlapping label pairs in the largest component one /overlap
 * matching solves by assignment. Components are those of the graph of all overlapping label
 * pairs; only those whose passing pairs conflict (possible below IoU 0.5, or with iot / iop)
 * are solved: small ones on a dense matrix, large ones on their pairs alone
 * (core/assign_sparse.h, ~30 bytes a pair and a search per row that stops at the first free
 * label it reaches), under the request deadline. Separated nuclei-like cells stay tiny
 * (8192^2 with 80k cells and a tenth of the predictions split: 211 x 230 labels); touching
 * cells chain into one component across the image (2048^2 with 5000 watershed cells: 4754 x
 * 5219 labels, tens of thousands of pairs), which the sparse solver handles. 10^7 pairs is
 * ~300 MB of solver memory and more than one counting thread may hold (LIMIT_MAX_PAIRS). */
#define LIMIT_MAX_MATCH_COMPONENT 10000000

/* What server/config.c fills from its option table (the defaults above); handlers read it
 * through their context. */
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
    size_t max_request_memory;
    unsigned max_batch;
    unsigned max_match_component;
    unsigned threads;            /* CPU threads one request may use for decoding / counting */
    unsigned preview_max_size;   /* longest side of a /preview or overlay answer */
    uint64_t preview_max_decode; /* samples of the level one preview may decode */
    unsigned max_channels;       /* /quantify */
    unsigned max_labels;         /* /quantify */
    struct scan_suffixes scan_suffixes; /* what /scan lists (--scan-suffixes, parsed) */
};

/* Fixed limits. Service: the handlers enforce these; none is an option.
 *
 * /scan, when the request does not say: recursion stops 8 levels down and an answer holds
 * 100,000 entries (~20 MB of JSON without classifications), so a default request on a big
 * root stays a quick, bounded answer; more of either must be asked for (max_depth, limit),
 * up to scan_max_depth and scan_max_entries. Each default is lowered to its configured
 * maximum when that is smaller. */
#define LIMIT_SCAN_DEFAULT_DEPTH   8
#define LIMIT_SCAN_DEFAULT_ENTRIES 100000

/* /overlap: the highest page_a / page_b a request may name. Pages are walked one IFD at a
 * time up to max_ifds anyway; this bound keeps the value in range of every integer type it
 * passes through and the error message fixed (it is in openapi/openapi.yaml). */
#define LIMIT_OVERLAP_MAX_PAGE 1000000

/* /overlap multipart uploads: parts parsed, which are a, b and options, and room for one
 * stray part, so it is named in the error instead of being refused as "too many parts". */
#define LIMIT_OVERLAP_MAX_PARTS 4

/* /overlap: thresholds in one match_threshold list. Each costs one O(pairs) matching pass and
 * one matching object in every answer; a sweep in steps of 0.001 fits. */
#define LIMIT_OVERLAP_MAX_THRESHOLDS 1000

#endif
