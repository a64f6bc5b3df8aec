/*
 * auth.h - the bearer tokens: --token (named "token") and --token-file, one named token per
 * line, re-read on SIGHUP; which token made a request, for the access log and /metrics.
 *
 * --token-file format, one entry a line; blank lines and lines whose first non-blank
 * character is '#' are skipped:
 *     NAME TOKEN            the token itself
 *     NAME sha256:HEX       the SHA-256 of the token, 64 hex digits
 * NAME is 1..AUTH_NAME_MAX of [A-Za-z0-9._-] and names one caller; names and tokens are
 * unique in the file. A token is 1..AUTH_TOKEN_MAX bytes without blanks (a token that
 * begins with "sha256:" must be given as its digest).
 *
 * Only SHA-256 digests are kept. A presented token is hashed and compared with every entry
 * in constant time (no early exit), so the time taken does not tell how much of a token
 * was right, nor which entry matched.
 *
 * A reload (auth_reload) reads the file into a new set and swaps it in under a write lock;
 * a file that fails to parse leaves the old set in use and the reason in err. Checks run on
 * connection threads under the read lock.
 */
#ifndef TESSERA_SERVER_AUTH_H
#define TESSERA_SERVER_AUTH_H

#include "buf.h"
#include "config.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>

#define AUTH_NAME_MAX   64
#define AUTH_TOKEN_MAX  255
#define AUTH_TOKENS_MAX 1024

struct auth;

/* Load --token and --token-file (either may be empty; then no token is needed).
 * ERROR_INVALID with file:line and the reason. Not thread-safe. */
enum error_code auth_open(const struct config *cfg, struct auth **out,
                          struct error_info *err) ERROR_MUST_CHECK;

/* Re-read --token-file (no-op without one). On error the old tokens stay. *count gets the
 * number of tokens now accepted. Thread-safe. */
enum error_code auth_reload(struct auth *a, size_t *count, struct error_info *err) ERROR_MUST_CHECK;

/* Does any token exist (so the API routes need one)? Thread-safe; a is never NULL here. */
bool auth_enabled(struct auth *a);

/* Check an Authorization header value ("Bearer <token>", scheme case-insensitive; may be
 * NULL). On a match the token's name is copied into name (AUTH_NAME_MAX + 1 bytes).
 * Thread-safe. */
bool auth_check(struct auth *a, const char *authorization, char *name);

/* Count one admitted request made with the token called name (tessera_auth_requests_total).
 * Thread-safe. */
void auth_count(struct auth *a, const char *name);

/* metrics source (arg: the struct auth): requests per token name, tokens loaded, reloads. */
void auth_metrics_source(struct buf *out, void *auth);

void auth_close(struct auth *a);

#endif
