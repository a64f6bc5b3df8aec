/*
 * test_topk_http.c - POST /topk over real HTTP: values, rows and points with answers worked
 * out by hand (ties to the lower index, NaN after every number in both directions, -0.0
 * equal to 0.0, largest as the mirror, exclude_self by index on a matrix whose rows have
 * their smallest element off the diagonal), k = 0, binary input (float64 / float32) with
 * JSON and binary output, every 400 / 422 the contract names in both input forms, and the
 * limits (--max-json-values, --max-json-body, --max-binary-body, --max-k) on a second server.
 *
 * Expected answers are JSON text compared number by number (indices must be integers,
 * -0.0 keeps its sign, null is null), so a wrong order or a lost tie shows as one mismatch.
 * The numpy differential over random data is diff_topk_http.py.
 */
#include "check.h"
#include "harness.h"

#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const hdr_json[] = {"Content-Type: application/json", NULL};
static const char *const hdr_json_binout[] = {"Content-Type: application/json",
                                              "Accept: application/octet-stream", NULL};
static const char *const hdr_bin[] = {"Content-Type: application/octet-stream", NULL};
static const char *const hdr_bin_binout[] = {"Content-Type: application/octet-stream",
                                             "Accept: application/octet-stream", NULL};

/* ---------------------------------------------------------------------------------------
 * Comparing answers
 * --------------------------------------------------------------------------------------- */

/* Same tree, numbers compared by value (and sign of zero); under "indices" every number
 * must be a JSON integer. */
static bool json_same(const json_t *got, const json_t *want, bool index)
{
    if (json_is_number(want)) {
        if (!json_is_number(got) || (index && !json_is_integer(got)))
            return false;
        double g = json_number_value(got), w = json_number_value(want);
        return g == w && !signbit(g) == !signbit(w);
    }
    if (json_is_null(want))
        return json_is_null(got);
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
            return false;
        for (size_t i = 0; i < json_array_size(want); i++)
            if (!json_same(json_array_get(got, i), json_array_get(want, i), index))
                return false;
        return true;
    }
    if (json_is_object(want)) {
        if (!json_is_object(got) || json_object_size(got) != json_object_size(want))
            return false;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)want, key, v)
        {
            const json_t *g = json_object_get(got, key);
            if (g == NULL || !json_same(g, v, strcmp(key, "indices") == 0))
                return false;
        }
        return true;
    }
    return false;
}

/* POST body (JSON, or binary when target has a query) and expect 200 application/json
 * equal to want (JSON text). */
static void expect_answer(struct itest_server *s, const char *target, const char *const hdr[],
                          const void *body, size_t len, const char *want, int line)
{
    struct itest_reply r;
    char ct[128] = "";
    json_error_t jerr;
    json_t *w = json_loads(want, 0, &jerr);
    if (!CHECK(w != NULL)) {
        fprintf(stderr, "    line %d: bad expected JSON: %s\n", line, jerr.text);
        return;
    }
    if (CHECK(itest_request(s, "POST", target, hdr, body, len, &r))) {
        bool ok = CHECK_INT(r.status, 200);
        ok &= CHECK(itest_header(&r, "Content-Type", ct, sizeof ct));
        ok &= CHECK_STR(ct, "application/json");
        ok &= CHECK(r.json != NULL && json_same(r.json, w, false));
        if (!ok)
            fprintf(stderr,
                    "    line %d: %s\n      sent: %.300s\n      got:  %.600s\n      want: %s\n",
                    line, target, hdr == hdr_json ? (const char *)body : "(binary)", r.body, want);
        itest_reply_cleanup(&r);
    }
    json_decref(w);
}

static void expect_json(struct itest_server *s, const char *body, const char *want, int line)
{
    expect_answer(s, "/topk", hdr_json, body, strlen(body), want, line);
}

/* Expect a binary answer: count int64 indices then count float64 values, little-endian. */
static void expect_binary(struct itest_server *s, const char *target, const char *const hdr[],
                          const void *body, size_t len, size_t count, const int64_t *want_idx,
                          const double *want_val, int line)
{
    struct itest_reply r;
    char ct[128] = "";
    if (!CHECK(itest_request(s, "POST", target, hdr, body, len, &r)))
        return;
    bool ok = CHECK_INT(r.status, 200);
    ok &= CHECK(itest_header(&r, "Content-Type", ct, sizeof ct));
    ok &= CHECK_STR(ct, "application/octet-stream");
    ok &= CHECK_INT(r.len, count * 16);
    if (ok) {
        for (size_t i = 0; i < count; i++) {
            int64_t idx;
            double val;
            memcpy(&idx, r.body + 8 * i, 8);
            memcpy(&val, r.body + 8 * (count + i), 8);
            ok &= CHECK_INT(idx, want_idx[i]);
            bool same = isnan(want_val[i])
                            ? isnan(val)
                            : val == want_val[i] && !signbit(val) == !signbit(want_val[i]);
            if (!CHECK(same))
                fprintf(stderr, "    result %zu: got %.17g, want %.17g\n", i, val, want_val[i]);
            ok &= same;
        }
    }
    if (!ok)
        fprintf(stderr, "    line %d: %s (%zu bytes back)\n", line, target, r.len);
    itest_reply_cleanup(&r);
}

/* Expect problem+json with this status whose detail contains needle (NULL: any). */
static void expect_problem_at(struct itest_server *s, const char *target, const char *const hdr[],
                              const void *body, size_t len, long status, const char *needle,
                              int line)
{
    struct itest_reply r;
    if (!CHECK(itest_request(s, "POST", target, hdr, body, len, &r)))
        return;
    bool ok = itest_is_problem(&r, status);
    const char *detail = json_string_value(json_object_get(r.json, "detail"));
    if (needle != NULL)
        ok &= CHECK(detail != NULL && strstr(detail, needle) != NULL);
    if (!ok)
        fprintf(stderr,
                "    line %d: %s\n      sent: %.200s\n      got %ld: %.400s\n      want %ld "
                "with '%s'\n",
                line, target, hdr == hdr_json ? (const char *)body : "(binary)", r.status, r.body,
                status, needle ? needle : "");
    itest_reply_cleanup(&r);
}

