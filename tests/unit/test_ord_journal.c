/*
 * The order journal: append/sync/replay order, reopen, the ack watermark,
 * torn tails cut at every byte, corruption, full and freed again, segment
 * rotation, zeros written ahead, and a process SIGKILLed mid-append (or
 * mid-prefill) losing nothing it had synced.
 * Every test works in its own directory under /tmp and removes it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "ord_journal.h"

#define HDR ORD_JOURNAL_HDR_BYTES
#define FRAME ORD_JOURNAL_FRAME_BYTES
#define BIG (64u << 20)           /* max_bytes where fullness is not the subject */

static char dir[64];
static char err[1024];

/* ---- fixtures ------------------------------------------------------------- */

static void rm_dir(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	char p[512];

	if (!dp)
		return;
	while ((e = readdir(dp)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		unlink(p);
	}
	closedir(dp);
	rmdir(d);
}

static void mk(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ordj-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm(void)
{
	rm_dir(dir);
}

TestSuite(ord_journal, .init = mk, .fini = rm);

/* The record journalled as seq: every field differs with seq. */
static struct ord_record rec_for(uint64_t seq)
{
	struct ord_record r = {
		.id = ord_id_make(0x65f1a2b3, 1, (uint16_t)(seq % 4), seq * 3 + 1),
		.buyer = seq * 7919 + 0x1000000000ull,
		.time_ms = 1700000000000ull + seq,
		.campaign = (uint32_t)(seq % 5 + 1),
		.qty = (uint32_t)(seq % 3 + 1),
	};
	return r;
}

static struct ord_journal *jopen(uint64_t max)
{
	struct ord_journal *j = ord_journal_open(dir, max, err, sizeof(err));

	cr_assert_not_null(j, "open %s: %s", dir, err);
	return j;
}

static void append_n(struct ord_journal *j, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t want = ord_journal_last_seq(j) + 1, seq = 0;
		struct ord_record r = rec_for(want);

		cr_assert_eq(ord_journal_append(j, &r, &seq), ORD_JOURNAL_OK, "%s",
			     ord_journal_error(j));
		cr_assert_eq(seq, want);
	}
}

/* What a replay saw: n records, which must be first, first + 1, ... */
struct seen {
	uint64_t first;
	uint64_t n;
	uint64_t stop_after;          /* 0: never stop */
	struct ord_journal *ack_each; /* ack every record as it is seen */
};

static int collect(void *arg, uint64_t seq, const struct ord_record *rec)
{
	struct seen *s = arg;
	struct ord_record want = rec_for(seq);

	cr_assert_eq(seq, s->first + s->n, "replayed %lu after %lu records from %lu",
		     (unsigned long)seq, (unsigned long)s->n, (unsigned long)s->first);
	cr_assert(ord_id_eq(rec->id, want.id), "record %lu id", (unsigned long)seq);
	cr_assert_eq(rec->buyer, want.buyer);
	cr_assert_eq(rec->time_ms, want.time_ms);
	cr_assert_eq(rec->campaign, want.campaign);
	cr_assert_eq(rec->qty, want.qty);
	s->n++;
	if (s->ack_each)
		cr_assert_eq(ord_journal_ack(s->ack_each, seq), 0, "%s",
			     ord_journal_error(s->ack_each));
	return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

/* Replays j and asserts it yields exactly first..last (none if first > last). */
static void expect_replay(struct ord_journal *j, uint64_t first, uint64_t last)
{
	static struct seen s;

	memset(&s, 0, sizeof(s));
	s.first = first;
	cr_assert_eq(ord_journal_replay(j, collect, &s), 0, "%s", ord_journal_error(j));
	cr_assert_eq(s.n, last >= first ? last - first + 1 : 0, "replayed %lu, want %lu..%lu",
		     (unsigned long)s.n, (unsigned long)first, (unsigned long)last);
}

static char *seg_path(uint64_t base)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%016lx.ojl", dir, (unsigned long)base);
	return p;
}

static off_t file_size(const char *p)
{
	struct stat st;

	cr_assert_eq(stat(p, &st), 0, "%s: %s", p, strerror(errno));
	return st.st_size;
}

/* The segment files in dir; their sizes summed, zeros ahead included, in *bytes. */
static int segment_files(off_t *bytes)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char p[512];
	int n = 0;

	cr_assert_not_null(dp);
	*bytes = 0;
	while ((e = readdir(dp)) != NULL)
		if (strstr(e->d_name, ".ojl") != NULL) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			*bytes += file_size(p);
			n++;
		}
	closedir(dp);
	return n;
}

