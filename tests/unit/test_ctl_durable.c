/*
 * Tests for control/ctl_durable.c: the durable position each core's held
 * 200s wait for. The control thread's part is played by hand, in the order
 * ctl_loop_pass calls it: records appended to a real order journal
 * (ctl_durable_appended), one sync (ctl_durable_synced), then Kafka's acks
 * moving the journal's watermark (ord_journal_ack, ctl_durable_acked); the
 * position is read as a core reads it (sale_durable_seq). ctl_plane.h
 * includes dataplane/dp.h, hence DPDK's headers; nothing of DPDK is linked.
 *
 * The rule under test: a core's position never passes an order that is not
 * durable in the mode's sense (disk: fsynced; kafka: acked), and in kafka
 * mode a full snapshot FIFO makes answers late, never early.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_plane.h"

#define EPOCH 1700000000u
#define CORES 3
#define JOURNAL_MAX (64ull << 20)

static struct ctl_plane c;
static char dir[64];

static void setup(enum dp_answer_after mode)
{
	struct sale_conf cf;
	char err[256];

	memset(&c, 0, sizeof(c));
	sale_conf_default(&cf);
	cf.n_cores = CORES;
	cf.epoch = EPOCH;
	cf.key.k[0] = 1;
	cf.max_stock = 100;
	cf.ring_size = 64;
	cf.purchase_capacity = cf.buyer_capacity = cf.ip_capacity = 1024;
	c.sale = sale_create(&cf, err, sizeof(err));
	cr_assert_not_null(c.sale, "%s", err);
	c.n_cores = CORES;
	c.answer_after = mode;
	/* tmpfs: a thousand fsyncs cost nothing there, and the test is about
	 * the order of events, not the disk. */
	snprintf(dir, sizeof(dir), "%s/ctl-durable-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	c.journal = ord_journal_open_flags(dir, JOURNAL_MAX, ORD_JOURNAL_KEEP_ACKED, err,
					   sizeof(err));
	cr_assert_not_null(c.journal, "%s", err);
}