static void expect_json_problem(struct itest_server *s, const char *body, long status,
                                const char *needle, int line)
{
    expect_problem_at(s, "/topk", hdr_json, body, strlen(body), status, needle, line);
}

#define EXPECT_JSON(s, body, want)          expect_json((s), (body), (want), __LINE__)
#define EXPECT_JSON_PROBLEM(s, body, st, n) expect_json_problem((s), (body), (st), (n), __LINE__)
#define EXPECT_BIN_PROBLEM(s, target, data, len, st, n)                                            \
    expect_problem_at((s), (target), hdr_bin, (data), (len), (st), (n), __LINE__)

/* ---------------------------------------------------------------------------------------
 * JSON input, answers by hand
 * --------------------------------------------------------------------------------------- */

static void test_values(struct itest_server *s)
{
    /* idx:          0  1  2  3  4     5     6
     * ascending: -0.0(5) = 0.0(6) < 1(1) = 1(3) < 2(2) < 3(0), NaN(4) last. */
    const char *x = "[3, 1, 2, 1, null, -0.0, 0.0]";
    char body[256];
    snprintf(body, sizeof body, "{\"values\": %s, \"k\": 7}", x);
    EXPECT_JSON(s, body, "{\"indices\":[5,6,1,3,2,0,4],\"values\":[-0.0,0.0,1,1,2,3,null]}");
    snprintf(body, sizeof body, "{\"values\": %s, \"k\": 3}", x);
    EXPECT_JSON(s, body, "{\"indices\":[5,6,1],\"values\":[-0.0,0.0,1]}");
    snprintf(body, sizeof body, "{\"values\": %s, \"k\": 3, \"largest\": false}", x);
    EXPECT_JSON(s, body, "{\"indices\":[5,6,1],\"values\":[-0.0,0.0,1]}");
    /* Largest mirrors: 3, 2, 1(1), 1(3), -0.0(5), 0.0(6) in index order, NaN still last. */
    snprintf(body, sizeof body, "{\"values\": %s, \"k\": 7, \"largest\": true}", x);
    EXPECT_JSON(s, body, "{\"indices\":[0,2,1,3,5,6,4],\"values\":[3,2,1,1,-0.0,0.0,null]}");
    snprintf(body, sizeof body, "{\"values\": %s, \"k\": 4, \"largest\": true}", x);
    EXPECT_JSON(s, body, "{\"indices\":[0,2,1,3],\"values\":[3,2,1,1]}");
    /* Zero written first and second: still by index, whichever the sign. */
    EXPECT_JSON(s, "{\"values\": [0.0, -0.0, 0.0], \"k\": 3}",
                "{\"indices\":[0,1,2],\"values\":[0.0,-0.0,0.0]}");
    EXPECT_JSON(s, "{\"values\": [0.0, -0.0, 0.0], \"k\": 2, \"largest\": true}",
                "{\"indices\":[0,1],\"values\":[0.0,-0.0]}");
    /* NaN never beats a number, not even with largest. */
    EXPECT_JSON(s, "{\"values\": [null, -5, null, 7], \"k\": 2}",
                "{\"indices\":[1,3],\"values\":[-5,7]}");
    EXPECT_JSON(s, "{\"values\": [null, -5, null, 7], \"k\": 3, \"largest\": true}",
                "{\"indices\":[3,1,0],\"values\":[7,-5,null]}");
    EXPECT_JSON(s, "{\"values\": [null, null], \"k\": 2, \"largest\": true}",
                "{\"indices\":[0,1],\"values\":[null,null]}");
    /* Extremes round-trip exactly. */
    EXPECT_JSON(s, "{\"values\": [1e308, -1.7976931348623157e308, 5e-324, -5e-324], \"k\": 4}",
                "{\"indices\":[1,3,2,0],\"values\":[-1.7976931348623157e308,-5e-324,5e-324,"
                "1e308]}");
    /* Fractions keep all their digits. */
    EXPECT_JSON(s,
                "{\"values\": [0.1, 0.30000000000000004, 0.3, 0.2], \"k\": 2, \"largest\": true}",
                "{\"indices\":[1,2],\"values\":[0.30000000000000004,0.3]}");
    /* n = 1, k = n, k = 0. */
    EXPECT_JSON(s, "{\"values\": [42.5], \"k\": 1}", "{\"indices\":[0],\"values\":[42.5]}");
    EXPECT_JSON(s, "{\"values\": [42.5], \"k\": 0}", "{\"indices\":[],\"values\":[]}");
    EXPECT_JSON(s, "{\"values\": [], \"k\": 0}", "{\"indices\":[],\"values\":[]}");
    EXPECT_JSON(s, "{\"values\": [3, 1, 2], \"k\": 0, \"largest\": true}",
                "{\"indices\":[],\"values\":[]}");
}

