/*
 * files.h - the file helpers the C tests share: join a directory and a name, write a whole
 * file, read a whole file back. Nothing fails quietly: a path that does not fit ends the
 * test, and a file that cannot be written or read is a counted CHECK failure naming the
 * path and errno. Like CHECK, for one thread at a time (the counters are plain).
 */
#ifndef TESSERA_TESTS_FILES_H
#define TESSERA_TESTS_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* "dir/name" into out (size bytes); dir NULL: name alone. A path that does not fit is a bug
 * in the test: it is printed and the process exits 2 (never a truncated path). */
void check_path_join(char *out, size_t size, const char *dir, const char *name);

/* Create or truncate dir/name (dir NULL: name is the path; mode 0644) holding exactly the
 * len bytes of data: short writes are continued, the close is checked. Returns whether it
 * all worked; a failure counts as a CHECK failure. */
bool check_write_file(const char *dir, const char *name, const void *data, size_t len);

/* The whole of dir/name (dir NULL: name is the path) in a malloc'd buffer the caller frees,
 * with a NUL after the last byte (not counted in *len). NULL, counted as a CHECK failure,
 * when it cannot be opened, read or allocated; *len is 0 then. */
void *check_slurp(const char *dir, const char *name, size_t *len);

#endif
