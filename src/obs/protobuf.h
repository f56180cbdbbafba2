/*
 * protobuf.h - a protocol-buffer encoder into a growing buffer.
 */
#ifndef GM_OBS_PROTOBUF_H
#define GM_OBS_PROTOBUF_H

#include "gm.h"

typedef struct gm_pb {
    uint8_t *buf;
    size_t len, cap;
    bool failed; /* out of memory: every later call does nothing */
} gm_pb;

void gm_pb_init(gm_pb *b);
void gm_pb_free(gm_pb *b);
/* A varint field (wire type 0): uint64, int64 (two's complement), bool.
 * Zero values are written too: proto3 readers accept them. */
void gm_pb_uint(gm_pb *b, unsigned field, uint64_t v);
void gm_pb_int(gm_pb *b, unsigned field, int64_t v);
/* A length-delimited field (wire type 2) holding n bytes. */
void gm_pb_bytes(gm_pb *b, unsigned field, const void *p, size_t n);
/* A nested message or packed repeated field: begin writes the tag and
 * returns a mark; what is written until end(mark) is its content. */
size_t gm_pb_begin(gm_pb *b, unsigned field);
void gm_pb_end(gm_pb *b, size_t mark);
/* n bytes as they are (already encoded fields, or raw data). */
void gm_pb_raw(gm_pb *b, const void *p, size_t n);
/* A bare varint, for the elements of a packed field. */
void gm_pb_varint(gm_pb *b, uint64_t v);

#endif /* GM_OBS_PROTOBUF_H */
