#define _GNU_SOURCE
#include "of_interp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "of_error.h"
#include "of_format.h"

#if defined(__x86_64__)
#define OF_INTERP_GLIBC_LOADER "/lib64/ld-linux-x86-64.so.2"
#define OF_INTERP_TRIPLET "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define OF_INTERP_GLIBC_LOADER "/lib/ld-linux-aarch64.so.1"
#define OF_INTERP_TRIPLET "aarch64-linux-gnu"
#else
#error "onefile's launcher supports x86_64 and aarch64"
#endif

#define OF_INTERP_SHT_GNU_VERDEF 0x6ffffffdu
#define OF_INTERP_MAX_SECTIONS 256u   /* libc.so.6 has about 70 */
#define OF_INTERP_MAX_VERDEF 16384u   /* bytes of .gnu.version_d: glibc 2.36's is 0x4b0 */
#define OF_INTERP_MAX_DYNSTR 262144u  /* bytes of its string table: glibc 2.36's is 0x5f00 */

static const char *const of_interp_libc_dirs[] = {
    "/lib/" OF_INTERP_TRIPLET, "/usr/lib/" OF_INTERP_TRIPLET, "/lib64", "/usr/lib64", "/lib", "/usr/lib",
};

/* Where .gnu.version_d and its strings are read: static, not malloc'd, because the warm
 * path allocates nothing (zig's malloc maps memory for the first allocation of a size:
 * two more system calls); of_interp_defined_minor runs on the main thread only. */
static uint8_t of_interp_verdef[OF_INTERP_MAX_VERDEF];
static char of_interp_strings[OF_INTERP_MAX_DYNSTR];

