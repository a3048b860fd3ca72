/*
 * ctl_metrics.c - GET /metrics: every counter `seckillctl stats` shows, in
 * Prometheus's text format, on a kernel socket of the control thread's own.
 *
 * A non-blocking TCP listener (--metrics-listen IP:PORT; the dataplane's
 * public port never shows it, since that one is DPDK's) polled once per
 * control-loop pass, as ctl_sock.c polls seckillctl's socket: at most
 * CTL_METRICS_CLIENTS clients, each with a bounded request buffer; the
 * answer is built in one go from the same plain loads ctl_sock_stats.c
 * makes (a value a moment old, never torn) and written as the socket takes
 * it; then the connection is closed (Prometheus copes, and no client holds
 * a slot between scrapes). A client silent for CTL_METRICS_IDLE_US is closed.
 *
 * What is exported, by family (labels rather than names per core or reason):
 *   per worker core (label core, the worker index as in `seckillctl stats`):
 *     packets, HTTP requests, buys by result, drops and refusals by layer
 *     and reason, TCP connections by state, order-ring depth;
 *   per campaign: buys by result (seckill_buys_total), stock, units left
 *     and sold, phase;
 *   the control plane: journal depth and bytes, sales paused, its loop's
 *     counters, orders confirmed/rejected, Kafka's and Redis's counters and
 *     gauges (with --kafka, --redis), Redis up;
 *   seckill_durable_publish_seconds: how long a control pass took from the
 *     start of its drain to its fsync's return and the publication of the
 *     durable position the cores release held answers by, one observation
 *     per order the pass journaled. Measured here rather than per answer on
 *     the cores (which would cost the hot path a clock read per sale): it
 *     leaves out the time an order sat in its ring before the pass (at most
 *     one pass period, 0.2 to 1 ms) and the core's next poll, and with
 *     --answer-after kafka the further wait for Kafka's ack.
 */
#define _GNU_SOURCE          /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_metrics.h"
#include "ctl_prom.h"
#include "ctl_sock.h"
#include "http_parse.h"
#include "str2int.h"

/* Prometheus, a person with curl and a spare. */
#define CTL_METRICS_CLIENTS 4
#define CTL_METRICS_IDLE_US (10 * 1000000ull)
#define CTL_METRICS_REQ_MAX 4096
/* A scrape: about 5 KiB per core plus 0.5 KiB per campaign; 1 MiB holds
 * 64 cores and 64 campaigns with room. */
#define CTL_METRICS_ANSWER_MAX (1u << 20)
#define CTL_METRICS_BACKLOG 16
#define CTL_US_PER_S 1e6

struct ctl_metrics_client {
	int fd;                      /* -1: free slot */
	uint64_t last_us;
	size_t in_len;
	char in[CTL_METRICS_REQ_MAX];
	char *out;                   /* malloc'd per answer */
	size_t out_len, out_off;
};

struct ctl_metrics {
	int fd;
	struct ctl_plane *ctl;
	struct ctl_metrics_client cl[CTL_METRICS_CLIENTS];
};

/* ------------------------------------------------------------------ */
/* The exposition                                                      */
/* ------------------------------------------------------------------ */

/* Each worker with a stack, as (index, lcore) pairs; returns how many. */
static unsigned ctl_metrics_cores(const struct dp_lcore **lcs, unsigned *idx)
{
	struct dp_lcore *lc;
	unsigned n = 0;

	for (unsigned i = 0; i < SALE_MAX_CORES && (lc = ctl_lcore_of_core(i)) != NULL; i++)
		if (ctl_has_stack(lc)) {
			lcs[n] = lc;
			idx[n++] = i;
		}
	return n;
}

struct ctl_drop_ctx {
	struct ctl_prom *w;
	unsigned core;
};

