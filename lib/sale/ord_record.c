/*
 * ord_record.c - order id text form and the boot epoch that makes ids unique
 * across restarts (layout and argument: ord_record.h).
 *
 * The epoch state file holds the last run's epoch as one decimal line. It is
 * the only thing standing between a fast restart and a reused order id, so a
 * file that cannot be read or parsed is an error, never "start from zero".
 */
#include "ord_record.h"

#include "errbuf.h"
#include "str2int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Field widths of the text form, in hex digits, and where the dashes go. */
#define ORD_EPOCH_DIGITS 8
#define ORD_NODE_DIGITS 4
#define ORD_CORE_DIGITS 4
#define ORD_SEQ_DIGITS 16
#define ORD_STATE_READ 64
#define ORD_PATH_MAX 4096

_Static_assert(ORD_EPOCH_DIGITS + ORD_NODE_DIGITS + ORD_CORE_DIGITS + ORD_SEQ_DIGITS + 3 ==
	       ORD_ID_STR_LEN, "text form widths");

static const char hex_lower[16] = "0123456789abcdef";

static char *put_hex(char *p, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		p[i] = hex_lower[v & 0xf];
		v >>= 4;
	}
	return p + digits;
}

int ord_id_format(struct ord_id id, char *out, size_t cap)
{
	char *p = out;

	if (cap < ORD_ID_STR_CAP)
		return -1;
	p = put_hex(p, ord_id_epoch(id), ORD_EPOCH_DIGITS);
	*p++ = '-';
	p = put_hex(p, ord_id_node(id), ORD_NODE_DIGITS);
	*p++ = '-';
	p = put_hex(p, ord_id_core(id), ORD_CORE_DIGITS);
	*p++ = '-';
	p = put_hex(p, ord_id_seq(id), ORD_SEQ_DIGITS);
	*p = '\0';
	return ORD_ID_STR_LEN;
}

/* digits lowercase hex digits at *s, then advances *s; false on any other byte. */
static bool get_hex(const char **s, int digits, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < digits; i++) {
		char c = (*s)[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		x = x << 4 | d;
	}
	*s += digits;
	*v = x;
	return true;
}

static bool get_dash(const char **s)
{
	return *(*s)++ == '-';
}

bool ord_id_parse(const char *s, size_t len, struct ord_id *id)
{
	uint64_t epoch, node, core, seq;

	if (len != ORD_ID_STR_LEN)
		return false;
	if (!get_hex(&s, ORD_EPOCH_DIGITS, &epoch) || !get_dash(&s) ||
	    !get_hex(&s, ORD_NODE_DIGITS, &node) || !get_dash(&s) ||
	    !get_hex(&s, ORD_CORE_DIGITS, &core) || !get_dash(&s) ||
	    !get_hex(&s, ORD_SEQ_DIGITS, &seq))
		return false;
	*id = ord_id_make((uint32_t)epoch, (uint16_t)node, (uint16_t)core, seq);
	return true;
}

void ord_idgen_init(struct ord_idgen *g, uint32_t epoch, uint16_t node, uint16_t core)
{
	g->epoch = epoch;
	g->node = node;
	g->core = core;
	/* From 1, so an all-zero id is never a real order. */
	g->next_seq = 1;
}

bool ord_epoch_pick(uint64_t now_sec, uint32_t last_epoch, uint32_t *epoch)
{
	uint64_t e = (uint64_t)last_epoch + 1;

	if (now_sec > e)
		e = now_sec;
	if (e > UINT32_MAX)
		return false;
	*epoch = (uint32_t)e;
	return true;
}

/* The last epoch from the state file: 0 if there is none, -1 on error. */
static int epoch_read(const char *path, uint32_t *last, char *err, size_t cap)
{
	char buf[ORD_STATE_READ];
	ssize_t n;
	unsigned long long v;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*last = 0;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return err_printf(err, cap, "can't open epoch state file %s: %s", path,
				 strerror(errno));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return err_printf(err, cap, "can't read epoch state file %s: %s", path,
				 strerror(errno));
	if (n == 0 || buf[n - 1] != '\n' || !str2ull(buf, (size_t)n - 1, &v) || v > UINT32_MAX)
		return err_printf(err, cap, "epoch state file %s is not one decimal epoch and "
				 "a newline; fix or remove it only if no run ever used a later "
				 "epoch (order ids would repeat)", path);
	*last = (uint32_t)v;
	return 0;
}

/* Atomically replaces path with "epoch\n": a crash leaves the old or the new file. */
static int epoch_write(const char *path, uint32_t epoch, char *err, size_t cap)
{
	char tmp[ORD_PATH_MAX], dir[ORD_PATH_MAX], line[16];
	int len = snprintf(line, sizeof(line), "%" PRIu32 "\n", epoch);
	int fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return err_printf(err, cap, "epoch state path %s is too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_printf(err, cap, "can't create %s: %s", tmp, strerror(errno));
	ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
	if (!ok)
		err_printf(err, cap, "can't write %s: %s", tmp, strerror(errno));
	close(fd);
	if (ok && rename(tmp, path) != 0) {
		err_printf(err, cap, "can't rename %s to %s: %s", tmp, path, strerror(errno));
		ok = 0;
	}
	if (!ok) {
		unlink(tmp);
		return -1;
	}
	/* The rename is durable only once the directory is synced. */
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int ord_epoch_claim(const char *state_path, uint64_t now_sec, uint32_t *epoch,
		    char *err, size_t cap)
{
	uint32_t last, e;

	if (epoch_read(state_path, &last, err, cap) < 0)
		return -1;
	if (!ord_epoch_pick(now_sec, last, &e))
		return err_printf(err, cap, "no boot epoch left after %" PRIu32
				 " (32-bit seconds end in 2106)", last);
	if (epoch_write(state_path, e, err, cap) < 0)
		return -1;
	*epoch = e;
	return 0;
}
