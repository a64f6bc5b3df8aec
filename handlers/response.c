/* response.c - a handler's answer and who owns its body; see response.h. */
#include "response.h"

#include <stdlib.h>

void response_bytes(struct response *resp, int status, const char *content_type, char *body,
                    size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = body;
    resp->body_len = len;
}

void response_cleanup(struct response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->status = 500;
    resp->content_type = NULL;
    resp->retry_after = 0;
    resp->etag[0] = '\0';
    resp->cache_control = NULL;
}
