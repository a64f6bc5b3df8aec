/* log.c - JSON log lines on stdout; see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_time(char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

size_t log_escape(char *buf, size_t size, const char *s)
{
    size_t n = 0;
    if (size == 0)
        return 0;
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        const char *piece = tmp;
        size_t len;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            len = 6;
        } else if (c >= 0x80) {
            /* Client bytes may not be UTF-8: escape every non-ASCII byte as its code point
             * in Latin-1, which keeps the line valid JSON. */
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            len = 6;
        } else {
            tmp[0] = (char)c;
            len = 1;
        }
        if (n + len >= size)
            break;
        memcpy(buf + n, piece, len);
        n += len;
    }
    buf[n] = '\0';
    return n;
}

static void log_write(const char *line, size_t len)
{
    pthread_mutex_lock(&log_lock);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(STDOUT_FILENO, line + off, len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
}

void log_access_line(const struct log_access *a)
{
    char when[40], path[1024], rid[160], remote[160], who[1400] = "";
    log_time(when, sizeof when);
    log_escape(path, sizeof path, a->path);
    log_escape(rid, sizeof rid, a->request_id);
    log_escape(remote, sizeof remote, a->remote);
    /* Who made it, when known: the token's name (never the token) and the client
     * certificate's subject. */
    size_t w = 0;
    if (a->token != NULL && a->token[0] != '\0') {
        w += (size_t)snprintf(who, sizeof who, ",\"token\":\"");
        w += log_escape(who + w, sizeof who - w, a->token);
        w += (size_t)snprintf(who + w, sizeof who - w, "\"");
    }
    if (a->client != NULL && a->client[0] != '\0' && w + 16 < sizeof who) {
        w += (size_t)snprintf(who + w, sizeof who - w, ",\"client\":\"");
        w += log_escape(who + w, sizeof who - w - 2, a->client);
        snprintf(who + w, sizeof who - w, "\"");
    }
    char line[4096];
    int n =
        snprintf(line, sizeof line,
                 "{\"time\":\"%s\",\"type\":\"access\",\"request_id\":\"%s\","
                 "\"method\":\"%s\",\"route\":\"%s\",\"path\":\"%s\",\"status\":%u,"
                 "\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f,"
                 "\"remote\":\"%s\",\"outcome\":\"%s\"%s}\n",
                 when, rid, a->method, a->route, path, a->status, (unsigned long long)a->bytes_in,
                 (unsigned long long)a->bytes_out, a->duration_ms, remote, a->outcome, who);
    if (n > 0)
        log_write(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void log_event(const char *level, const char *msg, const char *extra_json)
{
    char when[40], text[1024];
    log_time(when, sizeof when);
    log_escape(text, sizeof text, msg);
    char line[4096];
    int n = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"type\":\"event\",\"level\":\"%s\","
                     "\"msg\":\"%s\"%s%s}\n",
                     when, level, text, extra_json ? "," : "", extra_json ? extra_json : "");
    if (n > 0)
        log_write(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
