/* ARP (lib/net/arp.c): the exact reply to a request for our address, what is
 * ignored, every malformed shape, and the neighbour table's learn / refresh /
 * full (FIFO replacement) policy. */
#include <criterion/criterion.h>

#include "arp.h"
#include "test_net_cap.h"

/* Who has 198.18.0.1? Tell 198.18.0.2 (02:00:00:00:00:02), broadcast. */
static const uint8_t arp_req[42] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xc6, 0x12, 0x00, 0x01,
};

/* 198.18.0.1 is at 02:00:00:00:00:01, unicast back, padded to 60 bytes. */
static const uint8_t arp_rep[60] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x02, 0xc6, 0x12, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* Offsets in a frame: ARP starts at 14. */
#define A_HTYPE 14
#define A_PTYPE 16
#define A_HLEN  18
#define A_PLEN  19
#define A_OP    20
#define A_SHA   22
#define A_SPA   28
#define A_TPA   38

static void setup(void) { net_fixture(NULL); }

TestSuite(arp, .init = setup);

static void assert_silent_drop(const uint64_t *counter)
{
	cr_assert_eq(*counter, 1);
	cr_assert_eq(net_events(), 1, "exactly one counter moved");
	cr_assert_eq(cap.allocs, 0, "no frame built");
	cr_assert_eq(cap.n, 0);
}

Test(arp, request_for_us_gets_exact_reply)
{
	uint8_t mac[6];

	feed(arp_req, sizeof(arp_req));
	cr_assert_eq(cap.n, 1);
	cr_assert_eq(cap.len[0], sizeof(arp_rep));
	cr_assert_arr_eq(cap.buf[0], arp_rep, sizeof(arp_rep));
	cr_assert_eq(nc.st.arp_requests, 1);
	cr_assert_eq(nc.st.arp_replies_sent, 1);
	cr_assert_eq(nc.st.tx_frames, 1);
	cr_assert_eq(nc.st.arp_learned, 1);
	cr_assert(arp_lookup(&nc.arp, ip_of(PEER_IP), mac));
	cr_assert_arr_eq(mac, peer_mac, 6);
}

Test(arp, request_unicast_to_our_mac_is_answered)
{
	uint8_t f[42];

	memcpy(f, arp_req, 42);
	memcpy(f, our_mac, 6);
	feed(f, 42);
	cr_assert_eq(cap.n, 1);
	cr_assert_arr_eq(cap.buf[0], arp_rep, sizeof(arp_rep));
}

Test(arp, trailing_padding_is_ignored)
{
	uint8_t f[60];

	memset(f, 0xee, sizeof(f));
	memcpy(f, arp_req, 42);
	feed(f, 60);
	cr_assert_eq(cap.n, 1);
	cr_assert_arr_eq(cap.buf[0], arp_rep, sizeof(arp_rep));
}

Test(arp, request_for_other_host_is_ignored_and_not_learned)
{
	uint8_t f[42], mac[6];

	memcpy(f, arp_req, 42);
	f[A_TPA + 3] = 9;            /* who has 198.18.0.9 */
	feed(f, 42);
	assert_silent_drop(&nc.st.drop_not_for_us);
	cr_assert_not(arp_lookup(&nc.arp, ip_of(PEER_IP), mac));
}

Test(arp, frame_to_other_mac_is_dropped)
{
	uint8_t f[42];

	memcpy(f, arp_req, 42);
	f[5] = 0x77;                 /* unicast, not ours */
	feed(f, 42);
	assert_silent_drop(&nc.st.drop_not_for_us);
}

Test(arp, reply_to_us_is_learned_not_answered)
{
	uint8_t f[42], mac[6];

	memcpy(f, arp_req, 42);
	memcpy(f, our_mac, 6);
	f[A_OP + 1] = NET_ARP_REPLY;
	feed(f, 42);
	cr_assert_eq(cap.allocs, 0);
	cr_assert_eq(nc.st.arp_learned, 1);
	cr_assert(arp_lookup(&nc.arp, ip_of(PEER_IP), mac));
}