static void test_rows(struct itest_server *s)
{
    /* Ties and NaN per row. */
    const char *m = "[[1, null, 1, 0], [null, null, 2, 2]]";
    char body[256];
    snprintf(body, sizeof body, "{\"rows\": %s, \"k\": 4}", m);
    EXPECT_JSON(s, body,
                "{\"indices\":[[3,0,2,1],[2,3,0,1]],\"values\":[[0,1,1,null],[2,2,null,null]]}");
    snprintf(body, sizeof body, "{\"rows\": %s, \"k\": 2, \"largest\": true}", m);
    EXPECT_JSON(s, body, "{\"indices\":[[0,2],[2,3]],\"values\":[[1,1],[2,2]]}");
    snprintf(body, sizeof body, "{\"rows\": %s, \"k\": 0}", m);
    EXPECT_JSON(s, body, "{\"indices\":[[],[]],\"values\":[[],[]]}");
    EXPECT_JSON(s, "{\"rows\": [], \"k\": 0}", "{\"indices\":[],\"values\":[]}");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[], []], \"k\": 0}", 422, "at least one column");
    EXPECT_JSON(s, "{\"rows\": [[-0.0, 0.0]], \"k\": 2, \"largest\": true}",
                "{\"indices\":[[0,1]],\"values\":[[-0.0,0.0]]}");

    /*
     * exclude_self: column i leaves row i by index. Every row here has its smallest element
     * off the diagonal, so the seed's np.argpartition(d, k+1)[1:k+1] (drop partition
     * position 0, assumed to be self) keeps the diagonal and drops the true nearest:
     *   row 0 [5 1 9]: ascending cols 1,0,2; seed k=1 -> [0] (itself); ours -> [1]
     *   row 1 [2 7 3]: ascending cols 0,2,1; seed k=1 -> [2];          ours -> [0]
     *   row 2 [4 0 6]: ascending cols 1,0,2; seed k=1 -> [0];          ours -> [1]
     */
    const char *d = "[[5, 1, 9], [2, 7, 3], [4, 0, 6]]";
    static const double dm[3][3] = {{5, 1, 9}, {2, 7, 3}, {4, 0, 6}};
    static const int64_t ours[3] = {1, 0, 1};
    for (int i = 0; i < 3; i++) {
        /* The seed's answer, worked out here by a stable sort of the row. */
        int order[3] = {0, 1, 2};
        for (int a = 1; a < 3; a++)
            for (int b = a; b > 0 && dm[i][order[b]] < dm[i][order[b - 1]]; b--) {
                int t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        CHECK(order[0] != i);       /* smallest is not on the diagonal */
        CHECK(order[1] != ours[i]); /* so the seed's answer differs from ours */
        CHECK(ours[i] == order[0]); /* ours is the true nearest */
    }
    snprintf(body, sizeof body, "{\"rows\": %s, \"k\": 1, \"exclude_self\": true}", d);
    EXPECT_JSON(s, body, "{\"indices\":[[1],[0],[1]],\"values\":[[1],[2],[0]]}");
    snprintf(body, sizeof body, "{\"rows\": %s, \"k\": 2, \"exclude_self\": true}", d);
    EXPECT_JSON(s, body, "{\"indices\":[[1,2],[0,2],[1,0]],\"values\":[[1,9],[2,3],[0,4]]}");
    snprintf(body, sizeof body,
             "{\"rows\": %s, \"k\": 2, \"exclude_self\": true, \"largest\": true}", d);
    EXPECT_JSON(s, body, "{\"indices\":[[2,1],[2,0],[0,1]],\"values\":[[9,1],[3,2],[4,0]]}");
    snprintf(body, sizeof body, "{\"rows\": %s, \"k\": 3}", d);
    EXPECT_JSON(s, body,
                "{\"indices\":[[1,0,2],[0,2,1],[1,0,2]],\"values\":[[1,5,9],[2,3,7],[0,4,6]]}");
    snprintf(body, sizeof body, "{\"rows\": %s, \"k\": 0, \"exclude_self\": true}", d);
    EXPECT_JSON(s, body, "{\"indices\":[[],[],[]],\"values\":[[],[],[]]}");
    /* Self excluded by index even when its value ties another column's. */
    EXPECT_JSON(s,
                "{\"rows\": [[0, 0, 0], [0, 0, 0], [0, 0, 0]], \"k\": 2, \"exclude_self\": true}",
                "{\"indices\":[[1,2],[0,2],[0,1]],\"values\":[[0,0],[0,0],[0,0]]}");
    /* A NaN on the diagonal is excluded by index; NaN elsewhere comes last. */
    EXPECT_JSON(s, "{\"rows\": [[null, null], [3, null]], \"k\": 1, \"exclude_self\": true}",
                "{\"indices\":[[1],[0]],\"values\":[[null],[3]]}");
    EXPECT_JSON(s, "{\"rows\": [[7]], \"k\": 0, \"exclude_self\": true}",
                "{\"indices\":[[]],\"values\":[[]]}");
}

