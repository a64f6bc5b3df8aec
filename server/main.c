/*
 * main.c - the tessera process: configuration, the data root, signals, serve, drain.
 *
 * Signals are blocked in every thread and taken synchronously here with sigwait, so no
 * handler ever runs in the middle of a request: SIGTERM / SIGINT drain and stop, SIGHUP
 * reloads the tokens and the certificate (http_reload).
 */
#include "config.h"
#include "demo.h"
#include "healthcheck.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

#include "alloc.h"
#include "cache.h"
#include "parallel.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "make-demo") == 0) {
        char msg[512];
        if (!demo_write(argv[2], msg, sizeof msg)) {
            fprintf(stderr, "tessera: make-demo: %s\n", msg);
            return 1;
        }
        return 0;
    }

    static struct config cfg;
    char msg[512];
    bool healthcheck = argc >= 2 && strcmp(argv[1], "healthcheck") == 0;
    if (healthcheck) {
        argv[1] = argv[0]; /* parse the options after the subcommand */
        argv++;
        argc--;
    }
    switch (config_load(&cfg, argc, argv, msg, sizeof msg)) {
    case CONFIG_EXIT_OK:
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "tessera: %s\n", msg);
        return 2;
    case CONFIG_RUN:
        break;
    }
    if (healthcheck)
        return healthcheck_run(&cfg, 2000);

    /* A data root that is missing at start is a configuration error. Afterwards it is
     * opened by path for each request that reads it (server_root_open), so no descriptor
     * is kept. */
    int root_fd = open(cfg.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        fprintf(stderr, "tessera: data root '%s': %s\n", cfg.root, strerror(errno));
        return 2;
    }
    close(root_fd);

    /* libtiff must never print mid-request: handle-less messages are dropped here, and
     * every handle captures its own (TIFFOpenOptionsSetErrorHandlerExtR). */
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    json_object_seed(0);
    json_set_alloc_funcs(alloc_bytes, free); /* the fault-injection hook reaches jansson */

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    static struct server srv;
    if (cfg.limits.cache_entries > 0) {
        struct error_info err;
        if (cache_new(cfg.limits.cache_entries, 0, &srv.cache, &err) != ERROR_OK) {
            fprintf(stderr, "tessera: classification cache: %s\n", err.detail);
            return 2;
        }
        metrics_add_source(metrics_cache_source, srv.cache);
    }
    /* At most --workers + --thread-budget threads compute at once, however many requests. */
    parallel_budget_set(cfg.thread_budget);
    metrics_add_source(metrics_threads_source, &cfg.thread_budget);
    metrics_add_source(metrics_confine_source, NULL);
    srv.cfg = &cfg;
    if (!http_start(&srv, msg, sizeof msg)) {
        fprintf(stderr, "tessera: %s\n", msg);
        return 2;
    }
    char extra[1024], root_esc[400];
    log_escape(root_esc, sizeof root_esc, cfg.root);
    snprintf(extra, sizeof extra,
             "\"address\":\"%s\",\"port\":%u,\"root\":\"%s\",\"workers\":%u,"
             "\"thread_budget\":%u,\"io_threads\":%u,\"admin_port\":%u,\"tls\":%s,"
             "\"client_certificates\":%s",
             cfg.host, srv.port, root_esc, cfg.workers, cfg.thread_budget, cfg.io_threads,
             cfg.admin_port, srv.tls ? "true" : "false", cfg.tls_client_ca[0] ? "true" : "false");
    log_event("info", "listening", extra);

    int sig = 0;
    sigdelset(&sigs, SIGPIPE);
    /* SIGHUP re-reads the token file and the certificate; nothing else changes. */
    while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
        if (sig == SIGHUP)
            http_reload(&srv);
    snprintf(extra, sizeof extra, "\"signal\":%d,\"drain_timeout_s\":%u", sig, cfg.drain_timeout_s);
    log_event("info", "draining", extra);
    long abandoned = http_drain_and_stop(&srv);
    snprintf(extra, sizeof extra, "\"abandoned\":%ld", abandoned);
    log_event(abandoned ? "warn" : "info", "stopped", extra);
    if (abandoned == 0)
        cache_free(srv.cache); /* workers are done with it */
    return 0;
}
