/* Can this system's C library run what the binary carries? Checked on cold starts,
 * before anything is written (see docs/portability.md). */
#ifndef OF_LIBC_H
#define OF_LIBC_H

#include <stdint.h>

#include "of_format.h"

/* What a system offers: the kind of C library the dynamic loader belongs to and, for
 * glibc, the newest GLIBC_2.y version its libc.so.6 defines. */
enum of_libc_kind { OF_LIBC_KIND_GLIBC, OF_LIBC_KIND_MUSL, OF_LIBC_KIND_NONE };
struct of_libc_system {
    enum of_libc_kind kind;
    int glibc_minor; /* -1 when unknown (libc.so.6 not found or not readable) */
};

/* Look at the system under `root` ("" for /): which loader is there, and the versions
 * libc.so.6 defines. Reads files only; never fails. */
void of_libc_probe(const char *root, struct of_libc_system *out);

/* The newest GLIBC_2.y version defined (ELF .gnu.version_d) by the ELF image `file`
 * (`size` bytes, hostile input as any file), or -1. */
int of_libc_defined_minor(const uint8_t *file, uint64_t size);

/* y of the newest GLIBC_2.y set in a trailer's bitmap, or -1 when none is. */
int of_libc_needed_minor(const uint8_t glibc[OF_GLIBC_BITMAP_SIZE]);

/* Check the needs recorded in a trailer (`libc`, `glibc` bitmap) against `system`:
 * 0 when it can run them, else -1 with a one-line of_error naming both sides. */
int of_libc_check(uint16_t libc, const uint8_t glibc[OF_GLIBC_BITMAP_SIZE], const struct of_libc_system *system);

/* The bundled glibc runs on Linux `need[0]`.`need[1]` or newer (its ABI tag, recorded in
 * the trailer; 0.0: unknown). `release` is uname(2)'s (e.g. "5.10.0-23-amd64"): 0 when
 * it is new enough or can't be read, else -1 with a one-line of_error naming both. */
int of_libc_check_kernel(const uint16_t need[2], const char *release);

#endif
