/*
 * ctl_sale.c - the sale's set-up and tear-down: options to a running engine.
 *
 * In two steps, so that what can fail for a reason the operator controls
 * fails before the EAL starts: ctl_sale_open (before EAL) makes the state
 * directory, claims this run's boot epoch in it (order ids stay unique
 * across restarts, ord_record.h) and opens the order journal there, which
 * also takes the directory's lock, so two dataplanes cannot share it.
 * ctl_sale_create (after EAL, when the number of workers is known) builds the
 * sale_conf, creates the engine with one sale_core per worker, adds the
 * campaigns and the blacklists. Without --campaign neither step does
 * anything and the /api/ routes answer 404.
 *
 * The journal keeps the orders of earlier runs: it is opened with
 * ORD_JOURNAL_KEEP_ACKED, so Kafka's acks (ctl_sale_kafka.c) move a watermark and
 * delete nothing. A restart must not sell their stock or their buyers again,
 * so ctl_sale_restore replays every one of them into the new sale before the
 * workers start: each takes its unit out of the pool and its buyer into the
 * purchase set (sale_restore_order). The campaign's stock on the command
 * line is what the sale started with, across restarts. The campaigns made
 * at run time are in the sale before that replay too: with --redis every
 * campaign Redis knows (ctl_sale_redis.c), without it those the state dir
 * recorded (ctl_campaigns.c). With --kafka the producer is created last,
 * on the same journal (ctl_sale_kafka_open).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl_plane.h"

#define CTL_STATE_DIR_MODE 0750
#define CTL_EPOCH_FILE "epoch"
#define CTL_JOURNAL_DIR "journal"
/*
 * Sales pause when the journal has room for fewer than this many rings'
 * worth of records: after the pause, the cores can still commit what their
 * rings hold plus one sale each in flight, and two rings' worth covers it,
 * so an order answered 200 always finds room in the journal.
 */
#define CTL_PAUSE_RINGS 2

static int ctl_sale_mkdir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, CTL_STATE_DIR_MODE) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "--state-dir %s: cannot create it: %s; create its parent or "
		 "give another directory", dir, strerror(errno));
	return -1;
}

