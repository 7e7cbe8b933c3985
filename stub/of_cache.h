/* The per-user cache: choosing its root, installing a directory atomically. */
#ifndef OF_CACHE_H
#define OF_CACHE_H

#include <sys/types.h>

/* The cache root, absolute, without a trailing '/' (malloc'd), or NULL with of_error
 * set. Only the ${TMPDIR:-/tmp}/onefile-<uid> fallback is created (0700) and checked
 * here; the others are created by of_cache_install when something is unpacked. */
char *of_cache_root(void);

/* "<a>/<b>" (malloc'd; trailing '/'s of a are dropped), or NULL. */
char *of_cache_path(const char *a, const char *b);

/* Nonzero if `path` is a directory (following links, like the user would). */
int of_cache_exists(const char *path);

/* Fill a fresh directory: 0, or -1 with of_error set. */
typedef int (*of_cache_fill)(int dirfd, const char *dirpath, void *arg);

/* Make `final` (= <root>/<kind>/<key>) by creating <root> (0700 where missing) and
 * <root>/<kind>, filling <root>/<kind>/.tmp-<key>-XXXXXX and renaming it into place.
 * If another process installs `final` first, the temporary copy is removed and 0
 * returned. On failure the temporary directory is removed. */
int of_cache_install(const char *root, const char *kind, const char *key, const char *final, of_cache_fill fill,
                     void *arg);

/* Remove a directory tree without following symbolic links; best effort. */
int of_cache_remove(const char *path);

#endif