static void test_points(struct itest_server *s)
{
    /*
     * 2-D with duplicates and ties (distances 0, 5, 10 only):
     *   p0 (0,0): p1 5, p2 0, p3 10, p4 5  -> 2, 1 (1 and 4 tie at 5: lower index)
     *   p1 (3,4): p0 5, p2 5, p3 5, p4 0   -> 4, 0
     *   p2 (0,0): p0 0, p1 5, p3 10, p4 5  -> 0, 1
     *   p3 (6,8): p0 10, p1 5, p2 10, p4 5 -> 1, 4
     *   p4 (3,4): p0 5, p1 0, p2 5, p3 5   -> 1, 0
     */
    const char *p = "[[0, 0], [3, 4], [0, 0], [6, 8], [3, 4]]";
    char body[512], want[1024];
    snprintf(body, sizeof body, "{\"points\": %s, \"k\": 2}", p);
    EXPECT_JSON(s, body,
                "{\"indices\":[[2,1],[4,0],[0,1],[1,4],[1,0]],"
                "\"distances\":[[0,5],[0,5],[0,5],[5,5],[0,5]]}");
    snprintf(body, sizeof body, "{\"points\": %s, \"k\": 4}", p);
    EXPECT_JSON(s, body,
                "{\"indices\":[[2,1,4,3],[4,0,2,3],[0,1,4,3],[1,4,0,2],[1,0,2,3]],"
                "\"distances\":[[0,5,5,10],[0,5,5,5],[0,5,5,10],[5,5,10,10],[0,5,5,5]]}");
    snprintf(body, sizeof body, "{\"points\": %s, \"k\": 0}", p);
    EXPECT_JSON(s, body, "{\"indices\":[[],[],[],[],[]],\"distances\":[[],[],[],[],[]]}");

    /* Collinear: p1 and p2 see ties at distance 1 on both sides. */
    EXPECT_JSON(s, "{\"points\": [[0, 0], [1, 0], [2, 0], [3, 0]], \"k\": 2}",
                "{\"indices\":[[1,2],[0,2],[1,3],[2,1]],"
                "\"distances\":[[1,2],[1,1],[1,1],[1,2]]}");

    /*
     * 3-D:
     *   p0 (0,0,0): p1 3, p2 6, p3 3              -> 1, 3, 2
     *   p1 (1,2,2): p0 3, p2 3, p3 sqrt 6         -> 3, 0, 2
     *   p2 (2,4,4): p0 6, p1 3, p3 sqrt 21        -> 1, 3, 0
     *   p3 (0,0,3): p0 3, p1 sqrt 6, p2 sqrt 21   -> 1, 0, 2
     */
    double r6 = sqrt(6.0), r21 = sqrt(21.0);
    snprintf(want, sizeof want,
             "{\"indices\":[[1,3,2],[3,0,2],[1,3,0],[1,0,2]],"
             "\"distances\":[[3,3,6],[%.17g,3,3],[3,%.17g,6],[%.17g,3,%.17g]]}",
             r6, r21, r6, r21);
    EXPECT_JSON(s, "{\"points\": [[0, 0, 0], [1, 2, 2], [2, 4, 4], [0, 0, 3]], \"k\": 3}", want);
    /* A diagonal distance that is not a whole number. */
    snprintf(want, sizeof want, "{\"indices\":[[1],[0]],\"distances\":[[%.17g],[%.17g]]}",
             sqrt(2.0), sqrt(2.0));
    EXPECT_JSON(s, "{\"points\": [[0.5, 0.5], [1.5, 1.5]], \"k\": 1}", want);
    /* One point, k = 0; no points, k = 0. */
    EXPECT_JSON(s, "{\"points\": [[1, 2, 3]], \"k\": 0}", "{\"indices\":[[]],\"distances\":[[]]}");
    EXPECT_JSON(s, "{\"points\": [], \"k\": 0}", "{\"indices\":[],\"distances\":[]}");

    /* JSON in, binary out (Accept). */
    static const int64_t idx[] = {2, 1, 4, 0, 0, 1, 1, 4, 1, 0};
    static const double dist[] = {0, 5, 0, 5, 0, 5, 5, 5, 0, 5};
    snprintf(body, sizeof body, "{\"points\": %s, \"k\": 2}", p);
    expect_binary(s, "/topk", hdr_json_binout, body, strlen(body), 10, idx, dist, __LINE__);
    static const int64_t vidx[] = {5, 6, 1};
    static const double vval[] = {-0.0, 0.0, 1};
    const char *vb = "{\"values\": [3, 1, 2, 1, null, -0.0, 0.0], \"k\": 3}";
    expect_binary(s, "/topk", hdr_json_binout, vb, strlen(vb), 3, vidx, vval, __LINE__);
}

/* ---------------------------------------------------------------------------------------
 * Binary input
 * --------------------------------------------------------------------------------------- */

