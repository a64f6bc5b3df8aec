/*
 * classify_zarr.c - Zarr v2 / v3, OME-NGFF and bioformats2raw stores told apart by the keys
 * of their metadata; see classify_zarr.h.
 *
 * The one design decision: nothing is parsed into a tree. Each metadata file is read whole
 * into one NUL-terminated buffer, checked once to be a well-formed JSON object, and then
 * queried in place with core/json_scan, so hostile metadata costs bounded time and one
 * buffer of at most json_max bytes.
 */
#include "classify_zarr.h"

#include "alloc.h"
#include "classify_zarr_layout.h"
#include "confine.h"
#include "json_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading metadata files -------------------------------------------------------------- */

struct classify_zarr_json {
    char *text; /* NUL-terminated, or NULL when the file is absent */
    size_t len;
};

/* Where the store is: metadata file NAME is opened as dir/NAME beneath root_fd. */
struct classify_zarr_store {
    int root_fd;
    const char *dir; /* "" when root_fd is the store itself */
    size_t dir_len;  /* trailing '/' dropped */
};

/* Names a metadata lookup may use: as many components as a bioformats2raw series' dataset
 * path needs, none of them empty, "." or "..". Anything else is treated as absent. */
#define CLASSIFY_ZARR_NAME_DEPTH 8u

static bool classify_zarr_name_ok(const char *rel)
{
    unsigned parts = 0;
    for (const char *p = rel;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n > CONFINE_COMPONENT_MAX || (n == 1 && p[0] == '.') ||
            (n == 2 && p[0] == '.' && p[1] == '.') || ++parts > CLASSIFY_ZARR_NAME_DEPTH)
            return false;
        if (slash == NULL)
            return true;
        p = slash + 1;
    }
}

/* Open metadata file rel of the store through core/confine. Returns ERROR_OK with *fd = -1
 * when it is absent (no such file, or a component on the way is not a directory). */
static enum error_code classify_zarr_open(const struct classify_zarr_store *z, const char *rel,
                                          int *fd, struct stat *st, struct error_info *err)
{
    *fd = -1;
    if (!classify_zarr_name_ok(rel))
        return ERROR_OK;
    char full[CONFINE_PATH_MAX + 1];
    size_t rlen = strlen(rel);
    if (z->dir_len + 1 + rlen > CONFINE_PATH_MAX)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "Zarr metadata %s: the path to it is over %d bytes long", rel,
                         CONFINE_PATH_MAX);
    size_t n = 0;
    if (z->dir_len > 0) {
        memcpy(full, z->dir, z->dir_len);
        full[z->dir_len] = '/';
        n = z->dir_len + 1;
    }
    memcpy(full + n, rel, rlen + 1);
    struct error_info oerr;
    error_init(&oerr);
    if (confine_open(z->root_fd, full, n + rlen, CONFINE_ANY, fd, st, &oerr) == ERROR_OK)
        return ERROR_OK;
    if (oerr.code == ERROR_NOT_FOUND || oerr.sys_errno == ENOTDIR)
        return ERROR_OK;
    if (oerr.sys_errno == EXDEV)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "Zarr metadata %s is a symlink that leads outside the data root", rel);
    *err = oerr;
    return oerr.code;
}

/* Read up to len bytes of fd from offset 0 into buf; *got < len only when the file shrank. */
static enum error_code classify_zarr_read(int fd, char *buf, size_t len, const char *rel,
                                          size_t *got, struct error_info *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return error_set(err, ERROR_IO, "cannot read Zarr metadata %s: %s", rel,
                             strerrordesc_np(errno));
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return ERROR_OK;
}

