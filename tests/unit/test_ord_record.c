/*
 * Order ids: exact text form, strict parsing, uniqueness across cores,
 * sequences and boot epochs, and the epoch state file that makes a restart in
 * the same second (or after the clock stepped back) take a new epoch.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ord_record.h"

static const char *fmt(struct ord_id id)
{
	static char buf[ORD_ID_STR_CAP];

	cr_assert_eq(ord_id_format(id, buf, sizeof(buf)), ORD_ID_STR_LEN);
	return buf;
}

Test(ord_id, layout_and_text)
{
	struct ord_id id = ord_id_make(0x65f1a2b3, 1, 2, 7);

	cr_assert_eq(id.hi, 0x65f1a2b300010002ULL);
	cr_assert_eq(id.lo, 7);
	cr_assert_eq(ord_id_epoch(id), 0x65f1a2b3);
	cr_assert_eq(ord_id_node(id), 1);
	cr_assert_eq(ord_id_core(id), 2);
	cr_assert_eq(ord_id_seq(id), 7);
	cr_assert_str_eq(fmt(id), "65f1a2b3-0001-0002-0000000000000007");
	cr_assert_str_eq(fmt(ord_id_make(UINT32_MAX, UINT16_MAX, UINT16_MAX, UINT64_MAX)),
			 "ffffffff-ffff-ffff-ffffffffffffffff");
	cr_assert_str_eq(fmt(ord_id_make(0, 0, 0, 0)), "00000000-0000-0000-0000000000000000");
}

Test(ord_id, format_needs_room)
{
	char buf[ORD_ID_STR_CAP];

	cr_assert_eq(ord_id_format(ord_id_make(1, 2, 3, 4), buf, ORD_ID_STR_LEN), -1);
}

Test(ord_id, parse_round_trip)
{
	struct ord_id id, back;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < 10000; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		id = ord_id_make((uint32_t)(x >> 7), (uint16_t)x, (uint16_t)(x >> 40), x * 31);
		cr_assert(ord_id_parse(fmt(id), ORD_ID_STR_LEN, &back), "%s", fmt(id));
		cr_assert(ord_id_eq(id, back));
	}
	cr_assert(ord_id_parse("65f1a2b3-0001-0002-0000000000000007", 35, &back));
	cr_assert(ord_id_eq(back, ord_id_make(0x65f1a2b3, 1, 2, 7)));
}

static void assert_rejected(const char *s, size_t len)
{
	struct ord_id id = ord_id_make(9, 9, 9, 9);

	cr_assert_not(ord_id_parse(s, len, &id), "accepted \"%.*s\"", (int)len, s);
	cr_assert(ord_id_eq(id, ord_id_make(9, 9, 9, 9)), "id written on failure");
}

#define REJECT(s) assert_rejected(s, strlen(s))

Test(ord_id, parse_rejects_anything_else)
{
	REJECT("");
	REJECT("65f1a2b3-0001-0002-000000000000007");       /* short */
	REJECT("65f1a2b3-0001-0002-00000000000000007");     /* long */
	REJECT("65F1A2B3-0001-0002-0000000000000007");      /* uppercase */
	REJECT("65f1a2b3-0001-0002-000000000000000A");
	REJECT("65f1a2b3_0001-0002-0000000000000007");      /* wrong separator */
	REJECT("65f1a2b3-0001-0002+0000000000000007");
	REJECT("65f1a2b30-001-0002-0000000000000007");      /* dash moved */
	REJECT("65f1a2b3-00010-002-0000000000000007");
	REJECT("65f1a2b3-0001-0002-00000000000000g7");      /* not hex */
	REJECT("65f1a2b3-0001-0002-0000000000000 07");
	REJECT("65f1a2b3--001-0002-0000000000000007");
	REJECT("65f1a2b300010002000000000000000007x");      /* no dashes, right length */
	REJECT("../../../../../../../../etc/passwd!!");
	/* A NUL in the middle: the length decides, not the terminator. */
	assert_rejected("65f1a2b3-0001-0002-00000000\0000000007", ORD_ID_STR_LEN);
	/* A valid prefix of a longer buffer is only valid at exactly 35 bytes. */
	assert_rejected("65f1a2b3-0001-0002-0000000000000007", ORD_ID_STR_LEN - 1);
}

Test(ord_idgen, counts_from_one_per_core)
{
	struct ord_idgen g;

	ord_idgen_init(&g, 1700000000, 3, 5);
	cr_assert(ord_id_eq(ord_idgen_next(&g), ord_id_make(1700000000, 3, 5, 1)));
	cr_assert(ord_id_eq(ord_idgen_next(&g), ord_id_make(1700000000, 3, 5, 2)));
	cr_assert_str_eq(fmt(ord_idgen_next(&g)), "6553f100-0003-0005-0000000000000003");
}

