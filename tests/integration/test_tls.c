/*
 * test_tls.c - HTTPS, client certificates and named tokens against the real binary.
 *
 * Every certificate is made here with openssl: a private CA, two server certificates
 * (serials 0x1001 and 0x1002, for the reload), a client certificate of the CA, a
 * self-signed one, one of another CA, an expired server certificate and a key that matches
 * none; test_expiry adds one that expires a few seconds after it is made. The client is libcurl
 * with CURLOPT_CAINFO set to the private CA.
 */
#include "check.h"
#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char dir[512];

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* ---------------------------------------------------------------------------------------
 * Material
 * --------------------------------------------------------------------------------------- */

static bool make_material(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; exec 2>openssl.log\n"
             "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1; }\n"
             "ca() { key $1.key; openssl req -x509 -new -key $1.key -out $1.pem -days 2 "
             "-subj \"/CN=$2\"; }\n"
             "leaf() { key $1.key; openssl req -new -key $1.key -out $1.csr -subj \"$2\"; "
             "openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -set_serial $4 -days $5 "
             "-extfile san.ext -out $1.pem; }\n"
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext\n"
             "ca ca 'Tessera Test CA'; ca other 'Other CA'\n"
             "leaf srv1 /CN=localhost ca 0x1001 1\n"
             "leaf srv2 /CN=localhost ca 0x1002 1\n"
             "leaf expired /CN=localhost ca 0x1003 -1\n"
             "leaf cli '/O=Lab/CN=pipeline-a' ca 0x2001 1\n"
             "leaf alien '/CN=pipeline-b' other 0x2002 1\n"
             "key self.key; openssl req -x509 -new -key self.key -out self.pem -days 1 "
             "-subj /CN=pipeline-c\n"
             "key stray.key\n"
             "cp srv1.pem live.pem; cp srv1.key live.key\n",
             dir);
    return system(cmd) == 0;
}

static bool write_text(const char *name, const char *text)
{
    char p[600], tmp[620];
    path_of(p, sizeof p, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return false;
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, p) == 0;
}

static bool copy_file(const char *from, const char *to)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cd '%s' && cp %s %s.tmp && mv %s.tmp %s", dir, from, to, to, to);
    return system(cmd) == 0;
}

/* ---------------------------------------------------------------------------------------
 * Client
 * --------------------------------------------------------------------------------------- */

struct client {
    const char *ca;   /* file name in dir; NULL = the system store */
    const char *cert; /* client certificate and key (file names), or NULL */
    const char *key;
    const char *token; /* Bearer token, or NULL */
    bool tls11;        /* only TLS 1.0/1.1 on offer */
};

struct answer {
    CURLcode code;
    long status;
    char body[65536];
    size_t len;
    char serial[64]; /* the server certificate's serial, lower-case hex without ':' */
    char headers[8192];
    size_t headers_len;
    long new_connections;
    char error[CURL_ERROR_SIZE]; /* libcurl's reason when code is not CURLE_OK */
};

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t len = size * n;
    size_t room = sizeof a->body - 1 - a->len;
    size_t take = len < room ? len : room;
    memcpy(a->body + a->len, data, take);
    a->len += take;
    a->body[a->len] = '\0';
    return len;
}

static size_t collect_headers(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t len = size * n;
    size_t room = sizeof a->headers - 1 - a->headers_len;
    size_t take = len < room ? len : room;
    memcpy(a->headers + a->headers_len, data, take);
    a->headers_len += take;
    a->headers[a->headers_len] = '\0';
    return len;
}

static void set_client(CURL *c, const struct client *cl, struct curl_slist **hdrs)
{
    char p[600];
    if (cl->ca != NULL) {
        path_of(p, sizeof p, cl->ca);
        curl_easy_setopt(c, CURLOPT_CAINFO, p);
    }
    if (cl->cert != NULL) {
        path_of(p, sizeof p, cl->cert);
        curl_easy_setopt(c, CURLOPT_SSLCERT, p);
        path_of(p, sizeof p, cl->key);
        curl_easy_setopt(c, CURLOPT_SSLKEY, p);
    }
    if (cl->tls11) {
        curl_easy_setopt(c, CURLOPT_SSLVERSION,
                         (long)(CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1));
        curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
    }
    if (cl->token != NULL) {
        char h[300];
        snprintf(h, sizeof h, "Authorization: Bearer %s", cl->token);
        *hdrs = curl_slist_append(*hdrs, h);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L * itest_slowdown());
}