static enum error_code classify_zarr_load(const struct classify_zarr_store *z, const char *rel,
                                          size_t max, struct classify_zarr_json *jf,
                                          struct error_info *err)
{
    jf->text = NULL;
    jf->len = 0;
    int fd;
    struct stat st;
    enum error_code rc = classify_zarr_open(z, rel, &fd, &st, err);
    if (rc != ERROR_OK || fd < 0)
        return rc;
    if (!S_ISREG(st.st_mode)) {
        rc = error_set(err, ERROR_UNPROCESSABLE, "Zarr metadata %s is not a regular file", rel);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "Zarr metadata %s is %lld bytes, over the %zu-byte limit", rel,
                       (long long)st.st_size, max);
        goto out;
    }
    jf->text = alloc_bytes((size_t)st.st_size + 1);
    if (jf->text == NULL) {
        rc = error_set(err, ERROR_NO_MEMORY, "out of memory reading Zarr metadata %s", rel);
        goto out;
    }
    size_t got = 0;
    rc = classify_zarr_read(fd, jf->text, (size_t)st.st_size, rel, &got, err);
    if (rc == ERROR_OK) {
        jf->len = got;
        jf->text[got] = '\0';
        if (!json_scan_is_object(jf->text, jf->text + got))
            rc = error_set(err, ERROR_UNPROCESSABLE, "corrupt Zarr: %s is not a JSON object", rel);
    }
    if (rc != ERROR_OK) {
        free(jf->text);
        jf->text = NULL;
    }
out:
    close(fd);
    return rc;
}

/* ---- facts of an array ---------------------------------------------------------------------
 *
 * From the array's own metadata (v2 .zarray, v3 zarr.json), with the axes a multiscales
 * entry names when there is one.
 */

static void classify_zarr_dtype(const char *v3_or_v2, char *out)
{
    /* v3 names are numpy names already; v2 is "<u2", "|b1", "<f4", "<c8" */
    const char *s = v3_or_v2;
    if ((s[0] == '<' || s[0] == '>' || s[0] == '|') && s[1] != '\0' && s[2] != '\0') {
        unsigned long n = strtoul(s + 2, NULL, 10);
        char buf[CLASSIFY_NAME_MAX];
        buf[0] = '\0';
        switch (s[1]) {
        case 'b':
            snprintf(buf, sizeof buf, "bool");
            break;
        case 'u':
            snprintf(buf, sizeof buf, "uint%lu", n * 8);
            break;
        case 'i':
            snprintf(buf, sizeof buf, "int%lu", n * 8);
            break;
        case 'f':
            snprintf(buf, sizeof buf, "float%lu", n * 8);
            break;
        case 'c':
            snprintf(buf, sizeof buf, "complex%lu", n * 8);
            break;
        default:
            break;
        }
        classify_name_copy(out, buf);
        return;
    }
    classify_name_copy(out, s);
}

/* Fill shape, dtype, chunks and compression from an array's metadata text (v2 .zarray or
 * v3 zarr.json); x, y and c are axis indices (-1 = unknown: last, second-last, none). */
