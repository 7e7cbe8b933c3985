/* Tests for the launcher's parsers and unpacker: `make check`, run under ASan/UBSan. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <sys/file.h>

#include "of_cache.h"
#include "of_crc32.h"
#include "of_error.h"
#include "of_filter.h"
#include "of_modes.h"
#include "of_format.h"
#include "of_gc.h"
#include "of_interp.h"
#include "of_sha256.h"
#include "of_libc.h"
#include "of_trailer.h"
#include "of_unpack.h"

static int passed, failed;

#define CHECK(cond) test_check((cond), #cond, __LINE__)
#define OK(expr) CHECK((expr) == 0)
#define BAD(expr) test_bad((expr) != 0, #expr, __LINE__)

static int verbose; /* OF_TEST_VERBOSE=1: show the message behind each expected failure */

static void test_check(int ok, const char *what, int line)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL line %d: %s (last error: %s)\n", line, what, of_error_message());
    }
}

static void test_bad(int ok, const char *what, int line)
{
    if (ok && verbose)
        printf("line %d: %s\n", line, of_error_message());
    test_check(ok, what, line);
}

/* ---- building inputs ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

struct buf {
    uint8_t data[1 << 16];
    size_t len;
    uint64_t count, unpacked;
};

/* Append a local entry with explicit sizes; returns its offset in b. */
/* A local header, the name and the mode field at `p`, for an entry whose extra block is
 * `extra` bytes (the mode field first); returns where the rest of the extra block goes. */
static uint8_t *put_header(uint8_t *p, const char *name, uint32_t mode, uint16_t method, uint32_t csize,
                           uint32_t usize, uint32_t crc, size_t extra)
{
    size_t name_len = strlen(name);

    memset(p, 0, OF_ZIP_LOCAL_HEADER_SIZE);
    put32(p, OF_ZIP_LOCAL_SIGNATURE);
    put16(p + 4, method == OF_ZIP_METHOD_STORED ? 20 : 63);
    put16(p + OF_ZIP_LOCAL_METHOD_AT, method);
    put32(p + OF_ZIP_LOCAL_CRC32_AT, crc);
    put32(p + OF_ZIP_LOCAL_COMPRESSED_SIZE_AT, csize);
    put32(p + OF_ZIP_LOCAL_SIZE_AT, usize);
    put16(p + OF_ZIP_LOCAL_NAME_LENGTH_AT, (uint16_t)name_len);
    put16(p + OF_ZIP_LOCAL_EXTRA_LENGTH_AT, (uint16_t)extra);
    p += OF_ZIP_LOCAL_HEADER_SIZE;
    memcpy(p, name, name_len);
    p += name_len;
    put16(p, OF_ZIP_EXTRA_MODE_ID);
    put16(p + 2, OF_ZIP_EXTRA_MODE_SIZE);
    put32(p + 4, mode);
    return p + OF_ZIP_EXTRA_SIZE;
}

static size_t put_entry_crc(struct buf *b, const char *name, uint32_t mode, uint16_t method, const void *data,
                            uint32_t csize, uint32_t usize, uint32_t crc)
{
    size_t at = b->len, name_len = strlen(name);
    uint8_t *p = put_header(b->data + at, name, mode, method, csize, usize, crc, OF_ZIP_EXTRA_SIZE);

    memcpy(p, data, csize);
    b->len = at + OF_ZIP_LOCAL_HEADER_SIZE + name_len + OF_ZIP_EXTRA_SIZE + csize;
    b->count++;
    b->unpacked += usize;
    return at;
}

static size_t put_entry_raw(struct buf *b, const char *name, uint32_t mode, uint16_t method, const void *data,
                            uint32_t csize, uint32_t usize)
{
    uint32_t crc = method == OF_ZIP_METHOD_STORED ? of_crc32(0, data, csize) : 0;

    return put_entry_crc(b, name, mode, method, data, csize, usize, crc);
}

static size_t put_entry(struct buf *b, const char *name, uint32_t mode, const char *data)
{
    return put_entry_raw(b, name, mode, OF_ZIP_METHOD_STORED, data, (uint32_t)strlen(data), (uint32_t)strlen(data));
}

static size_t put_zstd(struct buf *b, const char *name, uint32_t mode, const char *data)
{
    uint8_t packed[4096];
    size_t n = ZSTD_compress(packed, sizeof(packed), data, strlen(data), 3);

    if (ZSTD_isError(n))
        abort();
    return put_entry_crc(b, name, mode, OF_ZIP_METHOD_ZSTD, packed, (uint32_t)n, (uint32_t)strlen(data),
                         of_crc32(0, data, strlen(data)));
}

/* A stored file entry with patch sites (`n` pairs of offset, size in `sites`, and an FP
 * field of `fp_len` bytes after its 4-byte header: pass n * 8 for a well-formed one). */
static size_t put_sited(struct buf *b, const char *name, uint32_t mode, const void *data, uint32_t size,
                        const uint32_t *sites, size_t n, uint16_t fp_len)
{
    size_t at = b->len, name_len = strlen(name), extra = OF_ZIP_EXTRA_SIZE + 4u + fp_len;
    uint8_t *p = put_header(b->data + at, name, mode, OF_ZIP_METHOD_STORED, size, size, of_crc32(0, data, size), extra);

    put16(p, OF_ZIP_EXTRA_SITES_ID);
    put16(p + 2, fp_len);
    memset(p + 4, 0, fp_len);
    for (size_t i = 0; i < n && 8 * i + 8 <= fp_len; i++) {
        put32(p + 4 + 8 * i, sites[2 * i]);
        put32(p + 8 + 8 * i, sites[2 * i + 1]);
    }
    p += 4u + fp_len;
    memcpy(p, data, size);
    b->len = at + OF_ZIP_LOCAL_HEADER_SIZE + name_len + extra + size;
    b->count++;
    b->unpacked += size;
    return at;
}

/* A zstd entry of `size` bytes of `data`, filtered (OF_FILTER_X86_CALLS) before it is
 * compressed, with an FX field of `fx_len` bytes holding `filter` (4 and
 * OF_FILTER_X86_CALLS for a well-formed one); stored instead with `stored`. */
static size_t put_filtered(struct buf *b, const char *name, const uint8_t *data, size_t size, uint32_t filter,
                           uint16_t fx_len, int stored)
{
    uint8_t *work = malloc(size + 1), *p;
    size_t at = b->len, name_len = strlen(name), extra = OF_ZIP_EXTRA_SIZE + 4u + fx_len, n;

    if (work == NULL)
        abort();
    memcpy(work, data, size);
    of_filter_x86_do(work, size);
    n = stored ? size : ZSTD_compress(b->data + at + OF_ZIP_LOCAL_HEADER_SIZE + name_len + extra,
                                      sizeof(b->data) - at - OF_ZIP_LOCAL_HEADER_SIZE - name_len - extra, work, size, 3);
    if (ZSTD_isError(n))
        abort();
    p = put_header(b->data + at, name, OF_MODE_EXECUTABLE, stored ? OF_ZIP_METHOD_STORED : OF_ZIP_METHOD_ZSTD,
                   (uint32_t)n, (uint32_t)size, of_crc32(0, data, size), extra);
    put16(p, OF_ZIP_EXTRA_FILTER_ID);
    put16(p + 2, fx_len);
    memset(p + 4, 0, fx_len);
    if (fx_len >= 4)
        put32(p + 4, filter);
    if (stored)
        memcpy(p + 4 + fx_len, work, size);
    free(work);
    b->len = at + OF_ZIP_LOCAL_HEADER_SIZE + name_len + extra + n;
    b->count++;
    b->unpacked += size;
    return at;
}

/* A group of `n` files (`datas`) as consecutive members named `names`: one zstd frame,
 * flushed after each file and finished after file `finish` (n - 1 for a well-formed
 * group); member i says it is `index[i]` of `count` (NULL: i of n). */
static void put_group(struct buf *b, const char *const *names, const char *const *datas, size_t n, size_t finish,
                      const uint32_t *index, uint32_t count)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();

    for (size_t i = 0; i < n; i++) {
        uint8_t packed[4096];
        ZSTD_inBuffer in = { datas[i], strlen(datas[i]), 0 };
        ZSTD_outBuffer out = { packed, sizeof(packed), 0 };
        size_t at = b->len, name_len = strlen(names[i]), extra = OF_ZIP_EXTRA_SIZE + 4u + OF_ZIP_EXTRA_GROUP_SIZE;
        uint8_t *p;

        if (i > finish)
            ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
        if (ZSTD_isError(ZSTD_compressStream2(cctx, &out, &in, i == finish ? ZSTD_e_end : ZSTD_e_flush)))
            abort();
        p = put_header(b->data + at, names[i], OF_MODE_FILE, OF_ZIP_METHOD_ZSTD_GROUP, (uint32_t)out.pos,
                       (uint32_t)in.size, of_crc32(0, datas[i], in.size), extra);
        put16(p, OF_ZIP_EXTRA_GROUP_ID);
        put16(p + 2, OF_ZIP_EXTRA_GROUP_SIZE);
        put32(p + 4, index != NULL ? index[i] : (uint32_t)i);
        put32(p + 8, count);
        memcpy(p + 4 + OF_ZIP_EXTRA_GROUP_SIZE, packed, out.pos);
        b->len = at + OF_ZIP_LOCAL_HEADER_SIZE + name_len + extra + out.pos;
        b->count++;
        b->unpacked += in.size;
    }
    ZSTD_freeCCtx(cctx);
}

/* A whole file: 16 bytes of "stub", two layers, 64 bytes of "zip", the trailer. */
static size_t build_file(uint8_t *out, const struct buf *runtime, const struct buf *app)
{
    const struct buf *layers[2] = { runtime, app };
    uint8_t keys[64], *t;
    size_t at = 16;

    memset(out, 'S', 16);
    for (int i = 0; i < 2; i++) {
        uint8_t *rec;

        memcpy(out + at, layers[i]->data, layers[i]->len);
        rec = out + 16 + (runtime->len + app->len + 64) + OF_TRAILER_LAYERS_AT + 64 * (size_t)i;
        put64(rec + OF_LAYER_OFFSET_AT, at);
        put64(rec + OF_LAYER_SIZE_AT, layers[i]->len);
        put64(rec + OF_LAYER_ENTRY_COUNT_AT, layers[i]->count);
        put64(rec + OF_LAYER_UNPACKED_SIZE_AT, layers[i]->unpacked);
        of_sha256(layers[i]->data, layers[i]->len, rec + OF_LAYER_SHA256_AT);
        memcpy(keys + 32 * i, rec + OF_LAYER_SHA256_AT, 32);
        at += layers[i]->len;
    }
    memset(out + at, 'Z', 64);
    at += 64;
    t = out + at;
    put32(t + OF_TRAILER_VERSION_AT, OF_FORMAT_VERSION);
    put32(t + OF_TRAILER_SIZE_AT, OF_TRAILER_SIZE);
    of_sha256(keys, sizeof(keys), t + OF_TRAILER_APP_KEY_AT);
    memset(t + OF_TRAILER_LIBC_AT, 0, OF_TRAILER_MAGIC_AT - OF_TRAILER_LIBC_AT);
    memcpy(t + OF_TRAILER_MAGIC_AT, OF_MAGIC, OF_MAGIC_SIZE);
    return at + OF_TRAILER_SIZE;
}

