/* error.c - formatting of struct error_info; see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static enum error_code error_vset(struct error_info *err, enum error_code code, int sys_errno,
                                  const char *fmt, va_list ap) ERROR_PRINTF(4, 0);

static enum error_code error_vset(struct error_info *err, enum error_code code, int sys_errno,
                                  const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->sys_errno = sys_errno;
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    return code;
}

enum error_code error_set(struct error_info *err, enum error_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

enum error_code error_set_sys(struct error_info *err, enum error_code code, int sys_errno,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, code, sys_errno, fmt, ap);
    va_end(ap);
    return code;
}

void error_init(struct error_info *err)
{
    err->code = ERROR_OK;
    err->sys_errno = 0;
    err->detail[0] = '\0';
}

const char *error_code_name(enum error_code code)
{
    static const char *const names[] = {
        [ERROR_OK] = "ok",
        [ERROR_INVALID] = "invalid",
        [ERROR_FORBIDDEN] = "forbidden",
        [ERROR_NOT_FOUND] = "not_found",
        [ERROR_UNPROCESSABLE] = "unprocessable",
        [ERROR_TOO_LARGE] = "too_large",
        [ERROR_BUSY] = "busy",
        [ERROR_TIMEOUT] = "timeout",
        [ERROR_NO_MEMORY] = "no_memory",
        [ERROR_IO] = "io",
        [ERROR_INTERNAL] = "internal",
    };
    if ((unsigned)code >= sizeof names / sizeof names[0])
        return "unknown";
    return names[code];
}
