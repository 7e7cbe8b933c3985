/* ONEFILE=info, ONEFILE=verify, ONEFILE=clean: looking after a binary's cache entries
 * without any other tool. See docs/reliability.md. */
#ifndef OF_MODES_H
#define OF_MODES_H

#include <stdint.h>
#include <stdio.h>

#include "of_binary.h"

/* Print the format, the layers, the cache paths, the app's manifest, then the cache's
 * contents and what its next clean-up removes (of_gc_report). Returns 0, or -1 with
 * of_error set (a bad $ONEFILE_CACHE_KEEP_DAYS), before printing anything. */
int of_modes_info(const struct of_binary *b, FILE *out);

/* Check each layer against its SHA-256 and each unpacked layer directory against its
 * layer. Returns 0 if all is well, 1 if problems were found (each printed on `out`). */
int of_modes_verify(const struct of_binary *b, FILE *out);

/* Remove this binary's app directory and, unless another app in the cache uses it, its
 * runtime directory; also sweep leftovers. Returns 0, or -1 with of_error set. */
int of_modes_clean(const struct of_binary *b, FILE *out);

/* Compare the directory `dir` with `layer` (its entries named `prefix`...): every entry
 * must be there with the same type, mode, size, CRC-32 or link target, and nothing else
 * may be, except under __pycache__ (Python writes there) and, for the app layer
 * (`runtime_dir` not NULL), the pyvenv.cfg and bin/python the launcher adds, which must
 * point at `runtime_dir`. A file with patch sites must hold its entry's data with the
 * sites expanded for `sites_dir` (the runtime layer's directory). With `twin` (a binary
 * carrying a glibc), the app directory also has the twin venv's libc/pyvenv.cfg and
 * libc/bin/python, pointing at the runtime's libc/; the runtime directory (`runtime_dir`
 * NULL) may lack libc/ as a whole (a start on the system's glibc leaves it out). Prints one line per
 * problem on `out` (NULL: silent) and
 * returns how many there were, or -1 with of_error set if `layer` can't be read. */
long of_modes_check_dir(const uint8_t *file, const struct of_layer *layer, const char *prefix, const char *dir,
                        const char *runtime_dir, const char *sites_dir, int twin, FILE *out);

/* The app's manifest (app/onefile.json, malloc'd and NUL-terminated) from the app
 * layer, or NULL with of_error set. */
char *of_modes_manifest(const uint8_t *file, const struct of_layer *app);

#endif