/* ---- SHA-256 ---- */

static int hex_equal(const uint8_t *digest, const char *hex)
{
    char got[65];

    for (int i = 0; i < 32; i++)
        snprintf(got + 2 * i, 3, "%02x", digest[i]);
    return strcmp(got, hex) == 0;
}

static void test_sha256(void)
{
    static const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    uint8_t d[32], d2[32], big[1000];
    struct of_sha256 ctx;

    of_sha256("", 0, d);
    CHECK(hex_equal(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    of_sha256("abc", 3, d);
    CHECK(hex_equal(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    of_sha256(msg, strlen(msg), d);
    CHECK(hex_equal(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    for (size_t split = 0; split <= 130; split += 13) {
        of_sha256(big, sizeof(big), d);
        of_sha256_init(&ctx);
        of_sha256_update(&ctx, big, split);
        of_sha256_update(&ctx, big + split, 1);
        of_sha256_update(&ctx, big + split + 1, sizeof(big) - split - 1);
        of_sha256_final(&ctx, d2);
        CHECK(memcmp(d, d2, 32) == 0);
    }
}

/* ---- trailer ---- */

static uint8_t file_buf[1 << 18];

static void test_trailer(void)
{
    static struct buf rt, app;
    struct of_trailer t;
    size_t len;
    uint8_t *tr, saved[OF_TRAILER_SIZE];

    rt.len = app.len = 0;
    put_entry(&rt, "runtime/bin/python3", OF_MODE_EXECUTABLE, "#!/bin/sh\n");
    put_entry(&app, "app/bin/onefile-main", OF_MODE_FILE, "print(1)\n");
    len = build_file(file_buf, &rt, &app);
    tr = file_buf + len - OF_TRAILER_SIZE;
    memcpy(saved, tr, sizeof(saved));

    OK(of_trailer_read(file_buf, len, "f", &t));
    CHECK(t.version == OF_FORMAT_VERSION && t.libc == OF_LIBC_NONE && t.layers[0].offset == 16 && t.layers[0].size == rt.len &&
          t.layers[1].offset == 16 + rt.len && t.layers[1].entry_count == 1 &&
          t.layers[0].unpacked_size == strlen("#!/bin/sh\n"));

    /* Truncated: every size below the trailer's. */
    for (size_t n = 0; n < OF_TRAILER_SIZE; n++)
        BAD(of_trailer_read(NULL, n, "f", &t));
    /* Cut from the front: the trailer is intact but the layers fall outside. */
    BAD(of_trailer_read(file_buf + 16 + rt.len, len - 16 - rt.len, "f", &t));

#define MUTATE(stmt)                               \
    do {                                           \
        memcpy(tr, saved, sizeof(saved));          \
        stmt;                                      \
        BAD(of_trailer_read(file_buf, len, "f", &t)); \
    } while (0)
    MUTATE(tr[OF_TRAILER_MAGIC_AT] ^= 1);
    MUTATE(tr[OF_TRAILER_MAGIC_AT + 7] = 0);
    MUTATE(put32(tr + OF_TRAILER_VERSION_AT, 0));
    MUTATE(put32(tr + OF_TRAILER_VERSION_AT, 1));
    MUTATE(put32(tr + OF_TRAILER_VERSION_AT, OF_FORMAT_VERSION + 1));
    MUTATE(put32(tr + OF_TRAILER_SIZE_AT, 192));
    MUTATE(put32(tr + OF_TRAILER_SIZE_AT, OF_TRAILER_SIZE - 1));
    MUTATE(put32(tr + OF_TRAILER_SIZE_AT, OF_TRAILER_SIZE + 1));
    MUTATE(tr[OF_TRAILER_LIBC_AT] = 3);
    /* Offsets and sizes out of range or overflowing. */
    MUTATE(put64(tr + OF_TRAILER_LAYERS_AT + OF_LAYER_OFFSET_AT, UINT64_MAX));
    MUTATE(put64(tr + OF_TRAILER_LAYERS_AT + OF_LAYER_OFFSET_AT, UINT64_MAX - 1);
           put64(tr + OF_TRAILER_LAYERS_AT + OF_LAYER_SIZE_AT, 4));
    MUTATE(put64(tr + OF_TRAILER_LAYERS_AT + OF_LAYER_SIZE_AT, UINT64_MAX));
    MUTATE(put64(tr + OF_TRAILER_LAYERS_AT + 64 + OF_LAYER_SIZE_AT, UINT64_MAX - 15));
    MUTATE(put64(tr + OF_TRAILER_LAYERS_AT + 64 + OF_LAYER_OFFSET_AT, len));
    MUTATE(put64(tr + OF_TRAILER_LAYERS_AT + 64 + OF_LAYER_SIZE_AT, len - OF_TRAILER_SIZE - 16 - rt.len + 1));
    /* The runtime layer must end before the app layer starts. */
    MUTATE(put64(tr + OF_TRAILER_LAYERS_AT + OF_LAYER_SIZE_AT, rt.len + 1));
    MUTATE(put64(tr + OF_TRAILER_LAYERS_AT + 64 + OF_LAYER_OFFSET_AT, 16));
    /* A layer checksum changed without the app key. */
    MUTATE(tr[OF_TRAILER_LAYERS_AT + OF_LAYER_SHA256_AT] ^= 1);
    MUTATE(tr[OF_TRAILER_APP_KEY_AT + 31] ^= 1);
#undef MUTATE

    /* Allowed: an app layer running up to the trailer, empty layers, reserved bytes. */
    memcpy(tr, saved, sizeof(saved));
    put64(tr + OF_TRAILER_LAYERS_AT + 64 + OF_LAYER_SIZE_AT, len - OF_TRAILER_SIZE - 16 - rt.len);
    OK(of_trailer_read(file_buf, len, "f", &t));
    memcpy(tr, saved, sizeof(saved));
    put64(tr + OF_TRAILER_LAYERS_AT + OF_LAYER_SIZE_AT, 0);
    OK(of_trailer_read(file_buf, len, "f", &t));
    memcpy(tr, saved, sizeof(saved));
    tr[OF_TRAILER_RESERVED_AT] = 1;
    OK(of_trailer_read(file_buf, len, "f", &t));
    memcpy(tr, saved, sizeof(saved));
    tr[OF_TRAILER_LIBC_AT] = OF_LIBC_GLIBC;
    tr[OF_TRAILER_GLIBC_AT + 4] = 0x10; /* GLIBC_2.36 */
    tr[OF_TRAILER_APP_ID_AT] = 0xab;
    OK(of_trailer_read(file_buf, len, "f", &t));
    CHECK(t.libc == OF_LIBC_GLIBC && t.glibc[4] == 0x10 && t.app_id[0] == 0xab);
    memcpy(tr, saved, sizeof(saved));
}

/* ---- the target's C library ---- */

static void test_libc(void)
{
    static const char *const paths[] = { "/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6",
                                         "/lib64/libc.so.6" };
    struct of_libc_system glibc31 = { OF_LIBC_KIND_GLIBC, 31 }, unknown = { OF_LIBC_KIND_GLIBC, -1 };
    struct of_libc_system musl = { OF_LIBC_KIND_MUSL, -1 }, none = { OF_LIBC_KIND_NONE, -1 };
    uint8_t needs[OF_GLIBC_BITMAP_SIZE] = { 0 }, *copy;
    struct of_libc_system here;
    struct stat st;
    FILE *f = NULL;
    int minor;

    /* GLIBC_2.2 (2.2.5), 2.17 and 2.31 recorded. */
    needs[0] = 1 << 2;
    needs[2] = 1 << 1;
    needs[3] = 1 << 7;
    OK(of_libc_check(OF_LIBC_GLIBC, needs, &glibc31));
    OK(of_libc_check(OF_LIBC_GLIBC, needs, &unknown));
    OK(of_libc_check(OF_LIBC_NONE, needs, &none));
    BAD(of_libc_check(OF_LIBC_GLIBC, needs, &musl));
    CHECK(strcmp(of_error_message(), "needs glibc; this system's C library is musl") == 0);
    BAD(of_libc_check(OF_LIBC_GLIBC, needs, &none));
    needs[4] = 1 << 4; /* 2.36 */
    BAD(of_libc_check(OF_LIBC_GLIBC, needs, &glibc31));
    CHECK(strcmp(of_error_message(), "needs glibc 2.36 or newer; this system has glibc 2.31") == 0);

    /* The kernel the bundled glibc needs (its ABI tag, from the trailer). */
    {
        const uint16_t linux32[2] = { 3, 2 }, unknown_kernel[2] = { 0, 0 };

        OK(of_libc_check_kernel(linux32, "5.10.0-23-amd64"));
        OK(of_libc_check_kernel(linux32, "3.2.0"));
        OK(of_libc_check_kernel(linux32, "4"));
        OK(of_libc_check_kernel(linux32, ""));
        OK(of_libc_check_kernel(linux32, "not-a-version"));
        OK(of_libc_check_kernel(unknown_kernel, "2.6.32"));
        BAD(of_libc_check_kernel(linux32, "2.6.32-754.el6.x86_64"));
        CHECK(strcmp(of_error_message(), "needs Linux 3.2 or newer (for the glibc it carries); "
                                         "this system runs Linux 2.6.32-754.el6.x86_64") == 0);
        BAD(of_libc_check_kernel(linux32, "3.1.99"));
    }

    /* This machine's own libc.so.6, whole and cut short at every 4 KiB (hostile input). */
    of_libc_probe("", &here);
    CHECK(here.kind == OF_LIBC_KIND_GLIBC && here.glibc_minor >= 17);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && f == NULL; i++)
        f = fopen(paths[i], "rb");
    CHECK(f != NULL && fstat(fileno(f), &st) == 0);
    if (f == NULL)
        return;
    copy = malloc((size_t)st.st_size);
    CHECK(copy != NULL && fread(copy, 1, (size_t)st.st_size, f) == (size_t)st.st_size);
    fclose(f);
    minor = of_libc_defined_minor(copy, (uint64_t)st.st_size);
    CHECK(minor >= 17 && minor <= here.glibc_minor);
    for (uint64_t n = 0; n < (uint64_t)st.st_size; n += 4096)
        CHECK(of_libc_defined_minor(copy, n) <= minor);
    memset(copy + 0x28, 0xff, 8); /* section headers far outside the file */
    CHECK(of_libc_defined_minor(copy, (uint64_t)st.st_size) == -1);
    free(copy);
    of_libc_probe("/nonexistent-root", &here);
    CHECK(here.kind == OF_LIBC_KIND_NONE);
}

static void test_interp(void)
{
    static const char *const paths[] = { "/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6",
                                         "/lib64/libc.so.6" };
    char site[64] = OF_INTERP_TOKEN "/libc/lib:" OF_INTERP_TOKEN "/lib", out[64];
    struct of_interp_choice choice;
    struct of_libc_system here;
    int fd = -1;

    OK(of_interp_expand(site, sizeof(site), "/c/r", out));
    CHECK(strcmp(out, "/c/r/libc/lib:/c/r/lib") == 0 && out[sizeof(out) - 1] == '\0');
    /* 2 * 20 + 10 bytes fit in 63 (and a NUL); 2 * 27 + 10 don't. */
    OK(of_interp_expand(site, sizeof(site), "/aaaaaaaaaaaaaaaaaaa", out));
    BAD(of_interp_expand(site, sizeof(site), "/aaaaaaaaaaaaaaaaaaaaaaaaaa", out));
    BAD(of_interp_expand(site, sizeof(site), "/a:b", out)); /* a run path can't hold ':' */
    BAD(of_interp_expand("/usr/lib", 9, "/c", out));         /* not a site: no token first */
    memset(site + strlen(site), 'x', sizeof(site) - strlen(site));
    BAD(of_interp_expand(site, sizeof(site), "/c", out));   /* no NUL within the site */

    /* The pread parser agrees with the mmap one on this machine's libc.so.6. */
    of_libc_probe("", &here);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && fd < 0; i++)
        fd = open(paths[i], O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0 && of_interp_defined_minor(fd) >= 17 && of_interp_defined_minor(fd) <= here.glibc_minor);
    if (fd >= 0)
        close(fd);
    of_interp_choose("", 17, &choice);
    CHECK(choice.kind == OF_INTERP_SYSTEM && choice.system_minor >= 17);
    of_interp_choose("", 99, &choice);
    CHECK(choice.kind == OF_INTERP_BUNDLED);
    of_interp_choose("/nonexistent-root", 17, &choice);
    CHECK(choice.kind == OF_INTERP_BUNDLED && choice.system_minor == -1);
}

/* ---- names and links ---- */

static void test_names(void)
{
    static const char *good[] = { "a", "bin/python3", "lib/python3.12/site-packages/x.py", "...", "..a", "a..", ".a",
                                  "a.", "\xc3\xa9t\xc3\xa9", "a b/c" };
    static const char *bad[] = { "", "/", "/etc/passwd", "a//b", "a/", "./a", "a/.", "a/./b", ".", "..", "../a",
                                 "a/..", "a/../b", "a\\b", "..\\a" };

    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        OK(of_unpack_name_check(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        BAD(of_unpack_name_check(bad[i], strlen(bad[i])));
    BAD(of_unpack_name_check("a\0b", 3));
}

static void test_links(void)
{
    static const struct {
        const char *name, *target;
        int ok;
    } cases[] = {
        { "bin/python", "python3.12", 1 },
        { "bin/python", "../lib/libpython.so", 1 },
        { "a/b/c", "../../x", 1 },
        { "a/b/c", "../../../x", 0 },
        { "a/b/c", "./../.././x", 1 },
        { "a/b/c", "x/../../../..", 0 },
        { "a/b/c", "x/../../../../y", 0 },
        { "a/b/c", "x//y/", 1 },
        { "top", "..", 0 },
        { "top", "../top", 0 },
        { "top", ".", 1 },
        { "top", "sub/..", 0 }, /* ".." after a name: "sub" could be a link */
        { "a/b/c", "x/../y", 0 },
        { "a/l", "../x/../y", 0 },
        { "a/l", "./../x/./y", 1 },
        { "a/b/l", "../../x/y/z", 1 },
        { "top", "/etc/passwd", 0 },
        { "top", "/", 0 },
        { "top", "", 0 },
        { "a/l", "..", 1 },
        { "a/l", "../..", 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int rc = of_unpack_link_check(cases[i].name, strlen(cases[i].name), cases[i].target, strlen(cases[i].target));

        if (cases[i].ok)
            OK(rc);
        else
            BAD(rc);
    }
    BAD(of_unpack_link_check("top", 3, "a\0b", 3));
}

/* ---- local entries ---- */

static void test_entries(void)
{
    static struct buf b;
    static uint8_t big[PATH_MAX];
    struct of_entry e;
    size_t total;
    uint8_t *p = b.data;

    b.len = 0;
    put_entry(&b, "app/lib/x.py", OF_MODE_FILE, "hello");
    total = b.len;
    OK(of_unpack_entry(p, total, OF_PREFIX_APP, &e));
    CHECK(e.total == total && e.name_len == 8 && memcmp(e.name, "lib/x.py", 8) == 0 && e.size == 5 &&
          e.mode == OF_MODE_FILE && memcmp(e.data, "hello", 5) == 0);
    OK(of_unpack_entry(p, total + 100, OF_PREFIX_APP, &e)); /* more bytes after it are fine */
    BAD(of_unpack_entry(p, total, OF_PREFIX_RUNTIME, &e));
    for (size_t n = 0; n < total; n++) /* every truncation */
        BAD(of_unpack_entry(p, n, OF_PREFIX_APP, &e));

#define MUTATE(stmt, expect)                            \
    do {                                                \
        b.len = 0;                                      \
        put_entry(&b, "app/lib/x.py", OF_MODE_FILE, "hello"); \
        stmt;                                           \
        expect(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e)); \
    } while (0)
    MUTATE(p[0] = 'X', BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_FLAGS_AT, OF_ZIP_FLAG_UTF8), OK);
    MUTATE(put16(p + OF_ZIP_LOCAL_FLAGS_AT, OF_ZIP_FLAG_ENCRYPTED), BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_FLAGS_AT, OF_ZIP_FLAG_DATA_DESCRIPTOR), BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_FLAGS_AT, 0x0002), BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_METHOD_AT, 8), BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_METHOD_AT, 93), OK);
    MUTATE(put32(p + OF_ZIP_LOCAL_SIZE_AT, 4), BAD); /* stored: sizes differ */
    MUTATE(put32(p + OF_ZIP_LOCAL_COMPRESSED_SIZE_AT, 6); put32(p + OF_ZIP_LOCAL_SIZE_AT, 6), BAD); /* past the end */
    MUTATE(put32(p + OF_ZIP_LOCAL_COMPRESSED_SIZE_AT, UINT32_MAX); put32(p + OF_ZIP_LOCAL_SIZE_AT, UINT32_MAX), BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_NAME_LENGTH_AT, UINT16_MAX), BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_EXTRA_LENGTH_AT, UINT16_MAX), BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_EXTRA_LENGTH_AT, 0), BAD);
    MUTATE(put16(p + OF_ZIP_LOCAL_EXTRA_LENGTH_AT, 4), BAD);
    MUTATE(put16(p + 30 + 12, 0x5455), BAD); /* another extra id */
    MUTATE(put16(p + 30 + 14, 5), BAD); /* extra size */
    MUTATE(put16(p + OF_ZIP_LOCAL_NAME_LENGTH_AT, 3), BAD); /* "app" */
    MUTATE(put16(p + OF_ZIP_LOCAL_NAME_LENGTH_AT, 4), BAD); /* "app/" */
