#define _GNU_SOURCE
#include "of_libc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "of_error.h"

/* The loader the runtime's interpreter names (PT_INTERP), where libc.so.6 usually is,
 * and musl's loader, for this launcher's CPU. */
#if defined(__x86_64__)
#define OF_LIBC_GLIBC_LOADER "/lib64/ld-linux-x86-64.so.2"
#define OF_LIBC_MUSL_LOADER "/lib/ld-musl-x86_64.so.1"
#define OF_LIBC_TRIPLET "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define OF_LIBC_GLIBC_LOADER "/lib/ld-linux-aarch64.so.1"
#define OF_LIBC_MUSL_LOADER "/lib/ld-musl-aarch64.so.1"
#define OF_LIBC_TRIPLET "aarch64-linux-gnu"
#else
#error "onefile's launcher supports x86_64 and aarch64"
#endif

#define OF_LIBC_SHT_GNU_VERDEF 0x6ffffffdu
#define OF_LIBC_MAX_VERDEFS 4096u

static const char *const of_libc_dirs[] = {
    "/lib/" OF_LIBC_TRIPLET, "/usr/lib/" OF_LIBC_TRIPLET, "/lib64", "/usr/lib64", "/lib", "/usr/lib",
};

/* 1 if name is "GLIBC_2.<y>" or "GLIBC_2.<y>.<z>" within `end`; its y in *minor. */
static int of_libc_version_name(const char *name, const char *end, int *minor)
{
    static const char prefix[] = "GLIBC_2.";
    const char *p = name + sizeof(prefix) - 1;
    int y = 0, digits = 0;

    if ((size_t)(end - name) < sizeof(prefix) || memcmp(name, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 3) {
        y = y * 10 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || p >= end || (*p != '\0' && *p != '.'))
        return 0;
    *minor = y;
    return 1;
}

int of_libc_defined_minor(const uint8_t *file, uint64_t size)
{
    uint64_t shoff, sh_at, str_at, str_off, str_size, vd_off, vd_size, at;
    uint16_t shentsize, shnum, version;
    uint32_t link, count, next, aux, name;
    const char *strings;
    int best = -1, minor;

    /* ELF64, little-endian (the only kinds the launcher runs on). */
    if (size < 64 || memcmp(file, "\x7f" "ELF", 4) != 0 || file[4] != 2 || file[5] != 1)
        return -1;
    shoff = of_le64(file + 0x28);
    shentsize = of_le16(file + 0x3a);
    shnum = of_le16(file + 0x3c);
    if (shentsize < 64 || shoff > size || (uint64_t)shnum * shentsize > size - shoff)
        return -1;
    for (uint16_t i = 0; i < shnum; i++) {
        sh_at = shoff + (uint64_t)i * shentsize;
        if (of_le32(file + sh_at + 4) != OF_LIBC_SHT_GNU_VERDEF)
            continue;
        vd_off = of_le64(file + sh_at + 0x18);
        vd_size = of_le64(file + sh_at + 0x20);
        link = of_le32(file + sh_at + 0x28);
        count = of_le32(file + sh_at + 0x2c); /* sh_info: how many definitions */
        if (link >= shnum || vd_off > size || vd_size > size - vd_off)
            return -1;
        str_at = shoff + (uint64_t)link * shentsize;
        str_off = of_le64(file + str_at + 0x18);
        str_size = of_le64(file + str_at + 0x20);
        if (str_off > size || str_size > size - str_off || str_size == 0)
            return -1;
        strings = (const char *)file + str_off;
        at = 0;
        for (uint32_t n = 0; n < count && n < OF_LIBC_MAX_VERDEFS; n++) {
            /* Elf64_Verdef: version u16, flags u16, ndx u16, cnt u16, hash u32, aux u32, next u32. */
            if (at > vd_size || vd_size - at < 20)
                return -1;
            version = of_le16(file + vd_off + at);
            aux = of_le32(file + vd_off + at + 12);
            next = of_le32(file + vd_off + at + 16);
            /* Elf64_Verdaux: name u32, next u32; the first one names the version. */
            if (version != 1 || aux > vd_size - at || vd_size - at - aux < 8)
                return -1;
            name = of_le32(file + vd_off + at + aux);
            if (name < str_size && of_libc_version_name(strings + name, strings + str_size, &minor) && minor > best)
                best = minor;
            if (next == 0)
                break;
            at += next;
        }
        break;
    }
    return best;
}

/* y of the "release version 2.y" banner glibc prints when libc.so.6 is run, or -1:
 * the release, which may be newer than the newest version node (2.31 added none). */
static int of_libc_release_minor(const uint8_t *file, uint64_t size)
{
    static const char banner[] = "release version 2.";
    const uint8_t *p = memmem(file, size, banner, sizeof(banner) - 1), *end = file + size;
    int y = 0, digits = 0;

    if (p == NULL)
        return -1;
    for (p += sizeof(banner) - 1; p < end && *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
        y = y * 10 + (*p - '0');
    return digits > 0 ? y : -1;
}

/* The glibc release of the libc.so.6 at `path` (its banner, or else the newest
 * GLIBC_2.y it defines), or -1. */
static int of_libc_file_minor(const char *path)
{
    struct stat st;
    void *map = MAP_FAILED;
    int fd = open(path, O_RDONLY | O_CLOEXEC), minor = -1;

    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        goto cleanup;
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
        minor = of_libc_defined_minor(map, (uint64_t)st.st_size);
        if (minor >= 0) { /* a glibc: its banner may say a newer release */
            int release = of_libc_release_minor(map, (uint64_t)st.st_size);
            minor = release > minor ? release : minor;
        }
    }
cleanup:
    if (map != MAP_FAILED)
        munmap(map, (size_t)st.st_size);
    if (fd >= 0)
        close(fd);
    return minor;
}

void of_libc_probe(const char *root, struct of_libc_system *out)
{
    char path[4096];

    out->kind = OF_LIBC_KIND_NONE;
    out->glibc_minor = -1;
    snprintf(path, sizeof(path), "%s" OF_LIBC_GLIBC_LOADER, root);
    if (access(path, F_OK) != 0) {
        struct stat st;

        /* The link itself is enough to tell (Debian's musl package makes it a link). */
        snprintf(path, sizeof(path), "%s" OF_LIBC_MUSL_LOADER, root);
        if (lstat(path, &st) == 0)
            out->kind = OF_LIBC_KIND_MUSL;
        return;
    }
    out->kind = OF_LIBC_KIND_GLIBC;
    for (size_t i = 0; i < sizeof(of_libc_dirs) / sizeof(of_libc_dirs[0]) && out->glibc_minor < 0; i++) {
        snprintf(path, sizeof(path), "%s%s/libc.so.6", root, of_libc_dirs[i]);
        out->glibc_minor = of_libc_file_minor(path);
    }
}

int of_libc_check_kernel(const uint16_t need[2], const char *release)
{
    unsigned long major, minor = 0;
    char *end;

    if (need[0] == 0 && need[1] == 0)
        return 0;
    major = strtoul(release, &end, 10);
    if (end == release)
        return 0; /* not a version: let the loader say what it finds */
    if (*end == '.')
        minor = strtoul(end + 1, NULL, 10);
    if (major > need[0] || (major == need[0] && minor >= need[1]))
        return 0;
    return of_error("needs Linux %u.%u or newer (for the glibc it carries); this system runs Linux %.64s",
                    (unsigned)need[0], (unsigned)need[1], release);
}

int of_libc_needed_minor(const uint8_t glibc[OF_GLIBC_BITMAP_SIZE])
{
    for (int y = (int)(8 * OF_GLIBC_BITMAP_SIZE) - 1; y >= 0; y--)
        if (glibc[y / 8] >> (y % 8) & 1)
            return y;
    return -1;
}

int of_libc_check(uint16_t libc, const uint8_t glibc[OF_GLIBC_BITMAP_SIZE], const struct of_libc_system *system)
{
    int needed = of_libc_needed_minor(glibc);

    if (libc != OF_LIBC_GLIBC)
        return 0; /* nothing recorded (a binary written by hand, or by tests) */
    if (system->kind == OF_LIBC_KIND_MUSL)
        return of_error("needs glibc; this system's C library is musl");
    if (system->kind == OF_LIBC_KIND_NONE)
        return of_error("needs glibc; this system has none (no " OF_LIBC_GLIBC_LOADER ")");
    /* An unreadable libc.so.6 is not a reason to refuse: the loader will tell. */
    if (system->glibc_minor >= 0 && needed > system->glibc_minor)
        return of_error("needs glibc 2.%d or newer; this system has glibc 2.%d", needed, system->glibc_minor);
    return 0;
}
