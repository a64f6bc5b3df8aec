/* tls.c - native HTTPS material and client-certificate checks; see tls.h. */
#include "tls.h"

#include "alloc.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Certificates in one --tls-cert chain at most. */
#define TLS_CHAIN_MAX 16

/* One certificate chain and its key, as handed to GnuTLS at a handshake. */
struct tls_material {
    gnutls_pcert_st pcerts[TLS_CHAIN_MAX];
    unsigned n_pcerts;
    gnutls_privkey_t key;
    char serial[80];
    long long expires;
    struct tls_material *retired; /* the material this one replaced (freed at tls_close) */
};

struct tls {
    char cert_path[4096];
    char key_path[4096];
    char *priorities;
    char *client_ca; /* PEM text of --tls-client-ca, NULL when unset */
};

/* The material of the next handshake. The retrieve callback has no closure, hence one
 * process-wide pointer (tls.h). */
static _Atomic(struct tls_material *) tls_current;
static atomic_bool tls_opened;

/* ---------------------------------------------------------------------------------------
 * Loading and checking
 * --------------------------------------------------------------------------------------- */

static enum error_code tls_read(const char *what, const char *path, gnutls_datum_t *out,
                                struct error_info *err)
{
    /* gnutls_load_file does not say why; the open does. */
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return error_set_sys(err, ERROR_INVALID, errno, "%s '%s' cannot be read: %s", what, path,
                             strerror(errno));
    fclose(f);
    int rc = gnutls_load_file(path, out);
    if (rc < 0)
        return error_set(err, ERROR_INVALID, "%s '%s' cannot be read (%s)", what, path,
                         gnutls_strerror(rc));
    if (out->size == 0) {
        gnutls_free(out->data);
        out->data = NULL;
        return error_set(err, ERROR_INVALID, "%s '%s' is empty", what, path);
    }
    return ERROR_OK;
}

static void tls_material_free(struct tls_material *m)
{
    while (m != NULL) {
        struct tls_material *next = m->retired;
        for (unsigned i = 0; i < m->n_pcerts; i++)
            gnutls_pcert_deinit(&m->pcerts[i]);
        if (m->key != NULL)
            gnutls_privkey_deinit(m->key);
        free(m);
        m = next;
    }
}

/* Validity of the first certificate of the PEM chain, and its serial in hex. */
static enum error_code tls_check_dates(const char *path, const gnutls_datum_t *pem,
                                       struct tls_material *m, struct error_info *err)
{
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return error_set(err, ERROR_NO_MEMORY, "out of memory reading '%s'", path);
    enum error_code code = ERROR_OK;
    int rc = gnutls_x509_crt_import(crt, pem, GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        code = error_set(err, ERROR_INVALID, "--tls-cert '%s' is not a PEM certificate (%s)", path,
                         gnutls_strerror(rc));
        goto out;
    }
    time_t now = time(NULL);
    time_t not_before = gnutls_x509_crt_get_activation_time(crt);
    time_t not_after = gnutls_x509_crt_get_expiration_time(crt);
    if (not_after != (time_t)-1 && not_after < now) {
        code = error_set(err, ERROR_INVALID, "--tls-cert '%s' expired %lld s ago", path,
                         (long long)(now - not_after));
        goto out;
    }
    if (not_before != (time_t)-1 && not_before > now) {
        code = error_set(err, ERROR_INVALID, "--tls-cert '%s' is not valid for another %lld s",
                         path, (long long)(not_before - now));
        goto out;
    }
    m->expires = (long long)not_after;
    unsigned char serial[40];
    size_t len = sizeof serial;
    m->serial[0] = '\0';
    if (gnutls_x509_crt_get_serial(crt, serial, &len) == 0)
        for (size_t i = 0; i < len && 2 * i + 2 < sizeof m->serial; i++)
            snprintf(m->serial + 2 * i, 3, "%02x", serial[i]);
out:
    gnutls_x509_crt_deinit(crt);
    return code;
}

/* Does the key belong to the certificate? GnuTLS's own check
 * (GNUTLS_E_CERTIFICATE_KEY_MISMATCH) on a throw-away credentials object. */
static enum error_code tls_check_pair(const struct tls *t, const gnutls_datum_t *cert,
                                      const gnutls_datum_t *key, struct error_info *err)
{
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0)
        return error_set(err, ERROR_NO_MEMORY, "out of memory checking --tls-key");
    enum error_code code = ERROR_OK;
    int rc = gnutls_certificate_set_x509_key_mem(cred, cert, key, GNUTLS_X509_FMT_PEM);
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
        code = error_set(err, ERROR_INVALID, "--tls-key '%s' does not match --tls-cert '%s'",
                         t->key_path, t->cert_path);
    else if (rc < 0)
        code = error_set(err, ERROR_INVALID, "--tls-cert '%s' / --tls-key '%s' not usable: %s",
                         t->cert_path, t->key_path, gnutls_strerror(rc));
    gnutls_certificate_free_credentials(cred);
    return code;
}