static int count_segments(void)
{
	off_t bytes;

	return segment_files(&bytes);
}

static off_t dir_bytes(void)
{
	off_t bytes;

	segment_files(&bytes);
	return bytes;
}

/* ---- CRC ------------------------------------------------------------------ */

Test(ord_journal, crc32c_known_answers)
{
	/* The CRC-32C check value (RFC 3720 B.4 and every CRC catalogue). */
	cr_assert_eq(crc32c(0, "123456789", 9), 0xe3069283u);
	cr_assert_eq(crc32c(0, "", 0), 0);
	cr_assert_eq(crc32c(crc32c(0, "1234", 4), "56789", 5),
		     0xe3069283u);
	/* RFC 3720 B.4: 32 bytes of zeros. */
	static const uint8_t zeros[32];
	cr_assert_eq(crc32c(0, zeros, 32), 0x8a9136aau);
}

/* ---- append, sync, replay, reopen ----------------------------------------- */

Test(ord_journal, append_sync_replay_in_order)
{
	struct ord_journal *j = jopen(BIG);

	cr_assert_eq(ord_journal_depth(j), 0);
	cr_assert_eq(ord_journal_last_seq(j), 0);
	append_n(j, 100);
	cr_assert_eq(ord_journal_depth(j), 100);
	cr_assert_eq(ord_journal_synced_seq(j), 0, "nothing is durable before sync");
	cr_assert_eq(ord_journal_bytes(j), HDR + 100 * FRAME);
	cr_assert_eq(ord_journal_sync(j), 0, "%s", ord_journal_error(j));
	cr_assert_eq(ord_journal_synced_seq(j), 100);
	cr_assert_eq(file_size(seg_path(1)), HDR + 100 * FRAME);
	expect_replay(j, 1, 100);
	/* Replay reads the buffered tail too (appended after the sync). */
	append_n(j, 3);
	expect_replay(j, 1, 103);
	ord_journal_close(j);
}

Test(ord_journal, reopen_replays_exactly_the_unacked)
{
	struct ord_journal *j = jopen(BIG);

	append_n(j, 50);
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(ord_journal_ack(j, 20), 0, "%s", ord_journal_error(j));
	cr_assert_eq(ord_journal_depth(j), 30);
	ord_journal_close(j);

	j = jopen(BIG);
	cr_assert_eq(ord_journal_torn_bytes(j), 0);
	cr_assert_eq(ord_journal_acked_seq(j), 20);
	cr_assert_eq(ord_journal_depth(j), 30);
	cr_assert_eq(ord_journal_last_seq(j), 50);
	expect_replay(j, 21, 50);
	append_n(j, 1);    /* numbering runs on: seq 51 */
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);

	j = jopen(BIG);
	expect_replay(j, 21, 51);
	ord_journal_close(j);
}

Test(ord_journal, close_without_sync_keeps_only_synced)
{
	struct ord_journal *j = jopen(BIG);

	append_n(j, 10);
	cr_assert_eq(ord_journal_sync(j), 0);
	append_n(j, 5);    /* buffered, never synced: lost like in a crash */
	ord_journal_close(j);
	j = jopen(BIG);
	cr_assert_eq(ord_journal_last_seq(j), 10);
	expect_replay(j, 1, 10);
	ord_journal_close(j);
}

Test(ord_journal, replay_stops_and_resumes)
{
	struct ord_journal *j = jopen(BIG);
	static struct seen s;

	append_n(j, 30);
	memset(&s, 0, sizeof(s));
	s.first = 1;
	s.stop_after = 10;
	cr_assert_eq(ord_journal_replay(j, collect, &s), 7, "cb's value comes back");
	cr_assert_eq(s.n, 10, "records 1..10, then stopped");
	s.stop_after = 0;
	cr_assert_eq(ord_journal_replay_from(j, 11, collect, &s), 0);
	cr_assert_eq(s.n, 30, "then 11..30, each once");
	ord_journal_close(j);
}

/* ---- crash damage --------------------------------------------------------- */

