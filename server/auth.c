/* auth.c - named bearer tokens, their reload and their counters; see auth.h. */
#include "auth.h"

#include "alloc.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_DIGEST 32
/* Distinct names counted in /metrics over the process's life (reloads add names); past it
 * requests still count in the total without their own series. */
#define AUTH_COUNTERS_MAX (2 * AUTH_TOKENS_MAX)
/* Longest --token-file line accepted. */
#define AUTH_LINE_MAX 1024

struct auth_entry {
    char name[AUTH_NAME_MAX + 1];
    unsigned char digest[AUTH_DIGEST];
};

struct auth_set {
    size_t n;
    struct auth_entry entries[AUTH_TOKENS_MAX];
};

struct auth_counter {
    char name[AUTH_NAME_MAX + 1];
    uint64_t requests;
};

struct auth {
    char file[4096];
    char token[AUTH_TOKEN_MAX + 1]; /* --token, named "token" */
    pthread_rwlock_t lock;          /* guards set */
    struct auth_set *set;
    pthread_mutex_t count_lock; /* guards counters and the totals below */
    size_t n_counters;
    struct auth_counter counters[AUTH_COUNTERS_MAX];
    uint64_t client_cert_requests;
    uint64_t unnamed_requests; /* past AUTH_COUNTERS_MAX names */
    atomic_ulong reloads, reload_failures;
};

/* ---------------------------------------------------------------------------------------
 * Parsing
 * --------------------------------------------------------------------------------------- */

static bool auth_sha256(const void *data, size_t len, unsigned char out[AUTH_DIGEST])
{
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out) == 0;
}

static bool auth_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int auth_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Add name with the digest of (or the digest given as) value. */
static enum error_code auth_add(struct auth_set *set, const char *where, const char *name,
                                size_t name_len, const char *value, size_t value_len,
                                struct error_info *err)
{
    if (!auth_name_ok(name, name_len))
        return error_set(err, ERROR_INVALID, "%s: the name must be 1..%d of A-Z a-z 0-9 . _ -",
                         where, AUTH_NAME_MAX);
    if (set->n == AUTH_TOKENS_MAX)
        return error_set(err, ERROR_INVALID, "%s: more than %d tokens", where, AUTH_TOKENS_MAX);
    struct auth_entry *e = &set->entries[set->n];
    memcpy(e->name, name, name_len);
    e->name[name_len] = '\0';
    if (value_len >= 7 && strncmp(value, "sha256:", 7) == 0) {
        if (value_len != 7 + 2 * AUTH_DIGEST)
            return error_set(err, ERROR_INVALID, "%s: sha256: needs %d hex digits", where,
                             2 * AUTH_DIGEST);
        for (size_t i = 0; i < AUTH_DIGEST; i++) {
            int hi = auth_hex(value[7 + 2 * i]), lo = auth_hex(value[8 + 2 * i]);
            if (hi < 0 || lo < 0)
                return error_set(err, ERROR_INVALID, "%s: sha256: digest is not hex", where);
            e->digest[i] = (unsigned char)(hi << 4 | lo);
        }
    } else {
        if (value_len == 0 || value_len > AUTH_TOKEN_MAX)
            return error_set(err, ERROR_INVALID, "%s: a token is 1..%d bytes", where,
                             AUTH_TOKEN_MAX);
        if (!auth_sha256(value, value_len, e->digest))
            return error_set(err, ERROR_INTERNAL, "%s: SHA-256 failed", where);
    }
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->entries[i].name, e->name) == 0)
            return error_set(err, ERROR_INVALID, "%s: the name '%s' is used twice", where, e->name);
        if (memcmp(set->entries[i].digest, e->digest, AUTH_DIGEST) == 0)
            return error_set(err, ERROR_INVALID, "%s: '%s' has the same token as '%s'", where,
                             e->name, set->entries[i].name);
    }
    set->n++;
    return ERROR_OK;
}

