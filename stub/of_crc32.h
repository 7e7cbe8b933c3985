/* CRC-32 as zip uses it (ISO-HDLC: reflected polynomial 0xEDB88320). */
#ifndef OF_CRC32_H
#define OF_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue `crc` (0 to start) over `len` bytes of `data`. */
uint32_t of_crc32(uint32_t crc, const void *data, size_t len);

#endif
