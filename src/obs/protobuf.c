/*
 * protobuf.c - encoding protocol buffers (wire format) without a library.
 *
 * A field is a key, varint(field << 3 | wire type), then its value: wire
 * type 0 a varint (7 bits a byte, low group first, high bit set on all
 * bytes but the last), wire type 2 a varint length and that many bytes.
 * Nested messages are length-delimited, and their length is known only
 * once they are written: gm_pb_begin notes where the content starts and
 * gm_pb_end moves the content up by the size of the length's varint and
 * writes the length in the gap.  A message is moved once per level it is
 * nested in; pprof's messages nest at most three deep.
 *
 * Memory comes from gm_os_alloc (the writer never allocates from the heap
 * it describes); the buffer doubles when full.  Out of memory sets failed,
 * and the caller checks it once at the end.
 */
#include <string.h>

#include "obs/protobuf.h"

void gm_pb_init(gm_pb *b) {
    memset(b, 0, sizeof *b);
}

void gm_pb_free(gm_pb *b) {
    if (b->buf)
        gm_os_free(b->buf, b->cap);
    memset(b, 0, sizeof *b);
}

static bool reserve(gm_pb *b, size_t more) {
    if (b->failed)
        return false;
    if (b->len + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *nb = gm_os_alloc(cap);
    if (!nb) {
        b->failed = true;
        return false;
    }
    if (b->buf) {
        memcpy(nb, b->buf, b->len);
        gm_os_free(b->buf, b->cap);
    }
    b->buf = nb;
    b->cap = cap;
    return true;
}

static size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

void gm_pb_varint(gm_pb *b, uint64_t v) {
    if (reserve(b, 10))
        b->len += put_varint(b->buf + b->len, v);
}

static void key(gm_pb *b, unsigned field, unsigned wire) {
    gm_pb_varint(b, (uint64_t)field << 3 | wire);
}

void gm_pb_uint(gm_pb *b, unsigned field, uint64_t v) {
    key(b, field, 0);
    gm_pb_varint(b, v);
}

void gm_pb_int(gm_pb *b, unsigned field, int64_t v) {
    gm_pb_uint(b, field, (uint64_t)v);
}

void gm_pb_bytes(gm_pb *b, unsigned field, const void *p, size_t n) {
    key(b, field, 2);
    gm_pb_varint(b, n);
    if (reserve(b, n)) {
        if (n)
            memcpy(b->buf + b->len, p, n);
        b->len += n;
    }
}

void gm_pb_raw(gm_pb *b, const void *p, size_t n) {
    if (n && reserve(b, n)) {
        memcpy(b->buf + b->len, p, n);
        b->len += n;
    }
}

size_t gm_pb_begin(gm_pb *b, unsigned field) {
    key(b, field, 2);
    return b->len;
}

void gm_pb_end(gm_pb *b, size_t mark) {
    if (b->failed)
        return;
    size_t n = b->len - mark, k = varint_size(n);
    if (!reserve(b, k))
        return;
    memmove(b->buf + mark + k, b->buf + mark, n);
    put_varint(b->buf + mark, n);
    b->len += k;
}
