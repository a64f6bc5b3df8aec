/*
 * classify_tiff.c - TIFF classification: the IFD walk, the detectors and the decisions; see
 * classify_tiff.h.
 *
 * The one design decision: we walk the TIFF structure ourselves (core/tiff_ifd) instead of
 * opening it with libtiff. libtiff's TIFFReadDirectory allocates and converts every tag of
 * every IFD, and only reports failures through handlers; our walk keeps only the tags below,
 * reads them through a 4 KiB window, and names each defect it meets (truncation, IFD loop,
 * offset past end of file).
 */
#include "classify_tiff.h"

#include "alloc.h"
#include "classify_stack.h"
#include "classify_tiff_names.h"
#include "ome_xml.h"
#include "xml_head.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* ---- the tags classification reads ----------------------------------------------------------
 *
 * One slot per tag, ImageDescription three times (the first and second occurrence: ImageJ
 * writes its text in either; and the last one, which is what libtiff and so OpenSlide see).
 * must_fit for every tag whose value bytes are read below: those must lie inside the file; the
 * others are only tested for presence.
 */

enum classify_tiff_slot {
    SLOT_SUBFILE_TYPE,
    SLOT_WIDTH,
    SLOT_HEIGHT,
    SLOT_BITS,
    SLOT_COMPRESSION,
    SLOT_DESCRIPTION,
    SLOT_DESCRIPTION_2,
    SLOT_MAKE,
    SLOT_STRIP_OFFSETS,
    SLOT_SAMPLES,
    SLOT_STRIP_BYTES,
    SLOT_SOFTWARE,
    SLOT_TILE_WIDTH,
    SLOT_TILE_LENGTH,
    SLOT_TILE_OFFSETS,
    SLOT_TILE_BYTES,
    SLOT_SUBIFDS,
    SLOT_SAMPLE_FORMAT,
    SLOT_XMLPACKET,
    SLOT_ARGOS,
    SLOT_NDPI,
    SLOT_PHOTOMETRIC,
    SLOT_PLANAR,
    SLOT_YCBCR_SUBSAMPLING,
    SLOT_DESCRIPTION_LAST,
    SLOT_XRESOLUTION,
    SLOT_YRESOLUTION,
    SLOT_RESOLUTION_UNIT,
    SLOT_ROWS_PER_STRIP,
    SLOT_COUNT
};

static const struct tiff_ifd_want classify_tiff_wants[SLOT_COUNT] = {
    [SLOT_SUBFILE_TYPE] = {254, false, false},   [SLOT_WIDTH] = {256, false, false},
    [SLOT_HEIGHT] = {257, false, false},         [SLOT_BITS] = {258, true, false},
    [SLOT_COMPRESSION] = {259, false, false},    [SLOT_DESCRIPTION] = {270, true, false},
    [SLOT_DESCRIPTION_2] = {270, true, false},   [SLOT_MAKE] = {271, true, false},
    [SLOT_STRIP_OFFSETS] = {273, true, false},   [SLOT_SAMPLES] = {277, false, false},
    [SLOT_STRIP_BYTES] = {279, true, false},     [SLOT_SOFTWARE] = {305, true, false},
    [SLOT_TILE_WIDTH] = {322, false, false},     [SLOT_TILE_LENGTH] = {323, false, false},
    [SLOT_TILE_OFFSETS] = {324, true, false},    [SLOT_TILE_BYTES] = {325, true, false},
    [SLOT_SUBIFDS] = {330, true, false},         [SLOT_SAMPLE_FORMAT] = {339, true, false},
    [SLOT_XMLPACKET] = {700, true, false},       [SLOT_ARGOS] = {65000, false, false},
    [SLOT_NDPI] = {65420, false, false},         [SLOT_PHOTOMETRIC] = {262, false, false},
    [SLOT_PLANAR] = {284, false, false},         [SLOT_YCBCR_SUBSAMPLING] = {530, true, false},
    [SLOT_DESCRIPTION_LAST] = {270, true, true}, [SLOT_XRESOLUTION] = {282, true, false},
    [SLOT_YRESOLUTION] = {283, true, false},     [SLOT_RESOLUTION_UNIT] = {296, false, false},
    [SLOT_ROWS_PER_STRIP] = {278, false, false},
};

struct classify_tiff_ifd {
    struct tiff_ifd_entry e[SLOT_COUNT];
    uint64_t next;
};

/* The scalar facts of an IFD once its entries are read. */
struct classify_tiff_facts {
    uint64_t width, height;
    uint64_t samples, bits, sample_format, compression;
    uint64_t tile_width, tile_height;
    uint64_t subfile_type;   /* NewSubfileType: bit 0 reduced resolution, bit 2 mask */
    uint64_t photometric;    /* meaningful when has_photometric */
    uint64_t planar;         /* PlanarConfiguration, 1 when absent */
    uint64_t ycbcr_sub[2];   /* YCbCrSubsampling, 2 2 when absent */
    uint64_t rows_per_strip; /* 0 when absent */
    bool has_photometric;
};

