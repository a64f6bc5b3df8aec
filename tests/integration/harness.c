/* harness.c - see harness.h. */
#include "harness.h"
#include "check.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *itest_reader(void *arg)
{
    struct itest_server *s = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(s->out_fd, buf, sizeof buf);
        if (n <= 0)
            break;
        pthread_mutex_lock(&s->lock);
        if (s->log_len + (size_t)n + 1 > s->log_cap) {
            size_t cap = s->log_cap ? s->log_cap * 2 : 65536;
            while (cap < s->log_len + (size_t)n + 1)
                cap *= 2;
            char *grown = realloc(s->log, cap);
            if (grown == NULL) {
                pthread_mutex_unlock(&s->lock);
                break;
            }
            s->log = grown;
            s->log_cap = cap;
        }
        memcpy(s->log + s->log_len, buf, (size_t)n);
        s->log_len += (size_t)n;
        s->log[s->log_len] = '\0';
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

char *itest_log(struct itest_server *s)
{
    pthread_mutex_lock(&s->lock);
    char *copy = malloc(s->log_len + 1);
    if (copy != NULL) {
        if (s->log_len)
            memcpy(copy, s->log, s->log_len);
        copy[s->log_len] = '\0';
    }
    pthread_mutex_unlock(&s->lock);
    return copy;
}

void itest_check_log(struct itest_server *s)
{
    char *log = itest_log(s);
    if (!CHECK(log != NULL))
        return;
    for (const char *line = log; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 0) {
            json_t *o = json_loadb(line, len, 0, NULL);
            if (!CHECK(json_is_object(o)))
                fprintf(stderr, "    the server printed: %.*s\n", (int)len, line);
            json_decref(o);
        }
        line += len + (end ? 1 : 0);
    }
    free(log);
}

int itest_slowdown(void)
{
    const char *wrap = getenv("TESSERA_ITEST_WRAPPER");
    return wrap != NULL && *wrap != '\0' ? 20 : 1;
}

