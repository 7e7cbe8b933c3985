/* Unpacking a binary's missing layers into the cache (once, checked against their
 * SHA-256s before they are published), and repairing layers found damaged. */
#define _GNU_SOURCE
#include "of_install.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "of_cache.h"
#include "of_error.h"
#include "of_format.h"
#include "of_gc.h"
#include "of_libc.h"
#include "of_modes.h"
#include "of_sha256.h"
#include "of_unpack.h"

/* The SHA-256 of one layer, computed on its own thread while the layers are unpacked. */
struct of_install_hash {
    const uint8_t *data;
    size_t size;
    uint8_t digest[OF_SHA256_DIGEST_SIZE];
    pthread_t thread;
    int state; /* OF_INSTALL_HASH_* */
};
enum { OF_INSTALL_HASH_NONE, OF_INSTALL_HASH_RUNNING, OF_INSTALL_HASH_DONE };

/* What of_install_fill_layer needs to fill one layer's directory. */
struct of_install_fill {
    const struct of_binary *b;
    int layer; /* OF_LAYER_RUNTIME or OF_LAYER_APP */
    const struct of_unpack_part *part; /* what of it to write (NULL: all) */
    char what[PATH_MAX + 32]; /* "<binary>: app layer", for messages */
    struct of_install_hash hashes[OF_LAYER_COUNT]; /* of the layers being unpacked */
};

/* Make the directory `dirfd` (`dirpath`) a virtual environment of the interpreter
 * `<home>/bin/python3`. */
