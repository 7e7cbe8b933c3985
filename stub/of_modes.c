#define _GNU_SOURCE
#include "of_modes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "of_cache.h"
#include "of_crc32.h"
#include "of_error.h"
#include "of_format.h"
#include "of_gc.h"
#include "of_libc.h"
#include "of_sha256.h"
#include "of_interp.h"
#include "of_unpack.h"

/* Problems printed per directory before "... and N more". */
#define OF_MODES_SHOWN_PROBLEMS 50
/* Deeper trees are reported, not walked (each level holds a file descriptor). */
#define OF_MODES_MAX_DEPTH 256
/* A larger manifest is refused (it is a few kB). */
#define OF_MODES_MAX_MANIFEST (16u << 20)


/* One entry of the layer being checked; `name` points into the file. */
struct of_modes_known {
    struct of_entry entry;
    int seen;
};

struct of_modes_check {
    struct of_modes_known *known; /* sorted by name */
    size_t count;
    const char *dir;
    const char *runtime_dir; /* app layer only */
    const char *sites_dir; /* what patch sites are expanded with (NULL: a file with sites differs) */
    int seen_cfg, seen_python; /* app layer: the two files the launcher adds */
    int twin, seen_twin_cfg, seen_twin_python; /* and the twin venv's, for a bundled glibc */
    FILE *out;
    long problems;
    char path[PATH_MAX]; /* the item being looked at, relative to dir */
    uint8_t buf[1 << 16];
};

