#include "of_sha256.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define OF_SHA256_HAVE_NI 1
#endif

static const uint32_t of_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t of_sha256_ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void of_sha256_block(uint32_t s[8], const uint8_t *p)
{
    uint32_t w[64], a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = of_sha256_ror(w[i - 15], 7) ^ of_sha256_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = of_sha256_ror(w[i - 2], 17) ^ of_sha256_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (of_sha256_ror(e, 6) ^ of_sha256_ror(e, 11) ^ of_sha256_ror(e, 25))
                      + ((e & f) ^ (~e & g)) + of_sha256_k[i] + w[i];
        uint32_t t2 = (of_sha256_ror(a, 2) ^ of_sha256_ror(a, 13) ^ of_sha256_ror(a, 22))
                      + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s[0] += a;
    s[1] += b;
    s[2] += c;
    s[3] += d;
    s[4] += e;
    s[5] += f;
    s[6] += g;
    s[7] += h;
}

#ifdef OF_SHA256_HAVE_NI
/* The same compression with the x86 SHA extensions (about 10x faster here): the state
 * is kept as the two vectors the instructions work on, ABEF and CDGH. */
__attribute__((target("sha,sse4.1,ssse3"))) static void of_sha256_blocks_ni(uint32_t s[8], const uint8_t *p,
                                                                             size_t count)
{
    const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&s[0]), hgfe = _mm_loadu_si128((const __m128i *)&s[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1), efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8), cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);

    for (; count > 0; count--, p += 64) {
        __m128i w[4], msg, abef_in = abef, cdgh_in = cdgh;

#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            __m128i *wi = &w[i % 4];

            if (i < 4)
                *wi = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), byteswap);
            else /* w[i] from w[i-4] (this slot), w[i-3], w[i-2] and w[i-1] */
                *wi = _mm_sha256msg2_epu32(
                    _mm_add_epi32(_mm_sha256msg1_epu32(*wi, w[(i + 1) % 4]), _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4)),
                    w[(i + 3) % 4]);
            msg = _mm_add_epi32(*wi, _mm_loadu_si128((const __m128i *)&of_sha256_k[4 * i]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(msg, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    {
        __m128i feba = _mm_shuffle_epi32(abef, 0x1B), dchg = _mm_shuffle_epi32(cdgh, 0xB1);

        _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(feba, dchg, 0xF0));
        _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(dchg, feba, 8));
    }
}

static int of_sha256_have_ni(void)
{
    static int known = -1;
    unsigned int a, b, c, d;

    if (known < 0) {
        int sse = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) && (c & bit_SSSE3);

        known = sse && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
    }
    return known;
}
#endif

/* Compress `count` whole blocks, with the CPU's SHA instructions when it has them. */
static void of_sha256_blocks(uint32_t s[8], const uint8_t *p, size_t count)
{
#ifdef OF_SHA256_HAVE_NI
    if (count > 0 && of_sha256_have_ni()) {
        of_sha256_blocks_ni(s, p, count);
        return;
    }
#endif
    for (; count > 0; count--, p += 64)
        of_sha256_block(s, p);
}

void of_sha256_init(struct of_sha256 *ctx)
{
    static const uint32_t iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };

    memcpy(ctx->state, iv, sizeof(iv));
    ctx->length = 0;
    ctx->used = 0;
}

void of_sha256_update(struct of_sha256 *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;

    ctx->length += len;
    if (ctx->used > 0) {
        size_t take = 64 - ctx->used < len ? 64 - ctx->used : len;

        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used < 64)
            return;
        of_sha256_block(ctx->state, ctx->block);
        ctx->used = 0;
    }
    of_sha256_blocks(ctx->state, p, len / 64);
    p += len - len % 64;
    len %= 64;
    if (len > 0)
        memcpy(ctx->block, p, len);
    ctx->used = len;
}

void of_sha256_final(struct of_sha256 *ctx, uint8_t out[OF_SHA256_SIZE])
{
    uint64_t bits = ctx->length * 8;

    ctx->block[ctx->used++] = 0x80;
    if (ctx->used > 56) {
        memset(ctx->block + ctx->used, 0, 64 - ctx->used);
        of_sha256_block(ctx->state, ctx->block);
        ctx->used = 0;
    }
    memset(ctx->block + ctx->used, 0, 56 - ctx->used);
    for (int i = 0; i < 8; i++)
        ctx->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    of_sha256_block(ctx->state, ctx->block);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(ctx->state[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx->state[i];
    }
}

void of_sha256(const void *data, size_t len, uint8_t out[OF_SHA256_SIZE])
{
    struct of_sha256 ctx;

    of_sha256_init(&ctx);
    of_sha256_update(&ctx, data, len);
    of_sha256_final(&ctx, out);
}
