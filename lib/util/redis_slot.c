/*
 * redis_slot.c - CRC16 and the hash-tag rule of Redis Cluster (redis_slot.h).
 *
 * Bitwise CRC: the control thread hashes one key per Redis call, never per
 * packet, so a 512-byte table would buy nothing worth its cache lines.
 */
#include <string.h>

#include "redis_slot.h"

uint16_t redis_crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)((uint8_t)buf[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned redis_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);

	if (open != NULL) {
		size_t from = (size_t)(open - key) + 1;
		const char *close = memchr(open + 1, '}', len - from);

		/* "{}" hashes the whole key, as Redis does. */
		if (close != NULL && close > open + 1)
			return redis_crc16(open + 1, (size_t)(close - open - 1)) & (REDIS_SLOTS - 1);
	}
	return redis_crc16(key, len) & (REDIS_SLOTS - 1);
}
