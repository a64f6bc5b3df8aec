/* files.c - see files.h. */
#include "files.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A failed file operation: counted like a failed CHECK, with the path and errno. */
static void files_fail(const char *what, const char *path, int err)
{
    check_report(false, __FILE__, __LINE__, what);
    fprintf(stderr, "    %s: %s\n", path, strerror(err));
}

void check_path_join(char *out, size_t size, const char *dir, const char *name)
{
    int n = dir != NULL ? snprintf(out, size, "%s/%s", dir, name) : snprintf(out, size, "%s", name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "check_path_join: %s/%s does not fit in %zu bytes\n",
                dir != NULL ? dir : "", name, size);
        exit(2);
    }
}

bool check_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    check_path_join(path, sizeof path, dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        files_fail("check_write_file: open", path, errno);
        return false;
    }
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            files_fail("check_write_file: write", path, w < 0 ? errno : EIO);
            close(fd);
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0) {
        files_fail("check_write_file: close", path, errno);
        return false;
    }
    return true;
}

void *check_slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    check_path_join(path, sizeof path, dir, name);
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        files_fail("check_slurp: open", path, errno);
        return NULL;
    }
    /* Read to the end of file, not to a size taken before the read. */
    size_t cap = 4096, used = 0;
    unsigned char *buf = malloc(cap);
    int err = buf == NULL ? ENOMEM : 0;
    while (err == 0) {
        if (used + 1 == cap) {
            unsigned char *bigger = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (bigger == NULL) {
                err = ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR)
            err = errno;
        else if (n > 0)
            used += (size_t)n;
    }
    close(fd);
    if (err != 0) {
        files_fail("check_slurp: read", path, err);
        free(buf);
        return NULL;
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}
