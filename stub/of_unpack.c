#define _GNU_SOURCE
#include "of_unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "of_error.h"
#include "of_filter.h"
#include "of_format.h"
#include "of_interp.h"
#include "of_test.h"

/* The length of a name to show in a message: at most 200 bytes of it. */
#define OF_UNPACK_SHOWN(len) ((int)((len) < 200 ? (len) : 200))

struct of_unpack {
    int rootfd;
    const char *rootpath;
    ZSTD_DCtx *zstd;
    char *path; /* NUL-terminated copy of the current entry's name */
    /* The last two directories made or opened, relative to the root, and their fds (-1:
     * none): a module's source and its __pycache__/ bytecode alternate (format/layers.py). */
    char *dirs[2];
    int dirfds[2];
    int recent; /* the slot used last; a new directory takes the other */
    uint8_t *buf; /* decompression output */
    size_t buf_size;
    const char *runtime_dir; /* what patch sites are expanded with */
};

/* Files up to this size are decoded in one piece (per worker thread, at most this much memory). */
#define OF_UNPACK_ONE_PASS_MAX ((size_t)1 << 20)

/* Where decoded bytes go: a file, or a buffer of the entry's size (link targets). */
struct of_sink {
    int fd;
    char *mem;
};

int of_unpack_name_check(const char *name, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && (name[i] == '\0' || name[i] == '\\'))
            return -1;
        if (i == len || name[i] == '/') {
            size_t n = i - start;

            if (n == 0 || (n == 1 && name[start] == '.') || (n == 2 && name[start] == '.' && name[start + 1] == '.'))
                return -1;
            start = i + 1;
        }
    }
    return 0;
}

int of_unpack_link_check(const char *name, size_t name_len, const char *target, size_t target_len)
{
    size_t depth = 0, start = 0, n;
    int descended = 0;

    for (size_t i = 0; i < name_len; i++)
        depth += name[i] == '/';
    if (target_len == 0 || target[0] == '/' || memchr(target, '\0', target_len) != NULL)
        goto bad;
    for (size_t i = 0; i <= target_len; i++) {
        if (i < target_len && target[i] != '/')
            continue;
        n = i - start;
        if (n == 2 && target[start] == '.' && target[start + 1] == '.') {
            if (descended || depth == 0)
                goto bad;
            depth--;
        } else if (n > 1 || (n == 1 && target[start] != '.')) {
            descended = 1;
        }
        start = i + 1;
    }
    return 0;
bad:
    return of_error("'%.*s': symbolic link target '%.*s' is absolute, leaves the layer or has '..' after a name",
                    OF_UNPACK_SHOWN(name_len), name, OF_UNPACK_SHOWN(target_len), target);
}

/* The patch sites field after the mode's (`len` bytes at `p`): at most OF_SITES_MAX
 * sites, each of OF_SITE_MIN_SIZE..OF_SITE_MAX_SIZE bytes inside a regular file's data,
 * in order and not overlapping. out->mode and out->size are read already. */
static int of_unpack_sites(const uint8_t *p, size_t len, struct of_entry *out)
{
    uint64_t end = 0;
    size_t count;

    if (len < 4 || of_le16(p) != OF_ZIP_EXTRA_SITES_ID || of_le16(p + 2) != len - 4)
        return -1;
    count = (len - 4) / OF_ZIP_EXTRA_SITE_SIZE;
    if (count == 0 || count > OF_SITES_MAX || (len - 4) % OF_ZIP_EXTRA_SITE_SIZE != 0)
        return -1;
    if (out->mode != OF_MODE_FILE && out->mode != OF_MODE_EXECUTABLE)
        return -1;
    for (size_t i = 0; i < count; i++) {
        uint64_t offset = of_le32(p + 4 + i * OF_ZIP_EXTRA_SITE_SIZE);
        uint32_t size = of_le32(p + 8 + i * OF_ZIP_EXTRA_SITE_SIZE);

        if (offset < end || size < OF_SITE_MIN_SIZE || size > OF_SITE_MAX_SIZE || offset + size > out->size)
            return -1;
        end = offset + size;
    }
    out->sites = p + 4;
    out->site_count = (uint32_t)count;
    return 0;
}

void of_unpack_site(const struct of_entry *e, uint32_t i, uint64_t *offset, uint32_t *size)
{
    *offset = of_le32(e->sites + i * OF_ZIP_EXTRA_SITE_SIZE);
    *size = of_le32(e->sites + i * OF_ZIP_EXTRA_SITE_SIZE + 4);
}

