/* fuzz_classify.c - classify any bytes as a file held in memory: never crash, never leak,
 * and only ever answer OK or UNPROCESSABLE / TOO_LARGE / NO_MEMORY. */
#include "classify.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct classify_options opt = {.max_ifds = 256, .zarr_json_max = 0};
    struct classify_result r;
    struct error_info err;
    enum error_code rc = classify_buffer(data, size, &opt, &r, &err);
    if (rc != ERROR_OK && rc != ERROR_UNPROCESSABLE && rc != ERROR_TOO_LARGE &&
        rc != ERROR_NO_MEMORY)
        abort();
    return 0;
}
