/*
 * orders_write.c - a batch of orders and its offsets, one transaction
 * (orders_write.h). The three modes differ only in how the rows travel;
 * the statements are orders_sql.h's.
 */
#include "orders_write.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orders_pg.h"
#include "orders_sql.h"

/* Pipeline mode: queries in flight before we read their results. Bounded so
 * neither side blocks writing while the other is not reading. */
#define OW_PIPE_WINDOW 512
/* COPY text, either table: "id\tcampaign\tbuyer\tqty\tnode\tcore\t" then
 * time_ms, or two timestamps "YYYY-MM-DD hh:mm:ss.mmm+00": under 160 bytes. */
#define OW_COPY_ROW_MAX 160
/* Campaigns with a payment window of their own that one batch looks up. */
#define OW_WINDOWS_MAX 1024
#define OW_NUM_CAP 24
/* The direct COPY's cue to redo the batch through the staging table: a
 * statement met a row already there (ORDERS_SQLSTATE_UNIQUE), or there are
 * more campaign windows than it looks up. ow_write never returns it. */
#define OW_VIA_STAGE 2

const char *ow_mode_str(enum ow_mode m)
{
	return m == OW_COPY ? "copy" : m == OW_STAGE ? "stage" : m == OW_PIPELINE ? "pipeline" :
	       "single";
}

int ow_mode_parse(const char *s, enum ow_mode *m)
{
	if (strcmp(s, "copy") == 0)
		*m = OW_COPY;
	else if (strcmp(s, "stage") == 0)
		*m = OW_STAGE;
	else if (strcmp(s, "pipeline") == 0)
		*m = OW_PIPELINE;
	else if (strcmp(s, "single") == 0)
		*m = OW_SINGLE;
	else
		return -1;
	return 0;
}

/* The result's failure as OW_DOWN / OW_FENCED / OW_ERR, its text in err. */
static int ow_fail(PGconn *pg, const PGresult *r, const char *what, char *err, size_t cap)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorMessage(r) : "";

	if (!*msg)
		msg = PQerrorMessage(pg);
	snprintf(err, cap, "%s: %s", what, msg);
	err[strcspn(err, "\n")] = '\0';
	if (PQstatus(pg) != CONNECTION_OK)
		return OW_DOWN;
	if (state && strcmp(state, ORDERS_SQLSTATE_FENCED) == 0) {
		snprintf(err, cap, "%s: fenced: another consumer moved this partition's offset", what);
		return OW_FENCED;
	}
	return state && strcmp(state, ORDERS_SQLSTATE_UNIQUE) == 0 ? OW_VIA_STAGE : OW_ERR;
}

/* Runs sql (no parameters) and expects want; 0 or the failure. */
static int ow_exec(PGconn *pg, const char *sql, ExecStatusType want, char *err, size_t cap)
{
	PGresult *r = PQexec(pg, sql);
	int rc = 0;

	if (PQresultStatus(r) != want)
		rc = ow_fail(pg, r, sql, err, cap);
	PQclear(r);
	return rc;
}

/* After a failure inside the transaction: back to a clean session. */
static int ow_abort(PGconn *pg, int rc)
{
	if (rc != OW_DOWN && PQstatus(pg) == CONNECTION_OK)
		PQclear(PQexec(pg, "rollback"));
	return rc;
}

int ow_prepare(PGconn *pg, char *err, size_t cap)
{
	static const struct { const char *name, *sql; int nparams; } stmts[] = {
		{ "ow_from_stage", ORDERS_SQL_FROM_STAGE, 1 },
		{ "ow_insert_one", ORDERS_SQL_INSERT_ONE, 8 },
		{ "ow_offset_move", ORDERS_SQL_OFFSET_MOVE, 4 },
		{ "ow_windows", ORDERS_SQL_WINDOWS, 0 },
	};
	int rc = ow_exec(pg, ORDERS_SQL_STAGE, PGRES_COMMAND_OK, err, cap);

	for (size_t i = 0; rc == 0 && i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		PGresult *r = PQprepare(pg, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);

		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = ow_fail(pg, r, stmts[i].name, err, cap);
		PQclear(r);
	}
	return rc;
}

