/*
 * ord_journal.c - the order journal on disk (promises: ord_journal.h).
 *
 * Layout: a directory holding
 *
 *   <base>.ojl   segments, <base> = the first seq in it as 16 hex digits, so
 *                name order is seq order. A 24-byte header (magic, base,
 *                version, CRC32C of those) and then fixed 56-byte frames:
 *
 *                  0 u32 len = 48     bytes after len and crc
 *                  4 u32 crc32c       over len and the 48 bytes after crc
 *                  8 u64 seq          base, base + 1, ... without holes
 *                 16 u64 id.hi, u64 id.lo, u64 buyer, u64 time_ms,
 *                    u32 campaign, u32 qty (struct ord_record)
 *
 *                all little-endian, written field by field (never a struct
 *                image, so padding and byte order cannot leak to disk).
 *   ack          the ack watermark: magic, u64 seq, CRC32C. Replaced
 *                atomically (ack.tmp, fdatasync, rename, fsync dir).
 *
 * Why fixed frames: replay from any seq is one seek, and a frame that fails
 * its CRC, length or seq check ends the valid log there.
 *
 * Crash argument: frames reach the newest segment only; a segment is
 * fdatasync'd before the next one is created, so every older segment is
 * wholly durable and only the newest can end in a torn or half-written
 * batch. open() therefore cuts the newest segment at its first bad frame
 * (everything after it belongs to the same unsynced batch) and treats a bad
 * frame anywhere else as corruption it will not paper over. The watermark
 * is durable before any segment it empties is deleted, so a crash between
 * the two leaves only segments that the next open() deletes.
 *
 * Zeros ahead (ord_journal_prefill): the newest segment is written with
 * zeros a little ahead of its frames, as PostgreSQL writes a WAL segment
 * whole before using it. A sync that only overwrites blocks already on disk
 * leaves fdatasync nothing but the data to write: no new size, no block
 * allocation, so no filesystem journal commit (ext4: 2 disk writes a sync
 * instead of 4, 40 % less CPU; BENCHMARKS.md, round 9). A zero frame fails
 * the length check, so to open() the zeros are simply where the log ends;
 * they are not counted as torn, and a segment is cut to its last frame
 * before the next one is created, so older segments stay exact.
 */
#define _GNU_SOURCE            /* sync_file_range */
#include "ord_journal.h"
#include "crc32c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define OJ_SEG_MAGIC "SKORDJ01"
#define OJ_ACK_MAGIC "SKORDA01"
#define OJ_MAGIC_LEN 8
#define OJ_VERSION 1
#define OJ_PAYLOAD (ORD_JOURNAL_FRAME_BYTES - 8)   /* after len and crc */
#define OJ_ACK_BYTES 20                            /* magic, seq, crc */
#define OJ_ACK_NAME "ack"
#define OJ_ACK_TMP "ack.tmp"
#define OJ_SEG_SUFFIX ".ojl"
#define OJ_SEG_NAME_LEN (16 + 4)                   /* hex base + suffix */
#define OJ_SEGS_PER_MAX 8      /* segments per max_bytes: acks free space in 1/8 steps */
#define OJ_SEG_MAX_BYTES (64u << 20)  /* bounds what one deletion must wait for */
#define OJ_BUF_FRAMES 1024     /* ~56 KiB buffered between writes */
#define OJ_FILL_STEP (1u << 20)   /* zeros written ahead at a time ... */
#define OJ_FILL_AHEAD (2u << 20)  /* ... while fewer than this lie ahead of the frames */
#define OJ_READ_FRAMES 1024    /* frames per read while scanning or replaying */
#define OJ_FILE_MODE 0640
#define OJ_DIR_MODE 0750
#define OJ_ERR_CAP 512

_Static_assert(ORD_JOURNAL_FRAME_BYTES == 8 + 8 + 40, "frame = len, crc, seq, record");

struct oj_seg {
	uint64_t base;      /* first seq */
	uint64_t nrec;      /* frames, buffered ones included for the active segment */
};

struct ord_journal {
	char *dir;
	int dirfd;          /* also holds the flock */
	uint64_t max_bytes;
	uint64_t seg_bytes; /* rotate when the next frame would pass this */
	struct oj_seg *segs;
	int nseg, capseg;
	int fd;             /* the newest segment, open for appends; -1 when none */
	uint64_t wr_off;    /* where the first buffered frame goes in fd */
	uint64_t filled;    /* fd holds zeros from the frames' end up to here (or
			     * would, had a write not failed: cut at rotation) */
	uint8_t *buf;       /* frames appended, not yet written */
	size_t buf_frames;
	uint64_t next_seq;
	uint64_t synced;    /* last durable seq */
	uint64_t acked;     /* the watermark */
	uint64_t bytes;     /* sum of segment sizes, buffered frames included */
	uint64_t torn;
	bool keep_acked;    /* ORD_JOURNAL_KEEP_ACKED: acks delete nothing */
	bool broken;        /* a write or fsync failed: only a reopen can tell what is on disk */
	char err[OJ_ERR_CAP];
};

