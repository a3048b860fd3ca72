/*
 * redis_slot.h - the Redis Cluster hash slot of a key.
 *
 * A cluster splits the key space into 16384 slots: CRC16 (XMODEM: poly
 * 0x1021, init 0) of the key, mod 16384. When the key has a hash tag - the
 * text between the first '{' and the first '}' after it, if that text is
 * not empty - only the tag is hashed, so seckill:stock:{7} and
 * seckill:hosts:{7} share a slot and one script may touch both.
 */
#ifndef SECKILL_REDIS_SLOT_H
#define SECKILL_REDIS_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define REDIS_SLOTS 16384

/* CRC16/XMODEM of len bytes. */
uint16_t redis_crc16(const char *buf, size_t len);
/* The slot of a key of len bytes, 0..REDIS_SLOTS-1. */
unsigned redis_key_slot(const char *key, size_t len);

#endif
