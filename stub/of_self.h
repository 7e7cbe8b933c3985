/* Finding the launcher's own file, with or without /proc. */
#ifndef OF_SELF_H
#define OF_SELF_H

/* The binary's absolute path (malloc'd), or NULL with of_error set. From
 * /proc/self/exe; where /proc is not mounted (chroots, some sandboxes), from the path
 * the kernel was given to exec (AT_EXECFN), else from argv[0] looked up through $PATH
 * the way the shell did. `argv0` may be NULL. */
char *of_self_path(const char *argv0);

/* Open the file of_self_path found (O_RDONLY | O_CLOEXEC); -1 with errno set. */
int of_self_open(const char *self);

#endif
