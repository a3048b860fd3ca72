/*
 * orders_http.c - seckill-orders' HTTP endpoint, on a kernel socket: what the
 * payment provider calls, and order look-ups.
 *
 *   POST /orders/{id}/paid   200 {"order_id":..,"status":"paid"} (again: the
 *                            same answer, "already":true); 409
 *                            {"error":"expired"}; 404 unknown_order;
 *                            400 bad_order_id; 503 database_down
 *   GET  /orders/{id}        200 {"order_id","campaign","buyer","qty","status",
 *                            "sold_at_ms","pay_by_ms"}; 404; 400
 *   GET  /stats              the counters, one JSON object
 *   GET  /metrics            the counters in Prometheus's text format
 *                            (seckill_orders_<counter>_total, control/ctl_prom.h)
 *   GET  /healthz            200 {"ok":true}
 *
 * One thread, epoll, non-blocking sockets; requests are parsed by lib/http's
 * strict parser (http_parse.h) and answered in order, keep-alive. The
 * database calls are blocking: the endpoint serves a payment provider, whose
 * rate is that of payments, not of the sale. It has no authentication: bind
 * it to loopback (the default) or behind the proxy that authenticates the
 * provider.
 */
#define _GNU_SOURCE          /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_prom.h"
#include "http_parse.h"
#include "orders.h"
#include "orders_pg.h"
#include "orders_sql.h"

#define OH_MAX_CONNS 256
#define OH_BUF 4096                 /* a request head and body; more is 431/413 */
#define OH_BODY_CAP 2048
#define OH_EVENTS 64
#define OH_PREFIX "/orders/"
#define OH_PAID_SUFFIX "/paid"
/* ~20 counters of ~150 bytes with HELP and TYPE, and a lag line (~60 bytes)
 * per partition assigned, 4096 at most. */
#define OH_METRICS_CAP (16384 + 64 * ORDERS_LAG_PARTITIONS)

struct oh_conn {
	int fd;
	bool metrics_only;          /* accepted on --metrics-listen: GET /metrics alone */
	size_t len;
	uint8_t buf[OH_BUF];
};

struct oh {
	const struct orders_conf *c;
	int lfd, ep;
	PGconn *pg;
	char err[ORDERS_ERR_CAP];
	struct oh_conn *conns[OH_MAX_CONNS];
};

static int oh_listen_fd = -1, oh_metrics_fd = -1;
/* epoll's data for the two listeners; a connection's is its slot. */
#define OH_EV_HTTP UINT32_MAX
#define OH_EV_METRICS (UINT32_MAX - 1)

/* A listening socket on ip:port; -1 with err (opt: the option to change). */
static int oh_bind(const char *ip, int port, const char *opt, char *err, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		snprintf(err, cap, "%s: '%s' is not an IPv4 address", opt, ip);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
		snprintf(err, cap, "cannot listen on %s:%d: %s; pick another %s port",
			 ip, port, strerror(errno), opt);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int orders_http_listen(const struct orders_conf *c, char *err, size_t cap)
{
	if (c->http_port &&
	    (oh_listen_fd = oh_bind(c->http_bind, c->http_port, "--http", err, cap)) < 0)
		return -1;
	if (c->metrics_port && (oh_metrics_fd = oh_bind(c->metrics_ip, c->metrics_port,
						       "--metrics-listen", err, cap)) < 0)
		return -1;
	return 0;
}

static const char *oh_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* Writes the whole answer (small: it fits the socket buffer of an idle conn). */
static void oh_send(int fd, int status, const char *body, bool close_after)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n%s\r\n", status, oh_reason(status), strlen(body),
			 close_after ? "Connection: close\r\n" : "");
	struct iovec iov[2] = { { head, (size_t)n }, { (void *)body, strlen(body) } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	(void)!sendmsg(fd, &mh, MSG_NOSIGNAL);
}

