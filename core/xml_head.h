/*
 * xml_head.h - facts from the head of an XML or plain text: the root element's local name,
 * its start tag and attributes, and prefix / suffix tests. For detectors that look at the
 * first few KiB of a TIFF ImageDescription or XMLPacket (OME, Leica SCN, Philips, Ventana).
 *
 * Not a parser: only the root element matters to a detector, so the prolog (byte order mark,
 * XML declaration, comments, DOCTYPE) is skipped and the first start tag is located; the
 * content is never read. Texts are NUL-terminated; every function is one linear pass over
 * them at most, allocates nothing and is thread-safe.
 */
#ifndef TESSERA_CORE_XML_HEAD_H
#define TESSERA_CORE_XML_HEAD_H

#include <stdbool.h>
#include <stddef.h>

#define XML_HEAD_MAX 4096u /* bytes of a text the detectors read */

/* A start tag: both fields point into the caller's text. name is the element's local name
 * (after any "prefix:"), tag the whole start tag from "<" to ">" (or to the end of the text
 * when it is cut short). A caller may also point tag at any other start tag it found, with
 * name NULL, to read that tag's attributes. */
struct xml_head_root {
    const char *name;
    size_t name_len;
    const char *tag;
    size_t tag_len;
};

/* Find the root element of text; false when the text is not XML (or its prolog is cut). */
bool xml_head_root(const char *text, struct xml_head_root *r);

/* Is the root's local name exactly name? */
bool xml_head_root_is(const struct xml_head_root *r, const char *name);

/* Does the start tag contain needle (a namespace URI, say)? */
bool xml_head_tag_has(const struct xml_head_root *r, const char *needle);

/* The value of attribute attr of the start tag into buf (n bytes, truncated to fit,
 * NUL-terminated); false when the tag has no such attribute. */
bool xml_head_tag_attr(const struct xml_head_root *r, const char *attr, char *buf, size_t n);

/* Does s start with prefix / end with suffix? */
bool xml_head_starts_with(const char *s, const char *prefix);
bool xml_head_ends_with(const char *s, const char *suffix);

#endif