/* The group field (`len` bytes at `p`, header included), on a member of a group: a
 * regular file, index < count. out->mode is read already. */
static int of_unpack_group(const uint8_t *p, size_t len, struct of_entry *out)
{
    if (len != 4 + OF_ZIP_EXTRA_GROUP_SIZE || of_le16(p) != OF_ZIP_EXTRA_GROUP_ID ||
        of_le16(p + 2) != OF_ZIP_EXTRA_GROUP_SIZE)
        return -1;
    if (out->mode != OF_MODE_FILE && out->mode != OF_MODE_EXECUTABLE)
        return -1;
    out->group_index = of_le32(p + 4);
    out->group_count = of_le32(p + 8);
    return out->group_index < out->group_count ? 0 : -1;
}

/* The filter field (`len` bytes at `p`, header included), on a compressed regular file:
 * a filter this launcher knows, on a file it can undo it for. */
static int of_unpack_filter(const uint8_t *p, size_t len, struct of_entry *out)
{
    if (len != 4 + OF_ZIP_EXTRA_FILTER_SIZE || of_le16(p) != OF_ZIP_EXTRA_FILTER_ID ||
        of_le16(p + 2) != OF_ZIP_EXTRA_FILTER_SIZE)
        return -1;
    if ((out->mode != OF_MODE_FILE && out->mode != OF_MODE_EXECUTABLE) || out->method == OF_ZIP_METHOD_STORED)
        return -1;
    out->filter = of_le32(p + 4);
    return out->filter == OF_FILTER_X86_CALLS && out->size <= OF_FILTER_X86_SIZE_MAX ? 0 : -1;
}

/* The extra fields after the mode's (`len` bytes at `p`), each at most once and in this
 * order: patch sites, group, filter; a group's members have their group field and no
 * patch sites, other entries no group field. */
static int of_unpack_fields(const uint8_t *p, size_t len, struct of_entry *out)
{
    size_t field;
    int rank = 0, next;

    while (len > 0) {
        if (len < 4 || (field = 4 + (size_t)of_le16(p + 2)) > len)
            return -1;
        switch (of_le16(p)) {
        case OF_ZIP_EXTRA_SITES_ID:
            next = 1;
            if (out->method == OF_ZIP_METHOD_ZSTD_GROUP || of_unpack_sites(p, field, out) != 0)
                return -1;
            break;
        case OF_ZIP_EXTRA_GROUP_ID:
            next = 2;
            if (out->method != OF_ZIP_METHOD_ZSTD_GROUP || of_unpack_group(p, field, out) != 0)
                return -1;
            break;
        case OF_ZIP_EXTRA_FILTER_ID:
            next = 3;
            if (of_unpack_filter(p, field, out) != 0)
                return -1;
            break;
        default:
            return -1;
        }
        if (next <= rank)
            return -1;
        rank = next;
        p += field;
        len -= field;
    }
    return out->method == OF_ZIP_METHOD_ZSTD_GROUP && out->group_count == 0 ? -1 : 0;
}

int of_unpack_group_next(const struct of_entry *e, uint32_t *open)
{
    int shown = OF_UNPACK_SHOWN(e->name_len);

    if (*open == 0 && e->group_count > 0 && e->group_index != 0)
        return of_error("'%.*s': a group member without the members before it", shown, e->name);
    if (*open > 0 && (e->group_count == 0 || e->group_index != e->group_count - *open))
        return of_error("'%.*s': where a group's next member should be", shown, e->name);
    *open = e->group_count > 0 ? e->group_count - e->group_index - 1 : 0;
    return 0;
}