static void of_modes_hex(const uint8_t *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* Print `len` bytes of `text`, control characters (other than newline and tab) as '?':
 * the text comes from the file, which may be hostile to the terminal too. */
static void of_modes_print_clean(FILE *out, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        fputc((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : c, out);
    }
}

static void of_modes_problem(struct of_modes_check *c, const char *what, const char *path, size_t path_len)
{
    c->problems++;
    if (c->out == NULL)
        return;
    if (c->problems <= OF_MODES_SHOWN_PROBLEMS) {
        fprintf(c->out, "  %s: ", what);
        of_modes_print_clean(c->out, path, path_len);
        fputc('\n', c->out);
    } else if (c->problems == OF_MODES_SHOWN_PROBLEMS + 1) {
        fprintf(c->out, "  ... (more problems are counted, not shown)\n");
    }
}

static int of_modes_compare_names(const char *a, size_t a_len, const char *b, size_t b_len)
{
    int r = memcmp(a, b, a_len < b_len ? a_len : b_len);

    return r != 0 ? r : (a_len > b_len) - (a_len < b_len);
}

static int of_modes_sort_known(const void *a, const void *b)
{
    const struct of_entry *x = &((const struct of_modes_known *)a)->entry;
    const struct of_entry *y = &((const struct of_modes_known *)b)->entry;

    return of_modes_compare_names(x->name, x->name_len, y->name, y->name_len);
}

/* The first known entry whose name is not below `key` (lexicographically). */
static size_t of_modes_lower_bound(const struct of_modes_check *c, const char *key, size_t key_len)
{
    size_t lo = 0, hi = c->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct of_entry *e = &c->known[mid].entry;

        if (of_modes_compare_names(e->name, e->name_len, key, key_len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct of_modes_known *of_modes_find(struct of_modes_check *c, const char *path, size_t len)
{
    size_t i = of_modes_lower_bound(c, path, len);

    if (i < c->count && c->known[i].entry.name_len == len && memcmp(c->known[i].entry.name, path, len) == 0)
        return &c->known[i];
    return NULL;
}

/* Nonzero if some entry lies below the directory `path` (c->path, with room after it). */
static int of_modes_implied(struct of_modes_check *c, size_t len)
{
    size_t i;
    int found;

    c->path[len] = '/';
    i = of_modes_lower_bound(c, c->path, len + 1);
    found = i < c->count && c->known[i].entry.name_len > len + 1 &&
            memcmp(c->known[i].entry.name, c->path, len + 1) == 0;
    c->path[len] = '\0';
    return found;
}

static int of_modes_in_pycache(const char *path)
{
    const char *p = strstr(path, "__pycache__");

    for (; p != NULL; p = strstr(p + 1, "__pycache__"))
        if ((p == path || p[-1] == '/') && (p[11] == '\0' || p[11] == '/'))
            return 1;
    return 0;
}

/* Nonzero if the link `name` in `parent` points at exactly `target`. */
static int of_modes_link_is(int parent, const char *name, const char *target)
{
    char got[PATH_MAX];
    ssize_t n = readlinkat(parent, name, got, sizeof(got));

    return n >= 0 && (size_t)n == strlen(target) && memcmp(got, target, (size_t)n) == 0;
}

/* Nonzero if the regular file `name` in `parent` holds exactly `size` bytes with CRC `crc`. */
static int of_modes_content_is(struct of_modes_check *c, int parent, const char *name, uint64_t size,
                               uint32_t crc)
{
    int fd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    uint64_t total = 0;
    uint32_t got = 0;
    ssize_t n = -1;

    while (fd >= 0 && (n = read(fd, c->buf, sizeof(c->buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        got = of_crc32(got, c->buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (fd >= 0)
        close(fd);
    return n == 0 && total == size && got == crc;
}

/* Nonzero if the regular file `name` in `parent` holds exactly the entry's data with its
 * patch sites expanded for c->sites_dir, as the unpacker wrote it. */
static int of_modes_patched_is(struct of_modes_check *c, int parent, const char *name, const struct of_entry *e)
{
    char *want = NULL, *site = NULL;
    int fd = -1, same = 0;
    uint64_t pos = 0;

    if (c->sites_dir == NULL || of_unpack_read(e, &want) != 0 || (site = malloc(OF_SITE_MAX_SIZE)) == NULL)
        goto cleanup;
    for (uint32_t i = 0; i < e->site_count; i++) {
        uint64_t offset;
        uint32_t size;

        of_unpack_site(e, i, &offset, &size); /* checked: inside the data, at most OF_SITE_MAX_SIZE */
        if (of_interp_expand(want + offset, size, c->sites_dir, site) != 0)
            goto cleanup;
        memcpy(want + offset, site, size);
    }
    fd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    while (fd >= 0) {
        ssize_t n = read(fd, c->buf, sizeof(c->buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (uint64_t)n > e->size - pos || memcmp(c->buf, want + pos, (size_t)n) != 0)
            goto cleanup;
        if (n == 0)
            break;
        pos += (uint64_t)n;
    }
    same = fd >= 0 && pos == e->size;
cleanup:
    if (fd >= 0)
        close(fd);
    free(want);
    free(site);
    return same;
}

/* Compare what is at c->path (`name` in `parent`, `st`) with its entry. */
static void of_modes_compare(struct of_modes_check *c, int parent, const char *name, const struct stat *st,
                             const struct of_entry *e)
{
    size_t len = strlen(c->path);
    char *target = NULL;

    switch (e->mode) {
    case OF_MODE_DIRECTORY:
        if (!S_ISDIR(st->st_mode))
            of_modes_problem(c, "changed (not a directory)", c->path, len);
        break;
    case OF_MODE_SYMLINK:
        if (!S_ISLNK(st->st_mode))
            of_modes_problem(c, "changed (not a symbolic link)", c->path, len);
        else if (of_unpack_read(e, &target) != 0 || !of_modes_link_is(parent, name, target))
            of_modes_problem(c, "changed (link target)", c->path, len);
        break;
    default:
        if (!S_ISREG(st->st_mode))
            of_modes_problem(c, "changed (not a regular file)", c->path, len);
        else if ((st->st_mode & 07777) != (e->mode & 0777))
            of_modes_problem(c, "changed (mode)", c->path, len);
        else if ((uint64_t)st->st_size != e->size)
            of_modes_problem(c, "changed (size)", c->path, len);
        else if (e->site_count > 0 ? !of_modes_patched_is(c, parent, name, e)
                                   : !of_modes_content_is(c, parent, name, e->size, e->crc32))
            of_modes_problem(c, "changed (content)", c->path, len);
        break;
    }
    free(target);
}

/* The two files the launcher adds to an app directory. Returns 1 if `c->path` is one. */
static int of_modes_venv_file(struct of_modes_check *c, int parent, const char *name, const struct stat *st)
{
    char expected[PATH_MAX + 64], home[PATH_MAX];
    size_t len = strlen(c->path);
    int fd, twin;
    ssize_t n;

    if (c->runtime_dir == NULL)
        return 0;
    if (strcmp(c->path, OF_APP_PYVENV_CFG) == 0 || (c->twin && strcmp(c->path, OF_APP_LIBC_DIR "/" OF_APP_PYVENV_CFG) == 0)) {
        twin = c->path[0] == OF_APP_LIBC_DIR[0];
        *(twin ? &c->seen_twin_cfg : &c->seen_cfg) = 1;
        snprintf(home, sizeof(home), "%s%s", c->runtime_dir, twin ? "/" OF_APP_LIBC_DIR : "");
        snprintf(expected, sizeof(expected), OF_APP_PYVENV_CFG_FORMAT, home);
        fd = S_ISREG(st->st_mode) ? openat(parent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
        n = fd >= 0 ? read(fd, c->buf, sizeof(c->buf)) : -1;
        if (fd >= 0)
            close(fd);
        if (n < 0 || (size_t)n != strlen(expected) || memcmp(c->buf, expected, (size_t)n) != 0)
            of_modes_problem(c, "changed (content)", c->path, len);
        return 1;
    }
    if (strcmp(c->path, OF_GC_APP_ID_FILE) == 0) { /* which app it is, for the clean-up (since format 2) */
        if (!S_ISREG(st->st_mode) || st->st_size != 2 * OF_SHA256_DIGEST_SIZE + 1)
            of_modes_problem(c, "changed (content)", c->path, len);
        return 1;
    }
    if (strcmp(c->path, OF_APP_PYTHON) == 0 || (c->twin && strcmp(c->path, OF_APP_LIBC_PYTHON) == 0)) {
        twin = c->path[0] == OF_APP_LIBC_DIR[0];
        *(twin ? &c->seen_twin_python : &c->seen_python) = 1;
        snprintf(expected, sizeof(expected), "%s/%s", c->runtime_dir, twin ? OF_RUNTIME_LIBC_PYTHON : OF_RUNTIME_PYTHON);
        if (!S_ISLNK(st->st_mode) || !of_modes_link_is(parent, name, expected))
            of_modes_problem(c, "changed (link target)", c->path, len);
        return 1;
    }
    return 0;
}

/* Look at c->path (`len` bytes, `name` in `parent`); returns nonzero to descend into it. */
static int of_modes_look(struct of_modes_check *c, int parent, const char *name, size_t len)
{
    struct of_modes_known *k;
    struct stat st;

    /* Published before it was flushed (of_cache_install), in any layer; a clean-up may
     * remove it any time, so it is not even looked at. */
    if (strcmp(c->path, OF_CACHE_PENDING_FILE) == 0)
        return 0;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        of_modes_problem(c, "unreadable", c->path, len);
        return 0;
    }
    k = of_modes_find(c, c->path, len);
    if (k != NULL) {
        k->seen = 1;
        of_modes_compare(c, parent, name, &st, &k->entry);
        return k->entry.mode == OF_MODE_DIRECTORY && S_ISDIR(st.st_mode);
    }
    if (of_modes_venv_file(c, parent, name, &st))
        return 0;
    if (S_ISDIR(st.st_mode) && of_modes_implied(c, len))
        return 1;
    if (!of_modes_in_pycache(c->path))
        of_modes_problem(c, "extra", c->path, len);
    return 0;
}

/* Walk the directory `fd` (c->path, `len` bytes; closed here) without following links. */
static void of_modes_walk(struct of_modes_check *c, int fd, size_t len, int depth)
{
    DIR *dir = fdopendir(fd);
    struct dirent *de;
    size_t name_len, sub;
    int child;

    if (dir == NULL) {
        close(fd);
        of_modes_problem(c, "unreadable directory", c->path, len);
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        name_len = strlen(de->d_name);
        sub = len > 0 ? len + 1 + name_len : name_len;
        if (sub + 2 > sizeof(c->path)) { /* +2: of_modes_implied appends a '/' */
            of_modes_problem(c, "path too long to check", c->path, len);
            continue;
        }
        if (len > 0)
            c->path[len] = '/';
        memcpy(c->path + (len > 0 ? len + 1 : 0), de->d_name, name_len + 1);
        if (of_modes_look(c, dirfd(dir), de->d_name, sub)) {
            child = depth < OF_MODES_MAX_DEPTH
                        ? openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                        : -1;
            if (child < 0)
                of_modes_problem(c, depth < OF_MODES_MAX_DEPTH ? "unreadable directory" : "too deep to check",
                                 c->path, sub);
            else
                of_modes_walk(c, child, sub, depth + 1);
        }
        c->path[len] = '\0';
    }
    closedir(dir);
}

/* Whether a runtime directory `dir` has no libc/: a start on the system's glibc left it
 * out, for the first start that needs the bundled one to add (of_install_libc). */
static int of_modes_libc_later(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;

    return of_cache_path_into(path, sizeof(path), dir, OF_RUNTIME_LIBC_DIR) == 0 && lstat(path, &st) != 0 &&
           errno == ENOENT;
}

long of_modes_check_dir(const uint8_t *file, const struct of_layer *layer, const char *prefix, const char *dir,
                        const char *runtime_dir, const char *sites_dir, int twin, FILE *out)
{
    struct of_modes_check *c = calloc(1, sizeof(*c));
    const uint8_t *data = file + layer->offset;
    uint64_t pos = 0;
    long rc = -1;
    int fd, later;

    /* Each entry takes at least a header, so a count above this is a lie (and would
     * make us allocate whatever the file says). */
    if (layer->entry_count > layer->size / OF_ZIP_LOCAL_HEADER_SIZE) {
        of_error("%s layer: %llu entries cannot fit in %llu bytes", prefix, (unsigned long long)layer->entry_count,
                 (unsigned long long)layer->size);
        goto cleanup;
    }
    if (c == NULL || (c->known = calloc((size_t)layer->entry_count + 1, sizeof(*c->known))) == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    for (c->count = 0; c->count < layer->entry_count; c->count++) {
        if (of_unpack_entry(data + pos, layer->size - pos, prefix, &c->known[c->count].entry) != 0) {
            of_error_prefix("%s layer entry %llu", prefix, (unsigned long long)c->count);
            goto cleanup;
        }
        pos += c->known[c->count].entry.total;
    }
    qsort(c->known, c->count, sizeof(*c->known), of_modes_sort_known);
    c->dir = dir;
    c->runtime_dir = runtime_dir;
    c->sites_dir = sites_dir;
    c->twin = runtime_dir != NULL && twin;
    c->out = out;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        of_error_errno("cannot open %s", dir);
        goto cleanup;
    }
    later = runtime_dir == NULL && twin && of_modes_libc_later(dir);
    of_modes_walk(c, fd, 0, 0);
    for (size_t i = 0; i < c->count; i++)
        if (!c->known[i].seen && !(later && of_unpack_in_dir(&c->known[i].entry, OF_RUNTIME_LIBC_DIR)))
            of_modes_problem(c, "missing", c->known[i].entry.name, c->known[i].entry.name_len);
    if (runtime_dir != NULL && !c->seen_cfg)
        of_modes_problem(c, "missing", OF_APP_PYVENV_CFG, strlen(OF_APP_PYVENV_CFG));
    if (runtime_dir != NULL && !c->seen_python)
        of_modes_problem(c, "missing", OF_APP_PYTHON, strlen(OF_APP_PYTHON));
    if (c->twin && !c->seen_twin_cfg)
        of_modes_problem(c, "missing", OF_APP_LIBC_DIR "/" OF_APP_PYVENV_CFG, strlen(OF_APP_LIBC_DIR "/" OF_APP_PYVENV_CFG));
    if (c->twin && !c->seen_twin_python)
        of_modes_problem(c, "missing", OF_APP_LIBC_PYTHON, strlen(OF_APP_LIBC_PYTHON));
    rc = c->problems;
cleanup:
    if (c != NULL)
        free(c->known);
    free(c);
    return rc;
}

char *of_modes_manifest(const uint8_t *file, const struct of_layer *app)
{
    static const char wanted[] = OF_PREFIX_APP OF_APP_MANIFEST;
    const size_t skip = strlen(OF_PREFIX_APP);
    const uint8_t *data = file + app->offset;
    struct of_entry e;
    char *out = NULL;

    for (uint64_t n = 0, pos = 0; n < app->entry_count && pos < app->size; n++, pos += e.total) {
        if (of_unpack_entry(data + pos, app->size - pos, OF_PREFIX_APP, &e) != 0) {
            of_error_prefix("app layer entry %llu", (unsigned long long)n);
            return NULL;
        }
        if (e.mode == OF_MODE_FILE && e.name_len == strlen(wanted) - skip &&
            memcmp(e.name, wanted + skip, e.name_len) == 0) {
            if (e.size > OF_MODES_MAX_MANIFEST) {
                of_error("%s is too large (%u bytes)", wanted, (unsigned)e.size);
                return NULL;
            }
            return of_unpack_read(&e, &out) == 0 ? out : NULL;
        }
    }
    of_error("the app layer has no %s", wanted);
    return NULL;
}

/* A layer directory's state, for ONEFILE=info (docs/reliability.md "Power cuts"). */
static const char *of_modes_state(const char *dir)
{
    static const char *const states[] = {
        "unpacked, never flushed to disk in an earlier boot: the next start unpacks it again",
        "unpacked, being flushed to disk",
        "unpacked",
    };
    struct stat st;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), durable;

    if (fd < 0)
        return "not unpacked yet";
    durable = fstat(fd, &st) == 0 ? of_cache_durable(fd, &st) : 1;
    close(fd);
    return states[durable + 1];
}

int of_modes_info(const struct of_binary *b, FILE *out)
{
    char hex[2 * OF_SHA256_DIGEST_SIZE + 1];
    char *manifest;
    long keep_days;

    if (of_gc_keep_days(&keep_days) != 0)
        return -1;

    fprintf(out, "binary: %s\n", b->self);
    fprintf(out, "format: version %u, %llu bytes\n", (unsigned)b->trailer->version, (unsigned long long)b->size);
    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        const struct of_layer *layer = &b->trailer->layers[i];

        of_modes_hex(layer->sha256, sizeof(layer->sha256), hex);
        fprintf(out, "%s layer: %llu bytes at offset %llu, %llu entries, %llu bytes unpacked, sha256 %s\n",
                of_binary_layer_names[i], (unsigned long long)layer->size, (unsigned long long)layer->offset,
                (unsigned long long)layer->entry_count, (unsigned long long)layer->unpacked_size, hex);
    }
    if (b->trailer->libc != OF_LIBC_GLIBC_BUNDLED) {
        fprintf(out, "C library: the system's glibc (the binary carries none)\n");
    } else if (of_binary_bundled(b) && b->libc.system_minor >= 0) {
        fprintf(out, "C library: the bundled glibc (the system's glibc 2.%d is older than the 2.%d the binary needs)\n",
                b->libc.system_minor, of_libc_needed_minor(b->trailer->glibc));
    } else if (of_binary_bundled(b)) {
        fprintf(out, "C library: the bundled glibc (%s)%s\n", b->libc.why,
                !b->libc.loader_found && getenv("LOCALE_ARCHIVE") == NULL ? "; LOCPATH set to its locales" : "");
    } else {
        fprintf(out, "C library: the system's glibc 2.%d (%s; the binary needs 2.%d)\n", b->libc.system_minor,
                b->libc.why, of_libc_needed_minor(b->trailer->glibc));
    }
    fprintf(out, "cache: %s (from %s)\n", b->root->path, b->root->why);
    for (int i = 0; i < OF_LAYER_COUNT; i++)
        fprintf(out, "%s directory: %s (%s)\n", of_binary_layer_names[i], b->dirs[i], of_modes_state(b->dirs[i]));
    if (b->trailer->libc == OF_LIBC_GLIBC_BUNDLED && of_cache_exists(b->dirs[OF_LAYER_RUNTIME]) &&
        of_modes_libc_later(b->dirs[OF_LAYER_RUNTIME]))
        fprintf(out, "bundled glibc: not unpacked (starts here use the system's; the first start that needs it "
                     "adds it)\n");
    manifest = of_modes_manifest(b->file, &b->trailer->layers[OF_LAYER_APP]);
    if (manifest == NULL) {
        fprintf(out, "manifest: unreadable: %s\n", of_error_message());
    } else {
        fprintf(out, "manifest (" OF_PREFIX_APP OF_APP_MANIFEST "):\n");
        of_modes_print_clean(out, manifest, strlen(manifest));
        if (manifest[0] != '\0' && manifest[strlen(manifest) - 1] != '\n')
            fputc('\n', out);
    }
    free(manifest);
    return of_gc_report(b->root->path, keep_days, time(NULL), out);
}

int of_modes_verify(const struct of_binary *b, FILE *out)
{
    uint8_t digest[OF_SHA256_DIGEST_SIZE];
    long problems = 0, found;

    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        const struct of_layer *layer = &b->trailer->layers[i];
        const char *name = of_binary_layer_names[i];
        int intact;

        of_sha256(b->file + layer->offset, layer->size, digest);
        intact = memcmp(digest, layer->sha256, sizeof(digest)) == 0;
        fprintf(out, "%s layer in %s: %s\n", name, b->self,
                intact ? "sha256 matches the trailer" : "DAMAGED (sha256 does not match the trailer)");
        problems += !intact;
        if (!of_cache_exists(b->dirs[i])) {
            fprintf(out, "%s directory %s: not unpacked (nothing to check)\n", name, b->dirs[i]);
            continue;
        }
        if (!intact) {
            fprintf(out, "%s directory %s: not checked against a damaged layer\n", name, b->dirs[i]);
            continue;
        }
        fprintf(out, "%s directory %s:\n", name, b->dirs[i]);
        found = of_modes_check_dir(b->file, layer, of_binary_layer_prefixes[i], b->dirs[i],
                                   i == OF_LAYER_APP ? b->dirs[OF_LAYER_RUNTIME] : NULL, b->dirs[OF_LAYER_RUNTIME],
                                   b->trailer->libc == OF_LIBC_GLIBC_BUNDLED, out);
        if (found < 0) {
            fprintf(out, "  cannot check: %s\n", of_error_message());
            problems++;
        } else if (found == 0 && i == OF_LAYER_RUNTIME && b->trailer->libc == OF_LIBC_GLIBC_BUNDLED &&
                   of_modes_libc_later(b->dirs[i])) {
            fprintf(out, "  all entries match; " OF_RUNTIME_LIBC_DIR "/ (the bundled glibc) is not unpacked: the first "
                         "start that needs it adds it\n");
        } else if (found == 0) {
            fprintf(out, "  all %llu entries match\n", (unsigned long long)layer->entry_count);
        } else {
            fprintf(out, "  %ld problem%s\n", found, found == 1 ? "" : "s");
            problems += found;
        }
    }
    if (problems > 0)
        fprintf(out, "to repair: ONEFILE=clean %s, then run it again (it unpacks afresh)\n", b->self);
    return problems > 0 ? 1 : 0;
}

/* How many app directories (or app layers being unpacked) other than ours run on our
 * runtime, by their pyvenv.cfg. */
static int of_modes_runtime_users(const struct of_binary *b)
{
    char expected[PATH_MAX + 64], got[PATH_MAX + 64];
    DIR *dir = opendir(b->kind_dirs[OF_LAYER_APP]);
    struct dirent *de;
    int users = 0, fd;
    ssize_t n;

    snprintf(expected, sizeof(expected), OF_APP_PYVENV_CFG_FORMAT, b->dirs[OF_LAYER_RUNTIME]);
    while (dir != NULL && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strncmp(de->d_name, OF_CACHE_LOCK_PREFIX, strlen(OF_CACHE_LOCK_PREFIX)) == 0 ||
            strcmp(de->d_name, b->keys[OF_LAYER_APP]) == 0)
            continue;
        if (strncmp(de->d_name, OF_CACHE_TMP_PREFIX, strlen(OF_CACHE_TMP_PREFIX)) == 0) {
            users++; /* still there after the sweep: being unpacked, maybe on our runtime */
            continue;
        }
        snprintf(got, sizeof(got), "%s/" OF_APP_PYVENV_CFG, de->d_name);
        fd = openat(dirfd(dir), got, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        n = fd >= 0 ? read(fd, got, sizeof(got) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n >= 0 && (size_t)n == strlen(expected) && memcmp(got, expected, (size_t)n) == 0)
            users++;
    }
    if (dir != NULL)
        closedir(dir);
    return users;
}

/* Remove `layer`'s directory if it is there, saying so on `out`: 1, 0 (not there) or -1. */
static int of_modes_uninstall(const struct of_binary *b, int layer, FILE *out)
{
    int r = of_cache_uninstall(b->kind_dirs[layer], b->keys[layer], b->dirs[layer], 0, NULL, NULL);

    if (r > 0)
        fprintf(out, "removed %s\n", b->dirs[layer]);
    return r;
}

int of_modes_clean(const struct of_binary *b, FILE *out)
{
    int removed = 0, swept = 0, users, r, rc = -1;

    for (int i = 0; i < OF_LAYER_COUNT; i++)
        swept += of_cache_sweep(b->kind_dirs[i]);
    r = of_modes_uninstall(b, OF_LAYER_APP, out);
    if (r < 0)
        goto cleanup;
    removed += r;
    users = of_modes_runtime_users(b);
    if (users > 0 && of_cache_exists(b->dirs[OF_LAYER_RUNTIME])) {
        fprintf(out, "kept %s: %d other app%s in this cache use%s it\n", b->dirs[OF_LAYER_RUNTIME], users,
                users == 1 ? "" : "s", users == 1 ? "s" : "");
    } else if (users == 0) {
        r = of_modes_uninstall(b, OF_LAYER_RUNTIME, out);
        if (r < 0)
            goto cleanup;
        removed += r;
    }
    if (swept > 0)
        fprintf(out, "removed %d leftover%s of interrupted unpacking\n", swept, swept == 1 ? "" : "s");
    if (removed == 0 && swept == 0)
        fprintf(out, "nothing to remove: %s has nothing unpacked in %s\n", b->self, b->root->path);
    rc = 0;
cleanup:
    return rc;
}
