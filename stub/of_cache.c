#define _GNU_SOURCE
#include "of_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "of_error.h"
#include "of_format.h"
#include "of_test.h"

/* After this long waiting for another unpacker, say so (once). */
#define OF_CACHE_WAIT_NOTE_MS 10000

char *of_cache_path(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);

    while (la > 0 && a[la - 1] == '/')
        la--;
    if (p != NULL) {
        memcpy(p, a, la);
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
    }
    return p;
}

int of_cache_path_into(char *out, size_t size, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    while (la > 0 && a[la - 1] == '/')
        la--;
    if (la + lb + 2 > size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(out, a, la);
    out[la] = '/';
    memcpy(out + la + 1, b, lb + 1);
    return 0;
}

int of_cache_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* `dir` made absolute (relative to the working directory) into `out`, without trailing
 * '/'s. Returns 0, or -1 with of_error set. */
static int of_cache_absolute(const char *dir, char out[PATH_MAX])
{
    char cwd[PATH_MAX];
    size_t len;

    if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
        return of_error_errno("cannot make the cache directory '%s' absolute", dir);
    if (dir[0] == '/' ? snprintf(out, PATH_MAX, "%s", dir) >= PATH_MAX
                      : of_cache_path_into(out, PATH_MAX, cwd, dir) != 0)
        return of_error("the cache directory '%.200s' is too long a path (at most %d bytes)", dir, PATH_MAX - 1);
    for (len = strlen(out); len > 1 && out[len - 1] == '/'; len--)
        out[len - 1] = '\0';
    return 0;
}

int of_cache_fallback(struct of_cache_root *out, const char *why, int create)
{
    const char *tmp = getenv("TMPDIR");
    char name[64], root[PATH_MAX];
    struct stat st;

    out->path[0] = '\0';
    out->why = why;
    out->implicit = 0;
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(name, sizeof(name), "onefile-%lu", (unsigned long)geteuid());
    if (of_cache_path_into(root, sizeof(root), tmp, name) != 0)
        return of_error_errno("cannot use TMPDIR=%.200s", tmp);
    if (lstat(root, &st) != 0) {
        if (errno == ENOENT && !create)
            return of_cache_absolute(root, out->path);
        if (errno != ENOENT || (mkdir(root, 0700) != 0 && errno != EEXIST) || lstat(root, &st) != 0)
            return of_error_errno("cannot create the cache directory %s", root);
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0)
        return of_error("%s is not a private directory owned by you (mode 0700, no symbolic link); "
                        "remove it or set " OF_ENV_CACHE_DIR, root);
    return of_cache_absolute(root, out->path);
}

int of_cache_root(struct of_cache_root *out, int create)
{
    const char *env = getenv(OF_ENV_CACHE_DIR);
    char joined[PATH_MAX];

    out->path[0] = '\0';
    out->implicit = 1;
    if (env != NULL && env[0] != '\0') {
        out->why = "$" OF_ENV_CACHE_DIR;
        out->implicit = 0;
        return of_cache_absolute(env, out->path);
    }
    env = getenv("XDG_CACHE_HOME");
    if (env != NULL && env[0] == '/') { /* a relative one is invalid: the spec says ignore it */
        out->why = "$XDG_CACHE_HOME";
        if (of_cache_path_into(joined, sizeof(joined), env, "onefile") != 0)
            return of_error_errno("cannot use XDG_CACHE_HOME=%.200s", env);
    } else {
        env = getenv("HOME");
        if (env == NULL || env[0] != '/')
            return of_cache_fallback(out, "${TMPDIR:-/tmp}, as $HOME is not set", create);
        out->why = "$HOME";
        if (of_cache_path_into(joined, sizeof(joined), env, ".cache/onefile") != 0)
            return of_error_errno("cannot use HOME=%.200s", env);
    }
    return of_cache_absolute(joined, out->path);
}

int of_cache_writable(const char *path)
{
    char *p = strdup(path), *slash;
    struct stat st;
    int ok = 0;

    while (p != NULL) {
        if (stat(p, &st) == 0) {
            ok = S_ISDIR(st.st_mode) && access(p, W_OK | X_OK) == 0;
            break;
        }
        slash = strrchr(p, '/');
        if (errno != ENOENT || slash == NULL || slash == p)
            break;
        *slash = '\0';
    }
    free(p);
    return ok;
}

int of_cache_noexec(const char *path)
{
    struct statvfs vfs;

    return statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOEXEC) != 0;
}

