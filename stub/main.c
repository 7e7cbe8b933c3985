/* The onefile launcher: unpack the layers appended to this executable into the
 * per-user cache (once), then exec the app's Python in the same process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "of_cache.h"
#include "of_error.h"
#include "of_format.h"
#include "of_gc.h"
#include "of_libc.h"
#include "of_modes.h"
#include "of_self.h"
#include "of_sha256.h"
#include "of_trailer.h"
#include "of_unpack.h"

/* The paths main works with: not malloc'd, as a warm start allocates nothing (with zig's
 * malloc, the first allocation of a size maps memory: two more system calls). */
struct of_main_paths {
    char keys[OF_LAYER_COUNT][OF_CACHE_KEY_HEX_DIGITS + 1];
    char kind_dirs[OF_LAYER_COUNT][PATH_MAX];
    char dirs[OF_LAYER_COUNT][PATH_MAX];
};

/* The SHA-256 of one layer, computed on its own thread while the layers are unpacked. */
struct of_main_hash {
    const uint8_t *data;
    size_t size;
    uint8_t digest[OF_SHA256_DIGEST_SIZE];
    pthread_t thread;
    int state; /* OF_MAIN_HASH_* */
};
enum { OF_MAIN_HASH_NONE, OF_MAIN_HASH_RUNNING, OF_MAIN_HASH_DONE };

/* What of_main_fill_layer needs to fill one layer's directory. */
struct of_main_fill {
    const struct of_binary *b;
    int layer; /* OF_LAYER_RUNTIME or OF_LAYER_APP */
    char what[PATH_MAX + 32]; /* "<binary>: app layer", for messages */
    struct of_main_hash hashes[OF_LAYER_COUNT]; /* of the layers being unpacked */
};

