/*
 * config.c - the option table and its parser; see config.h.
 *
 * One row per option drives parsing, validation, the environment lookup and --help, so
 * an option cannot exist in one of those places and be missing from another.
 */
#include "config.h"
#include "scan.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

enum config_kind { CONFIG_UINT, CONFIG_SIZE, CONFIG_U64, CONFIG_STRING, CONFIG_BOOL };

struct config_option {
    const char *flag; /* without the leading "--" */
    const char *env;
    enum config_kind kind;
    size_t offset;
    size_t size; /* for CONFIG_STRING: buffer size */
    const char *def;
    uint64_t min, max;
    const char *help;
};

#define OFF(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define STR_(x)    #x
#define STR(x)     STR_(x)

/* clang-format off */
static const struct config_option config_options[] = {
    {"root", "TESSERA_ROOT", CONFIG_STRING, OFF(root), ".", 0, 0,
     "data root: every request path is relative to it and can never leave it"},
    {"host", "TESSERA_HOST", CONFIG_STRING, OFF(host), "127.0.0.1", 0, 0,
     "address to listen on (IPv4 or IPv6 literal)"},
    {"port", "TESSERA_PORT", CONFIG_UINT, OFF(port), "8080", 0, 65535,
     "TCP port; 0 picks a free one (logged at start)"},
    {"admin-port", "TESSERA_ADMIN_PORT", CONFIG_UINT, OFF(admin_port), "0", 0, 65535,
     "second port on --host serving only /healthz, /readyz, /metrics with its own connection "
     "budget, so probes pass a flood of --port; 0 = off"},
    {"io-threads", "TESSERA_IO_THREADS", CONFIG_UINT, OFF(io_threads), "2", 1, 64,
     "threads serving connections (epoll); light routes are answered here"},
    {"workers", "TESSERA_WORKERS", CONFIG_UINT, OFF(workers), "0", 0, 256,
     "worker threads for heavy requests; 0 = number of CPUs"},
    {"queue", "TESSERA_QUEUE", CONFIG_UINT, OFF(queue), "64", 1, 65536,
     "heavy requests waiting for a worker; beyond it: 503 + Retry-After"},
    {"max-connections", "TESSERA_MAX_CONNECTIONS", CONFIG_UINT, OFF(max_connections), "1000",
     1, 60000, "open connections in total; excess connections are closed at once"},
    {"max-per-ip", "TESSERA_MAX_PER_IP", CONFIG_UINT, OFF(max_per_ip), "256", 0, 60000,
     "open connections per client address; 0 = no per-address limit"},
    {"idle-timeout", "TESSERA_IDLE_TIMEOUT", CONFIG_UINT, OFF(idle_timeout_s), "30", 1, 3600,
     "seconds a connection may stay idle (also bounds slow senders)"},
    {"header-timeout", "TESSERA_HEADER_TIMEOUT", CONFIG_UINT, OFF(header_timeout_s), "10", 1,
     3600, "seconds a new connection may stay idle before its request headers are complete"},
    {"conn-memory", "TESSERA_CONN_MEMORY", CONFIG_SIZE, OFF(conn_memory), "64K", 8192,
     16u << 20, "memory per connection for headers and buffers (bytes; K/M/G suffixes)"},
    {"max-body-memory", "TESSERA_MAX_BODY_MEMORY", CONFIG_SIZE, OFF(max_body_memory), "4G",
     1u << 20, (uint64_t)1 << 40,
     "request bodies being received at once, all connections (bytes); beyond it: 503"},
    {"drain-timeout", "TESSERA_DRAIN_TIMEOUT", CONFIG_UINT, OFF(drain_timeout_s), "30", 0,
     3600, "seconds SIGTERM waits for in-flight requests before exiting"},
    {"token", "TESSERA_TOKEN", CONFIG_STRING, OFF(token), "", 0, 0,
     "bearer token required on every route but /healthz and /readyz (empty = open)"},
    {"token-file", "TESSERA_TOKEN_FILE", CONFIG_STRING, OFF(token_file), "", 0, 0,
     "file of named tokens, one 'NAME TOKEN' or 'NAME sha256:HEX' a line, re-read on SIGHUP; "
     "any of them (or --token) is accepted"},
    {"tls-cert", "TESSERA_TLS_CERT", CONFIG_STRING, OFF(tls_cert), "", 0, 0,
     "PEM certificate (chain) of --port: HTTPS; re-read on SIGHUP (empty = plain HTTP)"},
    {"tls-key", "TESSERA_TLS_KEY", CONFIG_STRING, OFF(tls_key), "", 0, 0,
     "PEM private key of --tls-cert (unencrypted); re-read on SIGHUP"},
    {"tls-client-ca", "TESSERA_TLS_CLIENT_CA", CONFIG_STRING, OFF(tls_client_ca), "", 0, 0,
     "PEM CA certificate(s): API routes on --port need a client certificate it signed, "
     "which stands in for a token (empty = no client certificates)"},
    {"tls-priorities", "TESSERA_TLS_PRIORITIES", CONFIG_STRING, OFF(tls_priorities),
     "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", 0, 0,
     "GnuTLS priority string of --port (default: TLS 1.2 and 1.3 only)"},
    {"cors-origins", "TESSERA_CORS_ORIGINS", CONFIG_STRING, OFF(cors_origins), "", 0, 0,
     "comma-separated origins allowed by CORS, or * (empty = CORS off)"},
    {"strict-http", "TESSERA_STRICT_HTTP", CONFIG_UINT, OFF(strict_http), "1", 0, 1,
     "1: refuse HTTP/1.1 without Host and spaces in the URL (MHD_OPTION_STRICT_FOR_CLIENT)"},
    {"access-log", "TESSERA_ACCESS_LOG", CONFIG_BOOL, OFF(access_log), "true", 0, 1,
     "one JSON line per request on stdout"},
    {"max-json-body", "TESSERA_MAX_JSON_BODY", CONFIG_SIZE, OFF(limits.max_json_body),
     STR(LIMIT_MAX_JSON_BODY), 1024, (uint64_t)1 << 32, "largest JSON request body (bytes)"},
    {"max-binary-body", "TESSERA_MAX_BINARY_BODY", CONFIG_SIZE, OFF(limits.max_binary_body),
     STR(LIMIT_MAX_BINARY_BODY), 1024, (uint64_t)1 << 36,
     "largest binary or TIFF upload body (bytes)"},
    {"request-timeout", "TESSERA_REQUEST_TIMEOUT_MS", CONFIG_UINT,
     OFF(limits.request_timeout_ms), STR(LIMIT_REQUEST_TIMEOUT_MS), 100, 3600000,
     "time budget of one request in ms; past it the answer is 503"},
    {"max-pixels", "TESSERA_MAX_PIXELS", CONFIG_U64, OFF(limits.max_pixels),
     STR(LIMIT_MAX_PIXELS), 1, (uint64_t)1 << 40, "largest image (width * height) decoded"},
    {"max-decode-buffer", "TESSERA_MAX_DECODE_BUFFER", CONFIG_SIZE,
     OFF(limits.max_decode_buffer), STR(LIMIT_MAX_DECODE_BUFFER), 65536, (uint64_t)1 << 34,
     "largest buffer for one decoded strip or row of tiles (/overlap); bounds decompression "
     "bombs"},
    {"max-k", "TESSERA_MAX_K", CONFIG_UINT, OFF(limits.max_k), STR(LIMIT_MAX_K), 1,
     100000000, "largest k accepted by /topk"},
    {"max-json-values", "TESSERA_MAX_JSON_VALUES", CONFIG_UINT, OFF(limits.max_json_values),
     STR(LIMIT_MAX_JSON_VALUES), 1, 100000000, "numbers accepted in one JSON array input"},
    {"max-json-nodes", "TESSERA_MAX_JSON_NODES", CONFIG_UINT, OFF(limits.max_json_nodes),
     STR(LIMIT_MAX_JSON_NODES), 16, 100000000,
     "values (keys included) in one JSON body, counted before it is parsed; the parsed tree "
     "takes at most ~232 bytes a value"},
    {"max-results", "TESSERA_MAX_RESULTS", CONFIG_U64, OFF(limits.max_results),
     STR(LIMIT_MAX_RESULTS), 1, (uint64_t)1 << 32,
     "most results in one /topk answer (k, rows x k or points x k)"},
    {"scan-max-depth", "TESSERA_SCAN_MAX_DEPTH", CONFIG_UINT, OFF(limits.scan_max_depth),
     STR(LIMIT_SCAN_MAX_DEPTH), 0, SCAN_DEPTH_MAX,
     "deepest /scan recursion; a scan holds one open directory per level it is below"},
    {"scan-max-entries", "TESSERA_SCAN_MAX_ENTRIES", CONFIG_UINT, OFF(limits.scan_max_entries),
     STR(LIMIT_SCAN_MAX_ENTRIES), 1, 100000000, "most entries one /scan returns"},
    {"scan-suffixes", "TESSERA_SCAN_SUFFIXES", CONFIG_STRING, OFF(scan_suffixes),
     SCAN_SUFFIXES_DEFAULT, 0, 0,
     "comma-separated name suffixes /scan lists, case-insensitive, longest match wins"},
    {"scan-timeout", "TESSERA_SCAN_TIMEOUT_MS", CONFIG_UINT, OFF(limits.scan_timeout_ms),
     STR(LIMIT_SCAN_TIMEOUT_MS), 1, 3600000, "time one /scan may walk, in ms"},
    {"max-ifds", "TESSERA_MAX_IFDS", CONFIG_UINT, OFF(limits.max_ifds), STR(LIMIT_MAX_IFDS), 1,
     10000000, "TIFF directories walked per file"},
    {"classify-batch", "TESSERA_CLASSIFY_BATCH", CONFIG_UINT, OFF(limits.classify_batch),
     STR(LIMIT_CLASSIFY_BATCH), 1, 1000000, "paths in one POST /classify"},
    {"cache-entries", "TESSERA_CACHE_ENTRIES", CONFIG_UINT, OFF(limits.cache_entries),
     STR(LIMIT_CACHE_ENTRIES), 0, 100000000, "classification cache size (0 = off)"},
    {"zarr-json-max", "TESSERA_ZARR_JSON_MAX", CONFIG_SIZE, OFF(limits.zarr_json_max),
     STR(LIMIT_ZARR_JSON_MAX), 1024, (uint64_t)1 << 30,
     "bytes of one Zarr metadata file (.zarray, .zattrs, zarr.json) read by /classify"},
    {"max-request-memory", "TESSERA_MAX_REQUEST_MEMORY", CONFIG_SIZE,
     OFF(limits.max_request_memory), STR(LIMIT_MAX_REQUEST_MEMORY), 1 << 20, (uint64_t)1 << 40,
     "bytes one /overlap pair's counting may hold, all threads together (pair tables, sort, "
     "columns); past it the answer is 413"},
    {"max-pairs", "TESSERA_MAX_PAIRS", CONFIG_UINT, OFF(limits.max_pairs),
     STR(LIMIT_MAX_PAIRS), 0, 1000000000,
     "deprecated: distinct label pairs one /overlap counting thread may hold; 0 = no cap "
     "(--max-request-memory bounds memory)"},
    {"max-batch", "TESSERA_MAX_BATCH", CONFIG_UINT, OFF(limits.max_batch), STR(LIMIT_MAX_BATCH),
     1, 100000, "image pairs in one batch /overlap"},
    {"max-match-component", "TESSERA_MAX_MATCH_COMPONENT", CONFIG_UINT,
     OFF(limits.max_match_component), STR(LIMIT_MAX_MATCH_COMPONENT), 1, 4000000000,
     "overlapping label pairs in the largest component one /overlap matching assigns"},
    {"preview-max-size", "TESSERA_PREVIEW_MAX_SIZE", CONFIG_UINT, OFF(limits.preview_max_size),
     STR(LIMIT_PREVIEW_MAX_SIZE), 16, 16384,
     "longest side, in pixels, of a /preview or /overlap/render image (the ?size= cap)"},
    {"preview-max-decode", "TESSERA_PREVIEW_MAX_DECODE", CONFIG_U64,
     OFF(limits.preview_max_decode), STR(LIMIT_PREVIEW_MAX_DECODE), 65536, (uint64_t)1 << 32,
     "samples (pixels x channels, 8 bytes each) of the level one preview may decode"},
    {"max-channels", "TESSERA_MAX_CHANNELS", CONFIG_UINT, OFF(limits.max_channels),
     STR(LIMIT_MAX_CHANNELS), 1, 100000, "intensity channels one /quantify may read"},
    {"max-labels", "TESSERA_MAX_LABELS", CONFIG_UINT, OFF(limits.max_labels),
     STR(LIMIT_MAX_LABELS), 1, 1000000000,
     "distinct labels one /quantify may hold (~100 B each plus 48 B per channel, per thread)"},
    {"threads", "TESSERA_THREADS", CONFIG_UINT, OFF(limits.threads), "0", 0, 256,
     "CPU threads one request may use for decoding and counting; 0 = number of CPUs"},
    {"thread-budget", "TESSERA_THREAD_BUDGET", CONFIG_UINT, OFF(thread_budget), "0", 0, 1024,
     "helper threads all requests together may run at once besides the workers (each request "
     "still uses at most --threads); 0 = number of CPUs"},
    {"malloc-arenas", "TESSERA_MALLOC_ARENAS", CONFIG_UINT, OFF(malloc_arenas), "0", 0, 1024,
     "glibc malloc arenas (M_ARENA_MAX). After a large request each arena may keep up to "
     "64 MiB of freed memory; 1 gives it all back, at the cost of threads allocating one at a "
     "time; 0 = glibc's default (8 per CPU)"},
};
/* clang-format on */