static void teardown(void)
{
	char cmd[128];

	ord_journal_close(c.journal);
	sale_destroy(c.sale);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Core `core` sold its order `seq`: the control thread appends it. */
static void order(unsigned core, uint64_t seq)
{
	struct ord_record rec = {
		.id = ord_id_make(EPOCH, 0, (uint16_t)core, seq),
		.buyer = core * 1000 + seq, .time_ms = 1, .campaign = 1, .qty = 1,
	};

	cr_assert_eq(ord_journal_append(c.journal, &rec, NULL), ORD_JOURNAL_OK);
	ctl_durable_appended(&c, &rec);
}

/* The rest of a control pass: one sync for what was appended, then acks. */
static void sync_pass(void)
{
	cr_assert_eq(ord_journal_sync(c.journal), 0);
	ctl_durable_synced(&c);
	ctl_durable_acked(&c);
}

/* Kafka delivered (and the producer persisted) every record up to jseq. */
static void kafka_ack(uint64_t jseq)
{
	cr_assert_eq(ord_journal_ack(c.journal, jseq), 0);
	ctl_durable_acked(&c);
}

static uint64_t dur(unsigned core)
{
	return sale_durable_seq(sale_core(c.sale, core));
}

static void expect_dur(uint64_t c0, uint64_t c1, uint64_t c2)
{
	cr_assert_eq(dur(0), c0, "core 0 at %lu, want %lu", (unsigned long)dur(0),
		     (unsigned long)c0);
	cr_assert_eq(dur(1), c1, "core 1 at %lu, want %lu", (unsigned long)dur(1),
		     (unsigned long)c1);
	cr_assert_eq(dur(2), c2, "core 2 at %lu, want %lu", (unsigned long)dur(2),
		     (unsigned long)c2);
}

Test(ctl_durable, disk_publishes_after_the_sync_and_not_before)
{
	setup(DP_ANSWER_AFTER_DISK);
	order(0, 1);
	order(1, 1);
	order(0, 2);
	expect_dur(0, 0, 0);            /* appended, not yet synced */
	ctl_durable_acked(&c);          /* no effect in disk mode */
	expect_dur(0, 0, 0);
	sync_pass();
	expect_dur(2, 1, 0);
	/* More on core 2 and core 0; core 1 sold nothing: it stays. */
	order(2, 1);
	order(0, 3);
	expect_dur(2, 1, 0);
	sync_pass();
	expect_dur(3, 1, 1);
	/* A pass with nothing new publishes nothing new. */
	sync_pass();
	expect_dur(3, 1, 1);
	teardown();
}

Test(ctl_durable, kafka_publishes_a_sync_only_once_kafka_acked_all_of_it)
{
	setup(DP_ANSWER_AFTER_KAFKA);
	order(0, 1);                    /* journal seq 1 */
	order(1, 1);                    /* 2 */
	sync_pass();                    /* snapshot A: jseq 2, {1, 1, 0} */
	expect_dur(0, 0, 0);            /* durable on disk is not enough */
	order(0, 2);                    /* 3 */
	order(2, 1);                    /* 4 */
	order(0, 3);                    /* 5 */
	sync_pass();                    /* snapshot B: jseq 5, {3, 1, 1} */
	expect_dur(0, 0, 0);
	kafka_ack(1);                   /* part of A only */
	expect_dur(0, 0, 0);
	kafka_ack(2);                   /* A whole */
	expect_dur(1, 1, 0);
	kafka_ack(4);                   /* part of B: core 0's seq 2 is acked, but B is not */
	expect_dur(1, 1, 0);
	kafka_ack(5);
	expect_dur(3, 1, 1);
	teardown();
}

Test(ctl_durable, kafka_acks_that_cover_several_syncs_publish_the_newest)
{
	setup(DP_ANSWER_AFTER_KAFKA);
	for (uint64_t s = 1; s <= 10; s++) {
		order((unsigned)(s % CORES), s);
		sync_pass();
	}
	expect_dur(0, 0, 0);
	kafka_ack(10);
	expect_dur(9, 10, 8);
	cr_assert_eq(c.dur.n, 0, "every snapshot popped");
	teardown();
}

/* Kafka away for longer than CTL_DURABLE_SNAPS syncs: the newest snapshot
 * absorbs the rest. Whatever Kafka acks meanwhile, no core's position passes
 * an order Kafka has not acked. */
Test(ctl_durable, kafka_fifo_full_releases_late_never_early)
{
	const uint64_t n = CTL_DURABLE_SNAPS + 40;

	setup(DP_ANSWER_AFTER_KAFKA);
	/* One order of core 0 per sync: its seq is the journal's seq. */
	for (uint64_t s = 1; s <= n; s++) {
		order(0, s);
		sync_pass();
	}
	cr_assert_eq(c.dur.n, CTL_DURABLE_SNAPS);
	cr_assert_eq(c.dur.coalesced, n - CTL_DURABLE_SNAPS);
	expect_dur(0, 0, 0);
	for (uint64_t a = 1; a <= n; a += 7) {
		kafka_ack(a);
		cr_assert_leq(dur(0), a, "core 0 released order %lu with only %lu acked",
			      (unsigned long)dur(0), (unsigned long)a);
		/* Each snapshot still in the FIFO is one sync: released on time. */
		if (a < CTL_DURABLE_SNAPS)
			cr_assert_eq(dur(0), a);
	}
	kafka_ack(n);
	cr_assert_eq(dur(0), n, "the last orders never released");
	cr_assert_eq(c.dur.n, 0);
	teardown();
}

Test(ctl_durable, memory_unsafe_publishes_nothing)
{
	setup(DP_ANSWER_AFTER_MEMORY_UNSAFE);
	order(0, 1);
	order(1, 1);
	sync_pass();
	kafka_ack(2);
	expect_dur(0, 0, 0);
	cr_assert_eq(c.dur.n, 0);
	teardown();
}

/* An id naming a core this table has no slot for is ignored; one naming a
 * core this sale does not run is remembered but never published. */
Test(ctl_durable, records_of_unknown_cores_are_ignored)
{
	setup(DP_ANSWER_AFTER_DISK);
	order(SALE_MAX_CORES, 5);
	order(0xffff, 6);
	order(CORES, 7);
	order(1, 1);
	sync_pass();
	expect_dur(0, 1, 0);
	teardown();
}
