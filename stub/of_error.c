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

/* Append ": <text>" to the message, truncating it if need be. */
static void of_error_append(const char *text)
{
    size_t used = strlen(of_error_buf), room = sizeof(of_error_buf) - 1 - used, len = strlen(text);

    if (room < 2)
        return;
    memcpy(of_error_buf + used, ": ", 2);
    used += 2;
    room -= 2;
    if (len > room)
        len = room;
    memcpy(of_error_buf + used, text, len);
    of_error_buf[used + len] = '\0';
}

int of_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(of_error_buf, sizeof(of_error_buf), fmt, ap);
    va_end(ap);
    return -1;
}

int of_error_errno(const char *fmt, ...)
{
    int err = errno != 0 ? errno : EIO;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(of_error_buf, sizeof(of_error_buf), fmt, ap);
    va_end(ap);
    of_error_append(strerror(err));
    errno = err;
    return -1;
}

int of_error_prefix(const char *fmt, ...)
{
    char old[sizeof(of_error_buf)];
    va_list ap;

    memcpy(old, of_error_buf, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(of_error_buf, sizeof(of_error_buf), fmt, ap);
    va_end(ap);
    of_error_append(old);
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
    fprintf(stderr, "%s: onefile: %s\n", of_error_prog, of_error_buf[0] != '\0' ? of_error_buf : "unknown error");
    exit(1);
}