/* Make the app directory a virtual environment of the runtime. */
static int of_main_venv(int dirfd, const char *dirpath, const char *runtime_dir)
{
    char *python = of_cache_path(runtime_dir, OF_RUNTIME_PYTHON);
    int fd = -1, bin = -1, closed, rc = -1;

    if (python == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    fd = openat(dirfd, OF_APP_PYVENV_CFG, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || dprintf(fd, OF_APP_PYVENV_CFG_FORMAT, runtime_dir) < 0) {
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

static void *of_main_hash_run(void *arg)
{
    struct of_main_hash *h = arg;

    of_sha256(h->data, h->size, h->digest);
    return NULL;
}

/* Start hashing a layer; on this thread when no other can be started. */
static void of_main_hash_start(struct of_main_hash *h, const uint8_t *data, size_t size)
{
    h->data = data;
    h->size = size;
    if (pthread_create(&h->thread, NULL, of_main_hash_run, h) == 0) {
        h->state = OF_MAIN_HASH_RUNNING;
    } else {
        of_main_hash_run(h);
        h->state = OF_MAIN_HASH_DONE;
    }
}

static void of_main_hash_wait(struct of_main_hash *h)
{
    if (h->state == OF_MAIN_HASH_RUNNING) {
        pthread_join(h->thread, NULL);
        h->state = OF_MAIN_HASH_DONE;
    }
}

/* Wait for the hash of every layer being unpacked; -1 (of_error set) when one does not
 * match the trailer. Called before a layer is published, so that no layer of a damaged
 * binary is, not even an intact one. */
static int of_main_hashes_match(struct of_main_fill *f)
{
    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        of_main_hash_wait(&f->hashes[i]);
        if (f->hashes[i].state == OF_MAIN_HASH_DONE &&
            memcmp(f->hashes[i].digest, f->b->trailer->layers[i].sha256, OF_SHA256_DIGEST_SIZE) != 0)
            return of_error("%s: the %s layer is damaged (its SHA-256 does not match the trailer); "
                            "download or build the file again", f->b->self, of_modes_layer_names[i]);
    }
    return 0;
}

/* Unpack a layer into dirpath; also fails when a layer's hash does not match, which then
 * is the error shown, as the cause of any damage the unpacking ran into. */
static int of_main_fill_layer(int dirfd, const char *dirpath, void *arg)
{
    struct of_main_fill *f = arg;
    const struct of_binary *b = f->b;
    int unpacked;

    unpacked = of_unpack_layer(b->file, &b->trailer->layers[f->layer], of_modes_layer_prefixes[f->layer], f->what,
                               dirfd, dirpath) == 0 &&
               (f->layer != OF_LAYER_APP || (of_main_venv(dirfd, dirpath, b->dirs[OF_LAYER_RUNTIME]) == 0 &&
                                             of_gc_mark(dirfd, dirpath, b->trailer->app_id) == 0));
    if (of_main_hashes_match(f) != 0)
        return -1;
    /* This version becomes its app's newest before its app layer appears, so no clean-up
     * takes the layer for an old version meanwhile. */
    if (unpacked && f->layer == OF_LAYER_APP &&
        of_gc_record(b->root->path, b->trailer->app_id, b->keys[OF_LAYER_APP], b->keys[OF_LAYER_RUNTIME]) != 0)
        return -1;
    return unpacked ? 0 : -1;
}

/* Fill in the cache paths of `b` (pointing into `p`) for the cache b->root. */
static int of_main_paths(struct of_binary *b, struct of_main_paths *p)
{
    static const char *const kinds[OF_LAYER_COUNT] = { OF_CACHE_RUNTIME_DIR, OF_CACHE_APP_DIR };
    const uint8_t *keys[OF_LAYER_COUNT] = { b->trailer->layers[OF_LAYER_RUNTIME].sha256, b->trailer->app_key };

    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        for (int j = 0; j < OF_CACHE_KEY_HEX_DIGITS / 2; j++)
            snprintf(p->keys[i] + 2 * j, 3, "%02x", keys[i][j]);
        if (of_cache_path_into(p->kind_dirs[i], PATH_MAX, b->root->path, kinds[i]) != 0 ||
            of_cache_path_into(p->dirs[i], PATH_MAX, p->kind_dirs[i], p->keys[i]) != 0)
            return of_error_errno("the cache directory %s", b->root->path);
        b->keys[i] = p->keys[i];
        b->kind_dirs[i] = p->kind_dirs[i];
        b->dirs[i] = p->dirs[i];
    }
    return 0;
}

static int of_main_unpacked(const struct of_binary *b)
{
    return of_cache_exists(b->dirs[OF_LAYER_RUNTIME]) && of_cache_exists(b->dirs[OF_LAYER_APP]);
}

/* The cache to use: the usual one, or when that is an implicit one (from $HOME or
 * $XDG_CACHE_HOME) that doesn't hold our layers and can't be written (a read-only
 * home, a service account's nonexistent one), the private one under $TMPDIR. On a warm
 * start this costs the two stats of of_main_unpacked. */
static int of_main_choose_root(struct of_binary *b, struct of_cache_root *root, struct of_main_paths *p,
                               int create)
{
    static char why[PATH_MAX + 64];
    struct of_cache_root fallback;
    int rc = -1;

    if (of_cache_root(root, create) != 0 || of_main_paths(b, p) != 0)
        goto cleanup;
    if (root->implicit && !of_main_unpacked(b) && !of_cache_writable(root->path)) {
        snprintf(why, sizeof(why), "${TMPDIR:-/tmp}, as %s from %s is not writable", root->path, root->why);
        if (of_cache_fallback(&fallback, "", create) != 0)
            goto cleanup;
        *root = fallback;
        root->why = why;
        if (of_main_paths(b, p) != 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    return rc;
}

/* Say how much room unpacking needs when the disk is full. */
static void of_main_hint_space(const struct of_binary *b, int layer)
{
    int err = of_error_errnum();

    if (err == ENOSPC || err == EDQUOT)
        of_error_hint("unpacking the %s layer needs %.1f MB in %s; free some space there or set " OF_ENV_CACHE_DIR
                      " to a directory with room",
                      of_modes_layer_names[layer], (double)b->trailer->layers[layer].unpacked_size / 1e6,
                      b->root->path);
}

/* Unpack the layers that are not in the cache yet. Their SHA-256s are computed while
 * they are unpacked (the unpacker takes the file as hostile input anyway) and checked
 * before each rename: a damaged binary leaves no layer behind. */
static int of_main_unpack(const struct of_binary *b)
{
    struct of_main_fill *fill = calloc(1, sizeof(*fill));
    struct of_libc_system system;
    int missing[OF_LAYER_COUNT], rc = -1;

    /* Before anything is written: can this system run what the layers hold? */
    of_libc_probe("", &system);
    if (of_libc_check(b->trailer->libc, b->trailer->glibc, &system) != 0)
        goto cleanup;
    if (fill == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    fill->b = b;
    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        const struct of_layer *layer = &b->trailer->layers[i];

        missing[i] = !of_cache_exists(b->dirs[i]);
        if (missing[i])
            of_main_hash_start(&fill->hashes[i], b->file + layer->offset, layer->size);
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
        snprintf(fill->what, sizeof(fill->what), "%s: %s layer", b->self, of_modes_layer_names[i]);
        if (of_cache_install(b->kind_dirs[i], b->keys[i], b->dirs[i], of_main_fill_layer, fill) != 0) {
            of_main_hint_space(b, i);
            goto cleanup;
        }
    }
    /* Another process may have unpacked them meanwhile (of_cache_install then fills
     * nothing): a damaged binary still fails, as it does when it unpacks. */
    rc = of_main_hashes_match(fill);
cleanup:
    if (fill != NULL) {
        for (int i = 0; i < OF_LAYER_COUNT; i++)
            of_main_hash_wait(&fill->hashes[i]);
    }
    of_unpack_release();
    free(fill);
    return rc;
}

/* Nonzero if the environment entry `entry` ("NAME=value") sets `name`. */
static int of_main_env_sets(const char *entry, const char *name)
{
    size_t len = strlen(name);

    return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/* Exec the app's Python; returns only when that fails, with errno. Its environment is
 * ours with where the binary is (ONEFILE_BINARY, ONEFILE_ARGV0) and without PYTHONHOME
 * and PYTHONPATH, built here on the stack instead of with setenv, as the warm path
 * allocates nothing (see struct of_main_paths). */
static int of_main_exec(const struct of_binary *b, int argc, char **argv)
{
    const char *app_dir = b->dirs[OF_LAYER_APP];
    const char *argv0 = argc > 0 && strchr(argv[0], '/') != NULL ? argv[0] : b->self;
    char python[PATH_MAX], script[PATH_MAX];
    char binary_var[sizeof(OF_ENV_BINARY "=") + strlen(b->self)];
    char argv0_var[sizeof(OF_ENV_ARGV0 "=") + strlen(argv0)];
    char *args[(argc > 0 ? argc : 1) + 2];
    size_t count = 0, n = 0;

    for (char **e = environ; e != NULL && *e != NULL; e++)
        count++;
    char *env[count + 3];

    if (of_cache_path_into(python, sizeof(python), app_dir, OF_APP_PYTHON) != 0 ||
        of_cache_path_into(script, sizeof(script), app_dir, OF_APP_MAIN) != 0)
        return errno;
    snprintf(binary_var, sizeof(binary_var), OF_ENV_BINARY "=%s", b->self);
    snprintf(argv0_var, sizeof(argv0_var), OF_ENV_ARGV0 "=%s", argv0);
    env[n++] = binary_var;
    env[n++] = argv0_var;
    for (size_t i = 0; i < count; i++) {
        if (!of_main_env_sets(environ[i], OF_ENV_BINARY) && !of_main_env_sets(environ[i], OF_ENV_ARGV0) &&
            !of_main_env_sets(environ[i], "PYTHONHOME") && !of_main_env_sets(environ[i], "PYTHONPATH"))
            env[n++] = environ[i];
    }
    env[n] = NULL;
    args[0] = python;
    args[1] = script;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    args[argc > 0 ? argc + 1 : 2] = NULL;
    OF_DEBUG_LOG("exec %s %s", python, script);
    execve(python, args, env);
    return errno;
}

/* Say why the exec failed (`err`). */
static void of_main_exec_failed(const struct of_binary *b, int err)
{
    char *python = of_cache_path(b->dirs[OF_LAYER_APP], OF_APP_PYTHON);

    if (python == NULL) {
        of_error("out of memory");
    } else if (err == EACCES && of_cache_noexec(b->dirs[OF_LAYER_RUNTIME])) {
        of_error("cannot execute %s: the cache %s is on a file system mounted noexec; set " OF_ENV_CACHE_DIR
                 " to a directory on one that allows executables", python, b->root->path);
    } else {
        errno = err;
        of_error_errno("cannot execute %s", python);
        if (err == ENOENT || err == EACCES || err == ENOEXEC)
            of_error_hint(OF_ENV_MODE "=verify %s tells what is wrong in the cache", b->self);
    }
    free(python);
}

/* Nonzero if a failed exec (`err`) may come from a damaged layer: a file missing, its
 * execute bit gone, or emptied. */
static int of_main_repairable(const struct of_binary *b, int err)
{
    return (err == ENOENT || err == EACCES || err == ENOEXEC) &&
           !(err == EACCES && of_cache_noexec(b->dirs[OF_LAYER_RUNTIME]));
}

/* of_cache_uninstall's test for one of the binary's layers: 1 if its directory differs
 * from the layer in the file (or can't be read). */
struct of_main_check {
    const struct of_binary *b;
    int layer;
};

static int of_main_damaged(const char *dir, void *arg)
{
    const struct of_main_check *c = arg;
    const struct of_binary *b = c->b;
    long problems = of_modes_check_dir(b->file, &b->trailer->layers[c->layer], of_modes_layer_prefixes[c->layer],
                                       dir, c->layer == OF_LAYER_APP ? b->dirs[OF_LAYER_RUNTIME] : NULL, NULL);

    OF_DEBUG_LOG("%s: %ld problems", dir, problems);
    return problems != 0;
}

/* After an exec that failed as a damaged layer would make it fail: move every layer
 * directory that differs from its layer out of place (each checked under its key's
 * lock, so two processes repairing at once don't remove each other's fresh copy) and
 * unpack what is then missing. Returns 1 if something was unpacked again, 0 if nothing
 * was wrong, -1 with of_error set. */
static int of_main_repair(const struct of_binary *b)
{
    struct of_main_check check = { b, 0 };
    int removed = 0, r;

    for (int i = 0; i < OF_LAYER_COUNT; i++) {
        check.layer = i;
        r = of_cache_uninstall(b->kind_dirs[i], b->keys[i], b->dirs[i], 0, of_main_damaged, &check);
        if (r < 0)
            return -1;
        if (r > 0 || !of_cache_exists(b->dirs[i]))
            removed++;
    }
    if (removed == 0)
        return 0;
    of_error_note("%s: the cache entry was damaged; unpacking it again", b->self);
    return of_main_unpack(b) == 0 ? 1 : -1;
}

/* Start the app: unpack the missing layers (a cold start, which also starts a clean-up
 * of the cache in the background), hold the runtime and app directories while the app
 * runs (of_cache_use), exec. When the exec fails as a damaged layer would make it fail,
 * repair the layers and exec once more. Returns only on failure, with of_error set. */
static int of_main_start(const struct of_binary *b, int argc, char **argv, mode_t saved_umask)
{
    int cold, runtime_fd = -1, app_fd = -1, err, rc = -1;
    struct stat st;
    long keep_days;

    if (of_gc_keep_days(&keep_days) != 0)
        goto cleanup;
    /* A warm start: both layers held (of_cache_use: open and flock of the runtime; open,
     * fstat and flock of the app), which also tells whether they are there. The app's
     * Python inherits both locks: a clean-up, even one that read the cache before this
     * start, removes neither while it runs. */
    cold = (runtime_fd = of_cache_use(b->dirs[OF_LAYER_RUNTIME], NULL)) < 0 ||
           (app_fd = of_cache_use(b->dirs[OF_LAYER_APP], &st)) < 0;
    if (cold) {
        if (of_main_unpack(b) != 0)
            goto cleanup;
        if (runtime_fd < 0)
            runtime_fd = of_cache_use(b->dirs[OF_LAYER_RUNTIME], NULL);
        if (app_fd < 0)
            app_fd = of_cache_use(b->dirs[OF_LAYER_APP], &st);
        of_gc_spawn(b->root->path, keep_days); /* while the app runs, holding its layers */
    } else {
        of_cache_touch(app_fd, &st);
    }
    umask(saved_umask);
    err = of_main_exec(b, argc, argv);
    if (of_main_repairable(b, err)) {
        umask(022);
        if (app_fd >= 0)
            close(app_fd);
        if (runtime_fd >= 0)
            close(runtime_fd);
        app_fd = runtime_fd = -1;
        if (of_main_repair(b) < 0)
            goto cleanup;
        runtime_fd = of_cache_use(b->dirs[OF_LAYER_RUNTIME], NULL);
        app_fd = of_cache_use(b->dirs[OF_LAYER_APP], &st);
        umask(saved_umask);
        err = of_main_exec(b, argc, argv);
    }
    of_main_exec_failed(b, err);
cleanup:
    if (app_fd >= 0)
        close(app_fd);
    if (runtime_fd >= 0)
        close(runtime_fd);
    return rc;
}

/* What ONEFILE asks for. */
enum of_main_mode { OF_MAIN_RUN, OF_MAIN_INFO, OF_MAIN_VERIFY, OF_MAIN_CLEAN };

static int of_main_mode(enum of_main_mode *mode)
{
    const char *value = getenv(OF_ENV_MODE);

    *mode = OF_MAIN_RUN;
    if (value == NULL || value[0] == '\0')
        return 0;
    if (strcmp(value, "info") == 0)
        *mode = OF_MAIN_INFO;
    else if (strcmp(value, "verify") == 0)
        *mode = OF_MAIN_VERIFY;
    else if (strcmp(value, "clean") == 0)
        *mode = OF_MAIN_CLEAN;
    else
        return of_error(OF_ENV_MODE "=%.100s: unknown (use info, verify or clean; unset it to run the app)", value);
    return 0;
}

int main(int argc, char **argv)
{
    mode_t saved_umask = umask(022); /* the layers carry exact modes */
    struct of_main_paths paths;
    struct of_cache_root root = { "", NULL, 0 };
    struct of_binary b = { NULL, NULL, 0, NULL, &root, { NULL }, { NULL }, { NULL } };
    enum of_main_mode mode;
    struct of_trailer trailer;
    char *self = NULL;
    void *map = MAP_FAILED;
    struct stat st;
    int fd = -1, status = 1;

    of_error_init(argc > 0 ? argv[0] : NULL);
    if (of_main_mode(&mode) != 0)
        goto fail;
    if (unsetenv(OF_ENV_MODE) != 0) { /* not for the app, nor its children */
        of_error_errno("cannot set up the environment");
        goto fail;
    }
    self = of_self_path(argc > 0 ? argv[0] : NULL);
    if (self == NULL)
        goto fail;
    b.self = self;
    fd = of_self_open(self);
    if (fd < 0 || fstat(fd, &st) != 0) {
        of_error_errno("cannot open %s", self);
        goto fail;
    }
    if (st.st_size >= (off_t)OF_TRAILER_SIZE) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            of_error_errno("cannot read %s", self);
            goto fail;
        }
        b.file = map;
    }
    b.size = (uint64_t)st.st_size;
    if (of_trailer_read(b.file, b.size, self, &trailer) != 0)
        goto fail;
    b.trailer = &trailer;
    if (of_main_choose_root(&b, &root, &paths, mode == OF_MAIN_RUN) != 0)
        goto fail;
    OF_DEBUG_LOG("cache root %s (%s)", root.path, root.why);

    switch (mode) {
    case OF_MAIN_INFO:
        if (of_modes_info(&b, stdout) != 0)
            goto fail;
        status = 0;
        goto done;
    case OF_MAIN_VERIFY:
        status = of_modes_verify(&b, stdout);
        goto done;
    case OF_MAIN_CLEAN:
        if (of_modes_clean(&b, stdout) != 0)
            goto fail;
        status = 0;
        goto done;
    case OF_MAIN_RUN:
        break;
    }
    /* The file stays mapped (and open, close-on-exec) through the exec: a failed exec
     * may need it to repair the cache. */
    of_main_start(&b, argc, argv, saved_umask);
fail:
    fflush(stdout);
    of_error_exit();
done:
    if (fflush(stdout) != 0) {
        of_error_errno("cannot write the output");
        of_error_exit();
    }
    if (map != MAP_FAILED)
        munmap(map, (size_t)st.st_size);
    if (fd >= 0)
        close(fd);
    free(self);
    return status;
}