/* mkdir -p, `mode` for each directory created. */
static int of_cache_mkdirs(char *path, mode_t mode)
{
    int rc = -1;
    char saved;

    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        saved = *p;
        *p = '\0';
        if (mkdir(path, mode) != 0 && errno != EEXIST) {
            of_error_errno("cannot create the cache directory %s", path);
            *p = saved;
            goto cleanup;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    rc = 0;
cleanup:
    return rc;
}

static int of_cache_remove_at(int parent, const char *name)
{
    int fd, rc = 0;
    DIR *dir = NULL;
    struct dirent *de;

    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) { /* a file or link: just unlink it */
        rc = unlinkat(parent, name, 0);
        goto done;
    }
    if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
        rc = -1;
        goto cleanup;
    }
    fd = -1; /* owned by dir now */
    OF_TEST_POINT("remove");
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        /* unlinkat never follows links; EISDIR means a real directory. */
        if (unlinkat(dirfd(dir), de->d_name, 0) != 0 &&
            (errno != EISDIR || of_cache_remove_at(dirfd(dir), de->d_name) != 0))
            rc = -1;
    }
cleanup:
    if (dir != NULL)
        closedir(dir);
    if (fd >= 0)
        close(fd);
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0)
        rc = -1;
done:
    return rc;
}

int of_cache_remove(const char *path)
{
    return of_cache_remove_at(AT_FDCWD, path);
}