static void write_file(const char *p, const uint8_t *b, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, b, n), (ssize_t)n);
	close(fd);
}

static uint8_t *read_file(const char *p, size_t *n)
{
	off_t sz = file_size(p);
	uint8_t *b = malloc((size_t)sz);
	int fd = open(p, O_RDONLY);

	cr_assert_not_null(b);
	cr_assert_eq(read(fd, b, (size_t)sz), (ssize_t)sz);
	close(fd);
	*n = (size_t)sz;
	return b;
}

/* N synced records; returns the segment's bytes (the caller frees). */
static uint8_t *make_segment(uint64_t n, size_t *size)
{
	struct ord_journal *j = jopen(BIG);

	append_n(j, n);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	return read_file(seg_path(1), size);
}

/* Reopens and asserts records 1..keep survive, nothing after, tail cut to fit. */
static void expect_recovered(uint64_t keep, uint64_t torn)
{
	struct ord_journal *j = jopen(BIG);

	cr_assert_eq(ord_journal_last_seq(j), keep);
	cr_assert_eq(ord_journal_torn_bytes(j), torn);
	expect_replay(j, 1, keep);
	cr_assert_eq(file_size(seg_path(1)), (off_t)(HDR + keep * FRAME), "torn tail cut off");
	/* The log goes on from the cut: the next record is keep + 1. */
	append_n(j, 1);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	j = jopen(BIG);
	expect_replay(j, 1, keep + 1);
	ord_journal_close(j);
}

Test(ord_journal, torn_tail_at_every_byte_of_the_last_record)
{
	const uint64_t n = 8;
	size_t size;
	uint8_t *img = make_segment(n, &size);

	cr_assert_eq(size, HDR + n * FRAME);
	for (size_t cut = 1; cut < FRAME; cut++) {
		write_file(seg_path(1), img, size - cut);
		expect_recovered(n - 1, FRAME - cut);
	}
	/* Cut exactly at a frame boundary: nothing torn. */
	write_file(seg_path(1), img, size - FRAME);
	expect_recovered(n - 1, 0);
	free(img);
}

Test(ord_journal, corrupt_byte_in_the_last_record)
{
	const uint64_t n = 8;
	size_t size;
	uint8_t *img = make_segment(n, &size);

	for (size_t off = size - FRAME; off < size; off++) {
		img[off] ^= 0x10;
		write_file(seg_path(1), img, size);
		img[off] ^= 0x10;
		expect_recovered(n - 1, FRAME);
	}
	free(img);
}

Test(ord_journal, corrupt_byte_mid_newest_segment_keeps_records_before_it)
{
	const uint64_t n = 8;
	size_t size;
	uint8_t *img = make_segment(n, &size);

	/* A lost page inside the last, unsynced batch: record 4 is zeros. */
	memset(img + HDR + 3 * FRAME, 0, FRAME);
	write_file(seg_path(1), img, size);
	expect_recovered(3, (n - 3) * FRAME);
	free(img);
}

Test(ord_journal, a_valid_frame_out_of_sequence_ends_the_log)
{
	const uint64_t n = 8;
	size_t size;
	uint8_t *img = make_segment(n, &size);

	/* Record 3 again where record 7 belongs: its CRC is right, its seq is not. */
	memcpy(img + HDR + 6 * FRAME, img + HDR + 2 * FRAME, FRAME);
	write_file(seg_path(1), img, size);
	expect_recovered(6, 2 * FRAME);
	free(img);
}

Test(ord_journal, garbage_after_the_last_record_is_cut)
{
	size_t size;
	uint8_t *img = make_segment(5, &size), *big = malloc(size + 100);

	memcpy(big, img, size);
	memset(big + size, 0xab, 100);
	write_file(seg_path(1), big, size + 100);
	expect_recovered(5, 100);
	free(img);
	free(big);
}

Test(ord_journal, torn_segment_header_drops_only_that_empty_segment)
{
	struct ord_journal *j = jopen(BIG);
	uint8_t half[HDR / 2];

	append_n(j, 4);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	/* A crash while creating the next segment, header half written. */
	memcpy(half, "SKORDJ01", 8);
	memset(half + 8, 0, sizeof(half) - 8);
	write_file(seg_path(5), half, sizeof(half));
	j = jopen(BIG);
	cr_assert_eq(ord_journal_torn_bytes(j), sizeof(half));
	cr_assert_eq(count_segments(), 1);
	expect_replay(j, 1, 4);
	ord_journal_close(j);
}