static void test_binary(struct itest_server *s)
{
    /* values: same data as test_values, plus -inf and +inf. */
    const double x[] = {3, 1, 2, 1, NAN, -0.0, 0.0, INFINITY, -INFINITY};
    float xf[9];
    for (size_t i = 0; i < 9; i++)
        xf[i] = (float)x[i];
    static const int64_t asc[] = {8, 5, 6, 1, 3, 2, 0, 7, 4};
    static const int64_t desc[] = {7, 0, 2, 1, 3, 5, 6, 8, 4};
    double asc_v[9], desc_v[9];
    for (size_t i = 0; i < 9; i++) {
        asc_v[i] = x[asc[i]];
        desc_v[i] = x[desc[i]];
    }
    const char *q9 = "/topk?mode=values&k=9&dtype=float64&shape=9";
    expect_binary(s, q9, hdr_bin_binout, x, sizeof x, 9, asc, asc_v, __LINE__);
    expect_binary(s, "/topk?mode=values&k=9&dtype=float32&shape=9", hdr_bin_binout, xf, sizeof xf,
                  9, asc, asc_v, __LINE__);
    expect_binary(s, "/topk?mode=values&k=9&dtype=float64&shape=9&largest=true", hdr_bin_binout, x,
                  sizeof x, 9, desc, desc_v, __LINE__);
    expect_binary(s, "/topk?largest=1&shape=9&dtype=float32&k=3&mode=values", hdr_bin_binout, xf,
                  sizeof xf, 3, desc, desc_v, __LINE__);
    expect_binary(s, "/topk?mode=values&k=0&dtype=float64&shape=9", hdr_bin_binout, x, sizeof x, 0,
                  asc, asc_v, __LINE__);
    expect_binary(s, "/topk?mode=values&k=0&dtype=float64&shape=0", hdr_bin_binout, NULL, 0, 0, asc,
                  asc_v, __LINE__);
    /* JSON out: infinities have no JSON form and come back as null, like NaN. */
    expect_answer(s, "/topk?mode=values&k=4&dtype=float64&shape=9", hdr_bin, x, sizeof x,
                  "{\"indices\":[8,5,6,1],\"values\":[null,-0.0,0.0,1]}", __LINE__);
    expect_answer(s, "/topk?mode=values&k=4&dtype=float32&shape=9&largest=false", hdr_bin, xf,
                  sizeof xf, "{\"indices\":[8,5,6,1],\"values\":[null,-0.0,0.0,1]}", __LINE__);
    expect_answer(s, "/topk?mode=values&k=0&dtype=float32&shape=0", hdr_bin, NULL, 0,
                  "{\"indices\":[],\"values\":[]}", __LINE__);
    /* A Content-Type with parameters is still binary. */
    static const char *const hdr_bin_param[] = {
        "Content-Type: application/octet-stream; charset=binary", NULL};
    expect_answer(s, "/topk?mode=values&k=1&dtype=float64&shape=9&largest=true", hdr_bin_param, x,
                  sizeof x, "{\"indices\":[7],\"values\":[null]}", __LINE__);

    /* rows: the off-diagonal matrix of test_rows, float32 and float64. */
    const double d[9] = {5, 1, 9, 2, 7, 3, 4, 0, 6};
    float df[9];
    for (size_t i = 0; i < 9; i++)
        df[i] = (float)d[i];
    static const int64_t ridx[] = {1, 2, 0, 2, 1, 0};
    static const double rval[] = {1, 9, 2, 3, 0, 4};
    expect_binary(s, "/topk?mode=rows&k=2&dtype=float64&shape=3,3&exclude_self=true",
                  hdr_bin_binout, d, sizeof d, 6, ridx, rval, __LINE__);
    expect_binary(s, "/topk?mode=rows&k=2&dtype=float32&shape=3,3&exclude_self=true",
                  hdr_bin_binout, df, sizeof df, 6, ridx, rval, __LINE__);
    expect_answer(s, "/topk?mode=rows&k=1&dtype=float32&shape=3,3&exclude_self=true&largest=true",
                  hdr_bin, df, sizeof df, "{\"indices\":[[2],[2],[0]],\"values\":[[9],[3],[4]]}",
                  __LINE__);
    /* The same 9 numbers as 1 x 9 and 9 x 1 (not square: no exclude_self). */
    expect_answer(s, "/topk?mode=rows&k=2&dtype=float64&shape=1,9", hdr_bin, d, sizeof d,
                  "{\"indices\":[[7,1]],\"values\":[[0,1]]}", __LINE__);
    expect_answer(s, "/topk?mode=rows&k=1&dtype=float64&shape=9,1&largest=true", hdr_bin, d,
                  sizeof d,
                  "{\"indices\":[[0],[0],[0],[0],[0],[0],[0],[0],[0]],"
                  "\"values\":[[5],[1],[9],[2],[7],[3],[4],[0],[6]]}",
                  __LINE__);
    expect_answer(s, "/topk?mode=rows&k=0&dtype=float64&shape=0,4", hdr_bin, NULL, 0,
                  "{\"indices\":[],\"values\":[]}", __LINE__);

    /* points: the 2-D set of test_points as float64 and float32, and the 3-D set. */
    const double p[10] = {0, 0, 3, 4, 0, 0, 6, 8, 3, 4};
    float pf[10];
    for (size_t i = 0; i < 10; i++)
        pf[i] = (float)p[i];
    static const int64_t pidx[] = {2, 1, 4, 0, 0, 1, 1, 4, 1, 0};
    static const double pdist[] = {0, 5, 0, 5, 0, 5, 5, 5, 0, 5};
    expect_binary(s, "/topk?mode=points&k=2&dtype=float64&shape=5,2", hdr_bin_binout, p, sizeof p,
                  10, pidx, pdist, __LINE__);
    expect_binary(s, "/topk?mode=points&k=2&dtype=float32&shape=5,2", hdr_bin_binout, pf, sizeof pf,
                  10, pidx, pdist, __LINE__);
    const float p3[12] = {0, 0, 0, 1, 2, 2, 2, 4, 4, 0, 0, 3};
    double r6 = sqrt(6.0), r21 = sqrt(21.0);
    const int64_t idx3[] = {1, 3, 2, 3, 0, 2, 1, 3, 0, 1, 0, 2};
    const double dist3[] = {3, 3, 6, r6, 3, 3, 3, r21, 6, r6, 3, r21};
    expect_binary(s, "/topk?mode=points&k=3&dtype=float32&shape=4,3", hdr_bin_binout, p3, sizeof p3,
                  12, idx3, dist3, __LINE__);
    expect_answer(s, "/topk?mode=points&k=1&dtype=float64&shape=5,2", hdr_bin, p, sizeof p,
                  "{\"indices\":[[2],[4],[0],[1],[1]],\"distances\":[[0],[0],[0],[5],[0]]}",
                  __LINE__);
    expect_answer(s, "/topk?mode=points&k=0&dtype=float64&shape=0,2", hdr_bin, NULL, 0,
                  "{\"indices\":[],\"distances\":[]}", __LINE__);
}

/* ---------------------------------------------------------------------------------------
 * Every 400 / 422
 * --------------------------------------------------------------------------------------- */