/* What libtiff's TIFFReadDirectory supplies for an OJPEG image that lacks tags: YCbCr for
 * no PhotometricInterpretation (or RGB), 8 bits, 3 samples for RGB/YCbCr and 1 for grey. */
static void classify_tiff_ojpeg_defaults(const struct classify_tiff_ifd *d,
                                         struct classify_tiff_facts *f)
{
    if (f->compression != 6)
        return;
    if (!f->has_photometric || f->photometric == 2) {
        f->photometric = 6;
        f->has_photometric = true;
    }
    if (!d->e[SLOT_BITS].present)
        f->bits = 8;
    if (!d->e[SLOT_SAMPLES].present && (f->photometric == 2 || f->photometric == 6))
        f->samples = 3;
}

static enum error_code classify_tiff_facts(const struct tiff_ifd_file *t,
                                           const struct classify_tiff_ifd *d, const char *kind,
                                           unsigned index, struct classify_tiff_facts *f,
                                           struct error_info *err)
{
    enum error_code rc;
    if ((rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_WIDTH], 0, &f->width, err)) != ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_HEIGHT], 0, &f->height, err)) != ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_SAMPLES], 1, &f->samples, err)) != ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_BITS], 1, &f->bits, err)) != ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_SAMPLE_FORMAT], 1, &f->sample_format, err)) !=
            ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_COMPRESSION], 1, &f->compression, err)) !=
            ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_TILE_WIDTH], 0, &f->tile_width, err)) !=
            ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_TILE_LENGTH], 0, &f->tile_height, err)) !=
            ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_SUBFILE_TYPE], 0, &f->subfile_type, err)) !=
            ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_PHOTOMETRIC], 0, &f->photometric, err)) !=
            ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_PLANAR], 1, &f->planar, err)) != ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_ROWS_PER_STRIP], 0, &f->rows_per_strip, err)) !=
            ERROR_OK)
        return rc;
    f->has_photometric = d->e[SLOT_PHOTOMETRIC].present;
    f->ycbcr_sub[0] = f->ycbcr_sub[1] = 2;
    const struct tiff_ifd_entry *sub = &d->e[SLOT_YCBCR_SUBSAMPLING];
    if (sub->present && sub->count >= 2 && sub->type == 3 &&
        ((rc = tiff_ifd_entry_uint(t, sub, 0, &f->ycbcr_sub[0], err)) != ERROR_OK ||
         (rc = tiff_ifd_entry_uint(t, sub, 1, &f->ycbcr_sub[1], err)) != ERROR_OK))
        return rc;
    classify_tiff_ojpeg_defaults(d, f);
    if (!d->e[SLOT_WIDTH].present || !d->e[SLOT_HEIGHT].present)
        return error_set(err, ERROR_UNPROCESSABLE, "corrupt TIFF: %s %u has no Image%s tag", kind,
                         index, d->e[SLOT_WIDTH].present ? "Length" : "Width");
    if (f->samples == 0 || f->samples > 65535)
        return error_set(err, ERROR_UNPROCESSABLE, "corrupt TIFF: %s %u has SamplesPerPixel %llu",
                         kind, index, (unsigned long long)f->samples);
    return ERROR_OK;
}

/*
 * libtiff's one StripByteCounts repair (TIFFReadDirectory, "Bogus StripByteCounts field,
 * ignoring and calculating from imagelength"): an uncompressed image in one strip whose byte
 * count runs past the end of the file gets the count ImageLength implies. *repaired is true
 * when that applies and the implied strip fits in the file (libtiff then decodes it); when it
 * does not fit either, the file is truncated and the usual extent check names it.
 */
static enum error_code
classify_tiff_strip_repair(const struct tiff_ifd_file *t, const struct classify_tiff_ifd *d,
                           const struct classify_tiff_facts *f, const char *kind, unsigned index,
                           struct classify_result *out, bool *repaired, struct error_info *err)
{
    const struct tiff_ifd_entry *offs = &d->e[SLOT_STRIP_OFFSETS], *lens = &d->e[SLOT_STRIP_BYTES];
    uint64_t o, l, size = t->src->size;
    enum error_code rc;
    *repaired = false;
    if (d->e[SLOT_TILE_OFFSETS].present || f->compression != 1 || !offs->present ||
        offs->count != 1 || !lens->present || lens->count != 1)
        return ERROR_OK;
    if ((rc = tiff_ifd_entry_uints(t, offs, 0, 1, &o, err)) != ERROR_OK ||
        (rc = tiff_ifd_entry_uints(t, lens, 0, 1, &l, err)) != ERROR_OK)
        return rc;
    if (o == 0 || l == 0 || o > size || l <= size - o)
        return ERROR_OK;
    uint64_t samples = f->planar == 2 ? 1 : f->samples;
    if (f->width > UINT32_MAX || f->bits > 64 || samples > 65535 || f->height > UINT32_MAX)
        return ERROR_OK;
    uint64_t row = (f->width * samples * f->bits + 7) / 8;
    if (row != 0 && f->height > UINT64_MAX / row)
        return ERROR_OK;
    uint64_t want = row * f->height;
    if (want > size - o)
        return ERROR_OK;
    *repaired = true;
    classify_warn(out,
                  "%s %u: StripByteCounts %llu runs past the end of the file; libtiff uses "
                  "the %llu bytes ImageLength implies",
                  kind, index, (unsigned long long)l, (unsigned long long)want);
    return ERROR_OK;
}

