/*
 * ctl_loop.c - the control thread: every sale from the cores' rings to disk.
 *
 * The main lcore runs this loop while the workers sell. Each pass, every
 * millisecond: drain each worker's order ring (ord_ring_dequeue_burst) into
 * the order journal, then one ord_journal_sync for everything the pass
 * appended: a group commit, so under load one fdatasync covers thousands of
 * orders and the rings (16 Ki by default) hold far more than a pass lets in.
 * A record is durable once the sync after it returns. With --kafka the
 * same pass then lets the producer (ctl_sale_kafka.c) send what is durable and
 * serve delivery reports, which confirm the orders; without it they stay
 * `pending`.
 *
 * Nothing dequeued is ever dropped: a ring is read only as far as the
 * journal has room, and a record the journal refuses stays in `carry` for
 * the next pass. When the room left falls below CTL_PAUSE_RINGS rings' worth
 * (ctl_sale.c), or the journal fails, sales are paused (sale_set_paused): the
 * cores answer 503 order_queue_full and take no stock, so what they had
 * already committed still fits. At exit the rings are drained to the end
 * and synced once more; anything left (only with a broken journal) is
 * counted as unjournaled and reported.
 *
 * Each pass also serves seckillctl's control socket (ctl_sock.c), which
 * never blocks, so its answers take at most one pass to start.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_plane.h"
#include "ctl_metrics.h"
#include "ctl_sock.h"

const char *const ctl_loop_stats_names[] = { CTL_LOOP_STATS(STATS_NAME) };

/* One pass a millisecond: a core selling a million orders a second puts
 * 1000 in its ring meanwhile, 6% of a default ring. */
#define CTL_LOOP_POLL_US 1000
/* While orders arrive, the next pass comes sooner: a buyer's 200 waits for
 * the sync after it (ctl_durable.c), so the pass period is most of that
 * wait. Each fsync still covers everything that arrived meanwhile. */
#define CTL_LOOP_BUSY_POLL_US 200
/* ... and stays that soon for a while after the last order: a group commit
 * releases its buyers' answers together and their next buys come back
 * together, a few hundred us later. A pass that finds none yet must not
 * make them wait a whole idle period (holes of 1-16 ms between commits at
 * a million buys a second; BENCHMARKS.md, round 9). */
#define CTL_LOOP_BUSY_LINGER_US 20000
/* Without a sale the loop only watches dp_quit and prints summaries. */
#define CTL_LOOP_IDLE_POLL_US 100000
/* Segment headers the journal may still add (one per segment, max_bytes/8
 * each): room is counted without them, and with spare. */
#define CTL_LOOP_HDR_SLACK (16 * ORD_JOURNAL_HDR_BYTES)
#define CTL_NS_PER_US 1000
#define CTL_US_PER_S 1000000

/* Records the journal can still take. */
static uint64_t ctl_loop_room(const struct ctl_plane *c)
{
	uint64_t used = ord_journal_bytes(c->journal) + CTL_LOOP_HDR_SLACK;

	return used >= c->max_bytes ? 0 : (c->max_bytes - used) / ORD_JOURNAL_FRAME_BYTES;
}

static void ctl_loop_broken(struct ctl_plane *c)
{
	if (!c->broken)
		fprintf(stderr, "seckill-dp: order journal failed: %s; sales are paused "
			"(503) until seckill-dp is restarted\n", ord_journal_error(c->journal));
	c->broken = true;
	c->st.journal_errors++;
}

/* Appends the carried records; false when the journal refused one. */
static bool ctl_loop_append_carry(struct ctl_plane *c)
{
	int rc;

	while (c->carry_i < c->carry_n) {
		rc = ord_journal_append(c->journal, &c->carry[c->carry_i], NULL);
		if (rc == ORD_JOURNAL_ERR)
			ctl_loop_broken(c);
		if (rc != ORD_JOURNAL_OK)
			return false;
		ctl_durable_appended(c, &c->carry[c->carry_i]);
		c->carry_i++;
		c->st.journaled++;
	}
	c->carry_i = c->carry_n = 0;
	return true;
}

/* Ring i into the journal, as far as there is room. Returns records moved. */
static uint64_t ctl_loop_drain_ring(struct ctl_plane *c, unsigned i)
{
	struct ord_ring *r = sale_ring(c->sale, i);
	uint64_t moved = 0, room;
	unsigned n;

	for (;;) {
		if (!ctl_loop_append_carry(c))
			break;
		room = ctl_loop_room(c);
		n = ord_ring_dequeue_burst(r, c->carry, (unsigned)RTE_MIN(room, (uint64_t)CTL_LOOP_BURST));
		if (n == 0)
			break;
		c->carry_n = n;
		c->ring_drained[i] += n;
		c->st.drained += n;
		moved += n;
	}
	return moved;
}

