/*
 * gzip.c - gzip (RFC 1952) around one deflate block (RFC 1951) with the
 * fixed Huffman codes, written here so that the library needs no zlib.
 *
 * Deflate: the input becomes literals and (length, distance) matches, each
 * coded with the fixed code table of RFC 1951 section 3.2.6, so no code
 * table is transmitted.  Matches are found greedily with a hash of the next
 * three bytes that remembers the last position each hash was seen at (one
 * candidate, within the 32 KiB window); that is far from zlib's ratio, but
 * pprof's protobufs, full of repeated small varints and addresses, still
 * shrink to about a third.  Bits are packed least significant first;
 * Huffman codes are sent most significant bit first, so they are reversed
 * before packing, while the extra bits of lengths and distances are not.
 *
 * Data that would grow (random bytes) goes in stored blocks instead.
 *
 * The gzip member is the 10-byte header (no name, no time), the deflate
 * stream, then the CRC-32 and the length mod 2^32 of the input, little
 * endian.  All memory comes from gm_os_alloc.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "obs/gzip.h"

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t gm_crc32(uint32_t crc, const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

typedef struct bitwriter {
    uint8_t *out;
    size_t len;
    uint64_t bits;
    unsigned nbits;
} bitwriter;

static void put_bits(bitwriter *w, uint32_t v, unsigned n) {
    w->bits |= (uint64_t)v << w->nbits;
    w->nbits += n;
    while (w->nbits >= 8) {
        w->out[w->len++] = (uint8_t)w->bits;
        w->bits >>= 8;
        w->nbits -= 8;
    }
}

static uint32_t reverse(uint32_t code, unsigned n) {
    uint32_t r = 0;
    for (unsigned i = 0; i < n; i++, code >>= 1)
        r = r << 1 | (code & 1);
    return r;
}

/* A literal/length symbol (0..287) in the fixed code. */
static void put_symbol(bitwriter *w, unsigned sym) {
    if (sym < 144)
        put_bits(w, reverse(0x30 + sym, 8), 8);
    else if (sym < 256)
        put_bits(w, reverse(0x190 + sym - 144, 9), 9);
    else if (sym < 280)
        put_bits(w, reverse(sym - 256, 7), 7);
    else
        put_bits(w, reverse(0xc0 + sym - 280, 8), 8);
}

static const uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                       33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                       1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static void put_match(bitwriter *w, unsigned len, unsigned dist) {
    unsigned i = 28;
    while (len_base[i] > len)
        i--;
    put_symbol(w, 257 + i);
    put_bits(w, len - len_base[i], len_extra[i]);
    unsigned d = 29;
    while (dist_base[d] > dist)
        d--;
    put_bits(w, reverse(d, 5), 5);
    put_bits(w, dist - dist_base[d], dist_extra[d]);
}

#define HASH_BITS 15
#define WINDOW 32768
#define MAX_MATCH 258

static uint32_t hash3(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Deflates in[0, n) into out (room for n + n / 2 + 64 bytes); returns the
 * length written. */
static size_t deflate_fixed(const uint8_t *in, size_t n, uint8_t *out, int64_t *head) {
    bitwriter w = {out, 0, 0, 0};
    for (size_t i = 0; i < ((size_t)1 << HASH_BITS); i++)
        head[i] = -1;
    put_bits(&w, 1, 1); /* BFINAL */
    put_bits(&w, 1, 2); /* BTYPE 01: fixed Huffman codes */
    size_t i = 0;
    while (i < n) {
        size_t best = 0, dist = 0;
        if (i + 3 <= n) {
            uint32_t h = hash3(in + i);
            int64_t cand = head[h];
            head[h] = (int64_t)i;
            if (cand >= 0 && i - (size_t)cand <= WINDOW) {
                size_t max = n - i < MAX_MATCH ? n - i : MAX_MATCH, l = 0;
                while (l < max && in[(size_t)cand + l] == in[i + l])
                    l++;
                if (l >= 3) {
                    best = l;
                    dist = i - (size_t)cand;
                }
            }
        }
        if (best) {
            put_match(&w, (unsigned)best, (unsigned)dist);
            for (size_t k = 1; k < best; k++)
                if (i + k + 3 <= n)
                    head[hash3(in + i + k)] = (int64_t)(i + k);
            i += best;
        } else {
            put_symbol(&w, in[i]);
            i++;
        }
    }
    put_symbol(&w, 256); /* end of block */
    if (w.nbits)
        put_bits(&w, 0, 8 - w.nbits);
    return w.len;
}

/* Stored blocks (BTYPE 00): the data as it is, in blocks of at most 65535
 * bytes, each after a byte-aligned header and its length and the length's
 * complement.  Used when the fixed codes would make the data larger. */
static size_t deflate_stored(const uint8_t *in, size_t n, uint8_t *out) {
    size_t len = 0, i = 0;
    do {
        size_t k = n - i < 65535 ? n - i : 65535;
        out[len++] = i + k == n ? 1 : 0; /* BFINAL, BTYPE 00, padding */
        out[len++] = (uint8_t)k;
        out[len++] = (uint8_t)(k >> 8);
        out[len++] = (uint8_t)~k;
        out[len++] = (uint8_t)(~k >> 8);
        memcpy(out + len, in + i, k);
        len += k;
        i += k;
    } while (i < n);
    return len;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int gm_gzip_write(int fd, const void *data, size_t n) {
    size_t head_size = ((size_t)1 << HASH_BITS) * sizeof(int64_t);
    /* A literal costs at most 9 bits, a match at most 31 bits for 3 or more
     * bytes: the output is under 1.5 times the input. */
    size_t cap = 10 + n + n / 2 + 64 + 8;
    uint8_t *out = gm_os_alloc(cap);
    int64_t *head = gm_os_alloc(head_size);
    if (!out || !head) {
        if (out)
            gm_os_free(out, cap);
        if (head)
            gm_os_free(head, head_size);
        errno = ENOMEM;
        return -1;
    }
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(out, header, 10);
    size_t len = 10 + deflate_fixed(data, n, out + 10, head);
    size_t stored = 5 * (n / 65535 + 1) + n;
    if (len - 10 > stored)
        len = 10 + deflate_stored(data, n, out + 10);
    uint32_t crc = gm_crc32(0, data, n), isize = (uint32_t)n;
    for (int k = 0; k < 4; k++)
        out[len++] = (uint8_t)(crc >> (8 * k));
    for (int k = 0; k < 4; k++)
        out[len++] = (uint8_t)(isize >> (8 * k));
    int rc = write_all(fd, out, len);
    int err = errno;
    gm_os_free(out, cap);
    gm_os_free(head, head_size);
    errno = err;
    return rc;
}