int of_unpack_entry(const uint8_t *p, size_t avail, const char *prefix, struct of_entry *out)
{
    size_t prefix_len = strlen(prefix), name_len, extra_len, head;
    const uint8_t *name, *extra;
    uint16_t flags;
    int shown;

    if (avail < OF_ZIP_LOCAL_HEADER_SIZE)
        return of_error("truncated entry header");
    if (of_le32(p) != OF_ZIP_LOCAL_SIGNATURE)
        return of_error("bad entry signature");
    flags = of_le16(p + OF_ZIP_LOCAL_FLAGS_AT);
    out->method = of_le16(p + OF_ZIP_LOCAL_METHOD_AT);
    out->crc32 = of_le32(p + OF_ZIP_LOCAL_CRC32_AT);
    out->compressed_size = of_le32(p + OF_ZIP_LOCAL_COMPRESSED_SIZE_AT);
    out->size = of_le32(p + OF_ZIP_LOCAL_SIZE_AT);
    name_len = of_le16(p + OF_ZIP_LOCAL_NAME_LENGTH_AT);
    extra_len = of_le16(p + OF_ZIP_LOCAL_EXTRA_LENGTH_AT);
    head = OF_ZIP_LOCAL_HEADER_SIZE + name_len + extra_len; /* at most 30 + 2 * 65535 */
    if (avail < head)
        return of_error("truncated entry name or extra field");
    name = p + OF_ZIP_LOCAL_HEADER_SIZE;
    extra = name + name_len;
    shown = OF_UNPACK_SHOWN(name_len);
    if ((flags & ~OF_ZIP_FLAG_UTF8) != 0)
        return of_error("'%.*s': unsupported flags 0x%04x", shown, (const char *)name, flags);
    if (out->method != OF_ZIP_METHOD_STORED && out->method != OF_ZIP_METHOD_ZSTD &&
        out->method != OF_ZIP_METHOD_ZSTD_GROUP)
        return of_error("'%.*s': unsupported compression method %u", shown, (const char *)name, out->method);
    if (out->method == OF_ZIP_METHOD_STORED && out->compressed_size != out->size)
        return of_error("'%.*s': stored entry with two different sizes", shown, (const char *)name);
    if (avail - head < out->compressed_size)
        return of_error("'%.*s': data runs past the end of the layer", shown, (const char *)name);
    if (name_len < prefix_len || memcmp(name, prefix, prefix_len) != 0)
        return of_error("'%.*s': name does not start with '%s'", shown, (const char *)name, prefix);
    if (extra_len < OF_ZIP_EXTRA_SIZE || of_le16(extra) != OF_ZIP_EXTRA_MODE_ID ||
        of_le16(extra + 2) != OF_ZIP_EXTRA_MODE_SIZE)
        return of_error("'%.*s': missing or unexpected extra field", shown, (const char *)name);
    out->mode = of_le32(extra + 4);
    out->sites = NULL;
    out->site_count = 0;
    out->group_index = 0;
    out->group_count = 0;
    out->filter = 0;
    out->discard = 0;
    if (of_unpack_fields(extra + OF_ZIP_EXTRA_SIZE, extra_len - OF_ZIP_EXTRA_SIZE, out) != 0)
        return of_error("'%.*s': unexpected extra field, bad patch sites, group or filter", shown,
                        (const char *)name);
    out->name = (const char *)name + prefix_len;
    out->name_len = name_len - prefix_len;
    out->data = extra + extra_len;
    out->total = head + out->compressed_size;

    switch (out->mode) {
    case OF_MODE_FILE:
    case OF_MODE_EXECUTABLE:
        break;
    case OF_MODE_SYMLINK:
        if (out->size == 0 || out->size >= PATH_MAX)
            return of_error("'%.*s': symbolic link target of %u bytes", shown, (const char *)name,
                            (unsigned)out->size);
        break;
    case OF_MODE_DIRECTORY:
        if (out->name_len == 0 || out->name[out->name_len - 1] != '/' || out->size != 0 ||
            out->method != OF_ZIP_METHOD_STORED)
            return of_error("'%.*s': directory entry without a trailing '/' or with data", shown,
                            (const char *)name);
        out->name_len--;
        break;
    default:
        return of_error("'%.*s': unsupported file mode 0%o", shown, (const char *)name, (unsigned)out->mode);
    }
    if (of_unpack_name_check(out->name, out->name_len) != 0)
        return of_error("'%.*s': invalid name (empty, '.' or '..' component, NUL or backslash)", shown,
                        (const char *)name);
    return 0;
}