int of_cache_prepare(const char *root)
{
    char *copy = strdup(root), *kind = NULL;
    static const char *const kinds[] = { OF_CACHE_RUNTIME_DIR, OF_CACHE_APP_DIR };
    int rc = -1;

    if (copy == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    if (of_cache_mkdirs(copy, 0700) != 0)
        goto cleanup;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
        free(kind);
        kind = of_cache_path(root, kinds[i]);
        if (kind == NULL) {
            of_error("out of memory");
            goto cleanup;
        }
        if (mkdir(kind, 0755) != 0 && errno != EEXIST) {
            of_error_errno("cannot create the cache directory %s", kind);
            goto cleanup;
        }
    }
    /* Found out now rather than by a failing exec after unpacking everything. */
    if (of_cache_noexec(root)) {
        of_error("the cache directory %s is on a file system mounted noexec, so the app could not run from it; "
                 "set " OF_ENV_CACHE_DIR " to a directory on one that allows executables", root);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(kind);
    free(copy);
    return rc;
}

/* How a lock is taken: give up at once if busy, or wait. */
enum of_cache_wait { OF_CACHE_TRY, OF_CACHE_WAIT };

/* flock() the lock file `lock` (creating it): *out is its fd, or -1 if it is busy
 * (OF_CACHE_TRY) or `final` appeared while we waited (`final` may be NULL). Returns 0,
 * or -1 with of_error set. The lock file is removed by its holder (of_cache_unlock), so
 * after locking we check that the name still leads to the file we locked. */
static int of_cache_lock(const char *lock, enum of_cache_wait wait, const char *final, int *out)
{
    struct timespec pause = { 0, 10 * 1000 * 1000 };
    struct stat held, named;
    unsigned long waited_ms = 0;
    int fd = -1, rc = -1;

    *out = -1;
    for (;;) {
        if (fd < 0) {
            fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0) {
                of_error_errno("cannot create the lock file %s", lock);
                goto cleanup;
            }
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (fstat(fd, &held) == 0 && lstat(lock, &named) == 0 && held.st_dev == named.st_dev &&
                held.st_ino == named.st_ino)
                break;
            close(fd); /* removed meanwhile by its last holder: lock the new one */
            fd = -1;
            continue;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            of_error_errno("cannot lock %s", lock);
            goto cleanup;
        }
        if (wait == OF_CACHE_TRY || (final != NULL && of_cache_exists(final))) {
            rc = 0;
            goto cleanup;
        }
        if (waited_ms == OF_CACHE_WAIT_NOTE_MS)
            of_error_note("waiting for another process to finish with %s (it holds %s)", final != NULL ? final : lock,
                          lock);
        nanosleep(&pause, NULL);
        waited_ms += 10;
    }
    *out = fd;
    fd = -1;
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Remove the lock file, then release it: whoever waits on the old file sees it gone. */
static void of_cache_unlock(const char *lock, int fd)
{
    if (fd >= 0) {
        unlink(lock);
        close(fd);
    }
}

/* The key of ".tmp-<key>-XXXXXX" or ".lock-<key>" (copied to `key`), or -1 for any
 * other name: only names we make are ever removed. */
static int of_cache_leftover_key(const char *name, char key[OF_CACHE_KEY_HEX_DIGITS + 1])
{
    size_t tmp_len = strlen(OF_CACHE_TMP_PREFIX), lock_len = strlen(OF_CACHE_LOCK_PREFIX);
    const char *p;
    size_t end;

    if (strncmp(name, OF_CACHE_TMP_PREFIX, tmp_len) == 0) {
        p = name + tmp_len;
        end = OF_CACHE_KEY_HEX_DIGITS;
        if (strlen(p) != end + 7 || p[end] != '-')
            return -1;
    } else if (strncmp(name, OF_CACHE_LOCK_PREFIX, lock_len) == 0) {
        p = name + lock_len;
        if (strlen(p) != OF_CACHE_KEY_HEX_DIGITS)
            return -1;
    } else {
        return -1;
    }
    for (int i = 0; i < OF_CACHE_KEY_HEX_DIGITS; i++)
        if (strchr("0123456789abcdef", p[i]) == NULL || p[i] == '\0')
            return -1;
    memcpy(key, p, OF_CACHE_KEY_HEX_DIGITS);
    key[OF_CACHE_KEY_HEX_DIGITS] = '\0';
    return 0;
}

int of_cache_sweep(const char *kind_dir)
{
    char key[OF_CACHE_KEY_HEX_DIGITS + 1], name[OF_CACHE_KEY_HEX_DIGITS + 16], *lock = NULL;
    struct dirent *de;
    int removed = 0, fd;
    DIR *dir = opendir(kind_dir);

    while (dir != NULL && (de = readdir(dir)) != NULL) {
        if (of_cache_leftover_key(de->d_name, key) != 0)
            continue;
        snprintf(name, sizeof(name), OF_CACHE_LOCK_PREFIX "%s", key);
        free(lock);
        lock = of_cache_path(kind_dir, name);
        if (lock == NULL || of_cache_lock(lock, OF_CACHE_TRY, NULL, &fd) != 0 || fd < 0)
            continue; /* a live unpacker holds it (or we can't tell): not ours to touch */
        if (strcmp(de->d_name, name) != 0) {
            OF_DEBUG_LOG("removing the leftover %s/%s", kind_dir, de->d_name);
            OF_TEST_POINT("sweep");
            of_cache_remove_at(dirfd(dir), de->d_name);
        }
        of_cache_unlock(lock, fd);
        removed++;
    }
    if (dir != NULL)
        closedir(dir);
    free(lock);
    return removed;
}

/* "<kind_dir>/.lock-<key>" and "<kind_dir>/.tmp-<key>-XXXXXX" (malloc'd). */
static int of_cache_names(const char *kind_dir, const char *key, char **lock, char **tmp)
{
    size_t len = strlen(kind_dir) + strlen(key) + sizeof("/" OF_CACHE_TMP_PREFIX OF_CACHE_LOCK_PREFIX "-XXXXXX");

    *lock = malloc(len);
    *tmp = malloc(len);
    if (*lock == NULL || *tmp == NULL) {
        of_error("out of memory");
        return -1;
    }
    snprintf(*lock, len, "%s/" OF_CACHE_LOCK_PREFIX "%s", kind_dir, key);
    snprintf(*tmp, len, "%s/" OF_CACHE_TMP_PREFIX "%s-XXXXXX", kind_dir, key);
    return 0;
}

/* Publishing a layer before it is on disk: OF_CACHE_PENDING_FILE says in which boot. */
static int of_cache_write_pending(int dirfd, const char *dirpath, const char *boot)
{
    char line[OF_CACHE_BOOT_ID_LEN + 1];
    int fd = openat(dirfd, OF_CACHE_PENDING_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

    memcpy(line, boot, OF_CACHE_BOOT_ID_LEN);
    line[OF_CACHE_BOOT_ID_LEN] = '\n';
    if (fd < 0 || write(fd, line, sizeof(line)) != (ssize_t)sizeof(line) || close(fd) != 0) {
        if (fd >= 0)
            close(fd);
        return of_error_errno("cannot write %s/" OF_CACHE_PENDING_FILE, dirpath);
    }
    return 0;
}

/* Make the temporary directory `tmp` (mkdtemp: its XXXXXX replaced; *made set once it
 * exists) and fill it. Returns its fd, or -1 with of_error set. */
static int of_cache_fill_tmp(const char *kind_dir, char *tmp, of_cache_fill fill, void *arg, int *made)
{
    int fd;

    if (mkdtemp(tmp) == NULL) {
        of_error_errno("cannot create a directory in %s", kind_dir);
        return -1;
    }
    *made = 1;
    OF_TEST_POINT("tmpdir");
    OF_DEBUG_LOG("unpacking into %s", tmp);
    fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        of_error_errno("cannot open %s", tmp);
        return -1;
    }
    if (fill(fd, tmp, arg) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int of_cache_install(const char *kind_dir, const char *key, const char *final, of_cache_fill fill, void *arg)
{
    char *lock = NULL, *tmp = NULL, boot[OF_CACHE_BOOT_ID_LEN + 1];
    int lock_fd = -1, fd = -1, made = 0, rc = -1;

    if (of_cache_names(kind_dir, key, &lock, &tmp) != 0)
        goto cleanup;
    if (of_cache_lock(lock, OF_CACHE_WAIT, final, &lock_fd) != 0)
        goto cleanup;
    OF_TEST_POINT("locked");
    if (of_cache_exists(final)) { /* another process made it while we waited */
        OF_DEBUG_LOG("%s appeared meanwhile, using it", final);
        rc = 0;
        goto cleanup;
    }
    fd = of_cache_fill_tmp(kind_dir, tmp, fill, arg, &made);
    if (fd < 0)
        goto cleanup;
    OF_TEST_POINT("filled");
    /* After a power cut a layer under its final name is complete (docs/reliability.md
     * "Power cuts"). Where the boot is known that needs no wait here: the layer goes in
     * place pending (0700, as mkdtemp made it, with the boot id), and the clean-up flushes
     * it and marks it; a start that finds a pending layer of an earlier boot unpacks it
     * again. Else (no /proc) it is flushed first: one syncfs of its file system costs far
     * less than an fsync of each file, and on Linux >= 5.8 reports a failed writeback. */
    if (of_cache_boot_id(boot) == 0) {
        if (of_cache_write_pending(fd, tmp, boot) != 0)
            goto cleanup;
    } else {
        if (fchmod(fd, 0755) != 0) {
            of_error_errno("cannot change the mode of %s", tmp);
            goto cleanup;
        }
        if (syncfs(fd) != 0) {
            of_error_errno("cannot flush %s to disk", tmp);
            goto cleanup;
        }
        OF_TEST_POINT("flushed");
    }
    if (rename(tmp, final) != 0) {
        /* Only without the lock (its file removed by hand): the other copy is as good. */
        if (errno != EEXIST && errno != ENOTEMPTY) {
            of_error_errno("cannot rename %s to %s", tmp, final);
            goto cleanup;
        }
        OF_DEBUG_LOG("%s appeared meanwhile, using it", final);
    } else {
        made = 0;
    }
    OF_TEST_POINT("renamed");
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (made)
        of_cache_remove(tmp); /* best effort: a leftover is swept later */
    of_cache_unlock(lock, lock_fd);
    free(tmp);
    free(lock);
    return rc;
}

int of_cache_add(const char *kind_dir, const char *key, const char *final, const char *name, of_cache_fill fill,
                 void *arg)
{
    char *lock = NULL, *tmp = NULL, *from = NULL, *to = of_cache_path(final, name);
    int lock_fd = -1, fd = -1, made = 0, rc = -1;
    struct stat st;

    if (to == NULL || of_cache_names(kind_dir, key, &lock, &tmp) != 0) {
        of_error("out of memory");
        goto cleanup;
    }
    /* final is there already: wait for the lock itself, not for final to appear. */
    if (of_cache_lock(lock, OF_CACHE_WAIT, NULL, &lock_fd) != 0)
        goto cleanup;
    if (lstat(to, &st) == 0) { /* another start added it while we waited */
        rc = 0;
        goto cleanup;
    }
    fd = of_cache_fill_tmp(kind_dir, tmp, fill, arg, &made);
    if (fd < 0)
        goto cleanup;
    if ((from = of_cache_path(tmp, name)) == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    /* Flushed before it appears: a power cut can lose the rename (a later start adds it
     * again), never the files' data under their final names. */
    if (syncfs(fd) != 0) {
        of_error_errno("cannot flush %s to disk", tmp);
        goto cleanup;
    }
    OF_TEST_POINT("flushed");
    if (rename(from, to) != 0) {
        of_error_errno("cannot rename %s to %s", from, to);
        goto cleanup;
    }
    OF_TEST_POINT("renamed");
    rc = 1;
cleanup:
    if (fd >= 0)
        close(fd);
    if (made)
        of_cache_remove(tmp); /* what is left of it; best effort: a leftover is swept later */
    of_cache_unlock(lock, lock_fd);
    free(from);
    free(to);
    free(tmp);
    free(lock);
    return rc;
}

int of_cache_boot_id(char out[OF_CACHE_BOOT_ID_LEN + 1])
{
    char buf[OF_CACHE_BOOT_ID_LEN + 2];
    int fd = open(OF_CACHE_BOOT_ID, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

    if (fd >= 0)
        close(fd);
    /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n": anything else (an empty file bound over
     * it, a short read) is no id. */
    if (n != OF_CACHE_BOOT_ID_LEN + 1 || buf[OF_CACHE_BOOT_ID_LEN] != '\n')
        return -1;
    for (int i = 0; i < OF_CACHE_BOOT_ID_LEN; i++)
        if (strchr("0123456789abcdef-", buf[i]) == NULL)
            return -1;
    memcpy(out, buf, OF_CACHE_BOOT_ID_LEN);
    out[OF_CACHE_BOOT_ID_LEN] = '\0';
    return 0;
}

int of_cache_durable(int fd, const struct stat *st)
{
    char boot[OF_CACHE_BOOT_ID_LEN + 1], line[OF_CACHE_BOOT_ID_LEN + 2];
    int pending;
    ssize_t n;

    if ((st->st_mode & 077) != 0) /* 0755: flushed (layers of older launchers too) */
        return 1;
    pending = openat(fd, OF_CACHE_PENDING_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    n = pending >= 0 ? read(pending, line, sizeof(line)) : -1;
    if (pending >= 0)
        close(pending);
    if (n != OF_CACHE_BOOT_ID_LEN + 1 || line[OF_CACHE_BOOT_ID_LEN] != '\n' || of_cache_boot_id(boot) != 0 ||
        memcmp(line, boot, OF_CACHE_BOOT_ID_LEN) != 0)
        return -1;
    return 0;
}

int of_cache_settle(const int *fds, size_t count)
{
    struct stat st;
    dev_t synced[8];
    size_t devices = 0, j;
    int marked = 0;

    for (size_t i = 0; i < count; i++) {
        if (fstat(fds[i], &st) != 0)
            continue;
        for (j = 0; j < devices && synced[j] != st.st_dev; j++)
            ;
        if (j == devices) {
            /* A failed writeback (EIO) leaves the layers pending: a start of a later boot
             * unpacks them again. */
            if (devices == sizeof(synced) / sizeof(synced[0]) || syncfs(fds[i]) != 0)
                continue;
            synced[devices++] = st.st_dev;
        }
        OF_TEST_POINT("flushed");
        /* The mark goes after the flush, so a mark that reached the disk means a layer
         * that did; a mark lost in a power cut only costs unpacking it again. */
        if (fchmod(fds[i], 0755) == 0) {
            unlinkat(fds[i], OF_CACHE_PENDING_FILE, 0);
            marked++;
        }
    }
    return marked;
}

int of_cache_stale(const char *final, void *arg)
{
    struct stat st;
    int fd = open(final, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), stale;

    (void)arg;
    if (fd < 0)
        return 0; /* gone meanwhile */
    stale = fstat(fd, &st) == 0 && of_cache_durable(fd, &st) < 0;
    close(fd);
    return stale;
}

/* Nonzero if a process holds `fd`'s layer (of_cache_use): it can't get an exclusive
 * flock. Otherwise it keeps that lock, so no start can take the layer up until `fd` is
 * closed (after the rename that takes the layer out of place). */
static int of_cache_held(int fd)
{
    return flock(fd, LOCK_EX | LOCK_NB) != 0;
}

int of_cache_uninstall(const char *kind_dir, const char *key, const char *final, int flags, of_cache_check damaged,
                       void *arg)
{
    char *lock = NULL, *tmp = NULL;
    int lock_fd = -1, dir_fd = -1, rc = -1;
    struct stat st;

    if (lstat(final, &st) != 0) {
        rc = errno == ENOENT ? 0 : of_error_errno("cannot remove %s", final);
        goto cleanup;
    }
    if (of_cache_names(kind_dir, key, &lock, &tmp) != 0 ||
        of_cache_lock(lock, (flags & OF_CACHE_IF_UNUSED) ? OF_CACHE_TRY : OF_CACHE_WAIT, NULL, &lock_fd) != 0)
        goto cleanup;
    rc = 0;
    if (lock_fd < 0) /* being unpacked or removed by another process */
        goto cleanup;
    if (flags & OF_CACHE_IF_UNUSED) {
        dir_fd = open(final, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir_fd < 0 || of_cache_held(dir_fd)) /* gone meanwhile, or in use */
            goto cleanup;
    }
    if (damaged != NULL && damaged(final, arg) == 0)
        goto cleanup;
    rc = -1;
    /* Renamed over an empty temporary directory: from now on a start unpacks afresh. */
    if (mkdtemp(tmp) == NULL) {
        of_error_errno("cannot create a directory in %s", kind_dir);
        goto cleanup;
    }
    if (rename(final, tmp) != 0) {
        rc = errno == ENOENT ? 0 : of_error_errno("cannot remove %s", final);
        of_cache_remove(tmp);
        goto cleanup;
    }
    OF_TEST_POINT("moved");
    if (dir_fd >= 0) { /* out of place: a start waiting on its lock sees that */
        close(dir_fd);
        dir_fd = -1;
    }
    if (of_cache_remove(tmp) != 0) {
        of_error_errno("cannot remove all of %s (renamed to %s)", final, tmp);
        goto cleanup;
    }
    rc = 1;
cleanup:
    if (dir_fd >= 0)
        close(dir_fd);
    of_cache_unlock(lock, lock_fd);
    free(tmp);
    free(lock);
    return rc;
}

int of_cache_write(const char *kind_dir, const char *key, const char *final, const char *content)
{
    char *lock = NULL, *tmp = NULL;
    int lock_fd = -1, fd = -1, made = 0, rc = -1;
    size_t len = strlen(content);

    if (of_cache_names(kind_dir, key, &lock, &tmp) != 0 || of_cache_lock(lock, OF_CACHE_WAIT, NULL, &lock_fd) != 0)
        goto cleanup;
    fd = mkstemp(tmp);
    if (fd < 0) {
        of_error_errno("cannot create a file in %s", kind_dir);
        goto cleanup;
    }
    made = 1;
    if (fchmod(fd, 0644) != 0 || write(fd, content, len) != (ssize_t)len || close(fd) != 0) {
        fd = -1;
        of_error_errno("cannot write %s", tmp);
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, final) != 0) {
        of_error_errno("cannot rename %s to %s", tmp, final);
        goto cleanup;
    }
    made = 0;
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    of_cache_unlock(lock, lock_fd);
    free(tmp);
    free(lock);
    return rc;
}

int of_cache_use(const char *final, struct stat *st)
{
    struct stat named, own;
    int fd, err;

    /* Not O_CLOEXEC: the app's Python keeps it, and so the lock, for as long as it runs. */
    fd = open(final, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    if (st == NULL)
        st = &own; /* only needed when a clean-up holds the layer (below) */
    else if (fstat(fd, st) != 0)
        goto fail;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        return fd;
    if (errno != EWOULDBLOCK || (st == &own && fstat(fd, st) != 0))
        goto fail;
    /* A clean-up holds it for the moment it takes to move it out of place (or to find
     * it in use): wait for that, then make sure it is still there. */
    if (flock(fd, LOCK_SH) != 0)
        goto fail;
    if (stat(final, &named) != 0 || named.st_dev != st->st_dev || named.st_ino != st->st_ino) {
        errno = ENOENT;
        goto fail;
    }
    return fd;
fail:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

void of_cache_touch(int fd, const struct stat *st)
{
    struct timespec now, times[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };

    /* CLOCK_REALTIME_COARSE is read from the vDSO: no system call. */
    if (clock_gettime(CLOCK_REALTIME_COARSE, &now) == 0 && now.tv_sec - st->st_mtime >= OF_CACHE_TOUCH_EVERY)
        futimens(fd, times);
}