/* ---- parameters ------------------------------------------------------------ */

struct ow_row_params {
	char id[ORD_ID_STR_CAP], campaign[OW_NUM_CAP], buyer[OW_NUM_CAP], qty[OW_NUM_CAP];
	char node[OW_NUM_CAP], core[OW_NUM_CAP], time_ms[OW_NUM_CAP], window[OW_NUM_CAP];
	const char *v[8];
};

static void ow_row_params(const struct ord_record *rec, uint32_t window, struct ow_row_params *p)
{
	ord_id_format(rec->id, p->id, sizeof(p->id));
	snprintf(p->campaign, OW_NUM_CAP, "%" PRIu32, rec->campaign);
	snprintf(p->buyer, OW_NUM_CAP, "%" PRIu64, rec->buyer);
	snprintf(p->qty, OW_NUM_CAP, "%" PRIu32, rec->qty);
	snprintf(p->node, OW_NUM_CAP, "%u", (unsigned)ord_id_node(rec->id));
	snprintf(p->core, OW_NUM_CAP, "%u", (unsigned)ord_id_core(rec->id));
	snprintf(p->time_ms, OW_NUM_CAP, "%" PRIu64, rec->time_ms);
	snprintf(p->window, OW_NUM_CAP, "%" PRIu32, window);
	p->v[0] = p->id, p->v[1] = p->campaign, p->v[2] = p->buyer, p->v[3] = p->qty;
	p->v[4] = p->node, p->v[5] = p->core, p->v[6] = p->time_ms, p->v[7] = p->window;
}

struct ow_off_params {
	char part[OW_NUM_CAP], from[OW_NUM_CAP], to[OW_NUM_CAP];
	const char *v[4];
};

static void ow_off_params(const char *topic, int32_t part, int64_t from, int64_t to,
			  struct ow_off_params *p)
{
	snprintf(p->part, OW_NUM_CAP, "%" PRId32, part);
	snprintf(p->from, OW_NUM_CAP, "%" PRId64, from);
	snprintf(p->to, OW_NUM_CAP, "%" PRId64, to);
	p->v[0] = topic, p->v[1] = p->part, p->v[2] = p->from, p->v[3] = p->to;
}

/* Moves one partition's offset inside the open transaction (blocking call). */
static int ow_offset_move(PGconn *pg, const char *topic, int32_t part, int64_t from, int64_t to,
			  char *err, size_t cap)
{
	struct ow_off_params p;
	PGresult *r;
	int rc = 0;

	ow_off_params(topic, part, from, to, &p);
	r = PQexecPrepared(pg, "ow_offset_move", 4, p.v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = ow_fail(pg, r, "moving the offset", err, cap);
	PQclear(r);
	return rc;
}

static int ow_offsets_all(PGconn *pg, const struct ow_batch *b, char *err, size_t cap)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < b->n_parts; i++)
		if (b->parts[i].next > b->parts[i].stored)
			rc = ow_offset_move(pg, b->topic, b->parts[i].partition, b->parts[i].stored,
					    b->parts[i].next, err, cap);
	return rc;
}

static void ow_offsets_done(const struct ow_batch *b)
{
	for (size_t i = 0; i < b->n_parts; i++)
		if (b->parts[i].next > b->parts[i].stored)
			b->parts[i].stored = b->parts[i].next;
}

/* ---- COPY ------------------------------------------------------------------- */

/* The payment windows of the campaigns that have one (order_campaigns). */
struct ow_windows {
	uint32_t campaign[OW_WINDOWS_MAX], secs[OW_WINDOWS_MAX];
	size_t n;
};

static int ow_windows_read(PGconn *pg, struct ow_windows *w, char *err, size_t cap)
{
	PGresult *r = PQexecPrepared(pg, "ow_windows", 0, NULL, NULL, NULL, 0);
	int rc = 0;

	w->n = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = ow_fail(pg, r, "reading order_campaigns", err, cap);
	else if (PQntuples(r) > OW_WINDOWS_MAX)
		rc = OW_VIA_STAGE;  /* the stage joins order_campaigns in PostgreSQL */
	else
		for (int i = 0; i < PQntuples(r); i++, w->n++) {
			w->campaign[i] = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
			w->secs[i] = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
		}
	PQclear(r);
	return rc;
}

