/*
 * ome_xml.c - OME-XML facts with expat; see ome_xml.h.
 *
 * The one design decision: the parser runs in namespace mode, so an element is matched by
 * its local name whatever prefix or OME schema version the document uses, and the handlers
 * keep only a few counters and the first Pixels' attributes, stopping the parser as soon as
 * that element closes.
 */
#include "ome_xml.h"

/* Debian's libexpat is built with DTD support, which is what declares the billion-laughs
 * controls in expat.h (they sit behind XML_DTD there). */
#define XML_DTD
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ome_xml_state {
    XML_Parser parser;
    struct ome_xml_facts *out;
    unsigned depth;
    unsigned pixels_depth; /* depth of the first Pixels element while inside it, else 0 */
    bool done;             /* the first Pixels element has ended */
    const char *refused;   /* why the handlers stopped the parser, or NULL */
};

/* The local name of a namespace-mode name ("uri local" or "local"). */
static const char *ome_xml_local(const XML_Char *name)
{
    const char *sp = strrchr(name, ' ');
    return sp != NULL ? sp + 1 : name;
}

static const char *ome_xml_attr(const XML_Char **attrs, const char *name)
{
    for (size_t i = 0; attrs[i] != NULL; i += 2)
        if (strcmp(ome_xml_local(attrs[i]), name) == 0)
            return attrs[i + 1];
    return NULL;
}

static uint64_t ome_xml_uint(const char *v)
{
    if (v == NULL || v[0] < '0' || v[0] > '9')
        return 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    return *end == '\0' ? (uint64_t)n : 0;
}

static void ome_xml_copy(char *dst, size_t n, const char *src)
{
    size_t len = src != NULL ? strlen(src) : 0;
    if (len >= n)
        len = n - 1;
    /* never cut a UTF-8 sequence: back up to the start of the one that does not fit */
    while (len > 0 && src[len] != '\0' && ((unsigned char)src[len] & 0xC0) == 0x80)
        len--;
    if (len > 0)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

static void ome_xml_pixels(struct ome_xml_facts *f, const XML_Char **attrs)
{
    static const char *const axes[3][2] = {{"PhysicalSizeX", "PhysicalSizeXUnit"},
                                           {"PhysicalSizeY", "PhysicalSizeYUnit"},
                                           {"PhysicalSizeZ", "PhysicalSizeZUnit"}};
    f->found = true;
    f->size_c = ome_xml_uint(ome_xml_attr(attrs, "SizeC"));
    f->size_z = ome_xml_uint(ome_xml_attr(attrs, "SizeZ"));
    f->size_t_ = ome_xml_uint(ome_xml_attr(attrs, "SizeT"));
    ome_xml_copy(f->dimension_order, sizeof f->dimension_order,
                 ome_xml_attr(attrs, "DimensionOrder"));
    for (int i = 0; i < 3; i++) {
        const char *v = ome_xml_attr(attrs, axes[i][0]);
        if (v == NULL)
            continue;
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end != '\0' || !(d > 0) || d > 1e300)
            continue;
        f->physical.size[i] = d;
        const char *unit = ome_xml_attr(attrs, axes[i][1]);
        /* the OME schema's default unit is the micrometre */
        ome_xml_copy(f->physical.unit[i], sizeof f->physical.unit[i],
                     unit != NULL ? unit : "\xc2\xb5m");
        classify_name_copy(f->physical.source, "ome");
    }
}

static void XMLCALL ome_xml_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    struct ome_xml_state *s = data;
    if (++s->depth > OME_XML_DEPTH) {
        s->refused = "elements nest deeper than the limit";
        XML_StopParser(s->parser, XML_FALSE);
        return;
    }
    const char *local = ome_xml_local(name);
    if (s->pixels_depth == 0 && !s->out->found && strcmp(local, "Pixels") == 0) {
        s->pixels_depth = s->depth;
        ome_xml_pixels(s->out, attrs);
    } else if (s->pixels_depth != 0 && s->depth == s->pixels_depth + 1 &&
               strcmp(local, "Channel") == 0) {
        struct ome_xml_facts *f = s->out;
        if (f->channel_count < CLASSIFY_CHANNEL_NAMES_MAX)
            ome_xml_copy(f->channel_names[f->channel_count], CLASSIFY_CHANNEL_NAME_LEN,
                         ome_xml_attr(attrs, "Name"));
        f->channel_count++;
    }
}

static void XMLCALL ome_xml_end(void *data, const XML_Char *name)
{
    struct ome_xml_state *s = data;
    (void)name;
    if (s->pixels_depth != 0 && s->depth == s->pixels_depth) {
        s->done = true;
        XML_StopParser(s->parser, XML_FALSE);
    }
    s->depth--;
}

static void XMLCALL ome_xml_entity(void *data, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *system_id, const XML_Char *public_id,
                                   const XML_Char *notation)
{
    struct ome_xml_state *s = data;
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)system_id;
    (void)public_id, (void)notation;
    s->refused = "the document declares an entity";
    XML_StopParser(s->parser, XML_FALSE);
}

enum error_code ome_xml_read(const char *xml, size_t len, bool complete, struct ome_xml_facts *out,
                             struct error_info *err)
{
    memset(out, 0, sizeof *out);
    if (len > OME_XML_MAX) {
        len = OME_XML_MAX;
        complete = false;
    }
    struct ome_xml_state s = {.out = out};
    s.parser = XML_ParserCreateNS(NULL, ' ');
    if (s.parser == NULL)
        return error_set(err, ERROR_NO_MEMORY, "out of memory for the OME-XML parser");
    XML_SetUserData(s.parser, &s);
    XML_SetElementHandler(s.parser, ome_xml_start, ome_xml_end);
    XML_SetEntityDeclHandler(s.parser, ome_xml_entity);
    XML_SetParamEntityParsing(s.parser, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetBillionLaughsAttackProtectionMaximumAmplification(s.parser, 20.0f);
    XML_SetBillionLaughsAttackProtectionActivationThreshold(s.parser, 1u << 20);
    enum XML_Status st = XML_Parse(s.parser, xml, (int)len, complete ? XML_TRUE : XML_FALSE);
    enum error_code rc = ERROR_OK;
    if (s.done) {
        rc = ERROR_OK;
    } else if (s.refused != NULL) {
        rc = error_set(err, ERROR_UNPROCESSABLE, "OME-XML refused: %s (line %lu)", s.refused,
                       (unsigned long)XML_GetCurrentLineNumber(s.parser));
    } else if (st != XML_STATUS_OK) {
        rc = error_set(err, ERROR_UNPROCESSABLE, "OME-XML is not well-formed: %s (line %lu)",
                       XML_ErrorString(XML_GetErrorCode(s.parser)),
                       (unsigned long)XML_GetCurrentLineNumber(s.parser));
    } else if (!complete) {
        rc = error_set(err, ERROR_UNPROCESSABLE,
                       "OME-XML: the first Pixels element does not end in the first %u bytes",
                       OME_XML_MAX);
    }
    XML_ParserFree(s.parser);
    if (rc != ERROR_OK)
        memset(out, 0, sizeof *out);
    return rc;
}