static void test_json_errors(struct itest_server *s)
{
    /* k against what is available: 422 stating the maximum. */
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": 3}", 422, "at most 2");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [], \"k\": 1}", 422, "at most 0");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, 2], [3, 4]], \"k\": 3}", 422, "at most 2");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, 2], [3, 4]], \"k\": 2, \"exclude_self\": true}", 422,
                        "at most 1");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1]], \"k\": 1, \"exclude_self\": true}", 422, "at most 0");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, 0], [1, 1]], \"k\": 2}", 422, "at most 1");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, 0, 0]], \"k\": 1}", 422, "at most 0");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [], \"k\": 1}", 422, "at most 0");

    /* k itself. */
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": -1}", 400, "'k'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": 1.5}", 400, "'k'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": 1.0}", 400, "'k'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": 1e3}", 400, "'k'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": \"1\"}", 400, "'k'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": null}", 400, "'k'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1]}", 400, "'k'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": 9223372036854775807}", 422, "--max-k");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": 1000001}", 422, "--max-k");
    /* Beyond int64 jansson refuses the document; the detail points at the number. */
    EXPECT_JSON_PROBLEM(s, "{\"values\": [3, 1], \"k\": 99999999999999999999}", 400,
                        "99999999999999999999");

    /* Shapes and element types. */
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, 2], [3]], \"k\": 1}", 422, "rows[1]");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, 2], [3, 4, 5]], \"k\": 1}", 422, "rows[1]");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, 2], 3], \"k\": 1}", 422, "rows[1]");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [1, 2], \"k\": 1}", 422, "rows[0]");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, \"2\"]], \"k\": 1}", 422, "rows[0][1]");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, [2]]], \"k\": 1}", 422, "rows[0][1]");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1, \"a\"], \"k\": 1}", 422, "values[1]");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1, [2]], \"k\": 1}", 422, "values[1]");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [true], \"k\": 1}", 422, "values[0]");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, 0], [1, 1, 1]], \"k\": 1}", 422, "points[1]");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, 0, 0], [1, 1]], \"k\": 1}", 422, "points[1]");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, 0, 0, 0], [1, 1, 1, 1]], \"k\": 1}", 422, "2 or 3");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0], [1]], \"k\": 1}", 422, "2 or 3");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[], []], \"k\": 0}", 422, "2 or 3");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, null], [1, 1]], \"k\": 1}", 422, "points[0][1]");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, 0], [1, 1], [2, \"x\"]], \"k\": 1}", 422,
                        "points[2][1]");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [0, 1], \"k\": 1}", 422, "points[0]");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, 2, 3], [3, 4, 5]], \"k\": 1, \"exclude_self\": true}",
                        422, "square");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1, 2], [3, 4], [5, 6]], \"k\": 0, \"exclude_self\": true}",
                        422, "square");

    /* Fields. */
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1], \"points\": [[0, 0]], \"k\": 0}", 400, "exactly one");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1], \"rows\": [[0]], \"k\": 0}", 400, "exactly one");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1]], \"points\": [[0, 0]], \"k\": 0}", 400, "exactly one");
    EXPECT_JSON_PROBLEM(s, "{\"k\": 0}", 400, "exactly one");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1], \"k\": 1, \"bogus\": 1}", 400, "'bogus'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1], \"k\": 1, \"K\": 1}", 400, "'K'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": 3, \"k\": 1}", 400, "'values'");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": {}, \"k\": 1}", 400, "'rows'");
    EXPECT_JSON_PROBLEM(s, "{\"points\": \"0,0\", \"k\": 1}", 400, "'points'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1], \"k\": 1, \"largest\": 1}", 400, "'largest'");
    EXPECT_JSON_PROBLEM(s, "{\"rows\": [[1]], \"k\": 0, \"exclude_self\": \"yes\"}", 400,
                        "'exclude_self'");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1, 2], \"k\": 1, \"exclude_self\": true}", 400,
                        "exclude_self");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, 0], [1, 1]], \"k\": 1, \"exclude_self\": true}", 400,
                        "exclude_self");
    EXPECT_JSON_PROBLEM(s, "{\"points\": [[0, 0], [1, 1]], \"k\": 1, \"largest\": false}", 400,
                        "largest");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1], \"k\": 1, \"k\": 1}", 400, NULL);

    /* The document itself. */
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1], \"k\": 1", 400, "not valid JSON");
    EXPECT_JSON_PROBLEM(s, "[1, 2, 3]", 400, "object");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [NaN], \"k\": 1}", 400, "not valid JSON");
    EXPECT_JSON_PROBLEM(s, "{\"values\": [1e400], \"k\": 1}", 400, "not valid JSON");
    expect_problem_at(s, "/topk", hdr_json, "", 0, 400, "empty", __LINE__);
    static const char *const hdr_text[] = {"Content-Type: text/plain", NULL};
    const char *ok = "{\"values\": [1], \"k\": 1}";
    expect_problem_at(s, "/topk", hdr_text, ok, strlen(ok), 415, "application/json", __LINE__);

    /* Query parameters on a JSON request: none are taken. */
    expect_problem_at(s, "/topk?x=1", hdr_json, ok, strlen(ok), 400, "'x'", __LINE__);
    expect_problem_at(s, "/topk?k=1", hdr_json, ok, strlen(ok), 400, "'k'", __LINE__);
    expect_problem_at(s, "/topk?mode=values", hdr_json, ok, strlen(ok), 400, "'mode'", __LINE__);

    /* With Accept: application/octet-stream an error is still problem+json. */
    const char *big = "{\"values\": [3, 1], \"k\": 3}";
    expect_problem_at(s, "/topk", hdr_json_binout, big, strlen(big), 422, "at most 2", __LINE__);

    /* Other methods. */
    struct itest_reply r;
    CHECK(itest_request(s, "GET", "/topk", NULL, NULL, 0, &r));
    itest_is_problem(&r, 405);
    itest_reply_cleanup(&r);
}

