/* fuzz_zarr_array.c - parse any bytes as a .zarray: never crash, never read past the text,
 * and only ever answer OK or UNPROCESSABLE / TOO_LARGE. */
#include "zarr_array.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zarr_array_meta meta;
    struct error_info err;
    enum error_code rc = zarr_array_parse_v2((const char *)data, size, ".zarray", &meta, &err);
    if (rc != ERROR_OK && rc != ERROR_UNPROCESSABLE && rc != ERROR_TOO_LARGE)
        abort();
    return 0;
}
