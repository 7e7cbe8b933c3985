#define _GNU_SOURCE
#include "of_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "of_error.h"
#include "of_format.h"

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

int of_cache_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Make `dir` absolute (relative to the working directory) and drop trailing '/'s. */
static char *of_cache_absolute(const char *dir)
{
    char *cwd = NULL, *out = NULL;
    size_t len;

    if (dir[0] == '/') {
        out = strdup(dir);
    } else {
        cwd = getcwd(NULL, 0);
        if (cwd == NULL) {
            of_error_errno("cannot make the cache directory '%s' absolute", dir);
            goto cleanup;
        }
        out = of_cache_path(cwd, dir);
    }
    if (out == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    for (len = strlen(out); len > 1 && out[len - 1] == '/'; len--)
        out[len - 1] = '\0';
cleanup:
    free(cwd);
    return out;
}

/* The shared-/tmp fallback: ours alone, or refused (someone could plant a layer). */
static char *of_cache_tmp_root(void)
{
    const char *tmp = getenv("TMPDIR");
    char name[64], *root = NULL, *out = NULL;
    struct stat st;

    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(name, sizeof(name), "onefile-%lu", (unsigned long)geteuid());
    root = of_cache_path(tmp, name);
    if (root == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    if (lstat(root, &st) != 0) {
        if (errno != ENOENT || (mkdir(root, 0700) != 0 && errno != EEXIST) || lstat(root, &st) != 0) {
            of_error_errno("cannot create the cache directory %s", root);
            goto cleanup;
        }
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        of_error("%s is not a private directory owned by you (mode 0700, no symbolic link); "
                 "remove it or set " OF_ENV_CACHE_DIR, root);
        goto cleanup;
    }
    out = of_cache_absolute(root);
cleanup:
    free(root);
    return out;
}

char *of_cache_root(void)
{
    const char *env = getenv(OF_ENV_CACHE_DIR);
    char *joined = NULL, *out = NULL;

    if (env != NULL && env[0] != '\0') {
        out = of_cache_absolute(env);
        goto cleanup;
    }
    env = getenv("XDG_CACHE_HOME");
    if (env != NULL && env[0] == '/') {
        joined = of_cache_path(env, "onefile");
    } else {
        env = getenv("HOME");
        if (env == NULL || env[0] == '\0') {
            out = of_cache_tmp_root();
            goto cleanup;
        }
        joined = of_cache_path(env, ".cache/onefile");
    }
    if (joined == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    out = of_cache_absolute(joined);
cleanup:
    free(joined);
    return out;
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
    if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
        rc = -1;
        goto cleanup;
    }
    fd = -1; /* owned by dir now */
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
    return rc;
}

int of_cache_remove(const char *path)
{
    return of_cache_remove_at(AT_FDCWD, path);
}

int of_cache_install(const char *root, const char *kind, const char *key, const char *final, of_cache_fill fill,
                     void *arg)
{
    char *root_copy = strdup(root), *kind_dir = of_cache_path(root, kind), *tmp = NULL;
    size_t len = kind_dir != NULL ? strlen(kind_dir) + strlen(key) + sizeof("/.tmp--XXXXXX") : 0;
    int fd = -1, rc = -1;

    if (root_copy == NULL || kind_dir == NULL || (tmp = malloc(len)) == NULL) {
        of_error("out of memory");
        goto cleanup;
    }
    snprintf(tmp, len, "%s/.tmp-%s-XXXXXX", kind_dir, key);
    if (of_cache_mkdirs(root_copy, 0700) != 0)
        goto cleanup;
    if (mkdir(kind_dir, 0755) != 0 && errno != EEXIST) {
        of_error_errno("cannot create the cache directory %s", kind_dir);
        goto cleanup;
    }
    if (mkdtemp(tmp) == NULL) {
        of_error_errno("cannot create a directory in %s", kind_dir);
        free(tmp);
        tmp = NULL;
        goto cleanup;
    }
    OF_DEBUG_LOG("unpacking into %s", tmp);
    fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        of_error_errno("cannot open %s", tmp);
        goto cleanup;
    }
    if (fill(fd, tmp, arg) != 0)
        goto cleanup;
    if (fchmod(fd, 0755) != 0) { /* mkdtemp made it 0700 */
        of_error_errno("cannot change the mode of %s", tmp);
        goto cleanup;
    }
    if (rename(tmp, final) != 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            of_error_errno("cannot rename %s to %s", tmp, final);
            goto cleanup;
        }
        OF_DEBUG_LOG("%s appeared meanwhile, using it", final);
        of_cache_remove(tmp); /* best effort: a leftover does no harm */
    }
    free(tmp);
    tmp = NULL;
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp != NULL)
        of_cache_remove(tmp);
    free(tmp);
    free(kind_dir);
    free(root_copy);
    return rc;
}
