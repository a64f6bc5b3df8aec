/*
 * log.h - structured logs: one JSON object per line on stdout, written with a single
 * write() under a lock so lines from many threads never interleave.
 */
#ifndef TESSERA_SERVER_LOG_H
#define TESSERA_SERVER_LOG_H

#include <stddef.h>
#include <stdint.h>

struct log_access {
    const char *request_id;
    const char *method;
    const char *route; /* route pattern, or "-" when none matched */
    const char *path;  /* as requested (escaped on output) */
    unsigned status;
    uint64_t bytes_in;
    uint64_t bytes_out;
    double duration_ms;
    const char *remote;
    const char *outcome; /* "ok", "client_gone", "body_cut", ... */
    const char *token;   /* name of the token that admitted it, or NULL / "" */
    const char *client;  /* verified client certificate subject, or NULL / "" */
};

/* One access-log line. Thread-safe. */
void log_access_line(const struct log_access *a);

/* An event line: {"time","level","msg", extra}. extra_json is a pre-rendered fragment of
 * object members without braces (e.g. "\"port\":8080") or NULL. Thread-safe. */
void log_event(const char *level, const char *msg, const char *extra_json);

/* Append s to buf as JSON string content (quotes not included); returns bytes written. */
size_t log_escape(char *buf, size_t size, const char *s);

#endif
