/* Exec'ing the app's Python in place of the launcher. */
#ifndef OF_EXEC_H
#define OF_EXEC_H

#include "of_binary.h"

/* Exec the app's Python with bin/onefile-main and argv[1:] (with argv[1:] alone when
 * `interpreter`: ONEFILE=python); returns only when that fails, with errno. Its
 * environment is ours with ONEFILE_BINARY and ONEFILE_ARGV0 (not for `interpreter`) set
 * and without PYTHONHOME and PYTHONPATH, built on the stack: the warm path allocates
 * nothing. */
int of_exec_app(const struct of_binary *b, int argc, char **argv, int interpreter);

/* Set of_error to why the exec failed (`err`), with a hint where one helps. */
void of_exec_failed(const struct of_binary *b, int err);

/* Nonzero if a failed exec (`err`) may come from a damaged layer: a file missing, its
 * execute bit gone, or emptied (and not a noexec cache). */
int of_exec_repairable(const struct of_binary *b, int err);

#endif
