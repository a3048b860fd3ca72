/*
 * ctl_campaigns.c - the campaigns' record in --state-dir, for a sale without
 * Redis: campaigns made at run time outlive the process.
 *
 * With --redis, Redis is the record of every campaign (ctl_sale_redis.c).
 * Without it, a campaign `seckillctl campaign create` made would be gone at
 * the next start, and with it the orders the journal holds for it (the
 * replay would find no campaign to restore them into: their units sold
 * again, their buyers free to buy again). So every campaign of the sale,
 * with its state as the operator last set it, is written to the file
 * `campaigns` in the state directory, at each create, open, close and pow, and
 * read back at start, before the journal's replay (ctl_sale.c):
 *
 *   # seckill-dp campaigns: id stock starts_at_ms state origin [pow_bits]
 *   v1
 *   7 1000 1767225600000 open ctl 18
 *   1 500 1767225000000 closed conf
 *
 * pow_bits (seckillctl campaign pow) is written only when not 0, so a file
 * of a sale without proof of work is what earlier versions wrote and read.
 *
 * origin `ctl`: made by seckillctl, added again at start; `conf`: a
 * --campaign option, whose stock and start come from the command line at
 * each start (README "Restarts"); the file only keeps its state. A record is
 * written whole or not at all: to campaigns.tmp, fsync, rename over
 * campaigns, fsync of the directory (a crash leaves the old file or the
 * new, never half of one).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_plane.h"
#include "str2int.h"

#define CTL_CAMPAIGNS_FILE "campaigns"
#define CTL_CAMPAIGNS_TMP "campaigns.tmp"
#define CTL_CAMPAIGNS_MAGIC "v1"
#define CTL_CAMPAIGNS_LINE 256
#define CTL_CAMPAIGNS_MODE 0640

struct ctl_campaign_rec {
	uint32_t id;
	uint64_t stock;
	uint64_t starts_at_ms;
	enum sale_state state;
	bool from_conf;              /* a --campaign option */
	unsigned pow_bits;           /* 0: no proof of work */
};

struct ctl_campaigns {
	char dir[DP_PATH_CAP];
	unsigned n;
	struct ctl_campaign_rec rec[SALE_MAX_CAMPAIGNS];
};

static const char *const ctl_state_word[] = {
	[SALE_SCHEDULED] = "scheduled", [SALE_OPEN] = "open", [SALE_CLOSED_STATE] = "closed",
};

static struct ctl_campaign_rec *ctl_campaigns_find(struct ctl_campaigns *k, uint32_t id)
{
	for (unsigned i = 0; i < k->n; i++)
		if (k->rec[i].id == id)
			return &k->rec[i];
	return NULL;
}

/* ---- the file ------------------------------------------------------------ */

static bool ctl_campaigns_parse(char *line, struct ctl_campaign_rec *r)
{
	char *tok[6], *save = NULL;
	uint64_t id, bits = 0;
	unsigned n = 0, st;

	for (char *t = strtok_r(line, " \t\n", &save); t && n < 6; t = strtok_r(NULL, " \t\n", &save))
		tok[n++] = t;
	if (n < 5 || strtok_r(NULL, " \t\n", &save) != NULL)
		return false;
	if (n == 6 && !str2u64(tok[5], 0, POW_MAX_BITS, &bits))
		return false;
	if (!str2u64(tok[0], 1, UINT32_MAX, &id) || !str2u64(tok[1], 1, DP_STOCK_MAX, &r->stock) ||
	    !str2u64(tok[2], 0, UINT64_MAX, &r->starts_at_ms))
		return false;
	for (st = 0; st < RTE_DIM(ctl_state_word); st++)
		if (strcmp(tok[3], ctl_state_word[st]) == 0)
			break;
	if (st == RTE_DIM(ctl_state_word))
		return false;
	if (strcmp(tok[4], "conf") != 0 && strcmp(tok[4], "ctl") != 0)
		return false;
	r->id = (uint32_t)id;
	r->state = (enum sale_state)st;
	r->from_conf = tok[4][1] == 'o';
	r->pow_bits = (unsigned)bits;
	return true;
}

/* Reads the file into k (nothing when there is none). */
static int ctl_campaigns_read(struct ctl_campaigns *k, char *err, size_t errlen)
{
	char path[DP_PATH_CAP + 16], line[CTL_CAMPAIGNS_LINE];
	unsigned lineno = 0;
	bool magic = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", k->dir, CTL_CAMPAIGNS_FILE);
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: cannot read it: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!magic) {
			magic = strcmp(line, CTL_CAMPAIGNS_MAGIC "\n") == 0;
			if (magic)
				continue;
		}
		if (!magic || k->n == SALE_MAX_CAMPAIGNS ||
		    !ctl_campaigns_parse(line, &k->rec[k->n]) ||
		    ctl_campaigns_find(k, k->rec[k->n].id) != NULL) {
			snprintf(err, errlen, "%s line %u: not a campaign record (%s); it is written "
				 "by seckill-dp: restore it from a backup, or remove it to forget "
				 "the campaigns made at run time", path, lineno, !magic ?
				 "no " CTL_CAMPAIGNS_MAGIC " line first" :
				 "want: id stock starts_at_ms scheduled|open|closed conf|ctl "
				 "[pow_bits], each id once");
			fclose(f);
			return -1;
		}
		k->n++;
	}
	fclose(f);
	return 0;
}