static void read_serial(CURL *c, struct answer *a)
{
    struct curl_certinfo *ci = NULL;
    a->serial[0] = '\0';
    if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
        ci->num_of_certs < 1)
        return;
    for (struct curl_slist *s = ci->certinfo[0]; s != NULL; s = s->next)
        if (strncmp(s->data, "Serial Number:", 14) == 0) {
            size_t n = 0;
            for (const char *q = s->data + 14; *q && n + 1 < sizeof a->serial; q++)
                if (isxdigit((unsigned char)*q))
                    a->serial[n++] = (char)tolower((unsigned char)*q);
            a->serial[n] = '\0';
        }
}

/* One request on handle c (a kept-alive connection is reused when there is one). */
static void request_on(CURL *c, unsigned port, const char *path, const struct client *cl,
                       struct answer *a)
{
    memset(a, 0, sizeof *a);
    char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%u%s", port, path);
    struct curl_slist *hdrs = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_headers);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    set_client(c, cl, &hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->error);
    a->code = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (a->code == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &a->new_connections);
        read_serial(c, a);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
}

static void request(unsigned port, const char *path, const struct client *cl, struct answer *a)
{
    CURL *c = curl_easy_init();
    request_on(c, port, path, cl, a);
    curl_easy_cleanup(c);
}

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof in;
    unsigned port = 0;
    if (bind(fd, (struct sockaddr *)&in, sizeof in) == 0 &&
        getsockname(fd, (struct sockaddr *)&in, &len) == 0)
        port = ntohs(in.sin_port);
    close(fd);
    return port;
}

/* How many times the log holds needle. */
static int log_count(struct itest_server *s, const char *needle)
{
    char *log = itest_log(s);
    int seen = 0;
    for (const char *p = log; p != NULL && (p = strstr(p, needle)) != NULL; p++)
        seen++;
    free(log);
    return seen;
}

