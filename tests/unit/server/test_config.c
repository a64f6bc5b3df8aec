/*
 * test_config.c - the option table: defaults, environment, flags (flags win), ranges,
 * size suffixes, booleans, and the CORS allow-list.
 */
#include "check.h"
#include "config.h"

#include <stdlib.h>
#include <string.h>

static enum config_outcome load(struct config *cfg, const char *const args[], char *msg)
{
    char *argv[32] = {"tessera"};
    int argc = 1;
    for (size_t i = 0; args[i] != NULL; i++)
        argv[argc++] = (char *)args[i];
    return config_load(cfg, argc, argv, msg, 256);
}

int main(void)
{
    static struct config cfg;
    char msg[256];
    const char *const none[] = {NULL};
    CHECK_INT(load(&cfg, none, msg), CONFIG_RUN);
    CHECK_INT(cfg.port, 8080);
    CHECK_STR(cfg.host, "127.0.0.1");
    CHECK_INT(cfg.limits.max_json_body, LIMIT_MAX_JSON_BODY);
    CHECK_INT(cfg.limits.max_pixels, LIMIT_MAX_PIXELS);
    CHECK(cfg.workers >= 1);
    CHECK(cfg.access_log);
    CHECK_INT(cfg.limits.scan_suffixes.count, 16); /* SCAN_SUFFIXES_DEFAULT */
    CHECK_STR(cfg.limits.scan_suffixes.name[0], ".tif");
    const char *const suffixes[] = {"--scan-suffixes", ".TIF, .czi,.tif", NULL};
    CHECK_INT(load(&cfg, suffixes, msg), CONFIG_RUN);
    CHECK_INT(cfg.limits.scan_suffixes.count, 2);
    CHECK_STR(cfg.limits.scan_suffixes.name[0], ".tif");
    CHECK_STR(cfg.limits.scan_suffixes.name[1], ".czi");
    const char *const bad_suffix[] = {"--scan-suffixes", ".tif,svs", NULL};
    CHECK_INT(load(&cfg, bad_suffix, msg), CONFIG_ERROR);
    CHECK(strstr(msg, "--scan-suffixes") != NULL && strstr(msg, "'svs'") != NULL);
    CHECK_INT(cfg.thread_budget, cfg.limits.threads); /* 0 means the CPU count for both */
    CHECK(cfg.thread_budget >= 1);

    setenv("TESSERA_THREAD_BUDGET", "5", 1);
    CHECK_INT(load(&cfg, none, msg), CONFIG_RUN);
    CHECK_INT(cfg.thread_budget, 5);
    const char *const budget[] = {"--thread-budget", "1024", NULL};
    CHECK_INT(load(&cfg, budget, msg), CONFIG_RUN);
    CHECK_INT(cfg.thread_budget, 1024);
    unsetenv("TESSERA_THREAD_BUDGET");
    const char *const budget_high[] = {"--thread-budget", "1025", NULL};
    CHECK_INT(load(&cfg, budget_high, msg), CONFIG_ERROR);
    CHECK(strstr(msg, "--thread-budget") != NULL && strstr(msg, "1024") != NULL);

    setenv("TESSERA_PORT", "9000", 1);
    setenv("TESSERA_CONN_MEMORY", "128K", 1);
    const char *const flags[] = {"--port", "9100", "--max-json-body=2M", "--access-log=false",
                                 NULL};
    CHECK_INT(load(&cfg, flags, msg), CONFIG_RUN);
    CHECK_INT(cfg.port, 9100); /* the flag beats the environment */
    CHECK_INT(cfg.conn_memory, 128 * 1024);
    CHECK_INT(cfg.limits.max_json_body, 2 * 1024 * 1024);
    CHECK(!cfg.access_log);
    unsetenv("TESSERA_PORT");
    unsetenv("TESSERA_CONN_MEMORY");

    const char *const bad_range[] = {"--port", "65536", NULL};
    CHECK_INT(load(&cfg, bad_range, msg), CONFIG_ERROR);
    CHECK(strstr(msg, "--port") != NULL && strstr(msg, "65535") != NULL);
    const char *const negative[] = {"--queue", "-1", NULL};
    CHECK_INT(load(&cfg, negative, msg), CONFIG_ERROR);
    const char *const junk[] = {"--queue", "12abc", NULL};
    CHECK_INT(load(&cfg, junk, msg), CONFIG_ERROR);
    const char *const overflow[] = {"--max-binary-body", "99999999999999999999999", NULL};
    CHECK_INT(load(&cfg, overflow, msg), CONFIG_ERROR);
    const char *const bad_bool[] = {"--access-log=maybe", NULL};
    CHECK_INT(load(&cfg, bad_bool, msg), CONFIG_ERROR);
    const char *const unknown[] = {"--frobnicate", NULL};
    CHECK_INT(load(&cfg, unknown, msg), CONFIG_ERROR);
    CHECK(strstr(msg, "--frobnicate") != NULL);
    const char *const missing[] = {"--port", NULL};
    CHECK_INT(load(&cfg, missing, msg), CONFIG_ERROR);
    const char *const empty_root[] = {"--root", "", NULL};
    CHECK_INT(load(&cfg, empty_root, msg), CONFIG_ERROR);
    setenv("TESSERA_QUEUE", "0", 1);
    CHECK_INT(load(&cfg, none, msg), CONFIG_ERROR);
    CHECK(strstr(msg, "TESSERA_QUEUE") != NULL);
    unsetenv("TESSERA_QUEUE");

    const char *const cors[] = {"--cors-origins", "https://a.example, https://b.example", NULL};
    CHECK_INT(load(&cfg, cors, msg), CONFIG_RUN);
    CHECK(config_origin_allowed(&cfg, "https://a.example"));
    CHECK(config_origin_allowed(&cfg, "https://b.example"));
    CHECK(!config_origin_allowed(&cfg, "https://a.example.evil"));
    CHECK(!config_origin_allowed(&cfg, "https://b.exampl"));
    CHECK(!config_origin_allowed(&cfg, NULL));
    const char *const star[] = {"--cors-origins", "*", NULL};
    CHECK_INT(load(&cfg, star, msg), CONFIG_RUN);
    CHECK(config_origin_allowed(&cfg, "https://anything.example"));
    CHECK_INT(load(&cfg, none, msg), CONFIG_RUN);
    CHECK(!config_origin_allowed(&cfg, "https://a.example"));
    return check_finish("test_config");
}