/* Read exactly `size` bytes at `offset`; 0 or -1. */
static int of_interp_pread(int fd, void *buf, size_t size, uint64_t offset)
{
    uint8_t *p = buf;

    while (size > 0) {
        ssize_t n = pread(fd, p, size, (off_t)offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        size -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

/* y of "GLIBC_2.<y>" or "GLIBC_2.<y>.<z>" (`name` NUL-terminated within `end`), or -1. */
static int of_interp_version_minor(const char *name, const char *end)
{
    static const char prefix[] = "GLIBC_2.";
    const char *p = name + sizeof(prefix) - 1;
    int y = 0, digits = 0;

    if ((size_t)(end - name) < sizeof(prefix) || memcmp(name, prefix, sizeof(prefix) - 1) != 0)
        return -1;
    while (p < end && *p >= '0' && *p <= '9' && digits < 3) {
        y = y * 10 + (*p++ - '0');
        digits++;
    }
    return digits > 0 && p < end && (*p == '\0' || *p == '.') ? y : -1;
}

int of_interp_defined_minor(int fd)
{
    uint8_t ehdr[64], shdrs[OF_INTERP_MAX_SECTIONS * 64], *verdef = NULL;
    char *strings = NULL;
    uint64_t shoff, vd_off, vd_size, str_off, str_size, at = 0;
    uint16_t shentsize, shnum;
    uint32_t link, count;
    int best = -1;

    /* ELF64, little-endian, 64-byte section headers: the only kind the launcher runs on. */
    if (of_interp_pread(fd, ehdr, sizeof(ehdr), 0) != 0 || memcmp(ehdr, "\x7f" "ELF", 4) != 0 || ehdr[4] != 2 ||
        ehdr[5] != 1)
        goto cleanup;
    shoff = of_le64(ehdr + 0x28);
    shentsize = of_le16(ehdr + 0x3a);
    shnum = of_le16(ehdr + 0x3c);
    if (shentsize != 64 || shnum == 0 || shnum > OF_INTERP_MAX_SECTIONS ||
        of_interp_pread(fd, shdrs, (size_t)shnum * 64, shoff) != 0)
        goto cleanup;
    for (uint16_t i = 0; i < shnum; i++) {
        const uint8_t *sh = shdrs + (size_t)i * 64, *str_sh;

        if (of_le32(sh + 4) != OF_INTERP_SHT_GNU_VERDEF)
            continue;
        vd_off = of_le64(sh + 0x18);
        vd_size = of_le64(sh + 0x20);
        link = of_le32(sh + 0x28);
        count = of_le32(sh + 0x2c); /* sh_info: how many definitions */
        if (link >= shnum || vd_size < 20 || vd_size > OF_INTERP_MAX_VERDEF)
            goto cleanup;
        str_sh = shdrs + (size_t)link * 64;
        str_off = of_le64(str_sh + 0x18);
        str_size = of_le64(str_sh + 0x20);
        if (str_size == 0 || str_size > OF_INTERP_MAX_DYNSTR)
            goto cleanup;
        verdef = of_interp_verdef;
        strings = of_interp_strings;
        if (of_interp_pread(fd, verdef, vd_size, vd_off) != 0 ||
            of_interp_pread(fd, strings, str_size, str_off) != 0)
            goto cleanup;
        for (uint32_t n = 0; n < count; n++) {
            /* Elf64_Verdef: version u16, flags u16, ndx u16, cnt u16, hash u32, aux u32, next u32;
             * its first Elf64_Verdaux (name u32, next u32) names the version. */
            uint32_t aux, next, name;
            int minor;

            if (at > vd_size || vd_size - at < 20 || of_le16(verdef + at) != 1)
                goto cleanup;
            aux = of_le32(verdef + at + 12);
            next = of_le32(verdef + at + 16);
            if (aux > vd_size - at || vd_size - at - aux < 8)
                goto cleanup;
            name = of_le32(verdef + at + aux);
            if (name < str_size) {
                minor = of_interp_version_minor(strings + name, strings + str_size);
                best = minor > best ? minor : best;
            }
            if (next == 0)
                break;
            at += next;
        }
        break;
    }
cleanup:
    return best;
}

/* y of the loader's file name "ld-2.<y>.so" that the standard loader path links to
 * (glibc before 2.34 named it so), or -1: one readlink. */
static int of_interp_loader_minor(const char *path)
{
    char target[PATH_MAX];
    const char *base;
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    int y = 0, digits = 0;

    if (n <= 0)
        return -1;
    target[n] = '\0';
    base = strrchr(target, '/');
    base = base != NULL ? base + 1 : target;
    if (strncmp(base, "ld-2.", 5) != 0)
        return -1;
    for (base += 5; *base >= '0' && *base <= '9' && digits < 3; base++, digits++)
        y = y * 10 + (*base - '0');
    return digits > 0 && strcmp(base, ".so") == 0 ? y : -1;
}

void of_interp_choose(const char *root, int needed_minor, struct of_interp_choice *out)
{
    char loader[PATH_MAX], path[PATH_MAX];
    int fd = -1, loader_minor;

    out->kind = OF_INTERP_BUNDLED;
    out->system_minor = -1;
    out->loader_found = 0;
    /* No loader at the standard path: musl, no C library, NixOS (glibc only in the store). */
    snprintf(loader, sizeof(loader), "%s" OF_INTERP_GLIBC_LOADER, root);
    if (access(loader, X_OK) != 0) {
        out->why = "no glibc loader at " OF_INTERP_GLIBC_LOADER;
        goto cleanup;
    }
    out->loader_found = 1;
    for (size_t i = 0; i < sizeof(of_interp_libc_dirs) / sizeof(of_interp_libc_dirs[0]) && fd < 0; i++) {
        snprintf(path, sizeof(path), "%s%s/libc.so.6", root, of_interp_libc_dirs[i]);
        /* No O_CLOEXEC: musl adds an fcntl for it, and the file is closed before the exec. */
        fd = open(path, O_RDONLY);
    }
    if (fd < 0) {
        /* A loader but no libc.so.6 where glibc keeps it (nix-ld's stub, gcompat): not ours to guess. */
        out->why = "no libc.so.6 in the usual directories";
        goto cleanup;
    }
    out->system_minor = of_interp_defined_minor(fd);
    /* A release that added no version node to libc.so.6 (2.31 defines GLIBC_2.30 at most,
     * its libm GLIBC_2.31): before 2.34 the loader's file name says the release. */
    if (out->system_minor >= 0 && out->system_minor < needed_minor) {
        loader_minor = of_interp_loader_minor(loader);
        out->system_minor = loader_minor > out->system_minor ? loader_minor : out->system_minor;
    }
    if (out->system_minor < 0) {
        out->why = "libc.so.6 is not a glibc";
    } else if (out->system_minor < needed_minor) {
        out->why = "the system's glibc is older than the binary needs";
    } else {
        out->kind = OF_INTERP_SYSTEM;
        out->why = "the system's glibc is new enough";
    }
cleanup:
    if (fd >= 0)
        close(fd);
}

int of_interp_expand(const char *template_bytes, size_t site_size, const char *runtime_dir, char *out)
{
    static const char token[] = OF_INTERP_TOKEN;
    const size_t token_len = sizeof(token) - 1, dir_len = strlen(runtime_dir);
    const char *end = memchr(template_bytes, '\0', site_size), *p = template_bytes, *hit;
    size_t used = 0;

    /* A site holds an absolute path's template: it starts with the token (so a wrong
     * offset is refused, not written over), and ends with a NUL within the site. */
    if (site_size < token_len + 1 || memcmp(template_bytes, token, token_len) != 0)
        return of_error("a patch site does not start with " OF_INTERP_TOKEN);
    if (end == NULL)
        return of_error("a patch site is not NUL-terminated within its %zu bytes", site_size);
    if (memchr(template_bytes, ':', (size_t)(end - template_bytes)) != NULL && strchr(runtime_dir, ':') != NULL)
        return of_error("the cache directory %s has a ':', which a run path can't hold; "
                        "set " OF_ENV_CACHE_DIR " to a directory without one", runtime_dir);
    while ((hit = memmem(p, (size_t)(end - p), token, token_len)) != NULL || p < end) {
        size_t literal = (size_t)((hit != NULL ? hit : end) - p);

        if (literal > site_size - 1 - used)
            goto too_long;
        memcpy(out + used, p, literal);
        used += literal;
        if (hit == NULL)
            break;
        if (dir_len > site_size - 1 - used)
            goto too_long;
        memcpy(out + used, runtime_dir, dir_len);
        used += dir_len;
        p = hit + token_len;
    }
    memset(out + used, 0, site_size - used);
    return 0;
too_long:
    return of_error("the cache directory %.200s is too long for the bundled C library's paths (%zu bytes at most "
                    "in %.40s); set " OF_ENV_CACHE_DIR " to a shorter one", runtime_dir, site_size - 1, template_bytes);
}

int of_interp_patch_fd(int fd, const char *path, uint64_t offset, uint32_t site_size, const char *runtime_dir)
{
    char *site = malloc(site_size), *expanded = malloc(site_size);
    ssize_t n;
    int rc = -1;

    if (site == NULL || expanded == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    if (of_interp_pread(fd, site, site_size, offset) != 0) {
        of_error("%s: a patch site at %llu (%u bytes) is outside the file", path, (unsigned long long)offset,
                 site_size);
        goto cleanup;
    }
    if (of_interp_expand(site, site_size, runtime_dir, expanded) != 0) {
        of_error_prefix("%s", path);
        goto cleanup;
    }
    n = pwrite(fd, expanded, site_size, (off_t)offset);
    if (n != (ssize_t)site_size) {
        if (n >= 0)
            errno = EIO;
        of_error_errno("cannot write %s", path);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(site);
    free(expanded);
    return rc;
}