static int of_unpack_write(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int of_unpack_emit(struct of_unpack *u, struct of_sink *sink, const void *data, size_t len, size_t *done)
{
    int rc = -1;

    if (sink->fd >= 0) {
        if (of_unpack_write(sink->fd, data, len) != 0) {
            of_error_errno("cannot write %s/%s", u->rootpath, u->path);
            goto cleanup;
        }
    } else if (sink->mem != NULL) {
        memcpy(sink->mem + *done, data, len);
    } /* else discarded: a group member decoded for the members after it */
    *done += len;
    rc = 0;
cleanup:
    return rc;
}

/* Decode an entry's data into `sink`, checking that it comes to exactly e->size bytes and
 * uses exactly e->compressed_size bytes: a whole zstd frame, or for a group member the
 * blocks after those of the members before it (decoded just before, by the same `u`),
 * ending the frame exactly when it is the group's last. */
static int of_unpack_data(struct of_unpack *u, const struct of_entry *e, struct of_sink *sink)
{
    ZSTD_inBuffer in = { e->data, e->compressed_size, 0 };
    size_t done = 0, ret = 1, want, held = 0, ready, have;
    int last = e->group_count == 0 || e->group_index + 1 == e->group_count, rc = -1;
    uint8_t *out_at;

    if (e->method == OF_ZIP_METHOD_STORED) {
        rc = of_unpack_emit(u, sink, e->data, e->size, &done);
        goto cleanup;
    }
    if (u->zstd == NULL) {
        u->zstd = ZSTD_createDCtx();
        /* The builder's frames use windows of at most 8 MiB (docs/format.md); refusing
         * bigger ones caps what a hostile frame makes each worker allocate. */
        if (u->zstd == NULL ||
            ZSTD_isError(ZSTD_DCtx_setParameter(u->zstd, ZSTD_d_windowLogMax, OF_ZSTD_WINDOW_LOG_MAX))) {
            of_error("out of memory");
            goto cleanup;
        }
    }
    /* An output buffer that holds the whole file lets zstd decode the frame in one pass,
     * straight into it, instead of through its window buffer. Before it, room for what a
     * filtered chunk holds back for the next (of_filter_x86_undo). */
    want = e->size < OF_UNPACK_ONE_PASS_MAX ? e->size : OF_UNPACK_ONE_PASS_MAX;
    if (want < ZSTD_DStreamOutSize())
        want = ZSTD_DStreamOutSize();
    want += OF_FILTER_HOLD_MAX;
    if (u->buf_size < want) {
        free(u->buf);
        u->buf_size = 0;
        if ((u->buf = malloc(want)) == NULL) {
            of_error("out of memory");
            goto cleanup;
        }
        u->buf_size = want;
    }
    out_at = u->buf + OF_FILTER_HOLD_MAX;
    if (e->group_index == 0) /* a frame of its own, or a group's first member */
        ZSTD_DCtx_reset(u->zstd, ZSTD_reset_session_only);
    for (;;) {
        ZSTD_outBuffer out = { out_at, u->buf_size - OF_FILTER_HOLD_MAX, 0 };

        ret = ZSTD_decompressStream(u->zstd, &out, &in);
        if (ZSTD_isError(ret)) {
            of_error("'%s': damaged zstd data (%s)", u->path, ZSTD_getErrorName(ret));
            goto cleanup;
        }
        if (out.pos > e->size - done - held) {
            of_error("'%s': damaged zstd data (more than its size)", u->path);
            goto cleanup;
        }
        /* Filtered: the bytes held back last time, then these; what is final is written,
         * the rest (at most OF_FILTER_HOLD_MAX) goes before the next chunk. */
        have = held + out.pos;
        ready = e->filter ? of_filter_x86_undo(out_at - held, have, done, e->size) : have;
        if (of_unpack_emit(u, sink, out_at - held, ready, &done) != 0)
            goto cleanup;
        held = have - ready;
        if (held > 0)
            memmove(out_at - held, out_at + out.pos - held, held);
        /* The frame is done, or all of this entry's data is in and nothing more comes out. */
        if (ret == 0 || (in.pos == in.size && out.pos < out.size))
            break;
    }
    if (in.pos != in.size || done != e->size || held != 0) {
        of_error("'%s': damaged zstd data (sizes do not match)", u->path);
        goto cleanup;
    }
    if ((ret == 0) != last) {
        of_error("'%s': damaged zstd data (%s)", u->path, last ? "truncated frame" : "a group's frame ends early");
        goto cleanup;
    }
    rc = 0;
cleanup:
    return rc;
}

int of_unpack_read(const struct of_entry *e, char **out)
{
    struct of_unpack u = { -1, "", NULL, NULL, { NULL, NULL }, { -1, -1 }, 0, NULL, 0, NULL };
    struct of_sink sink = { -1, malloc((size_t)e->size + 1) };
    int rc = -1;

    if (e->group_count > 0) {
        of_error("'%.*s': a group member, not readable by itself", OF_UNPACK_SHOWN(e->name_len), e->name);
        goto cleanup;
    }
    u.path = malloc(e->name_len + 1);
    if (sink.mem == NULL || u.path == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    memcpy(u.path, e->name, e->name_len);
    u.path[e->name_len] = '\0';
    if (of_unpack_data(&u, e, &sink) != 0)
        goto cleanup;
    sink.mem[e->size] = '\0';
    *out = sink.mem;
    sink.mem = NULL;
    rc = 0;
cleanup:
    ZSTD_freeDCtx(u.zstd);
    free(u.buf);
    free(u.path);
    free(sink.mem);
    return rc;
}

/* Return an fd for the directory `dir` (relative to the root, "" for the root itself),
 * making missing components. The fd is cached for the next entry; don't close it. */
static int of_unpack_dir(struct of_unpack *u, const char *dir)
{
    size_t cached = 0, len;
    char *copy = NULL, *comp, *slash;
    int fd = -1, next, from = -1, slot, rc = -1;

    for (int i = 0; i < 2; i++) {
        if (u->dirfds[i] < 0)
            continue;
        if (strcmp(u->dirs[i], dir) == 0) {
            u->recent = i;
            return u->dirfds[i];
        }
        /* Entries usually come in tree order: go on from the deepest cached ancestor of
         * this directory, else from the root. */
        len = strlen(u->dirs[i]);
        if (len > cached && strncmp(u->dirs[i], dir, len) == 0 && dir[len] == '/') {
            cached = len;
            from = i;
        }
    }
    copy = strdup(dir);
    fd = fcntl(from >= 0 ? u->dirfds[from] : u->rootfd, F_DUPFD_CLOEXEC, 0);
    if (copy == NULL || fd < 0) {
        of_error_errno("cannot open %s", u->rootpath);
        goto cleanup;
    }
    comp = copy[0] != '\0' ? copy + (cached > 0 ? cached + 1 : 0) : NULL;
    while (comp != NULL) {
        slash = strchr(comp, '/');
        if (slash != NULL)
            *slash = '\0';
        if (mkdirat(fd, comp, 0755) != 0 && errno != EEXIST) {
            of_error_errno("cannot create directory %s/%s", u->rootpath, copy);
            goto cleanup;
        }
        /* O_NOFOLLOW: a link or file in the way is an error, never followed. */
        next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            of_error_errno("cannot open directory %s/%s", u->rootpath, copy);
            goto cleanup;
        }
        close(fd);
        fd = next;
        if (slash != NULL)
            *slash = '/';
        comp = slash != NULL ? slash + 1 : NULL;
    }
    slot = u->dirfds[0] < 0 ? 0 : u->dirfds[1] < 0 ? 1 : !u->recent;
    if (u->dirfds[slot] >= 0)
        close(u->dirfds[slot]);
    free(u->dirs[slot]);
    u->dirs[slot] = copy;
    u->dirfds[slot] = fd;
    u->recent = slot;
    copy = NULL;
    rc = fd;
    fd = -1;
cleanup:
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

/* Make the link `e` (main thread, after every file is written: until then the tree
 * holds no link, so the workers' paths can't go through one). */
static int of_unpack_link(struct of_unpack *u, const struct of_entry *e, int dirfd, const char *base)
{
    char target[PATH_MAX];
    struct of_sink sink = { -1, target };

    if (of_unpack_data(u, e, &sink) != 0)
        return -1;
    target[e->size] = '\0';
    if (of_unpack_link_check(e->name, e->name_len, target, e->size) != 0)
        return -1;
    if (symlinkat(target, dirfd, base) != 0)
        return of_error_errno("cannot create symbolic link %s/%s", u->rootpath, u->path);
    return 0;
}

/* Make the directory `e`, or the parent directory of a file or link, walking from the
 * root with O_NOFOLLOW; a link additionally is made now. Files are left to the workers. */
static int of_unpack_prepare(struct of_unpack *u, const struct of_entry *e, int make_link)
{
    char *slash, *base;
    int dirfd;

    memcpy(u->path, e->name, e->name_len);
    u->path[e->name_len] = '\0';
    if (e->mode == OF_MODE_DIRECTORY)
        return of_unpack_dir(u, u->path) < 0 ? -1 : 0;
    slash = strrchr(u->path, '/');
    if (slash != NULL)
        *slash = '\0';
    dirfd = of_unpack_dir(u, slash != NULL ? u->path : "");
    if (slash != NULL)
        *slash = '/';
    if (dirfd < 0)
        return -1;
    base = slash != NULL ? slash + 1 : u->path;
    return make_link ? of_unpack_link(u, e, dirfd, base) : 0;
}

/* Write the regular file `e`. Its directory exists and no link exists anywhere in the
 * tree yet (see of_unpack_layer), so the relative path walks only our directories. */
static int of_unpack_file(struct of_unpack *u, const struct of_entry *e)
{
    struct of_sink sink = { -1, NULL };
    int rc = -1;

    memcpy(u->path, e->name, e->name_len);
    u->path[e->name_len] = '\0';
    if (e->discard)
        return of_unpack_data(u, e, &sink);
    sink.fd = openat(u->rootfd, u->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, e->mode & 0777);
    if (sink.fd < 0) {
        of_error_errno("cannot create %s/%s", u->rootpath, u->path);
        goto cleanup;
    }
    if (of_unpack_data(u, e, &sink) != 0)
        goto cleanup;
    /* Before the close: the layer is renamed into place only once every file is whole. */
    for (uint32_t i = 0; i < e->site_count; i++) {
        uint64_t offset;
        uint32_t size;

        of_unpack_site(e, i, &offset, &size);
        if (u->runtime_dir == NULL) {
            of_error("'%s': a patch site where none is allowed", u->path);
            goto cleanup;
        }
        if (of_interp_patch_fd(sink.fd, u->path, offset, size, u->runtime_dir) != 0)
            goto cleanup;
    }
    rc = close(sink.fd);
    sink.fd = -1;
    if (rc != 0)
        of_error_errno("cannot write %s/%s", u->rootpath, u->path);
cleanup:
    if (sink.fd >= 0)
        close(sink.fd);
    return rc;
}

/* The files of a layer, written by up to OF_UNPACK_MAX_WORKERS threads. */
#define OF_UNPACK_MAX_WORKERS 8
#define OF_UNPACK_BYTES_PER_WORKER (4u << 20)

/* A worker's decoder and output buffer, kept for the same worker of the next layer's
 * pool: their pages (zstd's window is up to 8 MiB) are faulted in once per start, not
 * once per layer. Worker i of a pool has slot i; pools run one after another. */
struct of_unpack_slot {
    ZSTD_DCtx *zstd;
    uint8_t *buf;
    size_t buf_size;
};
static struct of_unpack_slot of_unpack_slots[OF_UNPACK_MAX_WORKERS];

void of_unpack_release(void)
{
    for (size_t i = 0; i < OF_UNPACK_MAX_WORKERS; i++) {
        ZSTD_freeDCtx(of_unpack_slots[i].zstd);
        free(of_unpack_slots[i].buf);
        of_unpack_slots[i] = (struct of_unpack_slot){ NULL, NULL, 0 };
    }
}

/* What one worker writes in one go: a file, or a group's members (decoded in order). */
struct of_unpack_unit {
    size_t first; /* index in the pool's files */
    size_t count;
    uint64_t weight; /* compressed bytes */
    size_t written; /* members not discarded: a unit with none is left out */
};

struct of_unpack_pool {
    int rootfd;
    const char *rootpath;
    struct of_entry *files; /* in the layer's order */
    size_t count;
    struct of_unpack_unit *units; /* sorted biggest first, so no worker is left with one at the end */
    size_t unit_count;
    size_t next; /* the next unit to take (atomic) */
    size_t slots; /* slots handed out to workers so far (atomic) */
    int failed; /* set once by the first worker that fails (atomic) */
    const char *runtime_dir; /* what patch sites are expanded with */
    pthread_mutex_t lock; /* guards message and errnum */
    char message[1024];
    int errnum;
};

static void *of_unpack_worker(void *arg)
{
    struct of_unpack_pool *pool = arg;
    struct of_unpack_slot *slot = &of_unpack_slots[__atomic_fetch_add(&pool->slots, 1, __ATOMIC_RELAXED)];
    struct of_unpack u = { pool->rootfd,         pool->rootpath, slot->zstd, malloc(UINT16_MAX + 1),
                           { NULL, NULL },       { -1, -1 },     0,          slot->buf,
                           slot->buf_size,       pool->runtime_dir };
    size_t i;

    if (u.path == NULL) {
        of_error("out of memory");
        goto failed;
    }
    while (!__atomic_load_n(&pool->failed, __ATOMIC_RELAXED)) {
        i = __atomic_fetch_add(&pool->next, 1, __ATOMIC_RELAXED);
        if (i >= pool->unit_count)
            goto cleanup;
        for (size_t j = 0; j < pool->units[i].count; j++) {
            if (of_unpack_file(&u, &pool->files[pool->units[i].first + j]) != 0)
                goto failed;
            OF_TEST_POINT("entry");
        }
    }
    goto cleanup;
failed:
    pthread_mutex_lock(&pool->lock);
    if (!pool->failed) {
        snprintf(pool->message, sizeof(pool->message), "%s", of_error_message());
        pool->errnum = of_error_errnum();
        __atomic_store_n(&pool->failed, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&pool->lock);
cleanup:
    *slot = (struct of_unpack_slot){ u.zstd, u.buf, u.buf_size };
    free(u.path);
    return NULL;
}

static int of_unpack_by_weight(const void *a, const void *b)
{
    const struct of_unpack_unit *x = a, *y = b;

    return x->weight < y->weight ? 1 : x->weight > y->weight ? -1 : 0;
}

/* How many threads to write `bytes` in `count` files with: one per CPU we may run on,
 * but none for less than OF_UNPACK_BYTES_PER_WORKER each. */
static size_t of_unpack_worker_count(size_t count, uint64_t bytes)
{
    cpu_set_t cpus;
    size_t n = 1;

    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
        n = (size_t)CPU_COUNT(&cpus);
    if (n > OF_UNPACK_MAX_WORKERS)
        n = OF_UNPACK_MAX_WORKERS;
    if (n > 1 + bytes / OF_UNPACK_BYTES_PER_WORKER)
        n = 1 + bytes / OF_UNPACK_BYTES_PER_WORKER;
    if (n > count)
        n = count;
    return n > 0 ? n : 1;
}

/* Write pool->files on this thread and up to `workers - 1` more; 0 or -1 (of_error set). */
static int of_unpack_files(struct of_unpack_pool *pool, size_t workers)
{
    pthread_t threads[OF_UNPACK_MAX_WORKERS];
    size_t started = 0;

    qsort(pool->units, pool->unit_count, sizeof(*pool->units), of_unpack_by_weight);
    /* A thread that can't be started (a process limit) just leaves more to the others. */
    while (started + 1 < workers && pthread_create(&threads[started], NULL, of_unpack_worker, pool) == 0)
        started++;
    of_unpack_worker(pool);
    while (started > 0)
        pthread_join(threads[--started], NULL);
    return pool->failed ? of_error_set(pool->message, pool->errnum) : 0;
}

/* `list` (`count` items of `size` bytes, room for `*room`) with room for one more: itself,
 * or a bigger copy (the old one freed); NULL with of_error set if memory runs out. */
static void *of_unpack_grow(void *list, size_t size, size_t count, size_t *room)
{
    void *grown;

    if (count < *room)
        return list;
    grown = realloc(list, (*room > 0 ? 2 * *room : 256) * size);
    if (grown == NULL) {
        of_error("out of memory");
        return NULL;
    }
    *room = *room > 0 ? 2 * *room : 256;
    return grown;
}

/* Append `e` to the array `*list` of `*count` entries with room for `*room`; 0 or -1. */
static int of_unpack_push(struct of_entry **list, size_t *count, size_t *room, const struct of_entry *e)
{
    struct of_entry *grown = of_unpack_grow(*list, sizeof(**list), *count, room);

    if (grown == NULL)
        return -1;
    *list = grown;
    (*list)[(*count)++] = *e;
    return 0;
}

/* Add the file `e`, just pushed as pool->files[pool->count - 1], to the pool's units: a
 * unit of its own, or the one of its group's members before it. 0 or -1. */
static int of_unpack_unit_add(struct of_unpack_pool *pool, size_t *room, const struct of_entry *e)
{
    struct of_unpack_unit *grown;

    if (e->group_index > 0) { /* of_unpack_group_next checked that the member before it is the last unit's */
        pool->units[pool->unit_count - 1].count++;
        pool->units[pool->unit_count - 1].weight += e->compressed_size;
        pool->units[pool->unit_count - 1].written += !e->discard;
        return 0;
    }
    grown = of_unpack_grow(pool->units, sizeof(*pool->units), pool->unit_count, room);
    if (grown == NULL)
        return -1;
    pool->units = grown;
    pool->units[pool->unit_count++] = (struct of_unpack_unit){ pool->count - 1, 1, e->compressed_size, !e->discard };
    return 0;
}

int of_unpack_in_dir(const struct of_entry *e, const char *dir)
{
    size_t n = strlen(dir);

    return e->name_len >= n && memcmp(e->name, dir, n) == 0 && (e->name_len == n || e->name[n] == '/');
}

/* Whether `part` (NULL: the whole layer) holds entry `e`. */
static int of_unpack_wanted(const struct of_entry *e, const struct of_unpack_part *part)
{
    return part == NULL || of_unpack_in_dir(e, part->dir) == (part->only != 0);
}

int of_unpack_layer(const uint8_t *file, const struct of_layer *layer, const char *prefix, const char *what,
                    int dirfd, const char *dirpath, const char *runtime_dir)
{
    return of_unpack_layer_part(file, layer, prefix, what, dirfd, dirpath, runtime_dir, NULL);
}

/* Three passes: (1) check every entry and make the directories, (2) write the files in
 * parallel, (3) make the links. Links come last so that while files are written the
 * tree holds only directories this function made, walked with O_NOFOLLOW. */
int of_unpack_layer_part(const uint8_t *file, const struct of_layer *layer, const char *prefix, const char *what,
                         int dirfd, const char *dirpath, const char *runtime_dir, const struct of_unpack_part *part)
{
    struct of_unpack u = { dirfd, dirpath, NULL, NULL, { NULL, NULL }, { -1, -1 }, 0, NULL, 0, runtime_dir };
    struct of_unpack_pool pool = {
        dirfd, dirpath, NULL, 0, NULL, 0, 0, 0, 0, runtime_dir, PTHREAD_MUTEX_INITIALIZER, "", 0
    };
    const uint8_t *data = file + layer->offset;
    struct of_entry *files = NULL, *links = NULL, e;
    size_t file_room = 0, unit_room = 0, link_count = 0, link_room = 0, kept = 0;
    uint64_t pos = 0, total = 0, n;
    uint32_t open = 0; /* members of the current group still to come */
    int rc = -1;

    u.path = malloc(UINT16_MAX + 1);
    if (u.path == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    for (n = 0; n < layer->entry_count; n++) {
        if (pos == layer->size) {
            of_error("%s is damaged: %llu entries instead of %llu", what, (unsigned long long)n,
                     (unsigned long long)layer->entry_count);
            goto cleanup;
        }
        if (of_unpack_entry(data + pos, layer->size - pos, prefix, &e) != 0) {
            of_error_prefix("%s is damaged: entry %llu at offset %llu", what, (unsigned long long)n,
                            (unsigned long long)(layer->offset + pos));
            goto cleanup;
        }
        /* Checked before writing, so a hostile layer can't fill the disk beyond what
         * its trailer announces (a zstd frame can expand a thousandfold). */
        if (e.size > layer->unpacked_size - total) {
            of_error("%s is damaged: its entries hold more than the trailer's unpacked size", what);
            goto cleanup;
        }
        if (of_unpack_group_next(&e, &open) != 0) {
            of_error_prefix("%s is damaged: entry %llu", what, (unsigned long long)n);
            goto cleanup;
        }
        pos += e.total;
        total += e.size;
        e.discard = !of_unpack_wanted(&e, part);
        if (e.discard && (e.mode == OF_MODE_DIRECTORY || e.mode == OF_MODE_SYMLINK || e.group_count == 0))
            continue; /* nothing to make, nor to decode for others */
        if (!e.discard && of_unpack_prepare(&u, &e, 0) != 0) {
            of_error_prefix("%s", what);
            goto cleanup;
        }
        if (e.mode == OF_MODE_DIRECTORY) {
            OF_TEST_POINT("entry");
        } else if (e.mode == OF_MODE_SYMLINK) {
            if (of_unpack_push(&links, &link_count, &link_room, &e) != 0)
                goto cleanup;
        } else if (of_unpack_push(&files, &pool.count, &file_room, &e) != 0 ||
                   of_unpack_unit_add(&pool, &unit_room, &e) != 0) {
            goto cleanup;
        }
    }
    if (open != 0) {
        of_error("%s is damaged: it ends inside a group of entries", what);
        goto cleanup;
    }
    if (pos != layer->size || total != layer->unpacked_size) {
        of_error("%s is damaged: its entries do not match the trailer's size or unpacked size", what);
        goto cleanup;
    }
    pool.files = files;
    /* Groups with nothing to write are not decoded at all. */
    for (size_t i = 0; i < pool.unit_count; i++)
        if (pool.units[i].written > 0)
            pool.units[kept++] = pool.units[i];
    pool.unit_count = kept;
    if (pool.unit_count > 0 && of_unpack_files(&pool, of_unpack_worker_count(pool.unit_count, total)) != 0) {
        of_error_prefix("%s", what);
        goto cleanup;
    }
    for (size_t i = 0; i < link_count; i++) {
        if (of_unpack_prepare(&u, &links[i], 1) != 0) {
            of_error_prefix("%s", what);
            goto cleanup;
        }
        OF_TEST_POINT("entry");
    }
    rc = 0;
cleanup:
    for (int i = 0; i < 2; i++) {
        if (u.dirfds[i] >= 0)
            close(u.dirfds[i]);
        free(u.dirs[i]);
    }
    ZSTD_freeDCtx(u.zstd);
    free(u.buf);
    free(u.path);
    free(files);
    free(pool.units);
    free(links);
    return rc;
}