#undef MUTATE

    /* Modes. */
    static const uint32_t bad_modes[] = { 0100777, 0100600, 0104755, 0102755, 0101755, 0100644 | 0200000,
                                          0010644, 0020644, 0060644, 0140755, 0120755, 0040700, 0, 0644 };
    for (size_t i = 0; i < sizeof(bad_modes) / sizeof(*bad_modes); i++) {
        b.len = 0;
        put_entry(&b, "app/x", bad_modes[i], "x");
        BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    }
    b.len = 0;
    put_entry(&b, "app/x", OF_MODE_EXECUTABLE, "x");
    OK(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    b.len = 0;
    put_entry(&b, "app/", OF_MODE_FILE, "x");
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    b.len = 0;
    put_entry(&b, "app/x/", OF_MODE_FILE, "x");
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    /* Directories: trailing '/', no data. */
    b.len = 0;
    put_entry(&b, "app/d/e/", OF_MODE_DIRECTORY, "");
    OK(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    CHECK(e.name_len == 3 && memcmp(e.name, "d/e", 3) == 0);
    b.len = 0;
    put_entry(&b, "app/d", OF_MODE_DIRECTORY, "");
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    b.len = 0;
    put_entry(&b, "app/d/", OF_MODE_DIRECTORY, "x");
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    b.len = 0;
    put_entry(&b, "app/", OF_MODE_DIRECTORY, "");
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    b.len = 0;
    put_entry(&b, "app/d//", OF_MODE_DIRECTORY, "");
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    /* Names, through the entry parser. */
    static const char *bad_names[] = { "app//x", "app/../x", "app/a/../../x", "app/./x", "app/a\\b", "x/app/a",
                                       "appx" };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++) {
        b.len = 0;
        put_entry(&b, bad_names[i], OF_MODE_FILE, "x");
        BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    }
    b.len = 0;
    put_entry_raw(&b, "app/a\0b", OF_MODE_FILE, OF_ZIP_METHOD_STORED, "x", 1, 1);
    put16(p + OF_ZIP_LOCAL_NAME_LENGTH_AT, 7);
    b.len += 2;
    memmove(p + 30 + 7, p + 30 + 5, 8 + 1); /* put the extra and data after the full name */
    memcpy(p + 30, "app/a\0b", 7);
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    /* Symlink targets: not empty, shorter than PATH_MAX. */
    b.len = 0;
    put_entry(&b, "app/l", OF_MODE_SYMLINK, "");
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    memset(big, 'a', sizeof(big));
    b.len = 0;
    put_entry_raw(&b, "app/l", OF_MODE_SYMLINK, OF_ZIP_METHOD_STORED, big, PATH_MAX, PATH_MAX);
    BAD(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
    b.len = 0;
    put_entry_raw(&b, "app/l", OF_MODE_SYMLINK, OF_ZIP_METHOD_STORED, big, PATH_MAX - 1, PATH_MAX - 1);
    OK(of_unpack_entry(p, b.len, OF_PREFIX_APP, &e));
}

/* ---- whole layers ---- */

static char *make_tmp(void)
{
    char *dir = strdup("/tmp/of-test-XXXXXX");

    if (dir == NULL || mkdtemp(dir) == NULL)
        abort();
    return dir;
}

/* Unpack `b` (as the app layer) into a fresh directory; returns the rc, and the
 * directory in *dir (remove it with of_cache_remove). */
static int unpack(const struct buf *b, uint64_t count, uint64_t unpacked, char **dir)
{
    struct of_layer layer = { 0, b->len, count, unpacked, { 0 } };
    int fd, rc;

    *dir = make_tmp();
    fd = open(*dir, O_RDONLY | O_DIRECTORY);
    rc = of_unpack_layer(b->data, &layer, OF_PREFIX_APP, "test: app layer", fd, *dir, "/rt");
    close(fd);
    return rc;
}

/* The layer `setup` puts into `b` (in scope) must not unpack, and leaves nothing outside
 * its directory (`dir`, in scope, removed after). */
#define LAYER_BAD(setup)                            \
    do {                                            \
        b.len = b.count = b.unpacked = 0;           \
        setup;                                      \
        BAD(unpack(&b, b.count, b.unpacked, &dir)); \
        CHECK(!exists(dir, "../escaped"));          \
        of_cache_remove(dir);                       \
        free(dir);                                  \
    } while (0)

static int file_is(const char *dir, const char *name, const char *content, mode_t mode)
{
    char path[PATH_MAX], got[256];
    struct stat st;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    n = read(fd, got, sizeof(got));
    fstat(fd, &st);
    close(fd);
    return n == (ssize_t)strlen(content) && memcmp(got, content, (size_t)n) == 0 && (st.st_mode & 07777) == mode;
}

static int link_is(const char *dir, const char *name, const char *target)
{
    char path[PATH_MAX], got[PATH_MAX];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    n = readlink(path, got, sizeof(got) - 1);
    return n >= 0 && (got[n] = '\0', strcmp(got, target) == 0);
}

static int exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

static void test_layers(void)
{
    static const char *long_text = "a fairly long text that compresses, a fairly long text that compresses, "
                                   "a fairly long text that compresses, a fairly long text that compresses.\n";
    static struct buf b;
    char *dir;
    size_t at;

    /* A good layer: directories (implied and explicit), stored, zstd, links. */
    b.len = b.count = b.unpacked = 0;
    put_entry(&b, "app/d/", OF_MODE_DIRECTORY, "");
    put_entry(&b, "app/d/a.txt", OF_MODE_FILE, "hello\n");
    put_zstd(&b, "app/bin/tool", OF_MODE_EXECUTABLE, long_text);
    put_entry(&b, "app/d/link", OF_MODE_SYMLINK, "../bin/tool");
    put_zstd(&b, "app/zlink", OF_MODE_SYMLINK, "d/a.txt");
    put_entry(&b, "app/empty", OF_MODE_FILE, "");
    put_entry(&b, "app/d/e/f/deep.py", OF_MODE_FILE, "x = 1\n");
    put_entry(&b, "app/d/e/", OF_MODE_DIRECTORY, "");
    put_entry(&b, "app/d/e/f/g/h.txt", OF_MODE_FILE, "h");
    put_entry(&b, "app/d/e/i.txt", OF_MODE_FILE, "i");
    put_entry(&b, "app/dx/j.txt", OF_MODE_FILE, "j");
    put_entry(&b, "app/d/e/f/k.txt", OF_MODE_FILE, "k");
    OK(unpack(&b, b.count, b.unpacked, &dir));
    CHECK(file_is(dir, "d/e/f/g/h.txt", "h", 0644) && file_is(dir, "d/e/i.txt", "i", 0644) &&
          file_is(dir, "dx/j.txt", "j", 0644) && file_is(dir, "d/e/f/k.txt", "k", 0644));
    CHECK(file_is(dir, "d/a.txt", "hello\n", 0644));
    CHECK(file_is(dir, "bin/tool", long_text, 0755));
    CHECK(file_is(dir, "empty", "", 0644));
    CHECK(file_is(dir, "d/e/f/deep.py", "x = 1\n", 0644));
    CHECK(link_is(dir, "d/link", "../bin/tool"));
    CHECK(link_is(dir, "zlink", "d/a.txt"));
    of_cache_remove(dir);
    CHECK(!exists(dir, ""));
    free(dir);

    /* Counts and sizes must match the trailer exactly. */
    BAD(unpack(&b, b.count + 1, b.unpacked, &dir));
    of_cache_remove(dir);
    free(dir);
    BAD(unpack(&b, b.count - 1, b.unpacked, &dir));
    of_cache_remove(dir);
    free(dir);
    BAD(unpack(&b, UINT64_MAX, b.unpacked, &dir));
    of_cache_remove(dir);
    free(dir);
    BAD(unpack(&b, b.count, b.unpacked + 1, &dir));
    of_cache_remove(dir);
    free(dir);
    b.len -= 1; /* the last entry cut short */
    BAD(unpack(&b, b.count, b.unpacked, &dir));
    of_cache_remove(dir);
    free(dir);

    /* Collisions and writing through links or files. */
    LAYER_BAD(put_entry(&b, "app/a", OF_MODE_FILE, "1"); put_entry(&b, "app/a", OF_MODE_FILE, "2"));
    LAYER_BAD(put_entry(&b, "app/a", OF_MODE_FILE, "1"); put_entry(&b, "app/a/b", OF_MODE_FILE, "2"));
    LAYER_BAD(put_entry(&b, "app/a", OF_MODE_FILE, "1"); put_entry(&b, "app/a/", OF_MODE_DIRECTORY, ""));
    LAYER_BAD(put_entry(&b, "app/d/", OF_MODE_DIRECTORY, ""); put_entry(&b, "app/d", OF_MODE_FILE, "1"));
    LAYER_BAD(put_entry(&b, "app/d/x", OF_MODE_FILE, "1"); put_entry(&b, "app/l", OF_MODE_SYMLINK, "d");
              put_entry(&b, "app/l/escaped", OF_MODE_FILE, "2"));
    LAYER_BAD(put_entry(&b, "app/d/x", OF_MODE_FILE, "1"); put_entry(&b, "app/l", OF_MODE_SYMLINK, "d");
              put_entry(&b, "app/l/", OF_MODE_DIRECTORY, ""));
    LAYER_BAD(put_entry(&b, "app/l", OF_MODE_SYMLINK, "."); put_entry(&b, "app/l", OF_MODE_FILE, "1"));
    /* Links leaving the layer, or absolute. */
    LAYER_BAD(put_entry(&b, "app/escaped", OF_MODE_SYMLINK, "../x"));
    LAYER_BAD(put_entry(&b, "app/a/b/l", OF_MODE_SYMLINK, "../../../x"));
    LAYER_BAD(put_entry(&b, "app/l", OF_MODE_SYMLINK, "/etc/passwd"));
    LAYER_BAD(put_zstd(&b, "app/l", OF_MODE_SYMLINK, "../../etc/passwd"));
    LAYER_BAD(put_entry_raw(&b, "app/l", OF_MODE_SYMLINK, OF_ZIP_METHOD_STORED, "a\0b", 3, 3));
    /* zstd frames that do not match their sizes. */
    LAYER_BAD(at = put_zstd(&b, "app/z", OF_MODE_FILE, long_text);
              put32(b.data + at + OF_ZIP_LOCAL_SIZE_AT, (uint32_t)strlen(long_text) + 1));
    LAYER_BAD(at = put_zstd(&b, "app/z", OF_MODE_FILE, long_text);
              put32(b.data + at + OF_ZIP_LOCAL_SIZE_AT, (uint32_t)strlen(long_text) - 1));
    LAYER_BAD(at = put_zstd(&b, "app/z", OF_MODE_FILE, long_text); b.data[b.len - 3] ^= 0x55);
    LAYER_BAD(at = put_zstd(&b, "app/z", OF_MODE_FILE, long_text); b.data[b.len++] = 0;
              put32(b.data + at + OF_ZIP_LOCAL_COMPRESSED_SIZE_AT, of_le32(b.data + at + 18) + 1));
    LAYER_BAD(at = put_zstd(&b, "app/z", OF_MODE_FILE, long_text); b.len -= 4;
              put32(b.data + at + OF_ZIP_LOCAL_COMPRESSED_SIZE_AT, of_le32(b.data + at + 18) - 4));
    LAYER_BAD(put_entry_raw(&b, "app/z", OF_MODE_FILE, OF_ZIP_METHOD_ZSTD, "garbage!", 8, 8));
    LAYER_BAD(put_entry_raw(&b, "app/z", OF_MODE_FILE, OF_ZIP_METHOD_ZSTD, "", 0, 0));
    /* The wrong prefix. */
    LAYER_BAD(put_entry(&b, "runtime/bin/python3", OF_MODE_FILE, "1"));
}

/* ---- groups: small files sharing one zstd frame (format 4) ---- */

static void test_groups(void)
{
    static const char *const names[] = { "app/g/a.py", "app/g/b.py", "app/g/c.py" };
    static const char *const datas[] = {
        "import os\nprint(os.getcwd())\nprint('the first file of the group, long enough')\n",
        "import os\nprint(os.getcwd())\nprint('the second file of the group, long enough')\n",
        "import os\nprint(os.getcwd())\nprint('the third file of the group, long enough')\n",
    };
    static const uint32_t skipped[] = { 0, 2, 1 }, late[] = { 1, 2, 3 }, beyond[] = { 0, 1, 3 };
    static struct buf b;
    struct of_entry e;
    char *dir, *out;
    size_t at;

    /* Two groups, a file between them, another after: every file whole, in its place. */
    b.len = b.count = b.unpacked = 0;
    put_group(&b, names, datas, 3, 2, NULL, 3);
    put_entry(&b, "app/between", OF_MODE_FILE, "x");
    put_group(&b, (const char *const[]){ "app/h/a.py", "app/h/b.py" }, datas + 1, 2, 1, NULL, 2);
    put_zstd(&b, "app/after", OF_MODE_FILE, datas[0]);
    OK(unpack(&b, b.count, b.unpacked, &dir));
    CHECK(file_is(dir, "g/a.py", datas[0], 0644) && file_is(dir, "g/b.py", datas[1], 0644) &&
          file_is(dir, "g/c.py", datas[2], 0644));
    CHECK(file_is(dir, "h/a.py", datas[1], 0644) && file_is(dir, "h/b.py", datas[2], 0644));
    CHECK(file_is(dir, "between", "x", 0644) && file_is(dir, "after", datas[0], 0644));
    of_cache_remove(dir);
    free(dir);
    /* A member can't be read by itself (it needs the members before it). */
    OK(of_unpack_entry(b.data, b.len, OF_PREFIX_APP, &e));
    CHECK(e.group_index == 0 && e.group_count == 3);
    BAD(of_unpack_read(&e, &out));

    /* Members missing, out of order, or not starting at 0; the layer ending inside a group. */
    LAYER_BAD(put_group(&b, names, datas, 2, 1, NULL, 3); put_entry(&b, "app/x", OF_MODE_FILE, "x"));
    LAYER_BAD(put_group(&b, names, datas, 2, 1, NULL, 3));
    LAYER_BAD(put_group(&b, names, datas, 3, 2, skipped, 3));
    LAYER_BAD(put_group(&b, names, datas, 3, 2, late, 4));
    LAYER_BAD(put_group(&b, names, datas, 1, 0, NULL, 1); put_group(&b, names + 1, datas + 1, 2, 1, late, 3));
    /* The frame ending before the last member, or not at it. */
    LAYER_BAD(put_group(&b, names, datas, 3, 1, NULL, 3));
    LAYER_BAD(put_group(&b, names, datas, 3, 3, NULL, 3));
    /* Index beyond count; a member's size or data changed. */
    LAYER_BAD(put_group(&b, names, datas, 3, 2, beyond, 3));
    LAYER_BAD(put_group(&b, names, datas, 3, 2, NULL, 3); at = 0; b.unpacked++;
              put32(b.data + at + OF_ZIP_LOCAL_SIZE_AT, (uint32_t)strlen(datas[0]) + 1));
    LAYER_BAD(put_group(&b, names, datas, 3, 2, NULL, 3); b.data[b.len - 2] ^= 0x55);
    /* A link can't be a member. */
    LAYER_BAD(put_group(&b, names, datas, 2, 1, NULL, 2);
              put32(b.data + OF_ZIP_LOCAL_HEADER_SIZE + strlen(names[0]) + 4, OF_MODE_SYMLINK));
}

/* ---- a part of a layer: the runtime's libc/ left out, then unpacked alone ---- */

static int unpack_part(const struct buf *b, const struct of_unpack_part *part, char **dir)
{
    struct of_layer layer = { 0, b->len, b->count, b->unpacked, { 0 } };
    int fd, rc;

    *dir = make_tmp();
    fd = open(*dir, O_RDONLY | O_DIRECTORY);
    rc = of_unpack_layer_part(b->data, &layer, OF_PREFIX_APP, "test: app layer", fd, *dir, "/rt", part);
    close(fd);
    return rc;
}

static void test_parts(void)
{
    static const char *const mixed[] = { "app/libc/lib/a.so", "app/x/b.py", "app/libc/c" };
    static const char *const apart[] = { "app/libc/d", "app/libc/e" };
    static const char *const datas[] = {
        "import os\nprint(os.getcwd())\nprint('the first file of the group, long enough')\n",
        "import os\nprint(os.getcwd())\nprint('the second file of the group, long enough')\n",
        "import os\nprint(os.getcwd())\nprint('the third file of the group, long enough')\n",
    };
    static const struct of_unpack_part without = { "libc", 0 }, only = { "libc", 1 };
    static struct buf b;
    char *dir;

    /* A group with members on both sides (decoded whole, written in part), one with
     * libc/ files only, a file and a link in libc/, a name that only starts like it. */
    b.len = b.count = b.unpacked = 0;
    put_entry(&b, "app/libc/", OF_MODE_DIRECTORY, "");
    put_group(&b, mixed, datas, 3, 2, NULL, 3);
    put_group(&b, apart, datas + 1, 2, 1, NULL, 2);
    put_zstd(&b, "app/libc/f", OF_MODE_FILE, datas[0]);
    put_entry(&b, "app/libc/link", OF_MODE_SYMLINK, "f");
    put_entry(&b, "app/libcx", OF_MODE_FILE, "not in libc/");
    put_zstd(&b, "app/y", OF_MODE_FILE, datas[1]);

    OK(unpack_part(&b, &without, &dir));
    CHECK(!exists(dir, "libc") && file_is(dir, "x/b.py", datas[1], 0644) &&
          file_is(dir, "libcx", "not in libc/", 0644) && file_is(dir, "y", datas[1], 0644));
    of_cache_remove(dir);
    free(dir);
    OK(unpack_part(&b, &only, &dir));
    CHECK(file_is(dir, "libc/lib/a.so", datas[0], 0644) && file_is(dir, "libc/c", datas[2], 0644) &&
          file_is(dir, "libc/d", datas[1], 0644) && file_is(dir, "libc/e", datas[2], 0644) &&
          file_is(dir, "libc/f", datas[0], 0644) && link_is(dir, "libc/link", "f"));
    CHECK(!exists(dir, "x") && !exists(dir, "y") && !exists(dir, "libcx"));
    of_cache_remove(dir);
    free(dir);
    OK(unpack_part(&b, NULL, &dir)); /* the whole layer, as of_unpack_layer */
    CHECK(file_is(dir, "libc/c", datas[2], 0644) && file_is(dir, "x/b.py", datas[1], 0644));
    of_cache_remove(dir);
    free(dir);

    /* What is left out is still checked: damage there fails either part. */
    b.len = b.count = b.unpacked = 0;
    put_entry(&b, "app/libc/../escaped", OF_MODE_FILE, "x");
    BAD(unpack_part(&b, &without, &dir));
    CHECK(!exists(dir, "../escaped"));
    of_cache_remove(dir);
    free(dir);
    b.len = b.count = b.unpacked = 0;
    put_group(&b, mixed, datas, 3, 1, NULL, 3); /* the frame ends before its last member */
    BAD(unpack_part(&b, &only, &dir));
    of_cache_remove(dir);
    free(dir);
}

/* ---- filters ---- */

/* Undo OF_FILTER_X86_CALLS on `filtered` the way of_unpack_data does, `chunk` bytes at a
 * time, into `out`: returns the bytes out, or (size_t)-1 when some were still held. */
static size_t undo_in_chunks(uint8_t *out, const uint8_t *filtered, size_t size, size_t chunk)
{
    uint8_t buf[OF_FILTER_HOLD_MAX + 64];
    size_t held = 0, done = 0, pos = 0, n, have, ready;

    while (pos < size) {
        n = size - pos < chunk ? size - pos : chunk;
        memcpy(buf + OF_FILTER_HOLD_MAX, filtered + pos, n);
        pos += n;
        have = held + n;
        ready = of_filter_x86_undo(buf + OF_FILTER_HOLD_MAX - held, have, done, size);
        memcpy(out + done, buf + OF_FILTER_HOLD_MAX - held, ready);
        done += ready;
        held = have - ready;
        if (held > OF_FILTER_HOLD_MAX)
            return (size_t)-1;
        memmove(buf + OF_FILTER_HOLD_MAX - held, buf + OF_FILTER_HOLD_MAX + n - held, held);
    }
    return held == 0 ? done : (size_t)-1;
}

/* Bytes like code: many E8s, followed by near values (calls within the file), far ones,
 * and other E8s; in the last bytes too. */
static void fill_code(uint8_t *p, size_t size, uint32_t seed)
{
    for (size_t i = 0; i < size; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
        if (seed % 5 == 0 && i + 5 <= size) {
            int32_t v = (int32_t)(seed >> 8) % (int32_t)(size + 8) - (int32_t)i; /* mostly in [-p, n) */

            p[i] = 0xE8;
            if (seed % 7 == 0)
                v = (int32_t)0x7f000000; /* far: left as it is */
            put32(p + i + 1, (uint32_t)v);
            i += 4;
        }
    }
    if (size >= 3)
        p[size - 3] = 0xE8; /* in the last four bytes: never converted */
}

/* The filter as the spec says it, a byte at a time: what of_filter_x86_do's scan for E8
 * bytes (16 at a time where it can) must agree with. */
static void filter_by_the_spec(uint8_t *p, size_t size)
{
    for (size_t i = 0; i + 5 <= size; i++) {
        int64_t at = (int64_t)i + 5, x;

        if (p[i] != 0xE8)
            continue;
        x = (int32_t)((uint32_t)p[i + 1] | (uint32_t)p[i + 2] << 8 | (uint32_t)p[i + 3] << 16 |
                      (uint32_t)p[i + 4] << 24);
        if (x >= -at && x < (int64_t)size)
            put32(p + i + 1, (uint32_t)(x < (int64_t)size - at ? x + at : x - (int64_t)size));
        i += 4;
    }
}

static void test_filter(void)
{
    static const size_t sizes[] = { 0, 1, 4, 5, 6, 9, 15, 16, 17, 21, 31, 32, 33, 100, 1000, 4096 };
    static uint8_t orig[4096], work[4096], back[4096];
    static struct buf b;
    uint8_t *big;
    size_t big_size = ((size_t)1 << 20) + 4099, changed = 0;
    char *dir;

    /* The inverse, whatever the chunks (1 to 9 bytes, 64), and a real change. */
    for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
        size_t size = sizes[k];

        fill_code(orig, size, (uint32_t)size);
        memcpy(work, orig, size);
        of_filter_x86_do(work, size);
        changed += memcmp(work, orig, size) != 0;
        memcpy(back, orig, size);
        filter_by_the_spec(back, size);
        CHECK(memcmp(work, back, size) == 0);
        for (size_t chunk = 1; chunk <= 64; chunk += chunk < 9 ? 1 : 55) {
            memset(back, 0, size);
            CHECK(undo_in_chunks(back, work, size, chunk) == size && memcmp(back, orig, size) == 0);
        }
    }
    CHECK(changed >= 4);
    /* In a 32-byte file, a call at offset 0 to offset 21 (16 after the instruction)
     * becomes 21; one to offset 45 (outside the file) stays. */
    memset(work, 0, 32);
    work[0] = 0xE8, work[1] = 16, work[10] = 0xE8, work[11] = 40;
    memcpy(back, work, 32);
    of_filter_x86_do(work, 32);
    CHECK(work[1] == 21 && work[11] == 40 && of_filter_x86_undo(work, 32, 0, 32) == 32 && memcmp(work, back, 32) == 0);

    /* Through the unpacker: a file decoded in two chunks (over 1 MiB), values across the
     * chunk boundary, and a small one. */
    big = calloc(1, big_size);
    if (big == NULL)
        abort();
    for (size_t at = 0; at + 5 <= big_size; at += 4093) {
        big[at] = 0xE8;
        put32(big + at + 1, (uint32_t)(at % 3 == 0 ? 64 : (uint32_t)-(int32_t)(at / 2)));
    }
    for (size_t at = ((size_t)1 << 20) - 6; at < ((size_t)1 << 20) + 2; at += 5)
        big[at] = 0xE8, put32(big + at + 1, 100);
    b.len = b.count = b.unpacked = 0;
    put_filtered(&b, "app/big.so", big, big_size, OF_FILTER_X86_CALLS, 4, 0);
    fill_code(orig, 1000, 7);
    put_filtered(&b, "app/small.so", orig, 1000, OF_FILTER_X86_CALLS, 4, 0);
    OK(unpack(&b, b.count, b.unpacked, &dir));
    {
        char path[PATH_MAX];
        uint8_t *got = malloc(big_size + 1);
        int fd;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/big.so", dir);
        fd = open(path, O_RDONLY);
        n = fd >= 0 && got != NULL ? read(fd, got, big_size + 1) : -1;
        CHECK(n == (ssize_t)big_size && memcmp(got, big, big_size) == 0);
        if (fd >= 0)
            close(fd);
        snprintf(path, sizeof(path), "%s/small.so", dir);
        fd = open(path, O_RDONLY);
        n = fd >= 0 && got != NULL ? read(fd, got, 1001) : -1;
        CHECK(n == 1000 && memcmp(got, orig, 1000) == 0);
        if (fd >= 0)
            close(fd);
        free(got);
    }
    of_cache_remove(dir);
    free(dir);
    free(big);

    /* A filter this launcher doesn't know, a field of the wrong size, a stored entry, a
     * file too big for it, a malformed patch sites field where the filter's was. */
    LAYER_BAD(put_filtered(&b, "app/x.so", orig, 1000, 2, 4, 0));
    LAYER_BAD(put_filtered(&b, "app/x.so", orig, 1000, OF_FILTER_X86_CALLS, 8, 0));
    LAYER_BAD(put_filtered(&b, "app/x.so", orig, 1000, OF_FILTER_X86_CALLS, 4, 1));
    LAYER_BAD(put_filtered(&b, "app/x.so", orig, 1000, OF_FILTER_X86_CALLS, 4, 0);
               put32(b.data + OF_ZIP_LOCAL_SIZE_AT, OF_FILTER_X86_SIZE_MAX + 1u));
    LAYER_BAD(put_filtered(&b, "app/x.so", orig, 1000, OF_FILTER_X86_CALLS, 4, 0);
               put16(b.data + OF_ZIP_LOCAL_HEADER_SIZE + 8 + OF_ZIP_EXTRA_SIZE, OF_ZIP_EXTRA_SITES_ID));
}

