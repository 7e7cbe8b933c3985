/* Unpacking a layer (a run of zip local entries) into a directory. */
#ifndef OF_UNPACK_H
#define OF_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "of_trailer.h"

/* One local entry, as checked by of_unpack_entry. Pointers point into the layer. */
struct of_entry {
    const char *name; /* after the prefix, without a directory's '/'; not NUL-terminated */
    size_t name_len;
    uint32_t mode; /* one of the OF_MODE_* values */
    uint16_t method; /* OF_ZIP_METHOD_STORED, OF_ZIP_METHOD_ZSTD or OF_ZIP_METHOD_ZSTD_GROUP */
    const uint8_t *data;
    uint32_t crc32; /* of the uncompressed data (checked by ONEFILE=verify, not on unpack) */
    uint32_t compressed_size;
    uint32_t size;
    size_t total; /* bytes the entry takes: header, name, extra and data */
    const uint8_t *sites; /* site_count (u32 offset, u32 size) pairs in the extra field, checked */
    uint32_t site_count;
    uint32_t group_index; /* a group member (OF_ZIP_METHOD_ZSTD_GROUP): its place in the group */
    uint32_t group_count; /* ... and the group's member count; 0 for an entry that is in none */
    uint32_t filter; /* OF_FILTER_* to undo after decoding, or 0 */
    int discard; /* of_unpack_layer_part: decoded for its group's sake, not written */
};

/* Site `i` (< e->site_count) of an entry of_unpack_entry checked. */
void of_unpack_site(const struct of_entry *e, uint32_t i, uint64_t *offset, uint32_t *size);

/* Parse and check the entry at `p` (`avail` bytes left in the layer); its name must
 * start with `prefix`. Symlink targets are checked later, once decompressed; that a group
 * member follows the one before it, by the caller (of_unpack_group_next). */
int of_unpack_entry(const uint8_t *p, size_t avail, const char *prefix, struct of_entry *out);

/* A name after the prefix: relative, not empty, no empty, "." or ".." component, no NUL
 * or backslash. Returns 0 or -1 (no message: of_unpack_entry gives one). */
int of_unpack_name_check(const char *name, size_t len);

/* A link called `name` (a checked name) pointing at `target`: the target must be
 * relative, without NUL, and stay inside the layer when resolved from the link's
 * directory. Its ".." components must all come first ("../../lib/x", never
 * "a/../.."): the link's parents are real directories (never links), so leading ".."s
 * climb exactly as a lexical count says, and the names after them only go down, each
 * through a directory or a link checked the same way. A ".." after a name that is a
 * link would climb from wherever that link points, which no lexical check can see. */
int of_unpack_link_check(const char *name, size_t name_len, const char *target, size_t target_len);

/* Whether `e` may come after an entry that left `*open` members of its group to come
 * (0: none), updating `*open`. Returns 0, or -1 with of_error set. */
int of_unpack_group_next(const struct of_entry *e, uint32_t *open);

/* Decode an entry's data into a malloc'd, NUL-terminated buffer of e->size + 1 bytes
 * (*out); never a group member (it needs the members before it). Returns 0, or -1 with
 * of_error set. */
int of_unpack_read(const struct of_entry *e, char **out);

/* Extract `layer` of `file` into the empty directory `dirfd` (`dirpath`, for messages),
 * writing its files on up to one thread per CPU. `what` names the layer in messages
 * ("<binary>: app layer"). Patch sites are expanded with `runtime_dir` (the runtime
 * layer's final directory); NULL refuses them. Nothing is created outside `dirfd`: directories are made
 * first (parents walked with O_NOFOLLOW), then files with O_EXCL while the tree holds
 * no link, then the links. Modes are subject to the umask (the launcher sets 022). */
int of_unpack_layer(const uint8_t *file, const struct of_layer *layer, const char *prefix, const char *what,
                    int dirfd, const char *dirpath, const char *runtime_dir);

/* Part of a layer: the directory `dir` (a name after the prefix, e.g. OF_RUNTIME_LIBC_DIR)
 * and everything in it (`only`), or everything else. */
struct of_unpack_part {
    const char *dir;
    int only;
};

/* Whether entry `e` is the directory `dir` (a name after the prefix) or in it. */
int of_unpack_in_dir(const struct of_entry *e, const char *dir);

/* of_unpack_layer writing only `part` of the layer (NULL: all of it). Every entry is still
 * checked; a group holding entries of both sides is decoded whole, a group or file with
 * nothing to write not at all. */
int of_unpack_layer_part(const uint8_t *file, const struct of_layer *layer, const char *prefix, const char *what,
                         int dirfd, const char *dirpath, const char *runtime_dir, const struct of_unpack_part *part);

/* Free the decoders and buffers of_unpack_layer keeps for its next call. */
void of_unpack_release(void);

#endif