int ctl_sale_open(const struct dp_conf *conf, struct ctl_plane *ctl, char *err, size_t errlen)
{
	const struct dp_sale_conf *sc = &conf->sale;
	char path[DP_PATH_CAP + 16], jerr[256];

	memset(ctl, 0, sizeof(*ctl));
	if (!sc->on)
		return 0;
	if (ctl_sale_mkdir(sc->state_dir, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", sc->state_dir, CTL_EPOCH_FILE);
	if (ord_epoch_claim(path, now_wall_s(), &ctl->epoch, jerr, sizeof(jerr)) < 0) {
		snprintf(err, errlen, "boot epoch: %s", jerr);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", sc->state_dir, CTL_JOURNAL_DIR);
	ctl->journal = ord_journal_open_flags(path, sc->journal_max_bytes, ORD_JOURNAL_KEEP_ACKED,
					      jerr, sizeof(jerr));
	if (ctl->journal == NULL) {
		snprintf(err, errlen, "order journal: %s", jerr);
		return -1;
	}
	ctl->max_bytes = sc->journal_max_bytes;
	ctl->answer_after = sc->answer_after;
	if (ord_journal_torn_bytes(ctl->journal) != 0)
		fprintf(stderr, "seckill-dp: order journal %s: cut %" PRIu64 " bytes of an "
			"unfinished write at its end (a crash before sync)\n", path,
			ord_journal_torn_bytes(ctl->journal));
	if (ctl_sale_redis_open(conf, ctl, err, errlen) < 0)
		return -1;
	if (ord_journal_last_seq(ctl->journal) != 0)
		printf("seckill-dp: order journal %s holds %" PRIu64 " orders of earlier runs "
		       "(%" PRIu64 " of them delivered to Kafka)\n", path,
		       ord_journal_last_seq(ctl->journal), ord_journal_acked_seq(ctl->journal));
	return 0;
}

static void ctl_sale_conf_build(const struct dp_conf *conf, const struct ctl_plane *ctl,
			       unsigned workers, struct sale_conf *out)
{
	const struct dp_sale_conf *sc = &conf->sale;

	sale_conf_default(out);
	out->n_cores = workers;
	out->epoch = ctl->epoch;
	out->node = sc->node_id;
	out->key = sc->key;
	out->ip_rule = sc->ip_rule;
	out->buyer_rule = sc->buyer_rule;
	out->purchase_capacity = sc->max_buyers;
	out->blacklist_capacity = DP_BLACKLIST_MAX;
	out->ring_size = sc->order_ring;
	out->max_stock = sc->max_stock;
}

static int ctl_sale_fill(const struct dp_conf *conf, struct ctl_plane *ctl, char *err,
			size_t errlen)
{
	struct sale *s = ctl->sale;
	const struct dp_sale_conf *sc = &conf->sale;
	int rc;

	/* With Redis, every campaign it knows (the command line's were made
	 * there at open); without, the command line's then those the state
	 * dir recorded. Before the journal's replay, which needs them all. */
	if (ctl->redis != NULL && ctl_sale_redis_add_all(ctl, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; ctl->redis == NULL && i < sc->n_campaigns; i++) {
		rc = sale_campaign_add(s, sc->camp[i].id, sc->camp[i].stock,
				       sc->camp[i].starts_at_ms);
		if (rc < 0) {
			snprintf(err, errlen, "campaign %u: cannot add it: %s", sc->camp[i].id,
				 strerror(-rc));
			return -1;
		}
	}
	if (ctl->redis == NULL && ctl_campaigns_restore(conf, ctl, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < sc->n_black_ip; i++)
		if (sale_blacklist_ip_add(s, sc->black_ip[i]) < 0) {
			snprintf(err, errlen, "--blacklist-ip: the table is full");
			return -1;
		}
	for (unsigned i = 0; i < sc->n_black_buyer; i++)
		if (sale_blacklist_buyer_add(s, sc->black_buyer[i]) < 0) {
			snprintf(err, errlen, "--blacklist-buyer: the table is full");
			return -1;
		}
	return 0;
}

struct ctl_restore {
	struct ctl_plane *ctl;
	uint64_t n[SALE_RESTORE_OVERSOLD + 1];
	uint64_t skipped;            /* tombstones and the orders they reject */
};

/* Stops the replay: Redis could not confirm an order of an earlier run. */
#define CTL_RESTORE_REDIS_FAILED 2

static int ctl_sale_restore_one(void *arg, uint64_t seq, const struct ord_record *rec)
{
	struct ctl_restore *r = arg;

	switch (ctl_sale_redis_restore_check(r->ctl, seq, rec)) {
	case CTL_SALE_REDIS_RESTORE_SKIP:
		r->skipped++;
		return 0;
	case CTL_SALE_REDIS_RESTORE_FAILED:
		return CTL_RESTORE_REDIS_FAILED;
	default:
		r->n[sale_restore_order(r->ctl->sale, rec)]++;
		return 0;
	}
}

/* Earlier runs' orders back into this run's sale: see the top of the file. */
static int ctl_sale_restore(struct ctl_plane *ctl, char *err, size_t errlen)
{
	struct ctl_restore r = { .ctl = ctl };
	int rc;

	if (ord_journal_last_seq(ctl->journal) == 0)
		return ctl_sale_redis_restore_end(ctl, err, errlen);
	if (ctl_sale_redis_restore_begin(ctl, err, errlen) < 0)
		return -1;
	rc = ord_journal_replay_all(ctl->journal, ctl_sale_restore_one, &r);
	if (rc == CTL_RESTORE_REDIS_FAILED) {
		snprintf(err, errlen, "redis: cannot confirm the orders of the last run: %s; "
			 "a restart needs Redis to know which buyers are this host's",
			 ctl->redis ? "see above" : "no Redis");
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "order journal: cannot read it back: %s",
			 ord_journal_error(ctl->journal));
		return -1;
	}
	if (r.skipped)
		printf("seckill-dp: journal: %" PRIu64 " records of orders rejected as duplicates "
		       "(bought on another host), not restored\n", r.skipped);
	printf("seckill-dp: restored %" PRIu64 " orders of earlier runs from the journal: their "
	       "units stay sold and their buyers keep their purchase\n", r.n[SALE_RESTORE_OK]);
	if (r.n[SALE_RESTORE_NO_CAMPAIGN] || r.n[SALE_RESTORE_DUPLICATE])
		printf("seckill-dp: journal: %" PRIu64 " orders of campaigns not given now, %" PRIu64
		       " repeated purchases (kept, not restored)\n",
		       r.n[SALE_RESTORE_NO_CAMPAIGN], r.n[SALE_RESTORE_DUPLICATE]);
	if (r.n[SALE_RESTORE_FULL] || r.n[SALE_RESTORE_OVERSOLD]) {
		snprintf(err, errlen, "order journal: %" PRIu64 " earlier orders exceed this run's "
			 "stock and %" PRIu64 " exceed --max-buyers: give each --campaign the stock "
			 "it started with, or a fresh --state-dir for a new sale",
			 r.n[SALE_RESTORE_OVERSOLD], r.n[SALE_RESTORE_FULL]);
		return -1;
	}
	return ctl_sale_redis_restore_end(ctl, err, errlen);
}

int ctl_sale_create(const struct dp_conf *conf, struct ctl_plane *ctl, unsigned workers,
		   char *err, size_t errlen)
{
	const struct dp_sale_conf *sc = &conf->sale;
	struct sale_conf scf;
	char serr[SALE_ERR_CAP];
	uint64_t fits;

	if (!sc->on)
		return 0;
	ctl->n_cores = workers;
	ctl->pause_room = (uint64_t)CTL_PAUSE_RINGS * workers * sc->order_ring;
	fits = sc->journal_max_bytes / ORD_JOURNAL_FRAME_BYTES;
	if (fits <= 2 * ctl->pause_room) {
		snprintf(err, errlen, "--journal-max-mb %" PRIu64 " holds %" PRIu64 " orders, "
			 "too few for %u workers' order rings of %u (sales pause below %" PRIu64
			 " free): raise --journal-max-mb or lower --order-ring",
			 sc->journal_max_bytes >> 20, fits, workers, sc->order_ring,
			 ctl->pause_room);
		return -1;
	}
	ctl_sale_conf_build(conf, ctl, workers, &scf);
	ctl->sale = sale_create(&scf, serr, sizeof(serr));
	if (ctl->sale == NULL) {
		snprintf(err, errlen, "%s", serr);
		return -1;
	}
	if (ctl_sale_fill(conf, ctl, err, errlen) < 0 ||
	    ctl_sale_restore(ctl, err, errlen) < 0)
		return -1;
	return ctl_sale_kafka_open(conf, ctl, err, errlen);
}

/* After ctl_loop_finish and the final counters. */
void ctl_sale_close(struct ctl_plane *ctl)
{
	if (ctl->journal != NULL)
		ord_journal_close(ctl->journal);
	ctl->journal = NULL;
	sale_destroy(ctl->sale);
	ctl->sale = NULL;
	ctl_campaigns_free(ctl);
}