/* ---- cache removal never follows links ---- */

static void test_remove(void)
{
    char *outside = make_tmp(), *dir = make_tmp(), path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/keep", outside);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    close(fd);
    snprintf(path, sizeof(path), "%s/sub", dir);
    OK(mkdir(path, 0755));
    snprintf(path, sizeof(path), "%s/sub/deeper", dir);
    OK(mkdir(path, 0755));
    snprintf(path, sizeof(path), "%s/sub/deeper/out", dir);
    CHECK(symlink(outside, path) == 0);
    OK(of_cache_remove(dir));
    CHECK(!exists(dir, ""));
    CHECK(exists(outside, "keep"));
    of_cache_remove(outside);
    free(outside);
    free(dir);
}

/* ---- installing into the cache ---- */

static int fill_ok(int dirfd, const char *dirpath, void *arg)
{
    int fd = openat(dirfd, "marker", O_WRONLY | O_CREAT | O_EXCL, 0644);

    (void)dirpath;
    (void)arg;
    return fd < 0 ? -1 : close(fd);
}

static int fill_fail(int dirfd, const char *dirpath, void *arg)
{
    (void)fill_ok(dirfd, dirpath, arg);
    return of_error("fill failed");
}

static int count_entries(const char *path)
{
    char cmd[PATH_MAX + 32];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", path);
    p = popen(cmd, "r");
    if (p != NULL && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p != NULL)
        pclose(p);
    return n;
}