static enum error_code auth_parse_line(struct auth_set *set, const char *where, char *line,
                                       struct error_info *err)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                       line[len - 1] == '\t'))
        line[--len] = '\0';
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return ERROR_OK;
    const char *name = p;
    size_t name_len = strcspn(p, " \t");
    p += name_len;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *value = p;
    size_t value_len = strcspn(p, " \t");
    if (value_len == 0 || value[value_len] != '\0')
        return error_set(err, ERROR_INVALID, "%s: expected 'NAME TOKEN' or 'NAME sha256:HEX'",
                         where);
    return auth_add(set, where, name, name_len, value, value_len, err);
}

/* A new set: --token (if any), then every line of --token-file (if any). */
static enum error_code auth_load(const struct auth *a, struct auth_set **out,
                                 struct error_info *err)
{
    *out = NULL;
    struct auth_set *set = alloc_zeroed(1, sizeof *set);
    if (set == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory loading tokens");
    enum error_code code = ERROR_OK;
    FILE *f = NULL;
    if (a->token[0] != '\0' &&
        (code = auth_add(set, "--token", "token", 5, a->token, strlen(a->token), err)) != ERROR_OK)
        goto out;
    if (a->file[0] == '\0')
        goto out;
    f = fopen(a->file, "re");
    if (f == NULL) {
        code = error_set_sys(err, ERROR_INVALID, errno, "--token-file '%s': %s", a->file,
                             strerror(errno));
        goto out;
    }
    char line[AUTH_LINE_MAX + 2];
    char where[4200];
    for (unsigned no = 1; fgets(line, sizeof line, f) != NULL; no++) {
        snprintf(where, sizeof where, "--token-file %s:%u", a->file, no);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            code = error_set(err, ERROR_INVALID, "%s: line longer than %d bytes", where,
                             AUTH_LINE_MAX);
            goto out;
        }
        if ((code = auth_parse_line(set, where, line, err)) != ERROR_OK)
            goto out;
    }
    if (ferror(f))
        code = error_set(err, ERROR_IO, "--token-file '%s': read error", a->file);
    else if (set->n == 0)
        code = error_set(err, ERROR_INVALID, "--token-file '%s' holds no token", a->file);
out:
    if (f != NULL)
        fclose(f);
    if (code != ERROR_OK) {
        gnutls_memset(set, 0, sizeof *set);
        free(set);
        return code;
    }
    *out = set;
    return ERROR_OK;
}

/* ---------------------------------------------------------------------------------------
 * Public
 * --------------------------------------------------------------------------------------- */

enum error_code auth_open(const struct config *cfg, struct auth **out, struct error_info *err)
{
    *out = NULL;
    struct auth *a = alloc_zeroed(1, sizeof *a);
    if (a == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory loading tokens");
    if (strlen(cfg->token) > AUTH_TOKEN_MAX || strlen(cfg->token_file) >= sizeof a->file) {
        free(a);
        return error_set(err, ERROR_INVALID, "--token or --token-file is too long");
    }
    snprintf(a->token, sizeof a->token, "%s", cfg->token);
    snprintf(a->file, sizeof a->file, "%s", cfg->token_file);
    enum error_code code = auth_load(a, &a->set, err);
    if (code != ERROR_OK) {
        free(a);
        return code;
    }
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->count_lock, NULL);
    *out = a;
    return ERROR_OK;
}

enum error_code auth_reload(struct auth *a, size_t *count, struct error_info *err)
{
    struct auth_set *set;
    enum error_code code = auth_load(a, &set, err);
    if (code != ERROR_OK) {
        atomic_fetch_add(&a->reload_failures, 1);
        pthread_rwlock_rdlock(&a->lock);
        *count = a->set->n;
        pthread_rwlock_unlock(&a->lock);
        return code;
    }
    pthread_rwlock_wrlock(&a->lock);
    struct auth_set *old = a->set;
    a->set = set;
    pthread_rwlock_unlock(&a->lock);
    gnutls_memset(old, 0, sizeof *old);
    free(old);
    atomic_fetch_add(&a->reloads, 1);
    *count = set->n;
    return ERROR_OK;
}