Test(ord_journal, corruption_in_an_older_segment_refuses_to_open)
{
	/* 4 frames per segment: 8 * (HDR + 4 * FRAME) of max_bytes. */
	struct ord_journal *j = jopen(8 * (HDR + 4 * FRAME));
	size_t size;
	uint8_t *img;
	char want[256];

	append_n(j, 10);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	cr_assert_eq(count_segments(), 3);
	img = read_file(seg_path(1), &size);
	img[HDR + FRAME + 20] ^= 1;
	write_file(seg_path(1), img, size);
	cr_assert_null(ord_journal_open(dir, BIG, err, sizeof(err)));
	snprintf(want, sizeof(want), "corrupt record at byte %d of %s (CRC mismatch)",
		 HDR + FRAME, seg_path(1));
	cr_assert(strstr(err, want), "error: %s", err);
	free(img);
}

Test(ord_journal, missing_segment_refuses_to_open)
{
	struct ord_journal *j = jopen(8 * (HDR + 4 * FRAME));

	append_n(j, 10);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	cr_assert_eq(unlink(seg_path(5)), 0);
	cr_assert_null(ord_journal_open(dir, BIG, err, sizeof(err)));
	cr_assert(strstr(err, "records 5..8 are missing before 0000000000000009.ojl"),
		  "error: %s", err);
}

/* ---- the ack watermark ---------------------------------------------------- */

Test(ord_journal, ack_watermark_survives_reopen_no_replay_loop)
{
	struct ord_journal *j = jopen(BIG);

	append_n(j, 50);
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(ord_journal_ack(j, 30), 0);
	cr_assert_eq(ord_journal_ack(j, 10), 0, "an older ack is a no-op");
	cr_assert_eq(ord_journal_acked_seq(j), 30);
	ord_journal_close(j);

	/* Replay, ack what was delivered, restart: each time fewer, then none. */
	j = jopen(BIG);
	expect_replay(j, 31, 50);
	cr_assert_eq(ord_journal_ack(j, 50), 0);
	cr_assert_eq(ord_journal_depth(j), 0);
	cr_assert_eq(count_segments(), 0, "a fully acked journal keeps no segment");
	ord_journal_close(j);
	for (int restart = 0; restart < 3; restart++) {
		j = jopen(BIG);
		cr_assert_eq(ord_journal_acked_seq(j), 50);
		cr_assert_eq(ord_journal_depth(j), 0);
		expect_replay(j, 51, 50);
		ord_journal_close(j);
	}
	/* Seqs never restart, even with no segment left to say where they were. */
	j = jopen(BIG);
	append_n(j, 2);
	cr_assert_eq(ord_journal_last_seq(j), 52);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	j = jopen(BIG);
	expect_replay(j, 51, 52);
	ord_journal_close(j);
}

Test(ord_journal, ack_beyond_last_record_is_an_error)
{
	struct ord_journal *j = jopen(BIG);
	char want[256];

	append_n(j, 3);
	cr_assert_eq(ord_journal_ack(j, 4), -1);
	snprintf(want, sizeof(want), "journal %s: ack of seq 4 beyond the last record 3", dir);
	cr_assert_str_eq(ord_journal_error(j), want);
	cr_assert_eq(ord_journal_acked_seq(j), 0);
	ord_journal_close(j);
}

Test(ord_journal, ack_of_unsynced_records_then_crash)
{
	struct ord_journal *j = jopen(BIG);

	/* Delivered to Kafka before they were synced here: acked, then lost. */
	append_n(j, 10);
	cr_assert_eq(ord_journal_sync(j), 0);
	append_n(j, 5);
	cr_assert_eq(ord_journal_ack(j, 12), 0);
	ord_journal_close(j);
	j = jopen(BIG);
	cr_assert_eq(ord_journal_acked_seq(j), 12);
	cr_assert_eq(ord_journal_last_seq(j), 12, "seqs resume above the watermark");
	cr_assert_eq(ord_journal_depth(j), 0);
	append_n(j, 1);
	cr_assert_eq(ord_journal_last_seq(j), 13);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	j = jopen(BIG);
	expect_replay(j, 13, 13);
	ord_journal_close(j);
}

