/*
 * http_admit.h - the first call of a request: who sent it (request id, client address,
 * CORS origin), whether its header fields and framing hold, which route it takes (and
 * whether this port serves it), whether it may (the bearer token), its query parameters,
 * and whether its body fits. Everything here runs before libmicrohttpd reads a body byte,
 * so a refusal costs the client its body, not us.
 */
#ifndef TESSERA_SERVER_HTTP_ADMIT_H
#define TESSERA_SERVER_HTTP_ADMIT_H

#include "http_exchange.h"

#include <stdbool.h>

/* Admit the request of ex (url, method and version as libmicrohttpd passed them). Returns
 * true when ex->resp already holds the answer (a refusal, or the 204 of an OPTIONS), false
 * when the request goes on to its body and its handler. */
bool http_admit(struct http_exchange *ex, const char *url, const char *method, const char *version);

#endif