/* Read the IFD at off, its facts, and check its data lies inside the file (after libtiff's
 * repair, which adds a warning to out). */
static enum error_code classify_tiff_ifd(const struct tiff_ifd_file *t, uint64_t off,
                                         const char *kind, unsigned index,
                                         struct classify_tiff_ifd *d, struct classify_tiff_facts *f,
                                         struct classify_result *out, struct error_info *err)
{
    enum error_code rc;
    bool repaired;
    if ((rc = tiff_ifd_read(t, off, kind, index, classify_tiff_wants, SLOT_COUNT, d->e, &d->next,
                            err)) != ERROR_OK ||
        (rc = classify_tiff_facts(t, d, kind, index, f, err)) != ERROR_OK ||
        (rc = classify_tiff_strip_repair(t, d, f, kind, index, out, &repaired, err)) != ERROR_OK)
        return rc;
    if (repaired)
        return ERROR_OK;
    bool tiled = d->e[SLOT_TILE_OFFSETS].present;
    return tiff_ifd_check_extents(t, &d->e[tiled ? SLOT_TILE_OFFSETS : SLOT_STRIP_OFFSETS],
                                  &d->e[tiled ? SLOT_TILE_BYTES : SLOT_STRIP_BYTES], tiled, kind,
                                  index, err);
}

/* ---- the walk -------------------------------------------------------------------------------
 *
 * Main chain first (pages, data extents, reduced-resolution levels), then the SubIFDs of IFD
 * 0; one visited set spans both, so a SubIFD pointing at a main-chain IFD is a loop too.
 */

/* b is a 1/f reduction of a (tifffile's subresolution at level 1). */
static bool classify_tiff_reduced_by(const struct classify_tiff_facts *a,
                                     const struct classify_tiff_facts *b, unsigned f)
{
    if (a->width < f || a->height < f)
        return false;
    return fabs((double)a->width / f - (double)b->width) < 1.0 &&
           fabs((double)a->height / f - (double)b->height) < 1.0;
}

static bool classify_tiff_same_pixels(const struct classify_tiff_facts *a,
                                      const struct classify_tiff_facts *b)
{
    return a->samples == b->samples && a->bits == b->bits && a->sample_format == b->sample_format;
}

struct classify_tiff_walk {
    struct classify_tiff_ifd ifd0;
    struct classify_tiff_facts f0;
    uint32_t pages;
    uint32_t levels;      /* by size ratios (tifffile's rule for unmarked pages) */
    uint32_t reduced;     /* later pages marked reduced (not mask) with IFD 0's pixels */
    uint32_t tiled_pages; /* tiled pages that are not masks: an Aperio slide's levels */
    uint8_t aperio_named; /* associated images an Aperio slide's stripped pages name */
    bool any_reduced;     /* some later page is marked reduced and not a mask */
    bool all_tiled;       /* TileWidth and TileLength in every main-chain IFD (trestle) */
    struct classify_stack_walk stack; /* series and the stack (core/classify_stack) */
};

/* OpenSlide's Aperio rule for a stripped page after IFD 0: the second page is the
 * thumbnail; any other is named by the first word of its description's second line
 * ("label", "macro"). */
static enum error_code classify_tiff_aperio_page(const struct tiff_ifd_file *t,
                                                 const struct classify_tiff_ifd *d, unsigned page,
                                                 uint8_t *named, struct error_info *err)
{
    char text[256];
    if (page == 1) {
        *named |= CLASSIFY_ASSOCIATED_THUMBNAIL;
        return ERROR_OK;
    }
    enum error_code rc =
        tiff_ifd_entry_text(t, &d->e[SLOT_DESCRIPTION_LAST], false, text, sizeof text, err);
    if (rc != ERROR_OK)
        return rc;
    const char *line = strpbrk(text, "\r\n");
    if (line == NULL)
        return ERROR_OK;
    line += strspn(line, "\r\n");
    size_t n = strcspn(line, " \r\n");
    if (n == 5 && memcmp(line, "label", 5) == 0)
        *named |= CLASSIFY_ASSOCIATED_LABEL;
    else if (n == 5 && memcmp(line, "macro", 5) == 0)
        *named |= CLASSIFY_ASSOCIATED_MACRO;
    return ERROR_OK;
}

