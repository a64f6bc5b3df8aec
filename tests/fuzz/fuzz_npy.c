/* fuzz_npy.c - parse any bytes as a .npy file and read it in bands of 3 rows: never crash,
 * never read outside the input; a parsed file's sizes add up to the input's. */
#include "npy.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct npy_info info;
    struct error_info err;
    if (npy_parse(data, size, "fuzz", &info, &err) != ERROR_OK)
        return 0;
    if (info.data_offset + info.data_len != size || info.n_rows * info.row_len != info.n_elements)
        abort();
    unsigned char *band = malloc(3 * (size_t)info.row_len * info.dtype.width + 1);
    for (uint64_t row = 0; band != NULL && row < info.n_rows; row += 3) {
        uint64_t n = info.n_rows - row < 3 ? info.n_rows - row : 3;
        if (npy_read_rows(&info, data + info.data_offset, row, n, band,
                          3 * (size_t)info.row_len * info.dtype.width, &err) != ERROR_OK)
            abort();
    }
    free(band);
    return 0;
}
