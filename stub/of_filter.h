/* Undoing the filters the builder applies to some files before compressing them
 * (OF_ZIP_EXTRA_FILTER_ID, docs/format.md "Filters"). */
#ifndef OF_FILTER_H
#define OF_FILTER_H

#include <stddef.h>
#include <stdint.h>

/* Bytes a chunk may leave for the next one (OF_FILTER_X86_CALLS: an E8 byte and up to
 * three bytes of its value). */
#define OF_FILTER_HOLD_MAX 4

/* Undo OF_FILTER_X86_CALLS in place on `len` bytes at `p`, which are the file's bytes
 * from `offset` on (`size` bytes in all, at most OF_FILTER_X86_SIZE_MAX), decoded in
 * chunks. Returns how many of them are final; the rest (at most OF_FILTER_HOLD_MAX: an
 * E8 whose value the chunk doesn't hold whole) must come again, first, with the next
 * chunk. A chunk must start where the one before stopped being final. */
size_t of_filter_x86_undo(uint8_t *p, size_t len, uint64_t offset, uint64_t size);

/* The same transformation forwards, on a whole file (the C tests and the fuzzer's
 * seeds; the builder has its own, format/layers.py). */
void of_filter_x86_do(uint8_t *p, size_t size);

#endif