Test(ord_journal, corrupt_ack_file_refuses_to_open)
{
	struct ord_journal *j = jopen(BIG);
	char p[128];
	size_t n;
	uint8_t *b;

	append_n(j, 3);
	cr_assert_eq(ord_journal_ack(j, 2), 0);
	ord_journal_close(j);
	snprintf(p, sizeof(p), "%s/ack", dir);
	b = read_file(p, &n);
	cr_assert_eq(n, 20);
	b[9] ^= 1;
	write_file(p, b, n);
	cr_assert_null(ord_journal_open(dir, BIG, err, sizeof(err)));
	cr_assert(strstr(err, "corrupt ack watermark"), "error: %s", err);
	cr_assert(strstr(err, p), "error names the file: %s", err);
	free(b);
}

/* ---- size limits, rotation ------------------------------------------------ */

Test(ord_journal, full_refuses_then_ack_frees_a_segment)
{
	/* 8 segments of HDR + 4 frames: exactly 32 records fit. */
	const uint64_t max = 8 * (HDR + 4 * FRAME);
	struct ord_journal *j = jopen(max);
	struct ord_record r = rec_for(33);
	uint64_t seq = 0;

	append_n(j, 32);
	cr_assert_eq(ord_journal_bytes(j), max);
	cr_assert(ord_journal_full(j));
	cr_assert_eq(ord_journal_append(j, &r, &seq), ORD_JOURNAL_FULL);
	cr_assert(strstr(ord_journal_error(j), "is full: 1984 of 1984 bytes, 32 records not acked"),
		  "%s", ord_journal_error(j));
	cr_assert_eq(ord_journal_last_seq(j), 32, "a refused record takes no seq");
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(count_segments(), 8);

	cr_assert_eq(ord_journal_ack(j, 3), 0);
	cr_assert(ord_journal_full(j), "a partly acked segment frees nothing");
	cr_assert_eq(ord_journal_ack(j, 4), 0);
	cr_assert_eq(count_segments(), 7);
	cr_assert_eq(ord_journal_bytes(j), max - (HDR + 4 * FRAME));
	cr_assert_not(ord_journal_full(j));
	append_n(j, 4);
	cr_assert(ord_journal_full(j));
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);

	j = jopen(max);
	cr_assert(ord_journal_full(j), "fullness is what is on disk");
	expect_replay(j, 5, 36);
	ord_journal_close(j);
}

/* ---- ORD_JOURNAL_KEEP_ACKED: the journal as the whole record of a sale ---- */

static struct ord_journal *jopen_keep(uint64_t max)
{
	struct ord_journal *j = ord_journal_open_flags(dir, max, ORD_JOURNAL_KEEP_ACKED, err,
						       sizeof(err));

	cr_assert_not_null(j, "open %s: %s", dir, err);
	return j;
}

/* replay_all from seq 1, acked records included. */
static void expect_replay_all(struct ord_journal *j, uint64_t last)
{
	static struct seen s;

	memset(&s, 0, sizeof(s));
	s.first = 1;
	cr_assert_eq(ord_journal_replay_all(j, collect, &s), 0, "%s", ord_journal_error(j));
	cr_assert_eq(s.n, last, "replay_all gave %lu records, want 1..%lu", (unsigned long)s.n,
		     (unsigned long)last);
}

Test(ord_journal, keep_acked_deletes_nothing_and_replays_all)
{
	/* Segments of 4 records: acks would free them without the flag. */
	const uint64_t max = 8 * (HDR + 4 * FRAME);
	struct ord_journal *j = jopen_keep(max);

	append_n(j, 20);
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(ord_journal_ack(j, 12), 0);
	cr_assert_eq(count_segments(), 5, "acked segments are kept");
	cr_assert_eq(ord_journal_depth(j), 8);
	expect_replay(j, 13, 20);
	expect_replay_all(j, 20);
	ord_journal_close(j);

	/* Reopened: watermark, depth and every record as before. */
	j = jopen_keep(max);
	cr_assert_eq(ord_journal_acked_seq(j), 12);
	cr_assert_eq(ord_journal_depth(j), 8);
	expect_replay(j, 13, 20);
	expect_replay_all(j, 20);
	/* All acked: still every record, and the journal fills up with them. */
	cr_assert_eq(ord_journal_ack(j, 20), 0);
	cr_assert_eq(ord_journal_depth(j), 0);
	expect_replay_all(j, 20);
	append_n(j, 12);
	cr_assert(ord_journal_full(j), "acked records still count against max_bytes");
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	j = jopen_keep(max);
	expect_replay_all(j, 32);
	ord_journal_close(j);
}

