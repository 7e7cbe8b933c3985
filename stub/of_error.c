#include "of_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *of_error_prog = "onefile";
/* Per thread: the unpacker's workers each record their own failure (of_unpack.c). */
static _Thread_local char of_error_buf[1024];
static _Thread_local int of_error_saved_errno;

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
    of_error_saved_errno = 0;
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
    of_error_saved_errno = err;
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

int of_error_hint(const char *fmt, ...)
{
    size_t used = strlen(of_error_buf);
    va_list ap;

    if (used + 4 > sizeof(of_error_buf)) /* no room for " (x)" */
        return -1;
    memcpy(of_error_buf + used, " (", 2);
    used += 2;
    va_start(ap, fmt); /* leaves room for the ')' */
    vsnprintf(of_error_buf + used, sizeof(of_error_buf) - used - 1, fmt, ap);
    va_end(ap);
    used += strlen(of_error_buf + used);
    of_error_buf[used++] = ')';
    of_error_buf[used] = '\0';
    return -1;
}

int of_error_set(const char *message, int errnum)
{
    snprintf(of_error_buf, sizeof(of_error_buf), "%s", message);
    of_error_saved_errno = errnum;
    return -1;
}

int of_error_errnum(void)
{
    return of_error_saved_errno;
}

/* Print one line on stderr: control characters (a path may hold any) become '?'. */
static void of_error_print(const char *text)
{
    fprintf(stderr, "%s: onefile: ", of_error_prog);
    for (const char *p = text; *p != '\0'; p++)
        fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
    fputc('\n', stderr);
}

void of_error_note(const char *fmt, ...)
{
    char text[sizeof(of_error_buf)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    of_error_print(text);
}

const char *of_error_message(void)
{
    return of_error_buf;
}

void of_error_exit(void)
{
    of_error_print(of_error_buf[0] != '\0' ? of_error_buf : "unknown error");
    exit(1);
}
