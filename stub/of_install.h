/* Unpacking a binary's layers into the cache, and repairing them. */
#ifndef OF_INSTALL_H
#define OF_INSTALL_H

#include "of_binary.h"

/* Unpack the layers that are not in the cache yet, after checking that this system can
 * run them. Their SHA-256s are computed while they are unpacked and checked before each
 * rename: a damaged binary leaves no layer behind. Returns 0, or -1 with of_error set. */
int of_install_layers(const struct of_binary *b);

/* Add the bundled glibc (the runtime layer's libc/) to a runtime directory unpacked
 * without it by a start on the system's glibc, for a start that needs it; the layer's
 * SHA-256 is checked first. Returns 1 if it added it, 0 if it was there, -1 with of_error
 * set. */
int of_install_libc(const struct of_binary *b);

/* After an exec that failed as a damaged layer would make it fail: move every layer
 * directory that differs from its layer out of place and unpack what is then missing.
 * Returns 1 if something was unpacked again, 0 if nothing was wrong, -1 with of_error set. */
int of_install_repair(const struct of_binary *b);

/* Remove layer `i`'s directory if it is still one published in an earlier boot and never
 * flushed (of_cache_stale), under its key's lock, so it is unpacked again. Returns 0, or
 * -1 with of_error set. */
int of_install_forget(const struct of_binary *b, int i);

#endif
