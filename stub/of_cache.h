/* The per-user cache: choosing its root, installing and removing layer directories.
 *
 * <root>/<kind>/<key>             an unpacked layer, complete (renamed into place)
 * <root>/<kind>/.tmp-<key>-XXXXXX a layer being unpacked (or left by a killed unpacker)
 * <root>/<kind>/.lock-<key>       flock()ed by whoever unpacks or removes <key>
 *
 * A layer is published without waiting for the disk when the boot is known: its directory
 * stays 0700 and holds OF_CACHE_PENDING_FILE (the boot id) until a clean-up has flushed
 * the file system and made it 0755 (of_cache_settle). One published in an earlier boot
 * and never flushed may have lost data in a power cut: it is unpacked again.
 *
 * Whoever holds the lock of a key is the only one touching that key's temporary
 * directories, so a temporary directory whose key lock is free is a leftover of a
 * process that is gone, and of_cache_sweep removes it. */
#ifndef OF_CACHE_H
#define OF_CACHE_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Where the cache is, and why there. */
struct of_cache_root {
    char path[PATH_MAX]; /* absolute, without a trailing '/' (not malloc'd: a warm start allocates nothing) */
    const char *why; /* for ONEFILE=info: which variable chose it */
    int implicit; /* chosen by default ($XDG_CACHE_HOME or $HOME): of_cache_fallback may replace it */
};

/* $ONEFILE_CACHE_DIR, else $XDG_CACHE_HOME/onefile (if absolute), else
 * $HOME/.cache/onefile (if absolute), else of_cache_fallback (passing `create`).
 * Creates nothing else. Returns 0, or -1 with of_error set. */
int of_cache_root(struct of_cache_root *out, int create);

/* ${TMPDIR:-/tmp}/onefile-<euid>, which must be a directory (not a link) owned by us
 * with mode 0700: others could plant files in it that we would then execute. With
 * `create`, it is made (0700) when missing; without, a missing one is accepted as is.
 * `why` says why this one is used. Returns 0, or -1 with of_error set. */
int of_cache_fallback(struct of_cache_root *out, const char *why, int create);

/* Nonzero if `path` is a writable directory, or could be created: its nearest existing
 * ancestor is a writable directory. Creates nothing. */
int of_cache_writable(const char *path);

/* Nonzero if `path` is on a file system mounted noexec. */
int of_cache_noexec(const char *path);

/* "<a>/<b>" (malloc'd; trailing '/'s of a are dropped), or NULL. */
char *of_cache_path(const char *a, const char *b);

/* The same into `out` (`size` bytes): 0, or -1 with errno ENAMETOOLONG when it does not
 * fit. For the warm path, which allocates nothing: with zig's malloc, the first
 * allocation of a size maps memory (two more system calls). */
int of_cache_path_into(char *out, size_t size, const char *a, const char *b);

/* Nonzero if `path` is a directory (following links, like the user would). */
int of_cache_exists(const char *path);

/* Create <root> (0700 where missing) and <root>/runtime and <root>/app (0755), and
 * refuse a root on a noexec mount. Returns 0, or -1 with of_error set. */
int of_cache_prepare(const char *root);

/* Remove the temporary directories and lock files in `kind_dir` whose key lock is
 * free. Returns how many were removed (best effort: failures are skipped). */
int of_cache_sweep(const char *kind_dir);

/* Fill a fresh directory: 0, or -1 with of_error set. */
typedef int (*of_cache_fill)(int dirfd, const char *dirpath, void *arg);

/* Make `final` (<kind_dir>/<key>): take the key's lock (waiting for another unpacker of
 * the same key, and returning 0 as soon as `final` appears), fill
 * <kind_dir>/.tmp-<key>-XXXXXX, rename it into place, release the lock. On failure the
 * temporary directory is removed. Published pending (0700, OF_CACHE_PENDING_FILE) when
 * this boot's id is known, else flushed (syncfs) first and published 0755. */
