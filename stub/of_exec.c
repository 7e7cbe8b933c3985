/* Exec'ing the app's Python in place of the launcher (same PID), and saying why that
 * failed. */
#define _GNU_SOURCE
#include "of_exec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "of_cache.h"
#include "of_error.h"
#include "of_format.h"

/* Nonzero if the environment entry `entry` ("NAME=value") sets `name`. */
static int of_exec_env_sets(const char *entry, const char *name)
{
    size_t len = strlen(name);

    return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/* The name the binary was started by, for ONEFILE_ARGV0: argv[0] when it is a path;
 * when it is a bare name found in PATH, our own path if that is our file's name, else the
 * name itself (a link named like one of the app's commands: bin/onefile-main picks the
 * command by it). A string comparison: no file-system work. */
static const char *of_exec_argv0(const struct of_binary *b, int argc, char **argv)
{
    const char *base = strrchr(b->self, '/');

    if (argc < 1 || argv[0][0] == '\0')
        return b->self;
    if (strchr(argv[0], '/') != NULL)
        return argv[0];
    return strcmp(argv[0], base != NULL ? base + 1 : b->self) == 0 ? b->self : argv[0];
}

/* Nonzero if this start sets LOCPATH to the bundled glibc's locales: only where the
 * bundled glibc runs and the system has no glibc loader (so no child can be a glibc
 * program that would read it), unless LOCALE_ARCHIVE (NixOS) or LOCPATH is set
 * (docs/libc-design.md, Verdict 3: C.UTF-8 is locale data, not built into glibc). */
static int of_exec_sets_locpath(const struct of_binary *b)
{
    return of_binary_bundled(b) && !b->libc.loader_found &&
           getenv("LOCALE_ARCHIVE") == NULL && getenv("LOCPATH") == NULL;
}

/* Exec the app's Python; returns only when that fails, with errno. Its environment is
 * ours with where the binary is (ONEFILE_BINARY, ONEFILE_ARGV0) and without PYTHONHOME
 * and PYTHONPATH, built here on the stack instead of with setenv, as the warm path
 * allocates nothing (see struct of_binary_paths). With `interpreter` (ONEFILE=python),
 * the app's Python runs the caller's arguments itself, with no ONEFILE_ARGV0. */
int of_exec_app(const struct of_binary *b, int argc, char **argv, int interpreter)
{
    const char *app_dir = b->dirs[OF_LAYER_APP];
    const char *argv0 = of_exec_argv0(b, argc, argv);
    char python[PATH_MAX], script[PATH_MAX];
    char binary_var[sizeof(OF_ENV_BINARY "=") + strlen(b->self)];
    char argv0_var[sizeof(OF_ENV_ARGV0 "=") + strlen(argv0)];
    char locpath_var[sizeof("LOCPATH=/" OF_RUNTIME_LIBC_LOCALE) + strlen(b->dirs[OF_LAYER_RUNTIME])];
    char *args[(argc > 0 ? argc : 1) + 2];
    size_t count = 0, n = 0;

    for (char **e = environ; e != NULL && *e != NULL; e++)
        count++;
    char *env[count + 4];

    if (of_cache_path_into(python, sizeof(python), app_dir, of_binary_python(b)) != 0 ||
        of_cache_path_into(script, sizeof(script), app_dir, OF_APP_MAIN) != 0)
        return errno;
    snprintf(binary_var, sizeof(binary_var), OF_ENV_BINARY "=%s", b->self);
    snprintf(argv0_var, sizeof(argv0_var), OF_ENV_ARGV0 "=%s", argv0);
    env[n++] = binary_var;
    if (!interpreter)
        env[n++] = argv0_var;
    if (of_exec_sets_locpath(b)) {
        snprintf(locpath_var, sizeof(locpath_var), "LOCPATH=%s/" OF_RUNTIME_LIBC_LOCALE, b->dirs[OF_LAYER_RUNTIME]);
        env[n++] = locpath_var;
    }
    for (size_t i = 0; i < count; i++) {
        if (!of_exec_env_sets(environ[i], OF_ENV_BINARY) && !of_exec_env_sets(environ[i], OF_ENV_ARGV0) &&
            !of_exec_env_sets(environ[i], "PYTHONHOME") && !of_exec_env_sets(environ[i], "PYTHONPATH"))
            env[n++] = environ[i];
    }
    env[n] = NULL;
    args[0] = python;
    args[1] = script;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    args[argc > 0 ? argc + 1 : 2] = NULL;
    if (interpreter) { /* python ARGS: the script's place is the first argument's */
        for (int i = 1; args[i] != NULL; i++)
            args[i] = args[i + 1];
    }
    OF_DEBUG_LOG("exec %s %s", python, script);
    execve(python, args, env);
    return errno;
}

/* Say why the exec failed (`err`). */
void of_exec_failed(const struct of_binary *b, int err)
{
    char *python = of_cache_path(b->dirs[OF_LAYER_APP], of_binary_python(b));

    if (python == NULL) {
        of_error("out of memory");
    } else if (err == EACCES && of_cache_noexec(b->dirs[OF_LAYER_RUNTIME])) {
        of_error("cannot execute %s: the cache %s is on a file system mounted noexec; set " OF_ENV_CACHE_DIR
                 " to a directory on one that allows executables", python, b->root->path);
    } else {
        errno = err;
        of_error_errno("cannot execute %s", python);
        if (err == ENOENT || err == EACCES || err == ENOEXEC)
            of_error_hint(OF_ENV_MODE "=verify %s tells what is wrong in the cache", b->self);
    }
    free(python);
}

/* Nonzero if a failed exec (`err`) may come from a damaged layer: a file missing, its
 * execute bit gone, or emptied. */
int of_exec_repairable(const struct of_binary *b, int err)
{
    return (err == ENOENT || err == EACCES || err == ENOEXEC) &&
           !(err == EACCES && of_cache_noexec(b->dirs[OF_LAYER_RUNTIME]));
}