static uint32_t ow_window(const struct ow_windows *w, uint32_t campaign, uint32_t dflt)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->campaign[i] == campaign)
			return w->secs[i];
	return dflt;
}

/* Unix ms as timestamptz text, "YYYY-MM-DD hh:mm:ss.mmm+00"; the date part is
 * kept from the previous call while the second is the same (a batch's rows
 * are mostly one second). */
struct ow_ts {
	int64_t sec;
	char date[24];
};

static int ow_ts_format(struct ow_ts *c, uint64_t ms, char *out, size_t cap)
{
	int64_t sec = (int64_t)(ms / 1000);

	if (sec != c->sec) {
		time_t t = (time_t)sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(c->date, sizeof(c->date), "%Y-%m-%d %H:%M:%S", &tm);
		c->sec = sec;
	}
	return snprintf(out, cap, "%s.%03u+00", c->date, (unsigned)(ms % 1000));
}

/* Sends buf as the rows of the COPY statement sql; 0 or the failure. */
static int ow_copy_send(PGconn *pg, const char *sql, const char *buf, size_t len, char *err,
			size_t cap)
{
	PGresult *r;
	int rc = ow_exec(pg, sql, PGRES_COPY_IN, err, cap);

	if (rc == 0 && (PQputCopyData(pg, buf, (int)len) != 1 || PQputCopyEnd(pg, NULL) != 1))
		rc = ow_fail(pg, NULL, "COPY data", err, cap);
	while ((r = PQgetResult(pg)) != NULL) {
		if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = ow_fail(pg, r, "COPY", err, cap);
		PQclear(r);
	}
	return rc;
}

/* The rows for COPY: the staging table's (time_ms) or, with w, orders' own
 * (sold_at, pay_by). */
static char *ow_copy_text(const struct ow_batch *b, const struct ow_windows *w, size_t *len)
{
	char *buf = malloc(b->n * OW_COPY_ROW_MAX + 1), id[ORD_ID_STR_CAP];
	struct ow_ts ts = { .sec = -1 };

	if (buf == NULL)
		return NULL;
	*len = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct ord_record *rec = &b->rec[i];
		char *p = buf + *len;
		int k;

		ord_id_format(rec->id, id, sizeof(id));
		k = snprintf(p, OW_COPY_ROW_MAX, "%s\t%" PRIu32 "\t%" PRIu64 "\t%" PRIu32 "\t%u\t%u\t",
			     id, rec->campaign, rec->buyer, rec->qty, (unsigned)ord_id_node(rec->id),
			     (unsigned)ord_id_core(rec->id));
		if (w == NULL)
			k += snprintf(p + k, OW_COPY_ROW_MAX - k, "%" PRIu64 "\n", rec->time_ms);
		else {
			uint64_t due = rec->time_ms +
				       1000ull * ow_window(w, rec->campaign, b->pay_within_s);

			k += ow_ts_format(&ts, rec->time_ms, p + k, OW_COPY_ROW_MAX - k);
			p[k++] = '\t';
			k += ow_ts_format(&ts, due, p + k, OW_COPY_ROW_MAX - k);
			p[k++] = '\n';
		}
		*len += (size_t)k;
	}
	return buf;
}

/* The rows into the staging table, or (with w) straight into orders. */
static int ow_copy_rows(PGconn *pg, const struct ow_batch *b, const struct ow_windows *w,
			uint64_t *inserted, char *err, size_t cap)
{
	size_t len;
	char *buf = ow_copy_text(b, w, &len);
	int rc;

	if (buf == NULL) {
		snprintf(err, cap, "no memory for a COPY of %zu rows", b->n);
		return OW_ERR;
	}
	rc = ow_copy_send(pg, w ? ORDERS_SQL_COPY_DIRECT : ORDERS_SQL_COPY, buf, len, err, cap);
	free(buf);
	if (rc == 0 && w)
		*inserted = b->n;
	return rc;
}

/* OW_COPY's fast path: 0, OW_VIA_STAGE (rolled back: a row was there already,
 * or too many campaign windows to look up)
 * or a failure. The windows are read in the batch's transaction, so a
 * campaign's new window applies from the next batch on, as with the stage. */
