#include "of_trailer.h"

#include <string.h>

#include "of_error.h"
#include "of_sha256.h"

static const char *const of_trailer_layer_names[OF_LAYER_COUNT] = { "runtime", "app" };

int of_trailer_read(const uint8_t *file, uint64_t file_size, const char *path, struct of_trailer *out)
{
    const uint8_t *raw;
    uint64_t limit;
    uint8_t keys[2 * OF_SHA256_DIGEST_SIZE], key[OF_SHA256_DIGEST_SIZE];
    uint32_t size;

    if (file_size < OF_TRAILER_SIZE)
        return of_error("%s: not a onefile binary (too small)", path);
    limit = file_size - OF_TRAILER_SIZE;
    raw = file + limit;
    if (memcmp(raw + OF_TRAILER_MAGIC_AT, OF_MAGIC, OF_MAGIC_SIZE) != 0)
        return of_error("%s: not a onefile binary, or a truncated copy of one (no trailer at its end)", path);
    out->version = of_le32(raw + OF_TRAILER_VERSION_AT);
    if (out->version != OF_FORMAT_VERSION)
        return of_error("%s: unsupported format version %u (this launcher reads version %u)", path,
                        (unsigned)out->version, OF_FORMAT_VERSION);
    size = of_le32(raw + OF_TRAILER_SIZE_AT);
    if (size != OF_TRAILER_SIZE)
        return of_error("%s: damaged trailer (size %u, expected %u)", path, (unsigned)size,
                        OF_TRAILER_SIZE);

    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        const uint8_t *rec = raw + OF_TRAILER_LAYERS_AT + (size_t)i * OF_LAYER_RECORD_SIZE;
        struct of_layer *layer = &out->layers[i];

        layer->offset = of_le64(rec + OF_LAYER_OFFSET_AT);
        layer->size = of_le64(rec + OF_LAYER_SIZE_AT);
        layer->entry_count = of_le64(rec + OF_LAYER_ENTRY_COUNT_AT);
        layer->unpacked_size = of_le64(rec + OF_LAYER_UNPACKED_SIZE_AT);
        memcpy(layer->sha256, rec + OF_LAYER_SHA256_AT, OF_SHA256_DIGEST_SIZE);
        if (layer->offset > limit || layer->size > limit - layer->offset)
            return of_error("%s: damaged trailer (%s layer outside the file)", path,
                            of_trailer_layer_names[i]);
    }
    if (out->layers[OF_LAYER_RUNTIME].offset + out->layers[OF_LAYER_RUNTIME].size >
        out->layers[OF_LAYER_APP].offset)
        return of_error("%s: damaged trailer (runtime layer overlaps the app layer)", path);

    /* The app key names the app directory; a wrong one could make two different
     * binaries share it, so check it (64 bytes to hash, cheap even when warm). */
    memcpy(out->app_key, raw + OF_TRAILER_APP_KEY_AT, OF_SHA256_DIGEST_SIZE);
    memcpy(keys, out->layers[OF_LAYER_RUNTIME].sha256, OF_SHA256_DIGEST_SIZE);
    memcpy(keys + OF_SHA256_DIGEST_SIZE, out->layers[OF_LAYER_APP].sha256, OF_SHA256_DIGEST_SIZE);
    of_sha256(keys, sizeof(keys), key);
    if (memcmp(key, out->app_key, OF_SHA256_DIGEST_SIZE) != 0)
        return of_error("%s: damaged trailer (app key mismatch)", path);

    out->libc = of_le16(raw + OF_TRAILER_LIBC_AT);
    if (out->libc != OF_LIBC_NONE && out->libc != OF_LIBC_GLIBC && out->libc != OF_LIBC_GLIBC_BUNDLED)
        return of_error("%s: damaged trailer (unknown C library kind %u)", path, (unsigned)out->libc);
    memcpy(out->glibc, raw + OF_TRAILER_GLIBC_AT, OF_GLIBC_BITMAP_SIZE);
    memcpy(out->app_id, raw + OF_TRAILER_APP_ID_AT, OF_SHA256_DIGEST_SIZE);
    out->kernel[0] = of_le16(raw + OF_TRAILER_KERNEL_AT);
    out->kernel[1] = of_le16(raw + OF_TRAILER_KERNEL_AT + 2);
    return 0;
}
