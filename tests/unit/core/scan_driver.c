/*
 * scan_driver.c - run scan_tree once and print the result as lines, for diff_scan.py.
 *
 * usage: scan_driver ROOT DIR [-r] [-H] [-S] [-W] [-d MAX_DEPTH] [-n MAX_ENTRIES] [-t N]
 *   -r recursive, -H include hidden, -S no stat, -W confine_open without openat2,
 *   -t threads for the stat pass.
 * Output, in the result's order (tab-separated; '\\', tab and newline in paths escaped):
 *   E <type> <suffix> <size> <mtime_sec> <mtime_nsec> <path>
 *   X <path> <detail>
 *   T <truncated 0|1> <errors_dropped>
 * On failure: "F <code name> <detail>" and exit status 1.
 */
#include "confine.h"
#include "scan.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_escaped(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            fputs("\\\\", stdout);
        else if (*s == '\t')
            fputs("\\t", stdout);
        else if (*s == '\n')
            fputs("\\n", stdout);
        else
            putchar(*s);
    }
}

static unsigned long parse_number(const char *s)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end != '\0') {
        fprintf(stderr, "scan_driver: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: scan_driver ROOT DIR [-r] [-H] [-S] [-W] [-d N] [-n N] [-t N]\n");
        return 2;
    }
    struct scan_options opt;
    scan_options_init(&opt);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "-r") == 0)
            opt.recursive = true;
        else if (strcmp(argv[i], "-H") == 0)
            opt.include_hidden = true;
        else if (strcmp(argv[i], "-S") == 0)
            opt.want_stat = false;
        else if (strcmp(argv[i], "-W") == 0)
            confine_set_use_openat2(false);
        else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
            opt.max_depth = (unsigned)parse_number(argv[++i]);
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            opt.threads = (unsigned)parse_number(argv[++i]);
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            opt.max_entries = parse_number(argv[++i]);
        else {
            fprintf(stderr, "scan_driver: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    int root_fd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        perror(argv[1]);
        return 2;
    }
    struct scan_result *res = NULL;
    struct error_info err;
    error_init(&err);
    enum error_code rc = scan_tree(root_fd, argv[2], strlen(argv[2]), &opt, &res, &err);
    close(root_fd);
    if (rc != ERROR_OK) {
        printf("F\t%s\t%s\n", error_code_name(rc), err.detail);
        return 1;
    }
    for (size_t i = 0; i < res->count; i++) {
        const struct scan_entry *e = &res->entries[i];
        printf("E\t%s\t%s\t%llu\t%lld\t%ld\t", scan_type_name(e->type), e->suffix,
               (unsigned long long)e->size, (long long)e->mtime_sec, e->mtime_nsec);
        print_escaped(e->path);
        putchar('\n');
    }
    for (size_t i = 0; i < res->error_count; i++) {
        fputs("X\t", stdout);
        print_escaped(res->errors[i].path);
        putchar('\t');
        print_escaped(res->errors[i].detail);
        putchar('\n');
    }
    printf("T\t%d\t%zu\n", res->truncated ? 1 : 0, res->errors_dropped);
    scan_result_free(res);
    return 0;
}
