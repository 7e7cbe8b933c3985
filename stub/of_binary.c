/* A binary: what the launcher knows about its own file and where its layers go in the
 * cache (struct of_binary, of_binary.h). */
#define _GNU_SOURCE
#include "of_binary.h"

#include <stdio.h>

#include "of_error.h"
#include "of_format.h"

const char *const of_binary_layer_names[OF_LAYER_COUNT] = { "runtime", "app" };
const char *const of_binary_layer_prefixes[OF_LAYER_COUNT] = { OF_PREFIX_RUNTIME, OF_PREFIX_APP };

int of_binary_bundled(const struct of_binary *b)
{
    return b->trailer->libc == OF_LIBC_GLIBC_BUNDLED && b->libc.kind == OF_INTERP_BUNDLED;
}

const char *of_binary_python(const struct of_binary *b)
{
    return of_binary_bundled(b) ? OF_APP_LIBC_PYTHON : OF_APP_PYTHON;
}

/* Fill in the cache paths of `b` (pointing into `p`) for the cache b->root. */
static int of_binary_paths(struct of_binary *b, struct of_binary_paths *p)
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

static int of_binary_unpacked(const struct of_binary *b)
{
    return of_cache_exists(b->dirs[OF_LAYER_RUNTIME]) && of_cache_exists(b->dirs[OF_LAYER_APP]);
}

/* The cache to use: the usual one, or when that is an implicit one (from $HOME or
 * $XDG_CACHE_HOME) that doesn't hold our layers and can't be written (a read-only
 * home, a service account's nonexistent one), the private one under $TMPDIR. On a warm
 * start this costs the two stats of of_binary_unpacked. */
int of_binary_choose_root(struct of_binary *b, struct of_cache_root *root, struct of_binary_paths *p,
                               int create)
{
    static char why[PATH_MAX + 64];
    struct of_cache_root fallback;
    int rc = -1;

    if (of_cache_root(root, create) != 0 || of_binary_paths(b, p) != 0)
        goto cleanup;
    if (root->implicit && !of_binary_unpacked(b) && !of_cache_writable(root->path)) {
        snprintf(why, sizeof(why), "${TMPDIR:-/tmp}, as %s from %s is not writable", root->path, root->why);
        if (of_cache_fallback(&fallback, "", create) != 0)
            goto cleanup;
        *root = fallback;
        root->why = why;
        if (of_binary_paths(b, p) != 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    return rc;
}

