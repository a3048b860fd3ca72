/*
 * crc32c.c - CRC32C with the SSE4.2 instruction or a table (promises: crc32c.h).
 *
 * The polynomial is the reflected 0x82f63b78, the one the SSE4.2 crc32
 * instruction implements, so the table and the instruction agree bit for bit
 * and a journal written on one machine checks on another.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_X86 1
#endif

#define CRC32C_POLY 0x82f63b78u

static uint32_t crc_table[256];
static bool crc_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[i] = c;
	}
#ifdef CRC32C_X86
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

bool crc32c_have_hw(void)
{
	pthread_once(&crc_once, crc32c_init);
	return crc_hw;
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc_once, crc32c_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#ifdef CRC32C_X86
/* Eight bytes an instruction, then the tail a byte at a time; memcpy keeps
 * the unaligned loads defined. */
__attribute__((target("sse4.2")))
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#else
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_sw(crc, buf, len);
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_have_hw() ? crc32c_hw(crc, buf, len) : crc32c_sw(crc, buf, len);
}