static void test_binary_errors(struct itest_server *s)
{
    const double x[4] = {4, 3, 2, 1};
    const void *b = x;
    size_t n = sizeof x;

    /* k against what is available. */
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=5&dtype=float64&shape=4", b, n, 422, "at most 4");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=9&dtype=float32&shape=8", b, n, 422, "at most 8");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=0", NULL, 0, 422, "at most 0");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=3&dtype=float64&shape=2,2", b, n, 422, "at most 2");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=2&dtype=float64&shape=2,2&exclude_self=true", b, n,
                       422, "at most 1");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=2&dtype=float64&shape=2,2", b, n, 422, "at most 1");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=4&dtype=float32&shape=4,2", b, n, 422, "at most 3");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=0&dtype=float64&shape=1,4&exclude_self=true", b, n,
                       422, "square");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float32&shape=4,2&exclude_self=true", b, n,
                       422, "square");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=1&dtype=float64&shape=1,4", b, n, 422, "2 or 3");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=1&dtype=float32&shape=2,4", b, n, 422, "2 or 3");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=1&dtype=float64&shape=4,1", b, n, 422, "2 or 3");

    /* Rows without columns: a few bytes of query must not become N empty rows. */
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=0&dtype=float64&shape=1000000000,0", NULL, 0, 422,
                       "at least one column");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=0&dtype=float32&shape=1,0", NULL, 0, 422,
                       "at least one column");

    /* k itself. */
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=-1&dtype=float64&shape=4", b, n, 400, "'k'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1.5&dtype=float64&shape=4", b, n, 400, "'k'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1e3&dtype=float64&shape=4", b, n, 400, "'k'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=&dtype=float64&shape=4", b, n, 400, "'k'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=two&dtype=float64&shape=4", b, n, 400, "'k'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=99999999999999999999999&dtype=float64&shape=4", b, n,
                       400, "'k'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=18446744073709551616&dtype=float64&shape=4", b, n,
                       400, "'k'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1000001&dtype=float64&shape=4", b, n, 422,
                       "--max-k");
    /* The largest uint64 is an integer in range: over --max-k, like the JSON path's 2^63-1. */
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=18446744073709551615&dtype=float64&shape=4", b, n,
                       422, "--max-k");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&dtype=float64&shape=4", b, n, 400, "k");

    /* Non-finite coordinates. */
    const double pn[4] = {0, NAN, 1, 1};
    const double pi[6] = {0, 0, 1, 1, -INFINITY, 2};
    const float pfi[4] = {0, 0, INFINITY, 1};
    struct itest_reply r;
    const char *nan_targets[] = {"/topk?mode=points&k=1&dtype=float64&shape=2,2",
                                 "/topk?mode=points&k=1&dtype=float64&shape=3,2",
                                 "/topk?mode=points&k=1&dtype=float32&shape=2,2"};
    const void *nan_bodies[] = {pn, pi, pfi};
    const size_t nan_lens[] = {sizeof pn, sizeof pi, sizeof pfi};
    const char *nan_where[] = {"points[0]", "points[2]", "points[1]"};
    for (size_t i = 0; i < 3; i++) {
        /* 400 (knn's INVALID) or 422 (like JSON's null): either names the point. */
        if (!CHECK(
                itest_request(s, "POST", nan_targets[i], hdr_bin, nan_bodies[i], nan_lens[i], &r)))
            continue;
        CHECK(r.status == 400 || r.status == 422);
        itest_is_problem(&r, r.status);
        const char *detail = json_string_value(json_object_get(r.json, "detail"));
        if (!CHECK(detail != NULL && strstr(detail, nan_where[i]) != NULL))
            fprintf(stderr, "    non-finite case %zu: %s\n", i, r.body);
        itest_reply_cleanup(&r);
    }

    /* The body against the shape. */
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=5", b, n, 400, "32 bytes");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=3", b, n, 400, "32 bytes");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float32&shape=4", b, n, 400, "32 bytes");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=4", b, n - 1, 400, "31 bytes");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float64&shape=2,3", b, n, 400, "32 bytes");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=1&dtype=float64&shape=1,3", b, n, 400, "32 bytes");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=0&dtype=float64&shape=0", b, n, 400, "32 bytes");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=1", NULL, 0, 400, "0 bytes");

    /* dtype, mode, shape. */
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=int8&shape=32", b, n, 400, "'dtype'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float16&shape=16", b, n, 400, "'dtype'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=FLOAT64&shape=4", b, n, 400, "'dtype'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=&shape=4", b, n, 400, "'dtype'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=value&k=1&dtype=float64&shape=4", b, n, 400, "'mode'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=&k=1&dtype=float64&shape=4", b, n, 400, "'mode'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=knn&k=1&dtype=float64&shape=2,2", b, n, 400, "'mode'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64", b, n, 400, "shape");
    EXPECT_BIN_PROBLEM(s, "/topk?k=1&dtype=float64&shape=4", b, n, 400, "mode");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&shape=4", b, n, 400, "dtype");
    EXPECT_BIN_PROBLEM(s, "/topk", b, n, 400, "mode");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=2,2", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=4,1", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float64&shape=4", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=1&dtype=float64&shape=4", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float64&shape=1,2,2", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=1&dtype=float64&shape=1,1,2,2", b, n, 400,
                       "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float64&shape=2,", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float64&shape=,2", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float64&shape=2x2", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=-4", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=four", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=", b, n, 400, "'shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=18446744073709551616", b, n,
                       400, "shape");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float64&shape=4294967296,4294967296", b, n,
                       400, "shape");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=2305843009213693952", b, n,
                       400, "shape");

    /* Other parameters. */
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=4&foo=2", b, n, 400, "'foo'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=4&Shape=4", b, n, 400,
                       "'Shape'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=4&largest=maybe", b, n, 400,
                       "'largest'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=rows&k=1&dtype=float64&shape=2,2&exclude_self=2", b, n, 400,
                       "'exclude_self'");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=4&k=2", b, n, 400, "k");
    /* As on the JSON path: exclude_self is for rows only, largest is not for points. */
    EXPECT_BIN_PROBLEM(s, "/topk?mode=values&k=1&dtype=float64&shape=4&exclude_self=true", b, n,
                       400, "exclude_self");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=1&dtype=float64&shape=2,2&exclude_self=true", b, n,
                       400, "exclude_self");
    EXPECT_BIN_PROBLEM(s, "/topk?mode=points&k=1&dtype=float64&shape=2,2&largest=true", b, n, 400,
                       "largest");

    /* With Accept: application/octet-stream an error is still problem+json. */
    expect_problem_at(s, "/topk?mode=values&k=5&dtype=float64&shape=4", hdr_bin_binout, b, n, 422,
                      "at most 4", __LINE__);
    expect_problem_at(s, "/topk?mode=values&k=1&dtype=float64&shape=5", hdr_bin_binout, b, n, 400,
                      "32 bytes", __LINE__);
}

/* ---------------------------------------------------------------------------------------
 * Limits, on a server started with small ones
 * --------------------------------------------------------------------------------------- */

