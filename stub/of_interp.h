/* Which interpreter a start execs (the system's glibc or the bundled one), and the bytes
 * the launcher writes into the bundled-glibc interpreter at unpack time: see
 * docs/libc-design.md and docs/portability.md. main.c chooses on every start of a
 * binary that carries a glibc; of_unpack.c patches the sites. */
#ifndef OF_INTERP_H
#define OF_INTERP_H

#include <stddef.h>
#include <stdint.h>

#include "of_format.h"

/* The token a patch site's template holds where the runtime directory goes, e.g.
 * "@RUNTIME@/libc/lib/ld-linux-x86-64.so.2", NUL-padded to the site's size. */
#define OF_INTERP_TOKEN OF_SITE_TOKEN

enum of_interp_kind { OF_INTERP_SYSTEM, OF_INTERP_BUNDLED };

struct of_interp_choice {
    enum of_interp_kind kind;
    int system_minor; /* y of the system's newest GLIBC_2.y, -1 when none was read */
    const char *why;  /* static text for ONEFILE=info: "glibc 2.31 is older than 2.36", ... */
    int loader_found; /* a glibc loader is at the standard path (then LOCPATH isn't set) */
};

/* Choose the interpreter for a binary whose files need GLIBC_2.<needed_minor> at most,
 * looking at the system under `root` ("" for /): the system's when its glibc loader is
 * at the standard path and a libc.so.6 in the usual directories defines that version,
 * else the bundled one. Reads a few hundred bytes with pread (no mmap); never fails. */
void of_interp_choose(const char *root, int needed_minor, struct of_interp_choice *out);

/* The newest GLIBC_2.y that the ELF file open at `fd` defines (.gnu.version_d), read
 * with pread as hostile input, or -1. */
int of_interp_defined_minor(int fd);

/* Expand `template` (a site's bytes up to its first NUL, `site_size` bytes at most) with
 * `runtime_dir` for each OF_INTERP_TOKEN into `out` (`site_size` bytes: the expansion,
 * then NULs). -1 (of_error set) when the site doesn't start with the token or isn't
 * NUL-terminated within its size,
 * the expansion doesn't fit, or `runtime_dir` has a ':' and the template lists paths. */
int of_interp_expand(const char *template_bytes, size_t site_size, const char *runtime_dir, char *out);

/* Patch one site of the file open (read-write) at `fd`: read the template at `offset`,
 * write its expansion over it. `path` is for messages. 0, or -1 with of_error set. */
int of_interp_patch_fd(int fd, const char *path, uint64_t offset, uint32_t site_size, const char *runtime_dir);

#endif
