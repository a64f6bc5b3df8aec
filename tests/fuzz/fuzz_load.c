/* fuzz_load.c - decode any bytes as a label TIFF for /overlap and count it against itself:
 * never crash or leak; on success every pixel pairs with itself (a == b on the diagonal). */
#include "load.h"
#include "overlap.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct load_source src = {.fd = -1, .data = data, .size = size, .name = "fuzz"};
    struct load_options opt;
    load_options_init(&opt);
    opt.max_pixels = 1u << 22;
    opt.max_alloc = 64u << 20;
    opt.max_ifds = 64;
    opt.threads = 2;
    struct error_info err;
    struct overlap_counter *counter = overlap_counter_new(1u << 16, &err);
    if (counter == NULL)
        return 0;
    if (load_overlap(&src, &src, &opt, counter, NULL, NULL, &err) == ERROR_OK) {
        struct overlap_options o = {.include_background = true};
        struct overlap_result r = {0};
        if (overlap_counter_finish(counter, &o, &r, &err) == ERROR_OK) {
            for (size_t i = 0; i < r.n_pairs; i++)
                if (r.a[i] != r.b[i])
                    abort();
        }
        overlap_result_cleanup(&r);
    }
    overlap_counter_free(counter);
    return 0;
}
