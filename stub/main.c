/* The onefile launcher: unpack the layers appended to this executable into the
 * per-user cache (once), then exec the app's Python in the same process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "of_cache.h"
#include "of_error.h"
#include "of_format.h"
#include "of_sha256.h"
#include "of_trailer.h"
#include "of_unpack.h"

struct of_main_fill {
    const uint8_t *file;
    const struct of_layer *layer;
    const char *prefix;
    const char *self;
    const char *runtime_dir; /* app layer only: the runtime it runs on */
    char *what; /* "<binary>: app layer", for messages */
};

/* The binary's own path (malloc'd), from /proc/self/exe. */
static char *of_main_self(void)
{
    char buf[PATH_MAX + 1], *out = NULL;
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf));

    if (n < 0 || (size_t)n >= sizeof(buf)) {
        errno = n < 0 ? errno : ENAMETOOLONG;
        of_error_errno("cannot find this program's file: /proc/self/exe");
        goto cleanup;
    }
    buf[n] = '\0';
    out = strdup(buf);
    if (out == NULL)
        of_error("out of memory");
cleanup:
    return out;
}

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
    if (fd < 0 || dprintf(fd, "home = %s/bin\ninclude-system-site-packages = false\n", runtime_dir) < 0) {
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

static int of_main_fill_layer(int dirfd, const char *dirpath, void *arg)
{
    const struct of_main_fill *f = arg;
    int rc = -1;

    if (of_unpack_layer(f->file, f->layer, f->prefix, f->what, dirfd, dirpath) != 0)
        goto cleanup;
    if (f->runtime_dir != NULL && of_main_venv(dirfd, dirpath, f->runtime_dir) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    return rc;
}

/* Unpack one layer into <root>/<kind>/<key> (*final) unless it is there already. */
static int of_main_layer(const char *root, const char *kind, const uint8_t key[OF_SHA256_DIGEST_SIZE],
                         struct of_main_fill *fill, char **final)
{
    char hex[OF_CACHE_KEY_HEX_DIGITS + 1], *kind_dir = of_cache_path(root, kind);
    size_t what_len = strlen(fill->self) + strlen(kind) + sizeof(":  layer");
    uint8_t digest[OF_SHA256_DIGEST_SIZE];
    int rc = -1;

    for (int i = 0; i < OF_CACHE_KEY_HEX_DIGITS / 2; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    *final = kind_dir != NULL ? of_cache_path(kind_dir, hex) : NULL;
    fill->what = malloc(what_len);
    if (*final == NULL || fill->what == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    if (of_cache_exists(*final)) {
        OF_DEBUG_LOG("%s: already unpacked", *final);
        rc = 0;
        goto cleanup;
    }
    snprintf(fill->what, what_len, "%s: %s layer", fill->self, kind);
    of_sha256(fill->file + fill->layer->offset, fill->layer->size, digest);
    if (memcmp(digest, fill->layer->sha256, sizeof(digest)) != 0) {
        of_error("%s is corrupted (checksum mismatch)", fill->what);
        goto cleanup;
    }
    rc = of_cache_install(root, kind, hex, *final, of_main_fill_layer, fill);
cleanup:
    free(fill->what);
    fill->what = NULL;
    free(kind_dir);
    return rc;
}

static void of_main_exec(const char *app_dir, const char *self, int argc, char **argv)
{
    char *python = of_cache_path(app_dir, OF_APP_PYTHON), *script = of_cache_path(app_dir, OF_APP_MAIN);
    char **args = calloc((size_t)(argc > 0 ? argc : 1) + 2, sizeof(char *));

    if (python == NULL || script == NULL || args == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    args[0] = python;
    args[1] = script;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    if (setenv(OF_ENV_BINARY, self, 1) != 0 ||
        setenv(OF_ENV_ARGV0, argc > 0 && strchr(argv[0], '/') != NULL ? argv[0] : self, 1) != 0 ||
        unsetenv("PYTHONHOME") != 0 || unsetenv("PYTHONPATH") != 0) {
        of_error_errno("cannot set up the environment");
        goto cleanup;
    }
    OF_DEBUG_LOG("exec %s %s", python, script);
    execv(python, args);
    if (errno == EACCES)
        of_error("cannot execute %s: %s (is the cache on a noexec mount? set " OF_ENV_CACHE_DIR
                 " to a directory that allows executables)", python, strerror(errno));
    else
        of_error_errno("cannot execute %s", python);
cleanup:
    free(args);
    free(script);
    free(python);
}

int main(int argc, char **argv)
{
    mode_t saved_umask = umask(022); /* the layers carry exact modes */
    char *self = NULL, *root = NULL, *runtime_dir = NULL, *app_dir = NULL;
    const struct of_layer *layers;
    struct of_trailer trailer;
    struct of_main_fill fill;
    const uint8_t *file = NULL;
    void *map = MAP_FAILED;
    struct stat st;
    int fd = -1;

    of_error_init(argc > 0 ? argv[0] : NULL);
    self = of_main_self();
    if (self == NULL)
        goto fail;
    fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
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
        file = map;
    }
    if (of_trailer_read(file, (uint64_t)st.st_size, self, &trailer) != 0)
        goto fail;
    root = of_cache_root();
    if (root == NULL)
        goto fail;
    OF_DEBUG_LOG("cache root %s", root);

    layers = trailer.layers;
    fill = (struct of_main_fill){ file, &layers[OF_LAYER_RUNTIME], OF_PREFIX_RUNTIME, self, NULL, NULL };
    if (of_main_layer(root, OF_CACHE_RUNTIME_DIR, layers[OF_LAYER_RUNTIME].sha256, &fill, &runtime_dir) != 0)
        goto fail;
    fill = (struct of_main_fill){ file, &layers[OF_LAYER_APP], OF_PREFIX_APP, self, runtime_dir, NULL };
    if (of_main_layer(root, OF_CACHE_APP_DIR, trailer.app_key, &fill, &app_dir) != 0)
        goto fail;

    munmap(map, (size_t)st.st_size);
    map = MAP_FAILED;
    close(fd);
    fd = -1;
    umask(saved_umask);
    of_main_exec(app_dir, self, argc, argv);
fail:
    /* Only reached on error; the process exits, so nothing else is freed. */
    of_error_exit();
}