static int ow_write_direct(PGconn *pg, const struct ow_batch *b, uint64_t *inserted, char *err,
			   size_t cap)
{
	static __thread struct ow_windows w;
	int rc;

	if ((rc = ow_exec(pg, "begin", PGRES_COMMAND_OK, err, cap)) != 0)
		return rc;
	if ((rc = ow_windows_read(pg, &w, err, cap)) != 0)
		return ow_abort(pg, rc);
	if ((rc = ow_copy_rows(pg, b, &w, inserted, err, cap)) != 0)
		return ow_abort(pg, rc);
	if ((rc = ow_offsets_all(pg, b, err, cap)) == 0)
		rc = ow_exec(pg, "commit", PGRES_COMMAND_OK, err, cap);
	return rc ? ow_abort(pg, rc) : 0;
}

static int ow_write_stage(PGconn *pg, const struct ow_batch *b, uint64_t *inserted, char *err,
			  size_t cap)
{
	char window[OW_NUM_CAP];
	const char *v[1] = { window };
	PGresult *r;
	int rc;

	snprintf(window, sizeof(window), "%" PRIu32, b->pay_within_s);
	if ((rc = ow_exec(pg, "begin", PGRES_COMMAND_OK, err, cap)) != 0)
		return rc;
	if ((rc = ow_copy_rows(pg, b, NULL, inserted, err, cap)) != 0)
		return ow_abort(pg, rc);
	r = PQexecPrepared(pg, "ow_from_stage", 1, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = ow_fail(pg, r, "insert from the staging table", err, cap);
	else
		*inserted = orders_pg_rows(r);
	PQclear(r);
	if (rc == 0)
		rc = ow_offsets_all(pg, b, err, cap);
	if (rc == 0)
		rc = ow_exec(pg, "commit", PGRES_COMMAND_OK, err, cap);
	return rc ? ow_abort(pg, rc) : 0;
}

/* ---- pipeline ----------------------------------------------------------------- */

/* Reads the results of n queued queries (one result and a NULL each); the
 * first failure wins; counts inserted rows. */
static int ow_pipe_read(PGconn *pg, size_t n, uint64_t *inserted, int rc, char *err, size_t cap)
{
	for (size_t i = 0; i < n; i++) {
		PGresult *r = PQgetResult(pg);
		ExecStatusType st = PQresultStatus(r);

		if (r == NULL)
			return rc ? rc : ow_fail(pg, NULL, "pipeline", err, cap);
		if (st == PGRES_COMMAND_OK && PQcmdTuples(r)[0])
			*inserted += orders_pg_rows(r);
		else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && rc == 0)
			rc = ow_fail(pg, r, "pipelined statement", err, cap);
		PQclear(r);
		PQclear(PQgetResult(pg));
	}
	return rc;
}

/* Queues begin and the rows, reading results every OW_PIPE_WINDOW queries. */
static int ow_pipe_rows(PGconn *pg, const struct ow_batch *b, uint64_t *ins, char *err, size_t cap)
{
	struct ow_row_params p;
	size_t queued = 1;
	int rc = 0;

	if (!PQsendQueryParams(pg, "begin", 0, NULL, NULL, NULL, NULL, 0))
		return ow_fail(pg, NULL, "begin", err, cap);
	for (size_t i = 0; rc == 0 && i < b->n; i++) {
		ow_row_params(&b->rec[i], b->pay_within_s, &p);
		if (!PQsendQueryPrepared(pg, "ow_insert_one", 8, p.v, NULL, NULL, 0))
			return ow_fail(pg, NULL, "sending an insert", err, cap);
		if (++queued == OW_PIPE_WINDOW || i + 1 == b->n) {
			if (!PQsendFlushRequest(pg) || PQflush(pg) < 0)
				return ow_fail(pg, NULL, "flushing the pipeline", err, cap);
			rc = ow_pipe_read(pg, queued, ins, rc, err, cap);
			queued = 0;
		}
	}
	return rc;
}