bool itest_start(struct itest_server *s, const char *root, const char *const extra[])
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    /* TESSERA_ITEST_WRAPPER (e.g. "valgrind --leak-check=full --error-exitcode=99") runs
     * the server under a tool: its words go first, and every wait is longer. */
    static char wrapper[512];
    const char *argv[96];
    size_t argc = 0;
    const char *wrap = getenv("TESSERA_ITEST_WRAPPER");
    if (wrap != NULL && *wrap != '\0') {
        snprintf(wrapper, sizeof wrapper, "%s", wrap);
        for (char *save = NULL, *w = strtok_r(wrapper, " ", &save); w != NULL && argc < 24;
             w = strtok_r(NULL, " ", &save))
            argv[argc++] = w;
    }
    const char *const base[] = {TESSERA_BIN, "--root", root, "--port", "0"};
    for (size_t i = 0; i < 5; i++)
        argv[argc++] = base[i];
    for (size_t i = 0; extra != NULL && extra[i] != NULL && argc < 94; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;
    s->out_fd = fds[0];
    pthread_create(&s->reader, NULL, itest_reader, s);
    s->reader_running = true;
    for (int i = 0; i < 1000 * itest_slowdown(); i++) {
        char *log = itest_log(s);
        const char *p = log ? strstr(log, "\"msg\":\"listening\"") : NULL;
        const char *port = p ? strstr(p, "\"port\":") : NULL;
        if (port != NULL)
            s->port = (unsigned)strtoul(port + 7, NULL, 10);
        bool exited = waitpid(pid, NULL, WNOHANG) == pid;
        if (exited || s->port)
            fprintf(stderr, "%s", s->port ? "" : (log ? log : ""));
        free(log);
        if (s->port)
            return true;
        if (exited) {
            s->pid = 0;
            return false;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

int itest_stop(struct itest_server *s, int sig, int timeout_s)
{
    int status = -1;
    if (s->pid > 0) {
        kill(s->pid, sig ? sig : SIGTERM);
        for (int i = 0; i < timeout_s * 100 * itest_slowdown(); i++) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                break;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (status == -1) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        s->pid = 0;
    }
    if (s->reader_running) {
        pthread_join(s->reader, NULL);
        s->reader_running = false;
        close(s->out_fd);
    }
    return status;
}

void itest_free(struct itest_server *s)
{
    free(s->log);
    s->log = NULL;
    s->log_len = s->log_cap = 0;
    pthread_mutex_destroy(&s->lock);
}

/* ---------------------------------------------------------------------------------------
 * Contract log
 *
 * When TESSERA_CONTRACT_LOG names a file, every answer a test receives is appended to it as
 * one JSON line, for tests/contract/validate.mjs to check against openapi/openapi.yaml. One
 * write(2) per line on an O_APPEND descriptor, so concurrent requests do not interleave.
 * --------------------------------------------------------------------------------------- */

static char *itest_base64(const unsigned char *in, size_t len)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = digits[(v >> 18) & 63];
        out[o++] = digits[(v >> 12) & 63];
        out[o++] = i + 1 < len ? digits[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? digits[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* Append line (reference stolen) to the contract log, if one is set: kind "curl" with
 * method_b64, target_b64, status, headers_b64, body_b64, or kind "raw" with request_b64 and
 * answer_b64. Bytes are base64 so any body survives JSON. */
static void itest_contract_log(json_t *line)
{
    const char *path = getenv("TESSERA_CONTRACT_LOG");
    if (path == NULL || path[0] == '\0') {
        json_decref(line);
        return;
    }
    /* A line that cannot be built is logged as such: the validator fails on it. */
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text == NULL) {
        static const char lost[] = "{\"kind\":\"lost\"}";
        text = malloc(sizeof lost);
        if (text == NULL)
            return;
        memcpy(text, lost, sizeof lost);
    }
    if (text == NULL)
        return;
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the terminating NUL; written with an explicit length */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, text, n + 1) != (ssize_t)(n + 1))
            fprintf(stderr, "    contract log: short write to %s\n", path);
        close(fd);
    }
    free(text);
}

static json_t *itest_b64_string(const void *data, size_t len)
{
    char *b64 = itest_base64(data, len);
    json_t *s = b64 ? json_string(b64) : NULL;
    free(b64);
    return s;
}

static void itest_log_reply(const char *method, const char *target, const struct itest_reply *r)
{
    if (getenv("TESSERA_CONTRACT_LOG") == NULL)
        return;
    itest_contract_log(json_pack("{s:s, s:o, s:o, s:I, s:o, s:o}", "kind", "curl", "method_b64",
                                 itest_b64_string(method, strlen(method)), "target_b64",
                                 itest_b64_string(target, strlen(target)), "status",
                                 (json_int_t)r->status, "headers_b64",
                                 itest_b64_string(r->headers, strlen(r->headers)), "body_b64",
                                 itest_b64_string(r->body, r->len)));
}

static void itest_log_raw(const char *bytes, size_t len, const char *answer, size_t got)
{
    if (getenv("TESSERA_CONTRACT_LOG") == NULL)
        return;
    /* The request line and headers are enough to know what was asked. */
    const char *end = memmem(bytes, len, "\r\n\r\n", 4);
    size_t head = end ? (size_t)(end - bytes) + 4 : (len < 4096 ? len : 4096);
    itest_contract_log(json_pack("{s:s, s:o, s:o}", "kind", "raw", "request_b64",
                                 itest_b64_string(bytes, head), "answer_b64",
                                 itest_b64_string(answer, got)));
}

/* ---------------------------------------------------------------------------------------
 * libcurl requests
 * --------------------------------------------------------------------------------------- */

struct itest_buf {
    char *data;
    size_t len;
};

static size_t itest_collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct itest_buf *b = arg;
    size_t n = size * nmemb;
    char *grown = realloc(b->data, b->len + n + 1);
    if (grown == NULL)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

bool itest_request(const struct itest_server *s, const char *method, const char *target,
                   const char *const headers[], const void *body, size_t len, struct itest_reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return false;
    char url[8192];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", s->port, target);
    struct itest_buf out = {0}, hdr = {0};
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, itest_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, itest_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    r->body = out.data ? out.data : calloc(1, 1);
    r->len = out.len;
    r->headers = hdr.data ? hdr.data : calloc(1, 1);
    if (r->len > 0)
        r->json = json_loadb(r->body, r->len, 0, NULL);
    if (rc != CURLE_OK)
        fprintf(stderr, "    curl %s %s: %s\n", method, target, curl_easy_strerror(rc));
    else
        itest_log_reply(method, target, r);
    return rc == CURLE_OK;
}

void itest_reply_cleanup(struct itest_reply *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

bool itest_header(const struct itest_reply *r, const char *name, char *buf, size_t size)
{
    size_t nlen = strlen(name);
    const char *p = r->headers;
    while (p != NULL && *p != '\0') {
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn(v, "\r\n");
            if (vlen >= size)
                vlen = size - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return true;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return false;
}

bool itest_is_problem(const struct itest_reply *r, long status)
{
    char ct[128] = "", rid[128] = "";
    bool ok = CHECK_INT(r->status, status);
    ok &= CHECK(itest_header(r, "Content-Type", ct, sizeof ct));
    ok &= CHECK_STR(ct, "application/problem+json");
    ok &= CHECK(r->json != NULL && json_is_object(r->json));
    if (r->json == NULL)
        return false;
    ok &= CHECK(json_is_string(json_object_get(r->json, "type")));
    ok &= CHECK(json_is_string(json_object_get(r->json, "title")));
    ok &= CHECK(json_is_string(json_object_get(r->json, "detail")));
    ok &= CHECK_INT(json_integer_value(json_object_get(r->json, "status")), status);
    ok &= CHECK(itest_header(r, "X-Request-Id", rid, sizeof rid));
    ok &= CHECK_STR(json_string_value(json_object_get(r->json, "request_id")), rid);
    if (!ok)
        fprintf(stderr, "    body: %.300s\n", r->body);
    return ok;
}

/* ---------------------------------------------------------------------------------------
 * Raw bytes, for framing libcurl will not produce
 * --------------------------------------------------------------------------------------- */

long itest_raw(const struct itest_server *s, const char *bytes, size_t len, char *out, size_t size,
               int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, bytes + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    size_t got = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long elapsed = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms || got + 1 >= size)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(timeout_ms - elapsed)) <= 0)
            break;
        ssize_t n = recv(fd, out + got, size - got - 1, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    itest_log_raw(bytes, len, out, got);
    return (long)got;
}

int itest_raw_status(const char *answer)
{
    if (strncmp(answer, "HTTP/1.", 7) != 0 || strlen(answer) < 12)
        return 0;
    return atoi(answer + 9);
}