int of_cache_install(const char *kind_dir, const char *key, const char *final, of_cache_fill fill, void *arg);

/* Add the directory `name` to the layer `final` (<kind_dir>/<key>), which is in place: a
 * part its unpacking left out (the runtime's libc/). Under the key's lock, unless
 * <final>/<name> is there already: fill <kind_dir>/.tmp-<key>-XXXXXX, flush it (syncfs),
 * rename its `name` to <final>/<name>, remove the rest. Returns 1 when it added it, 0
 * when it was there, -1 with of_error set (nothing added; the temporary directory is
 * removed, or swept later). */
int of_cache_add(const char *kind_dir, const char *key, const char *final, const char *name, of_cache_fill fill,
                 void *arg);

/* This boot's id (OF_CACHE_BOOT_ID_LEN characters and a NUL) into `out`: 0, or -1 when it
 * can't be read (no /proc). */
#define OF_CACHE_BOOT_ID_LEN 36
int of_cache_boot_id(char out[OF_CACHE_BOOT_ID_LEN + 1]);

/* Whether the layer directory `fd` (`st` its stat) can be trusted: 1 flushed to disk; 0
 * published in this boot and not flushed yet (the page cache serves it until the machine
 * stops); -1 published in an earlier boot and never flushed, or can't tell. Costs no
 * system call for a flushed layer. */
int of_cache_durable(int fd, const struct stat *st);

/* Flush the file systems of the layer directories `fds` (one syncfs each), then mark them
 * flushed (0755, OF_CACHE_PENDING_FILE removed). Only for layers published before the
 * call. Returns how many were marked. */
int of_cache_settle(const int *fds, size_t count);

/* An of_cache_check (below): 1 if `final` is still a layer of an earlier boot that was
 * never flushed (of_cache_durable < 0). */
int of_cache_stale(const char *final, void *arg);

/* For of_cache_uninstall: 1 if the layer directory `final` is to be removed, else 0. */
typedef int (*of_cache_check)(const char *final, void *arg);

/* of_cache_uninstall's flags. OF_CACHE_IF_UNUSED: give up (returning 0) when another
 * process holds the key's lock (unpacking or removing it) or uses the layer (holds it
 * with of_cache_use); without it, wait for the key's lock and remove it even in use. */
#define OF_CACHE_IF_UNUSED 1

/* Remove `final` (<kind_dir>/<key>) under the key's lock, first renaming it out of
 * place so no one starts from a half-removed directory; with `damaged` (not NULL), only
 * if damaged(final, arg) says so, asked under the lock. Returns 1 if removed, 0 if it
 * was not there or is kept, -1 with of_error set. */
int of_cache_uninstall(const char *kind_dir, const char *key, const char *final, int flags, of_cache_check damaged,
                       void *arg);

/* Replace the small file `final` (<kind_dir>/<key>) with `content`: written to
 * <kind_dir>/.tmp-<key>-XXXXXX under the key's lock, then renamed into place (so
 * of_cache_sweep removes what a killed writer leaves). Returns 0, or -1 with of_error set. */
int of_cache_write(const char *kind_dir, const char *key, const char *final, const char *content);

/* Open the layer directory `final` (not close-on-exec) with a shared flock that tells
 * a clean-up it is in use for as long as the fd (inherited across exec and fork) stays
 * open; *st is its stat. Returns the fd, or -1 with errno set (ENOENT if it is not
 * there or was just removed). Costs open, fstat and flock; open and flock when `st` is
 * NULL. */
int of_cache_use(const char *final, struct stat *st);

/* Record a layer's last use (its directory's mtime, `st` from of_cache_use) when the
 * recorded one is OF_CACHE_TOUCH_EVERY seconds old or more: one futimens a day at most,
 * and no system call otherwise. */
#define OF_CACHE_TOUCH_EVERY (24 * 60 * 60)
void of_cache_touch(int fd, const struct stat *st);

/* Remove a directory tree without following symbolic links; best effort. */
int of_cache_remove(const char *path);

#endif