static int of_install_venv(int dirfd, const char *dirpath, const char *home)
{
    char *python = of_cache_path(home, OF_RUNTIME_PYTHON);
    int fd = -1, bin = -1, closed, rc = -1;

    if (python == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    fd = openat(dirfd, OF_APP_PYVENV_CFG, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || dprintf(fd, OF_APP_PYVENV_CFG_FORMAT, home) < 0) {
        of_error_errno("cannot write %s/" OF_APP_PYVENV_CFG, dirpath);
        goto cleanup;
    }
    closed = close(fd);
    fd = -1;
    if (closed != 0) {
        of_error_errno("cannot write %s/" OF_APP_PYVENV_CFG, dirpath);
        goto cleanup;
    }
    if (mkdirat(dirfd, "bin", 0755) != 0 && errno != EEXIST) {
        of_error_errno("cannot create %s/bin", dirpath);
        goto cleanup;
    }
    bin = openat(dirfd, "bin", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bin < 0 || symlinkat(python, bin, "python") != 0) {
        of_error_errno("cannot create %s/" OF_APP_PYTHON, dirpath);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (bin >= 0)
        close(bin);
    free(python);
    return rc;
}

static void *of_install_hash_run(void *arg)
{
    struct of_install_hash *h = arg;

    of_sha256(h->data, h->size, h->digest);
    return NULL;
}

/* Start hashing a layer; on this thread when no other can be started. */
static void of_install_hash_start(struct of_install_hash *h, const uint8_t *data, size_t size)
{
    h->data = data;
    h->size = size;
    if (pthread_create(&h->thread, NULL, of_install_hash_run, h) == 0) {
        h->state = OF_INSTALL_HASH_RUNNING;
    } else {
        of_install_hash_run(h);
        h->state = OF_INSTALL_HASH_DONE;
    }
}

static void of_install_hash_wait(struct of_install_hash *h)
{
    if (h->state == OF_INSTALL_HASH_RUNNING) {
        pthread_join(h->thread, NULL);
        h->state = OF_INSTALL_HASH_DONE;
    }
}

/* Wait for the hash of every layer being unpacked; -1 (of_error set) when one does not
 * match the trailer. Called before a layer is published, so that no layer of a damaged
 * binary is, not even an intact one. */
static int of_install_hashes_match(struct of_install_fill *f)
{
    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        of_install_hash_wait(&f->hashes[i]);
        if (f->hashes[i].state == OF_INSTALL_HASH_DONE &&
            memcmp(f->hashes[i].digest, f->b->trailer->layers[i].sha256, OF_SHA256_DIGEST_SIZE) != 0)
            return of_error("%s: the %s layer is damaged (its SHA-256 does not match the trailer); "
                            "download or build the file again", f->b->self, of_binary_layer_names[i]);
    }
    return 0;
}

/* The app directory's virtual environments: of the runtime's interpreter, and for a
 * bundled glibc the twin libc/ of the runtime's libc/bin/python3 (docs/libc-design.md). */
static int of_install_venvs(const struct of_binary *b, int dirfd, const char *dirpath)
{
    char home[PATH_MAX], twin[PATH_MAX];
    int twinfd = -1, rc = -1;

    if (of_install_venv(dirfd, dirpath, b->dirs[OF_LAYER_RUNTIME]) != 0)
        goto cleanup;
    if (b->trailer->libc != OF_LIBC_GLIBC_BUNDLED) {
        rc = 0;
        goto cleanup;
    }
    if (of_cache_path_into(home, sizeof(home), b->dirs[OF_LAYER_RUNTIME], OF_APP_LIBC_DIR) != 0 ||
        of_cache_path_into(twin, sizeof(twin), dirpath, OF_APP_LIBC_DIR) != 0) {
        of_error("%s: path too long", dirpath);
        goto cleanup;
    }
    if (mkdirat(dirfd, OF_APP_LIBC_DIR, 0755) != 0 && errno != EEXIST) {
        of_error_errno("cannot create %s", twin);
        goto cleanup;
    }
    twinfd = openat(dirfd, OF_APP_LIBC_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (twinfd < 0) {
        of_error_errno("cannot open %s", twin);
        goto cleanup;
    }
    rc = of_install_venv(twinfd, twin, home);
cleanup:
    if (twinfd >= 0)
        close(twinfd);
    return rc;
}

/* Unpack a layer into dirpath; also fails when a layer's hash does not match, which then
 * is the error shown, as the cause of any damage the unpacking ran into. */
static int of_install_fill_layer(int dirfd, const char *dirpath, void *arg)
{
    struct of_install_fill *f = arg;
    const struct of_binary *b = f->b;
    int unpacked;

    unpacked = of_unpack_layer_part(b->file, &b->trailer->layers[f->layer], of_binary_layer_prefixes[f->layer],
                                    f->what, dirfd, dirpath, b->dirs[OF_LAYER_RUNTIME], f->part) == 0 &&
               (f->layer != OF_LAYER_APP || (of_install_venvs(b, dirfd, dirpath) == 0 &&
                                             of_gc_mark(dirfd, dirpath, b->trailer->app_id) == 0));
    if (of_install_hashes_match(f) != 0)
        return -1;
    /* This version becomes its app's newest before its app layer appears, so no clean-up
     * takes the layer for an old version meanwhile. */
    if (unpacked && f->layer == OF_LAYER_APP &&
        of_gc_record(b->root->path, b->trailer->app_id, b->keys[OF_LAYER_APP], b->keys[OF_LAYER_RUNTIME]) != 0)
        return -1;
    return unpacked ? 0 : -1;
}

static const struct of_unpack_part of_install_without_libc = { OF_RUNTIME_LIBC_DIR, 0 };
static const struct of_unpack_part of_install_only_libc = { OF_RUNTIME_LIBC_DIR, 1 };

/* Say how much room unpacking needs when the disk is full. */
static void of_install_hint_space(const struct of_binary *b, int layer)
{
    int err = of_error_errnum();

    if (err == ENOSPC || err == EDQUOT)
        of_error_hint("unpacking the %s layer needs %.1f MB in %s; free some space there or set " OF_ENV_CACHE_DIR
                      " to a directory with room",
                      of_binary_layer_names[layer], (double)b->trailer->layers[layer].unpacked_size / 1e6,
                      b->root->path);
}

/* Unpack the layers that are not in the cache yet. Their SHA-256s are computed while
 * they are unpacked (the unpacker takes the file as hostile input anyway) and checked
 * before each rename: a damaged binary leaves no layer behind. */
int of_install_layers(const struct of_binary *b)
{
    struct of_install_fill *fill = calloc(1, sizeof(*fill));
    struct of_libc_system system;
    struct utsname kernel;
    int missing[OF_LAYER_COUNT], rc = -1;

    /* Before anything is written: can this system run what the layers hold? (With a
     * bundled glibc, any Linux of this CPU can.) */
    if (b->trailer->libc != OF_LIBC_GLIBC_BUNDLED) {
        of_libc_probe("", &system);
        if (of_libc_check(b->trailer->libc, b->trailer->glibc, &system) != 0)
            goto cleanup;
    } else if (of_binary_bundled(b) && uname(&kernel) == 0 &&
               of_libc_check_kernel(b->trailer->kernel, kernel.release) != 0) {
        goto cleanup; /* the bundled glibc would stop with "FATAL: kernel too old" */
    }
    if (fill == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    fill->b = b;
    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        const struct of_layer *layer = &b->trailer->layers[i];

        missing[i] = !of_cache_exists(b->dirs[i]);
        if (missing[i])
            of_install_hash_start(&fill->hashes[i], b->file + layer->offset, layer->size);
    }
    if (of_cache_prepare(b->root->path) != 0)
        goto cleanup;
    /* Cold start: the time to remove what killed unpackers left behind. */
    for (int i = 0; i < OF_LAYER_COUNT; i++)
        of_cache_sweep(b->kind_dirs[i]);
    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        if (!missing[i])
            continue;
        fill->layer = i;
        /* A start on the system's glibc leaves the bundled one out (10 % of hello's
         * runtime layer); the first start that needs it adds it (of_install_libc). */
        fill->part = i == OF_LAYER_RUNTIME && b->trailer->libc == OF_LIBC_GLIBC_BUNDLED && !of_binary_bundled(b)
                         ? &of_install_without_libc
                         : NULL;
        snprintf(fill->what, sizeof(fill->what), "%s: %s layer", b->self, of_binary_layer_names[i]);
        if (of_cache_install(b->kind_dirs[i], b->keys[i], b->dirs[i], of_install_fill_layer, fill) != 0) {
            of_install_hint_space(b, i);
            goto cleanup;
        }
    }
    /* Another process may have unpacked them meanwhile (of_cache_install then fills
     * nothing): a damaged binary still fails, as it does when it unpacks. */
    rc = of_install_hashes_match(fill);
cleanup:
    if (fill != NULL) {
        for (int i = 0; i < OF_LAYER_COUNT; i++)
            of_install_hash_wait(&fill->hashes[i]);
    }
    of_unpack_release();
    free(fill);
    return rc;
}

int of_install_libc(const struct of_binary *b)
{
    struct of_install_fill *fill = calloc(1, sizeof(*fill));
    const struct of_layer *layer = &b->trailer->layers[OF_LAYER_RUNTIME];
    int rc = -1;

    if (fill == NULL) {
        of_error("out of memory");
        return -1;
    }
    fill->b = b;
    fill->layer = OF_LAYER_RUNTIME;
    fill->part = &of_install_only_libc;
    snprintf(fill->what, sizeof(fill->what), "%s: runtime layer", b->self);
    of_install_hash_start(&fill->hashes[OF_LAYER_RUNTIME], b->file + layer->offset, layer->size);
    of_cache_sweep(b->kind_dirs[OF_LAYER_RUNTIME]); /* what an add killed before left behind */
    rc = of_cache_add(b->kind_dirs[OF_LAYER_RUNTIME], b->keys[OF_LAYER_RUNTIME], b->dirs[OF_LAYER_RUNTIME],
                      OF_RUNTIME_LIBC_DIR, of_install_fill_layer, fill);
    if (rc < 0)
        of_install_hint_space(b, OF_LAYER_RUNTIME);
    of_install_hash_wait(&fill->hashes[OF_LAYER_RUNTIME]);
    of_unpack_release();
    free(fill);
    return rc;
}

/* of_cache_uninstall's test for one of the binary's layers: 1 if its directory differs
 * from the layer in the file (or can't be read). */
struct of_install_check {
    const struct of_binary *b;
    int layer;
};

static int of_install_damaged(const char *dir, void *arg)
{
    const struct of_install_check *c = arg;
    const struct of_binary *b = c->b;
    long problems = of_modes_check_dir(b->file, &b->trailer->layers[c->layer], of_binary_layer_prefixes[c->layer],
                                       dir, c->layer == OF_LAYER_APP ? b->dirs[OF_LAYER_RUNTIME] : NULL,
                                       b->dirs[OF_LAYER_RUNTIME], b->trailer->libc == OF_LIBC_GLIBC_BUNDLED, NULL);

    OF_DEBUG_LOG("%s: %ld problems", dir, problems);
    return problems != 0;
}

/* After an exec that failed as a damaged layer would make it fail: move every layer
 * directory that differs from its layer out of place (each checked under its key's
 * lock, so two processes repairing at once don't remove each other's fresh copy) and
 * unpack what is then missing. Returns 1 if something was unpacked again, 0 if nothing
 * was wrong, -1 with of_error set. */
int of_install_repair(const struct of_binary *b)
{
    struct of_install_check check = { b, 0 };
    int removed = 0, r;

    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        check.layer = i;
        r = of_cache_uninstall(b->kind_dirs[i], b->keys[i], b->dirs[i], 0, of_install_damaged, &check);
        if (r < 0)
            return -1;
        if (r > 0 || !of_cache_exists(b->dirs[i]))
            removed++;
    }
    if (removed == 0)
        return 0;
    of_error_note("%s: the cache entry was damaged; unpacking it again", b->self);
    return of_install_layers(b) == 0 ? 1 : -1;
}

int of_install_forget(const struct of_binary *b, int i)
{
    return of_cache_uninstall(b->kind_dirs[i], b->keys[i], b->dirs[i], 0, of_cache_stale, NULL) < 0 ? -1 : 0;
}
