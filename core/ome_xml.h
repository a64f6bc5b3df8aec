/*
 * ome_xml.h - the facts a pipeline needs from an OME-XML document, read with a real XML
 * parser (expat): the first Image's Pixels element (SizeX/Y/Z/C/T, DimensionOrder,
 * PhysicalSizeX/Y/Z with their units) and the names of its Channel elements.
 *
 * Bounded: at most OME_XML_MAX bytes are parsed, elements nest at most OME_XML_DEPTH deep,
 * a document that declares an entity (internal or external) is refused, external entities
 * and parameter entities are never loaded, and expat's billion-laughs protection caps any
 * amplification. Parsing stops at the end of the first Pixels element, so the cost is the
 * bytes up to it. Thread-safe: one parser per call, nothing shared.
 */
#ifndef TESSERA_CORE_OME_XML_H
#define TESSERA_CORE_OME_XML_H

#include "classify.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>

#define OME_XML_MAX   (4u << 20) /* bytes of OME-XML parsed at most */
#define OME_XML_DEPTH 64u        /* deepest element nesting accepted */

struct ome_xml_facts {
    bool found; /* a Pixels element was read */
    uint64_t size_c, size_z, size_t_;
    char dimension_order[CLASSIFY_DIM_ORDER_MAX];
    struct classify_physical physical; /* source "ome" when any PhysicalSize is given */
    unsigned channel_count;            /* Channel elements of the first Pixels */
    char channel_names[CLASSIFY_CHANNEL_NAMES_MAX][CLASSIFY_CHANNEL_NAME_LEN];
};

/*
 * Parse len bytes of OME-XML at xml (the whole document, or its first OME_XML_MAX bytes
 * with complete false) into *out. ERROR_OK with out->found when the first Pixels element
 * was read; ERROR_UNPROCESSABLE, with the parser's reason and line, for XML that is not
 * well-formed, nests too deep, declares an entity, amplifies too much, or ends (complete
 * false) before the first Pixels element ends; ERROR_NO_MEMORY.
 */
enum error_code ome_xml_read(const char *xml, size_t len, bool complete, struct ome_xml_facts *out,
                             struct error_info *err) ERROR_MUST_CHECK;

#endif
