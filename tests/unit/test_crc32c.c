/*
 * Tests for lib/util/crc32c: the order journal's checksum.
 *
 * Known answers (the iSCSI check value and RFC 3720 B.4's vectors) pin the
 * polynomial and the bit order; the table and the SSE4.2 instruction are then
 * compared on random buffers of every length 0..300 at every alignment 0..7,
 * because the instruction path splits a buffer into 8-byte words and a tail
 * and a bug there shows only at some lengths or offsets. A journal written
 * on a machine with SSE4.2 must check on one without, and the reverse.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"

#define MAX_LEN 300
#define MAX_OFFSET 8
#define RFC3720_LEN 32
#define RANDOM_SEED 0x243f6a8885a308d3ull

static uint8_t rnd[MAX_LEN + MAX_OFFSET];

/* xorshift64*: a fixed seed, so a failure repeats. */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed >> 12;
		seed ^= seed << 25;
		seed ^= seed >> 27;
		p[i] = (uint8_t)((seed * 0x2545f4914f6cdd1dull) >> 56);
	}
}

static bool have_hw_or_say_so(void)
{
	if (crc32c_have_hw())
		return true;
	cr_log_warn("this CPU has no SSE4.2: crc32c_hw is not compared (only the table runs)");
	return false;
}

Test(crc32c, check_value)
{
	cr_assert_eq(crc32c(0, "123456789", 9), 0xe3069283u);
	cr_assert_eq(crc32c_sw(0, "123456789", 9), 0xe3069283u);
	if (have_hw_or_say_so())
		cr_assert_eq(crc32c_hw(0, "123456789", 9), 0xe3069283u);
}

Test(crc32c, empty_buffer_keeps_the_crc)
{
	cr_assert_eq(crc32c(0, "", 0), 0);
	cr_assert_eq(crc32c_sw(0x12345678u, "", 0), 0x12345678u);
	if (have_hw_or_say_so())
		cr_assert_eq(crc32c_hw(0x12345678u, "", 0), 0x12345678u);
}

/* RFC 3720 B.4: 32 bytes of zeros, of ones, ascending and descending. */
Test(crc32c, rfc3720_vectors)
{
	uint8_t buf[RFC3720_LEN];

	memset(buf, 0, sizeof(buf));
	cr_expect_eq(crc32c(0, buf, sizeof(buf)), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	cr_expect_eq(crc32c(0, buf, sizeof(buf)), 0x62a8ab43u);
	for (int i = 0; i < RFC3720_LEN; i++)
		buf[i] = (uint8_t)i;
	cr_expect_eq(crc32c(0, buf, sizeof(buf)), 0x46dd794eu);
	for (int i = 0; i < RFC3720_LEN; i++)
		buf[i] = (uint8_t)(RFC3720_LEN - 1 - i);
	cr_expect_eq(crc32c(0, buf, sizeof(buf)), 0x113fdb5cu);
}

Test(crc32c, dispatcher_agrees_with_the_table)
{
	fill_random(rnd, sizeof(rnd), RANDOM_SEED);
	for (size_t len = 0; len <= MAX_LEN; len++)
		cr_assert_eq(crc32c(0, rnd, len), crc32c_sw(0, rnd, len), "len %zu", len);
}

Test(crc32c, hw_agrees_with_table_at_every_length_and_alignment)
{
	if (!have_hw_or_say_so())
		return;
	fill_random(rnd, sizeof(rnd), RANDOM_SEED);
	for (size_t off = 0; off < MAX_OFFSET; off++)
		for (size_t len = 0; len <= MAX_LEN; len++) {
			uint32_t sw = crc32c_sw(0, rnd + off, len);
			uint32_t hw = crc32c_hw(0, rnd + off, len);

			cr_assert_eq(hw, sw, "offset %zu len %zu: hw %08x, table %08x",
				     off, len, hw, sw);
			/* A running crc in, as the journal chains a frame's parts. */
			cr_assert_eq(crc32c_hw(sw, rnd + off, len), crc32c_sw(sw, rnd + off, len),
				     "offset %zu len %zu, continuing from %08x", off, len, sw);
		}
}

/* crc32c(crc32c(0, a), b) == crc32c(0, a‖b), at every split of a buffer. */
static void check_chaining(uint32_t (*f)(uint32_t, const void *, size_t), const char *name)
{
	fill_random(rnd, sizeof(rnd), RANDOM_SEED ^ 1);
	for (size_t len = 0; len <= MAX_LEN; len++) {
		uint32_t whole = f(0, rnd, len);

		for (size_t k = 0; k <= len; k++)
			cr_assert_eq(f(f(0, rnd, k), rnd + k, len - k), whole,
				     "%s: len %zu split at %zu", name, len, k);
	}
}

Test(crc32c, chaining)
{
	check_chaining(crc32c, "crc32c");
	check_chaining(crc32c_sw, "crc32c_sw");
	if (have_hw_or_say_so())
		check_chaining(crc32c_hw, "crc32c_hw");
}
