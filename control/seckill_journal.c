/*
 * seckill_journal.c - seckill-journal: print the orders in an order journal.
 *
 *   seckill-journal DIR          (DIR: <state-dir>/journal of seckill-dp)
 *
 * One line per record, acked (delivered to Kafka) or not, in journal order:
 *
 *   <seq> <order id> campaign=<id> buyer=<id> time_ms=<ms> qty=<n>
 *
 * then "records <n>" and "acked <seq>", the watermark: records up to it are
 * in Kafka. It reads through ord_journal_open_flags and replay_all, as
 * seckill-dp does at start, so every record it prints has passed its
 * CRC and sequence checks. Opening takes the directory's lock: run it on a
 * stopped dataplane (it refuses, naming the holder's lock, otherwise); like
 * any open it cuts a torn, never-synced tail off the newest segment.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ord_journal.h"

/* Opening for reading: no limit that could refuse the existing records. */
#define DUMP_MAX_BYTES (UINT64_C(1) << 62)

static int dump_one(void *arg, uint64_t seq, const struct ord_record *rec)
{
	uint64_t *n = arg;
	char id[ORD_ID_STR_CAP];

	ord_id_format(rec->id, id, sizeof(id));
	printf("%" PRIu64 " %s campaign=%" PRIu32 " buyer=%" PRIu64 " time_ms=%" PRIu64
	       " qty=%" PRIu32 "\n", seq, id, rec->campaign, rec->buyer, rec->time_ms, rec->qty);
	(*n)++;
	return 0;
}

int main(int argc, char **argv)
{
	struct ord_journal *j;
	char err[512];
	uint64_t n = 0;
	int rc;

	if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: %s DIR\nPrints the orders in the order journal DIR "
			"(<state-dir>/journal of a stopped seckill-dp).\n", argv[0]);
		return argc == 2 ? EXIT_SUCCESS : 2;
	}
	/* KEEP_ACKED as seckill-dp opens it: a plain open would delete what
	 * Kafka has acked, the record a restart restores the sale from. */
	j = ord_journal_open_flags(argv[1], DUMP_MAX_BYTES, ORD_JOURNAL_KEEP_ACKED, err,
				   sizeof(err));
	if (j == NULL) {
		fprintf(stderr, "seckill-journal: %s\n", err);
		return EXIT_FAILURE;
	}
	rc = ord_journal_replay_all(j, dump_one, &n);
	if (rc != 0)
		fprintf(stderr, "seckill-journal: replay failed: %s\n", ord_journal_error(j));
	printf("records %" PRIu64 "\n", n);
	printf("acked %" PRIu64 "\n", ord_journal_acked_seq(j));
	ord_journal_close(j);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