Test(ord_journal, keep_acked_journal_missing_an_acked_segment_refuses_to_open)
{
	struct ord_journal *j = jopen_keep(8 * (HDR + 4 * FRAME));

	append_n(j, 12);
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(ord_journal_ack(j, 8), 0);
	ord_journal_close(j);
	cr_assert_eq(unlink(seg_path(1)), 0);
	cr_assert_null(ord_journal_open_flags(dir, BIG, ORD_JOURNAL_KEEP_ACKED, err, sizeof(err)));
	cr_assert(strstr(err, "records 1..4 are missing") != NULL, "%s", err);
}

Test(ord_journal, replay_all_needs_keep_acked)
{
	struct ord_journal *j = jopen(BIG);
	static struct seen s;

	append_n(j, 3);
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(ord_journal_replay_all(j, collect, &s), -1);
	cr_assert(strstr(ord_journal_error(j), "ORD_JOURNAL_KEEP_ACKED") != NULL, "%s",
		  ord_journal_error(j));
	ord_journal_close(j);
}

Test(ord_journal, rotation_and_replay_across_segments)
{
	const uint64_t max = 8 * (HDR + 4 * FRAME);
	struct ord_journal *j = jopen(max);
	static struct seen s;

	append_n(j, 30);
	cr_assert_eq(ord_journal_segments(j), 8);
	expect_replay(j, 1, 30);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	j = jopen(max);
	expect_replay(j, 1, 30);
	/* A callback that acks as it goes (delivery reports during replay). */
	memset(&s, 0, sizeof(s));
	s.first = 1;
	s.ack_each = j;
	cr_assert_eq(ord_journal_replay(j, collect, &s), 0, "%s", ord_journal_error(j));
	cr_assert_eq(s.n, 30);
	cr_assert_eq(ord_journal_depth(j), 0);
	cr_assert_eq(count_segments(), 0);
	ord_journal_close(j);
}

/* ---- zeros written ahead (ord_journal_prefill) --------------------------- */

#define STEP (1u << 20)   /* what one prefill writes ahead */

Test(ord_journal, zeros_ahead_are_overwritten_not_torn_and_cut_at_reopen)
{
	struct ord_journal *j = jopen(BIG);
	off_t end = HDR + 100 * FRAME;
	uint8_t *img;
	size_t size;

	append_n(j, 100);
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(ord_journal_prefill(j), 0, "%s", ord_journal_error(j));
	cr_assert_eq(file_size(seg_path(1)), end + STEP);
	cr_assert_eq(ord_journal_prefill(j), 0);
	cr_assert_eq(file_size(seg_path(1)), end + 2 * STEP);
	cr_assert_eq(ord_journal_prefill(j), 0);
	cr_assert_eq(file_size(seg_path(1)), end + 2 * STEP, "2 MiB ahead is enough");
	/* The next records go over the zeros: the file does not grow. */
	append_n(j, 50);
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(file_size(seg_path(1)), end + 2 * STEP);
	expect_replay(j, 1, 150);
	/* What a crash leaves: records, then zeros. */
	img = read_file(seg_path(1), &size);
	ord_journal_close(j);
	cr_assert_eq(file_size(seg_path(1)), HDR + 150 * FRAME, "close cuts the zeros");

	write_file(seg_path(1), img, size);
	expect_recovered(150, 0);
	/* A torn batch inside the zeros: only its frames count as torn (two,
	 * the second cut short), not the zeros after them. */
	for (size_t i = 0; i < FRAME + 30; i++)
		img[HDR + 150 * FRAME + i] = (uint8_t)(0xa5 ^ i);
	write_file(seg_path(1), img, size);
	expect_recovered(150, 2 * FRAME);
	free(img);
}

Test(ord_journal, zeros_ahead_never_cover_a_buffered_record)
{
	struct ord_journal *j = jopen(BIG);

	append_n(j, 10);             /* buffered: nothing written yet */
	cr_assert_eq(ord_journal_prefill(j), 0);
	cr_assert_eq(file_size(seg_path(1)), HDR + 10 * FRAME + STEP);
	cr_assert_eq(ord_journal_sync(j), 0);
	ord_journal_close(j);
	j = jopen(BIG);
	cr_assert_eq(ord_journal_torn_bytes(j), 0);
	expect_replay(j, 1, 10);
	ord_journal_close(j);
}