static const char *const KEY = "0123456789abcdef0123456789abcdef";
static const char *const KEY2 = "fedcba9876543210fedcba9876543210";

static void touch(const char *dir, const char *name)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
}

static void test_install(void)
{
    char *root = make_tmp(), *cache = of_cache_path(root, "a/b/cache"), *kind, *final, *lock, path[PATH_MAX];
    int fd;

    kind = of_cache_path(cache, "app");
    final = of_cache_path(kind, KEY);
    OK(of_cache_prepare(cache));
    CHECK(count_entries(cache) == 2 && count_entries(kind) == 0);
    BAD(of_cache_install(kind, KEY, final, fill_fail, NULL));
    CHECK(!of_cache_exists(final) && count_entries(kind) == 0);
    OK(of_cache_install(kind, KEY, final, fill_ok, NULL));
    CHECK(of_cache_exists(final) && exists(final, "marker") && count_entries(kind) == 1); /* no lock file left */
    /* There already: nothing is made, nothing left. */
    OK(of_cache_install(kind, KEY, final, fill_fail, NULL));
    CHECK(count_entries(kind) == 1);

    /* Sweeping: leftovers whose key lock is free go, the rest stays. */
    snprintf(path, sizeof(path), "%s/.tmp-%s-abcdef", kind, KEY);
    OK(mkdir(path, 0700));
    touch(path, "half-written");
    snprintf(path, sizeof(path), "%s/.tmp-%s-ghijkl", kind, KEY2);
    OK(mkdir(path, 0700));
    touch(kind, ".lock-0123456789abcdef0123456789abcdee"); /* a stale lock alone */
    touch(kind, ".tmp-notakey-abcdef");
    touch(kind, "unrelated");
    lock = of_cache_path(kind, ".lock-fedcba9876543210fedcba9876543210");
    fd = open(lock, O_RDWR | O_CREAT, 0600); /* a live unpacker of KEY2 */
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    CHECK(of_cache_sweep(kind) == 2);
    CHECK(!exists(kind, ".tmp-0123456789abcdef0123456789abcdef-abcdef"));
    CHECK(!exists(kind, ".lock-0123456789abcdef0123456789abcdee"));
    CHECK(exists(kind, ".tmp-fedcba9876543210fedcba9876543210-ghijkl") && exists(kind, ".tmp-notakey-abcdef") &&
          exists(kind, "unrelated") && exists(final, "marker"));
    close(fd); /* the unpacker dies */
    CHECK(of_cache_sweep(kind) == 2); /* its directory, then its lock file */
    CHECK(!exists(kind, ".tmp-fedcba9876543210fedcba9876543210-ghijkl") &&
          !exists(kind, ".lock-fedcba9876543210fedcba9876543210"));
    CHECK(of_cache_sweep(kind) == 0);

    /* Removing. */
    CHECK(of_cache_uninstall(kind, KEY, final, 0, NULL, NULL) == 1);
    CHECK(!of_cache_exists(final) && count_entries(kind) == 2); /* the two unrelated files */
    CHECK(of_cache_uninstall(kind, KEY, final, 0, NULL, NULL) == 0);

    of_cache_remove(root);
    free(lock);
    free(final);
    free(kind);
    free(cache);
    free(root);
}

