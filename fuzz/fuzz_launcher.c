/* libFuzzer harness for the launcher's reading of its own file: the trailer, the
 * layers' local entries, unpacking them (into a scratch directory), ONEFILE=verify's
 * comparison of the result and ONEFILE=info's manifest lookup.
 *
 * Each input is a whole binary. It goes through twice: as it is (for the trailer
 * checks), then with the layer SHA-256s and the app key in its trailer recomputed, so
 * that mutations get past the checksums to the entry parser and the unpacker, which
 * is where hostile input does harm. Layers announcing more than 1 MiB unpacked are
 * parsed but not written, to keep each run small.
 *
 * Built by fuzz/Makefile: `make fuzzer` (clang, libFuzzer) or `make replay` (any cc,
 * replays files through replay.c). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "of_cache.h"
#include "of_error.h"
#include "of_format.h"
#include "of_modes.h"
#include "of_sha256.h"
#include "of_libc.h"
#include "of_trailer.h"
#include "of_unpack.h"

#define FUZZ_MAX_UNPACKED (1u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_base[] = "/dev/shm/of-fuzz-XXXXXX";
static int fuzz_ready, fuzz_verbose; /* OF_FUZZ_VERBOSE=1: say how far each input got */

static void fuzz_say(const char *stage, int rc)
{
    if (fuzz_verbose)
        fprintf(stderr, "  %s: %s\n", stage, rc == 0 ? "ok" : of_error_message());
}

static void fuzz_cleanup(void)
{
    of_cache_remove(fuzz_base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    umask(022);
    if (mkdtemp(fuzz_base) == NULL) {
        memcpy(fuzz_base, "/tmp/of-fuzz-XXXXXX", sizeof("/tmp/of-fuzz-XXXXXX"));
        if (mkdtemp(fuzz_base) == NULL) {
            perror("of-fuzz: mkdtemp");
            abort();
        }
    }
    fuzz_verbose = getenv("OF_FUZZ_VERBOSE") != NULL;
    atexit(fuzz_cleanup);
    fuzz_ready = 1;
    return 0;
}

static uint64_t fuzz_le64(const uint8_t *p)
{
    return of_le64(p);
}

/* Recompute the checksums in the trailer of `file` wherever the layer records allow. */
static void fuzz_fix_checksums(uint8_t *file, size_t size)
{
    uint8_t *tr = file + size - OF_TRAILER_SIZE, keys[2 * OF_SHA256_DIGEST_SIZE];
    uint64_t limit = size - OF_TRAILER_SIZE;

    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        uint8_t *rec = tr + OF_TRAILER_LAYERS_AT + (size_t)i * OF_LAYER_RECORD_SIZE;
        uint64_t offset = fuzz_le64(rec + OF_LAYER_OFFSET_AT), len = fuzz_le64(rec + OF_LAYER_SIZE_AT);

        if (offset <= limit && len <= limit - offset)
            of_sha256(file + offset, (size_t)len, rec + OF_LAYER_SHA256_AT);
        memcpy(keys + i * OF_SHA256_DIGEST_SIZE, rec + OF_LAYER_SHA256_AT, OF_SHA256_DIGEST_SIZE);
    }
    of_sha256(keys, sizeof(keys), tr + OF_TRAILER_APP_KEY_AT);
}

static void fuzz_unpack(const uint8_t *file, const struct of_layer *layer, int which)
{
    static const char *const prefixes[OF_LAYER_COUNT] = { OF_PREFIX_RUNTIME, OF_PREFIX_APP };
    /* A runtime layer is unpacked whole, without libc/ or libc/ alone (as of_install_libc
     * does), by its entry count: each input takes one of the three paths. */
    static const struct of_unpack_part parts[2] = { { OF_RUNTIME_LIBC_DIR, 0 }, { OF_RUNTIME_LIBC_DIR, 1 } };
    const struct of_unpack_part *part =
        which == OF_LAYER_RUNTIME && layer->entry_count % 3 != 0 ? &parts[layer->entry_count % 3 - 1] : NULL;
    char dir[sizeof(fuzz_base) + 16];
    int fd, rc;

    if (layer->unpacked_size > FUZZ_MAX_UNPACKED)
        return;
    snprintf(dir, sizeof(dir), "%s/XXXXXX", fuzz_base);
    if (mkdtemp(dir) == NULL)
        abort();
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        abort();
    rc = of_unpack_layer_part(file, layer, prefixes[which], "fuzz", fd, dir, "/rt", part);
    fuzz_say(prefixes[which], rc);
    if (rc == 0 && (part == NULL || !part->only))
        fuzz_say("check", of_modes_check_dir(file, layer, prefixes[which], dir, which == OF_LAYER_APP ? "/rt" : NULL,
                                             "/rt", 1, NULL) < 0);
    close(fd);
    of_cache_remove(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct of_trailer t;
    char *manifest;
    uint8_t *copy;
    int rc;

    if (!fuzz_ready)
        LLVMFuzzerInitialize(NULL, NULL);
    (void)of_libc_defined_minor(data, size); /* the target's libc.so.6 is input too */
    (void)of_trailer_read(size >= OF_TRAILER_SIZE ? data : NULL, size, "fuzz", &t);
    if (size < OF_TRAILER_SIZE)
        return 0;
    copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    fuzz_fix_checksums(copy, size);
    rc = of_trailer_read(copy, size, "fuzz", &t);
    fuzz_say("trailer", rc);
    if (rc == 0) {
        for (int i = 0; i < OF_LAYER_COUNT; i++)
            fuzz_unpack(copy, &t.layers[i], i);
        manifest = of_modes_manifest(copy, &t.layers[OF_LAYER_APP]);
        fuzz_say("manifest", manifest == NULL);
        free(manifest);
        /* The checks ONEFILE=verify runs without unpacking first. */
        of_modes_check_dir(copy, &t.layers[OF_LAYER_RUNTIME], OF_PREFIX_RUNTIME, fuzz_base, NULL, "/rt", 0, NULL);
    }
    free(copy);
    return 0;
}