/* Wait until the log holds needle n times or more (the reload lines). */
static bool wait_log(struct itest_server *s, const char *needle, int n)
{
    for (int i = 0; i < 500 * itest_slowdown(); i++) {
        if (log_count(s, needle) >= n)
            return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static bool log_has(struct itest_server *s, const char *needle)
{
    char *log = itest_log(s);
    bool has = log != NULL && strstr(log, needle) != NULL;
    free(log);
    return has;
}

/* ---------------------------------------------------------------------------------------
 * Start-up refusals
 * --------------------------------------------------------------------------------------- */

static void expect_refused(const char *cert, const char *key, const char *extra_flag,
                           const char *extra_value, const char *why)
{
    char c[600], k[600];
    path_of(c, sizeof c, cert);
    path_of(k, sizeof k, key);
    const char *args[] = {"--tls-cert", c, "--tls-key", k, extra_flag, extra_value, NULL};
    struct itest_server s;
    bool started = itest_start(&s, dir, args);
    if (!CHECK(!started))
        fprintf(stderr, "    started with %s / %s\n", cert, key);
    itest_stop(&s, SIGTERM, 10);
    if (!CHECK(log_has(&s, why)))
        fprintf(stderr, "    wanted '%s' in the start-up error\n", why);
    itest_free(&s);
}

static void test_startup_errors(void)
{
    expect_refused("srv1.pem", "stray.key", NULL, NULL, "does not match --tls-cert");
    expect_refused("expired.pem", "expired.key", NULL, NULL, "expired");
    expect_refused("missing.pem", "srv1.key", NULL, NULL, "cannot be read");
    expect_refused("srv1.pem", "srv1.key", "--tls-priorities", "NORMAL:+NO-SUCH-THING",
                   "--tls-priorities");
    expect_refused("srv1.pem", "srv1.key", "--tls-client-ca", "/nonexistent/ca.pem",
                   "--tls-client-ca");
}

/* ---------------------------------------------------------------------------------------
 * HTTPS, tokens, reload
 * --------------------------------------------------------------------------------------- */

struct slow_post {
    unsigned port;
    const char *body;
    size_t len, sent;
    struct answer a;
};

/* Sends the body 16 bytes at a time, 100 ms apart (times itest_slowdown). */
static size_t slow_read(char *buf, size_t size, size_t n, void *arg)
{
    struct slow_post *p = arg;
    int64_t ns = 100 * 1000 * 1000 * (int64_t)itest_slowdown();
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
    size_t take = p->len - p->sent < 16 ? p->len - p->sent : 16;
    if (take > size * n)
        take = size * n;
    memcpy(buf, p->body + p->sent, take);
    p->sent += take;
    return take;
}

static void *slow_post_run(void *arg)
{
    struct slow_post *p = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    struct client cl = {.ca = "ca.pem", .token = "secret-beta"};
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/topk", p->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    set_client(c, &cl, &hdrs);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, slow_read);
    curl_easy_setopt(c, CURLOPT_READDATA, p);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &p->a);
    p->a.code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &p->a.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return NULL;
}

static void test_https_tokens_reload(void)
{
    /* beta is given as its digest, computed here, not typed. */
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf '# callers of this server\\n\\nalpha secret-alpha\\n"
             "  beta sha256:%%s\\n' $(printf %%s secret-beta | sha256sum | cut -c1-64) > tokens",
             dir);
    if (!CHECK(system(cmd) == 0))
        return;
    char cert[600], key[600], tokens[600], admin[16];
    path_of(cert, sizeof cert, "live.pem");
    path_of(key, sizeof key, "live.key");
    path_of(tokens, sizeof tokens, "tokens");
    unsigned admin_port = free_port();
    snprintf(admin, sizeof admin, "%u", admin_port);
    const char *args[] = {"--tls-cert", cert,           "--tls-key", key, "--token-file",
                          tokens,       "--admin-port", admin,       NULL};
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, args)))
        return;
    struct answer a;

    /* HTTPS with the private CA; refused without it. */
    request(s.port, "/healthz", &(struct client){.ca = "ca.pem"}, &a);
    CHECK_INT(a.code, CURLE_OK);
    CHECK_INT(a.status, 200);
    CHECK_STR(a.serial, "1001");
    request(s.port, "/healthz", &(struct client){.ca = "other.pem"}, &a);
    CHECK_INT(a.code, CURLE_PEER_FAILED_VERIFICATION);

    /* Plain HTTP to the TLS port: no HTTP answer, the connection is closed. */
    const char plain[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char raw[4096];
    long n = itest_raw(&(struct itest_server){.port = s.port}, plain, sizeof plain - 1, raw,
                       sizeof raw, 3000 * itest_slowdown());
    CHECK(n >= 0);
    CHECK_INT(itest_raw_status(raw), 0);
    CHECK(strstr(raw, "HTTP/1.") == NULL);

    /* TLS 1.0 / 1.1 refused by the default priorities. */
    request(s.port, "/healthz", &(struct client){.ca = "ca.pem", .tls11 = true}, &a);
    CHECK(a.code != CURLE_OK);

    /* The admin port stays plain HTTP. */
    n = itest_raw(&(struct itest_server){.port = admin_port}, plain, sizeof plain - 1, raw,
                  sizeof raw, 3000 * itest_slowdown());
    CHECK_INT(itest_raw_status(raw), 200);

    /* `tessera healthcheck` with the same options probes the plain admin port. */
    char hc[2400];
    snprintf(hc, sizeof hc,
             "'%s' healthcheck --port %u --tls-cert '%s' --tls-key '%s' --admin-port %u",
             TESSERA_BIN, s.port, cert, key, admin_port);
    CHECK_INT(system(hc), 0);
    snprintf(hc, sizeof hc, "'%s' healthcheck --port %u --tls-cert '%s' --tls-key '%s' 2>/dev/null",
             TESSERA_BIN, s.port, cert, key);
    CHECK(system(hc) != 0);

    /* Named tokens: right, wrong, absent; the name (never the token) in log and metrics. */
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem", .token = "secret-alpha"}, &a);
    CHECK_INT(a.status, 200);
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem", .token = "secret-beta"}, &a);
    CHECK_INT(a.status, 200);
    CHECK(strstr(a.body, "tessera_auth_requests_total{token=\"alpha\"} 1\n") != NULL);
    CHECK(strstr(a.body, "tessera_auth_requests_total{token=\"beta\"} 1\n") != NULL);
    CHECK(strstr(a.body, "tessera_auth_tokens 2\n") != NULL);
    CHECK(strstr(a.body, "secret-") == NULL);
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem", .token = "secret-gamma"}, &a);
    CHECK_INT(a.status, 401);
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem"}, &a);
    CHECK_INT(a.status, 401);
    CHECK(wait_log(&s, "\"route\":\"/metrics\"", 1));
    CHECK(wait_log(&s, "\"token\":\"alpha\"", 1));
    CHECK(wait_log(&s, "\"token\":\"beta\"", 1));
    CHECK(!log_has(&s, "secret-alpha"));

    /* The page over HTTPS: /ui (public) and / (with the token). */
    request(s.port, "/ui", &(struct client){.ca = "ca.pem"}, &a);
    CHECK_INT(a.status, 200);
    CHECK(strstr(a.body, "<html") != NULL);
    request(s.port, "/", &(struct client){.ca = "ca.pem", .token = "secret-alpha"}, &a);
    CHECK_INT(a.status, 200);
    CHECK(strstr(a.body, "<html") != NULL);

    /* SIGHUP while a kept-alive connection is open and a slow request is in flight: new
     * certificate and new tokens for new handshakes and requests; the old ones go on. */
    CURL *kept = curl_easy_init();
    struct client beta_cl = {.ca = "ca.pem", .token = "secret-beta"};
    request_on(kept, s.port, "/healthz", &beta_cl, &a);
    CHECK_INT(a.status, 200);
    static const char body[] = "{\"values\": [3, 1, 2], \"k\": 1                            "
                               "                                                         }";
    struct slow_post post = {.port = s.port, .body = body, .len = sizeof body - 1};
    pthread_t t;
    pthread_create(&t, NULL, slow_post_run, &post);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CHECK(copy_file("srv2.pem", "live.pem") && copy_file("srv2.key", "live.key"));
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf 'gamma secret-gamma\\nbeta sha256:%%s\\n' "
             "$(printf %%s secret-beta | sha256sum | cut -c1-64) > tokens.tmp && "
             "mv tokens.tmp tokens",
             dir);
    CHECK(system(cmd) == 0);
    kill(s.pid, SIGHUP);
    CHECK(wait_log(&s, "\"what\":\"certificate\",\"serial\":\"1002\"", 1));
    CHECK(wait_log(&s, "\"what\":\"tokens\",\"tokens\":2", 1));
    CHECK(post.sent < post.len); /* the upload was still going on at the reload */
    pthread_join(t, NULL);
    CHECK_INT(post.a.code, CURLE_OK);
    CHECK_INT(post.a.status, 200);
    if (!CHECK(strstr(post.a.body, "\"indices\":[1]") != NULL))
        fprintf(stderr, "    /topk answered %s\n", post.a.body);

    request_on(kept, s.port, "/healthz", &beta_cl, &a);
    CHECK_INT(a.status, 200);
    CHECK_INT(a.new_connections, 0); /* the connection made before the reload */
    curl_easy_cleanup(kept);
    request(s.port, "/healthz", &(struct client){.ca = "ca.pem"}, &a);
    CHECK_STR(a.serial, "1002");
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem", .token = "secret-alpha"}, &a);
    CHECK_INT(a.status, 401); /* removed from the file */
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem", .token = "secret-gamma"}, &a);
    CHECK_INT(a.status, 200);

    /* A bad file or a bad key on reload: logged, the old ones stay. */
    CHECK(write_text("tokens", "gamma\n"));
    CHECK(copy_file("stray.key", "live.key"));
    kill(s.pid, SIGHUP);
    CHECK(wait_log(&s, "reload failed; the old tokens stay in use", 1));
    CHECK(wait_log(&s, "reload failed; the old certificate stays in use", 1));
    CHECK(wait_log(&s, "tokens:1: expected 'NAME TOKEN'", 1));
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem", .token = "secret-gamma"}, &a);
    CHECK_INT(a.status, 200);
    CHECK(strstr(a.body, "tessera_token_reloads_total{outcome=\"failed\"} 1\n") != NULL);
    CHECK_STR(a.serial, "1002");

    CHECK_INT(itest_stop(&s, SIGTERM, 20), 0);
    itest_check_log(&s);
    itest_free(&s);
    CHECK(copy_file("srv1.key", "live.key") && copy_file("srv1.pem", "live.pem"));
}