static void ctl_loop_sync(struct ctl_plane *c)
{
	uint64_t t0 = now_mono_us(), us;

	if (ord_journal_sync(c->journal) < 0) {
		ctl_loop_broken(c);
		return;
	}
	us = now_mono_us() - t0;
	c->sync_us_max = RTE_MAX(c->sync_us_max, us);
	c->st.syncs++;
}

/* Pauses sales while the journal is nearly full or broken. */
static void ctl_loop_pause_check(struct ctl_plane *c)
{
	bool want = c->broken || ctl_loop_room(c) < c->pause_room;

	if (want == c->paused)
		return;
	c->paused = want;
	sale_set_paused(c->sale, want);
	if (want) {
		c->st.pauses++;
		fprintf(stderr, "seckill-dp: order journal nearly full (%" PRIu64 " of %" PRIu64
			" bytes, %" PRIu64 " orders not taken by the control plane): new sales "
			"get 503 order_queue_full\n", ord_journal_bytes(c->journal), c->max_bytes,
			ord_journal_depth(c->journal));
	} else {
		printf("seckill-dp: order journal has room again: sales resumed\n");
	}
}

/* One pass: every ring, one sync, the pause, the gauges. Records moved. */
static uint64_t ctl_loop_pass(struct ctl_plane *c)
{
	uint64_t moved = 0, t0 = now_mono_us();

	if (!c->broken) {
		for (unsigned i = 0; i < c->n_cores; i++)
			moved += ctl_loop_drain_ring(c, i);
		if (ord_journal_last_seq(c->journal) != ord_journal_synced_seq(c->journal))
			ctl_loop_sync(c);
		/* What is synced now may be answered (--answer-after disk). */
		if (ord_journal_last_seq(c->journal) == ord_journal_synced_seq(c->journal))
			ctl_durable_synced(c);
		/* With the answers out: zeros ahead for the next syncs (ord_journal.h).
		 * A failure only costs that speed; the next write tells of a real
		 * disk problem. */
		(void)ord_journal_prefill(c->journal);
		if (moved != 0)         /* /metrics: how long these orders' answers waited here */
			ctl_prom_hist_observe(&c->durable_hist,
					      (double)(now_mono_us() - t0) / CTL_US_PER_S, moved);
	}
	/* Refills first: cores waiting for stock matter more than confirms. */
	ctl_sale_redis_poll(c);
	ctl_sale_events_poll(c);        /* the order service's paid and expired */
	if (!c->broken && ctl_sale_kafka_poll(c) < 0)
		ctl_loop_broken(c);
	ctl_durable_acked(c);           /* --answer-after kafka */
	ctl_loop_pause_check(c);
	c->journal_depth = ord_journal_depth(c->journal);
	c->journal_bytes = ord_journal_bytes(c->journal);
	c->synced_seq = ord_journal_synced_seq(c->journal);
	return moved;
}

/* The main lcore's job while workers run: drain, sync, print summaries. */
void ctl_loop_run(struct ctl_plane *c, const struct dp_conf *conf)
{
	const uint64_t poll_us = c->sale ? CTL_LOOP_POLL_US : CTL_LOOP_IDLE_POLL_US;
	const struct timespec step = { 0, (long)(poll_us * CTL_NS_PER_US) };
	const struct timespec busy = { 0, (long)(CTL_LOOP_BUSY_POLL_US * CTL_NS_PER_US) };
	const uint64_t every_us = (uint64_t)conf->stats_interval_s * CTL_US_PER_S;
	uint64_t start = now_mono_us(), next = start + every_us, now = start, busy_until = 0;

	while (!__atomic_load_n(&dp_quit, __ATOMIC_RELAXED)) {
		if (c->sale && ctl_loop_pass(c) != 0)
			busy_until = now + CTL_LOOP_BUSY_LINGER_US;
		ctl_sock_poll(c->sock);
		ctl_metrics_poll(c->metrics);
		nanosleep(now < busy_until ? &busy : &step, NULL);
		now = now_mono_us();
		if (every_us != 0 && now >= next) {
			ctl_stats_summary(stdout, (now - start) / CTL_US_PER_S, c);
			next += every_us;
		}
	}
}

/* After the workers stopped: everything into the journal and synced. */
void ctl_loop_finish(struct ctl_plane *c)
{
	uint64_t left;

	if (c->sale == NULL)
		return;
	while (!c->broken && ctl_loop_pass(c) != 0)
		;
	left = c->carry_n - c->carry_i;
	for (unsigned i = 0; i < c->n_cores; i++)
		left += ord_ring_count(sale_ring(c->sale, i));
	c->st.unjournaled = left;
	if (left != 0)
		fprintf(stderr, "seckill-dp: %" PRIu64 " sold orders could not be journaled "
			"(%s) and are lost; their buyers were answered 200\n", left,
			c->broken ? ord_journal_error(c->journal) : "journal full");
	ctl_sale_kafka_close(c);
	ctl_sale_redis_close(c);
}