/* Published before it is flushed (pending, with this boot's id), flushed and marked by
 * of_cache_settle; pending layers of another boot are stale and can be removed. */
static void test_durable(void)
{
    char *root = make_tmp(), *kind = of_cache_path(root, "runtime"), *final = of_cache_path(kind, KEY), *pending;
    char boot[OF_CACHE_BOOT_ID_LEN + 1], line[64];
    struct stat st;
    int fd, n;
    FILE *f;

    OK(mkdir(kind, 0755));
    OK(of_cache_boot_id(boot));
    CHECK(strlen(boot) == OF_CACHE_BOOT_ID_LEN && boot[8] == '-');
    OK(of_cache_install(kind, KEY, final, fill_ok, NULL));
    pending = of_cache_path(final, OF_CACHE_PENDING_FILE);
    fd = of_cache_use(final, &st);
    CHECK(fd >= 0 && (st.st_mode & 0777) == 0700 && exists(final, "marker"));
    f = fopen(pending, "r");
    CHECK(f != NULL && fgets(line, sizeof(line), f) != NULL && strncmp(line, boot, OF_CACHE_BOOT_ID_LEN) == 0 &&
          strcmp(line + OF_CACHE_BOOT_ID_LEN, "\n") == 0);
    if (f != NULL)
        fclose(f);
    CHECK(of_cache_durable(fd, &st) == 0 && of_cache_stale(final, NULL) == 0);
    /* Flushed and marked: 0755, the file gone, trusted without a look inside. */
    CHECK(of_cache_settle(&fd, 1) == 1);
    OK(fstat(fd, &st));
    CHECK((st.st_mode & 0777) == 0755 && !exists(final, OF_CACHE_PENDING_FILE) && of_cache_durable(fd, &st) == 1);
    /* Pending since another boot, or 0700 with no id (a mark lost, a chmod by hand): stale. */
    OK(fchmod(fd, 0700));
    OK(fstat(fd, &st));
    CHECK(of_cache_durable(fd, &st) == -1 && of_cache_stale(final, NULL) == 1);
    f = fopen(pending, "w");
    CHECK(f != NULL && fputs("00000000-0000-0000-0000-000000000000\n", f) >= 0 && fclose(f) == 0);
    CHECK(of_cache_durable(fd, &st) == -1 && of_cache_stale(final, NULL) == 1);
    f = fopen(pending, "w");
    n = f != NULL ? fprintf(f, "%s\n", boot) : -1;
    CHECK(n == OF_CACHE_BOOT_ID_LEN + 1 && fclose(f) == 0 && of_cache_durable(fd, &st) == 0);
    OK(unlink(pending));
    close(fd);
    /* Removed only while it still is stale (asked under the key's lock). */
    CHECK(of_cache_uninstall(kind, KEY, final, 0, of_cache_stale, NULL) == 1 && !of_cache_exists(final));
    OK(of_cache_install(kind, KEY, final, fill_ok, NULL));
    CHECK(of_cache_uninstall(kind, KEY, final, 0, of_cache_stale, NULL) == 0 && of_cache_exists(final));
    /* A clean-up flushes and marks it (a runtime this fresh stays, used or not). */
    of_gc_run(root, 14, time(NULL));
    CHECK(stat(final, &st) == 0 && (st.st_mode & 0777) == 0755 && !exists(final, OF_CACHE_PENDING_FILE));
    of_cache_remove(root);
    free(pending);
    free(final);
    free(kind);
    free(root);
}

static int say_damaged(const char *final, void *arg)
{
    (void)final;
    return *(int *)arg;
}

/* Holding a layer (of_cache_use), removing it only if unused or damaged, last use. */
static void test_use(void)
{
    char *root = make_tmp(), *kind = of_cache_path(root, "app"), *final = of_cache_path(kind, KEY), *lock;
    struct stat st, after;
    int fd, other, damaged = 0;

    OK(mkdir(kind, 0755));
    CHECK(of_cache_use(final, &st) == -1 && errno == ENOENT);
    OK(of_cache_install(kind, KEY, final, fill_ok, NULL));
    fd = of_cache_use(final, &st);
    CHECK(fd >= 0 && S_ISDIR(st.st_mode) && !(fcntl(fd, F_GETFD) & FD_CLOEXEC)); /* inherited across exec */
    /* In use: a clean-up leaves it; another start can use it too. */
    CHECK(of_cache_uninstall(kind, KEY, final, OF_CACHE_IF_UNUSED, NULL, NULL) == 0 && of_cache_exists(final));
    other = of_cache_use(final, &st);
    CHECK(other >= 0);
    close(other);
    /* Being unpacked or removed by another process (its key lock held): left alone. */
    lock = of_cache_path(kind, ".lock-0123456789abcdef0123456789abcdef");
    other = open(lock, O_RDWR | O_CREAT, 0600);
    CHECK(other >= 0 && flock(other, LOCK_EX) == 0);
    close(fd);
    CHECK(of_cache_uninstall(kind, KEY, final, OF_CACHE_IF_UNUSED, NULL, NULL) == 0 && of_cache_exists(final));
    unlink(lock);
    close(other);
    /* Not damaged: kept; damaged: removed, even in use. */
    CHECK(of_cache_uninstall(kind, KEY, final, 0, say_damaged, &damaged) == 0 && of_cache_exists(final));
    damaged = 1;
    fd = of_cache_use(final, &st);
    CHECK(of_cache_uninstall(kind, KEY, final, 0, say_damaged, &damaged) == 1 && !of_cache_exists(final));
    close(fd);
    /* Unused: removed, nothing left. */
    OK(of_cache_install(kind, KEY, final, fill_ok, NULL));
    CHECK(of_cache_uninstall(kind, KEY, final, OF_CACHE_IF_UNUSED, NULL, NULL) == 1 && count_entries(kind) == 0);
    /* Last use: touched when a day old, not before. */
    OK(of_cache_install(kind, KEY, final, fill_ok, NULL));
    {
        struct timespec old[2] = { { 1000, 0 }, { time(NULL) - 3600, 0 } };

        OK(utimensat(AT_FDCWD, final, old, 0));
        fd = of_cache_use(final, &st);
        of_cache_touch(fd, &st);
        OK(stat(final, &after));
        CHECK(after.st_mtime == st.st_mtime);
        old[1].tv_sec = time(NULL) - OF_CACHE_TOUCH_EVERY - 10;
        OK(utimensat(AT_FDCWD, final, old, 0));
        OK(fstat(fd, &st));
        of_cache_touch(fd, &st);
        OK(stat(final, &after));
        CHECK(after.st_mtime >= time(NULL) - 5 && after.st_atime == 1000);
        close(fd);
    }
    /* A small file replaced whole, nothing else left. */
    OK(of_cache_write(kind, KEY2, lock, "one\n"));
    OK(of_cache_write(kind, KEY2, lock, "two\n"));
    CHECK(count_entries(kind) == 2);
    of_cache_remove(root);
    free(lock);
    free(final);
    free(kind);
    free(root);
}

