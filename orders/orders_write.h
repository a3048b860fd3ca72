/*
 * orders_write.h - one batch of orders into PostgreSQL, in one transaction
 * with the Kafka offsets it covers.
 *
 * Three ways to send the rows, all with the same effect (the benchmark,
 * tools/bench-orders, measures them side by side):
 *
 *   OW_COPY      COPY straight into orders (the default); a batch that
 *                meets a row already there (a copy the front end sent
 *                again, a second live order of a buyer) is rolled back
 *                and redone as OW_STAGE. Copies come after restarts and
 *                rebalances, so nearly every batch takes the fast path.
 *   OW_STAGE     COPY into a temporary staging table, then one
 *                INSERT ... SELECT ... ON CONFLICT DO NOTHING
 *   OW_PIPELINE  libpq pipeline mode: one prepared INSERT per row, sent
 *                without waiting, one sync for the batch
 *   OW_SINGLE    one transaction per row (its offset included): the baseline
 *
 * The offset of each partition moves from what this consumer read from the
 * table to the batch's end only if the table still says the former
 * (ORDERS_SQL_OFFSET_MOVE): a consumer that lost the partition is fenced and
 * its transaction rolled back, so no batch is applied by two consumers'
 * offsets and none is skipped.
 */
#ifndef SECKILL_ORDERS_WRITE_H
#define SECKILL_ORDERS_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ord_record.h"

enum ow_mode { OW_COPY, OW_STAGE, OW_PIPELINE, OW_SINGLE };

/* What a batch covers in one partition: offsets [start of the table, next). */
struct ow_part {
	int32_t partition;
	int64_t stored;     /* the table's next_offset when we last read or wrote it; -1: no row */
	int64_t next;       /* one past the batch's last message in this partition */
	int64_t offset;     /* OW_SINGLE: scratch */
};

struct ow_batch {
	const char *topic;
	const struct ord_record *rec;
	const int32_t *rec_part;    /* rec[i]'s index in parts (OW_SINGLE moves offsets per row) */
	const int64_t *rec_off;     /* rec[i]'s Kafka offset (OW_SINGLE) */
	size_t n;
	struct ow_part *parts;
	size_t n_parts;
	uint32_t pay_within_s;
};

enum ow_rc {
	OW_OK = 0,
	OW_FENCED = 1,      /* another consumer moved an offset: re-read them */
	OW_DOWN = -1,       /* connection lost: the outcome of COMMIT may be unknown */
	OW_ERR = -2,        /* the server refused a statement; rolled back */
};

/*
 * Writes batch b. OW_OK: committed; *inserted = new rows (the rest were
 * copies) and each part's stored = next. Otherwise nothing is known to be
 * committed; err says what failed. *staged (may be NULL) is set when an
 * OW_COPY batch fell back to the staging table.
 */
int ow_write(PGconn *pg, enum ow_mode mode, const struct ow_batch *b, uint64_t *inserted,
	     bool *staged, char *err, size_t cap);

/* Per connection, once: the staging table and the prepared statements. */
int ow_prepare(PGconn *pg, char *err, size_t cap);

const char *ow_mode_str(enum ow_mode m);
/* "copy" | "stage" | "pipeline" | "single" -> 0 and *m, else -1. */
int ow_mode_parse(const char *s, enum ow_mode *m);

#endif
