/* The trailer (OF_TRAILER_SIZE bytes) at the end of a onefile binary. */
#ifndef OF_TRAILER_H
#define OF_TRAILER_H

#include <stdint.h>

#include "of_format.h"

struct of_layer {
    uint64_t offset;
    uint64_t size;
    uint64_t entry_count;
    uint64_t unpacked_size;
    uint8_t sha256[OF_SHA256_DIGEST_SIZE];
};

struct of_trailer {
    uint32_t version;
    struct of_layer layers[OF_LAYER_COUNT];
    uint8_t app_key[OF_SHA256_DIGEST_SIZE];
    uint16_t libc; /* OF_LIBC_* */
    uint8_t glibc[OF_GLIBC_BITMAP_SIZE]; /* the GLIBC_2.y versions the layers need */
    uint8_t app_id[OF_SHA256_DIGEST_SIZE]; /* names the app across its versions */
    uint16_t kernel[2]; /* the oldest Linux (major, minor) the bundled glibc runs on; 0.0: unknown */
};

/* Parse and check the trailer of `file` (the whole binary, `file_size` bytes);
 * `path` names it in error messages. Returns 0, or -1 with of_error set. */
int of_trailer_read(const uint8_t *file, uint64_t file_size, const char *path, struct of_trailer *out);

#endif
