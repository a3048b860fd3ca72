/*
 * Tests for lib/util/redis_slot: the slot the control plane sends a key's
 * command to. A wrong slot is not a wrong answer but a MOVED on every call,
 * and a wrong hash-tag rule puts a campaign's keys on two nodes, where its
 * scripts fail with CROSSSLOT: so the known answers of the Redis Cluster
 * specification, then the tag rule's edge cases. (tests/redis/test_cluster.py
 * also compares slots with a live cluster's CLUSTER KEYSLOT.)
 */
#include <criterion/criterion.h>
#include <string.h>

#include "redis_slot.h"

static unsigned slot(const char *k) { return redis_key_slot(k, strlen(k)); }

Test(redis_slot, crc16_check_value_of_the_cluster_spec)
{
	cr_assert_eq(redis_crc16("123456789", 9), 0x31c3);
	cr_assert_eq(redis_crc16("", 0), 0);
}

Test(redis_slot, known_slots)
{
	cr_assert_eq(slot("foo"), 12182);
	cr_assert_eq(slot("bar"), 5061);
	cr_assert_eq(slot("123456789"), 0x31c3 & 16383);
}

Test(redis_slot, a_tag_hashes_only_the_tag)
{
	cr_assert_eq(slot("{foo}bar"), slot("foo"));
	cr_assert_eq(slot("seckill:stock:{7}"), slot("7"));
	cr_assert_eq(slot("seckill:hosts:{7}"), slot("seckill:buyer:{7}:123456"));
	cr_assert_eq(slot("a{foo}b{bar}"), slot("foo"), "the first tag only");
	cr_assert_eq(slot("{foo}}"), slot("foo"));
}

Test(redis_slot, no_tag_hashes_the_whole_key)
{
	cr_assert_eq(slot("{}foo"), redis_crc16("{}foo", 5) & 16383, "an empty tag is no tag");
	cr_assert_eq(slot("foo{"), redis_crc16("foo{", 4) & 16383, "no closing brace");
	cr_assert_eq(slot("foo}{"), redis_crc16("foo}{", 5) & 16383);
	cr_assert_eq(slot("{{}}"), redis_crc16("{", 1) & 16383, "the tag is \"{\"");
}

Test(redis_slot, every_slot_is_in_range)
{
	char k[32];

	for (unsigned i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "seckill:buyer:{%u}:%u", i % 97, i);
		cr_assert_lt(slot(k), REDIS_SLOTS);
	}
}
