/*
 * xml_head.c - root element, start tag and attributes of the head of an XML text, and
 * prefix / suffix tests; see xml_head.h.
 */
#include "xml_head.h"

#include <string.h>

static bool xml_head_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool xml_head_root(const char *text, struct xml_head_root *r)
{
    const char *p = text;
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;
    /* the prolog: declarations, comments and the doctype, each skipped whole */
    for (;;) {
        while (xml_head_space(*p))
            p++;
        if (p[0] != '<')
            return false;
        const char *close = NULL;
        if (p[1] == '?')
            close = strstr(p, "?>");
        else if (strncmp(p, "<!--", 4) == 0)
            close = strstr(p, "-->");
        else if (p[1] == '!')
            close = strchr(p, '>');
        else
            break;
        if (close == NULL)
            return false;
        p = close + (close[0] == '>' ? 1 : close[0] == '?' ? 2 : 3);
    }
    const char *name = p + 1;
    const char *e = name;
    while (*e != '\0' && !xml_head_space(*e) && *e != '>' && *e != '/')
        e++;
    if (e == name)
        return false;
    const char *colon = memchr(name, ':', (size_t)(e - name));
    r->name = colon ? colon + 1 : name;
    r->name_len = (size_t)(e - r->name);
    const char *gt = strchr(e, '>');
    r->tag = p;
    r->tag_len = gt ? (size_t)(gt - p + 1) : strlen(p);
    return true;
}

bool xml_head_root_is(const struct xml_head_root *r, const char *name)
{
    return r->name != NULL && r->name_len == strlen(name) &&
           memcmp(r->name, name, r->name_len) == 0;
}

bool xml_head_tag_has(const struct xml_head_root *r, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= r->tag_len; i++)
        if (memcmp(r->tag + i, needle, n) == 0)
            return true;
    return false;
}

bool xml_head_tag_attr(const struct xml_head_root *r, const char *attr, char *buf, size_t n)
{
    size_t alen = strlen(attr);
    const char *end = r->tag + r->tag_len;
    for (const char *p = r->tag; p + alen < end; p++) {
        if (memcmp(p, attr, alen) != 0 || (p > r->tag && !xml_head_space(p[-1])))
            continue;
        const char *q = p + alen;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= end || *q != '=')
            continue;
        q++;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= end || (*q != '"' && *q != '\''))
            continue;
        char quote = *q++;
        size_t k = 0;
        while (q < end && *q != quote && k + 1 < n)
            buf[k++] = *q++;
        buf[k] = '\0';
        return true;
    }
    return false;
}

bool xml_head_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool xml_head_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}
