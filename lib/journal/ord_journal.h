/*
 * ord_journal.h - the order journal: orders that Kafka has not confirmed yet,
 * kept on local disk so that none is ever dropped.
 *
 * When the brokers are unreachable, orders first wait in the control plane's
 * bounded memory queue, then here: an append-only log of struct ord_record in
 * a directory of segment files. When the brokers return the journal is
 * replayed in append order and each delivery report acks a prefix of it;
 * after a restart the journal is replayed first. Only a full journal makes the
 * cores refuse new sales (503).
 *
 * Promises:
 *   - append() numbers records 1, 2, 3... (the journal seq, its own, not the
 *     order id) and only buffers them: a record is durable only once a later
 *     sync() has returned 0. The caller batches: many appends, one sync.
 *   - A crash (power loss included) loses at most records not yet synced, and
 *     never yields a corrupt record: each record carries its length, seq and
 *     a CRC32C, and open() cuts a torn tail off the newest segment.
 *   - ack(up_to) persists a watermark (fsync'd) before anything is deleted,
 *     so a restart never replays an acked record: no replay loop. Records
 *     delivered but not yet acked when the process dies are replayed and so
 *     reach Kafka twice; that is harmless because order ids are unique and
 *     the consumer dedups on them (and within one producer session the
 *     idempotent producer already drops its own retries).
 *   - Corruption that a crash cannot cause (a bad record in an older,
 *     fully-synced segment, a missing segment) fails open() with the path:
 *     the journal never silently drops acknowledged orders.
 *   - After a failed write or fsync the journal refuses everything until it
 *     is reopened: after a failed fsync the page cache no longer says what is
 *     on disk, and only a reopen (a re-scan) can tell.
 *
 * One thread owns a journal (the control plane's Kafka thread); one process
 * at a time owns a directory (open() takes an flock on it).
 */
#ifndef SECKILL_ORD_JOURNAL_H
#define SECKILL_ORD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ord_record.h"

/* On-disk sizes, fixed so a reader can seek to any seq (see ord_journal.c). */
#define ORD_JOURNAL_HDR_BYTES 24     /* segment header */
#define ORD_JOURNAL_FRAME_BYTES 56   /* one record: len, crc, seq, 40-byte record */

/* Return values of ord_journal_append. */
#define ORD_JOURNAL_OK 0
#define ORD_JOURNAL_ERR (-1)         /* I/O error: ord_journal_error() says which */
#define ORD_JOURNAL_FULL (-2)        /* max_bytes reached: refuse sales, ack first */

struct ord_journal;

/*
 * Opens the journal in dir (created if missing), at most max_bytes on disk.
 * Scans every segment, truncates a torn tail of the newest one, deletes
 * segments already acked. Returns NULL with a sentence in err (cap bytes)
 * naming the path and the errno text, e.g. when another process holds dir.
 */
struct ord_journal *ord_journal_open(const char *dir, uint64_t max_bytes,
				     char *err, size_t cap);

/*
 * Open flags. ORD_JOURNAL_KEEP_ACKED: acks move the watermark but delete
 * nothing, so the journal stays the complete record of what was sold and
 * ord_journal_replay_all can read every record back (seckill-dp restores
 * a restarted sale from it, whether or not Kafka has the orders); the
 * journal then fills with acked records too and max_bytes bounds the whole
 * sale. Every opener of such a directory must pass the flag, or its open()
 * deletes the acked segments.
 */
#define ORD_JOURNAL_KEEP_ACKED 1u

struct ord_journal *ord_journal_open_flags(const char *dir, uint64_t max_bytes,
					   unsigned flags, char *err, size_t cap);

/* Frees j. Does not sync: unsynced records are lost, as in a crash. */
void ord_journal_close(struct ord_journal *j);

/* Buffers one record and numbers it (*seq may be NULL). ORD_JOURNAL_OK/ERR/FULL. */
int ord_journal_append(struct ord_journal *j, const struct ord_record *rec, uint64_t *seq);

/* Writes the buffered records and fdatasyncs them. 0, or -1 (journal now unusable). */
int ord_journal_sync(struct ord_journal *j);

/*
 * Writes zeros a little ahead of the newest segment's records (1 MiB at a
 * time while under 2 MiB lie ahead; never past the segment or max_bytes),
 * so the syncs that follow overwrite blocks already on disk: fdatasync then
 * writes only the data, with no size or allocation to commit. Call it after
 * a sync, when its answers are out: it takes a write of up to 1 MiB. 0, or
 * -1 with the reason in ord_journal_error(); a failure costs only that
 * speed, the journal stays usable.
 */
int ord_journal_prefill(struct ord_journal *j);

/*
 * Called once per replayed record, in seq order. Returning nonzero stops the
 * replay (a full producer queue, say); replay returns that value and the
 * caller resumes later with ord_journal_replay_from(j, last seq seen + 1).
 * cb may call ord_journal_ack (delivery reports) and ord_journal_append;
 * records appended meanwhile are replayed too.
 */
typedef int (*ord_journal_cb)(void *arg, uint64_t seq, const struct ord_record *rec);

/* Replays every record not yet acked: 0 when all were passed, cb's nonzero, or -1. */
int ord_journal_replay(struct ord_journal *j, ord_journal_cb cb, void *arg);

/* The same from max(from_seq, first unacked seq). */
int ord_journal_replay_from(struct ord_journal *j, uint64_t from_seq, ord_journal_cb cb,
			    void *arg);

/* Replays every record from seq 1, acked ones included: only for a journal
 * opened with ORD_JOURNAL_KEEP_ACKED (-1 otherwise). Same callback rules. */
int ord_journal_replay_all(struct ord_journal *j, ord_journal_cb cb, void *arg);

/*
 * Marks every record with seq <= up_to delivered: persists the watermark
 * (write, fsync, rename, fsync dir), then deletes the segments it empties.
 * Acks are cumulative; the caller acks the longest delivered prefix (Kafka's
 * delivery reports of different partitions can arrive out of order). An ack
 * below the watermark is a no-op; beyond the last appended seq, an error.
 * 0, or -1.
 */
int ord_journal_ack(struct ord_journal *j, uint64_t up_to);

uint64_t ord_journal_depth(const struct ord_journal *j);      /* records not yet acked */
uint64_t ord_journal_bytes(const struct ord_journal *j);      /* on disk + buffered */
bool ord_journal_full(const struct ord_journal *j);           /* the next append is refused */
uint64_t ord_journal_last_seq(const struct ord_journal *j);   /* last appended, 0 if none */
uint64_t ord_journal_synced_seq(const struct ord_journal *j); /* last durable */
uint64_t ord_journal_acked_seq(const struct ord_journal *j);  /* the watermark */
uint64_t ord_journal_torn_bytes(const struct ord_journal *j); /* cut off by open() (not zeros ahead); log it */
int ord_journal_segments(const struct ord_journal *j);        /* segment files */

/* The last error, a sentence naming the path and errno text ("" if none). */
const char *ord_journal_error(const struct ord_journal *j);

#endif