static enum error_code classify_tiff_chain(const struct tiff_ifd_file *t, unsigned max_ifds,
                                           struct tiff_ifd_seen *seen, struct classify_tiff_walk *w,
                                           struct classify_result *out, struct error_info *err)
{
    enum error_code rc = ERROR_OK;
    struct classify_tiff_ifd d;
    struct classify_tiff_facts level = {0}, f;
    unsigned factor = 0;
    uint64_t off = t->first_ifd;
    uint64_t header = tiff_ifd_header_size(t);
    w->all_tiled = true;
    w->levels = 1;
    if (off == 0)
        return error_set(err, ERROR_UNPROCESSABLE,
                         "corrupt TIFF: the header's first IFD offset is 0 (no image)");
    while (off != 0) {
        if (w->pages >= max_ifds)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "TIFF has more than %u IFDs (the max_ifds limit)", max_ifds);
        if (off < header || off >= t->src->size)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: IFD %u offset %llu is outside the file (%llu "
                             "bytes): bad offset or truncated file",
                             w->pages, (unsigned long long)off, (unsigned long long)t->src->size);
        bool fresh;
        if ((rc = tiff_ifd_seen_add(seen, off, &fresh, err)) != ERROR_OK)
            return rc;
        if (!fresh)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: IFD loop: IFD %u points back to offset %llu, "
                             "already read",
                             w->pages, (unsigned long long)off);
        struct classify_tiff_ifd *cur = w->pages == 0 ? &w->ifd0 : &d;
        if ((rc = classify_tiff_ifd(t, off, "IFD", w->pages, cur, &f, out, err)) != ERROR_OK)
            return rc;
        bool tiled = cur->e[SLOT_TILE_WIDTH].present && cur->e[SLOT_TILE_LENGTH].present;
        bool mask = (f.subfile_type & 4) != 0;
        if (!tiled)
            w->all_tiled = false;
        if (tiled && !mask)
            w->tiled_pages++;
        const struct classify_stack_page page = {
            f.width,       f.height, f.samples,    f.bits,        f.sample_format,
            f.compression, tiled,    f.tile_width, f.tile_height, f.rows_per_strip};
        classify_stack_add_page(&w->stack, &page, out);
        if (w->pages > 0 && !tiled &&
            (rc = classify_tiff_aperio_page(t, cur, w->pages, &w->aperio_named, err)) != ERROR_OK)
            return rc;
        if (w->pages > 0 && !mask && (f.subfile_type & 1) != 0) {
            w->any_reduced = true;
            if (classify_tiff_same_pixels(&w->f0, &f))
                w->reduced++;
        }
        if (w->pages == 0) {
            w->f0 = f;
            level = f;
        } else if (!mask && classify_tiff_same_pixels(&level, &f)) {
            if (factor == 0) {
                for (unsigned k = 2; k <= 4; k++) {
                    if (classify_tiff_reduced_by(&level, &f, k)) {
                        factor = k;
                        break;
                    }
                }
                if (factor != 0) {
                    w->levels++;
                    level = f;
                }
            } else if (classify_tiff_reduced_by(&level, &f, factor)) {
                w->levels++;
                level = f;
            }
        }
        w->pages++;
        off = cur->next;
    }
    return ERROR_OK;
}

/* SubIFDs of IFD 0: the readable ones are the pyramid depth. One that is broken (outside
 * the file, missing ImageWidth, data past the end) does not stop libtiff, libvips or
 * tifffile reading IFD 0: it becomes a warning in out and is not counted. A loop stays a
 * failure, like a loop in the main chain. */
static enum error_code classify_tiff_subifds(const struct tiff_ifd_file *t, unsigned max_ifds,
                                             struct tiff_ifd_seen *seen,
                                             const struct classify_tiff_walk *w, uint32_t *count,
                                             struct classify_result *out, struct error_info *err)
{
    const struct tiff_ifd_entry *e = &w->ifd0.e[SLOT_SUBIFDS];
    *count = 0;
    if (!e->present)
        return ERROR_OK;
    uint64_t header = tiff_ifd_header_size(t);
    for (uint64_t i = 0; i < e->count; i++) {
        uint64_t off;
        enum error_code rc = tiff_ifd_entry_uint(t, e, i, &off, err);
        if (rc != ERROR_OK)
            return rc;
        if (off == 0)
            continue;
        if (w->pages + *count >= max_ifds)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "TIFF has more than %u IFDs with SubIFDs (the max_ifds limit)",
                             max_ifds);
        if (off < header || off >= t->src->size) {
            classify_warn(out,
                          "SubIFD %u of IFD 0 at offset %llu is outside the file (%llu bytes); "
                          "skipped",
                          (unsigned)i, (unsigned long long)off, (unsigned long long)t->src->size);
            continue;
        }
        bool fresh;
        if ((rc = tiff_ifd_seen_add(seen, off, &fresh, err)) != ERROR_OK)
            return rc;
        if (!fresh)
            return error_set(err, ERROR_UNPROCESSABLE,
                             "corrupt TIFF: IFD loop: SubIFD %u of IFD 0 points at offset "
                             "%llu, an IFD already read",
                             (unsigned)i, (unsigned long long)off);
        struct classify_tiff_ifd d;
        struct classify_tiff_facts f;
        struct error_info sub_err;
        error_init(&sub_err);
        rc = classify_tiff_ifd(t, off, "SubIFD", (unsigned)i, &d, &f, out, &sub_err);
        if (rc == ERROR_UNPROCESSABLE) {
            classify_warn(out, "%s; the SubIFD is skipped", sub_err.detail);
            continue;
        }
        if (rc != ERROR_OK) {
            *err = sub_err;
            return rc;
        }
        (*count)++;
    }
    return ERROR_OK;
}

