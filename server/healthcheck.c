/* healthcheck.c - a minimal HTTP/1.1 probe of /healthz; see healthcheck.h. */
#include "healthcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int healthcheck_run(const struct config *cfg, int timeout_ms)
{
    /* --port speaks TLS when --tls-cert is set; the probe is plain HTTP, so it asks the
     * admin port (always plain HTTP) then. */
    unsigned port = cfg->port;
    if (cfg->tls_cert[0] != '\0') {
        if (cfg->admin_port == 0) {
            fprintf(stderr, "tessera healthcheck: --port speaks TLS (--tls-cert); set "
                            "--admin-port for the probe\n");
            return 1;
        }
        port = cfg->admin_port;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->host, &in4->sin_addr) == 1) {
        if (in4->sin_addr.s_addr == htonl(INADDR_ANY))
            in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        len = sizeof *in4;
    } else if (inet_pton(AF_INET6, cfg->host, &in6->sin6_addr) == 1) {
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            in6->sin6_addr = in6addr_loopback;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        len = sizeof *in6;
    } else {
        fprintf(stderr, "tessera healthcheck: bad --host '%s'\n", cfg->host);
        return 1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "tessera healthcheck: cannot connect to %s:%u\n", cfg->host, port);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "User-Agent: tessera-healthcheck\r\n\r\n");
    char answer[256] = "";
    size_t got = 0;
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (got < sizeof answer - 1 && poll(&p, 1, timeout_ms) == 1) {
            ssize_t r = recv(fd, answer + got, sizeof answer - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    close(fd);
    answer[got] = '\0';
    bool ok =
        strncmp(answer, "HTTP/1.1 200 ", 13) == 0 || strncmp(answer, "HTTP/1.0 200 ", 13) == 0;
    if (!ok)
        fprintf(stderr, "tessera healthcheck: unhealthy: %.40s\n", got ? answer : "(no answer)");
    return ok ? 0 : 1;
}
