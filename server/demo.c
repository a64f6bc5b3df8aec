/*
 * demo.c - the built-in demo data set, written with libtiff by `tessera make-demo DIR`.
 *
 * Small but real: plain strip TIFFs across natural-sort cycle directories, an OME-TIFF,
 * an ImageJ TIFF, a tiled pyramid with SubIFDs, a BigTIFF, a Zarr group, and a pair of
 * uint32 label images (disk-shaped cells, the second shifted and relabelled) for /overlap.
 * Deterministic: the same bytes every run.
 */
#include "demo.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>

#define DEMO_LABEL_SIZE 512
#define DEMO_CELL_STEP  24

static bool demo_mkdir(const char *dir, const char *sub, char *msg, size_t msg_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(msg, msg_size, "mkdir %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

/* A smooth, deterministic uint16 test pattern. */
static uint16_t demo_pixel(uint32_t x, uint32_t y, uint32_t channel)
{
    return (uint16_t)((x * 37u + y * 11u + channel * 1000u) & 0xffffu);
}

static bool demo_write_page(TIFF *tif, uint32_t w, uint32_t h, uint32_t tile, uint32_t channel,
                            const char *description, bool reduced)
{
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_SOFTWARE, "tessera make-demo");
    if (reduced)
        TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
    if (description != NULL)
        TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, description);
    bool ok = true;
    if (tile > 0) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, tile);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, tile);
        uint16_t *buf = malloc((size_t)tile * tile * sizeof *buf);
        if (buf == NULL)
            return false;
        for (uint32_t ty = 0; ty < h && ok; ty += tile)
            for (uint32_t tx = 0; tx < w && ok; tx += tile) {
                for (uint32_t y = 0; y < tile; y++)
                    for (uint32_t x = 0; x < tile; x++)
                        buf[y * tile + x] = demo_pixel(tx + x, ty + y, channel);
                ok = TIFFWriteTile(tif, buf, tx, ty, 0, 0) >= 0;
            }
        free(buf);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 64);
        uint16_t *row = malloc((size_t)w * sizeof *row);
        if (row == NULL)
            return false;
        for (uint32_t y = 0; y < h && ok; y++) {
            for (uint32_t x = 0; x < w; x++)
                row[x] = demo_pixel(x, y, channel);
            ok = TIFFWriteScanline(tif, row, y, 0) >= 0;
        }
        free(row);
    }
    return ok && TIFFWriteDirectory(tif);
}

static bool demo_open(TIFF **tif, const char *dir, const char *name, const char *mode, char *msg,
                      size_t msg_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *tif = TIFFOpen(path, mode);
    if (*tif == NULL)
        snprintf(msg, msg_size, "cannot create %s", path);
    return *tif != NULL;
}

static bool demo_plain(const char *dir, const char *name, uint32_t channel, char *msg,
                       size_t msg_size)
{
    TIFF *tif;
    if (!demo_open(&tif, dir, name, "w", msg, msg_size))
        return false;
    bool ok = demo_write_page(tif, 256, 192, 0, channel, NULL, false);
    TIFFClose(tif);
    return ok;
}

