/*
 * ctl_sock_blacklist.c - blacklist.add, .del and .list on seckill-dp's
 * control socket (seckillctl's side: ctl_cmd_blacklist.c): addresses and
 * buyers whose buys are refused (403), changed without a restart.
 *
 * The sale's blacklist tables (sale.h) take an add or a del as one atomic
 * store of an entry's value word, which every worker sees at once. They
 * cannot be walked, so this file keeps a copy of what it (or the command
 * line) listed, for blacklist.list and to tell "added" from "listed_before";
 * it is the tables' only writer, so the copy is exact. The IP list and the
 * buyer list differ only in their key and how it is written: each is one
 * struct ctl_black_kind, and every command is one code path for both.
 */
#include <inttypes.h>
#include <stdio.h>
#include <arpa/inet.h>

#include "ctl_sock_priv.h"

/* What tells one blacklist from the other. Keys are uint64_t: a buyer id,
 * or an IPv4 address in network order. */
struct ctl_black_kind {
	const char *field;     /* the request's field and the answer's key */
	const char *plural;    /* blacklist.list's key */
	const char *name;      /* in messages */
	/* The request's key: 0, or -1 answered with an error. */
	int (*parse)(struct ctl_req *r, uint64_t *key);
	/* The key as a JSON value. */
	void (*print)(struct ctl_buf *b, uint64_t key);
	/* The sale's table (sale.h): 0, or a negative errno. */
	int (*add)(struct sale *s, uint64_t key);
	int (*del)(struct sale *s, uint64_t key);
};

static int ctl_black_ip_parse(struct ctl_req *r, uint64_t *key)
{
	char s[INET_ADDRSTRLEN];
	uint32_t ip;

	if (ctl_json_str(r->text, r->t, ctl_json_get(r->text, r->t, 0, "ip"), s, sizeof(s)) < 0 ||
	    inet_pton(AF_INET, s, &ip) != 1) {
		ctl_req_err(r, "bad_request", "'ip' must be a dotted quad, e.g. 203.0.113.7");
		return -1;
	}
	*key = ip;
	return 0;
}

static void ctl_black_ip_print(struct ctl_buf *b, uint64_t key)
{
	uint32_t ip = (uint32_t)key;
	char s[INET_ADDRSTRLEN];

	ctl_buf_printf(b, "\"%s\"", inet_ntop(AF_INET, &ip, s, sizeof(s)));
}

static int ctl_black_ip_add(struct sale *s, uint64_t key)
{
	return sale_blacklist_ip_add(s, (uint32_t)key);
}

static int ctl_black_ip_del(struct sale *s, uint64_t key)
{
	return sale_blacklist_ip_del(s, (uint32_t)key);
}

/* Ids from 1: the sale's table refuses UINT64_MAX (sale.h). */
static int ctl_black_buyer_parse(struct ctl_req *r, uint64_t *key)
{
	return ctl_req_u64(r, "buyer", 1, UINT64_MAX - 1, true, key) < 0 ? -1 : 0;
}

static void ctl_black_buyer_print(struct ctl_buf *b, uint64_t key)
{
	ctl_buf_printf(b, "%" PRIu64, key);
}

static const struct ctl_black_kind ctl_black_kinds[CTL_BLACK_N] = {
	[CTL_BLACK_IP] = { "ip", "ips", "IP", ctl_black_ip_parse, ctl_black_ip_print,
			   ctl_black_ip_add, ctl_black_ip_del },
	[CTL_BLACK_BUYER] = { "buyer", "buyers", "buyer", ctl_black_buyer_parse,
			      ctl_black_buyer_print, sale_blacklist_buyer_add,
			      sale_blacklist_buyer_del },
};

/* Index of key in the list, or -1. */
static int ctl_black_find(const struct ctl_black_list *l, uint64_t key)
{
	for (unsigned k = 0; k < l->n; k++)
		if (l->key[k] == key)
			return (int)k;
	return -1;
}

void ctl_sock_blacklist_seed(struct ctl_sock_cmd *st)
{
	const struct dp_sale_conf *sc = &st->conf->sale;
	struct ctl_black_list *ip = &st->black[CTL_BLACK_IP];
	struct ctl_black_list *buyer = &st->black[CTL_BLACK_BUYER];

	/* The command line may name an entry twice; the copy holds it once. */
	for (unsigned i = 0; i < sc->n_black_ip; i++)
		if (ctl_black_find(ip, sc->black_ip[i]) < 0)
			ip->key[ip->n++] = sc->black_ip[i];
	for (unsigned i = 0; i < sc->n_black_buyer; i++)
		if (ctl_black_find(buyer, sc->black_buyer[i]) < 0)
			buyer->key[buyer->n++] = sc->black_buyer[i];
}