static void ctl_metrics_drop(void *ctx, const char *set, const char *name, uint64_t v)
{
	struct ctl_drop_ctx *d = ctx;
	char reason[64];
	const char *p;

	if (strcmp(set, "buy") == 0)
		return;                  /* in seckill_buys_total */
	/* tcp.drop_table_full -> reason table_full; dp.tx_drops -> tx. */
	if (strncmp(name, "drop_", 5) == 0)
		name += 5;
	snprintf(reason, sizeof(reason), "%s", name);
	if ((p = strstr(reason, "_drops")) != NULL || (p = strstr(reason, "_drop")) != NULL)
		memmove(reason + (p - reason), p + (p[5] == 's' ? 6 : 5),
			strlen(p + (p[5] == 's' ? 6 : 5)) + 1);
	ctl_prom_u64(d->w, "seckill_drops_total", v, "core=\"%u\",layer=\"%s\",reason=\"%s\"",
		     d->core, set, reason);
}

static void ctl_metrics_workers(struct ctl_prom *w, const struct ctl_plane *ctl)
{
	const struct dp_lcore *lcs[SALE_MAX_CORES];
	unsigned idx[SALE_MAX_CORES], n = ctl_metrics_cores(lcs, idx);
	struct ctl_drop_ctx d = { .w = w };
	struct ctl_core_sample s;

#define CTL_PER_CORE(name, type, help, expr)                                    \
	ctl_prom_family(w, name, type, help);                                   \
	for (unsigned k = 0; k < n; k++) {                                      \
		const struct dp_lcore *lc = lcs[k];                              \
		ctl_core_sample(lc, &s);                                        \
		ctl_prom_u64(w, name, (uint64_t)(expr), "core=\"%u\"", idx[k]); \
	}
	CTL_PER_CORE("seckill_rx_packets_total", "counter", "Frames received, by worker core.",
		     s.rx_pkts)
	CTL_PER_CORE("seckill_tx_packets_total", "counter", "Frames sent, by worker core.",
		     s.tx_pkts)
	CTL_PER_CORE("seckill_http_requests_total", "counter",
		     "HTTP requests parsed, by worker core.", s.requests)
	if (ctl->sale != NULL) {
		CTL_PER_CORE("seckill_order_ring_depth", "gauge",
			     "Sold orders in the core's ring, not yet taken by the control thread.",
			     ord_ring_count(sale_ring(ctl->sale, idx[k])))
	}
#undef CTL_PER_CORE
	if (ctl->sale != NULL) {
		ctl_prom_family(w, "seckill_core_buys_total", "counter", "Buy requests answered, "
				"by worker core and result (ok: sold; else the refusal's error "
				"code); by campaign: seckill_buys_total.");
		for (unsigned k = 0; k < n; k++)
			for (unsigned r = 0; lcs[k]->sale != NULL && r < SALE_RESULT_N; r++)
				ctl_prom_u64(w, "seckill_core_buys_total", lcs[k]->sale->results[r],
					     "core=\"%u\",result=\"%s\"", idx[k], sale_result_names[r]);
	}
	ctl_prom_family(w, "seckill_drops_total", "counter", "Frames dropped and requests "
			"refused before the sale, by worker core, layer and reason.");
	for (unsigned k = 0; k < n; k++) {
		d.core = idx[k];
		ctl_core_drops(lcs[k], ctl_metrics_drop, &d);
	}
	/* Gauges: 32-bit stores by the worker each tick, never torn. */
	ctl_prom_family(w, "seckill_tcp_connections", "gauge",
			"TCP connections in the core's table, by state.");
	for (unsigned k = 0; k < n; k++) {
		const struct tcp_gauges *g = &lcs[k]->gauges;

		ctl_prom_u64(w, "seckill_tcp_connections", g->syn_rcvd,
			     "core=\"%u\",state=\"syn_rcvd\"", idx[k]);
		ctl_prom_u64(w, "seckill_tcp_connections", g->established,
			     "core=\"%u\",state=\"established\"", idx[k]);
		ctl_prom_u64(w, "seckill_tcp_connections", g->closing,
			     "core=\"%u\",state=\"closing\"", idx[k]);
		ctl_prom_u64(w, "seckill_tcp_connections", g->time_wait,
			     "core=\"%u\",state=\"time_wait\"", idx[k]);
	}
	ctl_prom_family(w, "seckill_tcp_buffers_used", "gauge", "Receive and send buffer "
			"blocks taken from the core's pools (--rx-bufs, --tx-bufs).");
	for (unsigned k = 0; k < n; k++) {
		ctl_prom_u64(w, "seckill_tcp_buffers_used", lcs[k]->gauges.rx_bufs_used,
			     "core=\"%u\",dir=\"rx\"", idx[k]);
		ctl_prom_u64(w, "seckill_tcp_buffers_used", lcs[k]->gauges.tx_bufs_used,
			     "core=\"%u\",dir=\"tx\"", idx[k]);
	}
}

