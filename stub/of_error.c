#include "of_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *of_error_prog = "onefile";
static char of_error_buf[1024];

void of_error_init(const char *argv0)
{
    const char *slash;

    if (argv0 == NULL || argv0[0] == '\0')
        return;
    slash = strrchr(argv0, '/');
    if (slash != NULL)
        argv0 = slash + 1;
    if (argv0[0] != '\0')
        of_error_prog = argv0;
}

static void of_error_vset(int err, const char *fmt, va_list ap)
{
    int n = vsnprintf(of_error_buf, sizeof(of_error_buf), fmt, ap);

    if (err != 0 && n >= 0 && (size_t)n < sizeof(of_error_buf))
        snprintf(of_error_buf + n, sizeof(of_error_buf) - (size_t)n, ": %s", strerror(err));
}

int of_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    of_error_vset(0, fmt, ap);
    va_end(ap);
    return -1;
}

int of_error_errno(const char *fmt, ...)
{
    int err = errno;
    va_list ap;

    va_start(ap, fmt);
    of_error_vset(err != 0 ? err : EIO, fmt, ap);
    va_end(ap);
    errno = err;
    return -1;
}

int of_error_prefix(const char *fmt, ...)
{
    char old[sizeof(of_error_buf)];
    va_list ap;
    int n;

    memcpy(old, of_error_buf, sizeof(old));
    va_start(ap, fmt);
    n = vsnprintf(of_error_buf, sizeof(of_error_buf), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(of_error_buf))
        snprintf(of_error_buf + n, sizeof(of_error_buf) - (size_t)n, ": %s", old);
    return -1;
}

const char *of_error_message(void)
{
    return of_error_buf;
}

void of_error_exit(void)
{
    /* Keep it on one line even if a path contains a newline. */
    for (char *p = of_error_buf; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = '?';
    fprintf(stderr, "%s: onefile: %s\n", of_error_prog, of_error_buf[0] ? of_error_buf : "unknown error");
    exit(1);
}
