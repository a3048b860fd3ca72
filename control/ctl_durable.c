/*
 * ctl_durable.c - when a core may send a sold order's 200: the durable position.
 *
 * No buyer hears 200 for an order that is not on disk. A core holds the
 * answer of every buy that took a unit (and whatever is pipelined behind it
 * on that connection) until the control thread says the order is durable,
 * by publishing per core the highest order sequence that is
 * (sale_set_durable). Orders reach the journal in each core's sequence order
 * (one ring per core, drained in order), so one number per core says it all.
 *
 * --answer-after disk (the default): published right after the fsync that
 * covers the pass (the group commit), so a held answer waits for at most a
 * pass plus one fsync. --answer-after kafka: published once Kafka's delivery
 * reports (acks=all) have moved the journal's ack watermark past those
 * orders; until then each sync's position waits in a small FIFO of
 * snapshots. --answer-after memory-unsafe: the cores do not hold at all
 * (a crash right after the answer loses the order); nothing is published.
 */
#include <string.h>

#include "ctl_plane.h"

void ctl_durable_appended(struct ctl_plane *c, const struct ord_record *rec)
{
	unsigned core = ord_id_core(rec->id);

	/* A core's records arrive in sequence order: the last is the highest. */
	if (core < SALE_MAX_CORES)
		c->dur.appended[core] = ord_id_seq(rec->id);
}

static void ctl_durable_publish(struct ctl_plane *c, const uint64_t *seq)
{
	for (unsigned i = 0; i < c->n_cores; i++)
		sale_set_durable(c->sale, i, seq[i]);
}

/* Kafka mode: remember this sync's position, to publish once acked. */
static void ctl_durable_snapshot(struct ctl_plane *c, uint64_t jseq)
{
	struct ctl_durable *d = &c->dur;
	struct ctl_durable_snap *s;

	if (d->n == CTL_DURABLE_SNAPS) {
		/* Full (Kafka away for a long time): the newest snapshot absorbs
		 * this one. It is released later than it could be, never early. */
		s = &d->snap[(d->head + d->n - 1) % CTL_DURABLE_SNAPS];
		d->coalesced++;
	} else {
		s = &d->snap[(d->head + d->n) % CTL_DURABLE_SNAPS];
		d->n++;
	}
	s->jseq = jseq;
	memcpy(s->seq, d->appended, sizeof(s->seq));
}

void ctl_durable_synced(struct ctl_plane *c)
{
	struct ctl_durable *d = &c->dur;

	if (memcmp(d->appended, d->synced, sizeof(d->synced)) == 0)
		return;
	memcpy(d->synced, d->appended, sizeof(d->synced));
	if (c->answer_after == DP_ANSWER_AFTER_DISK)
		ctl_durable_publish(c, d->synced);
	else if (c->answer_after == DP_ANSWER_AFTER_KAFKA)
		ctl_durable_snapshot(c, ord_journal_synced_seq(c->journal));
}

void ctl_durable_acked(struct ctl_plane *c)
{
	struct ctl_durable *d = &c->dur;
	uint64_t acked;

	if (c->answer_after != DP_ANSWER_AFTER_KAFKA || d->n == 0)
		return;
	acked = ord_journal_acked_seq(c->journal);
	while (d->n != 0 && d->snap[d->head].jseq <= acked) {
		ctl_durable_publish(c, d->snap[d->head].seq);
		d->head = (d->head + 1) % CTL_DURABLE_SNAPS;
		d->n--;
	}
}