/*
 * seckill_buys_total{campaign,result}: every result of every campaign, 0s
 * included (a rate over a series that appears late misses its first
 * increase). A request for an id no campaign has counts under
 * campaign="none": the id itself is the client's to choose, and a label
 * per made-up id would let anyone grow the scrape without bound.
 */
static void ctl_metrics_buys(struct ctl_prom *w, struct sale *s, const uint32_t *ids,
			     unsigned n)
{
	const struct dp_lcore *lcs[SALE_MAX_CORES];
	unsigned idx[SALE_MAX_CORES], nc = ctl_metrics_cores(lcs, idx);
	uint64_t res[SALE_RESULT_N], none = 0;

	ctl_prom_family(w, "seckill_buys_total", "counter", "Buy requests answered, by campaign "
			"and result (ok: sold; else the refusal's error code).");
	for (unsigned i = 0; i < n; i++) {
		if (!sale_campaign_results(s, ids[i], res))
			continue;
		for (unsigned r = 0; r < SALE_RESULT_N; r++)
			ctl_prom_u64(w, "seckill_buys_total", res[r], "campaign=\"%" PRIu32
				     "\",result=\"%s\"", ids[i], sale_result_names[r]);
	}
	for (unsigned k = 0; k < nc; k++)
		if (lcs[k]->sale != NULL)
			none += lcs[k]->sale->results[SALE_NO_CAMPAIGN];
	ctl_prom_u64(w, "seckill_buys_total", none, "campaign=\"none\",result=\"%s\"",
		     sale_result_names[SALE_NO_CAMPAIGN]);
}

static void ctl_metrics_campaigns(struct ctl_prom *w, struct sale *s)
{
	static const enum sale_phase phases[] = {
		SALE_PHASE_SCHEDULED, SALE_PHASE_OPEN, SALE_PHASE_SOLD_OUT, SALE_PHASE_CLOSED,
	};
	uint32_t ids[SALE_MAX_CAMPAIGNS];
	struct sale_campaign_view v[SALE_MAX_CAMPAIGNS];
	unsigned n = sale_campaign_ids(s, ids, SALE_MAX_CAMPAIGNS), m = 0;
	uint64_t now_ms = now_wall_ms();

	for (unsigned i = 0; i < n; i++)
		if (sale_campaign_info(s, ids[i], now_ms, &v[m]))
			m++;
	ctl_metrics_buys(w, s, ids, n);
	ctl_prom_family(w, "seckill_campaign_stock_units", "gauge",
			"Units the campaign started with.");
	for (unsigned i = 0; i < m; i++)
		ctl_prom_u64(w, "seckill_campaign_stock_units", v[i].stock, "campaign=\"%" PRIu32
			     "\"", v[i].id);
	ctl_prom_family(w, "seckill_campaign_left_units", "gauge", "Units not sold yet (with "
			"--redis: held here plus what Redis has not handed out, as last heard).");
	for (unsigned i = 0; i < m; i++)
		ctl_prom_u64(w, "seckill_campaign_left_units", v[i].left, "campaign=\"%" PRIu32
			     "\"", v[i].id);
	ctl_prom_family(w, "seckill_campaign_sold_units", "gauge",
			"Units sold (stock - left); falls when units come back.");
	for (unsigned i = 0; i < m; i++)
		ctl_prom_u64(w, "seckill_campaign_sold_units", v[i].stock - v[i].left,
			     "campaign=\"%" PRIu32 "\"", v[i].id);
	ctl_prom_family(w, "seckill_campaign_phase", "gauge",
			"1 for the campaign's phase, 0 for the others.");
	for (unsigned i = 0; i < m; i++)
		for (unsigned p = 0; p < sizeof(phases) / sizeof(phases[0]); p++)
			ctl_prom_u64(w, "seckill_campaign_phase", v[i].phase == phases[p],
				     "campaign=\"%" PRIu32 "\",phase=\"%s\"", v[i].id,
				     sale_phase_str(phases[p]));
}

