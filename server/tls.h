/*
 * tls.h - native HTTPS on --port: the certificate and key (--tls-cert, --tls-key), the
 * GnuTLS priority string (--tls-priorities), the client-certificate CA (--tls-client-ca),
 * and the reload on SIGHUP. GnuTLS stays in server/: the handshake material is here, the
 * token digests in auth.c; core and handlers never include a GnuTLS header.
 *
 * How a reload avoids dropping connections: libmicrohttpd 0.9.75 asks for the certificate
 * at every handshake through MHD_OPTION_HTTPS_CERT_CALLBACK (GnuTLS's retrieve function),
 * so the daemon and its listening socket stay as they are and tls_reload only swaps the
 * material the next handshake is given. Connections already set up keep the session keys
 * they negotiated. Material that was replaced stays in memory until tls_close (a few KiB
 * per reload), because a handshake that started before the swap may still be using it.
 * The callback takes no closure, so there is one TLS state per process (tls_open twice is
 * refused).
 *
 * The client CA is read once at start; a changed CA file needs a restart.
 */
#ifndef TESSERA_SERVER_TLS_H
#define TESSERA_SERVER_TLS_H

#include "config.h"

#include "error.h"

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct tls;

/* Options tls_mhd_options writes at most (MHD_OPTION_END included). */
#define TLS_MHD_OPTIONS_MAX 4

/* Check that libmicrohttpd was built with TLS, read and check --tls-cert / --tls-key
 * (readable, PEM, key matches the certificate, valid now), --tls-priorities (GnuTLS accepts
 * it) and --tls-client-ca (readable PEM certificates). ERROR_INVALID with the reason in
 * err. Call only when cfg->tls_cert is set. Not thread-safe; once per process. */
enum error_code tls_open(const struct config *cfg, struct tls **out,
                         struct error_info *err) ERROR_MUST_CHECK;

/* Fill items (at least TLS_MHD_OPTIONS_MAX) with the MHD_OPTION_ARRAY entries for the
 * --port daemon: the certificate callback, the priorities, the client CA. The daemon must
 * also be started with MHD_USE_TLS. */
void tls_mhd_options(const struct tls *t, struct MHD_OptionItem *items);

/* Re-read --tls-cert and --tls-key; when they pass the tls_open checks, handshakes from now
 * on present them. On an error the old material stays in use and err says why.
 * Serialised by the caller (the signal loop); safe while handshakes run. */
enum error_code tls_reload(struct tls *t, struct error_info *err) ERROR_MUST_CHECK;

/* The serial number (hex) and end of validity (Unix seconds) of the certificate in use. */
void tls_describe(const struct tls *t, char *serial, size_t serial_size, long long *expires);

/* Is --tls-client-ca set? */
bool tls_wants_client_cert(const struct tls *t);

enum tls_peer {
    TLS_PEER_NONE, /* no certificate presented (or not a TLS connection) */
    TLS_PEER_BAD,  /* presented, but not valid for --tls-client-ca: reason in subject */
    TLS_PEER_OK    /* verified: its subject DN (RFC 4514) in subject */
};

/* How long a verified client certificate is trusted on one connection before
 * tls_peer_check verifies it again (it also does so once the certificate expires). */
#define TLS_PEER_RECHECK_S 60

/* What tls_peer_check remembers of one connection's verified client certificate. It lives
 * in the connection's state (struct http_conn), zeroed at accept; one connection thread
 * uses it at a time. */
struct tls_peer_cache {
    unsigned char digest[32]; /* SHA-256 of the certificate (DER) that was verified */
    long long recheck_at;     /* wall-clock second of the next verification; 0 = empty */
    char subject[256];        /* its subject DN */
};

/* Verify the client certificate of conn against --tls-client-ca
 * (gnutls_certificate_verify_peers3: signature chain, validity dates). With cache (may be
 * NULL), a certificate verified before on the same connection is not verified again: the
 * same certificate (by SHA-256) before cache->recheck_at gets TLS_PEER_OK and the remembered
 * subject; a refusal is never remembered. Thread-safe for distinct caches. */
enum tls_peer tls_peer_check(struct MHD_Connection *conn, struct tls_peer_cache *cache,
                             char *subject, size_t subject_size);

/* Free everything (after the daemon stopped). */
void tls_close(struct tls *t);

#endif