/* Priorities that allow TLS 1.1 let the same client in: its refusal above is the server's. */
static void test_priorities_option(void)
{
    char cert[600], key[600];
    path_of(cert, sizeof cert, "srv1.pem");
    path_of(key, sizeof key, "srv1.key");
    const char *args[] = {"--tls-cert",
                          cert,
                          "--tls-key",
                          key,
                          "--tls-priorities",
                          "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0",
                          NULL};
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, args)))
        return;
    struct answer a;
    request(s.port, "/healthz", &(struct client){.ca = "ca.pem", .tls11 = true}, &a);
    CHECK_INT(a.code, CURLE_OK);
    CHECK_INT(a.status, 200);
    CHECK_INT(itest_stop(&s, SIGTERM, 20), 0);
    itest_free(&s);
}

/* ---------------------------------------------------------------------------------------
 * Slow handshakes
 * --------------------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A client that starts a TLS handshake and never finishes it: a ClientHello record header
 * announcing 512 bytes, then one byte every 200 ms. Returns the seconds until the server
 * closed the connection, or -1 when it is still open after limit_s. */
static double slow_handshake(unsigned port, double limit_s)
{
    static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    double t0 = now_s(), closed = -1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&in, sizeof in) != 0 ||
        send(fd, hello, 5, MSG_NOSIGNAL) != 5)
        goto out;
    size_t sent = 5;
    static const unsigned char zero = 0;
    while (now_s() - t0 < limit_s) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) > 0) {
            char buf[256];
            if (recv(fd, buf, sizeof buf, 0) <= 0) {
                closed = now_s() - t0;
                break;
            }
            continue; /* an alert: the close follows */
        }
        const void *next = sent < sizeof hello ? (const void *)&hello[sent] : (const void *)&zero;
        if (send(fd, next, 1, MSG_NOSIGNAL) == 1)
            sent++;
    }