/* One unlabelled sample with its HELP and TYPE. */
static void ctl_metrics_one(struct ctl_prom *w, const char *name, const char *type,
			    const char *help, uint64_t v)
{
	ctl_prom_family(w, name, type, help);
	ctl_prom_u64(w, name, v, NULL);
}

/* A counter set of the control thread: <prefix><name>_total, or a gauge for
 * the names that are gauges (Kafka's *_depth). */
static void ctl_metrics_set(struct ctl_prom *w, const char *prefix, const char *what,
			    const char *const *names, unsigned n, const uint64_t *v)
{
	char name[96], help[160];
	bool gauge;

	for (unsigned i = 0; i < n; i++) {
		gauge = strstr(names[i], "_depth") != NULL;
		snprintf(name, sizeof(name), "%s%s%s", prefix, names[i], gauge ? "" : "_total");
		snprintf(help, sizeof(help), "%s: %s (seckillctl stats: %s).", what, names[i],
			 names[i]);
		ctl_metrics_one(w, name, gauge ? "gauge" : "counter", help, v[i]);
	}
}

static void ctl_metrics_control(struct ctl_prom *w, const struct ctl_plane *ctl)
{
	struct sale_ctl_stats o;

	ctl_metrics_one(w, "seckill_journal_depth", "gauge",
			"Orders in the journal not yet delivered to Kafka.", ctl->journal_depth);
	ctl_metrics_one(w, "seckill_journal_bytes", "gauge", "Size of the order journal.",
			ctl->journal_bytes);
	ctl_metrics_one(w, "seckill_sales_paused", "gauge", "1 while sales are paused (journal "
			"nearly full or failed: buys get 503 order_queue_full).", ctl->paused);
	ctl_prom_family(w, "seckill_journal_sync_max_seconds", "gauge",
			"Longest journal fsync so far.");
	ctl_prom_f64(w, "seckill_journal_sync_max_seconds", (double)ctl->sync_us_max /
		     CTL_US_PER_S, NULL);
	ctl_metrics_set(w, "seckill_control_", "Control thread",
			ctl_loop_stats_names, CTL_LOOP_STATS_N, (const uint64_t *)&ctl->st);
	sale_ctl_stats(ctl->sale, &o);
	ctl_metrics_one(w, "seckill_orders_confirmed_total", "counter",
			"Orders confirmed (delivered to Kafka).", o.confirmed);
	ctl_metrics_one(w, "seckill_orders_rejected_total", "counter",
			"Orders rejected (e.g. the buyer bought on another host).", o.rejected);
	if (ctl->kafka_on)
		ctl_metrics_set(w, "seckill_kafka_", "Kafka producer", ctl_kafka_stats_names,
				CTL_KAFKA_NSTATS, (const uint64_t *)&ctl->kafka_st);
	if (ctl->redis_on) {
		ctl_metrics_one(w, "seckill_redis_up", "gauge",
				"1 while Redis answers, 0 while it is down.",
				!ctl_sale_redis_down(ctl));
		ctl_metrics_set(w, "seckill_redis_", "Redis side", ctl_sale_redis_stats_names,
				CTL_SALE_REDIS_STATS_N, (const uint64_t *)&ctl->redis_st);
	}
	if (ctl->events != NULL)
		ctl_metrics_set(w, "seckill_order_events_", "Order service's events",
				ctl_sale_events_stats_names, CTL_SALE_EVENTS_STATS_N,
				(const uint64_t *)&ctl->events_st);
	ctl_prom_hist_write(w, "seckill_durable_publish_seconds", "Per order journaled: time "
			    "from the start of the control pass that drained it to its fsync and "
			    "the publication of the durable position (held 200s leave then; "
			    "ring wait before the pass not included; with --answer-after kafka "
			    "they wait further, for Kafka's ack).", &ctl->durable_hist);
}