static void classify_zarr_array(const struct classify_zarr_json *jf, bool v3, int x, int y, int c,
                                struct classify_result *out)
{
    const char *end = jf->text + jf->len;
    const char *shape = json_scan_member(jf->text, end, "shape");
    size_t ndim = json_scan_length(shape, end);
    if (ndim == 0)
        return;
    if (x < 0 || (size_t)x >= ndim)
        x = (int)ndim - 1;
    if ((y < 0 || (size_t)y >= ndim) && ndim >= 2)
        y = (int)ndim - 2;
    uint64_t v;
    if (json_scan_uint(json_scan_index(shape, end, (size_t)x), end, &v))
        out->width = v;
    if (y >= 0 && json_scan_uint(json_scan_index(shape, end, (size_t)y), end, &v))
        out->height = v;
    out->channels = 1;
    if (c >= 0 && (size_t)c < ndim &&
        json_scan_uint(json_scan_index(shape, end, (size_t)c), end, &v) && v <= UINT32_MAX)
        out->channels = (uint32_t)v;
    char name[64];
    if (json_scan_string(json_scan_member(jf->text, end, v3 ? "data_type" : "dtype"), end, name,
                         sizeof name))
        classify_zarr_dtype(name, out->dtype);
    const char *chunks = json_scan_member(jf->text, end, "chunks");
    if (v3)
        chunks = json_scan_member(
            json_scan_member(json_scan_member(jf->text, end, "chunk_grid"), end, "configuration"),
            end, "chunk_shape");
    uint64_t cw, ch;
    if (json_scan_uint(json_scan_index(chunks, end, (size_t)x), end, &cw) && y >= 0 &&
        json_scan_uint(json_scan_index(chunks, end, (size_t)y), end, &ch)) {
        out->tiled = true;
        out->tile_width = (uint32_t)(cw > UINT32_MAX ? UINT32_MAX : cw);
        out->tile_height = (uint32_t)(ch > UINT32_MAX ? UINT32_MAX : ch);
    }
    classify_name_copy(out->compression, "none");
    if (!v3) {
        const char *comp = json_scan_member(jf->text, end, "compressor");
        if (json_scan_string(json_scan_member(comp, end, "id"), end, name, sizeof name))
            classify_name_copy(out->compression, name);
    } else {
        const char *codecs = json_scan_member(jf->text, end, "codecs");
        for (size_t i = 0;; i++) {
            const char *codec = json_scan_index(codecs, end, i);
            if (codec == NULL ||
                !json_scan_string(json_scan_member(codec, end, "name"), end, name, sizeof name))
                break;
            if (strcmp(name, "bytes") != 0 && strcmp(name, "transpose") != 0 &&
                strcmp(name, "endian") != 0) {
                classify_name_copy(out->compression, name);
                break;
            }
        }
    }
}

/* ---- groups --------------------------------------------------------------------------------
 *
 * A group's attributes say OME-NGFF (multiscales) or bioformats2raw (a layout key, with the
 * multiscales one level down, in series "0/"); the first dataset is then read as an array.
 */