/* ---- detectors -------------------------------------------------------------------------------
 *
 * Each reads IFD 0's text tags, at most XML_HEAD_MAX bytes of each (an OME description up
 * to OME_XML_MAX bytes, for core/ome_xml).
 */

/* Set the vendor and the name of the detector that decided it. */
static void classify_tiff_found(char *vendor, char *detector, const char *v, const char *rule)
{
    classify_name_copy(vendor, v);
    classify_name_copy(detector, rule);
}

/* OpenSlide's TIFF detectors, in OpenSlide's order; "" when none matches. The description
 * they read is IFD 0's last ImageDescription, as libtiff gives OpenSlide when the tag is
 * there twice (tifffile writes two given both a description and metadata). */
static enum error_code classify_tiff_vendor(const struct tiff_ifd_file *t,
                                            const struct classify_tiff_walk *w, char *vendor,
                                            char *detector, struct error_info *err)
{
    const struct classify_tiff_ifd *d = &w->ifd0;
    const struct tiff_ifd_entry *desc_entry = &d->e[SLOT_DESCRIPTION_LAST];
    bool tiled = d->e[SLOT_TILE_WIDTH].present && d->e[SLOT_TILE_LENGTH].present;
    char desc[XML_HEAD_MAX], text[XML_HEAD_MAX];
    struct xml_head_root root;
    enum error_code rc;
    vendor[0] = '\0';
    if ((rc = tiff_ifd_entry_text(t, desc_entry, false, desc, sizeof desc, err)) != ERROR_OK)
        return rc;

    if (d->e[SLOT_NDPI].present && d->e[SLOT_NDPI].count > 0) {
        classify_tiff_found(vendor, detector, "hamamatsu", "ndpi-tag-65420");
        return ERROR_OK;
    }
    if ((rc = tiff_ifd_entry_text(t, &d->e[SLOT_SOFTWARE], false, text, sizeof text, err)) !=
        ERROR_OK)
        return rc;
    if (xml_head_starts_with(text, "MedScan") && desc_entry->present && w->all_tiled) {
        classify_tiff_found(vendor, detector, "trestle", "software-medscan");
        return ERROR_OK;
    }
    bool philips_software = xml_head_starts_with(text, "Philips");
    if (tiled && xml_head_starts_with(desc, "Aperio")) {
        classify_tiff_found(vendor, detector, "aperio", "description-aperio");
        return ERROR_OK;
    }
    if (tiled) {
        if ((rc = tiff_ifd_entry_text(t, &d->e[SLOT_MAKE], false, text, sizeof text, err)) !=
            ERROR_OK)
            return rc;
        if (xml_head_starts_with(text, "Huron")) {
            classify_tiff_found(vendor, detector, "huron", "make-huron");
            return ERROR_OK;
        }
        if ((rc = tiff_ifd_entry_text(t, &d->e[SLOT_ARGOS], false, text, sizeof text, err)) !=
            ERROR_OK)
            return rc;
        if (xml_head_root(text, &root) && xml_head_root_is(&root, "Argos.Scan.Metadata")) {
            classify_tiff_found(vendor, detector, "argos", "argos-tag-65000");
            return ERROR_OK;
        }
        if (xml_head_root(desc, &root) && xml_head_root_is(&root, "scn") &&
            (xml_head_tag_has(&root, "http://www.leica-microsystems.com/scn/2010/03/10") ||
             xml_head_tag_has(&root, "http://www.leica-microsystems.com/scn/2010/10/01"))) {
            classify_tiff_found(vendor, detector, "leica", "description-leica-scn");
            return ERROR_OK;
        }
    }
    if (philips_software && xml_head_root(desc, &root) && xml_head_root_is(&root, "DataObject")) {
        char type[32];
        if (xml_head_tag_attr(&root, "ObjectType", type, sizeof type) &&
            strcmp(type, "DPUfsImport") == 0) {
            classify_tiff_found(vendor, detector, "philips", "description-philips");
            return ERROR_OK;
        }
    }
    if ((rc = tiff_ifd_entry_text(t, &d->e[SLOT_XMLPACKET], false, text, sizeof text, err)) !=
        ERROR_OK)
        return rc;
    if (strstr(text, "iScan") != NULL && xml_head_root(text, &root)) {
        bool iscan =
            xml_head_root_is(&root, "iScan") || (xml_head_root_is(&root, "Metadata") &&
                                                 strstr(root.tag + root.tag_len, "<iScan") != NULL);
        if (iscan) {
            classify_tiff_found(vendor, detector, "ventana", "xmp-iscan");
            return ERROR_OK;
        }
    }
    if (tiled)
        classify_tiff_found(vendor, detector, "generic-tiff", "tiled-tiff");
    return ERROR_OK;
}

