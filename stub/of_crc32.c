#include "of_crc32.h"

uint32_t of_crc32(uint32_t crc, const void *data, size_t len)
{
    static uint32_t table[256];
    const uint8_t *p = data;

    if (table[1] == 0) { /* filled on first use; only ONEFILE=verify needs it */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;

            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    crc = ~crc;
    while (len-- > 0)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
