"""The binary format's constants and offsets, declared once for the writer.

The launcher's side is ``stub/of_format.h``: every ``#define OF_<NAME>`` there is
``<NAME>`` here with the same value, and tests/unit/format/test_format.py fails when one side changes
without the other. ``docs/format.md`` describes both for people. Change all three
together and bump :data:`FORMAT_VERSION`. All integers in the file are little-endian.
"""

from __future__ import annotations

FORMAT_VERSION = 5
TRAILER_SIZE = 256
MAGIC = b"OneFile\x1a"
MAGIC_SIZE = 8
LAYER_COUNT = 2
LAYER_RUNTIME = 0
LAYER_APP = 1

# Trailer field offsets (bytes from the start of the trailer).
TRAILER_VERSION_AT = 0  # u32
TRAILER_SIZE_AT = 4  # u32
TRAILER_LAYERS_AT = 8  # LAYER_COUNT records of LAYER_RECORD_SIZE bytes
LAYER_RECORD_SIZE = 64
TRAILER_APP_KEY_AT = 136  # SHA-256 of the two layers' SHA-256s: names the app's cache dir
TRAILER_LIBC_AT = 168  # u16: LIBC_*, then a reserved u16
TRAILER_GLIBC_AT = 172  # GLIBC_BITMAP_SIZE bytes: bit y (byte y/8, bit y%8) = GLIBC_2.y needed
TRAILER_APP_ID_AT = 184  # SHA-256 of "<project>\0<entry point>": the same for every version
TRAILER_KERNEL_AT = 216  # u16 major, u16 minor: the oldest Linux the bundled glibc runs on (0.0: no check)
TRAILER_RESERVED_AT = 220  # 28 bytes of zeros
TRAILER_MAGIC_AT = 248
GLIBC_BITMAP_SIZE = 12
LIBC_NONE = 0  # nothing recorded: the launcher checks nothing
LIBC_GLIBC = 1  # glibc, the system's: the launcher refuses a system that can't serve
LIBC_GLIBC_BUNDLED = 2  # glibc, the system's where it can serve, else the runtime's libc/ (format 3)
SHA256_DIGEST_SIZE = 32

# Layer record field offsets (bytes from the start of the record).
LAYER_OFFSET_AT = 0  # u64
LAYER_SIZE_AT = 8  # u64
LAYER_ENTRY_COUNT_AT = 16  # u64
LAYER_UNPACKED_SIZE_AT = 24  # u64
LAYER_SHA256_AT = 32  # SHA-256 of the layer's bytes

# zstd frames use windows of at most 2^23 bytes (levels up to 19 do, without long mode).
ZSTD_WINDOW_LOG_MAX = 23