/* OME: the first ImageDescription, stripped, ends with "OME>" (tifffile) and its root
 * element is OME (any prefix). Its facts (sizes, physical pixel size, channel names) come
 * from parsing it (core/ome_xml); a document the parser refuses is still OME, with a warning
 * in out and no facts. */
static enum error_code classify_tiff_ome(const struct tiff_ifd_file *t,
                                         const struct classify_tiff_ifd *d, bool *is_ome,
                                         struct ome_xml_facts *facts, struct classify_result *out,
                                         struct error_info *err)
{
    const struct tiff_ifd_entry *desc = &d->e[SLOT_DESCRIPTION];
    char tail[24], head[XML_HEAD_MAX];
    struct xml_head_root root;
    enum error_code rc;
    *is_ome = false;
    memset(facts, 0, sizeof *facts);
    if ((rc = tiff_ifd_entry_text(t, desc, true, tail, sizeof tail, err)) != ERROR_OK)
        return rc;
    if (!xml_head_ends_with(tail, "OME>"))
        return ERROR_OK;
    if ((rc = tiff_ifd_entry_text(t, desc, false, head, sizeof head, err)) != ERROR_OK)
        return rc;
    if (!xml_head_root(head, &root) || !xml_head_root_is(&root, "OME"))
        return ERROR_OK;
    *is_ome = true;