static int cmp_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Ids from 2 nodes x 2 boot epochs x 4 cores x 2000 sales: all distinct, as ids and as text. */
Test(ord_idgen, unique_across_cores_epochs_and_nodes)
{
	enum { NODES = 2, EPOCHS = 2, CORES = 4, SALES = 2000, N = NODES * EPOCHS * CORES * SALES };
	char (*text)[ORD_ID_STR_CAP] = calloc(N, ORD_ID_STR_CAP);
	uint32_t epochs[EPOCHS];
	size_t n = 0;

	/* Two runs started in the same second: the epoch rule still separates them. */
	cr_assert(ord_epoch_pick(1700000000, 0, &epochs[0]));
	cr_assert(ord_epoch_pick(1700000000, epochs[0], &epochs[1]));
	cr_assert_neq(epochs[0], epochs[1]);
	for (int node = 0; node < NODES; node++)
		for (int e = 0; e < EPOCHS; e++)
			for (int core = 0; core < CORES; core++) {
				struct ord_idgen g;

				ord_idgen_init(&g, epochs[e], (uint16_t)node, (uint16_t)core);
				for (int s = 0; s < SALES; s++)
					ord_id_format(ord_idgen_next(&g), text[n++], ORD_ID_STR_CAP);
			}
	cr_assert_eq(n, N);
	qsort(text, N, ORD_ID_STR_CAP, cmp_text);
	for (size_t i = 1; i < N; i++)
		cr_assert_neq(strcmp(text[i - 1], text[i]), 0, "duplicate %s", text[i]);
	free(text);
}

Test(ord_id, text_order_is_field_order)
{
	char a[ORD_ID_STR_CAP], b[ORD_ID_STR_CAP];

	ord_id_format(ord_id_make(1700000000, 0, 1, 0xffff), a, sizeof(a));
	ord_id_format(ord_id_make(1700000000, 0, 2, 1), b, sizeof(b));
	cr_assert_lt(strcmp(a, b), 0);
	ord_id_format(ord_id_make(1700000001, 0, 0, 1), a, sizeof(a));
	cr_assert_gt(strcmp(a, b), 0);
}

Test(ord_record, fits_a_cache_line)
{
	cr_assert_eq(sizeof(struct ord_record), 40);
}

Test(ord_epoch, pick_rule)
{
	uint32_t e = 0;

	cr_assert(ord_epoch_pick(100, 0, &e));
	cr_assert_eq(e, 100);
	cr_assert(ord_epoch_pick(100, 100, &e));    /* restart in the same second */
	cr_assert_eq(e, 101);
	cr_assert(ord_epoch_pick(50, 100, &e));     /* clock stepped back */
	cr_assert_eq(e, 101);
	cr_assert(ord_epoch_pick(UINT32_MAX, 0, &e));
	cr_assert_eq(e, UINT32_MAX);
	e = 7;
	cr_assert_not(ord_epoch_pick(100, UINT32_MAX, &e));
	cr_assert_not(ord_epoch_pick((uint64_t)UINT32_MAX + 1, 0, &e));
	cr_assert_eq(e, 7);
}

static char dir[] = "/tmp/test_ord_epochXXXXXX";
static char path[sizeof(dir) + 16];

static void mkstate(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/epoch", dir);
}

static void rmstate(void)
{
	unlink(path);
	rmdir(dir);
}

static void assert_file(const char *want)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f);
	cr_assert_eq(fread(buf, 1, sizeof(buf) - 1, f), strlen(want));
	fclose(f);
	cr_assert_str_eq(buf, want);
}

static void write_file(const char *s)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(s, f);
	fclose(f);
}

Test(ord_epoch, claim_survives_fast_restarts, .init = mkstate, .fini = rmstate)
{
	char err[256] = "";
	uint32_t e = 0;

	cr_assert_eq(ord_epoch_claim(path, 1700000000, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e, 1700000000);
	assert_file("1700000000\n");
	cr_assert_eq(ord_epoch_claim(path, 1700000000, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e, 1700000001);
	cr_assert_eq(ord_epoch_claim(path, 1600000000, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e, 1700000002);
	cr_assert_eq(ord_epoch_claim(path, 1800000000, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e, 1800000000);
	assert_file("1800000000\n");
	cr_assert_eq(access(path, F_OK), 0);
}

Test(ord_epoch, corrupt_state_is_an_error, .init = mkstate, .fini = rmstate)
{
	const char *bad[] = { "", "\n", "12x\n", "-5\n", "4294967296\n", "12", " 12\n", "12\n\n" };
	char err[512], want[512];
	uint32_t e = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(bad[i]);
		cr_assert_eq(ord_epoch_claim(path, 1700000000, &e, err, sizeof(err)), -1,
			     "accepted \"%s\"", bad[i]);
		snprintf(want, sizeof(want), "epoch state file %s is not one decimal epoch and a "
			 "newline; fix or remove it only if no run ever used a later epoch "
			 "(order ids would repeat)", path);
		cr_assert_str_eq(err, want);
		cr_assert_eq(e, 7);
	}
	write_file("4294967295\n");
	cr_assert_eq(ord_epoch_claim(path, 1700000000, &e, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "no boot epoch left after 4294967295 (32-bit seconds end in 2106)");
}

Test(ord_epoch, unwritable_dir_is_an_error)
{
	char err[256];
	uint32_t e;

	cr_assert_eq(ord_epoch_claim("/nonexistent-dir/epoch", 1700000000, &e, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "can't create /nonexistent-dir/epoch.tmp: No such file or directory");
}
