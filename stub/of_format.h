/* The onefile binary format, reader side.
 *
 * The writer side is onefile_backend/format/spec.py (every OF_<NAME> here is <NAME>
 * there, checked by tests/unit/format/test_format.py) and the human description is
 * docs/format.md: change all three together and bump OF_FORMAT_VERSION.
 * All integers in the file are little-endian.
 */
#ifndef OF_FORMAT_H
#define OF_FORMAT_H

#include <stdint.h>

#define OF_FORMAT_VERSION 5u
#define OF_TRAILER_SIZE 256u
#define OF_MAGIC "OneFile\x1a"
#define OF_MAGIC_SIZE 8u
#define OF_LAYER_COUNT 2
#define OF_LAYER_RUNTIME 0
#define OF_LAYER_APP 1

/* Trailer field offsets (bytes from the start of the trailer). */
#define OF_TRAILER_VERSION_AT 0u
#define OF_TRAILER_SIZE_AT 4u
#define OF_TRAILER_LAYERS_AT 8u
#define OF_LAYER_RECORD_SIZE 64u
#define OF_TRAILER_APP_KEY_AT 136u
#define OF_TRAILER_LIBC_AT 168u /* u16: OF_LIBC_* */
#define OF_TRAILER_GLIBC_AT 172u /* OF_GLIBC_BITMAP_SIZE bytes: bit y (byte y/8, bit y%8) = GLIBC_2.y needed */
#define OF_TRAILER_APP_ID_AT 184u /* SHA-256 of "<project>\0<entry point>": the same for every version */
#define OF_TRAILER_KERNEL_AT 216u /* u16 major, u16 minor: the oldest Linux the bundled glibc runs on (0.0: no check) */
#define OF_TRAILER_RESERVED_AT 220u
#define OF_TRAILER_MAGIC_AT 248u
#define OF_GLIBC_BITMAP_SIZE 12u
#define OF_LIBC_NONE 0u /* nothing recorded: the launcher checks nothing */
#define OF_LIBC_GLIBC 1u /* glibc, the system's: the launcher refuses a system that can't serve */
#define OF_LIBC_GLIBC_BUNDLED 2u /* glibc, the system's where it can serve, else the runtime's libc/ (format 3) */
#define OF_SHA256_DIGEST_SIZE 32u

/* Layer record field offsets (bytes from the start of the record). */
#define OF_LAYER_OFFSET_AT 0u
#define OF_LAYER_SIZE_AT 8u
#define OF_LAYER_ENTRY_COUNT_AT 16u
#define OF_LAYER_UNPACKED_SIZE_AT 24u
#define OF_LAYER_SHA256_AT 32u

/* Zip local file header, as the layers use it. */
/* zstd frames use windows of at most 2^23 bytes (levels up to 19 do, without long mode). */
#define OF_ZSTD_WINDOW_LOG_MAX 23

#define OF_ZIP_LOCAL_SIGNATURE 0x04034b50u
#define OF_ZIP_LOCAL_HEADER_SIZE 30u
#define OF_ZIP_LOCAL_FLAGS_AT 6u
#define OF_ZIP_LOCAL_METHOD_AT 8u
#define OF_ZIP_LOCAL_CRC32_AT 14u
#define OF_ZIP_LOCAL_COMPRESSED_SIZE_AT 18u
#define OF_ZIP_LOCAL_SIZE_AT 22u
#define OF_ZIP_LOCAL_NAME_LENGTH_AT 26u
#define OF_ZIP_LOCAL_EXTRA_LENGTH_AT 28u
#define OF_ZIP_FLAG_ENCRYPTED 0x0001u
#define OF_ZIP_FLAG_DATA_DESCRIPTOR 0x0008u
#define OF_ZIP_FLAG_UTF8 0x0800u
#define OF_ZIP_METHOD_STORED 0u
#define OF_ZIP_METHOD_ZSTD 93u
#define OF_ZIP_EXTRA_MODE_ID 0x4f46u /* "FO": u32 st_mode */
#define OF_ZIP_EXTRA_MODE_SIZE 4u
/* The mode's extra field of a layer entry: id u16, size u16, st_mode u32. */
#define OF_ZIP_EXTRA_SIZE (4u + OF_ZIP_EXTRA_MODE_SIZE)
/* Patch sites (format 3): a second extra field after the mode's, on a regular file whose
 * bytes at each site hold a template (OF_SITE_TOKEN/..., NUL-padded) that the launcher
 * writes over at unpack with the template expanded by the runtime directory. */