Test(arp, gratuitous_updates_known_entry_only)
{
	uint8_t f[42], mac[6];
	const uint8_t new_mac[6] = { 0x02, 0, 0, 0, 0, 0x99 };

	/* Gratuitous: spa == tpa == sender, broadcast. Unknown: nothing learned. */
	memcpy(f, arp_req, 42);
	memcpy(f + A_TPA, f + A_SPA, 4);
	memcpy(f + A_SHA, new_mac, 6);
	feed(f, 42);
	cr_assert_not(arp_lookup(&nc.arp, ip_of(PEER_IP), mac));
	cr_assert_eq(cap.allocs, 0);

	feed(arp_req, sizeof(arp_req));       /* now known, old MAC */
	feed(f, 42);                          /* announces the new MAC */
	cr_assert(arp_lookup(&nc.arp, ip_of(PEER_IP), mac));
	cr_assert_arr_eq(mac, new_mac, 6);
	cr_assert_eq(nc.st.arp_learned, 1);
	cr_assert_eq(cap.n, 1, "only the request was answered");
}

Test(arp, probe_with_zero_sender_is_answered_not_learned)
{
	uint8_t f[42];

	memcpy(f, arp_req, 42);
	memset(f + A_SPA, 0, 4);
	feed(f, 42);
	cr_assert_eq(cap.n, 1);
	cr_assert_eq(nc.arp.used, 0);
	cr_assert_eq(cap.buf[0][A_TPA], 0, "reply goes to the prober's 0.0.0.0");
}

Test(arp, someone_claiming_our_ip_is_counted)
{
	uint8_t f[42];

	memcpy(f, arp_req, 42);
	memcpy(f + A_SPA, f + A_TPA, 4);
	feed(f, 42);
	assert_silent_drop(&nc.st.drop_arp_conflict);
	cr_assert_eq(nc.arp.used, 0);
}

Test(arp, our_own_announcement_looped_back_is_not_a_conflict)
{
	uint8_t f[42];

	memcpy(f, arp_req, 42);
	memcpy(f + A_SPA, f + A_TPA, 4);
	memcpy(f + 6, our_mac, 6);
	memcpy(f + A_SHA, our_mac, 6);
	feed(f, 42);
	assert_silent_drop(&nc.st.drop_not_for_us);
}

static void bad_field(int off, uint8_t val)
{
	uint8_t f[42];

	memcpy(f, arp_req, 42);
	f[off] = val;
	feed(f, 42);
	assert_silent_drop(&nc.st.drop_arp_bad);
	cr_assert_eq(nc.arp.used, 0);
}

Test(arp, bad_htype) { bad_field(A_HTYPE + 1, 6); }
Test(arp, bad_ptype) { bad_field(A_PTYPE, 0x86); }
Test(arp, bad_hlen) { bad_field(A_HLEN, 8); }
Test(arp, bad_plen) { bad_field(A_PLEN, 16); }
Test(arp, bad_op_zero) { bad_field(A_OP + 1, 0); }
Test(arp, bad_op_rarp) { bad_field(A_OP + 1, 3); }
Test(arp, multicast_sender_mac) { bad_field(A_SHA, 0x01); }

Test(arp, truncated)
{
	feed(arp_req, sizeof(arp_req) - 1);
	assert_silent_drop(&nc.st.drop_arp_bad);
}

Test(arp, no_tx_buffer_is_counted)
{
	cap.fail_alloc = 1;
	feed(arp_req, sizeof(arp_req));
	cr_assert_eq(nc.st.drop_no_tx, 1);
	cr_assert_eq(nc.st.arp_replies_sent, 0);
	cr_assert_eq(cap.n, 0);
}