#define CONFIG_N_OPTIONS (sizeof config_options / sizeof config_options[0])

/* ---------------------------------------------------------------------------------------
 * Value parsing
 * --------------------------------------------------------------------------------------- */

/* Strict unsigned parse: digits only, optional K/M/G suffix (binary) when sized. */
static bool config_parse_u64(const char *text, bool sized, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0)
        return false;
    unsigned shift = 0;
    if (sized && *end != '\0' && end[1] == '\0') {
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            return false;
        }
        end++;
    }
    if (*end != '\0')
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

static bool config_set(struct config *cfg, const struct config_option *o, const char *value,
                       const char *source, char *msg, size_t msg_size)
{
    char *field = (char *)cfg + o->offset;
    if (o->kind == CONFIG_STRING) {
        size_t n = strlen(value);
        if (n >= o->size) {
            snprintf(msg, msg_size, "--%s (from %s): value is %zu bytes; at most %zu", o->flag,
                     source, n, o->size - 1);
            return false;
        }
        memcpy(field, value, n + 1);
        return true;
    }
    if (o->kind == CONFIG_BOOL) {
        bool b;
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0)
            b = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0)
            b = false;
        else {
            snprintf(msg, msg_size, "--%s (from %s): '%s' is not true/false", o->flag, source,
                     value);
            return false;
        }
        memcpy(field, &b, sizeof b);
        return true;
    }
    uint64_t v;
    if (!config_parse_u64(value, o->kind == CONFIG_SIZE, &v) || v < o->min || v > o->max) {
        snprintf(msg, msg_size, "--%s (from %s): '%s' is not an integer in [%llu, %llu]%s", o->flag,
                 source, value, (unsigned long long)o->min, (unsigned long long)o->max,
                 o->kind == CONFIG_SIZE ? " (K/M/G allowed)" : "");
        return false;
    }
    if (o->kind == CONFIG_UINT) {
        unsigned u = (unsigned)v;
        memcpy(field, &u, sizeof u);
    } else if (o->kind == CONFIG_SIZE) {
        size_t s = (size_t)v;
        memcpy(field, &s, sizeof s);
    } else {
        memcpy(field, &v, sizeof v);
    }
    return true;
}

