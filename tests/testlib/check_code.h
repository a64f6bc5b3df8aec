/*
 * check_code.h - CHECK_CODE(expr, want) for tests of functions that return an enum
 * error_code: expr is evaluated exactly once and compared with want like CHECK_INT; on a
 * mismatch the detail of the caller's `struct error_info err` (which must be in scope) is
 * printed too.
 */
#ifndef TESSERA_TESTS_CHECK_CODE_H
#define TESSERA_TESTS_CHECK_CODE_H

#include "check.h"
#include "error.h"

#include <stdio.h>

#define CHECK_CODE(expr, want)                                                                     \
    do {                                                                                           \
        enum error_code check_rc_ = (expr);                                                        \
        if (!CHECK_INT(check_rc_, want))                                                           \
            fprintf(stderr, "    detail: %s\n", err.detail);                                       \
    } while (0)

#endif
