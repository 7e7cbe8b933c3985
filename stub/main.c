/* The onefile launcher: unpack the layers appended to this executable into the
 * per-user cache (once), then exec the app's Python in the same process. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "of_binary.h"
#include "of_cache.h"
#include "of_error.h"
#include "of_exec.h"
#include "of_format.h"
#include "of_gc.h"
#include "of_libc.h"
#include "of_install.h"
#include "of_modes.h"
#include "of_self.h"
#include "of_trailer.h"

/* Hold layer `i` (of_cache_use) when it is there and can be trusted; one published in an
 * earlier boot and never flushed (of_cache_durable) is removed, to be unpacked again.
 * Returns the fd, or -1 when it is missing; sets *pending for a layer not flushed yet. */
static int of_main_hold(const struct of_binary *b, int i, struct stat *st, int *pending)
{
    int fd = of_cache_use(b->dirs[i], st), durable;

    if (fd < 0)
        return -1;
    durable = of_cache_durable(fd, st);
    if (durable >= 0) {
        *pending |= durable == 0;
        return fd;
    }
    close(fd);
    /* Best effort: if it can't be removed, the start goes on with it as it is. */
    of_install_forget(b, i);
    return -1;
}

/* Start the app: unpack the missing layers (a cold start, which also starts a clean-up
 * of the cache in the background), hold the runtime and app directories while the app
 * runs (of_cache_use), exec. When the exec fails as a damaged layer would make it fail,
 * repair the layers and exec once more. Returns only on failure, with of_error set. */
static int of_main_start(const struct of_binary *b, int argc, char **argv, mode_t saved_umask, int interpreter)
{
    int runtime_fd, app_fd, pending = 0, err, rc = -1;
    struct stat st, runtime_st;
    long keep_days;

    if (of_gc_keep_days(&keep_days) != 0)
        return -1;
    /* A warm start: both layers held (of_cache_use: open, fstat and flock of each), which
     * also tells whether they are there and flushed. The app's Python inherits both locks:
     * a clean-up, even one that read the cache before this start, removes neither while
     * it runs. */
    runtime_fd = of_main_hold(b, OF_LAYER_RUNTIME, &runtime_st, &pending);
    app_fd = of_main_hold(b, OF_LAYER_APP, &st, &pending);
    if (runtime_fd < 0 || app_fd < 0) {
        if (of_install_layers(b) != 0)
            goto cleanup;
        if (runtime_fd < 0)
            runtime_fd = of_cache_use(b->dirs[OF_LAYER_RUNTIME], NULL);
        if (app_fd < 0)
            app_fd = of_cache_use(b->dirs[OF_LAYER_APP], &st);
        /* While the app runs, holding its layers: flushes what was just unpacked. */
        of_gc_spawn(b->root->path, keep_days);
    } else {
        of_cache_touch(app_fd, &st);
        if (pending) /* published unflushed by a start whose clean-up did not get to it */
            of_gc_spawn(b->root->path, keep_days);
    }
    umask(saved_umask);
    err = of_exec_app(b, argc, argv, interpreter);
    /* The bundled glibc, which a start on the system's left out of the runtime directory
     * (a cache shared by two systems): added now, found missing by the exec (no system
     * call on a warm start). */
    if (err == ENOENT && of_binary_bundled(b)) {
        umask(022);
        if (of_install_libc(b) < 0)
            goto cleanup;
        umask(saved_umask);
        err = of_exec_app(b, argc, argv, interpreter);
    }
    if (of_exec_repairable(b, err)) {
        umask(022);
        if (app_fd >= 0)
            close(app_fd);
        if (runtime_fd >= 0)
            close(runtime_fd);
        app_fd = runtime_fd = -1;
        if (of_install_repair(b) < 0)
            goto cleanup;
        runtime_fd = of_cache_use(b->dirs[OF_LAYER_RUNTIME], NULL);
        app_fd = of_cache_use(b->dirs[OF_LAYER_APP], &st);
        umask(saved_umask);
        err = of_exec_app(b, argc, argv, interpreter);
    }
    of_exec_failed(b, err);
cleanup:
    if (app_fd >= 0)
        close(app_fd);
    if (runtime_fd >= 0)
        close(runtime_fd);
    return rc;
}

/* What ONEFILE asks for. `python` runs the app's interpreter with the caller's arguments
 * instead of the app; `install` runs the app's bin/onefile-main, which holds the command
 * table and writes the links (format/bootstrap.py), so ONEFILE=install stays set for it. */
enum of_main_mode { OF_MAIN_RUN, OF_MAIN_INFO, OF_MAIN_VERIFY, OF_MAIN_CLEAN, OF_MAIN_PYTHON, OF_MAIN_INSTALL };

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
    else if (strcmp(value, "python") == 0)
        *mode = OF_MAIN_PYTHON;
    else if (strcmp(value, "install") == 0)
        *mode = OF_MAIN_INSTALL;
    else
        return of_error(OF_ENV_MODE "=%.100s: unknown (use info, verify, clean, python or install; "
                                    "unset it to run the app)", value);
    return 0;
}

int main(int argc, char **argv)
{
    mode_t saved_umask = umask(022); /* the layers carry exact modes */
    struct of_binary_paths paths;
    struct of_cache_root root = { "", NULL, 0 };
    struct of_binary b = { NULL, NULL, 0, NULL, &root, { NULL }, { NULL }, { NULL }, { OF_INTERP_SYSTEM, -1, "", 0 } };
    enum of_main_mode mode;
    struct of_trailer trailer;
    char *self = NULL;
    void *map = MAP_FAILED;
    struct stat st;
    int fd = -1, status = 1, starts;

    of_error_init(argc > 0 ? argv[0] : NULL);
    if (of_main_mode(&mode) != 0)
        goto fail;
    if (mode != OF_MAIN_INSTALL && unsetenv(OF_ENV_MODE) != 0) { /* not for the app, nor its children */
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
    /* On every start, warm or cold (never cached: a cache may be shared by systems that
     * choose differently): the system's glibc where it can serve, else the bundled one. */
    if (trailer.libc == OF_LIBC_GLIBC_BUNDLED)
        of_interp_choose("", of_libc_needed_minor(trailer.glibc), &b.libc);
    starts = mode == OF_MAIN_RUN || mode == OF_MAIN_PYTHON || mode == OF_MAIN_INSTALL; /* the app's Python */
    if (of_binary_choose_root(&b, &root, &paths, starts) != 0)
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
    case OF_MAIN_PYTHON:
    case OF_MAIN_INSTALL:
        break;
    }
    /* The file stays mapped (and open, close-on-exec) through the exec: a failed exec
     * may need it to repair the cache. */
    of_main_start(&b, argc, argv, saved_umask, mode == OF_MAIN_PYTHON);
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
