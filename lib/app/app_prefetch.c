/*
 * app_prefetch.c - the buys of an RX burst, seen before the burst is served.
 *
 * Every buy that may sell claims its buyer in the purchase set: a table of
 * millions of slots, probed at a random place, so a cache miss (and, on
 * 4 KiB pages or under a hypervisor, a page walk) per buy that nothing
 * inside one request hides: perf put a third of the worker's time there at
 * 2,048 connections (BENCHMARKS.md, round 6). Started for every buy of a
 * burst before the first is served, the misses overlap instead of queueing:
 * l3fwd prefetches the next packets' headers for the same reason.
 *
 * The worker hands each frame's TCP payload here (net_peek.h) before the
 * stack runs. What is read is a hint, not a request: no connection, order or
 * checksum is known yet, and the buyer id is not verified (sale_buy checks
 * the token). A request split across segments, a header spelt otherwise,
 * anything else is simply not prefetched; the buy is served the same.
 */
#include <string.h>

#include "app.h"
#include "sale.h"
#include "token.h"

#define BUY_PREFIX "POST /api/campaigns/"
#define BUY_PREFIX_LEN (sizeof(BUY_PREFIX) - 1)
#define BUY_SUFFIX "/orders"
#define BUY_SUFFIX_LEN (sizeof(BUY_SUFFIX) - 1)

/* The campaign id's decimal digits at p[*i..len) into *v (at most 20
 * digits: an id past UINT32_MAX is refused by the caller); false when there
 * are none. */
static bool scan_dec(const uint8_t *p, uint32_t len, uint32_t *i, uint64_t *v)
{
	uint32_t start = *i;

	*v = 0;
	while (*i < len && *i - start < 20 && p[*i] >= '0' && p[*i] <= '9')
		*v = *v * 10 + (uint64_t)(p[(*i)++] - '0');
	return *i > start;
}

/*
 * The header line "Authorization:" in either case of its first letter
 * (clients send it capitalised or, through HTTP/2-minded libraries, lower),
 * from p[i] on: where its name ends, or NULL. Line by line with memchr:
 * glibc's memmem, a general search, cost 3-5 % of the worker here.
 */
static const uint8_t *find_authorization(const uint8_t *p, uint32_t i, uint32_t len)
{
	const uint8_t *q = p + i, *end = p + len, *nl;

	while ((nl = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (end - nl >= 15 && (nl[1] | 0x20) == 'a' && memcmp(nl + 2, "uthorization:", 13) == 0)
			return nl + 15;
		q = nl + 1;
	}
	return NULL;
}

bool app_prefetch_parse(const uint8_t *p, uint32_t len, uint32_t *campaign, uint64_t *buyer)
{
	const uint8_t *h, *eol;
	uint32_t i = BUY_PREFIX_LEN, n;
	uint64_t id, expiry, mac;

	if (len < BUY_PREFIX_LEN + 1 + BUY_SUFFIX_LEN || memcmp(p, BUY_PREFIX, BUY_PREFIX_LEN))
		return false;
	if (!scan_dec(p, len, &i, &id) || id > UINT32_MAX || len - i < BUY_SUFFIX_LEN + 1 ||
	    memcmp(p + i, BUY_SUFFIX, BUY_SUFFIX_LEN) ||
	    (p[i + BUY_SUFFIX_LEN] != ' ' && p[i + BUY_SUFFIX_LEN] != '?'))
		return false;
	h = find_authorization(p, i, len);
	if (h == NULL)
		return false;
	i = (uint32_t)(h - p);
	while (i < len && p[i] == ' ')
		i++;
	if (len - i < 10 || (p[i] | 0x20) != 'b' || memcmp(p + i + 1, "earer ", 6) != 0)
		return false;
	i += 7;
	while (i < len && p[i] == ' ')
		i++;
	/* The token up to its line's end, read by the token's own parser
	 * (its shape only: the MAC is sale_buy's to check). */
	eol = memchr(p + i, '\r', len - i);
	if (eol == NULL)
		return false;
	for (n = (uint32_t)(eol - p) - i; n && p[i + n - 1] == ' '; n--)
		;
	if (!token_decode((const char *)p + i, n, buyer, &expiry, &mac))
		return false;
	*campaign = (uint32_t)id;
	return true;
}

void app_prefetch_request(struct app *a, const uint8_t *p, uint32_t len)
{
	uint32_t campaign;
	uint64_t buyer;

	if (a->sale != NULL && app_prefetch_parse(p, len, &campaign, &buyer))
		sale_prefetch_buy(a->sale, campaign, buyer);
}

void app_prefetch_issue(struct app *a)
{
	if (a->sale != NULL)
		sale_prefetch_issue(a->sale);
}