/* A JSON number at v as a double; false for anything else. */
static bool classify_zarr_number(const char *v, const char *end, double *out)
{
    const char *e = json_scan_skip(v, end, 1);
    if (v == NULL || e == NULL)
        return false;
    while (v < e && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'))
        v++;
    char buf[40];
    size_t n = (size_t)(e - v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\n' || v[n - 1] == '\r'))
        n--;
    if (n == 0 || n >= sizeof buf || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
        return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *stop;
    *out = strtod(buf, &stop);
    return *stop == '\0';
}

/* Axes of a multiscales entry: indices of x, y, z, t and c (-1 = none), and each axis' unit
 * (an NGFF unit name, "micrometer", or ""). */
#define CLASSIFY_ZARR_AXES 16
struct classify_zarr_axes {
    int x, y, z, t, c;
    unsigned n; /* axes named, in order */
    char unit[CLASSIFY_ZARR_AXES][CLASSIFY_UNIT_MAX];
    char name[CLASSIFY_ZARR_AXES][CLASSIFY_AXIS_LEN];
};

/* The first dataset's "scale" transformation for x, y and z, with the axes' units. */
static void classify_zarr_scale(const char *dataset, const char *end,
                                const struct classify_zarr_axes *ax, struct classify_result *out)
{
    const char *cts = json_scan_member(dataset, end, "coordinateTransformations");
    const int idx[3] = {ax->x, ax->y, ax->z};
    for (size_t i = 0; i < 8; i++) {
        const char *ct = json_scan_index(cts, end, i);
        char type[16];
        if (ct == NULL)
            return;
        if (!json_scan_string(json_scan_member(ct, end, "type"), end, type, sizeof type) ||
            strcmp(type, "scale") != 0)
            continue;
        const char *scale = json_scan_member(ct, end, "scale");
        for (int a = 0; a < 3; a++) {
            double v;
            if (idx[a] < 0 ||
                !classify_zarr_number(json_scan_index(scale, end, (size_t)idx[a]), end, &v) ||
                !(v > 0) || v > 1e300)
                continue;
            out->physical.size[a] = v;
            classify_name_copy(out->physical.unit[a], ax->unit[idx[a]]);
            classify_name_copy(out->physical.source, "ngff");
        }
        return;
    }
}

/* omero.channels[].label, the channel names of an OME-NGFF image. */
static void classify_zarr_channel_names(const char *attrs, const char *end,
                                        struct classify_result *out)
{
    const char *omero = json_scan_member(attrs, end, "omero");
    if (omero == NULL)
        omero = json_scan_member(json_scan_member(attrs, end, "ome"), end, "omero");
    const char *channels = json_scan_member(omero, end, "channels");
    size_t n = json_scan_length(channels, end);
    if (n > CLASSIFY_CHANNEL_NAMES_MAX)
        n = CLASSIFY_CHANNEL_NAMES_MAX;
    for (size_t i = 0; i < n; i++)
        if (!json_scan_string(json_scan_member(json_scan_index(channels, end, i), end, "label"),
                              end, out->channel_names[i], CLASSIFY_CHANNEL_NAME_LEN))
            out->channel_names[i][0] = '\0';
    out->channel_name_count = (uint8_t)n;
}

/* The path and shape of each dataset of a multiscales entry (the first CLASSIFY_LEVELS_MAX):
 * each level's array metadata is read (v2 .zarray or v3 zarr.json, as level 0's); a level
 * whose metadata is absent has ndim 0. */
static enum error_code classify_zarr_levels(const struct classify_zarr_store *z, const char *prefix,
                                            const char *datasets, const char *end, bool v3,
                                            size_t max, struct classify_result *out,
                                            struct error_info *err)
{
    size_t n = json_scan_length(datasets, end);
    out->zarr.level_count = 0;
    for (size_t i = 0; i < n && i < CLASSIFY_LEVELS_MAX; i++) {
        struct classify_zarr_level *l = &out->zarr.levels[out->zarr.level_count];
        char rel[CLASSIFY_LEVEL_PATH_LEN + 320];
        memset(l, 0, sizeof *l);
        if (!json_scan_string(json_scan_member(json_scan_index(datasets, end, i), end, "path"), end,
                              l->path, sizeof l->path))
            continue;
        out->zarr.level_count++;
        struct classify_zarr_json arr;
        struct error_info lerr;
        error_init(&lerr);
        snprintf(rel, sizeof rel, "%s%s/%s", prefix, l->path, v3 ? "zarr.json" : ".zarray");
        enum error_code rc = classify_zarr_load(z, rel, max, &arr, &lerr);
        if (rc == ERROR_UNPROCESSABLE || rc == ERROR_NOT_FOUND || rc == ERROR_FORBIDDEN)
            continue; /* the level's own defect: its shape stays unknown */
        if (rc != ERROR_OK) {
            *err = lerr;
            return rc;
        }
        if (arr.text != NULL)
            classify_zarr_layout_shape(arr.text, arr.len, l);
        free(arr.text);
    }
    return ERROR_OK;
}

/* multiscales[0]: levels, and the axes of its first dataset, whose array gives the facts. */
static enum error_code classify_zarr_multiscales(const struct classify_zarr_store *z,
                                                 const char *prefix, const char *ms,
                                                 const char *end, size_t max,
                                                 struct classify_result *out,
                                                 struct error_info *err)
{
    const char *first = json_scan_index(ms, end, 0);
    const char *datasets = json_scan_member(first, end, "datasets");
    size_t n = json_scan_length(datasets, end);
    out->levels = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    int x = -1, y = -1, c = -1;
    struct classify_zarr_axes ax = {.x = -1, .y = -1, .z = -1, .t = -1, .c = -1};
    const char *axes = json_scan_member(first, end, "axes");
    for (size_t i = 0; i < CLASSIFY_ZARR_AXES; i++) {
        const char *a = json_scan_index(axes, end, i);
        char name[16];
        if (a == NULL)
            break;
        if (!json_scan_string(a, end, name, sizeof name) &&
            !json_scan_string(json_scan_member(a, end, "name"), end, name, sizeof name))
            continue;
        if (!json_scan_string(json_scan_member(a, end, "unit"), end, ax.unit[i], sizeof ax.unit[i]))
            ax.unit[i][0] = '\0';
        snprintf(ax.name[i], sizeof ax.name[i], "%.*s", CLASSIFY_AXIS_LEN - 1, name);
        ax.n = (unsigned)i + 1;
        if (strcmp(name, "x") == 0)
            x = (int)i;
        else if (strcmp(name, "y") == 0)
            y = (int)i;
        else if (strcmp(name, "c") == 0)
            c = (int)i;
        else if (strcmp(name, "z") == 0)
            ax.z = (int)i;
        else if (strcmp(name, "t") == 0)
            ax.t = (int)i;
    }
    char version[16];
    if (axes == NULL &&
        json_scan_string(json_scan_member(first, end, "version"), end, version, sizeof version) &&
        (strcmp(version, "0.1") == 0 || strcmp(version, "0.2") == 0 ||
         strcmp(version, "0.3") == 0)) {
        /* before 0.4 an image is always (t, c, z, y, x), named by no axes entry */
        static const char *const tczyx[] = {"t", "c", "z", "y", "x"};
        ax.t = 0;
        c = 1;
        ax.z = 2;
        for (ax.n = 0; ax.n < 5; ax.n++)
            snprintf(ax.name[ax.n], sizeof ax.name[ax.n], "%s", tczyx[ax.n]);
    }
    ax.x = x;
    ax.y = y;
    ax.c = c;
    classify_zarr_scale(json_scan_index(datasets, end, 0), end, &ax, out);
    char path[200], rel[512];
    if (!json_scan_string(json_scan_member(json_scan_index(datasets, end, 0), end, "path"), end,
                          path, sizeof path))
        return ERROR_OK;
    struct classify_zarr_json arr;
    bool v3 = false;
    snprintf(rel, sizeof rel, "%s%s/.zarray", prefix, path);
    enum error_code rc = classify_zarr_load(z, rel, max, &arr, err);
    if (rc == ERROR_OK && arr.text == NULL) {
        v3 = true;
        snprintf(rel, sizeof rel, "%s%s/zarr.json", prefix, path);
        rc = classify_zarr_load(z, rel, max, &arr, err);
    }
    if (rc != ERROR_OK || arr.text == NULL)
        return rc;
    classify_zarr_array(&arr, v3, x, y, c, out);
    snprintf(rel, sizeof rel, "%s%s", prefix, path);
    classify_zarr_layout_array(arr.text, arr.len, v3, rel, ax.n > 0 ? &ax.name[0][0] : NULL, ax.n,
                               &out->zarr);
    const char *aend = arr.text + arr.len;
    const char *shape = json_scan_member(arr.text, aend, "shape");
    size_t ndim = json_scan_length(shape, aend);
    uint64_t v;
    if (ax.z >= 0 && (size_t)ax.z < ndim &&
        json_scan_uint(json_scan_index(shape, aend, (size_t)ax.z), aend, &v))
        out->size_z = v;
    if (ax.t >= 0 && (size_t)ax.t < ndim &&
        json_scan_uint(json_scan_index(shape, aend, (size_t)ax.t), aend, &v))
        out->size_t_ = v;
    free(arr.text);
    return classify_zarr_levels(z, prefix, datasets, end, v3, max, out, err);
}

/* The attributes object of a group (v2 .zattrs text or v3 zarr.json "attributes"): find
 * multiscales (also under "ome") or the bioformats2raw layout. *found tells. */
static enum error_code classify_zarr_attrs(const struct classify_zarr_store *z, const char *prefix,
                                           const char *attrs, const char *end, size_t max,
                                           bool *found, bool *bf2raw, struct classify_result *out,
                                           struct error_info *err)
{
    *found = false;
    *bf2raw = false;
    if (attrs == NULL)
        return ERROR_OK;
    const char *ome = json_scan_member(attrs, end, "ome");
    const char *ms = json_scan_member(attrs, end, "multiscales");
    if (ms == NULL)
        ms = json_scan_member(ome, end, "multiscales");
    if (ms != NULL) {
        *found = true;
        classify_zarr_channel_names(attrs, end, out);
        return classify_zarr_multiscales(z, prefix, ms, end, max, out, err);
    }
    if (json_scan_member(attrs, end, "bioformats2raw.layout") != NULL ||
        json_scan_member(ome, end, "bioformats2raw.layout") != NULL) {
        *found = true;
        *bf2raw = true;
        return ERROR_OK;
    }
    /* an NGFF labels group: its "labels" list names the label images beneath it */
    const char *list = json_scan_member(attrs, end, "labels");
    if (list == NULL)
        list = json_scan_member(ome, end, "labels");
    size_t n = json_scan_length(list, end);
    for (size_t i = 0; i < n && out->zarr.label_name_count < CLASSIFY_LABELS_MAX; i++) {
        char *name = out->zarr.label_names[out->zarr.label_name_count];
        if (json_scan_string(json_scan_index(list, end, i), end, name, CLASSIFY_LABEL_NAME_LEN))
            out->zarr.label_name_count++;
    }
    return ERROR_OK;
}

/* The attributes of the group at prefix ("labels/"): *attrs points into jf's text, NULL when
 * the group has no metadata. The caller frees jf->text. */
static enum error_code classify_zarr_group_attrs(const struct classify_zarr_store *z,
                                                 const char *prefix, size_t max,
                                                 struct classify_zarr_json *jf, const char **attrs,
                                                 struct error_info *err)
{
    char rel[256];
    *attrs = NULL;
    snprintf(rel, sizeof rel, "%szarr.json", prefix);
    enum error_code rc = classify_zarr_load(z, rel, max, jf, err);
    if (rc != ERROR_OK)
        return rc;
    if (jf->text != NULL) {
        *attrs = json_scan_member(jf->text, jf->text + jf->len, "attributes");
        return ERROR_OK;
    }
    snprintf(rel, sizeof rel, "%s.zattrs", prefix);
    if ((rc = classify_zarr_load(z, rel, max, jf, err)) != ERROR_OK)
        return rc;
    *attrs = jf->text;
    return ERROR_OK;
}

/* A member of NGFF attributes, at the top (0.4) or under "ome" (0.5). */
static const char *classify_zarr_ngff_member(const char *attrs, const char *end, const char *key)
{
    const char *v = json_scan_member(attrs, end, key);
    return v != NULL ? v : json_scan_member(json_scan_member(attrs, end, "ome"), end, key);
}

/* A label name is one path component: not empty, "." or "..", and without '/' or '\'. */
static bool classify_zarr_label_name_ok(const char *name)
{
    return name[0] != '\0' && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           strpbrk(name, "/\\") == NULL;
}

/* Whether a failure to read label metadata is the label's own defect (a warning) rather than
 * the machine's (I/O, memory: a failure of the whole answer). */
static bool classify_zarr_label_defect(enum error_code rc)
{
    return rc == ERROR_UNPROCESSABLE || rc == ERROR_NOT_FOUND || rc == ERROR_FORBIDDEN;
}

/* labels/NAME's image-label metadata into *l; a label group that cannot be read (corrupt,
 * too big, a link out of the root) becomes a warning, not a failure of the image. */
static enum error_code classify_zarr_label(const struct classify_zarr_store *z, const char *prefix,
                                           size_t max, struct classify_label *l,
                                           struct classify_result *out, struct error_info *err)
{
    char rel[256];
    struct classify_zarr_json jf;
    const char *attrs;
    struct error_info lerr;
    error_init(&lerr);
    snprintf(rel, sizeof rel, "%slabels/%s/", prefix, l->name);
    enum error_code rc = classify_zarr_group_attrs(z, rel, max, &jf, &attrs, &lerr);
    if (classify_zarr_label_defect(rc)) {
        classify_warn(out, "label %s: %s", l->name, lerr.detail);
        return ERROR_OK;
    }
    if (rc != ERROR_OK) {
        *err = lerr;
        return rc;
    }
    const char *end = jf.text != NULL ? jf.text + jf.len : NULL;
    const char *il = attrs != NULL ? classify_zarr_ngff_member(attrs, end, "image-label") : NULL;
    if (il != NULL) {
        size_t colors = json_scan_length(json_scan_member(il, end, "colors"), end);
        l->image_label = true;
        l->colors = colors > UINT32_MAX ? UINT32_MAX : (uint32_t)colors;
        if (!json_scan_string(json_scan_member(json_scan_member(il, end, "source"), end, "image"),
                              end, l->source, sizeof l->source))
            l->source[0] = '\0';
    }
    free(jf.text);
    return ERROR_OK;
}

/* The labels/ sub-group of the image group at prefix: its "labels" list, each with its
 * image-label metadata (the first CLASSIFY_LABELS_MAX). */
static enum error_code classify_zarr_labels(const struct classify_zarr_store *z, const char *prefix,
                                            size_t max, struct classify_result *out,
                                            struct error_info *err)
{
    char rel[64];
    struct classify_zarr_json jf;
    const char *attrs;
    struct error_info lerr;
    error_init(&lerr);
    snprintf(rel, sizeof rel, "%slabels/", prefix);
    enum error_code rc = classify_zarr_group_attrs(z, rel, max, &jf, &attrs, &lerr);
    if (classify_zarr_label_defect(rc)) {
        classify_warn(out, "labels: %s", lerr.detail);
        return ERROR_OK;
    }
    if (rc != ERROR_OK) {
        *err = lerr;
        return rc;
    }
    if (attrs == NULL) {
        free(jf.text);
        return ERROR_OK;
    }
    const char *end = jf.text + jf.len;
    const char *list = classify_zarr_ngff_member(attrs, end, "labels");
    size_t n = json_scan_length(list, end);
    for (size_t i = 0; i < n && out->label_count < CLASSIFY_LABELS_MAX && rc == ERROR_OK; i++) {
        struct classify_label *l = &out->labels[out->label_count];
        memset(l, 0, sizeof *l);
        if (!json_scan_string(json_scan_index(list, end, i), end, l->name, sizeof l->name) ||
            strlen(l->name) == sizeof l->name - 1 || !classify_zarr_label_name_ok(l->name)) {
            classify_warn(out, "labels: entry %zu is not a label name this reader follows", i);
            continue;
        }
        out->label_count++;
        rc = classify_zarr_label(z, prefix, max, l, out, err);
    }
    free(jf.text);
    return rc;
}

/* Look at the group at prefix ("" or "0/"): multiscales or bioformats2raw. */
static enum error_code classify_zarr_group(const struct classify_zarr_store *z, const char *prefix,
                                           size_t max, bool *found, bool *bf2raw,
                                           struct classify_result *out, struct error_info *err)
{
    char rel[64];
    struct classify_zarr_json jf;
    snprintf(rel, sizeof rel, "%szarr.json", prefix);
    enum error_code rc = classify_zarr_load(z, rel, max, &jf, err);
    if (rc != ERROR_OK)
        return rc;
    if (jf.text != NULL) {
        const char *end = jf.text + jf.len;
        rc = classify_zarr_attrs(z, prefix, json_scan_member(jf.text, end, "attributes"), end, max,
                                 found, bf2raw, out, err);
        free(jf.text);
        return rc;
    }
    snprintf(rel, sizeof rel, "%s.zattrs", prefix);
    if ((rc = classify_zarr_load(z, rel, max, &jf, err)) != ERROR_OK)
        return rc;
    *found = false;
    *bf2raw = false;
    if (jf.text != NULL) {
        rc =
            classify_zarr_attrs(z, prefix, jf.text, jf.text + jf.len, max, found, bf2raw, out, err);
        free(jf.text);
    }
    return rc;
}

/* ---- entry point ----------------------------------------------------------------------------- */

enum error_code classify_zarr_dir(int root_fd, const char *dir, size_t dir_len, size_t max,
                                  struct classify_result *out, struct error_info *err)
{
    while (dir_len > 0 && dir[dir_len - 1] == '/')
        dir_len--;
    const struct classify_zarr_store store = {root_fd, dir, dir_len};
    const struct classify_zarr_store *z = &store;
    memset(out, 0, sizeof *out);
    out->container = CLASSIFY_CONTAINER_UNKNOWN;
    struct classify_zarr_json v3, zarray, zgroup;
    enum error_code rc = classify_zarr_load(z, "zarr.json", max, &v3, err);
    zarray.text = zgroup.text = NULL;
    if (rc != ERROR_OK)
        return rc;
    bool is_array = false, is_group = false;
    if (v3.text != NULL) {
        const char *end = v3.text + v3.len;
        char node[16];
        uint64_t fmt = 0;
        bool has_format = json_scan_uint(json_scan_member(v3.text, end, "zarr_format"), end, &fmt);
        if (has_format &&
            json_scan_string(json_scan_member(v3.text, end, "node_type"), end, node, sizeof node)) {
            is_array = strcmp(node, "array") == 0;
            is_group = strcmp(node, "group") == 0;
        }
        if (is_array) {
            classify_zarr_array(&v3, true, -1, -1, -1, out);
            classify_zarr_layout_array(v3.text, v3.len, true, "", NULL, 0, &out->zarr);
        }
    } else {
        if ((rc = classify_zarr_load(z, ".zarray", max, &zarray, err)) != ERROR_OK ||
            (rc = classify_zarr_load(z, ".zgroup", max, &zgroup, err)) != ERROR_OK)
            goto out;
        is_array = zarray.text != NULL;
        is_group = zgroup.text != NULL;
        if (is_array) {
            classify_zarr_array(&zarray, false, -1, -1, -1, out);
            classify_zarr_layout_array(zarray.text, zarray.len, false, "", NULL, 0, &out->zarr);
        }
    }
    if (!is_array && !is_group)
        goto out; /* a plain directory */
    out->container = CLASSIFY_CONTAINER_ZARR;
    out->reader = CLASSIFY_READER_ZARR;
    out->zarr.zarr_format = v3.text != NULL ? 3 : 2;
    out->zarr.is_group = is_group && !is_array;
    classify_name_copy(out->format, "zarr");
    if (is_array) {
        out->levels = 1;
        goto out;
    }
    bool found = false, bf2raw = false;
    if ((rc = classify_zarr_group(z, "", max, &found, &bf2raw, out, err)) != ERROR_OK)
        goto out;
    if (bf2raw) {
        bool inner_found, inner_bf2raw;
        if ((rc = classify_zarr_group(z, "0/", max, &inner_found, &inner_bf2raw, out, err)) !=
            ERROR_OK)
            goto out;
    }
    if (found) {
        classify_name_copy(out->format, "ome-zarr");
        if ((rc = classify_zarr_labels(z, bf2raw ? "0/" : "", max, out, err)) != ERROR_OK)
            goto out;
    }
out:
    free(v3.text);
    free(zarray.text);
    free(zgroup.text);
    if (rc != ERROR_OK) {
        memset(out, 0, sizeof *out);
        out->container = CLASSIFY_CONTAINER_UNKNOWN;
    }
    return rc;
}