out:
    if (fd >= 0)
        close(fd);
    return closed;
}

/* A handshake that trickles in a byte at a time holds its connection no longer than
 * --header-timeout: the bound for a slowloris over TLS. */
static void test_slow_handshake(void)
{
    char cert[600], key[600];
    path_of(cert, sizeof cert, "srv1.pem");
    path_of(key, sizeof key, "srv1.key");
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--header-timeout", "1", NULL};
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, args)))
        return;
    double held = slow_handshake(s.port, 5.0 * itest_slowdown());
    if (!CHECK(held >= 0.5 && held <= 3.0 * itest_slowdown()))
        fprintf(stderr, "    a trickling handshake was held %.2f s (-1: not closed)\n", held);
    struct answer a;
    request(s.port, "/healthz", &(struct client){.ca = "ca.pem"}, &a);
    CHECK_INT(a.status, 200);
    CHECK_INT(itest_stop(&s, SIGTERM, 20), 0);
    itest_free(&s);
}

/* ---------------------------------------------------------------------------------------
 * A server certificate that expires while the server runs
 * --------------------------------------------------------------------------------------- */

/* Seconds the short-lived certificate is valid for after it is made (times itest_slowdown):
 * enough to start the server and make one request, short enough to wait out. */
#define SHORT_VALID_S 4

/* short.pem (serial 0x1004): signed by the CA with openssl ca, valid from a minute ago to
 * valid_s seconds from now. Returns its end of validity (Unix seconds), or 0. */
static long long make_short_lived(int valid_s)
{
    long long end = (long long)time(NULL) + valid_s;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; exec 2>>openssl.log\n"
             "rm -rf cadb; mkdir cadb; : > cadb/index.txt; echo 1004 > cadb/serial\n"
             "printf '[ca]\\ndefault_ca = d\\n[d]\\ndatabase = cadb/index.txt\\n"
             "new_certs_dir = cadb\\nserial = cadb/serial\\ndefault_md = sha256\\n"
             "policy = p\\nunique_subject = no\\n[p]\\ncommonName = supplied\\n' > ca.cnf\n"
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out short.key\n"
             "openssl req -new -key short.key -out short.csr -subj /CN=localhost\n"
             "openssl ca -batch -notext -config ca.cnf -cert ca.pem -keyfile ca.key "
             "-in short.csr -out short.pem -extfile san.ext "
             "-startdate $(date -u -d @%lld +%%Y%%m%%d%%H%%M%%SZ) "
             "-enddate $(date -u -d @%lld +%%Y%%m%%d%%H%%M%%SZ)\n",
             dir, end - valid_s - 60, end);
    return system(cmd) == 0 ? end : 0;
}