# Zip local file header, as the layers use it.
ZIP_LOCAL_SIGNATURE = 0x04034B50
ZIP_LOCAL_HEADER_SIZE = 30
ZIP_LOCAL_FLAGS_AT = 6
ZIP_LOCAL_METHOD_AT = 8
ZIP_LOCAL_CRC32_AT = 14
ZIP_LOCAL_COMPRESSED_SIZE_AT = 18
ZIP_LOCAL_SIZE_AT = 22
ZIP_LOCAL_NAME_LENGTH_AT = 26
ZIP_LOCAL_EXTRA_LENGTH_AT = 28
ZIP_FLAG_ENCRYPTED = 0x0001
ZIP_FLAG_DATA_DESCRIPTOR = 0x0008
ZIP_FLAG_UTF8 = 0x0800
ZIP_METHOD_STORED = 0
ZIP_METHOD_ZSTD = 93
ZIP_EXTRA_MODE_ID = 0x4F46  # "FO": u32 st_mode
ZIP_EXTRA_MODE_SIZE = 4
ZIP_EXTRA_SIZE = 4 + ZIP_EXTRA_MODE_SIZE  # the mode's field: id u16, size u16, st_mode u32
# Patch sites (format 3): a second extra field after the mode's, on a regular file whose
# bytes at each site hold a template (SITE_TOKEN/..., NUL-padded) that the launcher
# writes over at unpack with the template expanded by the runtime directory.
ZIP_EXTRA_SITES_ID = 0x5046  # "FP": SITES_MAX pairs at most of u32 offset, u32 size
ZIP_EXTRA_SITE_SIZE = 8
SITES_MAX = 4
SITE_MIN_SIZE = 16
SITE_MAX_SIZE = 4096
SITE_TOKEN = "@RUNTIME@"  # in a template: where the runtime layer's directory goes
# Groups (format 4): consecutive regular files whose data is one zstd frame, cut at block
# boundaries (the compressor flushed after each file): a member's data is the blocks of
# its file, and decoding it needs the members before it. Each member's extra field holds
# its place in the group after the mode's.
ZIP_METHOD_ZSTD_GROUP = 0x4647  # "GF": not a zip method of any other tool
ZIP_EXTRA_GROUP_ID = 0x4746  # "FG": u32 index in the group, u32 members in the group
ZIP_EXTRA_GROUP_SIZE = 8
# Filters (format 5): a compressed entry whose data was transformed before compression,
# to be undone after decoding (docs/format.md "Filters").
ZIP_EXTRA_FILTER_ID = 0x5846  # "FX": u32 filter
ZIP_EXTRA_FILTER_SIZE = 4
# x86 calls: each E8 byte (scanning from the start, skipping the 4 bytes after each one
# and stopping 4 bytes before the end) is followed by a signed 32-bit little-endian value
# x; with p the offset after those 4 bytes and n the file's size (< 2^31), an x in
# [-p, n) became x + p (x < n - p) or x - n (x >= n - p), a rotation of [-p, n):
# relative call targets became absolute, which repeat.
FILTER_X86_CALLS = 1
FILTER_X86_SIZE_MAX = 0x7FFFFFFF

# The only st_mode values an entry may carry.
MODE_FILE = 0o100644
MODE_EXECUTABLE = 0o100755
MODE_SYMLINK = 0o120777
MODE_DIRECTORY = 0o040755

PREFIX_RUNTIME = "runtime/"
PREFIX_APP = "app/"

# Names inside the cache and the unpacked layers.
CACHE_RUNTIME_DIR = "runtime"
CACHE_APP_DIR = "app"
CACHE_KEY_HEX_DIGITS = 32
RUNTIME_PYTHON = "bin/python3"
APP_PYTHON = "bin/python"
APP_MAIN = "bin/onefile-main"
APP_PYVENV_CFG = "pyvenv.cfg"
APP_PYVENV_CFG_FORMAT = "home = %s/bin\ninclude-system-site-packages = false\n"
# The twin virtual environment of an app, for the runtime's bundled glibc (LIBC_GLIBC_BUNDLED).
RUNTIME_LIBC_DIR = "libc"  # unpacked by the first start that needs the bundled glibc
RUNTIME_LIBC_PYTHON = "libc/bin/python3"
RUNTIME_LIBC_LOCALE = "libc/locale"  # LOCPATH where the system has no glibc (C.utf8 is there)
APP_LIBC_DIR = "libc"
APP_LIBC_PYTHON = "libc/bin/python"
APP_MANIFEST = "onefile.json"  # written by the builder: what the binary holds
CACHE_TMP_PREFIX = ".tmp-"
CACHE_LOCK_PREFIX = ".lock-"
# In a layer directory published before it was flushed to disk (0700 until a clean-up has
# flushed it and made it 0755): the boot id it was published in (docs/reliability.md).
CACHE_PENDING_FILE = "onefile-pending"
CACHE_BOOT_ID = "/proc/sys/kernel/random/boot_id"

# Environment variables the launcher reads or sets (the bootstrap, run inside the binary,
# spells the ones it reads itself: it imports nothing of onefile_backend).
ENV_CACHE_DIR = "ONEFILE_CACHE_DIR"
ENV_BINARY = "ONEFILE_BINARY"
ENV_ARGV0 = "ONEFILE_ARGV0"
ENV_MODE = "ONEFILE"  # info, verify or clean instead of running the app
ENV_CACHE_KEEP_DAYS = "ONEFILE_CACHE_KEEP_DAYS"  # days an app's older versions stay unused
