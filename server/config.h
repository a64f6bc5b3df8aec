/*
 * config.h - the server's configuration: one table of options (flag, environment variable,
 * default, range, help) that parses argv and the environment and prints --help.
 *
 * Precedence: built-in default < environment variable < command-line flag. Every value is
 * validated at start; a bad one is a clear message and exit status 2.
 */
#ifndef TESSERA_SERVER_CONFIG_H
#define TESSERA_SERVER_CONFIG_H

#include "limit.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config {
    char root[4096];
    char host[64];
    unsigned port;
    unsigned admin_port;
    unsigned io_threads;
    unsigned workers;
    unsigned thread_budget; /* helper threads of all requests together (core/parallel) */
    unsigned malloc_arenas; /* glibc's M_ARENA_MAX; 0 = its default */
    unsigned queue;
    unsigned max_connections;
    unsigned max_per_ip;
    unsigned idle_timeout_s;
    unsigned header_timeout_s;
    size_t conn_memory;
    size_t max_body_memory;
    unsigned drain_timeout_s;
    char token[256];
    /* HTTPS and tokens (server/tls.c, server/auth.c) */
    char token_file[4096];
    char tls_cert[4096];
    char tls_key[4096];
    char tls_client_ca[4096];
    char tls_priorities[512];
    char cors_origins[1024];
    char scan_suffixes[SCAN_SUFFIXES_MAX * SCAN_SUFFIX_LEN]; /* as given; parsed into limits */
    unsigned strict_http;
    bool access_log;
    struct limits limits;
};

enum config_outcome {
    CONFIG_RUN,     /* start the server */
    CONFIG_EXIT_OK, /* --help / --version printed */
    CONFIG_ERROR    /* message written to err; exit status 2 */
};

/* Fill cfg from defaults, then envp-style environment (getenv), then argv. On CONFIG_ERROR
 * a one-line reason is in msg. Not thread-safe (reads the environment). */
enum config_outcome config_load(struct config *cfg, int argc, char **argv, char *msg,
                                size_t msg_size);

/* Print the --help text generated from the option table. */
void config_print_help(FILE *out, const char *prog);

/* Is origin in the comma-separated CORS allow-list ("*" allows any)? */
bool config_origin_allowed(const struct config *cfg, const char *origin);

#endif