/* The "an expired server certificate is refused by the client": the server starts
 * with a certificate that is valid, it expires while the server runs, and then libcurl
 * refuses the handshake for that reason. A SIGHUP with an expired file keeps what is in use
 * and says why; one with a fresh certificate makes HTTPS work again. */
static void test_expiry(void)
{
    long long end = make_short_lived(SHORT_VALID_S * itest_slowdown());
    if (!CHECK(end != 0))
        return;
    CHECK(copy_file("short.pem", "live.pem") && copy_file("short.key", "live.key"));
    char cert[600], key[600];
    path_of(cert, sizeof cert, "live.pem");
    path_of(key, sizeof key, "live.key");
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, args)))
        return;
    struct answer a;
    struct client trusting = {.ca = "ca.pem"};
    request(s.port, "/healthz", &trusting, &a);
    CHECK_INT(a.code, CURLE_OK);
    CHECK_STR(a.serial, "1004");

    /* Wait until one second past its notAfter, then it is refused for that. */
    while ((long long)time(NULL) <= end + 1) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    request(s.port, "/healthz", &trusting, &a);
    CHECK_INT(a.code, CURLE_PEER_FAILED_VERIFICATION);
    if (!CHECK(strstr(a.error, "expired") != NULL))
        fprintf(stderr, "    libcurl said: %s\n", a.error);

    /* Reload with an expired file on disk: refused, logged with the reason. */
    CHECK(copy_file("expired.pem", "live.pem") && copy_file("expired.key", "live.key"));
    kill(s.pid, SIGHUP);
    CHECK(wait_log(&s, "reload failed; the old certificate stays in use", 1));
    CHECK(log_has(&s, "expired"));
    CHECK(log_has(&s, "\"serial\":\"1004\""));

    /* A fresh certificate: HTTPS works again, on a new handshake. */
    CHECK(copy_file("srv1.pem", "live.pem") && copy_file("srv1.key", "live.key"));
    kill(s.pid, SIGHUP);
    CHECK(wait_log(&s, "\"what\":\"certificate\",\"serial\":\"1001\"", 1));
    request(s.port, "/healthz", &trusting, &a);
    CHECK_INT(a.code, CURLE_OK);
    CHECK_INT(a.status, 200);
    CHECK_STR(a.serial, "1001");

    /* And an expired file while a valid certificate is in use: the valid one stays. */
    CHECK(copy_file("expired.pem", "live.pem") && copy_file("expired.key", "live.key"));
    kill(s.pid, SIGHUP);
    CHECK(wait_log(&s, "reload failed; the old certificate stays in use", 2));
    CHECK(wait_log(&s, "\"serial\":\"1001\"", 2));
    request(s.port, "/healthz", &trusting, &a);
    CHECK_INT(a.code, CURLE_OK);
    CHECK_STR(a.serial, "1001");

    CHECK_INT(itest_stop(&s, SIGTERM, 20), 0);
    itest_check_log(&s);
    itest_free(&s);
    CHECK(copy_file("srv1.key", "live.key") && copy_file("srv1.pem", "live.pem"));
}

/* ---------------------------------------------------------------------------------------
 * Mutual TLS
 * --------------------------------------------------------------------------------------- */