bool auth_enabled(struct auth *a)
{
    pthread_rwlock_rdlock(&a->lock);
    bool on = a->set->n > 0;
    pthread_rwlock_unlock(&a->lock);
    return on;
}

bool auth_check(struct auth *a, const char *authorization, char *name)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *given = authorization + 7;
    unsigned char digest[AUTH_DIGEST];
    if (!auth_sha256(given, strlen(given), digest))
        return false;
    bool found = false;
    pthread_rwlock_rdlock(&a->lock);
    size_t match = 0;
    for (size_t i = 0; i < a->set->n; i++) {
        unsigned char diff = 0;
        for (size_t j = 0; j < AUTH_DIGEST; j++)
            diff |= (unsigned char)(digest[j] ^ a->set->entries[i].digest[j]);
        /* all ones when diff == 0, else 0: no branch on the comparison */
        size_t hit = (size_t)0 - (size_t)(((unsigned)diff - 1u) >> 8 & 1u);
        match |= hit & (i + 1);
    }
    if (match != 0) {
        found = true;
        snprintf(name, AUTH_NAME_MAX + 1, "%s", a->set->entries[match - 1].name);
    }
    pthread_rwlock_unlock(&a->lock);
    return found;
}

void auth_count(struct auth *a, const char *name)
{
    pthread_mutex_lock(&a->count_lock);
    if (name == NULL || name[0] == '\0') {
        a->client_cert_requests++;
        goto out;
    }
    for (size_t i = 0; i < a->n_counters; i++)
        if (strcmp(a->counters[i].name, name) == 0) {
            a->counters[i].requests++;
            goto out;
        }
    if (a->n_counters == AUTH_COUNTERS_MAX) {
        a->unnamed_requests++;
        goto out;
    }
    struct auth_counter *c = &a->counters[a->n_counters++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->requests = 1;
out:
    pthread_mutex_unlock(&a->count_lock);
}

void auth_metrics_source(struct buf *out, void *arg)
{
    struct auth *a = arg;
    pthread_mutex_lock(&a->count_lock);
    buf_puts(out, "# HELP tessera_auth_requests_total Requests admitted, by the name of the "
                  "bearer token that made them (--token is \"token\").\n"
                  "# TYPE tessera_auth_requests_total counter\n");
    for (size_t i = 0; i < a->n_counters; i++)
        buf_printf(out, "tessera_auth_requests_total{token=\"%s\"} %llu\n", a->counters[i].name,
                   (unsigned long long)a->counters[i].requests);
    if (a->unnamed_requests > 0)
        buf_printf(out, "tessera_auth_requests_total{token=\"\"} %llu\n",
                   (unsigned long long)a->unnamed_requests);
    buf_printf(out,
               "# HELP tessera_auth_client_cert_requests_total Requests admitted by a verified "
               "client certificate without a token.\n"
               "# TYPE tessera_auth_client_cert_requests_total counter\n"
               "tessera_auth_client_cert_requests_total %llu\n",
               (unsigned long long)a->client_cert_requests);
    pthread_mutex_unlock(&a->count_lock);
    pthread_rwlock_rdlock(&a->lock);
    size_t n = a->set->n;
    pthread_rwlock_unlock(&a->lock);
    buf_printf(out,
               "# HELP tessera_auth_tokens Bearer tokens accepted now.\n"
               "# TYPE tessera_auth_tokens gauge\n"
               "tessera_auth_tokens %zu\n"
               "# HELP tessera_token_reloads_total --token-file reloads (SIGHUP), by outcome.\n"
               "# TYPE tessera_token_reloads_total counter\n"
               "tessera_token_reloads_total{outcome=\"ok\"} %lu\n"
               "tessera_token_reloads_total{outcome=\"failed\"} %lu\n",
               n, atomic_load(&a->reloads), atomic_load(&a->reload_failures));
}

void auth_close(struct auth *a)
{
    if (a == NULL)
        return;
    gnutls_memset(a->set, 0, sizeof *a->set);
    free(a->set);
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->count_lock);
    free(a);
}