/* Read and check --tls-cert and --tls-key into a new material. */
static enum error_code tls_material_load(const struct tls *t, struct tls_material **out,
                                         struct error_info *err)
{
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    struct tls_material *m = alloc_zeroed(1, sizeof *m);
    enum error_code code = ERROR_OK;
    if (m == NULL) {
        code = error_set(err, ERROR_NO_MEMORY, "out of memory loading --tls-cert");
        goto out;
    }
    if ((code = tls_read("--tls-cert", t->cert_path, &cert, err)) != ERROR_OK ||
        (code = tls_read("--tls-key", t->key_path, &key, err)) != ERROR_OK ||
        (code = tls_check_dates(t->cert_path, &cert, m, err)) != ERROR_OK ||
        (code = tls_check_pair(t, &cert, &key, err)) != ERROR_OK)
        goto out;
    m->n_pcerts = TLS_CHAIN_MAX;
    int rc =
        gnutls_pcert_list_import_x509_raw(m->pcerts, &m->n_pcerts, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        m->n_pcerts = 0;
        code = error_set(err, ERROR_INVALID, "--tls-cert '%s': %s (at most %d certificates)",
                         t->cert_path, gnutls_strerror(rc), TLS_CHAIN_MAX);
        goto out;
    }
    if ((rc = gnutls_privkey_init(&m->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(m->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        code =
            error_set(err, ERROR_INVALID, "--tls-key '%s': %s", t->key_path, gnutls_strerror(rc));
        goto out;
    }
out:
    if (key.data != NULL) {
        gnutls_memset(key.data, 0, key.size);
        gnutls_free(key.data);
    }
    gnutls_free(cert.data);
    if (code != ERROR_OK) {
        tls_material_free(m);
        m = NULL;
    }
    *out = m;
    return code;
}

/* ---------------------------------------------------------------------------------------
 * The handshake callback
 * --------------------------------------------------------------------------------------- */

static int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                        const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                        gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    struct tls_material *m = atomic_load(&tls_current);
    if (m == NULL)
        return -1;
    *pcert = m->pcerts;
    *pcert_length = m->n_pcerts;
    *pkey = m->key;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Public
 * --------------------------------------------------------------------------------------- */

static enum error_code tls_open_ca(struct tls *t, const char *path, struct error_info *err)
{
    gnutls_datum_t pem = {NULL, 0};
    enum error_code code = tls_read("--tls-client-ca", path, &pem, err);
    if (code != ERROR_OK)
        return code;
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    int rc = gnutls_x509_crt_list_import2(&list, &n, &pem, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || n == 0) {
        code = error_set(err, ERROR_INVALID, "--tls-client-ca '%s' holds no PEM certificate (%s)",
                         path, rc < 0 ? gnutls_strerror(rc) : "none found");
    } else {
        t->client_ca = alloc_bytes((size_t)pem.size + 1);
        if (t->client_ca == NULL)
            code = error_set(err, ERROR_NO_MEMORY, "out of memory reading --tls-client-ca");
        else {
            memcpy(t->client_ca, pem.data, pem.size);
            t->client_ca[pem.size] = '\0';
        }
    }
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
    gnutls_free(pem.data);
    return code;
}

enum error_code tls_open(const struct config *cfg, struct tls **out, struct error_info *err)
{
    *out = NULL;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return error_set(err, ERROR_INVALID,
                         "--tls-cert is set but this libmicrohttpd was built without TLS");
    if (atomic_exchange(&tls_opened, true))
        return error_set(err, ERROR_INTERNAL, "TLS is already open in this process");
    struct tls *t = alloc_zeroed(1, sizeof *t);
    if (t == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory starting TLS");
    snprintf(t->cert_path, sizeof t->cert_path, "%s", cfg->tls_cert);
    snprintf(t->key_path, sizeof t->key_path, "%s", cfg->tls_key);
    enum error_code code = ERROR_OK;
    gnutls_priority_t prio = NULL;
    const char *where = NULL;
    int rc = gnutls_priority_init(&prio, cfg->tls_priorities, &where);
    if (rc < 0) {
        code = error_set(err, ERROR_INVALID, "--tls-priorities '%s': %s (at '%.40s')",
                         cfg->tls_priorities, gnutls_strerror(rc), where ? where : "");
        goto out;
    }
    gnutls_priority_deinit(prio);
    size_t plen = strlen(cfg->tls_priorities) + 1;
    if ((t->priorities = alloc_bytes(plen)) == NULL) {
        code = error_set(err, ERROR_NO_MEMORY, "out of memory starting TLS");
        goto out;
    }
    memcpy(t->priorities, cfg->tls_priorities, plen);
    if (cfg->tls_client_ca[0] != '\0' &&
        (code = tls_open_ca(t, cfg->tls_client_ca, err)) != ERROR_OK)
        goto out;
    struct tls_material *m;
    if ((code = tls_material_load(t, &m, err)) != ERROR_OK)
        goto out;
    atomic_store(&tls_current, m);
out:
    if (code != ERROR_OK) {
        tls_close(t);
        return code;
    }
    *out = t;
    return ERROR_OK;
}

void tls_mhd_options(const struct tls *t, struct MHD_OptionItem *items)
{
    /* MHD_OPTION_ARRAY carries the callback as a data pointer; a union converts it
     * without an object/function pointer cast. */
    union {
        gnutls_certificate_retrieve_function2 *fn;
        void *ptr;
    } cb = {.fn = tls_retrieve};
    size_t n = 0;
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, cb.ptr};
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, t->priorities};
    /* With a trust list, libmicrohttpd asks every client for a certificate
     * (GNUTLS_CERT_REQUEST: optional in the handshake); tls_peer_check decides. */
    if (t->client_ca != NULL)
        items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->client_ca};
    items[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

enum error_code tls_reload(struct tls *t, struct error_info *err)
{
    struct tls_material *m;
    enum error_code code = tls_material_load(t, &m, err);
    if (code != ERROR_OK)
        return code;
    m->retired = atomic_exchange(&tls_current, m);
    return ERROR_OK;
}

void tls_describe(const struct tls *t, char *serial, size_t serial_size, long long *expires)
{
    (void)t;
    struct tls_material *m = atomic_load(&tls_current);
    snprintf(serial, serial_size, "%s", m ? m->serial : "");
    *expires = m ? m->expires : 0;
}

bool tls_wants_client_cert(const struct tls *t)
{
    return t != NULL && t->client_ca != NULL;
}

/* The earliest end of validity among the n certificates of peers (LLONG_MAX when none
 * can be read, 0 when out of memory). */
static long long tls_peers_expire(const gnutls_datum_t *peers, unsigned n)
{
    long long first = LLONG_MAX;
    for (unsigned i = 0; i < n; i++) {
        gnutls_x509_crt_t crt;
        if (gnutls_x509_crt_init(&crt) < 0)
            return 0; /* no memory: remember nothing, verify every time */
        if (gnutls_x509_crt_import(crt, &peers[i], GNUTLS_X509_FMT_DER) == 0) {
            time_t end = gnutls_x509_crt_get_expiration_time(crt);
            if (end != (time_t)-1 && (long long)end < first)
                first = (long long)end;
        }
        gnutls_x509_crt_deinit(crt);
    }
    return first;
}

/* Remember that peers (n certificates, the client's first) verified with subject. */
static void tls_peer_remember(struct tls_peer_cache *cache, const gnutls_datum_t *peers, unsigned n,
                              const char *subject)
{
    cache->recheck_at = 0;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, peers[0].data, peers[0].size, cache->digest) < 0)
        return;
    long long at = (long long)time(NULL) + TLS_PEER_RECHECK_S;
    long long expires = tls_peers_expire(peers, n);
    snprintf(cache->subject, sizeof cache->subject, "%s", subject);
    cache->recheck_at = expires < at ? expires : at;
}

/* Is peers[0] the certificate cache holds, and is it not yet time to verify it again? */
static bool tls_peer_remembered(const struct tls_peer_cache *cache, const gnutls_datum_t *peers)
{
    if (cache->recheck_at == 0 || (long long)time(NULL) >= cache->recheck_at)
        return false;
    unsigned char digest[sizeof cache->digest];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, peers[0].data, peers[0].size, digest) < 0)
        return false;
    return memcmp(digest, cache->digest, sizeof digest) == 0;
}