static void test_mtls(void)
{
    char cert[600], key[600], ca[600], tokens[600];
    path_of(cert, sizeof cert, "srv1.pem");
    path_of(key, sizeof key, "srv1.key");
    path_of(ca, sizeof ca, "ca.pem");
    path_of(tokens, sizeof tokens, "tokens");
    CHECK(write_text("tokens", "ops secret-ops\n"));
    const char *args[] = {"--tls-cert", cert,           "--tls-key", key, "--tls-client-ca",
                          ca,           "--token-file", tokens,      NULL};
    struct itest_server s;
    if (!CHECK(itest_start(&s, dir, args)))
        return;
    struct answer a;
    /* No certificate: probes pass, the API does not, with or without a token. */
    request(s.port, "/healthz", &(struct client){.ca = "ca.pem"}, &a);
    CHECK_INT(a.status, 200);
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem"}, &a);
    CHECK_INT(a.status, 401);
    CHECK(strstr(a.body, "client certificate") != NULL);
    CHECK(strstr(a.headers, "WWW-Authenticate: Bearer") != NULL);
    request(s.port, "/metrics", &(struct client){.ca = "ca.pem", .token = "secret-ops"}, &a);
    CHECK_INT(a.status, 401);
    /* Self-signed, or signed by another CA: refused. */
    request(s.port, "/metrics",
            &(struct client){.ca = "ca.pem", .cert = "self.pem", .key = "self.key"}, &a);
    CHECK_INT(a.code, CURLE_OK); /* the handshake asks, it does not require */
    CHECK_INT(a.status, 401);
    CHECK(strstr(a.body, "the client certificate was refused") != NULL);
    request(s.port, "/metrics",
            &(struct client){.ca = "ca.pem", .cert = "alien.pem", .key = "alien.key"}, &a);
    CHECK_INT(a.status, 401);
    CHECK(strstr(a.body, "the client certificate was refused") != NULL);
    /* The CA's client certificate stands in for the token; a wrong token is still wrong. */
    struct client good = {.ca = "ca.pem", .cert = "cli.pem", .key = "cli.key"};
    request(s.port, "/metrics", &good, &a);
    CHECK_INT(a.code, CURLE_OK);
    CHECK_INT(a.status, 200);
    good.token = "secret-nope";
    request(s.port, "/metrics", &good, &a);
    CHECK_INT(a.status, 401);
    good.token = "secret-ops";
    request(s.port, "/metrics", &good, &a);
    CHECK_INT(a.status, 200);
    CHECK(strstr(a.body, "tessera_auth_client_cert_requests_total 1\n") != NULL);
    CHECK(strstr(a.body, "tessera_auth_requests_total{token=\"ops\"} 1\n") != NULL);
    CHECK(wait_log(&s, "\"client\":\"CN=pipeline-a,O=Lab\"", 1));
    CHECK(wait_log(&s, "\"token\":\"ops\",\"client\":\"CN=pipeline-a,O=Lab\"", 1));
    /* A kept-alive connection: its certificate is verified once (tls_peer_check), and
     * every request on it is still admitted by it and logs its subject; a wrong token on
     * it is still refused, and the certificate still counts after that. */
    const char *subject_field = "\"client\":\"CN=pipeline-a,O=Lab\"";
    int logged = log_count(&s, subject_field);
    CURL *kept = curl_easy_init();
    struct client kept_cl = {.ca = "ca.pem", .cert = "cli.pem", .key = "cli.key"};
    for (int i = 0; i < 3; i++) {
        request_on(kept, s.port, "/metrics", &kept_cl, &a);
        CHECK_INT(a.status, 200);
        if (i > 0)
            CHECK_INT(a.new_connections, 0);
    }
    CHECK(strstr(a.body, "tessera_auth_client_cert_requests_total 4\n") != NULL);
    kept_cl.token = "secret-nope";
    request_on(kept, s.port, "/metrics", &kept_cl, &a);
    CHECK_INT(a.status, 401);
    kept_cl.token = NULL;
    request_on(kept, s.port, "/metrics", &kept_cl, &a);
    CHECK_INT(a.status, 200);
    CHECK_INT(a.new_connections, 0);
    curl_easy_cleanup(kept);
    CHECK(wait_log(&s, subject_field, logged + 5));
    CHECK_INT(log_count(&s, subject_field), logged + 5);
    CHECK_INT(itest_stop(&s, SIGTERM, 20), 0);
    itest_check_log(&s);
    itest_free(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    check_tmpdir(dir, sizeof dir);
    if (!CHECK(make_material())) {
        fprintf(stderr, "    openssl could not make the test certificates (see %s)\n", dir);
        return check_finish("itest_tls");
    }
    test_startup_errors();
    test_https_tokens_reload();
    test_priorities_option();
    test_slow_handshake();
    test_expiry();
    test_mtls();
    check_rmtree(dir);
    curl_global_cleanup();
    return check_finish("itest_tls");
}