/* The whole scrape into w. */
static void ctl_metrics_write(struct ctl_prom *w, const struct ctl_plane *ctl)
{
	ctl_metrics_workers(w, ctl);
	if (ctl->sale != NULL) {
		ctl_metrics_campaigns(w, ctl->sale);
		ctl_metrics_control(w, ctl);
	}
}

/* ------------------------------------------------------------------ */
/* The socket                                                          */
/* ------------------------------------------------------------------ */

static void ctl_metrics_client_close(struct ctl_metrics_client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

/* Builds the whole answer to one request: status line, head, body. */
static void ctl_metrics_answer(struct ctl_metrics *m, struct ctl_metrics_client *c,
			       const struct http_request *q, int rc)
{
	static const char head_fmt[] = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n";
	const size_t head_cap = 256;
	struct ctl_prom w;
	const char *reason = "OK", *type = CTL_PROM_CONTENT_TYPE;
	char *body;
	int status = 200, n;

	c->out = malloc(CTL_METRICS_ANSWER_MAX);
	if (c->out == NULL)
		return;
	body = c->out + head_cap;
	ctl_prom_init(&w, body, CTL_METRICS_ANSWER_MAX - head_cap);
	if (rc <= 0) {
		status = http_parse_status(rc);
		reason = "Bad Request";
		type = "text/plain";
		w.len = (size_t)snprintf(body, w.cap, "bad request\n");
	} else if (!http_span_eq(q->path, "/metrics")) {
		status = 404;
		reason = "Not Found";
		type = "text/plain";
		w.len = (size_t)snprintf(body, w.cap, "not found: try GET /metrics\n");
	} else if (q->method != HTTP_METHOD_GET && q->method != HTTP_METHOD_HEAD) {
		status = 405;
		reason = "Method Not Allowed";
		type = "text/plain";
		w.len = (size_t)snprintf(body, w.cap, "GET /metrics\n");
	} else {
		ctl_metrics_write(&w, m->ctl);
		if (w.full) {
			status = 500;
			reason = "Internal Server Error";
			type = "text/plain";
			w.len = (size_t)snprintf(body, w.cap, "metrics larger than %u bytes\n",
						 CTL_METRICS_ANSWER_MAX);
		}
	}
	n = snprintf(c->out, head_cap, head_fmt, status, reason, type, w.len);
	/* Head right before the body: one contiguous answer. */
	memmove(c->out + head_cap - (size_t)n, c->out, (size_t)n);
	c->out_off = head_cap - (size_t)n;
	c->out_len = head_cap + (rc > 0 && q->method == HTTP_METHOD_HEAD ? 0 : w.len);
}

/* Writes what the socket takes; false when done or gone. */
static bool ctl_metrics_flush(struct ctl_metrics_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		c->out_off += (size_t)n;
	}
	return false;                /* all written: close */
}