/* ---- little-endian fields ------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- frames and headers --------------------------------------------------- */

static uint32_t frame_crc(const uint8_t *f)
{
	return crc32c(crc32c(0, f, 4), f + 8, OJ_PAYLOAD);
}

static void frame_encode(uint8_t *f, uint64_t seq, const struct ord_record *r)
{
	put32(f, OJ_PAYLOAD);
	put64(f + 8, seq);
	put64(f + 16, r->id.hi);
	put64(f + 24, r->id.lo);
	put64(f + 32, r->buyer);
	put64(f + 40, r->time_ms);
	put32(f + 48, r->campaign);
	put32(f + 52, r->qty);
	put32(f + 4, frame_crc(f));
}

/* NULL when f is the frame numbered seq, else why it is not. */
static const char *frame_decode(const uint8_t *f, uint64_t seq, struct ord_record *r)
{
	if (get32(f) != OJ_PAYLOAD)
		return "bad length";
	if (get32(f + 4) != frame_crc(f))
		return "CRC mismatch";
	if (get64(f + 8) != seq)
		return "out-of-sequence record";
	memset(r, 0, sizeof(*r));
	r->id.hi = get64(f + 16);
	r->id.lo = get64(f + 24);
	r->buyer = get64(f + 32);
	r->time_ms = get64(f + 40);
	r->campaign = get32(f + 48);
	r->qty = get32(f + 52);
	return NULL;
}

static void header_encode(uint8_t *h, uint64_t base)
{
	memcpy(h, OJ_SEG_MAGIC, OJ_MAGIC_LEN);
	put64(h + 8, base);
	put32(h + 16, OJ_VERSION);
	put32(h + 20, crc32c(0, h, 20));
}

static bool header_ok(const uint8_t *h, uint64_t base)
{
	return !memcmp(h, OJ_SEG_MAGIC, OJ_MAGIC_LEN) && get64(h + 8) == base &&
	       get32(h + 16) == OJ_VERSION && get32(h + 20) == crc32c(0, h, 20);
}

/* ---- errors and small helpers --------------------------------------------- */