static void test_limits(const char *root)
{
    struct itest_server s;
    const char *const args[] = {"--max-json-values",
                                "10",
                                "--max-json-body",
                                "1024",
                                "--max-binary-body",
                                "1024",
                                "--max-k",
                                "5",
                                "--max-results",
                                "12",
                                NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;

    /* --max-json-values: 10 numbers pass, 11 are 413. */
    EXPECT_JSON(&s, "{\"values\": [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], \"k\": 5}",
                "{\"indices\":[9,8,7,6,5],\"values\":[0,1,2,3,4]}");
    EXPECT_JSON_PROBLEM(&s, "{\"values\": [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1], \"k\": 1}", 413,
                        "--max-json-values");
    EXPECT_JSON_PROBLEM(&s, "{\"rows\": [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]], \"k\": 1}",
                        413, "--max-json-values");
    EXPECT_JSON(&s, "{\"rows\": [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]], \"k\": 1}",
                "{\"indices\":[[0],[4]],\"values\":[[1],[1]]}");
    EXPECT_JSON_PROBLEM(&s,
                        "{\"points\": [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]], \"k\": 1}",
                        413, "--max-json-values");
    EXPECT_JSON(&s, "{\"points\": [[0, 0], [1, 0], [3, 0], [6, 0], [10, 0]], \"k\": 1}",
                "{\"indices\":[[1],[0],[1],[2],[3]],\"distances\":[[1],[1],[2],[3],[4]]}");
    /* Binary input is not bound by it. */
    double many[100];
    for (int i = 0; i < 100; i++)
        many[i] = (double)((i * 37) % 100);
    expect_answer(&s, "/topk?mode=values&k=3&dtype=float64&shape=100", hdr_bin, many, sizeof many,
                  "{\"indices\":[0,73,46],\"values\":[0,1,2]}", __LINE__);

    /* --max-k, before what is available. */
    EXPECT_JSON_PROBLEM(&s, "{\"values\": [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], \"k\": 6}", 422,
                        "--max-k");
    EXPECT_JSON_PROBLEM(&s, "{\"values\": [1], \"k\": 6}", 422, "--max-k");
    EXPECT_BIN_PROBLEM(&s, "/topk?mode=values&k=6&dtype=float64&shape=100", many, sizeof many, 422,
                       "--max-k");
    EXPECT_BIN_PROBLEM(&s, "/topk?mode=rows&k=6&dtype=float64&shape=10,10", many, sizeof many, 422,
                       "--max-k");

    /* --max-results: rows x k and points x k, never past 12 here. */
    EXPECT_BIN_PROBLEM(&s, "/topk?mode=rows&k=2&dtype=float64&shape=10,10", many, 800, 413,
                       "--max-results");
    EXPECT_BIN_PROBLEM(&s, "/topk?mode=points&k=2&dtype=float64&shape=7,2", many, 112, 413,
                       "--max-results");
    EXPECT_JSON(&s, "{\"points\": [[0, 0], [1, 0], [3, 0], [6, 0], [10, 0]], \"k\": 2}",
                "{\"indices\":[[1,2],[0,2],[1,0],[2,4],[3,2]],"
                "\"distances\":[[1,3],[1,2],[2,3],[3,4],[4,7]]}");
    EXPECT_JSON_PROBLEM(&s, "{\"points\": [[0, 0], [1, 0], [3, 0], [6, 0], [10, 0]], \"k\": 3}",
                        413, "--max-results");

    /* --max-json-body: 1024 bytes pass, 1025 are 413 (from Content-Length). */
    char body[1100];
    const char *head = "{\"values\": [2, 1], \"k\": 1";
    size_t hl = strlen(head);
    memcpy(body, head, hl);
    memset(body + hl, ' ', 1023 - hl);
    body[1023] = '}';
    expect_answer(&s, "/topk", hdr_json, body, 1024, "{\"indices\":[1],\"values\":[1]}", __LINE__);
    memset(body + hl, ' ', 1024 - hl);
    body[1024] = '}';
    expect_problem_at(&s, "/topk", hdr_json, body, 1025, 413, "1024", __LINE__);

    /* --max-binary-body: 128 float64 pass, 129 are 413. */
    double vals[129];
    for (int i = 0; i < 129; i++)
        vals[i] = 1000.0 - i;
    expect_answer(&s, "/topk?mode=values&k=1&dtype=float64&shape=128", hdr_bin, vals, 1024,
                  "{\"indices\":[127],\"values\":[873]}", __LINE__);
    EXPECT_BIN_PROBLEM(&s, "/topk?mode=values&k=1&dtype=float64&shape=129", vals, sizeof vals, 413,
                       "1024");

    /* Still healthy, and stops cleanly. */
    struct itest_reply r;
    CHECK(itest_request(&s, "GET", "/healthz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_free(&s);
}

/* --request-timeout reaches knn, topk and the JSON renderer: 10^6 points with k = 10 take
 * far longer than 100 ms on any machine, so the answer must be a 503 naming the deadline,
 * and the server stays healthy. */
static void test_deadline(const char *root)
{
    struct itest_server s;
    const char *const args[] = {"--request-timeout", "100", NULL};
    if (!CHECK(itest_start(&s, root, args)))
        return;
    const size_t n = 1000000;
    float *pts = malloc(n * 2 * sizeof *pts);
    double *vals = malloc(n * 8 * sizeof *vals);
    if (CHECK(pts != NULL && vals != NULL)) {
        uint64_t rng = 5;
        for (size_t i = 0; i < 2 * n; i++)
            pts[i] = (float)check_rng_double(&rng);
        for (size_t i = 0; i < 8 * n; i++)
            vals[i] = check_rng_double(&rng);
        EXPECT_BIN_PROBLEM(&s, "/topk?mode=points&k=10&dtype=float32&shape=1000000,2", pts,
                           n * 2 * sizeof *pts, 503, "deadline");
        EXPECT_BIN_PROBLEM(&s, "/topk?mode=rows&k=8&dtype=float64&shape=1000000,8", vals,
                           n * 8 * sizeof *vals, 503, "deadline");
    }
    free(pts);
    free(vals);
    struct itest_reply r;
    CHECK(itest_request(&s, "GET", "/healthz", NULL, NULL, 0, &r));
    CHECK_INT(r.status, 200);
    itest_reply_cleanup(&r);
    CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
    itest_free(&s);
}

int main(void)
{
    char root[512];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    check_tmpdir(root, sizeof root);

    struct itest_server s;
    const char *const args[] = {"--threads", "4", NULL};
    if (CHECK(itest_start(&s, root, args))) {
        test_values(&s);
        test_rows(&s);
        test_points(&s);
        test_binary(&s);
        test_json_errors(&s);
        test_binary_errors(&s);
        struct itest_reply r;
        CHECK(itest_request(&s, "GET", "/metrics", NULL, NULL, 0, &r));
        CHECK(strstr(r.body, "route=\"/topk\",method=\"POST\",code=\"200\"") != NULL);
        CHECK(strstr(r.body, "route=\"/topk\",method=\"POST\",code=\"422\"") != NULL);
        itest_reply_cleanup(&r);
        CHECK_INT(itest_stop(&s, SIGTERM, 10), 0);
        itest_free(&s);
    }
    test_limits(root);
    test_deadline(root);

    check_rmtree(root);
    curl_global_cleanup();
    return check_finish("itest_topk");
}