/* Make <root>/app/<key> of app `id` on runtime `runtime`, last used `days` ago. */
static void gc_app(const char *root, const char *key, const char *id, const char *runtime, int days)
{
    char path[PATH_MAX], text[PATH_MAX];
    struct timespec times[2] = { { 0, UTIME_OMIT }, { time(NULL) - days * 86400L, 0 } };
    FILE *f;

    snprintf(path, sizeof(path), "%s/app/%s", root, key);
    OK(mkdir(path, 0755));
    snprintf(text, sizeof(text), "%s/app/%s/pyvenv.cfg", root, key);
    f = fopen(text, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        snprintf(path, sizeof(path), "%s/runtime/%s", root, runtime);
        fprintf(f, OF_APP_PYVENV_CFG_FORMAT, path);
        snprintf(path, sizeof(path), "%s/app/%s", root, key);
        fclose(f);
    }
    if (id != NULL) {
        snprintf(text, sizeof(text), "%s/app/%s/" OF_GC_APP_ID_FILE, root, key);
        f = fopen(text, "w");
        if (f != NULL) {
            fprintf(f, "%s%s\n", id, id); /* 64 hex digits */
            fclose(f);
        }
    }
    OK(utimensat(AT_FDCWD, path, times, 0));
}

static void gc_runtime(const char *root, const char *key, int days)
{
    char path[PATH_MAX];
    struct timespec times[2] = { { 0, UTIME_OMIT }, { time(NULL) - days * 86400L, 0 } };

    snprintf(path, sizeof(path), "%s/runtime/%s", root, key);
    OK(mkdir(path, 0755));
    OK(utimensat(AT_FDCWD, path, times, 0));
}

static int gc_has(const char *root, const char *kind, const char *key)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", kind, key);
    return exists(root, path);
}

static void test_gc(void)
{
    static const char *const A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", *const B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    static const char *const R1 = "11111111111111111111111111111111", *const R2 = "22222222222222222222222222222222";
    static const char *const R3 = "33333333333333333333333333333333";
    char *root = make_tmp(), *app, *kind;
    struct stat st;
    long days;
    int fd;
    FILE *null = fopen("/dev/null", "w");

    unsetenv(OF_ENV_CACHE_KEEP_DAYS);
    CHECK(of_gc_keep_days(&days) == 0 && days == 14);
    setenv(OF_ENV_CACHE_KEEP_DAYS, "0", 1);
    CHECK(of_gc_keep_days(&days) == 0 && days == 0);
    setenv(OF_ENV_CACHE_KEEP_DAYS, "36500", 1);
    CHECK(of_gc_keep_days(&days) == 0 && days == 36500);
    static const char *const bad[] = { "x", "-1", "+3", " 3", "3 ", "1.5", "36501", "99999999999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        setenv(OF_ENV_CACHE_KEEP_DAYS, bad[i], 1);
        BAD(of_gc_keep_days(&days));
        CHECK(strstr(of_error_message(), OF_ENV_CACHE_KEEP_DAYS "=") != NULL);
    }
    unsetenv(OF_ENV_CACHE_KEEP_DAYS);

    OK(of_cache_prepare(root));
    /* App A: versions 1-4 (4 the newest), 1 on runtime R2, the others on R1. */
    gc_app(root, "a1000000000000000000000000000000", A, R2, 20);
    gc_app(root, "a2000000000000000000000000000000", A, R1, 20);
    gc_app(root, "a3000000000000000000000000000000", A, R1, 3); /* used 3 days ago */
    gc_app(root, "a4000000000000000000000000000000", A, R1, 20);
    /* App B: one version, on R3; an app from an older launcher (no id), on R2. */
    gc_app(root, "b1000000000000000000000000000000", B, R3, 100);
    gc_app(root, "c1000000000000000000000000000000", NULL, R1, 100);
    gc_runtime(root, R1, 20);
    gc_runtime(root, R2, 20);
    gc_runtime(root, R3, 20);
    gc_runtime(root, "44444444444444444444444444444444", 20); /* nobody's */
    gc_runtime(root, "55555555555555555555555555555555", 0); /* nobody's yet: just unpacked */
    {
        uint8_t id[OF_SHA256_DIGEST_SIZE];

        memset(id, 0xaa, sizeof(id));
        OK(of_gc_record(root, id, "a4000000000000000000000000000000", R1));
        memset(id, 0xbb, sizeof(id));
        OK(of_gc_record(root, id, "b1000000000000000000000000000000", R3));
    }
    /* Version 2 is running. */
    app = of_cache_path(root, "app/a2000000000000000000000000000000");
    fd = of_cache_use(app, &st);
    CHECK(fd >= 0);
    OK(of_gc_report(root, 14, time(NULL), null));
    CHECK(of_gc_run(root, 14, time(NULL)) == 3); /* a1, then R2 (its only app gone) and 4444... */
    CHECK(!gc_has(root, "app", "a1000000000000000000000000000000"));
    CHECK(gc_has(root, "app", "a2000000000000000000000000000000")); /* running */
    CHECK(gc_has(root, "app", "a3000000000000000000000000000000")); /* used lately */
    CHECK(gc_has(root, "app", "a4000000000000000000000000000000")); /* newest */
    CHECK(gc_has(root, "app", "b1000000000000000000000000000000") && gc_has(root, "app", "c1000000000000000000000000000000"));
    CHECK(!gc_has(root, "runtime", R2) && gc_has(root, "runtime", R1) && gc_has(root, "runtime", R3));
    CHECK(!gc_has(root, "runtime", "44444444444444444444444444444444"));
    CHECK(gc_has(root, "runtime", "55555555555555555555555555555555"));
    close(fd);
    /* Stopped running; keep 0 days: a3 goes too. */
    CHECK(of_gc_run(root, 0, time(NULL)) == 2);
    CHECK(!gc_has(root, "app", "a2000000000000000000000000000000") && !gc_has(root, "app", "a3000000000000000000000000000000"));
    kind = of_cache_path(root, "app");
    CHECK(count_entries(kind) == 3); /* a4, b1, c1: no leftovers */
    CHECK(of_gc_run(root, 0, time(NULL)) == 0);
    fclose(null);
    of_cache_remove(root);
    free(kind);
    free(app);
    free(root);
}

static void test_roots(void)
{
    char *tmp = make_tmp(), *cwd = getcwd(NULL, 0), path[PATH_MAX], expected[PATH_MAX];
    const char *saved_home = getenv("HOME");
    struct of_cache_root r;
    char *home = saved_home != NULL ? strdup(saved_home) : NULL;

    unsetenv("XDG_CACHE_HOME");
    setenv("ONEFILE_CACHE_DIR", "rel/dir/", 1);
    OK(of_cache_root(&r, 1));
    snprintf(expected, sizeof(expected), "%s/rel/dir", cwd);
    CHECK(strcmp(r.path, expected) == 0 && !r.implicit);
    unsetenv("ONEFILE_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "relative", 1); /* ignored, as the spec says */
    setenv("HOME", "/home/x", 1);
    OK(of_cache_root(&r, 1));
    CHECK(strcmp(r.path, "/home/x/.cache/onefile") == 0 && r.implicit);
    setenv("XDG_CACHE_HOME", "/xdg//", 1);
    OK(of_cache_root(&r, 1));
    CHECK(strcmp(r.path, "/xdg/onefile") == 0 && r.implicit);
    unsetenv("XDG_CACHE_HOME");

    /* No HOME: a private directory under $TMPDIR, made so, and refused otherwise. */
    unsetenv("HOME");
    setenv("TMPDIR", tmp, 1);
    snprintf(expected, sizeof(expected), "%s/onefile-%lu", tmp, (unsigned long)geteuid());
    OK(of_cache_root(&r, 1));
    CHECK(strcmp(r.path, expected) == 0 && of_cache_exists(expected) && !r.implicit);
    CHECK(chmod(expected, 0750) == 0);
    BAD(of_cache_root(&r, 1));
    CHECK(chmod(expected, 0700) == 0 && rmdir(expected) == 0);
    CHECK(symlink(tmp, expected) == 0);
    BAD(of_cache_root(&r, 1));
    CHECK(unlink(expected) == 0);
    touch(tmp, strrchr(expected, '/') + 1);
    BAD(of_cache_root(&r, 1));
    CHECK(unlink(expected) == 0);
    OK(of_cache_fallback(&r, "test", 0)); /* without creating it */
    CHECK(!exists(expected, ""));
    OK(of_cache_root(&r, 0));
    CHECK(strcmp(r.path, expected) == 0 && !exists(expected, ""));
    setenv("HOME", "", 1);
    OK(of_cache_root(&r, 1));
    CHECK(strcmp(r.path, expected) == 0);

    /* Writable: an existing directory, or one that could be made. */
    CHECK(of_cache_writable(tmp));
    snprintf(path, sizeof(path), "%s/not/yet/there", tmp);
    CHECK(of_cache_writable(path));
    touch(tmp, "file");
    snprintf(path, sizeof(path), "%s/file/below", tmp);
    CHECK(!of_cache_writable(path));
    CHECK(!of_cache_noexec(tmp) || 1); /* whatever /tmp is: it must not crash */

    if (home != NULL)
        setenv("HOME", home, 1);
    unsetenv("TMPDIR");
    of_cache_remove(tmp);
    free(home);
    free(cwd);
    free(tmp);
}

static void test_crc32(void)
{
    CHECK(of_crc32(0, "", 0) == 0);
    CHECK(of_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(of_crc32(of_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
}

/* ---- ONEFILE=verify and info on a real unpacked directory ---- */

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, content, strlen(content)) < 0)
            abort();
        close(fd);
    }
}

static char expected_buf[PATH_MAX];

