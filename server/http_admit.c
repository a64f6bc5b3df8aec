/* http_admit.c - the first call of a request; see http_admit.h. */
#include "http_admit.h"
#include "auth.h"
#include "http_fields.h"
#include "http_framing.h"
#include "routes.h"
#include "server.h"
#include "tls.h"

#include "alloc.h"
#include "error.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* ---------------------------------------------------------------------------------------
 * Identity: request id and CORS origin
 * --------------------------------------------------------------------------------------- */

static bool http_admit_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > HTTP_EXCHANGE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* A valid client X-Request-Id is echoed; otherwise 128 random bits in hex. */
static void http_admit_request_id(struct http_exchange *ex)
{
    const char *given = MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given != NULL && http_admit_id_ok(given)) {
        snprintf(ex->request_id, sizeof ex->request_id, "%s", given);
        return;
    }
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        static atomic_ulong fallback;
        unsigned long v = atomic_fetch_add(&fallback, 1);
        memcpy(raw, &v, sizeof v);
        memcpy(raw + 8, &ex->start_ns, sizeof ex->start_ns);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(ex->request_id + 2 * i, 3, "%02x", raw[i]);
}

static void http_admit_origin(struct http_exchange *ex)
{
    const char *origin = MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, "Origin");
    if (origin != NULL && config_origin_allowed(ex->srv->cfg, origin) &&
        strlen(origin) < sizeof ex->origin) {
        snprintf(ex->origin, sizeof ex->origin, "%s", origin);
        ex->cors = true;
    }
}

/* ---------------------------------------------------------------------------------------
 * Auth and query parameters
 * --------------------------------------------------------------------------------------- */

/* Who is asking, and may they (README "The secure setup" states the rule for users):
 *   - on the TLS port with --tls-client-ca, every request's certificate is checked (a
 *     kept-alive connection's once, see tls_peer_check) and its subject recorded; a route
 *     that is not public needs a verified one, and with it no token is needed;
 *   - otherwise, when tokens exist, a route that is not public needs one of them;
 *   - on such a route a token that is given is always checked: a wrong one is refused
 *     even where a certificate would do, and a right one is recorded by name.
 * Returns true when ex->resp holds the refusal. */
static bool http_admit_identity(struct http_exchange *ex, struct http_conn *hc)
{
    struct server *srv = ex->srv;
    bool on_tls = srv->tls != NULL && (hc == NULL || !hc->admin);
    bool cert_needed = on_tls && tls_wants_client_cert(srv->tls);
    bool cert_ok = false;
    if (cert_needed) {
        char subject[sizeof ex->client_dn];
        enum tls_peer peer =
            tls_peer_check(ex->conn, hc ? &hc->peer : NULL, subject, sizeof subject);
        if (peer == TLS_PEER_OK) {
            snprintf(ex->client_dn, sizeof ex->client_dn, "%s", subject);
            cert_ok = true;
        } else if (!ex->route->public) {
            ex->need_auth_header = true; /* RFC 9110: every 401 names a scheme */
            if (peer == TLS_PEER_BAD)
                http_exchange_problem(ex, 401, "the client certificate was refused: %.200s",
                                      subject);
            else
                http_exchange_problem(ex, 401,
                                      "this endpoint needs a client certificate signed by the "
                                      "server's --tls-client-ca");
            return true;
        }
    }
    const char *auth =
        MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    bool tokens = auth_enabled(srv->auth);
    bool token_ok = tokens && auth != NULL && auth_check(srv->auth, auth, ex->token_name);
    if (ex->route->public)
        return false;
    if (tokens && auth != NULL && !token_ok) {
        ex->need_auth_header = true;
        http_exchange_problem(ex, 401, "the bearer token was not accepted");
        return true;
    }
    if (tokens && !token_ok && !cert_ok) {
        ex->need_auth_header = true;
        http_exchange_problem(ex, 401, "this endpoint needs 'Authorization: Bearer <token>'");
        return true;
    }
    if (token_ok || cert_ok)
        auth_count(srv->auth, ex->token_name);
    return false;
}