static int oj_err(struct ord_journal *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int oj_err(struct ord_journal *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->err, sizeof(j->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* A failed write or fsync: refuse everything from now on (see the header). */
static int oj_break(struct ord_journal *j, const char *what, const char *name, int e)
{
	j->broken = true;
	return oj_err(j, "%s %s/%s: %s; journal disabled until reopened", what, j->dir,
		      name, strerror(e));
}

static int oj_check(struct ord_journal *j)
{
	if (!j->broken)
		return 0;
	/* Keep the first error's text: it names the cause. */
	return -1;
}

static void seg_name(char *out, uint64_t base)
{
	snprintf(out, OJ_SEG_NAME_LEN + 1, "%016" PRIx64 OJ_SEG_SUFFIX, base);
}

static uint64_t seg_size(const struct oj_seg *s)
{
	return ORD_JOURNAL_HDR_BYTES + s->nrec * ORD_JOURNAL_FRAME_BYTES;
}

static struct oj_seg *seg_last(struct ord_journal *j)
{
	return j->nseg ? &j->segs[j->nseg - 1] : NULL;
}

static int seg_push(struct ord_journal *j, uint64_t base, uint64_t nrec)
{
	if (j->nseg == j->capseg) {
		int cap = j->capseg ? 2 * j->capseg : 8;
		struct oj_seg *s = realloc(j->segs, (size_t)cap * sizeof(*s));

		if (!s)
			return oj_err(j, "journal %s: out of memory for %d segments", j->dir, cap);
		j->segs = s;
		j->capseg = cap;
	}
	j->segs[j->nseg++] = (struct oj_seg){ .base = base, .nrec = nrec };
	return 0;
}

static void seg_remove(struct ord_journal *j, int i)
{
	memmove(&j->segs[i], &j->segs[i + 1], (size_t)(j->nseg - i - 1) * sizeof(*j->segs));
	j->nseg--;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = pwrite(fd, (const uint8_t *)buf + done, n - done, (off_t)(off + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static int fsync_dir(struct ord_journal *j)
{
	if (fsync(j->dirfd) < 0)
		return oj_break(j, "cannot fsync directory", ".", errno);
	return 0;
}

/* ---- the ack watermark ---------------------------------------------------- */

/* Reads the watermark; a missing file means nothing was ever acked. */
static int ack_load(struct ord_journal *j)
{
	uint8_t a[OJ_ACK_BYTES];
	size_t got;
	int fd = openat(j->dirfd, OJ_ACK_NAME, O_RDONLY | O_CLOEXEC);

	/* A leftover ack.tmp is an ack whose rename never happened: not acked. */
	if (unlinkat(j->dirfd, OJ_ACK_TMP, 0) < 0 && errno != ENOENT)
		return oj_err(j, "cannot remove %s/%s: %s", j->dir, OJ_ACK_TMP, strerror(errno));
	if (fd < 0 && errno == ENOENT) {
		j->acked = 0;
		return 0;
	}
	if (fd < 0)
		return oj_err(j, "cannot open %s/%s: %s", j->dir, OJ_ACK_NAME, strerror(errno));
	if (pread_full(fd, a, sizeof(a), 0, &got) < 0) {
		int e = errno;

		close(fd);
		return oj_err(j, "cannot read %s/%s: %s", j->dir, OJ_ACK_NAME, strerror(e));
	}
	close(fd);
	/* Written by rename, so never torn: a bad file is damage, not a crash. */
	if (got != sizeof(a) || memcmp(a, OJ_ACK_MAGIC, OJ_MAGIC_LEN) ||
	    get32(a + 16) != crc32c(0, a, 16))
		return oj_err(j, "corrupt ack watermark %s/%s (%zu bytes, bad magic or CRC): "
			      "restore it, or remove it to replay every record kept",
			      j->dir, OJ_ACK_NAME, got);
	j->acked = get64(a + 8);
	return 0;
}

/* Makes `seq` the durable watermark: write a temp file, sync it, rename, sync the dir. */
static int ack_store(struct ord_journal *j, uint64_t seq)
{
	uint8_t a[OJ_ACK_BYTES];
	int fd = openat(j->dirfd, OJ_ACK_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			OJ_FILE_MODE);

	memcpy(a, OJ_ACK_MAGIC, OJ_MAGIC_LEN);
	put64(a + 8, seq);
	put32(a + 16, crc32c(0, a, 16));
	if (fd < 0)
		return oj_err(j, "cannot create %s/%s: %s", j->dir, OJ_ACK_TMP, strerror(errno));
	if (pwrite_full(fd, a, sizeof(a), 0) < 0 || fdatasync(fd) < 0) {
		int e = errno;

		close(fd);
		unlinkat(j->dirfd, OJ_ACK_TMP, 0);
		return oj_err(j, "cannot write %s/%s: %s", j->dir, OJ_ACK_TMP, strerror(e));
	}
	close(fd);
	if (renameat(j->dirfd, OJ_ACK_TMP, j->dirfd, OJ_ACK_NAME) < 0)
		return oj_err(j, "cannot rename %s/%s to %s: %s", j->dir, OJ_ACK_TMP,
			      OJ_ACK_NAME, strerror(errno));
	return fsync_dir(j);
}

/* ---- opening: find, check and repair the segments ------------------------- */

static int seg_cmp(const void *a, const void *b)
{
	const struct oj_seg *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

/* True for exactly the names seg_name makes; *base gets the parsed seq. */
static bool seg_name_parse(const char *name, uint64_t *base)
{
	uint64_t v = 0;

	if (strlen(name) != OJ_SEG_NAME_LEN || strcmp(name + 16, OJ_SEG_SUFFIX))
		return false;
	for (int i = 0; i < 16; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*base = v;
	return true;
}

static int seg_list(struct ord_journal *j)
{
	int fd = dup(j->dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	uint64_t base;

	if (!d) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		return oj_err(j, "cannot list %s: %s", j->dir, strerror(saved));
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (seg_name_parse(e->d_name, &base) && seg_push(j, base, 0) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if (j->nseg > 1)   /* segs is NULL when there are none */
		qsort(j->segs, (size_t)j->nseg, sizeof(*j->segs), seg_cmp);
	return 0;
}

/*
 * Counts the valid frames of segment fd (named name, base seq) from its
 * header on; *valid gets the byte length of the valid prefix and *why the
 * reason the first invalid frame failed (NULL when the whole file is valid).
 */
static int seg_scan(struct ord_journal *j, int fd, const char *name, uint64_t base,
		    uint64_t *nrec, uint64_t *valid, const char **why)
{
	uint8_t *buf = malloc((size_t)OJ_READ_FRAMES * ORD_JOURNAL_FRAME_BYTES);
	uint64_t off = ORD_JOURNAL_HDR_BYTES, n = 0;
	struct ord_record r;
	size_t got;

	if (!buf)
		return oj_err(j, "journal %s: out of memory scanning %s", j->dir, name);
	*why = NULL;
	for (;;) {
		if (pread_full(fd, buf, (size_t)OJ_READ_FRAMES * ORD_JOURNAL_FRAME_BYTES,
			       off, &got) < 0) {
			int e = errno;

			free(buf);
			return oj_err(j, "cannot read %s/%s: %s", j->dir, name, strerror(e));
		}
		for (size_t i = 0; i + ORD_JOURNAL_FRAME_BYTES <= got && !*why;
		     i += ORD_JOURNAL_FRAME_BYTES) {
			*why = frame_decode(buf + i, base + n, &r);
			if (!*why)
				n++, off += ORD_JOURNAL_FRAME_BYTES;
		}
		if (*why || got < (size_t)OJ_READ_FRAMES * ORD_JOURNAL_FRAME_BYTES)
			break;
	}
	free(buf);
	*nrec = n;
	*valid = off;
	return 0;
}

/*
 * Where the torn batch after valid ends: at the end of the last frame (or
 * part of one, at the file's end) holding a byte that is not zero; valid
 * when all are zero. What lies beyond is zeros written ahead
 * (ord_journal_prefill), not part of the batch. Frames, not bytes: a
 * record's own last bytes may be zeros.
 */
static int seg_torn_end(struct ord_journal *j, int fd, const char *name, uint64_t valid,
			uint64_t size, uint64_t *end)
{
	uint8_t *buf = malloc((size_t)OJ_READ_FRAMES * ORD_JOURNAL_FRAME_BYTES);
	uint64_t off = valid;
	size_t got;

	*end = valid;
	if (!buf)
		return oj_err(j, "journal %s: out of memory scanning %s", j->dir, name);
	do {
		if (pread_full(fd, buf, (size_t)OJ_READ_FRAMES * ORD_JOURNAL_FRAME_BYTES, off,
			       &got) < 0) {
			int e = errno;

			free(buf);
			return oj_err(j, "cannot read %s/%s: %s", j->dir, name, strerror(e));
		}
		for (size_t i = 0; i < got; i++)
			if (buf[i] != 0)
				*end = off + i + 1;
		off += got;
	} while (got == (size_t)OJ_READ_FRAMES * ORD_JOURNAL_FRAME_BYTES);
	free(buf);
	*end = valid + (*end - valid + ORD_JOURNAL_FRAME_BYTES - 1) / ORD_JOURNAL_FRAME_BYTES *
		ORD_JOURNAL_FRAME_BYTES;
	if (*end > size)
		*end = size;
	return 0;
}

/* The newest segment ends in a torn batch or zeros: cut it at its last valid frame. */
static int seg_truncate(struct ord_journal *j, int fd, const char *name, uint64_t valid,
			uint64_t size)
{
	uint64_t end;

	if (seg_torn_end(j, fd, name, valid, size, &end) < 0)
		return -1;
	if (ftruncate(fd, (off_t)valid) < 0 || fdatasync(fd) < 0)
		return oj_err(j, "cannot truncate the torn tail of %s/%s at byte %" PRIu64
			      ": %s", j->dir, name, valid, strerror(errno));
	j->torn += end - valid;
	return 0;
}

/* The newest segment's header never became durable: nothing in it was either. */
static int seg_drop_torn(struct ord_journal *j, int i, const char *name, uint64_t size)
{
	if (unlinkat(j->dirfd, name, 0) < 0)
		return oj_err(j, "cannot remove torn segment %s/%s: %s", j->dir, name,
			      strerror(errno));
	j->torn += size;
	seg_remove(j, i);
	return fsync_dir(j);
}

/*
 * Validates segment i and learns its record count. The newest one is
 * repaired (torn tail cut, or a torn header dropped); anything wrong in an
 * older one is an error naming the file and byte.
 */
static int seg_check(struct ord_journal *j, int i)
{
	struct oj_seg *s = &j->segs[i];
	bool newest = i == j->nseg - 1;
	char name[OJ_SEG_NAME_LEN + 1];
	uint8_t h[ORD_JOURNAL_HDR_BYTES];
	uint64_t valid = 0, size;
	const char *why;
	struct stat st;
	size_t got;
	int rc = -1, fd;

	seg_name(name, s->base);
	fd = openat(j->dirfd, name, (newest ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return oj_err(j, "cannot open %s/%s: %s", j->dir, name, strerror(errno));
	if (fstat(fd, &st) < 0 || pread_full(fd, h, sizeof(h), 0, &got) < 0) {
		oj_err(j, "cannot read %s/%s: %s", j->dir, name, strerror(errno));
		goto out;
	}
	size = (uint64_t)st.st_size;
	if (got < sizeof(h) || !header_ok(h, s->base)) {
		if (newest)
			rc = seg_drop_torn(j, i, name, size);
		else
			oj_err(j, "corrupt segment header in %s/%s: move the file away to open "
			       "the journal without its records", j->dir, name);
		goto out;
	}
	if (seg_scan(j, fd, name, s->base, &s->nrec, &valid, &why) < 0)
		goto out;
	rc = 0;
	if (valid < size && newest)
		rc = seg_truncate(j, fd, name, valid, size);
	else if (valid < size)
		rc = oj_err(j, "corrupt record at byte %" PRIu64 " of %s/%s (%s) in a segment "
			    "that was fully synced, so not a crash: move the file away to open "
			    "the journal without its records", valid, j->dir, name,
			    why ? why : "partial record");
out:
	close(fd);
	return rc;
}

/* Seqs must run on from segment to segment, except below the watermark. */
static int seg_continuity(struct ord_journal *j)
{
	/* A journal that keeps acked records must hold every one from seq 1. */
	uint64_t expect = j->keep_acked ? 1 : j->acked + 1;

	for (int i = 0; i < j->nseg; i++) {
		const struct oj_seg *s = &j->segs[i];

		if (s->base > expect) {
			char name[OJ_SEG_NAME_LEN + 1];

			seg_name(name, s->base);
			return oj_err(j, "journal %s: records %" PRIu64 "..%" PRIu64 " are missing "
				      "before %s (acked up to %" PRIu64 "): a segment was removed",
				      j->dir, expect, s->base - 1, name, j->acked);
		}
		if (s->base + s->nrec > expect)
			expect = s->base + s->nrec;
	}
	return 0;
}

/* Deletes the oldest segments while every record in them is acked. */
static int seg_delete_acked(struct ord_journal *j)
{
	int deleted = 0;

	while (!j->keep_acked && j->nseg > 0 && j->segs[0].base + j->segs[0].nrec <= j->acked + 1) {
		char name[OJ_SEG_NAME_LEN + 1];

		if (j->nseg == 1 && j->fd >= 0) {
			/* The newest too: all acked, buffered frames included. */
			close(j->fd);
			j->fd = -1;
			j->buf_frames = 0;
		}
		seg_name(name, j->segs[0].base);
		if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT)
			return oj_err(j, "cannot delete acked segment %s/%s: %s", j->dir, name,
				      strerror(errno));
		j->bytes -= seg_size(&j->segs[0]);
		seg_remove(j, 0);
		deleted++;
	}
	return deleted ? fsync_dir(j) : 0;
}

/* Reopens the newest segment for appends when the next seq continues it. */
static int seg_resume(struct ord_journal *j)
{
	struct oj_seg *s = seg_last(j);
	char name[OJ_SEG_NAME_LEN + 1];

	/* If acks ran past the durable records (a crash after acking unsynced
	 * ones), next_seq is beyond its end: the next append starts a segment. */
	if (!s || s->base + s->nrec != j->next_seq)
		return 0;
	seg_name(name, s->base);
	j->fd = openat(j->dirfd, name, O_RDWR | O_CLOEXEC);
	if (j->fd < 0)
		return oj_err(j, "cannot open %s/%s: %s", j->dir, name, strerror(errno));
	j->wr_off = seg_size(s);
	return 0;
}

static int journal_load(struct ord_journal *j)
{
	const struct oj_seg *last;

	if (ack_load(j) < 0 || seg_list(j) < 0)
		return -1;
	for (int i = 0; i < j->nseg; i++)
		if (seg_check(j, i) < 0)
			return -1;
	if (seg_continuity(j) < 0)
		return -1;
	j->bytes = 0;
	for (int i = 0; i < j->nseg; i++)
		j->bytes += seg_size(&j->segs[i]);
	last = seg_last(j);
	j->next_seq = last && last->base + last->nrec > j->acked + 1 ?
		last->base + last->nrec : j->acked + 1;
	j->synced = j->next_seq - 1;
	if (seg_delete_acked(j) < 0)
		return -1;
	return seg_resume(j);
}

static int journal_dir(struct ord_journal *j, const char *dir)
{
	if (mkdir(dir, OJ_DIR_MODE) < 0 && errno != EEXIST)
		return oj_err(j, "cannot create journal directory %s: %s", dir, strerror(errno));
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0)
		return oj_err(j, "cannot open journal directory %s: %s", dir, strerror(errno));
	/* Two writers would interleave seqs and delete each other's segments. */
	if (flock(j->dirfd, LOCK_EX | LOCK_NB) < 0)
		return oj_err(j, "cannot lock journal directory %s: %s%s", dir, strerror(errno),
			      errno == EWOULDBLOCK ? " (another process has it open)" : "");
	return 0;
}

struct ord_journal *ord_journal_open(const char *dir, uint64_t max_bytes, char *err,
				     size_t cap)
{
	return ord_journal_open_flags(dir, max_bytes, 0, err, cap);
}

struct ord_journal *ord_journal_open_flags(const char *dir, uint64_t max_bytes,
					   unsigned flags, char *err, size_t cap)
{
	struct ord_journal *j = calloc(1, sizeof(*j));
	uint64_t min = ORD_JOURNAL_HDR_BYTES + ORD_JOURNAL_FRAME_BYTES;

	if (!j || !(j->dir = strdup(dir)) ||
	    !(j->buf = malloc((size_t)OJ_BUF_FRAMES * ORD_JOURNAL_FRAME_BYTES))) {
		snprintf(err, cap, "journal %s: out of memory", dir);
		if (j)
			free(j->dir);
		free(j);
		return NULL;
	}
	j->dirfd = -1;
	j->fd = -1;
	j->max_bytes = max_bytes;
	j->keep_acked = (flags & ORD_JOURNAL_KEEP_ACKED) != 0;
	/* Several segments per max_bytes, so acks free space before the journal
	 * is empty; each holds at least one frame. */
	j->seg_bytes = max_bytes / OJ_SEGS_PER_MAX;
	if (j->seg_bytes > OJ_SEG_MAX_BYTES)
		j->seg_bytes = OJ_SEG_MAX_BYTES;
	if (j->seg_bytes < min)
		j->seg_bytes = min;
	if (max_bytes < min)
		oj_err(j, "journal %s: max_bytes %" PRIu64 " is below one segment header and "
		       "one record (%" PRIu64 " bytes)", dir, max_bytes, min);
	else if (journal_dir(j, dir) == 0 && journal_load(j) == 0)
		return j;
	snprintf(err, cap, "%s", j->err);
	ord_journal_close(j);
	return NULL;
}

/* Cuts the zeros written ahead off the newest segment (frames all written). */
static int seg_trim(struct ord_journal *j)
{
	char name[OJ_SEG_NAME_LEN + 1];

	if (j->filled <= j->wr_off)
		return 0;
	if (ftruncate(j->fd, (off_t)j->wr_off) < 0) {
		int e = errno;

		seg_name(name, seg_last(j)->base);
		return oj_break(j, "cannot truncate the zeros ahead of", name, e);
	}
	j->filled = 0;
	return 0;
}

void ord_journal_close(struct ord_journal *j)
{
	if (!j)
		return;
	/* Tidy only: open() would end the log at the zeros anyway. */
	if (j->fd >= 0 && !j->broken)
		(void)seg_trim(j);
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);    /* releases the flock */
	free(j->segs);
	free(j->buf);
	free(j->dir);
	free(j);
}

/* ---- appending ------------------------------------------------------------ */

/* Writes the buffered frames (no fsync). */
static int journal_flush(struct ord_journal *j)
{
	size_t n = j->buf_frames * ORD_JOURNAL_FRAME_BYTES;
	char name[OJ_SEG_NAME_LEN + 1];

	if (n == 0)
		return 0;
	if (pwrite_full(j->fd, j->buf, n, j->wr_off) < 0) {
		int e = errno;

		seg_name(name, seg_last(j)->base);
		return oj_break(j, "cannot write", name, e);
	}
	j->wr_off += n;
	j->buf_frames = 0;
	return 0;
}

/* True when the next frame needs a new segment (and its header's bytes). */
static bool needs_segment(const struct ord_journal *j)
{
	const struct oj_seg *s = j->nseg ? &j->segs[j->nseg - 1] : NULL;

	return j->fd < 0 || seg_size(s) + ORD_JOURNAL_FRAME_BYTES > j->seg_bytes;
}

/* Syncs and closes the newest segment, then starts one at next_seq. */
static int journal_rotate(struct ord_journal *j)
{
	char name[OJ_SEG_NAME_LEN + 1];
	uint8_t h[ORD_JOURNAL_HDR_BYTES];
	int fd;

	/* Older segments are whole on disk and end at their last frame: what
	 * open()'s crash argument rests on. */
	if (j->fd >= 0) {
		if (journal_flush(j) < 0 || seg_trim(j) < 0 || ord_journal_sync(j) < 0)
			return -1;
		close(j->fd);
		j->fd = -1;
	}
	seg_name(name, j->next_seq);
	header_encode(h, j->next_seq);
	fd = openat(j->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, OJ_FILE_MODE);
	if (fd < 0)
		return oj_err(j, "cannot create segment %s/%s: %s", j->dir, name, strerror(errno));
	if (pwrite_full(fd, h, sizeof(h), 0) < 0 || fdatasync(fd) < 0) {
		int e = errno;

		close(fd);
		unlinkat(j->dirfd, name, 0);
		return oj_err(j, "cannot write segment header %s/%s: %s", j->dir, name,
			      strerror(e));
	}
	if (fsync_dir(j) < 0 || seg_push(j, j->next_seq, 0) < 0) {
		close(fd);
		return -1;
	}
	j->fd = fd;
	j->wr_off = ORD_JOURNAL_HDR_BYTES;
	j->filled = 0;
	j->bytes += ORD_JOURNAL_HDR_BYTES;
	return 0;
}

bool ord_journal_full(const struct ord_journal *j)
{
	uint64_t need = ORD_JOURNAL_FRAME_BYTES + (needs_segment(j) ? ORD_JOURNAL_HDR_BYTES : 0);

	return j->bytes + need > j->max_bytes;
}

int ord_journal_append(struct ord_journal *j, const struct ord_record *rec, uint64_t *seq)
{
	if (oj_check(j) < 0)
		return ORD_JOURNAL_ERR;
	if (ord_journal_full(j)) {
		oj_err(j, "journal %s is full: %" PRIu64 " of %" PRIu64 " bytes, %" PRIu64
		       " records not acked", j->dir, j->bytes, j->max_bytes,
		       ord_journal_depth(j));
		return ORD_JOURNAL_FULL;
	}
	if (needs_segment(j) && journal_rotate(j) < 0)
		return ORD_JOURNAL_ERR;
	if (j->buf_frames == OJ_BUF_FRAMES && journal_flush(j) < 0)
		return ORD_JOURNAL_ERR;
	frame_encode(j->buf + j->buf_frames * ORD_JOURNAL_FRAME_BYTES, j->next_seq, rec);
	j->buf_frames++;
	seg_last(j)->nrec++;
	j->bytes += ORD_JOURNAL_FRAME_BYTES;
	if (seq)
		*seq = j->next_seq;
	j->next_seq++;
	return ORD_JOURNAL_OK;
}

int ord_journal_sync(struct ord_journal *j)
{
	char name[OJ_SEG_NAME_LEN + 1];

	if (oj_check(j) < 0 || journal_flush(j) < 0)
		return -1;
	if (j->fd >= 0 && fdatasync(j->fd) < 0) {
		int e = errno;

		seg_name(name, seg_last(j)->base);
		return oj_break(j, "cannot fdatasync", name, e);
	}
	j->synced = j->next_seq - 1;
	return 0;
}

int ord_journal_prefill(struct ord_journal *j)
{
	static const uint8_t zeros[OJ_FILL_STEP];
	char name[OJ_SEG_NAME_LEN + 1];
	uint64_t end, from, to, room;

	if (oj_check(j) < 0)
		return -1;
	if (j->fd < 0)
		return 0;
	/* Never over a frame, written or still buffered. */
	end = j->wr_off + j->buf_frames * ORD_JOURNAL_FRAME_BYTES;
	from = j->filled > end ? j->filled : end;
	if (from - end >= OJ_FILL_AHEAD)
		return 0;
	/* Within the segment, and within max_bytes on disk. */
	room = j->bytes < j->max_bytes ? j->max_bytes - j->bytes : 0;
	to = from + OJ_FILL_STEP;
	if (to > j->seg_bytes)
		to = j->seg_bytes;
	if (to > end + room)
		to = end + room;
	if (to <= from)
		return 0;
	/* Counted before the write: a failed one (the disk full) may still
	 * have grown the file, and seg_trim must cut all that lies past the
	 * frames when the segment is closed. */
	j->filled = to;
	if (pwrite_full(j->fd, zeros, to - from, from) < 0) {
		/* Only speed is lost: the zeros are not part of the log. */
		seg_name(name, seg_last(j)->base);
		return oj_err(j, "cannot write zeros ahead in %s/%s: %s", j->dir, name,
			      strerror(errno));
	}
	/* Their writeback starts now, so the block allocation reaches the
	 * disk with the next sync rather than being added to a later one. A
	 * failure here is only a later writeback. */
	(void)sync_file_range(j->fd, (off_t)from, (off_t)(to - from), SYNC_FILE_RANGE_WRITE);
	return 0;
}

int ord_journal_ack(struct ord_journal *j, uint64_t up_to)
{
	if (oj_check(j) < 0)
		return -1;
	if (up_to <= j->acked)
		return 0;
	if (up_to >= j->next_seq) {
		errno = EINVAL;
		return oj_err(j, "journal %s: ack of seq %" PRIu64 " beyond the last record %"
			      PRIu64, j->dir, up_to, j->next_seq - 1);
	}
	if (ack_store(j, up_to) < 0)
		return -1;
	j->acked = up_to;
	if (seg_delete_acked(j) < 0)
		return -1;
	if (j->synced < j->acked)
		j->synced = j->acked;    /* nothing left to lose below the watermark */
	return 0;
}

/* ---- replay --------------------------------------------------------------- */

/* Index of the segment holding seq, or -1. */
static int seg_find(const struct ord_journal *j, uint64_t seq)
{
	int lo = 0, hi = j->nseg - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		const struct oj_seg *s = &j->segs[mid];

		if (seq < s->base)
			hi = mid - 1;
		else if (seq >= s->base + s->nrec)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

/* Reads up to max frames from seq on (within one segment) into buf; *n gets the count. */
static int read_frames(struct ord_journal *j, uint64_t seq, uint8_t *buf, size_t max,
		       size_t *n)
{
	int i = seg_find(j, seq);
	const struct oj_seg *s;
	char name[OJ_SEG_NAME_LEN + 1];
	uint64_t want;
	bool active;
	size_t got;
	int fd, rc;

	if (i < 0)   /* open() checked that seqs run on above the watermark */
		return oj_err(j, "journal %s: no segment holds record %" PRIu64, j->dir, seq);
	s = &j->segs[i];
	active = i == j->nseg - 1 && j->fd >= 0;
	want = s->base + s->nrec - seq;
	seg_name(name, s->base);
	/* The buffered tail of the newest segment is read back from the file. */
	if (active && j->buf_frames > 0 && journal_flush(j) < 0)
		return -1;
	*n = want < max ? (size_t)want : max;
	fd = active ? j->fd : openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return oj_err(j, "cannot open %s/%s: %s", j->dir, name, strerror(errno));
	rc = pread_full(fd, buf, *n * ORD_JOURNAL_FRAME_BYTES,
			ORD_JOURNAL_HDR_BYTES + (seq - s->base) * ORD_JOURNAL_FRAME_BYTES, &got);
	if (rc < 0)
		oj_err(j, "cannot read %s/%s: %s", j->dir, name, strerror(errno));
	else if (got != *n * ORD_JOURNAL_FRAME_BYTES)
		rc = oj_err(j, "%s/%s is shorter than its %" PRIu64 " records: changed "
			    "behind the journal's back", j->dir, name, s->nrec);
	if (!active)
		close(fd);
	return rc;
}

/* Replays from from_seq on; below the watermark only when with_acked. */
static int journal_replay(struct ord_journal *j, uint64_t from_seq, bool with_acked,
			  ord_journal_cb cb, void *arg)
{
	uint8_t *buf = malloc((size_t)OJ_READ_FRAMES * ORD_JOURNAL_FRAME_BYTES);
	uint64_t seq = from_seq;
	int rc = 0;

	if (!buf)
		return oj_err(j, "journal %s: out of memory for replay", j->dir);
	/* Positions are looked up again per batch, so cb may append or ack. */
	while (rc == 0) {
		struct ord_record r;
		const char *why;
		size_t n = 0;

		if (!with_acked && seq <= j->acked)
			seq = j->acked + 1;
		if (seq < 1)
			seq = 1;
		if (seq >= j->next_seq || (rc = oj_check(j)) < 0 ||
		    (rc = read_frames(j, seq, buf, OJ_READ_FRAMES, &n)) < 0)
			break;
		for (size_t i = 0; i < n && rc == 0; i++, seq++) {
			why = frame_decode(buf + i * ORD_JOURNAL_FRAME_BYTES, seq, &r);
			if (why)
				rc = oj_err(j, "journal %s: record %" PRIu64 " unreadable on replay "
					    "(%s): the disk changed under the journal", j->dir,
					    seq, why);
			else
				rc = cb(arg, seq, &r);
		}
	}
	free(buf);
	return rc;
}

int ord_journal_replay_from(struct ord_journal *j, uint64_t from_seq, ord_journal_cb cb,
			    void *arg)
{
	return journal_replay(j, from_seq, false, cb, arg);
}

int ord_journal_replay(struct ord_journal *j, ord_journal_cb cb, void *arg)
{
	return journal_replay(j, 0, false, cb, arg);
}

int ord_journal_replay_all(struct ord_journal *j, ord_journal_cb cb, void *arg)
{
	if (!j->keep_acked)
		return oj_err(j, "journal %s: replay_all needs a journal opened with "
			      "ORD_JOURNAL_KEEP_ACKED (acked records are deleted otherwise)", j->dir);
	return journal_replay(j, 1, true, cb, arg);
}

/* ---- state ---------------------------------------------------------------- */

uint64_t ord_journal_depth(const struct ord_journal *j)
{
	return j->next_seq - 1 - j->acked;
}

uint64_t ord_journal_bytes(const struct ord_journal *j) { return j->bytes; }
uint64_t ord_journal_last_seq(const struct ord_journal *j) { return j->next_seq - 1; }
uint64_t ord_journal_synced_seq(const struct ord_journal *j) { return j->synced; }
uint64_t ord_journal_acked_seq(const struct ord_journal *j) { return j->acked; }
uint64_t ord_journal_torn_bytes(const struct ord_journal *j) { return j->torn; }
int ord_journal_segments(const struct ord_journal *j) { return j->nseg; }
const char *ord_journal_error(const struct ord_journal *j) { return j->err; }
