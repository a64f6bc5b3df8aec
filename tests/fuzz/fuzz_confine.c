/* fuzz_confine.c - the lexical path check must accept or refuse any bytes without crashing,
 * and must refuse every input that contains "..", a NUL or a leading '/'. */
#include "confine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct error_info err;
    enum error_code rc = confine_check((const char *)data, size, &err);
    if (rc == ERROR_OK && size > 0 && (data[0] == '/' || memchr(data, 0, size) != NULL))
        abort();
    return 0;
}
