/*
 * ctl_sale_kafka.c - the control thread's Kafka side: every journaled order to the
 * orders topic, and each delivery report confirms its order in the sale.
 *
 * control/ctl_kafka.c does the producing (idempotent, acks=all, keyed by
 * buyer, retries, rewinds after an outage); this file ties it to the
 * control loop. The order journal stays the control loop's own: ctl_loop.c
 * appends what the rings hold and group-syncs it as it does without Kafka,
 * and ctl_kafka, on the same thread, produces only what is synced and acks
 * the delivered prefix. So an order reaches Kafka only once it is durable,
 * and brokers that are down cost nothing but a growing journal depth: the
 * journal is the bounded queue, and only a full journal pauses sales (503).
 *
 * The journal is opened with ORD_JOURNAL_KEEP_ACKED (ctl_sale.c): an ack
 * moves its watermark and frees nothing, so the journal remains the whole
 * record of what this host sold, which a restart restores the sale from
 * whether Kafka has the orders or not. After a restart the orders above the
 * watermark are produced first, and only those (no redelivery loop); a
 * delivery report for an order of an earlier run finds no entry in this
 * run's order book (another epoch) and is counted as orders.decide_unknown.
 *
 * The delivery report is the confirmation: sale_order_confirm moves the
 * order from pending to confirmed, which GET /api/orders/{id} shows.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "ctl_kafka.h"
#include "ctl_plane.h"

/* At a clean stop, how long to wait for outstanding delivery reports; what
 * is not confirmed by then stays in the journal for the next run. */
#define CTL_SALE_KAFKA_FLUSH_MS 5000
#define CTL_SALE_KAFKA_FLUSH_STEP_MS 10

/* ctl_kafka's on_confirmed: the order is in Kafka (replicated, acks=all). */
static void ctl_sale_kafka_confirmed(void *arg, const struct ord_record *rec)
{
	struct ctl_plane *c = arg;

	sale_order_confirm(c->sale, rec->id);
}

int ctl_sale_kafka_open(const struct dp_conf *conf, struct ctl_plane *c, char *err, size_t errlen)
{
	const struct dp_sale_conf *sc = &conf->sale;
	struct ctl_kafka_conf kc = {
		.bootstrap = sc->kafka,
		.topic = sc->kafka_topic,
		.journal = c->journal,
		.journal_max_bytes = sc->journal_max_bytes,
		.ack_interval_ms = CTL_KAFKA_DEFAULT_ACK_MS,
		.before_produce = c->redis ? ctl_sale_redis_before_produce : NULL,
		.on_confirmed = ctl_sale_kafka_confirmed,
		.arg = c,
	};
	char kerr[512];

	if (sc->kafka[0] == '\0' || c->sale == NULL)
		return 0;
	c->kafka = ctl_kafka_create(&kc, kerr, sizeof(kerr));
	if (c->kafka == NULL) {
		snprintf(err, errlen, "--kafka %s: %s", sc->kafka, kerr);
		return -1;
	}
	c->kafka_on = true;
	if (ord_journal_depth(c->journal) != 0)
		printf("seckill-dp: kafka: %" PRIu64 " journaled orders not yet in %s are "
		       "produced first\n", ord_journal_depth(c->journal), sc->kafka_topic);
	return 0;
}

/* Logs the moments Kafka stops and starts taking orders, not every report. */
static void ctl_sale_kafka_log(struct ctl_plane *c, const struct ctl_kafka_stats *now)
{
	if (now->delivery_errors > c->kafka_st.delivery_errors && !c->kafka_down) {
		c->kafka_down = true;
		fprintf(stderr, "seckill-dp: kafka: %s; orders wait in the journal (depth %"
			PRIu64 ")\n", ctl_kafka_error(c->kafka), now->journal_depth);
	} else if (now->delivered > c->kafka_st.delivered && c->kafka_down) {
		c->kafka_down = false;
		printf("seckill-dp: kafka: delivering again (journal depth %" PRIu64 ")\n",
		       now->journal_depth);
	}
}

int ctl_sale_kafka_poll(struct ctl_plane *c)
{
	struct ctl_kafka_stats now;
	int rc;

	if (c->kafka == NULL)
		return 0;
	rc = ctl_kafka_poll(c->kafka, now_mono_us() / 1000);
	ctl_kafka_stats(c->kafka, &now);
	ctl_sale_kafka_log(c, &now);
	c->kafka_st = now;
	return rc;
}

void ctl_sale_kafka_close(struct ctl_plane *c)
{
	uint64_t deadline = now_mono_us() / 1000 + CTL_SALE_KAFKA_FLUSH_MS;
	const struct timespec step = { 0, CTL_SALE_KAFKA_FLUSH_STEP_MS * 1000000L };

	if (c->kafka == NULL)
		return;
	/* Until every journaled order is acked (delivered), or the deadline;
	 * each round is a pass for the Redis confirms in front of Kafka. */
	while (ctl_sale_redis_confirm_ahead(c), ctl_sale_kafka_poll(c) == 0 &&
	       ord_journal_depth(c->journal) != 0 && now_mono_us() / 1000 < deadline)
		nanosleep(&step, NULL);
	ctl_kafka_destroy(c->kafka, 0);
	c->kafka = NULL;
	c->journal_depth = ord_journal_depth(c->journal);
	c->kafka_st.journal_depth = c->journal_depth;
	if (c->journal_depth != 0)
		printf("seckill-dp: kafka: %" PRIu64 " orders not yet delivered stay in the "
		       "journal; the next start produces them first\n", c->journal_depth);
}