Test(ord_journal, zeros_ahead_stay_within_the_segment_and_max_bytes)
{
	/* Segments of 4,096 frames and 40 bytes: each ends in zeros that its
	 * last frame does not cover, cut before the next one starts. Eight
	 * such segments leave max_bytes room for a ninth of 5 frames, whose
	 * zeros only max_bytes bounds. */
	const uint64_t seg = HDR + 4096 * FRAME + 40, max = 8 * seg;
	struct ord_journal *j = jopen(max);
	uint64_t n = 0;

	while (!ord_journal_full(j)) {
		for (int k = 0; k < 1000 && !ord_journal_full(j); k++, n++)
			append_n(j, 1);
		cr_assert_eq(ord_journal_sync(j), 0);
		cr_assert_eq(ord_journal_prefill(j), 0, "%s", ord_journal_error(j));
		cr_assert_leq(dir_bytes(), (off_t)max, "after %lu records", (unsigned long)n);
		cr_assert_leq(file_size(seg_path((n - 1) / 4096 * 4096 + 1)), (off_t)seg);
	}
	cr_assert_eq(ord_journal_segments(j), 9);
	cr_assert_eq(n, 8 * 4096 + 5);
	cr_assert_eq(file_size(seg_path(1)), HDR + 4096 * FRAME, "older segments end at a frame");
	ord_journal_close(j);
	j = jopen(max);
	cr_assert_eq(ord_journal_torn_bytes(j), 0);
	expect_replay(j, 1, n);
	ord_journal_close(j);
}

Test(ord_journal, zeros_ahead_cut_short_by_a_full_disk_leave_older_segments_exact)
{
	/* Segments of 100 frames and 40 bytes. The disk "fills" (RLIMIT_FSIZE)
	 * 30 bytes past where the segment's last frame will end, while the
	 * zeros are written: the write fails half done. The segment must
	 * still end at its last frame once the next one starts, or open()
	 * refuses it as corrupt. */
	const uint64_t seg = HDR + 100 * FRAME + 40, max = 8 * seg;
	struct ord_journal *j = jopen(max);
	struct rlimit lim, was;

	signal(SIGXFSZ, SIG_IGN);
	append_n(j, 50);
	cr_assert_eq(ord_journal_sync(j), 0);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
	lim = was;
	lim.rlim_cur = HDR + 100 * FRAME + 30;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(ord_journal_prefill(j), -1, "the write past the limit fails");
	cr_assert(strstr(ord_journal_error(j), "cannot write zeros ahead in") != NULL, "%s",
		  ord_journal_error(j));
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
	cr_assert_eq(file_size(seg_path(1)), (off_t)lim.rlim_cur, "the file grew anyway");
	append_n(j, 60);             /* 100 in the first segment, 10 in the second */
	cr_assert_eq(ord_journal_sync(j), 0, "%s", ord_journal_error(j));
	cr_assert_eq(ord_journal_segments(j), 2);
	cr_assert_eq(file_size(seg_path(1)), HDR + 100 * FRAME);
	ord_journal_close(j);
	j = jopen(max);
	expect_replay(j, 1, 110);
	ord_journal_close(j);
}

/* ---- ownership and errors ------------------------------------------------- */

Test(ord_journal, second_open_of_a_directory_is_refused)
{
	struct ord_journal *j = jopen(BIG);
	char want[256];

	cr_assert_null(ord_journal_open(dir, BIG, err, sizeof(err)));
	snprintf(want, sizeof(want), "cannot lock journal directory %s: %s (another process "
		 "has it open)", dir, strerror(EWOULDBLOCK));
	cr_assert_str_eq(err, want);
	ord_journal_close(j);
	j = jopen(BIG);
	ord_journal_close(j);
}

