#define _GNU_SOURCE
#include "of_self.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "of_error.h"

/* realpath() of `path` if it names an executable regular file, else NULL. */
static char *of_self_real(const char *path)
{
    struct stat st;
    char *real;

    if (path == NULL || path[0] == '\0' || stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, X_OK) != 0)
        return NULL;
    real = realpath(path, NULL);
    return real;
}

/* argv[0] without a '/', found in $PATH as execvp does (an empty entry is "."). */
static char *of_self_in_path(const char *name)
{
    const char *path = getenv("PATH"), *p, *end;
    char candidate[PATH_MAX];
    char *found = NULL;
    size_t len;

    if (path == NULL)
        path = "/usr/local/bin:/bin:/usr/bin";
    for (p = path; found == NULL; p = end + 1) {
        end = strchr(p, ':');
        if (end == NULL)
            end = p + strlen(p);
        len = (size_t)(end - p);
        if (len == 0)
            found = of_self_real(name);
        else if (len + 1 + strlen(name) < sizeof(candidate)) {
            memcpy(candidate, p, len);
            candidate[len] = '/';
            strcpy(candidate + len + 1, name);
            found = of_self_real(candidate);
        }
        if (*end == '\0')
            break;
    }
    return found;
}

char *of_self_path(const char *argv0)
{
    char buf[PATH_MAX + 1], *out = NULL;
    const char *execfn;
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf));
    int err = errno;

    if (n >= 0 && (size_t)n < sizeof(buf)) {
        buf[n] = '\0';
        out = strdup(buf);
        if (out == NULL)
            of_error("out of memory");
        return out;
    }
    /* No /proc: what exec was given, relative to the directory we still run in. */
    execfn = (const char *)getauxval(AT_EXECFN);
    out = of_self_real(execfn);
    if (out == NULL && argv0 != NULL)
        out = strchr(argv0, '/') != NULL ? of_self_real(argv0) : of_self_in_path(argv0);
    if (out == NULL) {
        errno = n < 0 ? err : ENAMETOOLONG;
        of_error_errno("cannot find this program's file (/proc/self/exe, the exec path and $PATH did not tell)");
    }
    return out;
}

int of_self_open(const char *self)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

    /* /proc names exactly the file the kernel runs; without it, the path found above. */
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
        fd = open(self, O_RDONLY | O_CLOEXEC);
    return fd;
}
