/*
 * classify_tiff.h - the TIFF half of classify (core/classify.h): walk a file's IFDs with
 * core/tiff_ifd, apply the detectors, and decide format, reader and img_type.
 *
 * The walk reads the header, every IFD of the main chain (counting pages, checking that
 * strip/tile data lies inside the file after libtiff's one StripByteCounts repair, counting
 * pages marked reduced, masks aside, for the pyramid depth, naming an Aperio slide's
 * stripped pages) and the SubIFDs of IFD 0 (a broken one is a warning), with a visited-offset
 * set catching loops and max_ifds capping the IFDs walked. The detectors look at IFD 0's
 * text tags: OME (the first ImageDescription is OME-XML, parsed by core/ome_xml), ImageJ,
 * and OpenSlide's vendor rules applied in OpenSlide's order to the last ImageDescription.
 * libtiff is consulted for one fact: whether the first image's codec is configured
 * (TIFFIsCODECConfigured); that and libvips 8.14's refusals read from the tags decide vips
 * vs Bio-Formats.
 *
 * Cost: O(IFDs + tags) reads through the source's window; memory O(1) but for the visited
 * set beyond 64 IFDs and one buffer of at most OME_XML_MAX bytes for an OME description
 * (plus expat's parser), all freed before return.
 */
#ifndef TESSERA_CORE_CLASSIFY_TIFF_H
#define TESSERA_CORE_CLASSIFY_TIFF_H

#include "classify.h"
#include "tiff_ifd.h"

/*
 * Classify the file behind src (max_ifds > 0). Returns ERROR_OK with *out filled, or with
 * container UNKNOWN and everything else zero for a file that is not a TIFF; fails like
 * classify_fd on a regular file, with *out zeroed (container UNKNOWN). Thread-safe for
 * distinct sources.
 */
enum error_code classify_tiff_read(struct tiff_ifd_src *src, unsigned max_ifds,
                                   struct classify_result *out,
                                   struct error_info *err) ERROR_MUST_CHECK;

#endif
