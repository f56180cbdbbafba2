/*
 * gzip.h - a gzip file (RFC 1952) of a buffer, without a library.
 */
#ifndef GM_OBS_GZIP_H
#define GM_OBS_GZIP_H

#include "gm.h"

/* Compresses n bytes at data into a gzip member and writes it all to fd.
 * Returns 0, or -1 with errno set (ENOMEM, or write's error). */
int gm_gzip_write(int fd, const void *data, size_t n);
/* CRC-32 (ISO 3309, as gzip and zlib compute it) of n bytes, continuing
 * from crc (0 to start). */
uint32_t gm_crc32(uint32_t crc, const void *data, size_t n);

#endif /* GM_OBS_GZIP_H */
