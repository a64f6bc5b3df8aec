/*
 * healthcheck.h - `tessera healthcheck [options]`: ask a running server's /healthz and exit
 * 0 when it answers 200, 1 otherwise. For container HEALTHCHECKs in images without curl.
 */
#ifndef TESSERA_SERVER_HEALTHCHECK_H
#define TESSERA_SERVER_HEALTHCHECK_H

#include "config.h"

/* Connect to cfg->host:cfg->port (0.0.0.0 and :: mean loopback), GET /healthz with a
 * timeout of timeout_ms, return the process exit status (0 healthy, 1 not). With
 * --tls-cert the probe goes to --admin-port (plain HTTP) instead, and fails without one. */
int healthcheck_run(const struct config *cfg, int timeout_ms);

#endif