enum tls_peer tls_peer_check(struct MHD_Connection *conn, struct tls_peer_cache *cache,
                             char *subject, size_t subject_size)
{
    subject[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return TLS_PEER_NONE;
    gnutls_session_t session = ci->tls_session;
    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
    if (peers == NULL || n == 0)
        return TLS_PEER_NONE;
    if (cache != NULL && tls_peer_remembered(cache, peers)) {
        snprintf(subject, subject_size, "%s", cache->subject);
        return TLS_PEER_OK;
    }
    if (cache != NULL)
        cache->recheck_at = 0;
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers3(session, NULL, &status);
    if (rc < 0 || status != 0) {
        gnutls_datum_t why = {NULL, 0};
        if (rc >= 0 &&
            gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0) == 0) {
            snprintf(subject, subject_size, "%s", (const char *)why.data);
            gnutls_free(why.data);
        } else
            snprintf(subject, subject_size, "%s", gnutls_strerror(rc));
        return TLS_PEER_BAD;
    }
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0) {
        snprintf(subject, subject_size, "out of memory");
        return TLS_PEER_BAD;
    }
    gnutls_datum_t dn = {NULL, 0};
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
        snprintf(subject, subject_size, "%s", (const char *)dn.data);
        gnutls_free(dn.data);
    }
    gnutls_x509_crt_deinit(crt);
    if (cache != NULL)
        tls_peer_remember(cache, peers, n, subject);
    return TLS_PEER_OK;
}

void tls_close(struct tls *t)
{
    if (t == NULL)
        return;
    tls_material_free(atomic_exchange(&tls_current, NULL));
    free(t->priorities);
    free(t->client_ca);
    free(t);
    atomic_store(&tls_opened, false);
}