Test(ord_journal, errors_name_the_path_and_errno)
{
	char file[128], want[256];
	int fd;

	snprintf(file, sizeof(file), "%s/plain", dir);
	fd = open(file, O_WRONLY | O_CREAT, 0640);
	close(fd);
	cr_assert_null(ord_journal_open(file, BIG, err, sizeof(err)));
	snprintf(want, sizeof(want), "cannot open journal directory %s: %s", file,
		 strerror(ENOTDIR));
	cr_assert_str_eq(err, want);
	cr_assert_null(ord_journal_open(dir, HDR + FRAME - 1, err, sizeof(err)));
	snprintf(want, sizeof(want), "journal %s: max_bytes 79 is below one segment header "
		 "and one record (80 bytes)", dir);
	cr_assert_str_eq(err, want);
	unlink(file);
}

/* ---- a real process killed mid-append ------------------------------------- */

#define CRASH_SYNCED 600      /* records the child syncs before dying */
#define CRASH_BATCH 7         /* appends per sync: sync points fall mid-buffer */
#define CRASH_UNSYNCED 1500   /* then appended, more than one write buffer */

/* Child side: reports each synced seq on fd, then dies without warning. */
static void crash_child(int fd, uint64_t synced_target, uint64_t unsynced, bool forever)
{
	struct ord_journal *j = ord_journal_open(dir, BIG, err, sizeof(err));
	uint64_t s;

	if (!j)
		_exit(3);
	while (forever || ord_journal_last_seq(j) < synced_target) {
		for (int i = 0; i < CRASH_BATCH; i++) {
			struct ord_record r = rec_for(ord_journal_last_seq(j) + 1);

			if (ord_journal_append(j, &r, NULL) != ORD_JOURNAL_OK)
				_exit(4);
		}
		if (ord_journal_sync(j) < 0 || ord_journal_prefill(j) < 0)
			_exit(5);
		s = ord_journal_synced_seq(j);
		if (write(fd, &s, sizeof(s)) != sizeof(s))
			_exit(6);
	}
	for (uint64_t i = 0; i < unsynced; i++) {
		struct ord_record r = rec_for(ord_journal_last_seq(j) + 1);

		if (ord_journal_append(j, &r, NULL) != ORD_JOURNAL_OK)
			_exit(4);
	}
	raise(SIGKILL);
	_exit(7);
}

/* Parent side: the last seq the child said was synced. */
static uint64_t read_reports(int fd)
{
	uint64_t s, last = 0;

	while (read(fd, &s, sizeof(s)) == sizeof(s)) {
		cr_assert_gt(s, last);
		last = s;
	}
	close(fd);
	return last;
}

static void expect_killed(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %#x", st);
}

Test(ord_journal, sigkill_mid_append_keeps_every_synced_record, .timeout = 60)
{
	int p[2];
	pid_t pid;
	uint64_t synced;
	struct ord_journal *j;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(p[0]);
		crash_child(p[1], CRASH_SYNCED, CRASH_UNSYNCED, false);
	}
	close(p[1]);
	synced = read_reports(p[0]);
	expect_killed(pid);
	cr_assert_geq(synced, CRASH_SYNCED);

	j = jopen(BIG);
	/* Every synced record, plus whatever of the unsynced tail the kernel got
	 * (a killed process loses its buffer, not the page cache): always whole
	 * records, in order. */
	cr_assert_geq(ord_journal_last_seq(j), synced);
	cr_assert_leq(ord_journal_last_seq(j), synced + CRASH_UNSYNCED);
	cr_assert_eq((ord_journal_last_seq(j) - synced) % 1024, 0,
		     "only whole write buffers (1024 frames) reach the file");
	expect_replay(j, 1, ord_journal_last_seq(j));
	ord_journal_close(j);
}

Test(ord_journal, sigkill_at_a_random_moment_keeps_every_synced_record, .timeout = 60)
{
	for (int round = 0; round < 5; round++) {
		struct timespec nap = { 0, 2000000 + (long)(rand() % 20) * 1000000 };
		int p[2];
		pid_t pid;
		uint64_t synced;
		struct ord_journal *j;

		cr_assert_eq(pipe(p), 0);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(p[1], 0, 0, true);
		}
		close(p[1]);
		nanosleep(&nap, NULL);
		kill(pid, SIGKILL);
		synced = read_reports(p[0]);
		expect_killed(pid);

		j = jopen(BIG);
		cr_assert_geq(ord_journal_last_seq(j), synced, "round %d", round);
		expect_replay(j, 1, ord_journal_last_seq(j));
		ord_journal_close(j);
	}
}
