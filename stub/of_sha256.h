/* A small SHA-256 (FIPS 180-4), enough to check a layer against the trailer. */
#ifndef OF_SHA256_H
#define OF_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define OF_SHA256_SIZE 32

struct of_sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
};

void of_sha256_init(struct of_sha256 *ctx);
void of_sha256_update(struct of_sha256 *ctx, const void *data, size_t len);
void of_sha256_final(struct of_sha256 *ctx, uint8_t out[OF_SHA256_SIZE]);

/* One-shot helper. */
void of_sha256(const void *data, size_t len, uint8_t out[OF_SHA256_SIZE]);

#endif