    size_t n = desc->count < OME_XML_MAX ? (size_t)desc->count + 1 : OME_XML_MAX + 1;
    char *xml = alloc_bytes(n);
    if (xml == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory reading OME-XML");
    rc = tiff_ifd_entry_text(t, desc, false, xml, n, err);
    if (rc == ERROR_OK) {
        struct error_info xerr;
        error_init(&xerr);
        enum error_code xrc =
            ome_xml_read(xml, strlen(xml), desc->count < OME_XML_MAX, facts, &xerr);
        if (xrc == ERROR_NO_MEMORY)
            rc = error_set(err, ERROR_NO_MEMORY, "%s", xerr.detail);
        else if (xrc != ERROR_OK)
            classify_warn(out, "%s; its sizes and channel names are not read", xerr.detail);
    }
    free(xml);
    return rc;
}

/* MPP (micrometres per pixel) in an Aperio description: "|MPP = 0.2527|". */
static enum error_code classify_tiff_aperio_mpp(const struct tiff_ifd_file *t,
                                                const struct classify_tiff_ifd *d,
                                                struct classify_physical *p, struct error_info *err)
{
    char text[XML_HEAD_MAX];
    enum error_code rc =
        tiff_ifd_entry_text(t, &d->e[SLOT_DESCRIPTION_LAST], false, text, sizeof text, err);
    if (rc != ERROR_OK)
        return rc;
    const char *m = strstr(text, "|MPP = ");
    if (m == NULL)
        return ERROR_OK;
    char *end;
    double v = strtod(m + 7, &end);
    if (end == m + 7 || !(v > 0) || v > 1e6)
        return ERROR_OK;
    for (int i = 0; i < 2; i++) {
        p->size[i] = v;
        classify_name_copy(p->unit[i], "\xc2\xb5m");
    }
    classify_name_copy(p->source, "aperio-mpp");
    return ERROR_OK;
}

/* XResolution / YResolution with ResolutionUnit inch (2, the default) or centimetre (3) as
 * micrometres per pixel; nothing for unit 1 (no absolute unit) or a missing resolution. */
static enum error_code classify_tiff_resolution(const struct tiff_ifd_file *t,
                                                const struct classify_tiff_ifd *d,
                                                struct classify_physical *p, struct error_info *err)
{
    double res[2];
    bool ok[2];
    uint64_t unit;
    enum error_code rc;
    if ((rc = tiff_ifd_entry_rational(t, &d->e[SLOT_XRESOLUTION], &res[0], &ok[0], err)) !=
            ERROR_OK ||
        (rc = tiff_ifd_entry_rational(t, &d->e[SLOT_YRESOLUTION], &res[1], &ok[1], err)) !=
            ERROR_OK ||
        (rc = tiff_ifd_entry_scalar(t, &d->e[SLOT_RESOLUTION_UNIT], 2, &unit, err)) != ERROR_OK)
        return rc;
    if ((unit != 2 && unit != 3) || !ok[0] || !ok[1] || !(res[0] > 0) || !(res[1] > 0))
        return ERROR_OK;
    double um = unit == 2 ? 25400.0 : 10000.0;
    for (int i = 0; i < 2; i++) {
        p->size[i] = um / res[i];
        classify_name_copy(p->unit[i], "\xc2\xb5m");
    }
    classify_name_copy(p->source, "tiff-resolution");
    return ERROR_OK;
}

/* ImageJ hyperstacks (and SCIFIO's) say so at the start of one of the two descriptions;
 * text receives the last description read (the ImageJ one when *is_imagej). */
static enum error_code classify_tiff_imagej(const struct tiff_ifd_file *t,
                                            const struct classify_tiff_ifd *d, bool *is_imagej,
                                            char text[XML_HEAD_MAX], struct error_info *err)
{
    static const enum classify_tiff_slot slots[] = {SLOT_DESCRIPTION, SLOT_DESCRIPTION_2};
    *is_imagej = false;
    for (size_t i = 0; i < sizeof slots / sizeof slots[0] && !*is_imagej; i++) {
        enum error_code rc =
            tiff_ifd_entry_text(t, &d->e[slots[i]], false, text, XML_HEAD_MAX, err);
        if (rc != ERROR_OK)
            return rc;
        *is_imagej = xml_head_starts_with(text, "ImageJ=") || xml_head_starts_with(text, "SCIFIO=");
    }
    return ERROR_OK;
}

/* ---- decisions ------------------------------------------------------------------------------ */

/* Why libvips 8.14's TIFF loader (tiff2vips.c: rtiff_parse_header, rtiff_guess_format) refuses
 * IFD 0 before reading a pixel, or NULL when it reads it. */
static const char *classify_tiff_vips_refuses(const struct classify_tiff_facts *f, bool tiled)
{
    if (f->compression == 6)
        return "OJPEG is read as subsampled YCbCr (\"subsampled images not supported\")";
    if (!f->has_photometric)
        return "no PhotometricInterpretation (\"required field 262 missing\")";
    if (f->width == 0 || f->height == 0)
        return "ImageWidth or ImageLength is 0";
    if (f->samples > 10000 || f->bits > 32)
        return "SamplesPerPixel above 10000 or more than 32 bits (\"samples out of range\")";
    if (f->bits != 1 && f->bits != 2 && f->bits != 4 && f->bits != 8 && f->bits != 16 &&
        f->bits != 32)
        return "BitsPerSample is not 1, 2, 4, 8, 16 or 32";
    if (f->sample_format == 3 && f->bits != 32)
        return "floating point samples are not 32-bit";
    if (tiled && f->planar == 2)
        return "tiled with PlanarConfiguration 2 (\"tiled separate planes not supported\")";
    if (f->has_photometric && f->photometric == 6 && f->compression != 7 &&
        (f->ycbcr_sub[0] != 1 || f->ycbcr_sub[1] != 1))
        return "subsampled YCbCr without JPEG compression";
    return NULL;
}

static void classify_tiff_decide_reader(struct classify_result *r,
                                        const struct classify_tiff_facts *f0)
{
    uint64_t compression = f0->compression;
    bool codec = compression <= UINT16_MAX && TIFFIsCODECConfigured((uint16_t)compression);
    const char *why = codec ? classify_tiff_vips_refuses(f0, r->tiled) : NULL;
    if (why != NULL)
        classify_warn(r, "libvips cannot read IFD 0: %s", why);
    r->can_use_vips = codec && why == NULL;
    r->can_use_openslide = codec && r->vendor[0] != '\0' && strcmp(r->vendor, "generic-tiff") != 0;
    if (r->can_use_openslide)
        r->reader = CLASSIFY_READER_OPENSLIDE;
    else if (r->can_use_vips)
        r->reader = CLASSIFY_READER_VIPS;
    else
        r->reader = CLASSIFY_READER_BIOFORMATS;
    if (r->can_use_openslide || r->is_ome || !r->can_use_vips)
        r->img_type = CLASSIFY_IMG_TYPE_SLIDE;
    else
        r->img_type = CLASSIFY_IMG_TYPE_IMG;
}

static void classify_tiff_decide_format(struct classify_result *r)
{
    static const struct {
        const char *vendor;
        const char *format;
    } formats[] = {
        {"aperio", "svs"},      {"hamamatsu", "ndpi"},  {"leica", "scn"},   {"philips", "philips"},
        {"ventana", "ventana"}, {"trestle", "trestle"}, {"huron", "huron"}, {"argos", "argos"},
    };
    if (r->is_ome) {
        classify_name_copy(r->format, "ome-tiff");
        return;
    }
    if (r->is_imagej) {
        classify_name_copy(r->format, "imagej-tiff");
        return;
    }
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(r->vendor, formats[i].vendor) == 0) {
            classify_name_copy(r->format, formats[i].format);
            return;
        }
    }
    classify_name_copy(r->format, "tiff");
}