static void ctl_metrics_client_poll(struct ctl_metrics *m, struct ctl_metrics_client *c,
				    uint64_t now)
{
	static const struct http_limits lim = { CTL_METRICS_REQ_MAX, 256, 64, 0 };
	struct http_request q;
	ssize_t n;
	int rc;

	if (c->out != NULL) {
		if (!ctl_metrics_flush(c))
			ctl_metrics_client_close(c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		ctl_metrics_client_close(c);
		return;
	}
	if (n < 0) {
		if (now - c->last_us > CTL_METRICS_IDLE_US)
			ctl_metrics_client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	c->last_us = now;
	rc = http_parse_request((const uint8_t *)c->in, c->in_len, 0, &lim, &q);
	if (rc == HTTP_PARSE_INCOMPLETE && c->in_len < sizeof(c->in))
		return;
	ctl_metrics_answer(m, c, &q, rc == HTTP_PARSE_INCOMPLETE ? -1 : rc);
	if (c->out == NULL || !ctl_metrics_flush(c))
		ctl_metrics_client_close(c);
}

static void ctl_metrics_accept(struct ctl_metrics *m, uint64_t now)
{
	int fd;

	if (!ctl_sock_listen_ready(m->fd))
		return;
	while ((fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct ctl_metrics_client *c = NULL;

		for (unsigned i = 0; i < CTL_METRICS_CLIENTS && c == NULL; i++)
			if (m->cl[i].fd < 0)
				c = &m->cl[i];
		if (c == NULL) {
			close(fd);           /* full: the scraper retries next interval */
			continue;
		}
		c->fd = fd;
		c->last_us = now;
		c->in_len = 0;
	}
}

void ctl_metrics_poll(struct ctl_metrics *m)
{
	uint64_t now = now_mono_us();

	if (m == NULL)
		return;
	ctl_metrics_accept(m, now);
	for (unsigned i = 0; i < CTL_METRICS_CLIENTS; i++)
		if (m->cl[i].fd >= 0)
			ctl_metrics_client_poll(m, &m->cl[i], now);
}

/* "IP:PORT" into a sockaddr; false when it is not one. */
static bool ctl_metrics_addr(const char *s, struct sockaddr_in *a)
{
	const char *colon = strrchr(s, ':');
	char ip[INET_ADDRSTRLEN];
	uint64_t port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(ip))
		return false;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &a->sin_addr) != 1 || !str2u64(colon + 1, 1, 65535, &port))
		return false;
	a->sin_port = htons((uint16_t)port);
	return true;
}

struct ctl_metrics *ctl_metrics_open(const char *listen_at, struct ctl_plane *ctl, char *err,
				     size_t errlen)
{
	struct ctl_metrics *m = calloc(1, sizeof(*m));
	struct sockaddr_in a;
	int one = 1;

	if (m == NULL) {
		snprintf(err, errlen, "out of memory for the metrics socket");
		return NULL;
	}
	m->ctl = ctl;
	for (unsigned i = 0; i < CTL_METRICS_CLIENTS; i++)
		m->cl[i].fd = -1;
	if (!ctl_metrics_addr(listen_at, &a)) {
		snprintf(err, errlen, "--metrics-listen '%s': expected IP:PORT, e.g. "
			 "127.0.0.1:9480", listen_at);
		free(m);
		return NULL;
	}
	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(m->fd, CTL_METRICS_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s for /metrics: %s; give another "
			 "--metrics-listen", listen_at, strerror(errno));
		if (m->fd >= 0)
			close(m->fd);
		free(m);
		return NULL;
	}
	return m;
}

void ctl_metrics_close(struct ctl_metrics *m)
{
	if (m == NULL)
		return;
	for (unsigned i = 0; i < CTL_METRICS_CLIENTS; i++)
		if (m->cl[i].fd >= 0)
			ctl_metrics_client_close(&m->cl[i]);
	close(m->fd);
	free(m);
}