static bool demo_ome(const char *dir, char *msg, size_t msg_size)
{
    static const char ome[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\">"
        "<Image ID=\"Image:0\" Name=\"demo\"><Pixels ID=\"Pixels:0\" DimensionOrder=\"XYCZT\" "
        "Type=\"uint16\" SizeX=\"256\" SizeY=\"192\" SizeC=\"3\" SizeZ=\"1\" SizeT=\"1\">"
        "<Channel ID=\"Channel:0:0\" Name=\"DAPI\" SamplesPerPixel=\"1\"/>"
        "<Channel ID=\"Channel:0:1\" Name=\"CD3\" SamplesPerPixel=\"1\"/>"
        "<Channel ID=\"Channel:0:2\" Name=\"CD20\" SamplesPerPixel=\"1\"/>"
        "<TiffData IFD=\"0\" PlaneCount=\"3\"/></Pixels></Image></OME>";
    TIFF *tif;
    if (!demo_open(&tif, dir, "cyc1/stack.ome.tif", "w", msg, msg_size))
        return false;
    bool ok = true;
    for (uint32_t c = 0; c < 3 && ok; c++)
        ok = demo_write_page(tif, 256, 192, 0, c, c == 0 ? ome : NULL, false);
    TIFFClose(tif);
    return ok;
}

static bool demo_imagej(const char *dir, char *msg, size_t msg_size)
{
    TIFF *tif;
    if (!demo_open(&tif, dir, "cyc2/hyperstack.tif", "w", msg, msg_size))
        return false;
    bool ok = true;
    for (uint32_t c = 0; c < 2 && ok; c++)
        ok = demo_write_page(tif, 256, 192, 0, c,
                             c == 0 ? "ImageJ=1.54f\nimages=2\nchannels=2\nmode=composite\n" : NULL,
                             false);
    TIFFClose(tif);
    return ok;
}

/* A 1024^2 tiled image with two SubIFD levels (512^2, 256^2). */
static bool demo_pyramid(const char *dir, char *msg, size_t msg_size)
{
    TIFF *tif;
    if (!demo_open(&tif, dir, "slides/pyramid.ome.tif", "w", msg, msg_size))
        return false;
    static const char ome[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\">"
        "<Image ID=\"Image:0\"><Pixels ID=\"Pixels:0\" DimensionOrder=\"XYCZT\" "
        "Type=\"uint16\" SizeX=\"1024\" SizeY=\"1024\" SizeC=\"1\" SizeZ=\"1\" SizeT=\"1\">"
        "<Channel ID=\"Channel:0:0\" SamplesPerPixel=\"1\"/><TiffData IFD=\"0\" "
        "PlaneCount=\"1\"/></Pixels></Image></OME>";
    uint64_t sub_offsets[2] = {0, 0};
    TIFFSetField(tif, TIFFTAG_SUBIFD, 2, sub_offsets);
    bool ok = demo_write_page(tif, 1024, 1024, 256, 0, ome, false);
    ok = ok && demo_write_page(tif, 512, 512, 256, 0, NULL, true);
    ok = ok && demo_write_page(tif, 256, 256, 256, 0, NULL, true);
    TIFFClose(tif);
    return ok;
}

static bool demo_bigtiff(const char *dir, char *msg, size_t msg_size)
{
    TIFF *tif;
    if (!demo_open(&tif, dir, "slides/tiled_big.TIF", "w8", msg, msg_size))
        return false;
    bool ok = demo_write_page(tif, 512, 512, 128, 0, NULL, false);
    TIFFClose(tif);
    return ok;
}

static bool demo_text(const char *dir, const char *name, const char *text, char *msg,
                      size_t msg_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0) {
        snprintf(msg, msg_size, "cannot write %s", path);
        if (f != NULL)
            fclose(f);
        return false;
    }
    return fclose(f) == 0;
}

/* Label image: disks on a jittered grid; shift moves them, relabel permutes the ids. */
static bool demo_labels(const char *dir, const char *name, int shift, uint32_t relabel, char *msg,
                        size_t msg_size)
{
    TIFF *tif;
    if (!demo_open(&tif, dir, name, "w", msg, msg_size))
        return false;
    const uint32_t n = DEMO_LABEL_SIZE;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, n);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, n);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 32);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 32);
    uint32_t *row = malloc(n * sizeof *row);
    bool ok = row != NULL;
    const int step = DEMO_CELL_STEP, radius = 9;
    for (uint32_t y = 0; y < n && ok; y++) {
        for (uint32_t x = 0; x < n; x++) {
            int sx = (int)x - shift, sy = (int)y - shift / 2;
            int gx = sx / step, gy = sy / step;
            int cx = gx * step + step / 2 + (gy % 3) - 1, cy = gy * step + step / 2;
            int dx = sx - cx, dy = sy - cy;
            uint32_t label = 0;
            if (sx >= 0 && sy >= 0 && dx * dx + dy * dy <= radius * radius) {
                label = (uint32_t)(gy * (int)(n / (uint32_t)step + 1) + gx + 1);
                if (relabel)
                    label = label * relabel % 100003u + 1;
            }
            row[x] = label;
        }
        ok = TIFFWriteScanline(tif, row, y, 0) >= 0;
    }
    free(row);
    ok = ok && TIFFWriteDirectory(tif);
    TIFFClose(tif);
    return ok;
}

bool demo_write(const char *dir, char *msg, size_t msg_size)
{
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(msg, msg_size, "mkdir %s: %s", dir, strerror(errno));
        return false;
    }
    static const char *const subdirs[] = {"cyc1",   "cyc2",       "cyc10",       "slides",
                                          "labels", "plate.zarr", "plate.zarr/0"};
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++)
        if (!demo_mkdir(dir, subdirs[i], msg, msg_size))
            return false;
    bool ok = demo_plain(dir, "cyc1/DAPI.tif", 0, msg, msg_size) &&
              demo_plain(dir, "cyc2/CD3.TIFF", 1, msg, msg_size) &&
              demo_plain(dir, "cyc10/CD20.tiff", 2, msg, msg_size) &&
              demo_ome(dir, msg, msg_size) && demo_imagej(dir, msg, msg_size) &&
              demo_pyramid(dir, msg, msg_size) && demo_bigtiff(dir, msg, msg_size) &&
              demo_labels(dir, "labels/truth.tif", 0, 0, msg, msg_size) &&
              demo_labels(dir, "labels/predicted.tif", 3, 7919, msg, msg_size) &&
              demo_text(dir, "cyc1/notes.txt", "not an image\n", msg, msg_size) &&
              demo_text(dir, "plate.zarr/.zgroup", "{\"zarr_format\": 2}\n", msg, msg_size) &&
              demo_text(dir, "plate.zarr/.zattrs",
                        "{\"multiscales\": [{\"version\": \"0.4\", \"datasets\": "
                        "[{\"path\": \"0\"}]}]}\n",
                        msg, msg_size) &&
              demo_text(dir, "plate.zarr/0/.zarray",
                        "{\"zarr_format\": 2, \"shape\": [64, 64], \"chunks\": [64, 64], "
                        "\"dtype\": \"<u2\", \"compressor\": null, \"fill_value\": 0, "
                        "\"order\": \"C\", \"filters\": null}\n",
                        msg, msg_size);
    return ok;
}
