/*
 * siphash.h - SipHash-2-4 (Aumasson and Bernstein), a keyed PRF.
 *
 * Used wherever an attacker chooses the input: SYN cookies, buyer-token MACs,
 * and the bucket index of the shared tables (so nobody can aim a flood of keys
 * at one bucket). 64-bit output, 128-bit key.
 */
#ifndef SECKILL_SIPHASH_H
#define SECKILL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint64_t key[2], const void *data, size_t len);

#endif