static uint32_t classify_tiff_u32(uint64_t v)
{
    return (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
}

/* ---- entry point ----------------------------------------------------------------------------- */

enum error_code classify_tiff_read(struct tiff_ifd_src *src, unsigned max_ifds,
                                   struct classify_result *out, struct error_info *err)
{
    struct tiff_ifd_file t;
    struct tiff_ifd_seen seen;
    struct classify_tiff_walk w = {0};
    uint32_t subifds = 0;
    struct ome_xml_facts ome;
    char detector[CLASSIFY_NAME_MAX] = "";
    char imagej[XML_HEAD_MAX];
    bool is_tiff;
    memset(out, 0, sizeof *out);
    out->container = CLASSIFY_CONTAINER_UNKNOWN;
    tiff_ifd_seen_init(&seen, max_ifds);
    classify_stack_walk_init(&w.stack);
    enum error_code rc = tiff_ifd_open(src, &t, &is_tiff, err);
    if (rc != ERROR_OK || !is_tiff)
        goto out;
    if ((rc = classify_tiff_chain(&t, max_ifds, &seen, &w, out, err)) != ERROR_OK ||
        (rc = classify_tiff_subifds(&t, max_ifds, &seen, &w, &subifds, out, err)) != ERROR_OK ||
        (rc = classify_tiff_vendor(&t, &w, out->vendor, detector, err)) != ERROR_OK ||
        (rc = classify_tiff_ome(&t, &w.ifd0, &out->is_ome, &ome, out, err)) != ERROR_OK ||
        (rc = classify_tiff_imagej(&t, &w.ifd0, &out->is_imagej, imagej, err)) != ERROR_OK)
        goto out;

    out->container = t.bigtiff ? CLASSIFY_CONTAINER_BIGTIFF : CLASSIFY_CONTAINER_TIFF;
    out->is_bigtiff = t.bigtiff;
    out->width = w.f0.width;
    out->height = w.f0.height;
    out->channels = (uint32_t)w.f0.samples;
    if (ome.found) {
        if (ome.size_c > 0 && ome.size_c <= UINT32_MAX)
            out->channels = (uint32_t)ome.size_c;
        out->size_z = ome.size_z;
        out->size_t_ = ome.size_t_;
        memcpy(out->dimension_order, ome.dimension_order, sizeof out->dimension_order);
        out->physical = ome.physical;
        unsigned names = ome.channel_count < CLASSIFY_CHANNEL_NAMES_MAX
                             ? ome.channel_count
                             : CLASSIFY_CHANNEL_NAMES_MAX;
        memcpy(out->channel_names, ome.channel_names, sizeof out->channel_names);
        out->channel_name_count = (uint8_t)names;
    }
    if (out->physical.source[0] == '\0' && strcmp(out->vendor, "aperio") == 0 &&
        (rc = classify_tiff_aperio_mpp(&t, &w.ifd0, &out->physical, err)) != ERROR_OK)
        goto out;
    if (out->physical.source[0] == '\0' &&
        (rc = classify_tiff_resolution(&t, &w.ifd0, &out->physical, err)) != ERROR_OK)
        goto out;
    classify_tiff_names_dtype(w.f0.sample_format, w.f0.bits, out->dtype);
    classify_tiff_names_compression(w.f0.compression, out->compression);
    out->tiled = w.f0.tile_width > 0;
    if (out->tiled) {
        out->tile_width = classify_tiff_u32(w.f0.tile_width);
        out->tile_height = classify_tiff_u32(w.f0.tile_height);
    }
    out->pages = w.pages;
    classify_name_copy(out->vendor_detector, detector);
    if (strcmp(out->vendor, "aperio") == 0) {
        out->levels = w.tiled_pages;
        out->associated = w.aperio_named;
    } else if (subifds > 0) {
        out->levels = subifds + 1;
    } else if (w.any_reduced) {
        out->levels = w.reduced + 1;
    } else {
        out->levels = w.levels;
    }
    classify_stack_finish(&w.stack, out->is_imagej ? imagej : NULL, ome.found ? ome.size_z : 0,
                          out);
    classify_tiff_decide_format(out);
    classify_tiff_decide_reader(out, &w.f0);
out:
    tiff_ifd_seen_cleanup(&seen);
    if (rc != ERROR_OK) {
        memset(out, 0, sizeof *out);
        out->container = CLASSIFY_CONTAINER_UNKNOWN;
    }
    return rc;
}