/* What blacklist.add and .del act on. */
struct ctl_black_target {
	const struct ctl_black_kind *kind;
	struct ctl_black_list *list;
	uint64_t key;
	int at;                /* the key's index in list, or -1: not listed */
};

/* The request's one target, an "ip" (dotted quad) or a "buyer" (id):
 * 0, or -1 answered with an error. */
static int ctl_black_target(struct ctl_req *r, struct ctl_black_target *t)
{
	static const char *const f[] = { "ip", "buyer", NULL };
	bool ip = ctl_json_get(r->text, r->t, 0, "ip") >= 0;
	bool buyer = ctl_json_get(r->text, r->t, 0, "buyer") >= 0;
	enum ctl_black_which w = ip ? CTL_BLACK_IP : CTL_BLACK_BUYER;

	if (!ctl_req_fields_ok(r, f) || !ctl_req_need_sale(r))
		return -1;
	if (ip == buyer) {
		ctl_req_err(r, "bad_request", "give exactly one of 'ip' and 'buyer'");
		return -1;
	}
	t->kind = &ctl_black_kinds[w];
	t->list = &r->st->black[w];
	if (t->kind->parse(r, &t->key) < 0)
		return -1;
	t->at = ctl_black_find(t->list, t->key);
	return 0;
}

/* {"ok":true,"<done>":true,"ip":"203.0.113.7"} or ..."buyer":42} */
static void ctl_black_ok(struct ctl_req *r, const struct ctl_black_target *t, const char *done)
{
	ctl_buf_printf(r->b, "{\"ok\":true,\"%s\":true,\"%s\":", done, t->kind->field);
	t->kind->print(r->b, t->key);
	ctl_buf_printf(r->b, "}");
}

void ctl_sock_blacklist_add(struct ctl_req *r)
{
	struct sale *sale = r->st->ctl->sale;
	struct ctl_black_target t;
	int rc;

	if (ctl_black_target(r, &t) < 0)
		return;
	if (t.at >= 0) {
		ctl_black_ok(r, &t, "listed_before");
		return;
	}
	rc = t.kind->add(sale, t.key);
	if (rc < 0 || t.list->n == DP_BLACKLIST_MAX) {
		if (rc == 0)   /* listed but not in our copy: take it back out */
			t.kind->del(sale, t.key);
		ctl_req_err(r, "full", "the %s blacklist is full (%u entries); delete some first",
			    t.kind->name, DP_BLACKLIST_MAX);
		return;
	}
	t.list->key[t.list->n++] = t.key;
	ctl_black_ok(r, &t, "added");
}

void ctl_sock_blacklist_del(struct ctl_req *r)
{
	struct ctl_black_target t;

	if (ctl_black_target(r, &t) < 0)
		return;
	if (t.at < 0) {
		ctl_req_err(r, "not_listed", "that %s is not on the blacklist", t.kind->name);
		return;
	}
	t.kind->del(r->st->ctl->sale, t.key);
	t.list->key[t.at] = t.list->key[--t.list->n];
	ctl_black_ok(r, &t, "deleted");
}

/* {"ok":true,"ips":["203.0.113.7",..],"buyers":[42,..]} */
void ctl_sock_blacklist_list(struct ctl_req *r)
{
	static const char *const f[] = { NULL };

	if (!ctl_req_fields_ok(r, f) || !ctl_req_need_sale(r))
		return;
	ctl_buf_printf(r->b, "{\"ok\":true");
	for (int w = 0; w < CTL_BLACK_N; w++) {
		const struct ctl_black_kind *kind = &ctl_black_kinds[w];
		const struct ctl_black_list *l = &r->st->black[w];

		ctl_buf_printf(r->b, ",\"%s\":[", kind->plural);
		for (unsigned k = 0; k < l->n; k++) {
			ctl_buf_printf(r->b, k ? "," : "");
			kind->print(r->b, l->key[k]);
		}
		ctl_buf_printf(r->b, "]");
	}
	ctl_buf_printf(r->b, "}");
}