static void test_verify(void)
{
    static const char *json = "{\n  \"python\": \"3.12.1\",\n  \"entry_point\": {\"name\": \"t\"},\n"
                              "  \"distributions\": {\"t\": \"1.0\", \"click\": \"8.1.7\"}\n}\n\x1b[31m";
    static struct buf b;
    struct of_layer layer;
    FILE *null = fopen("/dev/null", "w");
    char *dir, path[PATH_MAX], *manifest;

    b.len = b.count = b.unpacked = 0;
    put_entry(&b, "app/bin/", OF_MODE_DIRECTORY, "");
    put_entry(&b, "app/bin/tool", OF_MODE_EXECUTABLE, "#!/bin/sh\n");
    put_entry(&b, "app/lib/__pycache__/m.cpython-312.pyc", OF_MODE_FILE, "pyc");
    put_entry(&b, "app/lib/m.py", OF_MODE_FILE, "x = 1\n");
    put_entry(&b, "app/lib/link", OF_MODE_SYMLINK, "m.py");
    put_zstd(&b, "app/onefile.json", OF_MODE_FILE, json);
    layer = (struct of_layer){ 0, b.len, b.count, b.unpacked, { 0 } };

    manifest = of_modes_manifest(b.data, &layer);
    CHECK(manifest != NULL && strcmp(manifest, json) == 0);
    free(manifest);

    OK(unpack(&b, b.count, b.unpacked, &dir));
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, NULL, NULL, 0, null) == 0);
    /* Python's own bytecode is not a problem, anywhere. */
    snprintf(path, sizeof(path), "%s/bin/__pycache__", dir);
    OK(mkdir(path, 0755));
    write_file(dir, "bin/__pycache__/x.pyc", "pyc");
    write_file(dir, "lib/__pycache__/m.cpython-312.opt-1.pyc", "pyc");
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, NULL, NULL, 0, null) == 0);
    /* An app directory also has pyvenv.cfg and bin/python, pointing at its runtime. */
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/rt", NULL, 0, null) == 2);
    write_file(dir, "pyvenv.cfg", "home = /rt/bin\ninclude-system-site-packages = false\n");
    snprintf(path, sizeof(path), "%s/bin/python", dir);
    CHECK(symlink("/rt/bin/python3", path) == 0);
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/rt", NULL, 0, null) == 0);
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/other", NULL, 0, null) == 2);
    /* Changed content (same size), mode, size; an extra file; a missing one; a link. */
    write_file(dir, "lib/m.py", "x = 2\n");
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, NULL, NULL, 0, null) == 3); /* + the two venv files */
    write_file(dir, "lib/m.py", "x = 1\n");
    snprintf(path, sizeof(path), "%s/bin/tool", dir);
    CHECK(chmod(path, 0644) == 0);
    write_file(dir, "lib/evil.pth", "import os");
    snprintf(path, sizeof(path), "%s/onefile.json", dir);
    CHECK(unlink(path) == 0);
    snprintf(path, sizeof(path), "%s/lib/link", dir);
    CHECK(unlink(path) == 0 && symlink("/etc/passwd", path) == 0);
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/rt", NULL, 0, null) == 4);
    /* A directory replaced by a link to a copy of itself is not looked through. */
    of_cache_remove(dir);
    free(dir);
    OK(unpack(&b, b.count, b.unpacked, &dir));
    snprintf(path, sizeof(path), "%s/lib", dir);
    snprintf(expected_buf, sizeof(expected_buf), "%s/lib-copy", dir);
    CHECK(rename(path, expected_buf) == 0 && symlink("lib-copy", path) == 0);
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, NULL, NULL, 0, verbose ? stdout : null) ==
          5); /* extra: lib (a link), lib-copy; missing: the 3 entries below lib */
    of_cache_remove(dir);
    free(dir);
    /* Not there, or a damaged layer: an error, not a crash. */
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, "/nonexistent/x", NULL, NULL, 0, null) == -1);
    layer.entry_count = b.len; /* more entries than can fit */
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, "/tmp", NULL, NULL, 0, null) == -1);
    layer.entry_count = b.count + 1;
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, "/tmp", NULL, NULL, 0, null) == -1);
    layer.entry_count = 2;
    CHECK(of_modes_manifest(b.data, &layer) == NULL); /* not among the first two */
    fclose(null);
}

/* ---- patch sites ---- */

static void test_sites(void)
{
    /* "head", a 32-byte site holding "@RUNTIME@/lib:@RUNTIME@/x", "tail" */
    uint8_t data[40] = "head@RUNTIME@/lib:@RUNTIME@/x";
    uint8_t want[40] = "head/rt/lib:/rt/x";
    uint32_t good[2] = { 4, 32 }, two[4] = { 4, 16, 20, 16 }, overlap[4] = { 4, 16, 12, 16 };
    uint32_t past[2] = { 10, 32 }, small[2] = { 4, 8 }, big[2] = { 4, OF_SITE_MAX_SIZE + 1 };
    uint32_t five[10] = { 0, 16, 16, 16, 0, 0, 0, 0, 0, 0 };
    struct of_layer layer;
    struct of_entry e;
    struct buf b;
    char *dir = NULL, path[PATH_MAX];
    uint8_t got[64];
    uint64_t offset;
    uint32_t size;
    int fd;

    memcpy(data + 36, "tail", 4);
    memcpy(want + 36, "tail", 4);
    b.len = b.count = b.unpacked = 0;
    put_sited(&b, "app/bin/python3", OF_MODE_EXECUTABLE, data, sizeof(data), good, 1, 8);
    OK(of_unpack_entry(b.data, b.len, OF_PREFIX_APP, &e));
    CHECK(e.site_count == 1 && e.total == b.len);
    of_unpack_site(&e, 0, &offset, &size);
    CHECK(offset == 4 && size == 32);
    b.len = b.count = b.unpacked = 0;
    put_sited(&b, "app/x", OF_MODE_FILE, data, sizeof(data), two, 2, 16);
    OK(of_unpack_entry(b.data, b.len, OF_PREFIX_APP, &e));
    CHECK(e.site_count == 2);
#define BAD_SITES(mode, sites, n, fp_len)                                           \
    do {                                                                             \
        b.len = b.count = b.unpacked = 0;                                            \
        put_sited(&b, "app/x", mode, data, sizeof(data), sites, n, fp_len);          \
        BAD(of_unpack_entry(b.data, b.len, OF_PREFIX_APP, &e));                      \
    } while (0)
    BAD_SITES(OF_MODE_FILE, past, 1, 8);       /* beyond the file's data */
    BAD_SITES(OF_MODE_FILE, small, 1, 8);      /* smaller than a site can be */
    BAD_SITES(OF_MODE_FILE, big, 1, 8);        /* bigger */
    BAD_SITES(OF_MODE_FILE, overlap, 2, 16);   /* overlapping */
    BAD_SITES(OF_MODE_FILE, good, 0, 0);       /* an empty list */
    BAD_SITES(OF_MODE_FILE, good, 1, 7);       /* not whole pairs */
    BAD_SITES(OF_MODE_FILE, five, 5, 40);      /* more than OF_SITES_MAX */
    BAD_SITES(OF_MODE_SYMLINK, good, 1, 8);    /* not a regular file */
    b.len = b.count = b.unpacked = 0;
    put_sited(&b, "app/x", OF_MODE_FILE, data, sizeof(data), good, 1, 8);
    put16(b.data + OF_ZIP_LOCAL_HEADER_SIZE + 5 + OF_ZIP_EXTRA_SIZE, 0x1234); /* another field's id */
    BAD(of_unpack_entry(b.data, b.len, OF_PREFIX_APP, &e));
#undef BAD_SITES

    /* Unpacked: the site holds the expansion, the rest is the entry's bytes. */
    b.len = b.count = b.unpacked = 0;
    put_sited(&b, "app/bin/python3", OF_MODE_EXECUTABLE, data, sizeof(data), good, 1, 8);
    OK(unpack(&b, b.count, b.unpacked, &dir));
    snprintf(path, sizeof(path), "%s/bin/python3", dir);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && read(fd, got, sizeof(got)) == (ssize_t)sizeof(want) && memcmp(got, want, sizeof(want)) == 0);
    if (fd >= 0)
        close(fd);
    layer = (struct of_layer){ 0, b.len, b.count, b.unpacked, { 0 } };
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, NULL, "/rt", 0, NULL) == 0);
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, NULL, "/other", 0, NULL) == 1);
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, NULL, NULL, 0, NULL) == 1);
    of_cache_remove(dir);
    free(dir);

    /* A site that doesn't hold a template is refused, not written over. */
    memcpy(data + 4, "/usr", 4);
    b.len = b.count = b.unpacked = 0;
    put_sited(&b, "app/bin/python3", OF_MODE_EXECUTABLE, data, sizeof(data), good, 1, 8);
    BAD(unpack(&b, b.count, b.unpacked, &dir));
    of_cache_remove(dir);
    free(dir);
}

/* The twin virtual environment of a binary carrying a glibc: verify expects its two files. */
static void test_twin(void)
{
    struct of_layer layer;
    struct buf b;
    char *dir = NULL, path[PATH_MAX];
    FILE *f;

    b.len = b.count = b.unpacked = 0;
    put_entry(&b, "app/bin/onefile-main", OF_MODE_EXECUTABLE, "main");
    put_entry(&b, "app/lib/x.py", OF_MODE_FILE, "x");
    put_entry(&b, "app/libc/bin/onefile-main", OF_MODE_SYMLINK, "../../bin/onefile-main");
    put_entry(&b, "app/libc/lib", OF_MODE_SYMLINK, "../lib");
    OK(unpack(&b, b.count, b.unpacked, &dir));
    layer = (struct of_layer){ 0, b.len, b.count, b.unpacked, { 0 } };
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/rt", "/rt", 1, NULL) == 4); /* 2 venvs x 2 files */
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/rt", "/rt", 0, NULL) == 2);
    snprintf(path, sizeof(path), "%s/" OF_APP_PYVENV_CFG, dir);
    CHECK((f = fopen(path, "w")) != NULL && fprintf(f, OF_APP_PYVENV_CFG_FORMAT, "/rt") > 0 && fclose(f) == 0);
    snprintf(path, sizeof(path), "%s/" OF_APP_PYTHON, dir);
    CHECK(symlink("/rt/" OF_RUNTIME_PYTHON, path) == 0);
    snprintf(path, sizeof(path), "%s/" OF_APP_LIBC_DIR "/" OF_APP_PYVENV_CFG, dir);
    CHECK((f = fopen(path, "w")) != NULL && fprintf(f, OF_APP_PYVENV_CFG_FORMAT, "/rt/libc") > 0 && fclose(f) == 0);
    snprintf(path, sizeof(path), "%s/" OF_APP_LIBC_PYTHON, dir);
    CHECK(symlink("/rt/" OF_RUNTIME_LIBC_PYTHON, path) == 0);
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/rt", "/rt", 1, NULL) == 0);
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/rt", "/rt", 0, NULL) == 2); /* extra */
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/other", "/other", 1, NULL) == 4); /* point elsewhere */
    CHECK(unlink(path) == 0 && symlink("/rt/" OF_RUNTIME_PYTHON, path) == 0); /* the twin at the system's python */
    CHECK(of_modes_check_dir(b.data, &layer, OF_PREFIX_APP, dir, "/rt", "/rt", 1, NULL) == 1);
    of_cache_remove(dir);
    free(dir);
}

int main(void)
{
    umask(022);
    verbose = getenv("OF_TEST_VERBOSE") != NULL;
    test_sha256();
    test_trailer();
    test_libc();
    test_interp();
    test_names();
    test_links();
    test_entries();
    test_layers();
    test_groups();
    test_parts();
    test_filter();
    test_remove();
    test_install();
    test_use();
    test_durable();
    test_gc();
    test_roots();
    test_crc32();
    test_verify();
    test_sites();
    test_twin();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
