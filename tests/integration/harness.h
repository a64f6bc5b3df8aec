/*
 * harness.h - integration-test plumbing: start the real tessera binary on a free loopback
 * port (--port 0, port read back from its "listening" log line), talk to it with libcurl or
 * raw socket bytes, and stop it with a signal.
 */
#ifndef TESSERA_TESTS_HARNESS_H
#define TESSERA_TESTS_HARNESS_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct itest_server {
    pid_t pid;
    unsigned port;
    int out_fd;
    pthread_t reader;
    pthread_mutex_t lock;
    char *log; /* everything the server wrote on stdout + stderr */
    size_t log_len, log_cap;
    bool reader_running;
};

/* Start TESSERA_BIN --root root --port 0 [extra args..., NULL]. Waits for "listening". */
bool itest_start(struct itest_server *s, const char *root, const char *const extra[]);

/* How much slower the server runs than natively: 20 under TESSERA_ITEST_WRAPPER
 * (valgrind), else 1. Start and stop waits are scaled by it; tests scale theirs with it. */
int itest_slowdown(void);

/* Send sig (0 = SIGTERM), wait up to timeout_s, return the exit status (or -1). */
int itest_stop(struct itest_server *s, int sig, int timeout_s);

/* Release what itest_start allocated (the log); call after itest_stop. */
void itest_free(struct itest_server *s);

/* Copy of the log so far (caller frees). */
char *itest_log(struct itest_server *s);

/* Every line the server wrote so far is one JSON object (its log format): nothing printed
 * raw, by libtiff or a sanitizer. Reports each other line through CHECK. */
void itest_check_log(struct itest_server *s);

struct itest_reply {
    long status;
    char *body;
    size_t len;
    char *headers; /* raw header block */
    json_t *json;  /* parsed body when it is JSON, else NULL */
    double seconds;
};

/* One request with libcurl. headers: NULL-terminated "Name: value" strings, or NULL.
 * body may be NULL (no body). Returns false on a transport error. */
bool itest_request(const struct itest_server *s, const char *method, const char *target,
                   const char *const headers[], const void *body, size_t len,
                   struct itest_reply *r);
void itest_reply_cleanup(struct itest_reply *r);

/* Value of response header name (case-insensitive) copied into buf; false if absent. */
bool itest_header(const struct itest_reply *r, const char *name, char *buf, size_t size);

/* True when r is a well-formed problem+json answer with this status (type, title, status,
 * detail, request_id present; X-Request-Id matches). Reports through CHECK. */
bool itest_is_problem(const struct itest_reply *r, long status);

/* Write raw bytes on a fresh connection and read the answer until close or timeout_ms.
 * Returns bytes read into out (NUL-terminated), or -1 when connecting failed. */
long itest_raw(const struct itest_server *s, const char *bytes, size_t len, char *out, size_t size,
               int timeout_ms);

/* HTTP status code at the start of a raw answer, or 0. */
int itest_raw_status(const char *answer);

#endif
