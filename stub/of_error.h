/* One-line error messages: "<prog>: onefile: <message>[: strerror(errno)]". */
#ifndef OF_ERROR_H
#define OF_ERROR_H

/* Remember the program name (basename of argv[0]) for the error prefix. */
void of_error_init(const char *argv0);

/* Record a message; the _errno variant appends ": strerror(errno)".
 * Both return -1 so callers can write `return of_error(...)`. */
int of_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int of_error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Put "<formatted text>: " in front of the recorded message; returns -1. */
int of_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append " (<formatted text>)" to the recorded message; returns -1. */
int of_error_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Record `message` as it is, with `errnum` behind it (another thread's failure, handed
 * over: messages are per thread); returns -1. */
int of_error_set(const char *message, int errnum);

/* The errno behind the recorded message (of_error_errno), or 0. */
int of_error_errnum(void);

/* Print "<prog>: onefile: <message>" on stderr now (a note, not an error). */
void of_error_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last recorded message, or "" if none. */
const char *of_error_message(void);

/* Print the recorded message with the prefix and exit with status 1. */
void of_error_exit(void) __attribute__((noreturn));

#ifdef OF_DEBUG
#include <stdio.h>
#define OF_DEBUG_LOG(...) \
    (fprintf(stderr, "onefile debug: " __VA_ARGS__), fputc('\n', stderr))
#else
#define OF_DEBUG_LOG(...) ((void)0)
#endif

#endif