static int ctl_campaigns_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The whole record, atomically (see the top of the file). */
static int ctl_campaigns_write(const struct ctl_campaigns *k, char *err, size_t errlen)
{
	char tmp[DP_PATH_CAP + 16], path[DP_PATH_CAP + 16];
	FILE *f;
	int fd;
	bool ok;

	snprintf(tmp, sizeof(tmp), "%s/%s", k->dir, CTL_CAMPAIGNS_TMP);
	snprintf(path, sizeof(path), "%s/%s", k->dir, CTL_CAMPAIGNS_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, CTL_CAMPAIGNS_MODE);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "# seckill-dp campaigns: id stock starts_at_ms state origin [pow_bits]\n"
		CTL_CAMPAIGNS_MAGIC "\n");
	for (unsigned i = 0; i < k->n; i++) {
		fprintf(f, "%" PRIu32 " %" PRIu64 " %" PRIu64 " %s %s", k->rec[i].id,
			k->rec[i].stock, k->rec[i].starts_at_ms, ctl_state_word[k->rec[i].state],
			k->rec[i].from_conf ? "conf" : "ctl");
		if (k->rec[i].pow_bits != 0)
			fprintf(f, " %u", k->rec[i].pow_bits);
		fputc('\n', f);
	}
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0 || ctl_campaigns_fsync_dir(k->dir) < 0) {
		snprintf(err, errlen, "%s: cannot write it: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- start-up and changes -------------------------------------------------- */

static int ctl_campaigns_add(struct ctl_plane *ctl, const struct ctl_campaign_rec *r, char *err,
			     size_t errlen)
{
	int rc = sale_campaign_add(ctl->sale, r->id, r->stock, r->starts_at_ms);

	if (rc < 0) {
		snprintf(err, errlen, "campaign %" PRIu32 " (%" PRIu64 " units, made at run time "
			 "and recorded in the state dir): cannot add it: %s; give --max-stock room "
			 "for it (the journal holds its orders)", r->id, r->stock,
			 rc == -ENOSPC ? "no room" : strerror(-rc));
		return -1;
	}
	return 0;
}

int ctl_campaigns_restore(const struct dp_conf *conf, struct ctl_plane *ctl, char *err,
			  size_t errlen)
{
	const struct dp_sale_conf *sc = &conf->sale;
	struct ctl_campaigns *k = calloc(1, sizeof(*k)), *was = calloc(1, sizeof(*was));
	struct ctl_campaign_rec *r;
	int rc = -1;

	if (k == NULL || was == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(was->dir, sizeof(was->dir), "%s", sc->state_dir);
	snprintf(k->dir, sizeof(k->dir), "%s", sc->state_dir);
	if (ctl_campaigns_read(was, err, errlen) < 0)
		goto out;
	/* The command line's campaigns are in the sale already (ctl_sale.c);
	 * the state an operator gave them lives on. */
	for (unsigned i = 0; i < sc->n_campaigns; i++) {
		const struct ctl_campaign_rec *old = ctl_campaigns_find(was, sc->camp[i].id);

		r = &k->rec[k->n++];
		*r = (struct ctl_campaign_rec){ sc->camp[i].id, sc->camp[i].stock,
						sc->camp[i].starts_at_ms, SALE_SCHEDULED, true, 0 };
		if (old != NULL && old->state != SALE_SCHEDULED) {
			r->state = old->state;
			sale_campaign_set_state(ctl->sale, r->id, r->state);
		}
		if (old != NULL && old->pow_bits != 0) {
			r->pow_bits = old->pow_bits;
			sale_campaign_set_pow(ctl->sale, r->id, r->pow_bits);
		}
	}
	for (unsigned i = 0; i < was->n; i++) {
		if (was->rec[i].from_conf || ctl_campaigns_find(k, was->rec[i].id) != NULL)
			continue;
		if (ctl_campaigns_add(ctl, &was->rec[i], err, errlen) < 0)
			goto out;
		if (was->rec[i].state != SALE_SCHEDULED)
			sale_campaign_set_state(ctl->sale, was->rec[i].id, was->rec[i].state);
		sale_campaign_set_pow(ctl->sale, was->rec[i].id, was->rec[i].pow_bits);
		k->rec[k->n++] = was->rec[i];
		printf("seckill-dp: campaign %" PRIu32 " (made at run time, %" PRIu64 " units, %s) "
		       "restored from the state dir\n", was->rec[i].id, was->rec[i].stock,
		       ctl_state_word[was->rec[i].state]);
	}
	ctl->camps = k;
	k = NULL;
	rc = 0;
out:
	free(k);
	free(was);
	return rc;
}

int ctl_campaigns_created(struct ctl_plane *ctl, uint32_t id, uint64_t stock,
			  uint64_t starts_at_ms, char *err, size_t errlen)
{
	struct ctl_campaigns *k = ctl->camps;

	if (k == NULL || k->n == SALE_MAX_CAMPAIGNS)
		return 0;
	k->rec[k->n++] = (struct ctl_campaign_rec){ id, stock, starts_at_ms, SALE_SCHEDULED, false,
						    0 };
	return ctl_campaigns_write(k, err, errlen);
}

int ctl_campaigns_state(struct ctl_plane *ctl, uint32_t id, enum sale_state st, char *err,
			size_t errlen)
{
	struct ctl_campaign_rec *r = ctl->camps ? ctl_campaigns_find(ctl->camps, id) : NULL;

	if (r == NULL)
		return 0;
	r->state = st;
	return ctl_campaigns_write(ctl->camps, err, errlen);
}

int ctl_campaigns_pow(struct ctl_plane *ctl, uint32_t id, unsigned bits, char *err,
		      size_t errlen)
{
	struct ctl_campaign_rec *r = ctl->camps ? ctl_campaigns_find(ctl->camps, id) : NULL;

	if (r == NULL)
		return 0;
	r->pow_bits = bits;
	return ctl_campaigns_write(ctl->camps, err, errlen);
}

void ctl_campaigns_free(struct ctl_plane *ctl)
{
	free(ctl->camps);
	ctl->camps = NULL;
}