static char *http_admit_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = alloc_bytes(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

struct http_admit_params {
    struct http_exchange *ex;
    bool bad;
    char detail[160];
};

static enum MHD_Result http_admit_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    struct http_admit_params *p = cls;
    struct http_exchange *ex = p->ex;
    for (size_t i = 0; i < ex->n_params; i++)
        if (strcmp(ex->params[i].key, key) == 0) {
            p->bad = true;
            snprintf(p->detail, sizeof p->detail, "query parameter '%.64s' is given more than once",
                     key);
            return MHD_NO;
        }
    if (ex->n_params == HTTP_EXCHANGE_MAX_PARAMS) {
        p->bad = true;
        snprintf(p->detail, sizeof p->detail, "more than %d query parameters",
                 HTTP_EXCHANGE_MAX_PARAMS);
        return MHD_NO;
    }
    char *k = http_admit_strdup(key), *v = http_admit_strdup(value ? value : "");
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        p->bad = true;
        snprintf(p->detail, sizeof p->detail, "out of memory");
        return MHD_NO;
    }
    ex->params[ex->n_params].key = k;
    ex->params[ex->n_params].value = v;
    ex->n_params++;
    return MHD_YES;
}

/* ---------------------------------------------------------------------------------------
 * The first call
 * --------------------------------------------------------------------------------------- */

/* Route, admin port, OPTIONS, method and token. Returns true when ex->resp holds the answer. */
static bool http_admit_route(struct http_exchange *ex, struct http_conn *hc, const char *url,
                             const char *method)
{
    bool path_known;
    const struct route *route = routes_find(method, url, &path_known);
    if (hc != NULL && hc->admin && !routes_admin_path(url)) {
        char served[128];
        routes_admin_list(served, sizeof served);
        http_exchange_problem(ex, 404, "the admin port serves %s only", served);
        return true;
    }
    if (!path_known) {
        http_exchange_problem(ex, 404, "no endpoint at '%.200s'; GET / lists them", url);
        return true;
    }
    for (size_t i = 0; i < routes_count; i++)
        if (strcmp(routes[i].path, url) == 0)
            ex->route_name = routes[i].path; /* static string for metrics */
    if (strcmp(method, "OPTIONS") == 0) {
        routes_allow(url, ex->allow, sizeof ex->allow);
        ex->preflight = MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND,
                                                    "Access-Control-Request-Method") != NULL;
        response_bytes(&ex->resp, 204, NULL, NULL, 0);
        ex->done = true;
        return true;
    }
    if (route == NULL) {
        routes_allow(url, ex->allow, sizeof ex->allow);
        http_exchange_problem(ex, 405, "%.16s is not allowed on %.200s; allowed: %s", method, url,
                              ex->allow);
        return true;
    }
    ex->route = route;
    return http_admit_identity(ex, hc);
}

bool http_admit(struct http_exchange *ex, const char *url, const char *method, const char *version)
{
    struct MHD_Connection *conn = ex->conn;
    struct http_conn *hc = http_conn_of(conn);
    if (hc != NULL)
        snprintf(ex->remote, sizeof ex->remote, "%s", hc->remote);
    http_admit_request_id(ex);
    http_admit_origin(ex);

    char detail[ERROR_DETAIL_MAX];
    struct http_framing framing = {0};
    int status = http_fields_check(conn, hc, method, url, version, detail, sizeof detail);
    if (status == 0)
        status = http_framing_check(conn, hc, url, version, &framing, detail, sizeof detail);
    ex->body_announced = framing.body_announced;
    if (status != 0) {
        ex->framing_bad = true;
        http_exchange_problem(ex, status, "%s", detail);
        return true;
    }
    if (http_admit_route(ex, hc, url, method))
        return true;

    /* Query parameters (decoded once by MHD; duplicates refused). */
    struct http_admit_params params = {.ex = ex};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, http_admit_param, &params);
    if (params.bad) {
        http_exchange_problem(ex, 400, "%s", params.detail);
        return true;
    }
    ex->content_type = http_admit_strdup(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
    ex->accept = http_admit_strdup(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
    ex->if_none_match = http_admit_strdup(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH));

    /* Body limit by route and media type; an over-limit Content-Length is refused now. */
    status = http_body_open(&ex->body, ex->srv, ex->route->body, ex->content_type,
                            framing.content_length, method, url, detail, sizeof detail);
    if (status != 0) {
        http_exchange_problem(ex, status, "%s", detail);
        return true;
    }
    return false;
}
