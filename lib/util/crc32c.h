/*
 * crc32c.h - CRC32C (Castagnoli): the checksum of the order journal's frames.
 *
 * The SSE4.2 crc32 instruction when the CPU has it (eight bytes a cycle or
 * so), as DPDK's rte_hash_crc does, else a table, one lookup a byte. Both give
 * the same value; crc32c picks once, at the first call.
 */
#ifndef SECKILL_CRC32C_H
#define SECKILL_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf, continuing from crc (0 to start): crc32c(crc32c(0, a), b) = crc32c(0, a‖b). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The two ways, for tests and benchmarks; crc32c_hw only when crc32c_have_hw(). */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool crc32c_have_hw(void);

#endif
