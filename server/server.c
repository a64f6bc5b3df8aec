/* server.c - the serving process's state and what the pages ask of it; see server.h. */
#include "server.h"
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int server_root_open(const struct server *srv, char *why, size_t why_size)
{
    int fd = open(srv->cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_size, "the data root is not available: %s", strerror(errno));
        return -1;
    }
    if (faccessat(fd, ".", R_OK | X_OK, AT_EACCESS) != 0) {
        snprintf(why, why_size, "the data root cannot be read: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

bool server_draining(const struct server *srv)
{
    return atomic_load(&srv->draining);
}

bool server_needs_token(const struct server *srv)
{
    if (srv->auth == NULL) /* before http_start */
        return srv->cfg->token[0] != '\0' || srv->cfg->token_file[0] != '\0';
    return auth_enabled(srv->auth);
}