static uint32_t nth_ip(uint32_t i)
{
	return htonl(0xc6120000u + 0x100u + i);   /* 198.18.1.0 + i */
}

static void nth_mac(uint32_t i, uint8_t mac[6])
{
	const uint8_t m[6] = { 0x02, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

	memcpy(mac, m, 6);
}

Test(arp_table, learn_and_refresh)
{
	struct arp_table t;
	uint8_t m1[6], m2[6], got[6];

	arp_table_init(&t);
	nth_mac(1, m1);
	nth_mac(2, m2);
	cr_assert_eq(arp_update(&t, nth_ip(0), m1, false), ARP_UPD_IGNORED);
	cr_assert_not(arp_lookup(&t, nth_ip(0), got));
	cr_assert_eq(arp_update(&t, nth_ip(0), m1, true), ARP_UPD_ADDED);
	cr_assert(arp_lookup(&t, nth_ip(0), got));
	cr_assert_arr_eq(got, m1, 6);
	cr_assert_eq(arp_update(&t, nth_ip(0), m2, false), ARP_UPD_REFRESHED);
	cr_assert(arp_lookup(&t, nth_ip(0), got));
	cr_assert_arr_eq(got, m2, 6);
	cr_assert_eq(t.used, 1, "a refresh takes no new slot");
}

Test(arp_table, full_replaces_oldest_first)
{
	struct arp_table t;
	uint8_t m[6], got[6];

	arp_table_init(&t);
	for (uint32_t i = 0; i < ARP_TABLE_SIZE; i++) {
		nth_mac(i, m);
		cr_assert_eq(arp_update(&t, nth_ip(i), m, true), ARP_UPD_ADDED);
	}
	/* Refreshing entry 0 does not save it: the policy is insertion order. */
	nth_mac(0, m);
	cr_assert_eq(arp_update(&t, nth_ip(0), m, true), ARP_UPD_REFRESHED);

	nth_mac(ARP_TABLE_SIZE, m);
	cr_assert_eq(arp_update(&t, nth_ip(ARP_TABLE_SIZE), m, true), ARP_UPD_REPLACED);
	cr_assert_not(arp_lookup(&t, nth_ip(0), got), "the oldest went first");
	cr_assert(arp_lookup(&t, nth_ip(1), got));
	cr_assert(arp_lookup(&t, nth_ip(ARP_TABLE_SIZE), got));
	cr_assert_arr_eq(got, m, 6);

	nth_mac(ARP_TABLE_SIZE + 1, m);
	cr_assert_eq(arp_update(&t, nth_ip(ARP_TABLE_SIZE + 1), m, true), ARP_UPD_REPLACED);
	cr_assert_not(arp_lookup(&t, nth_ip(1), got), "then the next oldest");
	cr_assert(arp_lookup(&t, nth_ip(2), got));
	cr_assert_eq(t.used, ARP_TABLE_SIZE);

	/* An unknown sender that is not aimed at us never evicts anything. */
	nth_mac(500, m);
	cr_assert_eq(arp_update(&t, nth_ip(500), m, false), ARP_UPD_IGNORED);
	cr_assert(arp_lookup(&t, nth_ip(2), got));
}

Test(arp, full_table_counts_evictions)
{
	uint8_t f[42];

	for (uint32_t i = 0; i < ARP_TABLE_SIZE + 3; i++) {
		uint32_t ip = nth_ip(i);

		memcpy(f, arp_req, 42);
		memcpy(f + A_SPA, &ip, 4);
		feed(f, 42);
	}
	cr_assert_eq(nc.st.arp_learned, ARP_TABLE_SIZE + 3);
	cr_assert_eq(nc.st.arp_evicted, 3);
	cr_assert_eq(nc.st.arp_replies_sent, CAP_MAX, "capture holds CAP_MAX, the rest are no_tx");
	cr_assert_eq(nc.st.drop_no_tx, ARP_TABLE_SIZE + 3 - CAP_MAX);
}
