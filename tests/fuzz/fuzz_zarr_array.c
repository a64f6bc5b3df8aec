/* fuzz_zarr_array.c - parse any bytes as a .zarray and as a v3 zarr.json: never crash, never
 * read past the text, and only ever answer OK or UNPROCESSABLE / TOO_LARGE. */
#include "zarr_array.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zarr_array_meta meta;
    struct error_info err;
    for (unsigned v = 2; v <= 3; v++) {
        enum error_code rc =
            v == 2 ? zarr_array_parse_v2((const char *)data, size, ".zarray", &meta, &err)
                   : zarr_array_parse_v3((const char *)data, size, "zarr.json", &meta, &err);
        if (rc != ERROR_OK && rc != ERROR_UNPROCESSABLE && rc != ERROR_TOO_LARGE)
            abort();
    }
    return 0;
}