/* After the sync: every result up to PGRES_PIPELINE_SYNC; the first failure wins. */
static int ow_pipe_drain(PGconn *pg, int rc, char *err, size_t cap)
{
	for (;;) {
		PGresult *r = PQgetResult(pg);
		ExecStatusType st = PQresultStatus(r);

		if (r == NULL) {
			if (PQstatus(pg) != CONNECTION_OK)
				return ow_fail(pg, NULL, "pipeline", err, cap);
			continue;       /* the end of one query's results */
		}
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_SYNC &&
		    st != PGRES_PIPELINE_ABORTED && rc == 0)
			rc = ow_fail(pg, r, "pipelined statement", err, cap);
		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC)
			return rc;
	}
}

static int ow_write_pipeline(PGconn *pg, const struct ow_batch *b, uint64_t *inserted,
			     char *err, size_t cap)
{
	struct ow_off_params op;
	int rc;

	if (!PQenterPipelineMode(pg))
		return ow_fail(pg, NULL, "entering pipeline mode", err, cap);
	rc = ow_pipe_rows(pg, b, inserted, err, cap);
	for (size_t i = 0; rc == 0 && i < b->n_parts; i++)
		if (b->parts[i].next > b->parts[i].stored) {
			ow_off_params(b->topic, b->parts[i].partition, b->parts[i].stored,
				      b->parts[i].next, &op);
			PQsendQueryPrepared(pg, "ow_offset_move", 4, op.v, NULL, NULL, 0);
		}
	if (rc == 0)
		PQsendQueryParams(pg, "commit", 0, NULL, NULL, NULL, NULL, 0);
	if (rc != OW_DOWN) {
		PQpipelineSync(pg);
		rc = ow_pipe_drain(pg, rc, err, cap);
	}
	PQexitPipelineMode(pg);
	return rc ? ow_abort(pg, rc) : 0;
}

/* ---- one row per transaction -------------------------------------------------- */

static int ow_write_single(PGconn *pg, const struct ow_batch *b, uint64_t *inserted, char *err,
			   size_t cap)
{
	struct ow_row_params p;
	int rc = 0;

	for (size_t i = 0; i < b->n_parts; i++)
		b->parts[i].offset = b->parts[i].stored;
	for (size_t i = 0; rc == 0 && i < b->n; i++) {
		struct ow_part *pt = &b->parts[b->rec_part[i]];
		PGresult *r;

		if ((rc = ow_exec(pg, "begin", PGRES_COMMAND_OK, err, cap)) != 0)
			break;
		ow_row_params(&b->rec[i], b->pay_within_s, &p);
		r = PQexecPrepared(pg, "ow_insert_one", 8, p.v, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = ow_fail(pg, r, "insert", err, cap);
		else
			*inserted += orders_pg_rows(r);
		PQclear(r);
		if (rc == 0)
			rc = ow_offset_move(pg, b->topic, pt->partition, pt->offset,
					    b->rec_off[i] + 1, err, cap);
		if (rc == 0)
			rc = ow_exec(pg, "commit", PGRES_COMMAND_OK, err, cap);
		if (rc)
			ow_abort(pg, rc);
		else
			pt->stored = pt->offset = b->rec_off[i] + 1;
	}
	return rc;
}

int ow_write(PGconn *pg, enum ow_mode mode, const struct ow_batch *b, uint64_t *inserted,
	     bool *staged, char *err, size_t cap)
{
	int rc;

	*inserted = 0;
	if (staged)
		*staged = false;
	switch (mode) {
	case OW_COPY:
		rc = ow_write_direct(pg, b, inserted, err, cap);
		if (rc == OW_VIA_STAGE) {
			if (staged)
				*staged = true;
			*inserted = 0;
			rc = ow_write_stage(pg, b, inserted, err, cap);
		}
		break;
	case OW_STAGE:
		rc = ow_write_stage(pg, b, inserted, err, cap);
		break;
	case OW_PIPELINE:
		rc = ow_write_pipeline(pg, b, inserted, err, cap);
		break;
	default:
		rc = ow_write_single(pg, b, inserted, err, cap);
		return rc == OW_VIA_STAGE ? OW_ERR : rc;
	}
	if (rc == 0)
		ow_offsets_done(b);
	return rc == OW_VIA_STAGE ? OW_ERR : rc;
}
