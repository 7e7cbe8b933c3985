/* A binary, as the launcher sees it: its own file, its trailer, and where its layers go
 * in the cache. main.c fills it in; the other modules read it. */
#ifndef OF_BINARY_H
#define OF_BINARY_H

#include <limits.h>
#include <stdint.h>

#include "of_cache.h"
#include "of_format.h"
#include "of_interp.h"
#include "of_trailer.h"

struct of_binary {
    const char *self; /* absolute path of the binary */
    const uint8_t *file; /* all of it */
    uint64_t size;
    const struct of_trailer *trailer;
    const struct of_cache_root *root;
    const char *keys[OF_LAYER_COUNT]; /* the directory names: 32 hex digits */
    const char *kind_dirs[OF_LAYER_COUNT]; /* <root>/runtime, <root>/app */
    const char *dirs[OF_LAYER_COUNT]; /* <root>/runtime/<key>, <root>/app/<key> */
    struct of_interp_choice libc; /* for OF_LIBC_GLIBC_BUNDLED: which interpreter this start execs */
};

/* Nonzero if this start runs on the bundled glibc. */
int of_binary_bundled(const struct of_binary *b);

/* The app's Python this start execs (relative to the app directory): the twin venv's
 * for the bundled glibc, else bin/python. */
const char *of_binary_python(const struct of_binary *b);

/* Where the cache paths of struct of_binary point: not malloc'd, as a warm start
 * allocates nothing (with zig's malloc, the first allocation of a size maps memory: two
 * more system calls). */
struct of_binary_paths {
    char keys[OF_LAYER_COUNT][OF_CACHE_KEY_HEX_DIGITS + 1];
    char kind_dirs[OF_LAYER_COUNT][PATH_MAX];
    char dirs[OF_LAYER_COUNT][PATH_MAX];
};

extern const char *const of_binary_layer_names[OF_LAYER_COUNT]; /* "runtime", "app" */
extern const char *const of_binary_layer_prefixes[OF_LAYER_COUNT]; /* "runtime/", "app/" */

/* Choose the cache for `b` and fill in its paths (in `p`): the usual cache, or when that is
 * an implicit one (from $HOME or $XDG_CACHE_HOME) that doesn't hold our layers and can't
 * be written, the private one under $TMPDIR. `create`: make the cache's directory. On a
 * warm start this costs two stats. Returns 0, or -1 with of_error set. */
int of_binary_choose_root(struct of_binary *b, struct of_cache_root *root, struct of_binary_paths *p, int create);

#endif