static const struct config_option *config_find(const char *flag, size_t len)
{
    for (size_t i = 0; i < CONFIG_N_OPTIONS; i++)
        if (strlen(config_options[i].flag) == len &&
            strncmp(config_options[i].flag, flag, len) == 0)
            return &config_options[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Loading
 * --------------------------------------------------------------------------------------- */

enum config_outcome config_load(struct config *cfg, int argc, char **argv, char *msg,
                                size_t msg_size)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < CONFIG_N_OPTIONS; i++)
        if (!config_set(cfg, &config_options[i], config_options[i].def, "default", msg, msg_size))
            return CONFIG_ERROR;
    for (size_t i = 0; i < CONFIG_N_OPTIONS; i++) {
        const char *v = getenv(config_options[i].env);
        if (v != NULL &&
            !config_set(cfg, &config_options[i], v, config_options[i].env, msg, msg_size))
            return CONFIG_ERROR;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_print_help(stdout, argv[0]);
            return CONFIG_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("tessera %s\n", TESSERA_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(msg, msg_size, "unexpected argument '%s' (see --help)", arg);
            return CONFIG_ERROR;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct config_option *o = config_find(name, nlen);
        if (o == NULL) {
            snprintf(msg, msg_size, "unknown option '%.*s' (see --help)", (int)nlen + 2, arg);
            return CONFIG_ERROR;
        }
        const char *value;
        if (eq != NULL)
            value = eq + 1;
        else if (o->kind == CONFIG_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            snprintf(msg, msg_size, "option --%s needs a value", o->flag);
            return CONFIG_ERROR;
        }
        if (!config_set(cfg, o, value, "command line", msg, msg_size))
            return CONFIG_ERROR;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned cpus = ncpu > 0 ? (unsigned)ncpu : 1;
    if (cfg->workers == 0)
        cfg->workers = cpus;
    if (cfg->limits.threads == 0)
        cfg->limits.threads = cpus;
    if (cfg->thread_budget == 0)
        cfg->thread_budget = cpus;
    if (cfg->root[0] == '\0') {
        snprintf(msg, msg_size, "--root must not be empty");
        return CONFIG_ERROR;
    }
    if ((cfg->tls_cert[0] != '\0') != (cfg->tls_key[0] != '\0')) {
        snprintf(msg, msg_size, "--tls-cert and --tls-key go together: give both or neither");
        return CONFIG_ERROR;
    }
    if (cfg->tls_client_ca[0] != '\0' && cfg->tls_cert[0] == '\0') {
        snprintf(msg, msg_size, "--tls-client-ca needs --tls-cert and --tls-key (HTTPS)");
        return CONFIG_ERROR;
    }
    char why[160];
    if (!scan_suffixes_parse(cfg->scan_suffixes, &cfg->limits.scan_suffixes, why, sizeof why)) {
        snprintf(msg, msg_size, "--scan-suffixes: %s", why);
        return CONFIG_ERROR;
    }
    return CONFIG_RUN;
}

void config_print_help(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS]\n"
            "       %s make-demo DIR   write the demo data set into DIR and exit\n"
            "       %s healthcheck [OPTIONS]   exit 0 when the server at --host:--port "
            "answers /healthz\n\n"
            "Tessera %s: scan, classify, overlap and top-k for image pipelines, over HTTP.\n\n"
            "Every option can also be set with its environment variable; flags win.\n\n",
            prog, prog, prog, TESSERA_VERSION);
    for (size_t i = 0; i < CONFIG_N_OPTIONS; i++) {
        const struct config_option *o = &config_options[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s", o->flag, o->kind == CONFIG_BOOL ? "[=BOOL]" : " V");
        fprintf(out, "  %-24s %s\n  %-24s env %s, default '%s'", left, o->help, "", o->env, o->def);
        if (o->kind == CONFIG_UINT || o->kind == CONFIG_SIZE || o->kind == CONFIG_U64)
            fprintf(out, ", range %llu..%llu", (unsigned long long)o->min,
                    (unsigned long long)o->max);
        fputc('\n', out);
    }
    fprintf(out, "  %-24s %s\n  %-24s %s\n", "--help", "print this help", "--version",
            "print the version");
}

bool config_origin_allowed(const struct config *cfg, const char *origin)
{
    if (origin == NULL || cfg->cors_origins[0] == '\0')
        return false;
    size_t olen = strlen(origin);
    const char *p = cfg->cors_origins;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if ((len == 1 && p[0] == '*') || (len == olen && len > 0 && memcmp(p, origin, len) == 0))
            return true;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}
