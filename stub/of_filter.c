#include "of_filter.h"

#include <string.h>

#include "of_format.h"

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
    const uint8_t *hit;

    while (i < len && (hit = memchr(p + i, 0xE8, len - i)) != NULL) {
        int64_t at, x;

        i = (size_t)(hit - p);
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
    const uint8_t *hit;

    for (size_t i = 0; i + 5 <= size && (hit = memchr(p + i, 0xE8, size - i)) != NULL; i += 5) {
        int64_t at, x;

        i = (size_t)(hit - p);
        if (i + 5 > size)
            break;
        at = (int64_t)i + 5;
        x = of_filter_get(p + i + 1);
        if (x >= -at && x < (int64_t)size)
            of_filter_put(p + i + 1, x < (int64_t)size - at ? x + at : x - (int64_t)size);
    }
}