/* GET /metrics: every counter of orders.h as seckill_orders_<name>_total. */
static void oh_metrics(int fd, bool close_after)
{
	static char body[OH_METRICS_CAP];
	struct ctl_prom w;
	char head[256], name[96];
	int n;

	ctl_prom_init(&w, body, sizeof(body));
#define OH_METRIC(c)                                                                   \
	snprintf(name, sizeof(name), "seckill_orders_%s_total", #c);                   \
	ctl_prom_family(&w, name, "counter", "seckill-orders: " #c " (GET /stats).");  \
	ctl_prom_u64(&w, name, atomic_load_explicit(&orders_stats.c, memory_order_relaxed), NULL);
	ORDERS_STATS(OH_METRIC)
#undef OH_METRIC
	ctl_prom_family(&w, "seckill_orders_consumer_lag_messages", "gauge",
			"Orders in the partition not yet in PostgreSQL (its end as last "
			"fetched minus the next offset the database holds), per partition "
			"assigned to this member.");
	for (int p = 0; p < ORDERS_LAG_PARTITIONS; p++) {
		int64_t lag = atomic_load_explicit(&orders_lag[p], memory_order_relaxed);

		if (lag >= 0)
			ctl_prom_u64(&w, "seckill_orders_consumer_lag_messages", (uint64_t)lag,
				     "partition=\"%d\"", p);
	}
	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
		     "Content-Length: %zu\r\n%s\r\n", CTL_PROM_CONTENT_TYPE, w.len,
		     close_after ? "Connection: close\r\n" : "");
	struct iovec iov[2] = { { head, (size_t)n }, { body, w.len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	(void)!sendmsg(fd, &mh, MSG_NOSIGNAL);
}

static bool oh_pg(struct oh *h)
{
	if (h->pg && PQstatus(h->pg) == CONNECTION_OK)
		return true;
	PQfinish(h->pg);
	h->pg = orders_pg_open(h->c->pg, h->err, sizeof(h->err));
	if (h->pg == NULL)
		orders_log("http: %s", h->err);
	return h->pg != NULL;
}

/* Runs one statement on $1 = id; NULL (and 503) when the database is away. */
static PGresult *oh_query(struct oh *h, const char *sql, const char *id, int *status,
			  char *body)
{
	const char *v[1] = { id };
	PGresult *r;

	if (!oh_pg(h))
		goto down;
	r = PQexecParams(h->pg, sql, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	orders_log("http: order %s: %s", id, PQresultErrorMessage(r));
	PQclear(r);
down:
	*status = 503;
	snprintf(body, OH_BODY_CAP, "{\"error\":\"database_down\"}");
	return NULL;
}

static void oh_pay(struct oh *h, const char *id, int *status, char *body)
{
	PGresult *r = oh_query(h, ORDERS_SQL_PAY, id, status, body);
	const char *res;

	orders_count(&orders_stats.pay_requests, 1);
	if (r == NULL)
		return;
	res = PQntuples(r) ? PQgetvalue(r, 0, 0) : "";
	if (strcmp(res, "paid_now") == 0 || strcmp(res, "paid") == 0) {
		if (res[4] == '_')
			orders_count(&orders_stats.paid, 1);
		snprintf(body, OH_BODY_CAP, "{\"order_id\":\"%s\",\"status\":\"paid\"%s}", id,
			 res[4] == '_' ? "" : ",\"already\":true");
	} else if (*res) {
		orders_count(&orders_stats.pay_refused, 1);
		*status = 409;
		snprintf(body, OH_BODY_CAP, "{\"error\":\"expired\",\"order_id\":\"%s\"}", id);
	} else {
		*status = 404;
		snprintf(body, OH_BODY_CAP, "{\"error\":\"unknown_order\"}");
	}
	PQclear(r);
}

static void oh_get(struct oh *h, const char *id, int *status, char *body)
{
	PGresult *r = oh_query(h, ORDERS_SQL_GET, id, status, body);

	if (r == NULL)
		return;
	if (PQntuples(r) == 0) {
		*status = 404;
		snprintf(body, OH_BODY_CAP, "{\"error\":\"unknown_order\"}");
	} else {
		snprintf(body, OH_BODY_CAP, "{\"order_id\":\"%s\",\"campaign\":%s,\"buyer\":%s,"
			 "\"qty\":%s,\"status\":\"%s\",\"sold_at_ms\":%s,\"pay_by_ms\":%s}",
			 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
			 PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
			 PQgetvalue(r, 0, 6));
	}
	PQclear(r);
}

/* Routes one request; status and body out. */
static void oh_route(struct oh *h, const struct http_request *q, int *status, char *body)
{
	struct http_span p = q->path;
	size_t pre = strlen(OH_PREFIX), suf = strlen(OH_PAID_SUFFIX);
	char id[ORD_ID_STR_CAP];
	struct ord_id oid;
	bool paid;

	*status = 200;
	if (http_span_eq(p, "/healthz") || http_span_eq(p, "/stats")) {
		if (q->method != HTTP_METHOD_GET)
			goto method;
		if (p.len == strlen("/stats"))
			orders_stats_format(&orders_stats, true, body, OH_BODY_CAP);
		else
			snprintf(body, OH_BODY_CAP, "{\"ok\":true}");
		return;
	}
	if (p.len <= pre || memcmp(p.p, OH_PREFIX, pre) != 0) {
		*status = 404;
		snprintf(body, OH_BODY_CAP, "{\"error\":\"not_found\"}");
		return;
	}
	paid = p.len == pre + ORD_ID_STR_LEN + suf &&
	       memcmp(p.p + pre + ORD_ID_STR_LEN, OH_PAID_SUFFIX, suf) == 0;
	if (!ord_id_parse(p.p + pre, paid ? ORD_ID_STR_LEN : p.len - pre, &oid)) {
		*status = 400;
		snprintf(body, OH_BODY_CAP, "{\"error\":\"bad_order_id\"}");
		return;
	}
	ord_id_format(oid, id, sizeof(id));
	if (paid ? q->method != HTTP_METHOD_POST : q->method != HTTP_METHOD_GET)
		goto method;
	if (paid)
		oh_pay(h, id, status, body);
	else
		oh_get(h, id, status, body);
	return;
method:
	*status = 405;
	snprintf(body, OH_BODY_CAP, "{\"error\":\"method_not_allowed\"}");
}

static void oh_close(struct oh *h, int i)
{
	close(h->conns[i]->fd);
	free(h->conns[i]);
	h->conns[i] = NULL;
}

/* Reads what arrived and answers every complete request in it. */
static void oh_serve(struct oh *h, int i)
{
	static const struct http_limits lim = { OH_BUF, 1024, 32, 1024 };
	struct oh_conn *c = h->conns[i];
	ssize_t got = read(c->fd, c->buf + c->len, OH_BUF - c->len);
	struct http_request q;
	char body[OH_BODY_CAP];
	int status, rc;

	if (got <= 0) {
		if (got == 0 || (errno != EAGAIN && errno != EINTR))
			oh_close(h, i);
		return;
	}
	c->len += (size_t)got;
	while (c->len && (rc = http_parse_request(c->buf, c->len, 0, &lim, &q)) > 0) {
		orders_count(&orders_stats.http_requests, 1);
		if (http_span_eq(q.path, "/metrics") && q.method == HTTP_METHOD_GET) {
			oh_metrics(c->fd, !q.keep_alive);
		} else if (c->metrics_only) {
			oh_send(c->fd, 404, "{\"error\":\"not_found\"}", !q.keep_alive);
		} else {
			oh_route(h, &q, &status, body);
			oh_send(c->fd, status, body, !q.keep_alive);
		}
		if (!q.keep_alive) {
			oh_close(h, i);
			return;
		}
		memmove(c->buf, c->buf + rc, c->len - (size_t)rc);
		c->len -= (size_t)rc;
	}
	if (c->len && rc != HTTP_PARSE_INCOMPLETE) {
		status = http_parse_status(rc);
		snprintf(body, sizeof(body), "{\"error\":\"bad_request\"}");
		oh_send(c->fd, status, body, true);
		oh_close(h, i);
	} else if (c->len == OH_BUF) {
		oh_send(c->fd, 431, "{\"error\":\"too_large\"}", true);
		oh_close(h, i);
	}
}

static void oh_accept(struct oh *h, int lfd, bool metrics_only)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int i = 0;
		struct epoll_event ev = { .events = EPOLLIN };

		while (i < OH_MAX_CONNS && h->conns[i])
			i++;
		if (i == OH_MAX_CONNS || (h->conns[i] = calloc(1, sizeof(struct oh_conn))) == NULL) {
			close(fd);      /* full: the client retries */
			continue;
		}
		h->conns[i]->fd = fd;
		h->conns[i]->metrics_only = metrics_only;
		ev.data.u32 = (uint32_t)i;
		epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

void *orders_http_run(void *arg)
{
	static struct oh h;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = OH_EV_HTTP }, evs[OH_EVENTS];
	struct epoll_event mev = { .events = EPOLLIN, .data.u32 = OH_EV_METRICS };

	h.c = arg;
	h.lfd = oh_listen_fd;
	h.ep = epoll_create1(EPOLL_CLOEXEC);
	if (h.lfd >= 0)
		epoll_ctl(h.ep, EPOLL_CTL_ADD, h.lfd, &ev);
	if (oh_metrics_fd >= 0)
		epoll_ctl(h.ep, EPOLL_CTL_ADD, oh_metrics_fd, &mev);
	while (!atomic_load(&orders_stop)) {
		int n = epoll_wait(h.ep, evs, OH_EVENTS, 100);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == OH_EV_HTTP)
				oh_accept(&h, h.lfd, false);
			else if (evs[i].data.u32 == OH_EV_METRICS)
				oh_accept(&h, oh_metrics_fd, true);
			else if (h.conns[evs[i].data.u32])
				oh_serve(&h, (int)evs[i].data.u32);
		}
	}
	for (int i = 0; i < OH_MAX_CONNS; i++)
		if (h.conns[i])
			oh_close(&h, i);
	if (h.lfd >= 0)
		close(h.lfd);
	if (oh_metrics_fd >= 0)
		close(oh_metrics_fd);
	close(h.ep);
	PQfinish(h.pg);
	return NULL;
}
