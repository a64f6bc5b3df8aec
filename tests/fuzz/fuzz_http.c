/*
 * fuzz_http.c - the whole server fed raw HTTP bytes: the real daemon (libmicrohttpd, the
 * framing checks, routing, auth, CORS, bodies, the worker pool and every handler) started
 * once without a listening socket, and each input written on a fresh connection added over
 * a socketpair. The client half sends the input, shuts down its write side and reads until
 * the server closes. The answer must be empty or start with an HTTP status line, no answer
 * may be a 500, and the server must close the connection within the idle timeout (a hang
 * is a crash here).
 */
#include "cache.h"
#include "config.h"
#include "demo.h"
#include "http.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <tiffio.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config fuzz_cfg;
static struct server fuzz_srv;

/* The answer of one input; large enough for the biggest page (the Swagger UI bundle). */
#define FUZZ_ANSWER_MAX (8u << 20)
static char *fuzz_answer;

/* Seconds the client waits for the server to close: past the idle timeout (2 s) plus the
 * request timeout (2 s), so only a real hang trips it. */
#define FUZZ_CLOSE_WAIT_MS 8000

static void fuzz_setup(void)
{
    static char dir[] = "/tmp/tessera-fuzz-http-XXXXXX";
    char msg[512];
    if (mkdtemp(dir) == NULL || !demo_write(dir, msg, sizeof msg)) {
        fprintf(stderr, "fuzz_http: demo data: %s\n", msg);
        abort();
    }
    char *argv[] = {
        "fuzz_http",
        "--root",
        dir,
        "--access-log=false",
        "--io-threads",
        "1",
        "--workers",
        "2",
        "--queue",
        "8",
        "--idle-timeout",
        "2",
        "--request-timeout",
        "2000",
        "--max-pixels",
        "4194304",
        "--max-decode-buffer",
        "16777216",
        "--max-json-body",
        "1048576",
        "--max-binary-body",
        "16777216",
        "--max-k",
        "100000",
        "--max-json-values",
        "100000",
        "--max-json-nodes",
        "200000",
        "--scan-max-entries",
        "1000",
        "--scan-timeout",
        "1000",
        "--max-ifds",
        "64",
        "--classify-batch",
        "16",
        "--cache-entries",
        "64",
        "--max-pairs",
        "100000",
        "--max-batch",
        "4",
        "--threads",
        "2",
        "--cors-origins",
        "https://lab.example",
        "--conn-memory",
        "65536",
        "--max-per-ip",
        "0",
    };
    int argc = (int)(sizeof argv / sizeof argv[0]);
    if (config_load(&fuzz_cfg, argc, argv, msg, sizeof msg) != CONFIG_RUN) {
        fprintf(stderr, "fuzz_http: config: %s\n", msg);
        abort();
    }
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    signal(SIGPIPE, SIG_IGN);

    struct error_info err;
    if (cache_new(fuzz_cfg.limits.cache_entries, 0, &fuzz_srv.cache, &err) != ERROR_OK)
        abort();
    fuzz_srv.cfg = &fuzz_cfg;
    fuzz_srv.no_listen = true;
    if (!http_start(&fuzz_srv, msg, sizeof msg)) {
        fprintf(stderr, "fuzz_http: start: %s\n", msg);
        abort();
    }
    /* The server's event log (stdout) would drown libFuzzer's own output (stderr). */
    int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd >= 0) {
        dup2(null_fd, STDOUT_FILENO);
        close(null_fd);
    }
    fuzz_answer = malloc(FUZZ_ANSWER_MAX + 1);
    if (fuzz_answer == NULL)
        abort();
}

static int64_t fuzz_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write data on fd and read the answer into fuzz_answer until the server closes. Returns
 * the answer's length, or -1 when the server did not close in time. */
static long fuzz_exchange(int fd, const uint8_t *data, size_t size)
{
    size_t sent = 0, got = 0;
    bool shut = false;
    int64_t deadline = fuzz_now_ms() + FUZZ_CLOSE_WAIT_MS;
    for (;;) {
        if (sent == size && !shut) {
            /* The end of input goes as a separate event: libmicrohttpd (epoll, edge
             * triggered) misses an EOF that arrives together with an unfinished request
             * line, and would then hold the connection until the idle timeout. */
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
        int64_t left = deadline - fuzz_now_ms();
        if (left <= 0)
            return -1;
        if (poll(&p, 1, (int)left) < 0)
            continue;
        if (p.revents & POLLOUT) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0)
                sent = size; /* the server closed its side: stop sending */
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char sink[4096];
            char *dst = got < FUZZ_ANSWER_MAX ? fuzz_answer + got : sink;
            size_t room = got < FUZZ_ANSWER_MAX ? FUZZ_ANSWER_MAX - got : sizeof sink;
            ssize_t n = recv(fd, dst, room, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && (p.revents & (POLLHUP | POLLERR))))
                break;
            if (n > 0 && dst != sink)
                got += (size_t)n;
        }
    }
    fuzz_answer[got] = '\0';
    return (long)got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_answer == NULL)
        fuzz_setup();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!http_add_connection(&fuzz_srv, sv[1], (struct sockaddr *)&peer, sizeof peer)) {
        close(sv[0]); /* the daemon closed sv[1] */
        return 0;
    }
    long got = fuzz_exchange(sv[0], data, size);
    close(sv[0]);
    /* Let the daemon finish closing, so this input's allocations are freed before the
     * next one starts (otherwise libFuzzer runs a leak scan after every input). */
    for (int64_t until = fuzz_now_ms() + FUZZ_CLOSE_WAIT_MS;
         metrics_connections_open() > 0 && fuzz_now_ms() < until;) {
        struct timespec ts = {0, 50 * 1000};
        nanosleep(&ts, NULL);
    }
    if (got < 0) {
        fprintf(stderr, "fuzz_http: the server kept the connection open past %d ms\n",
                FUZZ_CLOSE_WAIT_MS);
        abort();
    }
    if (got > 0 && strncmp(fuzz_answer, "HTTP/1.", 7) != 0) {
        fprintf(stderr, "fuzz_http: answer does not start with a status line: %.80s\n",
                fuzz_answer);
        abort();
    }
    for (const char *p = fuzz_answer; (p = strstr(p, "HTTP/1.1 500 ")) != NULL; p++) {
        if (p == fuzz_answer || p[-1] == '\n') {
            fprintf(stderr, "fuzz_http: internal error answer:\n%.2000s\n", fuzz_answer);
            abort();
        }
    }
    return 0;
}
