#include "of_filter.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "of_format.h"

/* The index of the first E8 byte in p[from..len), or len. Inlined and 16 bytes a step:
 * in code such bytes are a few dozen apart, and a call to musl's memchr for each took
 * more time than the bytes it looked at (docs/performance.md, session 9). */
static inline size_t of_filter_find(const uint8_t *p, size_t from, size_t len)
{
#ifdef __SSE2__
    const __m128i e8 = _mm_set1_epi8((char)0xE8);

    for (; from + 16 <= len; from += 16) {
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + from)), e8));

        if (mask != 0)
            return from + (size_t)__builtin_ctz(mask);
    }
#endif
    while (from < len && p[from] != 0xE8)
        from++;
    return from;
}

static int64_t of_filter_get(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void of_filter_put(uint8_t *p, int64_t v)
{
    uint32_t u = (uint32_t)(int32_t)v;

    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

size_t of_filter_x86_undo(uint8_t *p, size_t len, uint64_t offset, uint64_t size)
{
    size_t i = 0;

    while ((i = of_filter_find(p, i, len)) < len) {
        int64_t at, x;

        at = (int64_t)(offset + i) + 5; /* after the value: what a relative call counts from */
        if ((uint64_t)at > size) /* the builder stopped here: nothing after it changed */
            return len;
        if (i + 5 > len) /* the value is in the next chunk */
            return i;
        /* [-at, size): the rotation's interval, the same both ways (spec: < 2^31 bytes) */
        x = of_filter_get(p + i + 1);
        if (x >= -at && x < (int64_t)size)
            of_filter_put(p + i + 1, x >= 0 ? x - at : x + (int64_t)size);
        i += 5;
    }
    return len;
}

void of_filter_x86_do(uint8_t *p, size_t size)
{
    for (size_t i = 0; (i = of_filter_find(p, i, size)) < size; i += 5) {
        int64_t at, x;

        if (i + 5 > size)
            break;
        at = (int64_t)i + 5;
        x = of_filter_get(p + i + 1);
        if (x >= -at && x < (int64_t)size)
            of_filter_put(p + i + 1, x < (int64_t)size - at ? x + at : x - (int64_t)size);
    }
}
