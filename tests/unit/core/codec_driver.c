/*
 * codec_driver.c - core/npy and core/zarr_codec as a command, for diff_codec.py.
 *
 *   codec_driver npy FILE OUT BAND
 *       parse FILE, read it BAND rows at a time, write the native-endian C-order elements to
 *       OUT; print "ok major=M ndim=N shape=a,b,c width=W signed=S big=B fortran=F"
 *   codec_driver chunk2 DTYPE ORDER COMPRESSOR SHAPE IN OUT [IN OUT ...]
 *       Zarr v2: DTYPE as in .zarray ("<u2"), ORDER C or F, COMPRESSOR a numcodecs id or
 *       "none", SHAPE the chunk shape "16,32"; decode each IN into OUT
 *   codec_driver chunk3 WIDTH SHAPE CODECS IN OUT [IN OUT ...]
 *       Zarr v3: CODECS ';'-separated in metadata order: "transpose=2,0,1", "bytes=big" or
 *       "bytes=little", or a codec name ("zstd", "gzip", "blosc", ...)
 *
 * A failure prints "error CODE DETAIL" (CODE as error_code_name) and exits 1.
 */
#include "npy.h"
#include "zarr_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const struct error_info *err)
{
    printf("error %s %s\n", error_code_name(err->code), err->detail);
    return 1;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    if (p != NULL && n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return p;
}

static bool spit(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return false;
    bool ok = fwrite(p, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static unsigned parse_list(const char *s, uint64_t *v, unsigned max)
{
    unsigned n = 0;
    while (*s != '\0' && n < max) {
        char *end;
        unsigned long long x = strtoull(s, &end, 10);
        if (end == s)
            break;
        v[n++] = x;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static int run_npy(const char *path, const char *out_path, uint64_t band)
{
    struct error_info err;
    error_init(&err);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    if (buf == NULL) {
        printf("error io cannot read %s\n", path);
        return 1;
    }
    struct npy_info info;
    int status = 1;
    unsigned char *out = NULL;
    if (npy_parse(buf, len, "in.npy", &info, &err) != ERROR_OK) {
        status = fail(&err);
        goto out;
    }
    out = malloc(info.data_len ? info.data_len : 1);
    for (uint64_t row = 0; row < info.n_rows; row += band) {
        uint64_t n = info.n_rows - row < band ? info.n_rows - row : band;
        size_t at = (size_t)(row * info.row_len) * info.dtype.width;
        if (npy_read_rows(&info, buf + info.data_offset, row, n, out + at, info.data_len - at,
                          &err) != ERROR_OK) {
            status = fail(&err);
            goto out;
        }
    }
    if (!spit(out_path, out, info.data_len)) {
        printf("error io cannot write %s\n", out_path);
        goto out;
    }
    printf("ok major=%u ndim=%u shape=", info.major, info.ndim);
    for (unsigned k = 0; k < info.ndim; k++)
        printf("%s%llu", k ? "," : "", (unsigned long long)info.shape[k]);
    printf(" width=%u signed=%d big=%d fortran=%d\n", info.dtype.width, info.dtype.is_signed,
           info.dtype.big_endian, info.fortran_order);
    status = 0;
out:
    free(out);
    free(buf);
    return status;
}

static enum error_code chain_v3(struct zarr_codec_chain *chain, const char *spec,
                                struct error_info *err)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(copy, ";", &save); tok != NULL;
         tok = strtok_r(NULL, ";", &save)) {
        struct zarr_codec c;
        memset(&c, 0, sizeof c);
        char *eq = strchr(tok, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - tok) : strlen(tok);
        enum error_code rc = zarr_codec_lookup(3, tok, name_len, &c.id, err);
        if (rc != ERROR_OK)
            return rc;
        if (c.id == ZARR_CODEC_BYTES)
            c.big_endian = eq != NULL && strcmp(eq + 1, "big") == 0;
        if (c.id == ZARR_CODEC_TRANSPOSE && eq != NULL) {
            uint64_t order[ZARR_CODEC_MAX_DIMS];
            unsigned n = parse_list(eq + 1, order, ZARR_CODEC_MAX_DIMS);
            for (unsigned k = 0; k < n; k++)
                c.order[k] = (unsigned)order[k];
        }
        rc = zarr_codec_chain_add(chain, &c, err);
        if (rc != ERROR_OK)
            return rc;
    }
    return zarr_codec_chain_check(chain, err);
}

static int run_chunks(const struct zarr_codec_chain *chain, int argc, char **argv)
{
    struct zarr_codec_work work;
    zarr_codec_work_init(&work);
    struct error_info err;
    unsigned char *out = malloc(chain->chunk_bytes);
    int status = 0;
    for (int i = 0; i + 1 < argc && status == 0; i += 2) {
        size_t len;
        unsigned char *in = slurp(argv[i], &len);
        if (in == NULL) {
            printf("error io cannot read %s\n", argv[i]);
            status = 1;
            break;
        }
        const char *key = strrchr(argv[i], '/') != NULL ? strrchr(argv[i], '/') + 1 : argv[i];
        if (zarr_chunk_decode_work(chain, &work, key, in, len, out, chain->chunk_bytes, &err) !=
            ERROR_OK)
            status = fail(&err);
        else if (!spit(argv[i + 1], out, chain->chunk_bytes))
            status = 1;
        free(in);
    }
    if (status == 0)
        printf("ok\n");
    free(out);
    zarr_codec_work_cleanup(&work);
    return status;
}

int main(int argc, char **argv)
{
    struct error_info err;
    error_init(&err);
    if (argc == 5 && strcmp(argv[1], "npy") == 0)
        return run_npy(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    struct zarr_codec_chain chain;
    uint64_t shape[ZARR_CODEC_MAX_DIMS];
    if (argc >= 8 && strcmp(argv[1], "chunk2") == 0) {
        struct npy_dtype dt;
        unsigned ndim = parse_list(argv[5], shape, ZARR_CODEC_MAX_DIMS);
        if (npy_dtype_parse(argv[2], strlen(argv[2]), &dt, &err) != ERROR_OK ||
            zarr_codec_chain_v2(&chain, dt.width, dt.big_endian, strcmp(argv[3], "F") == 0, ndim,
                                shape, &err) != ERROR_OK)
            return fail(&err);
        if (strcmp(argv[4], "none") != 0) {
            struct zarr_codec c;
            memset(&c, 0, sizeof c);
            if (zarr_codec_lookup(2, argv[4], strlen(argv[4]), &c.id, &err) != ERROR_OK ||
                zarr_codec_chain_add(&chain, &c, &err) != ERROR_OK)
                return fail(&err);
        }
        return run_chunks(&chain, argc - 6, argv + 6);
    }
    if (argc >= 7 && strcmp(argv[1], "chunk3") == 0) {
        unsigned ndim = parse_list(argv[3], shape, ZARR_CODEC_MAX_DIMS);
        if (zarr_codec_chain_init(&chain, (unsigned)strtoul(argv[2], NULL, 10), ndim, shape,
                                  &err) != ERROR_OK ||
            chain_v3(&chain, argv[4], &err) != ERROR_OK)
            return fail(&err);
        return run_chunks(&chain, argc - 5, argv + 5);
    }
    fprintf(stderr, "usage: codec_driver npy FILE OUT BAND | chunk2 DTYPE ORDER COMPRESSOR "
                    "SHAPE IN OUT... | chunk3 WIDTH SHAPE CODECS IN OUT...\n");
    return 2;
}