#define OF_ZIP_EXTRA_SITES_ID 0x5046u /* "FP": OF_SITES_MAX pairs at most of u32 offset, u32 size */
#define OF_ZIP_EXTRA_SITE_SIZE 8u
#define OF_SITES_MAX 4u
#define OF_SITE_MIN_SIZE 16u
#define OF_SITE_MAX_SIZE 4096u
#define OF_SITE_TOKEN "@RUNTIME@" /* in a template: where the runtime layer's directory goes */
/* Groups (format 4): consecutive regular files whose data is one zstd frame, cut at block
 * boundaries: a member's data is the blocks of its file, decoded after the members before it. */
#define OF_ZIP_METHOD_ZSTD_GROUP 0x4647u /* "GF": not a zip method of any other tool */
#define OF_ZIP_EXTRA_GROUP_ID 0x4746u /* "FG": u32 index in the group, u32 members in the group */
#define OF_ZIP_EXTRA_GROUP_SIZE 8u
/* Filters (format 5): a compressed entry whose data was transformed before compression,
 * to be undone after decoding (docs/format.md "Filters"). */
#define OF_ZIP_EXTRA_FILTER_ID 0x5846u /* "FX": u32 filter */
#define OF_ZIP_EXTRA_FILTER_SIZE 4u
/* x86 calls: each E8 byte (scanning from the start, skipping the 4 bytes after each one
 * and stopping 4 bytes before the end) is followed by a signed 32-bit little-endian value
 * x; with p the offset after those 4 bytes and n the file's size (< 2^31), an x in
 * [-p, n) became x + p (x < n - p) or x - n (x >= n - p), a rotation of [-p, n):
 * relative call targets became absolute, which repeat. */
#define OF_FILTER_X86_CALLS 1u
#define OF_FILTER_X86_SIZE_MAX 0x7fffffffu

/* The only st_mode values an entry may carry. */
#define OF_MODE_FILE 0100644u
#define OF_MODE_EXECUTABLE 0100755u
#define OF_MODE_SYMLINK 0120777u
#define OF_MODE_DIRECTORY 0040755u

#define OF_PREFIX_RUNTIME "runtime/"
#define OF_PREFIX_APP "app/"

/* Names inside the cache and the unpacked layers. */
#define OF_CACHE_RUNTIME_DIR "runtime"
#define OF_CACHE_APP_DIR "app"
#define OF_CACHE_KEY_HEX_DIGITS 32
#define OF_RUNTIME_PYTHON "bin/python3"
#define OF_APP_PYTHON "bin/python"
#define OF_APP_MAIN "bin/onefile-main"
#define OF_APP_PYVENV_CFG "pyvenv.cfg"
/* pyvenv.cfg of an app directory: makes it a virtual environment of the runtime in
 * the directory given by %s (no user site-packages). */
#define OF_APP_PYVENV_CFG_FORMAT "home = %s/bin\ninclude-system-site-packages = false\n"
/* The twin virtual environment of an app, for the runtime's bundled glibc (OF_LIBC_GLIBC_BUNDLED). */
#define OF_RUNTIME_LIBC_DIR "libc" /* unpacked by the first start that needs the bundled glibc */
#define OF_RUNTIME_LIBC_PYTHON "libc/bin/python3"
#define OF_RUNTIME_LIBC_LOCALE "libc/locale" /* LOCPATH where the system has no glibc (C.utf8 is there) */
#define OF_APP_LIBC_DIR "libc"
#define OF_APP_LIBC_PYTHON "libc/bin/python"
#define OF_APP_MANIFEST "onefile.json" /* written by the builder: what the binary holds */
/* Next to the layer directories of one kind: a layer being unpacked, and the lock its
 * unpacker holds (both named after the layer's key). */
#define OF_CACHE_TMP_PREFIX ".tmp-"
#define OF_CACHE_LOCK_PREFIX ".lock-"
/* In a layer directory published before it was flushed to disk (the directory stays 0700
 * until a clean-up has flushed it and made it 0755): the id of the boot it was published
 * in, from OF_CACHE_BOOT_ID, and a newline. docs/reliability.md "Power cuts". */
#define OF_CACHE_PENDING_FILE "onefile-pending"
#define OF_CACHE_BOOT_ID "/proc/sys/kernel/random/boot_id"

/* Environment variables the stub reads or sets. */
#define OF_ENV_CACHE_DIR "ONEFILE_CACHE_DIR"
#define OF_ENV_BINARY "ONEFILE_BINARY"
#define OF_ENV_ARGV0 "ONEFILE_ARGV0"
#define OF_ENV_MODE "ONEFILE" /* info, verify or clean instead of running the app */

/* Environment variables of the cache's clean-up (stub/of_gc.c, docs/reliability.md). */
#define OF_ENV_CACHE_KEEP_DAYS "ONEFILE_CACHE_KEEP_DAYS" /* days an app's older versions stay unused */

static inline uint16_t of_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t of_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t of_le64(const uint8_t *p)
{
    return (uint64_t)of_le32(p) | (uint64_t)of_le32(p + 4) << 32;
}

#endif
